#include "core/model/array_json.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace arraykit::model {
namespace {

using nlohmann::json;

constexpr const char* kDesignExample = R"({
  "members": [
    {"name": "boston.example.com", "roles": ["frontend","backend"], "rack": "r1", "power": "p1",
     "address": "192.0.2.10", "address_static": true, "version": "1.0.0"},
    {"name": "newyork.example.com", "roles": ["backend"], "rack": "r2", "power": "p2",
     "address": "192.0.2.11", "address_static": false, "version": "1.0.1"}
  ],
  "primary": "boston.example.com",
  "backup_primaries": ["newyork.example.com"],
  "resilience": {"failover_enabled": true, "monitor_interval_s": 60, "monitor_attempts": 10,
                 "find_primary_interval_s": 60, "find_primary_attempts": 3,
                 "primary_return_action": "acceptsecondary", "mode": "quorum",
                 "failback_window": {"start": "22:00", "end": "04:00"}}
})";

// A one-member document with `patch` merged in, e.g. {"resilience": {...}}.
std::string Doc(const json& patch) {
  json doc = {{"members", json::array({{{"name", "a.example.com"}}})}};
  doc.merge_patch(patch);
  return doc.dump();
}

// A one-member document whose member has `member_patch` merged in.
std::string MemberDoc(const json& member_patch) {
  json member = {{"name", "a.example.com"}};
  member.merge_patch(member_patch);
  return json{{"members", json::array({member})}}.dump();
}

std::string Error(std::string_view text) {
  absl::StatusOr<Array> array = ArrayFromJsonText(text);
  REQUIRE_FALSE(array.ok());
  CHECK(array.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(array.status().message());
}

TEST_CASE("the DESIGN example parses with every field") {
  absl::StatusOr<Array> array = ArrayFromJsonText(kDesignExample);
  REQUIRE(array.ok());
  REQUIRE(array->members.size() == 2);
  const Member& boston = array->members[0];
  CHECK(boston.name == "boston.example.com");
  CHECK(boston.roles == Roles{true, true});
  CHECK(boston.rack == "r1");
  CHECK(boston.power == "p1");
  CHECK(boston.address == "192.0.2.10");
  CHECK(boston.address_static);
  CHECK(boston.version == "1.0.0");
  const Member& newyork = array->members[1];
  CHECK(newyork.roles == Roles{false, true});
  CHECK_FALSE(newyork.address_static);
  CHECK(newyork.version == "1.0.1");
  CHECK(array->primary == "boston.example.com");
  CHECK(array->backup_primaries == std::vector<std::string>{"newyork.example.com"});
  const Resilience& r = array->resilience;
  CHECK(r.failover_enabled);
  CHECK(r.GracePeriod() == absl::Seconds(600));
  CHECK(r.FindNewPrimaryTimeout() == absl::Seconds(180));
  CHECK(r.primary_return_action == PrimaryReturnAction::kAcceptSecondary);
  CHECK(r.mode == ResilienceMode::kQuorum);
  REQUIRE(r.failback_window.has_value());
  CHECK(r.failback_window->start_minute == 22 * 60);
  CHECK(r.failback_window->end_minute == 4 * 60);
}

TEST_CASE("a minimal document takes the defaults") {
  absl::StatusOr<Array> array = ArrayFromJsonText(R"({"members":[{"name":"a.example.com"}]})");
  REQUIRE(array.ok());
  CHECK(array->primary == "a.example.com");  // the sole member is the primary
  CHECK(array->backup_primaries.empty());
  CHECK(array->members[0].roles == Roles{});
  CHECK(array->members[0].address_static);
  CHECK(array->members[0].rack.empty());
  CHECK(array->resilience == Resilience{});
}

TEST_CASE("an absent backup list holds every secondary in member order") {
  absl::StatusOr<Array> array = ArrayFromJsonText(R"({"members":[
      {"name":"a.example.com"},{"name":"b.example.com"},{"name":"c.example.com"}],
      "primary":"B.example.com."})");
  REQUIRE(array.ok());
  CHECK(array->primary == "B.example.com.");
  CHECK(array->backup_primaries == std::vector<std::string>{"a.example.com", "c.example.com"});

  absl::StatusOr<Array> empty = ArrayFromJsonText(R"({"members":[
      {"name":"a.example.com"},{"name":"b.example.com"}],
      "primary":"a.example.com", "backup_primaries": []})");
  REQUIRE(empty.ok());
  CHECK(empty->backup_primaries.empty());
}

