// ak_simulate / ak_simulate_render seen from a host: through the shared library only, reading
// the result documents as text the way a C host without a JSON library could.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "arraykit/arraykit.h"
#include "arraykit/arraykit.hpp"

namespace {

// DESIGN §5.1's four-member array with failover on; `rest` adds the events and the run length.
std::string WorkedCaseArray(const char* rest) {
  return std::string(R"({
  "members": [
    {"name": "boston.example.com", "roles": ["frontend", "backend"]},
    {"name": "newyork.example.com", "roles": ["frontend", "backend"]},
    {"name": "detroit.example.com", "roles": ["frontend", "backend"]},
    {"name": "seattle.example.com", "roles": ["frontend"]}],
  "primary": "boston.example.com",
  "backup_primaries": ["newyork.example.com", "detroit.example.com", "seattle.example.com"],
  "resilience": {"failover_enabled": true},)") +
         rest;
}

// DESIGN §5.1 worked case 1 without the restart: boston crashes at 0.
const std::string kPrimaryCrash = WorkedCaseArray(R"(
  "events": [{"at_s": 0, "crash": "boston.example.com"}],
  "until_s": 900})");

// The same with boston restarting at 1200 s (primary return action accept, the default).
const std::string kCrashAndReturn = WorkedCaseArray(R"(
  "events": [{"at_s": 0, "crash": "boston.example.com"},
             {"at_s": 1200, "restart": "boston.example.com"}],
  "until_s": 1800})");

// Runs ak_simulate and returns the status; the result (or "") lands in *text.
ak_status Simulate(const std::string& scenario, const ak_simulate_options* opts,
                   std::string* text) {
  char* out = nullptr;
  ak_status status = ak_simulate(&out, scenario.c_str(), opts);
  *text = out != nullptr ? std::string(out) : std::string();
  if (status != AK_OK) CHECK(out == nullptr);
  ak_free(out);
  return status;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("ak_simulate: the primary crashes and newyork takes over at 600 s") {
  std::string result;
  REQUIRE(Simulate(kPrimaryCrash, nullptr, &result) == AK_OK);
  CHECK(std::string(ak_last_error()).empty());
  // Compact output, keys in order: the final formation is exactly one repaired array.
  CHECK(Contains(result,
                 R"("arrays":[{"epoch":2,"members":["newyork.example.com","detroit.example.com",)"
                 R"("seattle.example.com"],"primary":"newyork.example.com","repaired":true,)"
                 R"("uncontactable":[],"writable":true}])"));
  CHECK(Contains(result, R"("down":["boston.example.com"])"));
  CHECK(Contains(result, R"("manual_recovery_required":false)"));
  CHECK(Contains(result,
                 R"("at_s":600.0,"epoch":2,"event":"promoted","member":"newyork.example.com")"));
  CHECK(Contains(result, "first in backup list"));
  CHECK_FALSE(Contains(result, "\n"));
}

TEST_CASE("ak_simulate: with accept the returning primary leads all four again") {
  std::string result;
  REQUIRE(Simulate(kCrashAndReturn, nullptr, &result) == AK_OK);
  CHECK(Contains(result,
                 R"("arrays":[{"epoch":3,"members":["boston.example.com","newyork.example.com",)"
                 R"("detroit.example.com","seattle.example.com"],"primary":"boston.example.com",)"
                 R"("repaired":false,"uncontactable":[],"writable":true}])"));
  CHECK(Contains(result, R"("event":"recovery_merged","member":"boston.example.com")"));
  CHECK(Contains(result, R"("down":[])"));
}

TEST_CASE("ak_simulate: the same scenario gives the same bytes") {
  const char lossy[] = R"({
    "members": [{"name": "a.example.com", "roles": ["frontend", "backend"]},
                {"name": "b.example.com", "roles": ["frontend", "backend"]},
                {"name": "c.example.com", "roles": ["frontend", "backend"]}],
    "primary": "a.example.com", "backup_primaries": ["b.example.com", "c.example.com"],
    "resilience": {"failover_enabled": true, "monitor_interval_s": 5, "monitor_attempts": 3},
    "network": {"delay_s": 0.01, "jitter_s": 2, "loss": 0.3}, "seed": 7,
    "events": [{"at_s": 20, "crash": "a.example.com"}, {"at_s": 200, "restart": "a.example.com"}],
    "until_s": 600})";
  std::string first;
  std::string second;
  REQUIRE(Simulate(lossy, nullptr, &first) == AK_OK);
  REQUIRE(Simulate(lossy, nullptr, &second) == AK_OK);
  CHECK(first == second);
  CHECK(Contains(first, R"("event":"crashed")"));
}

