#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/model/array_json.h"
#include "core/placement/placement.h"
#include "core/status.h"
#include "placement/fixtures.h"

namespace arraykit::placement {
namespace {

using model::Array;
using nlohmann::json;
using testing::Codes;
using testing::GoodArray;
using testing::MakeMember;
using testing::WithCode;

// boston is the primary and the only back-end; newyork and detroit are front-ends.
Array OneBackend() {
  Array array;
  array.members = {MakeMember("boston.example.com", true, true, "r1", "p1"),
                   MakeMember("newyork.example.com", true, false, "r2", "p2"),
                   MakeMember("detroit.example.com", true, false, "r3", "p3")};
  array.primary = "boston.example.com";
  array.backup_primaries = {"newyork.example.com", "detroit.example.com"};
  return array;
}

ChangeResult Plan(const Array& current, const json& change_doc) {
  absl::StatusOr<Change> change = ChangeFromJson(change_doc, current);
  REQUIRE(change.ok());
  absl::StatusOr<ChangeResult> result = PlanChange(current, *change);
  REQUIRE(result.ok());
  return *std::move(result);
}

absl::Status PlanError(const Array& current, const json& change_doc) {
  absl::StatusOr<Change> change = ChangeFromJson(change_doc, current);
  REQUIRE(change.ok());
  absl::StatusOr<ChangeResult> result = PlanChange(current, *change);
  REQUIRE_FALSE(result.ok());
  return result.status();
}

std::string ParseError(const json& change_doc) {
  absl::StatusOr<Change> change = ChangeFromJson(change_doc, OneBackend());
  REQUIRE_FALSE(change.ok());
  CHECK(change.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(change.status().message());
}

TEST_CASE("back-ends 1 -> 3 is a disruptive change") {
  const ChangeResult result =
      Plan(OneBackend(), {{"set_roles",
                           {{"newyork.example.com", {"frontend", "backend"}},
                            {"detroit.example.com", {"frontend", "backend"}}}}});
  CHECK(result.disruption);
  REQUIRE(result.disruption_reasons.size() == 3);
  CHECK_THAT(result.disruption_reasons[0], Catch::Contains("back-ends change from 1 to 3"));
  CHECK_THAT(result.disruption_reasons[1], Catch::Contains("gains the back-end role"));
  CHECK(result.array.BackendCount() == 3);
  CHECK(WithCode(result.findings, kBackendCount).empty());
  CHECK_FALSE(HasErrors(result.findings));
}

TEST_CASE("adding a front-end-only member is not disruptive and joins the end of the list") {
  const ChangeResult result = Plan(OneBackend(), {{"add",
                                                   {{{"name", "seattle.example.com"},
                                                     {"roles", {"frontend"}},
                                                     {"rack", "r1"},
                                                     {"power", "p1"},
                                                     {"version", "1.0.0"}}}}});
  CHECK_FALSE(result.disruption);
  CHECK(result.disruption_reasons.empty());
  REQUIRE(result.array.members.size() == 4);
  CHECK(result.array.members.back().name == "seattle.example.com");
  CHECK(result.array.backup_primaries == std::vector<std::string>{"newyork.example.com",
                                                                  "detroit.example.com",
                                                                  "seattle.example.com"});
}

TEST_CASE("adding a back-end member is disruptive and may break backend_count") {
  const ChangeResult result =
      Plan(OneBackend(), {{"add", {{{"name", "seattle.example.com"}, {"roles", {"backend"}}}}}});
  CHECK(result.disruption);
  CHECK_THAT(result.disruption_reasons[0], Catch::Contains("from 1 to 2"));
  CHECK_THAT(result.disruption_reasons[1],
             Catch::Contains("seattle.example.com joins the array as a back-end"));
  CHECK(WithCode(result.findings, kBackendCount).size() == 1);
}

TEST_CASE("removing a secondary drops its backup list entry") {
  SECTION("a front-end: no disruption") {
    const ChangeResult result = Plan(OneBackend(), {{"remove", {"NEWYORK.example.com."}}});
    CHECK_FALSE(result.disruption);
    CHECK(result.array.members.size() == 2);
    CHECK(result.array.backup_primaries == std::vector<std::string>{"detroit.example.com"});
  }
  SECTION("a back-end: disruptive") {
    const ChangeResult result = Plan(GoodArray(), {{"remove", {"detroit.example.com"}}});
    CHECK(result.disruption);
    CHECK_THAT(result.disruption_reasons[0], Catch::Contains("from 3 to 2"));
    CHECK_THAT(result.disruption_reasons[1],
               Catch::Contains("back-end detroit.example.com leaves the array"));
    CHECK(result.array.backup_primaries ==
          std::vector<std::string>{"newyork.example.com", "seattle.example.com"});
  }
}

TEST_CASE("swapping which members are back-ends is disruptive at the same count") {
  const ChangeResult result = Plan(
      OneBackend(),
      {{"set_roles",
        {{"boston.example.com", {"frontend"}}, {"newyork.example.com", {"frontend", "backend"}}}}});
  CHECK(result.disruption);
  CHECK_THAT(result.disruption_reasons[0], Catch::Contains("set of back-ends changes (still 1)"));
  CHECK_THAT(result.disruption_reasons[1],
             Catch::Contains("boston.example.com loses the back-end role"));
}

TEST_CASE("unknown members are NOT_FOUND naming the field") {
  absl::Status remove = PlanError(OneBackend(), {{"remove", {"chicago.example.com"}}});
  CHECK(remove.code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(remove.message()),
             Catch::StartsWith("remove[0]: no member named \"chicago.example.com\""));
  absl::Status roles =
      PlanError(OneBackend(), {{"set_roles", {{"chicago.example.com", {"frontend"}}}}});
  CHECK(roles.code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(roles.message()),
             Catch::StartsWith("set_roles[\"chicago.example.com\"]: no member named"));
  absl::Status primary = PlanError(OneBackend(), {{"primary", "chicago.example.com"}});
  CHECK(primary.code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(primary.message()), Catch::StartsWith("primary: no member named"));
}

TEST_CASE("removing the primary needs a new primary") {
  absl::Status status = PlanError(OneBackend(), {{"remove", {"boston.example.com"}}});
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(status.message()),
             Catch::StartsWith("remove[0]: \"boston.example.com\" is the primary") &&
                 Catch::Contains("new primary"));

  const ChangeResult result =
      Plan(OneBackend(), {{"remove", {"boston.example.com"}},
                          {"primary", "newyork.example.com"},
                          {"set_roles", {{"newyork.example.com", {"frontend", "backend"}}}}});
  CHECK(result.array.primary == "newyork.example.com");
  CHECK(result.array.backup_primaries == std::vector<std::string>{"detroit.example.com"});
  CHECK(result.disruption);
  CHECK_THAT(result.disruption_reasons.back(),
             Catch::Contains("primary changes from boston.example.com to newyork.example.com"));
  CHECK_FALSE(HasErrors(result.findings));
}

TEST_CASE("a new primary leaves the backup list and the old one joins its end") {
  const ChangeResult result = Plan(GoodArray(), {{"primary", "detroit.example.com"}});
  CHECK(result.array.primary == "detroit.example.com");
  CHECK(result.array.backup_primaries == std::vector<std::string>{"newyork.example.com",
                                                                  "seattle.example.com",
                                                                  "boston.example.com"});
  CHECK(result.disruption);
  REQUIRE(result.disruption_reasons.size() == 1);
  CHECK_THAT(result.disruption_reasons[0], Catch::Contains("primary changes"));
  CHECK(WithCode(result.findings, kBadBackupList).empty());
}

TEST_CASE("an explicit backup list replaces the list and its problems are findings") {
  const ChangeResult result =
      Plan(GoodArray(), {{"add", {{{"name", "chicago.example.com"}, {"roles", {"frontend"}}}}},
                         {"backup_primaries", {"seattle.example.com", "ghost.example.com"}}});
  CHECK(result.array.backup_primaries ==
        std::vector<std::string>{"seattle.example.com", "ghost.example.com"});
  CHECK(WithCode(result.findings, kBadBackupList).size() == 1);
  CHECK_FALSE(result.disruption);
}

TEST_CASE("a partial resilience change keeps the other settings") {
  Array current = GoodArray();
  current.resilience.monitor_attempts = 5;
  const ChangeResult result =
      Plan(current, {{"resilience", {{"failover_enabled", true}, {"monitor_interval_s", 0.1}}}});
  CHECK(result.array.resilience.failover_enabled);
  CHECK(result.array.resilience.monitor_attempts == 5);
  CHECK(result.array.resilience.monitor_interval == absl::Milliseconds(100));
  CHECK_FALSE(result.disruption);
}

TEST_CASE("change errors that are not about unknown names") {
  CHECK_THAT(PlanError(OneBackend(), {{"add", {{{"name", "Boston.example.com"}}}}}).ToString(),
             Catch::Contains("add[0].name: \"Boston.example.com\" is already a member"));
  CHECK_THAT(PlanError(OneBackend(), {{"remove", {"newyork.example.com", "NEWYORK.example.com"}}})
                 .ToString(),
             Catch::Contains("remove[1]: \"NEWYORK.example.com\" is listed twice"));
  CHECK_THAT(
      PlanError(OneBackend(),
                {{"remove", {"newyork.example.com", "detroit.example.com", "boston.example.com"}},
                 {"primary", "newyork.example.com"}})
          .ToString(),
      Catch::Contains("primary: no member named"));
  // An array built in code without a primary can lose its last member through `remove`.
  Array headless;
  headless.members = {MakeMember("solo.example.com", true, true, "", "")};
  Change change;
  change.remove = {"solo.example.com"};
  absl::StatusOr<ChangeResult> result = PlanChange(headless, change);
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(std::string(result.status().message()), Catch::Contains("every member"));
}

TEST_CASE("change documents are checked field by field") {
  CHECK_THAT(ParseError(json::array()), Catch::StartsWith("change: must be a JSON object"));
  CHECK_THAT(ParseError({{"add", "x"}}), Catch::StartsWith("add: must be an array"));
  CHECK_THAT(ParseError({{"add", {json::object()}}}),
             Catch::StartsWith("add[0].name: required field is missing"));
  CHECK_THAT(ParseError({{"add", {{{"name", "x.example.com"}, {"roles", {"db"}}}}}}),
             Catch::StartsWith("add[0].roles[0]: must be one of"));
  CHECK_THAT(ParseError({{"remove", {1}}}), Catch::StartsWith("remove[0]: must be a string"));
  CHECK_THAT(ParseError({{"set_roles", {"a"}}}), Catch::StartsWith("set_roles: must be an object"));
  CHECK_THAT(ParseError({{"set_roles", {{"a.example.com", {"db"}}}}}),
             Catch::StartsWith("set_roles[\"a.example.com\"][0]: must be one of \"frontend\""));
  CHECK_THAT(ParseError({{"set_roles", {{"a.example.com", "frontend"}}}}),
             Catch::StartsWith("set_roles[\"a.example.com\"]: must be an array"));
  CHECK_THAT(ParseError({{"primary", ""}}), Catch::StartsWith("primary: must not be empty"));
  CHECK_THAT(ParseError({{"backup_primaries", {{{"x", 1}}}}}),
             Catch::StartsWith("backup_primaries[0]: must be a string"));
  CHECK_THAT(ParseError({{"resilience", {{"monitor_attempts", 0}}}}),
             Catch::StartsWith("resilience.monitor_attempts: must be an integer from 1 to 1000"));
  // An empty change changes nothing.
  const ChangeResult same = Plan(GoodArray(), json::object());
  CHECK(same.array == GoodArray());
  CHECK_FALSE(same.disruption);
}

// The status of a change document that must be refused for an unknown field.
absl::Status UnknownField(const json& change_doc) {
  absl::StatusOr<Change> change = ChangeFromJson(change_doc, OneBackend());
  REQUIRE_FALSE(change.ok());
  CHECK(change.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ReasonOf(change.status()) == "unknown_field");
  return change.status();
}

TEST_CASE("a typo in a change is refused with the nearest known name, never a no-op") {
  CHECK(UnknownField({{"ad", {{{"name", "seattle.example.com"}}}}}).message() ==
        "ad: unknown field (did you mean add?)");
  CHECK(UnknownField({{"remvoe", {"newyork.example.com"}}}).message() ==
        "remvoe: unknown field (did you mean remove?)");
  CHECK(UnknownField({{"set_role", json::object()}}).message() ==
        "set_role: unknown field (did you mean set_roles?)");
  CHECK(UnknownField({{"add", {{{"name", "seattle.example.com"}, {"rols", {"frontend"}}}}}})
            .message() == "add[0].rols: unknown field (did you mean roles?)");
  CHECK(UnknownField({{"resilience", {{"failover_enable", true}}}}).message() ==
        "resilience.failover_enable: unknown field (did you mean failover_enabled?)");
  CHECK_THAT(std::string(UnknownField({{"comment", "nothing"}}).message()),
             Catch::StartsWith("comment: unknown field (known fields: add remove set_roles"));
  // set_roles is keyed by member names, not field names: any name is accepted there.
  const ChangeResult renamed =
      Plan(OneBackend(), {{"set_roles", {{"newyork.example.com", {"frontend"}}}}});
  CHECK(renamed.array == OneBackend());
}

TEST_CASE("change results as JSON") {
  const ChangeResult result =
      Plan(OneBackend(), {{"set_roles", {{"newyork.example.com", {"frontend", "backend"}}}}});
  const json doc = ToJson(result);
  CHECK(doc["disruption"] == true);
  CHECK(doc["disruption_reasons"].size() == 2);
  CHECK(doc["errors"] == 1);  // backend_count: 2 back-ends
  CHECK(doc["warnings"] == 0);
  CHECK(doc["findings"][0]["code"] == "backend_count");
  // The result's array is an array description the library reads back (strictly), e.g. as
  // the input of the next change.
  absl::StatusOr<Array> array = model::ArrayFromJson(doc["array"]);
  REQUIRE(array.ok());
  CHECK(*array == result.array);
  absl::StatusOr<Array> from_text = model::ArrayFromJsonText(doc["array"].dump());
  REQUIRE(from_text.ok());
  CHECK(*from_text == result.array);
  CHECK(Codes(result.findings).back() == "failover_time");
}

}  // namespace
}  // namespace arraykit::placement
