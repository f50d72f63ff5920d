// Bad scenario input is INVALID_ARGUMENT with a message naming the field or the event index.
#include <string>

#include <catch2/catch.hpp>

#include "core/sim/simulate.h"
#include "core/sim/simulator.h"
#include "core/status.h"
#include "nlohmann/json.hpp"

namespace {

using nlohmann::json;

json Base() {
  return json::parse(R"({
    "members": [{"name": "a.example.com", "roles": ["frontend", "backend"]},
                {"name": "b.example.com", "roles": ["frontend"]},
                {"name": "c.example.com", "roles": ["frontend"]}],
    "primary": "a.example.com",
    "resilience": {"failover_enabled": true},
    "until_s": 100
  })");
}

std::string ErrorFor(const json& events) {
  json scenario = Base();
  scenario["events"] = events;
  absl::StatusOr<json> result = arraykit::sim::RunScenario(scenario);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(result.status().message());
}

TEST_CASE("bad events are refused naming the event index") {
  using Catch::Matchers::Contains;
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": 0, "crash": "a.example.com"},
                                      {"at_s": 1, "crash": "nobody.example.com"}])")),
             Contains("events[1]") && Contains("unknown member"));
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": 5, "heal": true}, {"at_s": 6, "heal": true},
                                      {"at_s": 2, "heal": true}])")),
             Contains("events[2]") && Contains("out of order"));
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": -1, "crash": "a.example.com"}])")),
             Contains("events[0]") && Contains("negative"));
  CHECK_THAT(ErrorFor(json::parse(
                 R"([{"at_s": 0, "heal": true},
                     {"at_s": 1, "partition": [["a.example.com", "b.example.com"],
                                               ["c.example.com", "a.example.com"]]}])")),
             Contains("events[1]") && Contains("a.example.com twice"));
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": 0, "explode": "a.example.com"}])")),
             Contains("events[0].explode: unknown field"));
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": 0}])")),
             Contains("events[0]") && Contains("no event kind"));
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": 0, "crash": "a.example.com", "heal": true}])")),
             Contains("events[0]") && Contains("two event kinds"));
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": 200, "heal": true}])")),
             Contains("events[0]") && Contains("after until_s"));
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": 1e300, "heal": true}])")),
             Contains("events[0]") && Contains("after until_s"));
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": "soon", "heal": true}])")),
             Contains("events[0]") && Contains("at_s must be a number"));
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": 1, "heal": true, "contact_members": true}])")),
             Contains("events[0]") && Contains("contact_members only goes with clean"));
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": 1, "change": {"member": "a.example.com"}}])")),
             Contains("events[0]") && Contains("backup_primaries and/or resilience"));
  CHECK_THAT(ErrorFor(json::parse(
                 R"([{"at_s": 1, "change": {"member": "a.example.com",
                                            "resilience": {"mode": "chaos"}}}])")),
             Contains("events[0].change.resilience.mode"));
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": 1, "network": {"loss": 2}}])")),
             Contains("events[0]") && Contains("loss"));
  CHECK_THAT(ErrorFor(json::parse(R"({"at_s": 1})")), Contains("events") && Contains("array"));
}

TEST_CASE("bad scenario fields are refused naming the field") {
  using Catch::Matchers::Contains;
  auto error = [](json scenario) {
    absl::StatusOr<json> result = arraykit::sim::RunScenario(scenario);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
    return std::string(result.status().message());
  };
  json s = Base();
  s["until_s"] = -5;
  CHECK_THAT(error(s), Contains("until_s"));
  s = Base();
  s["until_s"] = 1e12;
  CHECK_THAT(error(s), Contains("until_s"));
  s = Base();
  s["start_clock"] = "yesterday";
  CHECK_THAT(error(s), Contains("start_clock") && Contains("RFC 3339"));
  s = Base();
  s["clocks"] = json{{"z.example.com", json{{"offset_s", 1}}}};
  CHECK_THAT(error(s), Contains("clocks.z.example.com") && Contains("unknown member"));
  s = Base();
  s["clocks"] = json{{"a.example.com", json{{"drift_ppm", 5000}}}};
  CHECK_THAT(error(s), Contains("drift_ppm"));
  s = Base();
  s["backup_primaries"] = json{"b.example.com", "b.example.com"};
  CHECK_THAT(error(s), Contains("backup_primaries[1]") && Contains("twice"));
  s = Base();
  s["backup_primaries"] = json{"a.example.com"};
  CHECK_THAT(error(s), Contains("backup_primaries[0]") && Contains("primary"));
  s = Base();
  s["members"][2]["name"] = "A.example.com.";
  CHECK_THAT(error(s), Contains("members[2].name") && Contains("duplicate"));
  s = Base();
  s["members"][0]["roles"] = json{"frontend"};
  s["resilience"]["mode"] = "quorum";
  CHECK_THAT(error(s), Contains("quorum mode needs back-end members"));
  CHECK_THAT(error(json::array()), Contains("scenario"));
  s = Base();
  s.erase("members");
  CHECK_THAT(error(s), Contains("members"));
}

TEST_CASE("a scenario too long to simulate is refused instead of running for hours") {
  json scenario = Base();
  scenario["resilience"]["monitor_interval_s"] = 0.001;
  scenario["resilience"]["find_primary_interval_s"] = 0.001;
  scenario["until_s"] = 1e7;
  absl::StatusOr<json> result = arraykit::sim::RunScenario(scenario);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK_THAT(std::string(result.status().message()), Catch::Matchers::Contains("until_s"));
}