TEST_CASE("ak_simulate and ak_simulate_render: NULL arguments name the parameter") {
  CHECK(ak_simulate(nullptr, kPrimaryCrash.c_str(), nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "out_result must not be NULL");
  char* out = reinterpret_cast<char*>(0x1);
  CHECK(ak_simulate(&out, nullptr, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(out == nullptr);
  CHECK(std::string(ak_last_error()) == "scenario_json must not be NULL");

  CHECK(ak_simulate_render(nullptr, "{}") == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "out_text must not be NULL");
  out = reinterpret_cast<char*>(0x1);
  CHECK(ak_simulate_render(&out, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(out == nullptr);
  CHECK(std::string(ak_last_error()) == "result_json must not be NULL");
}

TEST_CASE("ak_simulate: malformed JSON is INVALID_ARGUMENT with the byte offset") {
  std::string result;
  CHECK(Simulate("{\"members\": [", nullptr, &result) == AK_INVALID_ARGUMENT);
  CHECK(result.empty());
  const std::string message = ak_last_error();
  CHECK(Contains(message, "scenario: not valid JSON (byte"));
  CHECK(Simulate("", nullptr, &result) == AK_INVALID_ARGUMENT);
  CHECK(Simulate("[1, 2]", nullptr, &result) == AK_INVALID_ARGUMENT);
  CHECK(Simulate(std::string(200, '[').c_str(), nullptr, &result) == AK_INVALID_ARGUMENT);
  CHECK(Contains(ak_last_error(), "nests deeper"));
}

TEST_CASE("ak_simulate: a bad event is refused with its index in the message") {
  std::string scenario = kPrimaryCrash;
  const std::string crash = R"({"at_s": 0, "crash": "boston.example.com"})";
  const auto with_events = [&](const std::string& events) {
    std::string s = scenario;
    s.replace(s.find(crash), crash.size(), events);
    return s;
  };
  std::string result;

  std::string unknown = with_events(crash + R"(, {"at_s": 10, "restart": "ghost.example.com"})");
  CHECK(Simulate(unknown.c_str(), nullptr, &result) == AK_INVALID_ARGUMENT);
  CHECK(Contains(ak_last_error(), "events[1]"));
  CHECK(Contains(ak_last_error(), "ghost.example.com"));

  std::string negative =
      with_events(crash + R"(, {"at_s": 5, "heal": true}, {"at_s": -5, "heal": true})");
  CHECK(Simulate(negative.c_str(), nullptr, &result) == AK_INVALID_ARGUMENT);
  CHECK(Contains(ak_last_error(), "events[2]: at_s must not be negative"));

  std::string out_of_order = with_events(R"({"at_s": 100, "heal": true}, )" + crash);
  CHECK(Simulate(out_of_order.c_str(), nullptr, &result) == AK_INVALID_ARGUMENT);
  CHECK(Contains(ak_last_error(), "events[1]: events out of order"));

  std::string two_kinds =
      with_events(R"({"at_s": 0, "crash": "boston.example.com", "heal": true})");
  CHECK(Simulate(two_kinds.c_str(), nullptr, &result) == AK_INVALID_ARGUMENT);
  CHECK(Contains(ak_last_error(), "events[0]: has two event kinds"));
  CHECK(result.empty());
}

TEST_CASE("ak_simulate: the indent option") {
  std::string compact;
  std::string pretty;
  ak_simulate_options opts = AK_SIMULATE_OPTIONS_INIT;
  REQUIRE(Simulate(kPrimaryCrash, &opts, &compact) == AK_OK);
  CHECK_FALSE(Contains(compact, "\n"));
  opts.indent = 2;
  REQUIRE(Simulate(kPrimaryCrash, &opts, &pretty) == AK_OK);
  CHECK(pretty.rfind("{\n  \"arrays\": [\n    {\n      \"epoch\": 2,", 0) == 0);
  opts.indent = 0;
  std::string zero;
  REQUIRE(Simulate(kPrimaryCrash, &opts, &zero) == AK_OK);
  CHECK(zero.rfind("{\n\"arrays\": [\n{\n\"epoch\": 2,", 0) == 0);

  std::string result;
  opts.indent = 17;
  CHECK(Simulate(kPrimaryCrash, &opts, &result) == AK_INVALID_ARGUMENT);
  CHECK(Contains(ak_last_error(), "opts.indent"));
  opts.indent = 2;
  opts.version = 99;
  CHECK(Simulate(kPrimaryCrash, &opts, &result) == AK_INVALID_ARGUMENT);
  CHECK(Contains(ak_last_error(), "opts.version"));
}

TEST_CASE("ak_simulate_options: versions 1 to the library's are accepted, a later one refused") {
  ak_simulate_options opts;
  for (unsigned int version = 1; version <= AK_SIMULATE_OPTIONS_VERSION; ++version) {
    REQUIRE(ak_simulate_options_init(&opts, version) == AK_OK);
    CHECK(opts.version == version);
    std::string result;
    CHECK(Simulate(kPrimaryCrash, &opts, &result) == AK_OK);
  }
  CHECK(ak_simulate_options_init(&opts, AK_SIMULATE_OPTIONS_VERSION + 1) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "unsupported_version");
  CHECK(ak_simulate_options_init(&opts, 0) == AK_INVALID_ARGUMENT);
  opts = ak_simulate_options AK_SIMULATE_OPTIONS_INIT;
  opts.version = AK_SIMULATE_OPTIONS_VERSION + 1;
  std::string result;
  CHECK(Simulate(kPrimaryCrash, &opts, &result) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "unsupported_version");
}

TEST_CASE("ak_simulate: the step bound refuses a longer run with reason step_limit") {
  ak_simulate_options opts = AK_SIMULATE_OPTIONS_INIT;
  opts.max_steps = 50;
  std::string result;
  CHECK(Simulate(kPrimaryCrash, &opts, &result) == AK_RESOURCE_EXHAUSTED);
  CHECK(std::string(ak_last_error_reason()) == "step_limit");
  CHECK(Contains(ak_last_error(), "more than 50 steps"));
  opts.max_steps = 100000;
  CHECK(Simulate(kPrimaryCrash, &opts, &result) == AK_OK);
  opts.max_steps = 20000001;
  CHECK(Simulate(kPrimaryCrash, &opts, &result) == AK_INVALID_ARGUMENT);
  CHECK(Contains(ak_last_error(), "max_steps"));
}

TEST_CASE("ak_simulate_render accepts ak_simulate's output, pretty or compact") {
  for (int indent : {-1, 2}) {
    ak_simulate_options opts = AK_SIMULATE_OPTIONS_INIT;
    opts.indent = indent;
    std::string result;
    REQUIRE(Simulate(kCrashAndReturn, &opts, &result) == AK_OK);
    char* text = nullptr;
    REQUIRE(ak_simulate_render(&text, result.c_str()) == AK_OK);
    CHECK(Contains(text, "Final formation"));
    ak_free(text);
  }
  char* text = nullptr;
  CHECK(ak_simulate_render(&text, kPrimaryCrash.c_str()) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "not_a_result");
}

TEST_CASE("ak_simulate_render: timeline with reasons and the final formation") {
  std::string result;
  REQUIRE(Simulate(kCrashAndReturn, nullptr, &result) == AK_OK);
  char* text = nullptr;
  REQUIRE(ak_simulate_render(&text, result.c_str()) == AK_OK);
  REQUIRE(text != nullptr);
  std::string rendered(text);
  ak_free(text);
  CHECK(rendered.rfind("Timeline\n", 0) == 0);
  CHECK(Contains(rendered,
                 "newyork.example.com promoted itself: boston.example.com unreachable "
                 "for 600 s, first in backup list (epoch 2)"));
  CHECK(Contains(rendered,
                 "newyork.example.com, detroit.example.com, seattle.example.com "
                 "rejoined boston.example.com (primary return action accept, epoch 3)"));
  CHECK(Contains(rendered, "\nFinal formation\n"));
  CHECK(Contains(rendered, "manual recovery required: no"));
  CHECK(rendered.back() == '\n');
}

TEST_CASE("ak_simulate_render: refuses what is not a result") {
  char* text = reinterpret_cast<char*>(0x1);
  CHECK(ak_simulate_render(&text, "{\"timeline\": [") == AK_INVALID_ARGUMENT);
  CHECK(text == nullptr);
  CHECK(Contains(ak_last_error(), "result_json: not valid JSON"));
  CHECK(ak_simulate_render(&text, "[]") == AK_INVALID_ARGUMENT);
  CHECK(Contains(ak_last_error(), "must be a JSON object"));
  CHECK(ak_simulate_render(&text, kPrimaryCrash.c_str()) == AK_INVALID_ARGUMENT);
  CHECK(Contains(ak_last_error(), "not a simulation result: \"timeline\" must be an array"));
  CHECK(ak_simulate_render(&text, std::string(100, '{').c_str()) == AK_INVALID_ARGUMENT);
  CHECK(Contains(ak_last_error(), "nests deeper"));
  // Brackets inside strings do not count as nesting.
  std::string deep_string =
      R"({"timeline": [], "arrays": [], "note": ")" + std::string(100, '[') + R"("})";
  REQUIRE(ak_simulate_render(&text, deep_string.c_str()) == AK_OK);
  CHECK(Contains(text, "(nothing happened)"));
  ak_free(text);
}

TEST_CASE("arraykit::simulate throws arraykit::Error carrying the code and the event index") {
  const std::string result = arraykit::simulate(kPrimaryCrash, 2);
  CHECK(Contains(result, "\"primary\": \"newyork.example.com\""));
  CHECK(Contains(arraykit::render_simulation(result), "Final formation"));
  try {
    arraykit::simulate(R"({"members": [{"name": "a.example.com", "roles": ["frontend"]}],
                            "events": [{"at_s": 0, "crash": "b.example.com"}]})");
    FAIL("no exception");
  } catch (const arraykit::Error& e) {
    CHECK(e.code() == AK_INVALID_ARGUMENT);
    CHECK(Contains(e.what(), "events[0]"));
  }
  CHECK_THROWS_AS(arraykit::render_simulation("{}"), arraykit::Error);
}