// The result of parsing `text`, which must fail with reason `unknown_field`.
std::string UnknownField(std::string_view text) {
  absl::StatusOr<Array> array = ArrayFromJsonText(text);
  REQUIRE_FALSE(array.ok());
  CHECK(array.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ReasonOf(array.status()) == "unknown_field");
  return std::string(array.status().message());
}

TEST_CASE("unknown fields are refused with the nearest known name, at every level") {
  CHECK(UnknownField(Doc({{"primry", "a.example.com"}})) ==
        "primry: unknown field (did you mean primary?)");
  CHECK(UnknownField(Doc({{"backup_primary", json::array()}})) ==
        "backup_primary: unknown field (did you mean backup_primaries?)");
  CHECK(UnknownField(MemberDoc({{"rak", "r1"}})) ==
        "members[0].rak: unknown field (did you mean rack?)");
  CHECK(UnknownField(MemberDoc({{"address_statc", false}})) ==
        "members[0].address_statc: unknown field (did you mean address_static?)");
  CHECK(UnknownField(Doc({{"resilience", {{"monitor_atempts", 4}}}})) ==
        "resilience.monitor_atempts: unknown field (did you mean monitor_attempts?)");
  CHECK(UnknownField(Doc({{"resilience", {{"failover_enabeld", true}}}})) ==
        "resilience.failover_enabeld: unknown field (did you mean failover_enabled?)");
  CHECK(UnknownField(
            Doc({{"resilience", {{"failback_window", {{"strt", "22:00"}, {"end", "04:00"}}}}}})) ==
        "resilience.failback_window.strt: unknown field (did you mean start?)");
  // Nothing close: the message lists the fields that are known there.
  CHECK(UnknownField(MemberDoc({{"colour", "blue"}})) ==
        "members[0].colour: unknown field (known fields: name roles rack power address "
        "address_static version)");
  // A field for the future is not silently dropped either, not even with a null value.
  CHECK_THAT(UnknownField(R"({"members": [{"name": "a.example.com"}], "future": null})"),
             Catch::StartsWith("future: unknown field"));
  // Embedded descriptions report the path under their prefix.
  absl::StatusOr<Array> embedded = ArrayFromJson(
      json::parse(R"({"members": [{"name": "a.example.com", "rols": []}]})"), "array");
  REQUIRE_FALSE(embedded.ok());
  CHECK(std::string(embedded.status().message()) ==
        "array.members[0].rols: unknown field (did you mean roles?)");
}

// docs/placement.md relies on this: generators that write every key (with null for "not set")
// keep working, and a change's "failback_window": null clears the window.
TEST_CASE("null reads as absent for the known optional fields") {
  absl::StatusOr<Array> array = ArrayFromJsonText(R"({
      "members":[{"name":"a.example.com","rack":null,"roles":null,"version":null}],
      "primary": null, "backup_primaries": null,
      "resilience": {"monitor_attempts": 4, "mode": null, "failback_window": null}})");
  REQUIRE(array.ok());
  CHECK(array->members[0].rack.empty());
  CHECK(array->primary == "a.example.com");
  CHECK(array->resilience.monitor_attempts == 4);
  CHECK(array->resilience.mode == ResilienceMode::kArray);
  CHECK_FALSE(array->resilience.failback_window.has_value());
}

