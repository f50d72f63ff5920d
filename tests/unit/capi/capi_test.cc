// The C ABI seen from a host: status strings, last error, memory, hooks, options, placement.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "arraykit/arraykit.h"
#include "arraykit/arraykit.hpp"

namespace {

const char kGoodArray[] = R"({"members": [
  {"name": "boston.example.com", "roles": ["frontend", "backend"], "rack": "r1", "power": "p1"},
  {"name": "newyork.example.com", "roles": ["frontend", "backend"], "rack": "r2", "power": "p2"},
  {"name": "detroit.example.com", "roles": ["frontend", "backend"], "rack": "r3", "power": "p3"}],
  "primary": "boston.example.com",
  "backup_primaries": ["newyork.example.com", "detroit.example.com"],
  "resilience": {"failover_enabled": true}})";

struct LogCapture {
  std::vector<std::pair<ak_log_level, std::string>> lines;
  static void Callback(void* user, ak_log_level level, const char* message) {
    static_cast<LogCapture*>(user)->lines.emplace_back(level, message);
  }
};

}  // namespace

TEST_CASE("versions are reported") {
  CHECK(ak_abi_version() == AK_ABI_VERSION);
  CHECK(std::string(ak_version_string()).find('.') != std::string::npos);
}

TEST_CASE("ak_strerror names every code and never returns NULL") {
  CHECK(std::string(ak_strerror(AK_OK)) == "ok");
  CHECK(std::string(ak_strerror(AK_INVALID_ARGUMENT)) == "invalid argument");
  CHECK(std::string(ak_strerror(AK_EBUSY)) == "failover or recovery in progress");
  CHECK(std::string(ak_strerror(-5)) == "unrecognised status code");
  CHECK(std::string(ak_strerror(999)) == "unrecognised status code");
}

TEST_CASE("ak_free accepts NULL") { ak_free(nullptr); }

TEST_CASE("ak_strerror follows the status code table") {
#define AK_CHECK_STRERROR_(name, value, word, text) CHECK(std::string(ak_strerror(name)) == text);
  AK_STATUS_CODES(AK_CHECK_STRERROR_)
#undef AK_CHECK_STRERROR_
  CHECK(AK_ECERT_REJECTED == 1005);
}