TEST_CASE("malformed scenario text is refused") {
  absl::StatusOr<json> result = arraykit::sim::RunScenarioText("{\"members\": [");
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("member names in events are matched like peer DNS names") {
  json scenario = Base();
  scenario["events"] = json::parse(R"([{"at_s": 0, "crash": "A.Example.COM."}])");
  absl::StatusOr<json> result = arraykit::sim::RunScenario(scenario);
  REQUIRE(result.ok());
  CHECK((*result)["down"] == json{"a.example.com"});
}

}  // namespace

namespace {

using nlohmann::json;

// The error of RunScenario(scenario), which must be INVALID_ARGUMENT with reason unknown_field.
std::string UnknownField(const json& scenario) {
  absl::StatusOr<json> result = arraykit::sim::RunScenario(scenario);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(arraykit::ReasonOf(result.status()) == "unknown_field");
  return std::string(result.status().message());
}

TEST_CASE("a scenario refuses unknown fields with the nearest known name") {
  json s = Base();
  s["event"] = json::parse(R"([{"at_s": 0, "crash": "a.example.com"}])");
  CHECK(UnknownField(s) == "scenario.event: unknown field (did you mean events?)");
  s = Base();
  s["untl_s"] = 5;
  CHECK(UnknownField(s) == "scenario.untl_s: unknown field (did you mean until_s?)");
  s = Base();
  s["events"] = json::parse(R"([{"at_s": 0, "crash": "a.example.com", "contact_member": true}])");
  CHECK(UnknownField(s) ==
        "events[0].contact_member: unknown field (did you mean contact_members?)");
  s = Base();
  s["events"] = json::parse(R"([{"at_s": 0, "crashh": "a.example.com"}])");
  CHECK(UnknownField(s) == "events[0].crashh: unknown field (did you mean crash?)");
  s = Base();
  s["events"] = json::parse(R"([{"at_s": 1, "change": {"member": "a.example.com",
                                                       "backup_primary": []}}])");
  CHECK(UnknownField(s) ==
        "events[0].change.backup_primary: unknown field (did you mean backup_primaries?)");
  s = Base();
  s["events"] = json::parse(R"([{"at_s": 1, "network": {"los": 0.1}}])");
  CHECK(UnknownField(s) == "events[0].network.los: unknown field (did you mean loss?)");
  s = Base();
  s["network"] = json{{"jitter", 1}};
  CHECK(UnknownField(s) == "network.jitter: unknown field (did you mean jitter_s?)");
  s = Base();
  s["clocks"] = json{{"a.example.com", json{{"drift_pmm", 5}}}};
  CHECK(UnknownField(s) ==
        "clocks.a.example.com.drift_pmm: unknown field (did you mean drift_ppm?)");
  s = Base();
  s["events"] = json::parse(R"([{"at_s": 1, "write": {"member": "a.example.com",
      "category": "sessions", "key": "k", "vaule": 1}}])");
  CHECK(UnknownField(s) == "events[0].write.vaule: unknown field (did you mean value?)");
}

TEST_CASE("write events need a member, a category, a key and one of value and delete") {
  using Catch::Matchers::Contains;
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": 1, "write": {"member": "a.example.com",
                                       "category": "sessions", "key": "k"}}])")),
             Contains("events[0]") && Contains("exactly one of value"));
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": 1, "write": {"member": "a.example.com",
                                       "key": "k", "value": 1}}])")),
             Contains("write.category must be a string"));
  CHECK_THAT(ErrorFor(json::parse(R"([{"at_s": 1, "write": {"member": "a.example.com",
                                       "category": "sessions", "key": "k", "value": 1,
                                       "wait": "some"}}])")),
             Contains("write.wait must be"));
}

TEST_CASE("expect, checkpoints and description are part of the scenario format") {
  json s = Base();
  s["description"] = "documented";
  s["expect"] = json{{"standalone", json::array()}};
  s["checkpoints"] = json::array();
  CHECK(arraykit::sim::RunScenario(s).ok());
  s["expect"] = json::array();
  absl::StatusOr<json> result = arraykit::sim::RunScenario(s);
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(std::string(result.status().message()),
             Catch::Matchers::Contains("expect: must be an object"));
}

TEST_CASE("the step bound of RunOptions refuses a longer run with reason step_limit") {
  json s = Base();
  s["events"] = json::parse(R"([{"at_s": 0, "crash": "a.example.com"}])");
  absl::StatusOr<json> bounded = arraykit::sim::RunScenario(s, {.max_steps = 3});
  REQUIRE_FALSE(bounded.ok());
  CHECK(bounded.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(arraykit::ReasonOf(bounded.status()) == "step_limit");
  CHECK(arraykit::sim::RunScenario(s, {.max_steps = 100000}).ok());
  absl::StatusOr<json> too_large =
      arraykit::sim::RunScenario(s, {.max_steps = arraykit::sim::kMaxTotalSteps + 1});
  REQUIRE_FALSE(too_large.ok());
  CHECK(too_large.status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("a result document is accepted back as a result, a scenario is not") {
  json s = Base();
  s["events"] = json::parse(R"([{"at_s": 0, "crash": "a.example.com"}])");
  absl::StatusOr<json> result = arraykit::sim::RunScenario(s);
  REQUIRE(result.ok());
  for (int indent : {-1, 0, 2}) {
    absl::StatusOr<json> back = arraykit::sim::ResultFromJsonText(result->dump(indent));
    REQUIRE(back.ok());
    CHECK(*back == *result);
  }
  absl::StatusOr<json> scenario = arraykit::sim::ResultFromJsonText(s.dump());
  REQUIRE_FALSE(scenario.ok());
  CHECK(arraykit::ReasonOf(scenario.status()) == "not_a_result");
}

}  // namespace