TEST_CASE("fractional intervals give sub-second failover") {
  absl::StatusOr<Array> array = ArrayFromJsonText(Doc({{"resilience",
                                                        {{"monitor_interval_s", 0.05},
                                                         {"monitor_attempts", 4},
                                                         {"find_primary_interval_s", 0.025},
                                                         {"find_primary_attempts", 2}}}}));
  REQUIRE(array.ok());
  CHECK(array->resilience.monitor_interval == absl::Milliseconds(50));
  CHECK(array->resilience.GracePeriod() == absl::Milliseconds(200));
  CHECK(array->resilience.FindNewPrimaryTimeout() == absl::Milliseconds(50));
  json out = ToJson(array->resilience);
  CHECK(out["monitor_interval_s"].get<double>() == 0.05);
  CHECK(out["monitor_attempts"] == 4);
}

TEST_CASE("eleven members parse: too_many_members is a placement finding") {
  json members = json::array();
  for (int i = 0; i < 11; ++i) {
    members.push_back({{"name", absl::StrCat("m", i, ".example.com")}});
  }
  absl::StatusOr<Array> array =
      ArrayFromJsonText(json{{"members", members}, {"primary", "m0.example.com"}}.dump());
  REQUIRE(array.ok());
  CHECK(array->members.size() == 11);
}

TEST_CASE("ToJson round-trips") {
  absl::StatusOr<Array> design = ArrayFromJsonText(kDesignExample);
  REQUIRE(design.ok());

  Array odd;
  odd.members = {{"a.example.com", {true, false}, "", "", "", false, ""},
                 {"B.Example.com.", {false, true}, "r\u00e9", "p", "2001:db8::1", true, "2.0"}};
  odd.primary = "B.Example.com.";
  odd.backup_primaries = {"a.example.com", "not-a-member.example.com", "a.example.com"};
  odd.resilience.monitor_interval = absl::Microseconds(1234567);
  odd.resilience.find_primary_interval = absl::Milliseconds(1);
  odd.resilience.monitor_attempts = 1000;
  odd.resilience.find_primary_attempts = 1;
  odd.resilience.primary_return_action = PrimaryReturnAction::kNone;
  odd.resilience.failback_window = FailbackWindow{0, 23 * 60 + 59};

  for (const Array& array : {*design, odd}) {
    const json doc = ToJson(array);
    absl::StatusOr<Array> again = ArrayFromJson(doc);
    REQUIRE(again.ok());
    CHECK(*again == array);
    absl::StatusOr<Array> from_text = ArrayFromJsonText(doc.dump());
    REQUIRE(from_text.ok());
    CHECK(*from_text == array);
  }
}

TEST_CASE("every field ToJson writes is a known field when read back") {
  Array full;
  full.members = {{"a.example.com", {true, true}, "r1", "p1", "192.0.2.1", false, "1.0"},
                  {"b.example.com", {false, false}, "", "", "", true, ""}};
  full.primary = "a.example.com";
  full.backup_primaries = {"b.example.com"};
  full.resilience.failback_window = FailbackWindow{22 * 60, 4 * 60};
  const json doc = ToJson(full);
  // Every object the writer produces is read strictly, so a field the reader did not know would
  // be refused here rather than dropped.
  CHECK(doc["resilience"].contains("failback_window"));
  CHECK(doc["members"][0].size() == kMemberFields.size());
  CHECK(doc.size() == kArrayFields.size());
  CHECK(doc["resilience"].size() == kResilienceFields.size());
  absl::StatusOr<Array> again = ArrayFromJsonText(doc.dump());
  REQUIRE(again.ok());
  CHECK(*again == full);
}

TEST_CASE("ToJson writes the documented field names") {
  absl::StatusOr<Array> array = ArrayFromJsonText(kDesignExample);
  REQUIRE(array.ok());
  const json doc = ToJson(*array);
  CHECK(doc["members"][0] ==
        json::parse(R"({"name": "boston.example.com", "roles": ["frontend","backend"],
                        "rack": "r1", "power": "p1", "address": "192.0.2.10",
                        "address_static": true, "version": "1.0.0"})"));
  CHECK(doc["resilience"] == json::parse(R"({"failover_enabled": true, "monitor_interval_s": 60,
                        "monitor_attempts": 10, "find_primary_interval_s": 60,
                        "find_primary_attempts": 3, "primary_return_action": "acceptsecondary",
                        "mode": "quorum", "failback_window": {"start": "22:00", "end": "04:00"}})"));
  CHECK(doc["resilience"]["monitor_interval_s"].is_number_integer());
  CHECK(doc["primary"] == "boston.example.com");
  CHECK(doc["backup_primaries"] == json::array({"newyork.example.com"}));
}