TEST_CASE("ak_last_error_reason gives the stable reason word, \"\" after success") {
  char* report = nullptr;
  REQUIRE(ak_placement_check(&report, R"({"primary": "a", "primary": "b"})", nullptr) ==
          AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "duplicate_key");
  REQUIRE(ak_placement_check(nullptr, kGoodArray, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "invalid_argument");
  REQUIRE(ak_placement_check(&report, kGoodArray, nullptr) == AK_OK);
  ak_free(report);
  CHECK(std::string(ak_last_error_reason()).empty());
  try {
    arraykit::placement::check("{");
    FAIL("a syntax error must throw");
  } catch (const arraykit::Error& e) {
    CHECK(e.reason() == "invalid_json");
    CHECK(e.code() == AK_INVALID_ARGUMENT);
  }
}

TEST_CASE("a successful check returns a report and clears the last error") {
  char* report = nullptr;
  REQUIRE(ak_placement_check(&report, "not json", nullptr) == AK_INVALID_ARGUMENT);
  CHECK(report == nullptr);
  CHECK(std::strlen(ak_last_error()) > 0);
  REQUIRE(ak_placement_check(&report, kGoodArray, nullptr) == AK_OK);
  REQUIRE(report != nullptr);
  std::string text(report);
  ak_free(report);
  CHECK(text.find("\"findings\"") != std::string::npos);
  CHECK(text.find("\"worst_case_failover_s\":780") != std::string::npos);
  CHECK(std::string(ak_last_error()).empty());
}

TEST_CASE("NULL arguments are INVALID_ARGUMENT naming the parameter") {
  CHECK(ak_placement_check(nullptr, kGoodArray, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "out_report must not be NULL");
  char* out = reinterpret_cast<char*>(0x1);
  CHECK(ak_placement_check(&out, nullptr, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(out == nullptr);
  CHECK(std::string(ak_last_error()) == "array_json must not be NULL");
  CHECK(ak_placement_plan_change(&out, kGoodArray, nullptr, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "change_json must not be NULL");
  CHECK(ak_host_hooks_init(nullptr, AK_HOST_HOOKS_VERSION) == AK_INVALID_ARGUMENT);
  CHECK(ak_json_options_init(nullptr, AK_JSON_OPTIONS_VERSION) == AK_INVALID_ARGUMENT);
}

TEST_CASE("the last error is per thread") {
  char* out = nullptr;
  REQUIRE(ak_placement_check(&out, "[", nullptr) == AK_INVALID_ARGUMENT);
  std::string mine = ak_last_error();
  std::string theirs = "unset";
  std::thread other([&] { theirs = ak_last_error(); });
  other.join();
  CHECK_FALSE(mine.empty());
  CHECK(theirs.empty());
}

TEST_CASE("options structs reject unknown versions and bad values") {
  ak_json_options opts;
  CHECK(ak_json_options_init(&opts, 99) == AK_INVALID_ARGUMENT);
  REQUIRE(ak_json_options_init(&opts, AK_JSON_OPTIONS_VERSION) == AK_OK);
  CHECK(opts.indent == -1);
  char* out = nullptr;
  opts.indent = 2;
  REQUIRE(ak_placement_check(&out, kGoodArray, &opts) == AK_OK);
  CHECK(std::string(out).find("\n  \"") != std::string::npos);
  ak_free(out);
  opts.indent = 17;
  CHECK(ak_placement_check(&out, kGoodArray, &opts) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("opts.indent") != std::string::npos);
  opts.indent = 2;
  opts.version = 7;
  CHECK(ak_placement_check(&out, kGoodArray, &opts) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("opts.version") != std::string::npos);
}

TEST_CASE("host hooks deliver log lines at or above the chosen level") {
  LogCapture capture;
  ak_host_hooks hooks;
  REQUIRE(ak_host_hooks_init(&hooks, AK_HOST_HOOKS_VERSION) == AK_OK);
  hooks.user = &capture;
  hooks.log = LogCapture::Callback;
  hooks.log_level = AK_LOG_DEBUG;
  REQUIRE(ak_set_host_hooks(&hooks) == AK_OK);
  char* out = nullptr;
  CHECK(ak_placement_check(&out, "{", nullptr) == AK_INVALID_ARGUMENT);
  REQUIRE(capture.lines.size() == 1);
  CHECK(capture.lines[0].first == AK_LOG_DEBUG);
  CHECK(capture.lines[0].second.find("ak_placement_check failed (invalid argument)") == 0);

  hooks.log_level = AK_LOG_WARNING;
  REQUIRE(ak_set_host_hooks(&hooks) == AK_OK);
  CHECK(ak_placement_check(&out, "{", nullptr) == AK_INVALID_ARGUMENT);
  CHECK(capture.lines.size() == 1);

  REQUIRE(ak_set_host_hooks(nullptr) == AK_OK);
  CHECK(capture.lines.size() == 1);
}

TEST_CASE("host hooks are validated") {
  ak_host_hooks hooks = AK_HOST_HOOKS_INIT;
  hooks.version = 2;
  CHECK(ak_set_host_hooks(&hooks) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("hooks.version") != std::string::npos);
  hooks = ak_host_hooks AK_HOST_HOOKS_INIT;
  hooks.log_level = static_cast<ak_log_level>(9);
  CHECK(ak_set_host_hooks(&hooks) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("hooks.log_level") != std::string::npos);
  hooks = ak_host_hooks AK_HOST_HOOKS_INIT;
  hooks.reserved[3] = &hooks;
  CHECK(ak_set_host_hooks(&hooks) == AK_INVALID_ARGUMENT);
  CHECK(ak_host_hooks_init(&hooks, 0) == AK_INVALID_ARGUMENT);
}

TEST_CASE("a log callback may call back into the library") {
  struct Reentrant {
    int calls = 0;
    static void Callback(void* user, ak_log_level, const char*) {
      auto* self = static_cast<Reentrant*>(user);
      if (++self->calls > 1) return;
      char* out = nullptr;
      // Would deadlock if the library held its hooks lock while calling us.
      CHECK(ak_placement_check(&out, "{", nullptr) == AK_INVALID_ARGUMENT);
    }
  } reentrant;
  ak_host_hooks hooks = AK_HOST_HOOKS_INIT;
  hooks.user = &reentrant;
  hooks.log = Reentrant::Callback;
  hooks.log_level = AK_LOG_DEBUG;
  REQUIRE(ak_set_host_hooks(&hooks) == AK_OK);
  char* out = nullptr;
  CHECK(ak_placement_check(&out, "{", nullptr) == AK_INVALID_ARGUMENT);
  CHECK(reentrant.calls == 2);
  REQUIRE(ak_set_host_hooks(nullptr) == AK_OK);
}

TEST_CASE("the C++ wrapper throws arraykit::Error with the code and message") {
  try {
    arraykit::placement::check("{\"members\": 3}");
    FAIL("expected an exception");
  } catch (const arraykit::Error& e) {
    CHECK(e.code() == AK_INVALID_ARGUMENT);
    CHECK(std::string(e.code_name()) == "invalid argument");
    CHECK(std::string(e.what()).find("members") != std::string::npos);
  }
  CHECK(arraykit::placement::check(kGoodArray).find("findings") != std::string::npos);
  CHECK(arraykit::abi_compatible());
}

TEST_CASE("plan and plan_change work through the ABI") {
  std::string plan = arraykit::placement::plan(R"({"members": [
    {"name": "a.example.com", "rack": "r1", "power": "p1"},
    {"name": "b.example.com", "rack": "r2", "power": "p2"},
    {"name": "c.example.com", "rack": "r3", "power": "p3"}]})");
  CHECK(plan.find("\"backend\"") != std::string::npos);
  std::string change = arraykit::placement::plan_change(
      kGoodArray, R"({"add": [{"name": "seattle.example.com", "roles": ["frontend"]}]})");
  CHECK(change.find("\"disruption\":false") != std::string::npos);
  CHECK_THROWS_AS(arraykit::placement::plan_change(kGoodArray, R"({"remove": ["nobody.example.com"]})"),
                  arraykit::Error);
}

TEST_CASE("placement documents are strict through the ABI: unknown_field with the nearest name") {
  char* out = nullptr;
  REQUIRE(ak_placement_plan_change(&out, kGoodArray, R"({"ad": [{"name": "seattle.example.com"}]})",
                                   nullptr) == AK_INVALID_ARGUMENT);
  CHECK(out == nullptr);
  CHECK(std::string(ak_last_error_reason()) == "unknown_field");
  CHECK(std::string(ak_last_error()) == "ad: unknown field (did you mean add?)");

  REQUIRE(ak_placement_check(&out, R"({"members": [{"name": "a.example.com", "rack": "r1",
                                       "powr": "p1"}]})",
                             nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "unknown_field");
  CHECK(std::string(ak_last_error()) == "members[0].powr: unknown field (did you mean power?)");

  REQUIRE(ak_placement_plan(&out, R"({"members": [{"name": "a.example.com", "capacty": 2}]})",
                            nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "unknown_field");
  CHECK(std::string(ak_last_error()) ==
        "members[0].capacty: unknown field (did you mean capacity?)");
}
