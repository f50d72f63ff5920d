// The simulator's network model and quorum counting, pinned down by small runs.
#include <string>

#include <catch2/catch.hpp>

#include "core/sim/random_scenario.h"
#include "core/sim/scenario.h"
#include "core/sim/simulate.h"
#include "core/sim/simulator.h"
#include "nlohmann/json.hpp"

namespace {

using arraykit::sim::Simulator;
using nlohmann::json;

// a (primary) and b; every message takes 30 s, so b's first probe (sent at 0) arrives at 30 s.
json SlowPair(json events) {
  return json{{"members", json::array({json{{"name", "a.example.com"}, {"roles", {"backend"}}},
                                       json{{"name", "b.example.com"}, {"roles", {"backend"}}}})},
              {"primary", "a.example.com"},
              {"resilience", json{{"failover_enabled", false}, {"monitor_interval_s", 1000}}},
              {"network", json{{"delay_s", 30}}},
              {"events", std::move(events)},
              {"until_s", 100}};
}

std::uint64_t DeliveredBy(const json& doc, std::int64_t until_us) {
  absl::StatusOr<arraykit::sim::Scenario> scenario = arraykit::sim::ScenarioFromJson(doc);
  REQUIRE(scenario.ok());
  Simulator simulator(*std::move(scenario), arraykit::sim::SimOptions{});
  REQUIRE(simulator.RunUntil(until_us).ok());
  return simulator.messages_delivered();
}

TEST_CASE("a message in flight when a partition starts is dropped at delivery time") {
  // Without a partition the probe arrives at 30 s.
  CHECK(DeliveredBy(SlowPair(json::array()), 29'000'000) == 0);
  CHECK(DeliveredBy(SlowPair(json::array()), 31'000'000) == 1);
  // Sent at 0 while connected, partitioned at 10 s, still partitioned at 30 s: dropped.
  const json cut = json::array({json{{"at_s", 10}, {"partition", json::array({json::array({"a.example.com"})})}},
                                json{{"at_s", 40}, {"heal", true}}});
  CHECK(DeliveredBy(SlowPair(cut), 35'000'000) == 0);
  // Partitioned at 10 s but healed at 20 s, before it arrives: delivered.
  const json healed = json::array({json{{"at_s", 10}, {"partition", json::array({json::array({"a.example.com"})})}},
                                   json{{"at_s", 20}, {"heal", true}}});
  CHECK(DeliveredBy(SlowPair(healed), 31'000'000) == 1);
}

// Four back-ends, all voters, quorum mode; the network splits 2|2 at 0.
json FourVotersSplit() {
  json members = json::array();
  for (const char* name : {"a.example.com", "b.example.com", "c.example.com", "d.example.com"}) {
    members.push_back(json{{"name", name}, {"roles", {"frontend", "backend"}}});
  }
  return json{
      {"members", members},
      {"primary", "a.example.com"},
      {"backup_primaries", {"b.example.com", "c.example.com", "d.example.com"}},
      {"resilience", json{{"failover_enabled", true}, {"mode", "quorum"}}},
      {"events", json::array({json{{"at_s", 0},
                                   {"partition",
                                    json::array({json::array({"a.example.com", "b.example.com"}),
                                                 json::array({"c.example.com", "d.example.com"})})}}})},
      {"until_s", 3600}};
}

TEST_CASE("quorum mode with four voters: a 2|2 split leaves no writable primary") {
  absl::StatusOr<json> result = arraykit::sim::RunScenario(FourVotersSplit());
  INFO(result.status().message());
  REQUIRE(result.ok());
  for (const json& member : (*result)["members"]) {
    INFO(member.dump());
    CHECK_FALSE(member.value("writable", false));
  }
  // And with every invariant checked after every step.
  absl::StatusOr<arraykit::sim::Scenario> scenario =
      arraykit::sim::ScenarioFromJson(FourVotersSplit());
  REQUIRE(scenario.ok());
  Simulator simulator(*std::move(scenario),
                      arraykit::sim::SimOptions{.record_timeline = false, .check_invariants = true});
  CHECK(simulator.Run().ok());
}

TEST_CASE("the random generator produces even voter counts too") {
  bool two = false;
  bool four = false;
  for (std::uint64_t seed = 1; seed <= 400 && !(two && four); ++seed) {
    const json scenario = arraykit::sim::RandomScenario(seed);
    if (scenario["resilience"]["mode"] != "quorum") continue;
    int voters = 0;
    for (const json& member : scenario["members"]) {
      for (const json& role : member["roles"]) voters += role == "backend" ? 1 : 0;
    }
    two = two || voters == 2;
    four = four || voters == 4;
  }
  CHECK(two);
  CHECK(four);
}

}  // namespace