struct BadCase {
  std::string text;
  std::string message;  // expected substring
};

TEST_CASE("bad documents name the field and the rule") {
  const std::string long_name(254, 'a');
  const std::vector<BadCase> cases = {
      // Not JSON / syntax errors, with a byte offset.
      {"not json", "array description: not valid JSON (byte 2): "},
      {R"({"members": [})", "array description: not valid JSON (byte 14)"},
      {"", "array description: not valid JSON (byte 1)"},
      {"{\"members\": [{\"name\": \"a\xff\"}]}", "not valid JSON"},
      {R"({"members":[]} trailing)", "not valid JSON"},
      // Not an object.
      {"[]", "array description: must be a JSON object, got an array"},
      {"42", "array description: must be a JSON object, got 42"},
      // members
      {"{}", "members: required field is missing"},
      {R"({"members": {}})", "members: must be an array of member objects, got an object"},
      {R"({"members": []})", "members: must list at least one member"},
      {R"({"members": [5]})", "members[0]: must be a JSON object, got 5"},
      {R"({"members": [{}]})", "members[0].name: required field is missing"},
      {MemberDoc({{"name", ""}}), "members[0].name: must not be empty"},
      {MemberDoc({{"name", 7}}), "members[0].name: must be a string, got 7"},
      {MemberDoc({{"name", long_name}}),
       "members[0].name: must be at most 253 bytes long, got 254 bytes"},
      {MemberDoc({{"name", "a\tb.example.com"}}),
       "members[0].name: must not contain control characters"},
      {MemberDoc({{"roles", "frontend"}}), "members[0].roles: must be an array, got \"frontend\""},
      {MemberDoc({{"roles", {"frontend", "db"}}}),
       "members[0].roles[1]: must be one of \"frontend\", \"backend\", got \"db\""},
      {MemberDoc({{"roles", {"backend", "backend"}}}),
       "members[0].roles[1]: role \"backend\" is listed twice"},
      {MemberDoc({{"roles", {1}}}), "members[0].roles[0]: must be a string, got 1"},
      {MemberDoc({{"rack", 5}}), "members[0].rack: must be a string, got 5"},
      {MemberDoc({{"power", std::string(257, 'p')}}),
       "members[0].power: must be at most 256 bytes long, got 257 bytes"},
      {MemberDoc({{"address", true}}), "members[0].address: must be a string, got true"},
      {MemberDoc({{"version", {1, 0}}}), "members[0].version: must be a string, got an array"},
      {MemberDoc({{"address_static", "yes"}}),
       "members[0].address_static: must be true or false, got \"yes\""},
      // primary and backup list
      {R"({"members":[{"name":"a.example.com"},{"name":"b.example.com"}]})",
       "primary: required field is missing"},
      {Doc({{"primary", 5}}), "primary: must be a string, got 5"},
      {Doc({{"primary", "x.example.com"}}),
       "primary: must name a member of the array, got \"x.example.com\""},
      {Doc({{"backup_primaries", "a.example.com"}}),
       "backup_primaries: must be an array, got \"a.example.com\""},
      {Doc({{"backup_primaries", {""}}}), "backup_primaries[0]: must not be empty"},
      {Doc({{"backup_primaries", {"a.example.com", 3}}}),
       "backup_primaries[1]: must be a string, got 3"},
      // resilience
      {Doc({{"resilience", json::array()}}), "resilience: must be a JSON object, got an array"},
      {Doc({{"resilience", {{"failover_enabled", "true"}}}}),
       "resilience.failover_enabled: must be true or false, got \"true\""},
      {Doc({{"resilience", {{"monitor_attempts", 0}}}}),
       "resilience.monitor_attempts: must be an integer from 1 to 1000, got 0"},
      {Doc({{"resilience", {{"monitor_attempts", 1001}}}}),
       "resilience.monitor_attempts: must be an integer from 1 to 1000, got 1001"},
      {Doc({{"resilience", {{"monitor_attempts", -1}}}}),
       "resilience.monitor_attempts: must be an integer from 1 to 1000, got -1"},
      {Doc({{"resilience", {{"monitor_attempts", 2.5}}}}),
       "resilience.monitor_attempts: must be an integer from 1 to 1000, got 2.5"},
      {Doc({{"resilience", {{"monitor_attempts", "3"}}}}),
       "resilience.monitor_attempts: must be an integer from 1 to 1000, got \"3\""},
      {R"({"members":[{"name":"a.example.com"}],
           "resilience":{"monitor_attempts":18446744073709551615}})",
       "resilience.monitor_attempts: must be an integer from 1 to 1000, got 18446744073709551615"},
      {Doc({{"resilience", {{"find_primary_attempts", 0}}}}),
       "resilience.find_primary_attempts: must be an integer from 1 to 1000, got 0"},
      {Doc({{"resilience", {{"monitor_interval_s", -5}}}}),
       "resilience.monitor_interval_s: must be a number of seconds from 0.001 to 86400, got -5"},
      {Doc({{"resilience", {{"monitor_interval_s", 0}}}}),
       "resilience.monitor_interval_s: must be a number of seconds from 0.001 to 86400, got 0"},
      {Doc({{"resilience", {{"monitor_interval_s", 86401}}}}),
       "resilience.monitor_interval_s: must be a number of seconds from 0.001 to 86400, got "
       "86401"},
      {Doc({{"resilience", {{"find_primary_interval_s", "60"}}}}),
       "resilience.find_primary_interval_s: must be a number of seconds from 0.001 to 86400, got "
       "\"60\""},
      {R"({"members":[{"name":"a.example.com"}],"resilience":{"find_primary_interval_s":1e400}})",
       "not valid JSON"},
      {Doc({{"resilience", {{"primary_return_action", "restore"}}}}),
       "resilience.primary_return_action: must be one of \"accept\", \"acceptsecondary\", "
       "\"none\", got \"restore\""},
      {Doc({{"resilience", {{"mode", "raft"}}}}),
       "resilience.mode: must be one of \"array\", \"quorum\", got \"raft\""},
      {Doc({{"resilience", {{"failback_window", "22:00"}}}}),
       "resilience.failback_window: must be a JSON object, got \"22:00\""},
      {Doc({{"resilience", {{"failback_window", {{"start", "22:00"}}}}}}),
       "resilience.failback_window.end: required field is missing"},
      {Doc({{"resilience", {{"failback_window", {{"start", "24:00"}, {"end", "04:00"}}}}}}),
       "resilience.failback_window.start: must be a time from \"00:00\" to \"23:59\", got "
       "\"24:00\""},
      {Doc({{"resilience", {{"failback_window", {{"start", "22:00"}, {"end", "4:00"}}}}}}),
       "resilience.failback_window.end: must be a time \"HH:MM\" (24-hour, UTC), got \"4:00\""},
  };
  for (const BadCase& c : cases) {
    INFO("document: " << c.text);
    const std::string message = Error(c.text);
    CHECK_THAT(message, Catch::Contains(c.message));
  }
}

