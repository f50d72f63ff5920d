// The simulator's array-operation events (make_primary, detach, config_edit): how scenario
// documents name them, and what a bad one is refused with.
#include <string>

#include <catch2/catch.hpp>

#include "core/sim/scenario.h"
#include "core/sim/simulate.h"
#include "core/status.h"

namespace {

using arraykit::ReasonOf;
using arraykit::sim::EventKind;
using arraykit::sim::ScenarioFromJson;
using nlohmann::json;

json Base(json events) {
  return json{{"members",
               {{{"name", "boston.example.com"}, {"roles", {"frontend", "backend"}}},
                {{"name", "newyork.example.com"}, {"roles", {"frontend"}}},
                {{"name", "detroit.example.com"}, {"roles", {"frontend"}}}}},
              {"primary", "boston.example.com"},
              {"resilience", {{"failover_enabled", true}}},
              {"events", std::move(events)},
              {"until_s", 600}};
}

TEST_CASE("scenario operation events run on the configured primary unless `on` names another") {
  auto scenario = ScenarioFromJson(Base(
      json::array({{{"at_s", 10}, {"make_primary", "NewYork.Example.com."}},
                   {{"at_s", 20}, {"detach", "detroit.example.com"}, {"on", "newyork.example.com"}},
                   {{"at_s", 30}, {"config_edit", {{"array-monitortime", 30}}}}})));
  REQUIRE(scenario.ok());
  const auto& e = scenario->events;
  REQUIRE(e.size() == 3);
  CHECK(e[0].kind == EventKind::kMakePrimary);
  CHECK(e[0].member == "boston.example.com");
  CHECK(e[0].target == "newyork.example.com");
  CHECK(e[1].kind == EventKind::kDetach);
  CHECK(e[1].member == "newyork.example.com");
  CHECK(e[1].target == "detroit.example.com");
  CHECK(e[2].kind == EventKind::kConfigEdit);
  CHECK(e[2].member == "boston.example.com");
  REQUIRE(e[2].config_edit.has_value());
}

TEST_CASE("bad scenario operation events are refused naming the event") {
  auto refused = [](json event) {
    return ScenarioFromJson(Base(json::array({std::move(event)}))).status();
  };
  absl::Status s = refused({{"at_s", 10}, {"config_edit", {{"array-monitortim", 30}}}});
  CHECK(ReasonOf(s) == "unknown_field");
  CHECK(std::string(s.message()).find("events[0]") != std::string::npos);
  CHECK(std::string(s.message()).find("did you mean --array-monitortime?") != std::string::npos);
  CHECK(ReasonOf(refused({{"at_s", 10}, {"config_edit", {{"array-maxmonitors", 0}}}})) ==
        "out_of_range");
  CHECK_FALSE(refused({{"at_s", 10}, {"make_primary", "chicago.example.com"}}).ok());
  CHECK_FALSE(refused({{"at_s", 10}, {"detach", 3}}).ok());
  CHECK_FALSE(
      refused({{"at_s", 10}, {"detach", "detroit.example.com"}, {"on", "chicago.example.com"}})
          .ok());
  s = refused({{"at_s", 10}, {"crash", "detroit.example.com"}, {"on", "boston.example.com"}});
  CHECK(std::string(s.message()).find("on only goes with") != std::string::npos);
  s = refused(
      {{"at_s", 10}, {"detach", "detroit.example.com"}, {"make_primary", "newyork.example.com"}});
  CHECK(std::string(s.message()).find("two event kinds") != std::string::npos);
}

TEST_CASE("a config_edit event changes the grace period the failover then uses") {
  json doc = Base(json::array({{{"at_s", 0}, {"config_edit", {{"array-maxmonitors", 2}}}},
                               {{"at_s", 1}, {"crash", "boston.example.com"}}}));
  auto result = arraykit::sim::RunScenario(doc);
  REQUIRE(result.ok());
  double promoted_at = -1;
  for (const json& entry : (*result)["timeline"]) {
    if (entry["event"] == "promoted") promoted_at = entry["at_s"].get<double>();
  }
  // Grace period 60 s x 2 (not x 10): newyork, first in the backup list, is primary by 180 s.
  CHECK(promoted_at > 0);
  CHECK(promoted_at <= 180);
}

}  // namespace