TEST_CASE("absurd sizes are refused") {
  SECTION("more than 1 MiB") {
    std::string text = Doc({{"pad", std::string(kMaxDocumentBytes, 'x')}});
    CHECK_THAT(Error(text),
               Catch::Contains(absl::StrCat("array description: the document is ", text.size(),
                                            " bytes; at most 1048576 bytes are accepted")));
  }
  SECTION("more than kMaxMembers members") {
    json members = json::array();
    for (std::size_t i = 0; i <= kMaxMembers; ++i) {
      members.push_back({{"name", absl::StrCat("m", i, ".example.com")}});
    }
    CHECK_THAT(Error(json{{"members", members}}.dump()),
               Catch::Contains("members: at most 100 members are accepted, got 101"));
  }
  SECTION("nesting deeper than kMaxNestingDepth") {
    std::string text = R"({"members":[{"name":"a.example.com"}],"x":)";
    text += std::string(100, '[') + std::string(100, ']') + "}";
    CHECK_THAT(Error(text), Catch::Contains("JSON nests deeper than 64 levels at byte"));
  }
  SECTION("brackets inside strings do not count as nesting") {
    const std::string text =
        R"({"members":[{"name":"a.example.com","rack":")" + std::string(100, '[') + R"(\""}]})";
    absl::StatusOr<Array> array = ArrayFromJsonText(text);
    REQUIRE(array.ok());
    CHECK(array->members[0].rack == std::string(100, '[') + "\"");
  }
}

TEST_CASE("an embedded description reports paths under its prefix") {
  json doc = json::parse(R"({"members":[{"name":"a.example.com","roles":["db"]}]})");
  absl::StatusOr<Array> array = ArrayFromJson(doc, "array");
  REQUIRE_FALSE(array.ok());
  CHECK_THAT(std::string(array.status().message()),
             Catch::StartsWith("array.members[0].roles[0]: must be one of"));
  absl::StatusOr<Array> not_object = ArrayFromJson(json(3), "scenario.array");
  REQUIRE_FALSE(not_object.ok());
  CHECK_THAT(std::string(not_object.status().message()),
             Catch::StartsWith("scenario.array: must be a JSON object"));
}

TEST_CASE("strings built in code with invalid UTF-8 are refused, not thrown") {
  json doc = {{"members", json::array({{{"name", std::string("a\xc3(.example.com")}}})}};
  absl::StatusOr<Array> array = ArrayFromJson(doc);
  REQUIRE_FALSE(array.ok());
  CHECK_THAT(std::string(array.status().message()),
             Catch::Contains("members[0].name: must be valid UTF-8"));
  // Overlong encodings and surrogates are not UTF-8 either.
  for (std::string bad : {std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                          std::string("\xf4\x90\x80\x80"), std::string("\xe2\x82")}) {
    json member = {{"name", "a.example.com"}, {"rack", bad}};
    absl::StatusOr<Array> parsed = ArrayFromJson(json{{"members", json::array({member})}});
    REQUIRE_FALSE(parsed.ok());
    CHECK_THAT(std::string(parsed.status().message()), Catch::Contains("must be valid UTF-8"));
  }
}

TEST_CASE("ResilienceFromJson applies a partial document over a base") {
  Resilience base;
  base.failover_enabled = true;
  base.monitor_attempts = 5;
  base.failback_window = FailbackWindow{60, 120};
  absl::StatusOr<Resilience> partial =
      ResilienceFromJson(json{{"monitor_interval_s", 2}}, "change.resilience", base);
  REQUIRE(partial.ok());
  CHECK(partial->failover_enabled);
  CHECK(partial->monitor_attempts == 5);
  CHECK(partial->monitor_interval == absl::Seconds(2));
  CHECK(partial->failback_window == FailbackWindow{60, 120});

  absl::StatusOr<Resilience> cleared =
      ResilienceFromJson(json{{"failback_window", nullptr}}, "change.resilience", base);
  REQUIRE(cleared.ok());
  CHECK_FALSE(cleared->failback_window.has_value());

  absl::StatusOr<Resilience> bad = ResilienceFromJson(json{{"mode", 1}}, "change.resilience", base);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(std::string(bad.status().message()),
             Catch::StartsWith("change.resilience.mode: must be a string, got 1"));
}

TEST_CASE("ParseJsonDocument names the document") {
  absl::StatusOr<json> doc = ParseJsonDocument("{", "scenario");
  REQUIRE_FALSE(doc.ok());
  CHECK_THAT(std::string(doc.status().message()), Catch::StartsWith("scenario: not valid JSON"));
  absl::StatusOr<json> ok = ParseJsonDocument(R"({"a": [1, 2]})", "scenario");
  REQUIRE(ok.ok());
  CHECK((*ok)["a"][1] == 2);
}

}  // namespace
}  // namespace arraykit::model
