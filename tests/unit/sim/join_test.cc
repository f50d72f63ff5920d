// The simulator's `join` event and `standalone` members (docs/failover.md, "Scenario document"):
// members that start outside the array join it one after the other, take the primary's
// repository, and count in every invariant afterwards (a joined member on the backup list takes
// over); every refusal leaves both sides as they were.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/sim/scenario.h"
#include "core/sim/simulate.h"
#include "core/sim/simulator.h"
#include "core/status.h"
#include "nlohmann/json.hpp"
#include "sim/sim_test_util.h"

namespace {

using arraykit::sim::Simulator;
using nlohmann::json;

constexpr const char* kA = "a.example.com";
constexpr const char* kB = "b.example.com";
constexpr const char* kC = "c.example.com";
constexpr const char* kD = "d.example.com";
constexpr const char* kE = "e.example.com";

json Member(const char* name, std::vector<std::string> roles, const char* rack) {
  return json{{"name", name}, {"roles", roles}, {"rack", rack}};
}

json Write(double at_s, const char* member, const char* key, int value) {
  return json{{"at_s", at_s},
              {"write", json{{"member", member},
                             {"category", "sessions"},
                             {"key", key},
                             {"value", json{{"n", value}}}}}};
}

// Array a (primary), b, c; d and e standalone. Array mode: a is the only back-end; quorum mode:
// a and b are the voters and d, a back-end, becomes the third when it joins (three racks).
json ThreePlusTwo(bool quorum, json events, double until_s) {
  json members = json::array();
  members.push_back(Member(kA, {"frontend", "backend"}, "r1"));
  members.push_back(Member(kB,
                           quorum ? std::vector<std::string>{"frontend", "backend"}
                                  : std::vector<std::string>{"frontend"},
                           "r2"));
  members.push_back(Member(kC, {"frontend"}, "r1"));
  json resilience{{"failover_enabled", true},   {"monitor_interval_s", 1},
                  {"monitor_attempts", 3},      {"find_primary_interval_s", 1},
                  {"find_primary_attempts", 2}, {"primary_return_action", "none"}};
  if (quorum) resilience["mode"] = "quorum";
  return json{
      {"members", members},
      {"primary", kA},
      {"backup_primaries", {kB, kC}},
      {"resilience", resilience},
      {"standalone",
       {Member(kD,
               quorum ? std::vector<std::string>{"backend"} : std::vector<std::string>{"frontend"},
               "r3"),
        Member(kE, {"frontend"}, "r3")}},
      {"events", std::move(events)},
      {"until_s", until_s}};
}

Simulator Checked(const json& doc) {
  return arraykit::sim::test::CheckedSimulator(doc, /*record_timeline=*/true);
}
using arraykit::sim::test::LiveIndexOf;

// The timeline entries of `event`, in order.
std::vector<json> Entries(const json& result, const std::string& event) {
  std::vector<json> out;
  for (const json& entry : result["timeline"]) {
    if (entry["event"] == event) out.push_back(entry);
  }
  return out;
}

const json& MemberResult(const json& result, const std::string& name) {
  for (const json& member : result["members"]) {
    if (member["name"] == name) return member;
  }
  FAIL("no member " << name << " in the result");
  return result;
}

// Joins d then e, writes before, between and after, moves d to the head of the backup list,
// crashes a; d takes over and every live member ends on d's repository.
void RunJoinsThenFailover(bool quorum) {
  json events = json::array({
      Write(2, kA, "before", 1),
      Write(3, kD, "standalone_only", 7),  // d's own repository, dropped at the join
      json{{"at_s", 5}, {"join", kD}},
      Write(8, kA, "between", 2),
      json{{"at_s", 10}, {"join", kE}, {"on", kA}},
      Write(14, kA, "after", 3),
      json{{"at_s", 20}, {"change", json{{"member", kA}, {"backup_primaries", {kD, kE, kB, kC}}}}},
      json{{"at_s", 30}, {"crash", kA}},
      Write(60, kD, "failed_over", 4),
  });
  Simulator simulator = Checked(ThreePlusTwo(quorum, events, 90));
  // Before the joins d is a standalone primary in an array of its own.
  REQUIRE(simulator.RunUntil(4'000'000).ok());
  const std::size_t a = LiveIndexOf(simulator, kA);
  const std::size_t d = LiveIndexOf(simulator, kD);
  const std::size_t e = LiveIndexOf(simulator, kE);
  CHECK(simulator.machine(d)->hard_state().formation.members == std::vector<std::string>{kD});
  CHECK(simulator.machine(d)->hard_state().formation.voters ==
        (quorum ? std::vector<std::string>{kD} : std::vector<std::string>{}));
  CHECK(simulator.machine(d)->writable());
  CHECK(simulator.lineage(d) != simulator.lineage(a));
  CHECK(simulator.lineage(e) != simulator.lineage(d));

  REQUIRE(simulator.RunUntil(12'000'000).ok());
  const auto& formation = simulator.machine(a)->hard_state().formation;
  CHECK(formation.members == std::vector<std::string>{kA, kB, kC, kD, kE});
  CHECK(formation.backup_primaries == std::vector<std::string>{kB, kC, kD, kE});
  CHECK(formation.voters ==
        (quorum ? std::vector<std::string>{kA, kB, kD} : std::vector<std::string>{kA}));
  CHECK(simulator.machine(d)->hard_state().formation.primary == kA);
  CHECK(simulator.machine(e)->hard_state().formation.primary == kA);
  CHECK(simulator.lineage(d) == simulator.lineage(a));
  CHECK(simulator.lineage(e) == simulator.lineage(a));

  const absl::Status status = simulator.Run();
  INFO(status.message());
  REQUIRE(status.ok());
  CHECK(simulator.CheckSettled(false).ok());
  const absl::Status replicated = simulator.CheckReplicated(false);
  INFO(replicated.message());
  CHECK(replicated.ok());

  const json result = simulator.Result();
  INFO(arraykit::sim::RenderResult(result));
  // d took over and leads b, c and e.
  REQUIRE(result["arrays"].size() == 1);
  CHECK(result["arrays"][0]["primary"] == kD);
  CHECK(result["arrays"][0]["members"] == json({kB, kC, kD, kE}));
  CHECK(result["arrays"][0]["writable"] == true);
  // Every write but the one d made alone, and the one after the failover, is on every member.
  const std::string digest = MemberResult(result, kD)["digest"].get<std::string>();
  for (const char* name : {kB, kC, kE}) {
    CHECK(MemberResult(result, name)["digest"] == digest);
    CHECK(MemberResult(result, name)["applied"] == MemberResult(result, kD)["applied"]);
  }
  const auto* repository = &simulator.replicator(LiveIndexOf(simulator, kE))->repository();
  for (const char* key : {"before", "between", "after", "failed_over"}) {
    auto it = repository->records.find(arraykit::replication::Key{"sessions", key});
    CHECK((it != repository->records.end() && !it->second.deleted));
  }
  CHECK(repository->records.find(arraykit::replication::Key{"sessions", "standalone_only"}) ==
        repository->records.end());
  for (const json& w : result["writes"]) {
    INFO(w.dump());
    CHECK(w["outcome"] == "acknowledged");
  }
  // The node's event words: join_completed on the primary, joined_array on each joiner.
  const std::vector<json> completed = Entries(result, "join_completed");
  REQUIRE(completed.size() == 2);
  CHECK(completed[0]["member"] == kA);
  CHECK(completed[0]["at_s"] == 5);
  CHECK(completed[1]["at_s"] == 10);
  const std::vector<json> joined = Entries(result, "joined_array");
  REQUIRE(joined.size() == 2);
  CHECK(joined[0]["member"] == kD);
  CHECK(joined[1]["member"] == kE);
  CHECK(Entries(result, "join_refused").empty());
  const std::vector<json> promoted = Entries(result, "promoted");
  REQUIRE_FALSE(promoted.empty());
  CHECK(promoted.back()["member"] == kD);
}

TEST_CASE("standalone members join one after the other, replicate and take over (array mode)") {
  RunJoinsThenFailover(false);
}

TEST_CASE("a joined back-end becomes a voter and takes over in quorum mode") {
  RunJoinsThenFailover(true);
}

struct Sides {
  arraykit::failover::Formation primary;
  std::uint64_t primary_epoch = 0;
  arraykit::failover::Formation joiner;
  std::uint64_t joiner_epoch = 0;
  std::string joiner_digest;
  bool operator==(const Sides&) const = default;
};

Sides SidesOf(const Simulator& simulator, const char* primary, const char* joiner) {
  const auto* p = simulator.machine(LiveIndexOf(simulator, primary));
  Sides sides{p->hard_state().formation, p->epoch(), {}, 0, ""};
  for (std::size_t i = 0; i < simulator.member_count(); ++i) {
    if (simulator.machine(i) == nullptr || simulator.machine(i)->self() != joiner) continue;
    sides.joiner = simulator.machine(i)->hard_state().formation;
    sides.joiner_epoch = simulator.machine(i)->epoch();
    sides.joiner_digest = simulator.replicator(i)->repository().Digest();
  }
  return sides;
}

// Runs `events` (the join under test at 20 s, on `on`) and checks the join was refused with
// `code`, recorded on `on`, with neither `on` nor the joiner changed.
void CheckRefused(json doc, const char* on, const char* joiner, const std::string& code) {
  INFO("join of " << joiner << " on " << on << ", expecting " << code);
  Simulator simulator = Checked(doc);
  REQUIRE(simulator.RunUntil(19'999'999).ok());
  const Sides before = SidesOf(simulator, on, joiner);
  REQUIRE(simulator.RunUntil(20'000'000).ok());
  CHECK(SidesOf(simulator, on, joiner) == before);
  const json result = simulator.Result();
  INFO(arraykit::sim::RenderResult(result));
  const std::vector<json> refused = Entries(result, "join_refused");
  REQUIRE_FALSE(refused.empty());
  CHECK(refused.back()["member"] == on);
  CHECK(refused.back()["code"] == code);
  CHECK(refused.back()["at_s"] == 20);
  for (const char* event : {"join_completed", "joined_array", "member_added"}) {
    for (const json& entry : Entries(result, event)) CHECK(entry["at_s"] != 20);
  }
  const absl::Status status = simulator.Run();
  INFO(status.message());
  CHECK(status.ok());
}

json WithEvents(json events) { return ThreePlusTwo(false, std::move(events), 40); }

TEST_CASE("a refused join changes neither the primary nor the joiner") {
  SECTION("on a secondary") {
    CheckRefused(WithEvents(json::array(
                     {Write(1, kD, "mine", 1), json{{"at_s", 20}, {"join", kD}, {"on", kB}}})),
                 kB, kD, "not_primary");
  }
  SECTION("a member already in the array") {
    CheckRefused(WithEvents(json::array({json{{"at_s", 20}, {"join", kC}}})), kA, kC, "name_taken");
  }
  SECTION("a placement violation: a second back-end") {
    json doc = WithEvents(json::array({Write(1, kD, "mine", 1), json{{"at_s", 20}, {"join", kD}}}));
    doc["standalone"][0]["roles"] = {"frontend", "backend"};
    CheckRefused(doc, kA, kD, "placement_errors");
  }
  SECTION("a joiner that is down") {
    Simulator simulator = Checked(WithEvents(
        json::array({json{{"at_s", 10}, {"crash", kD}}, json{{"at_s", 20}, {"join", kD}}})));
    REQUIRE(simulator.RunUntil(19'999'999).ok());
    const auto before = simulator.machine(LiveIndexOf(simulator, kA))->hard_state();
    REQUIRE(simulator.RunUntil(20'000'000).ok());
    CHECK(simulator.machine(LiveIndexOf(simulator, kA))->hard_state().formation == before.formation);
    const json result = simulator.Result();
    const std::vector<json> refused = Entries(result, "join_refused");
    REQUIRE(refused.size() == 1);
    CHECK(refused[0]["code"] == "not_contactable");
    CHECK(refused[0]["reason"].get<std::string>().find("it is down") != std::string::npos);
  }
  SECTION("a joiner partitioned from the primary") {
    CheckRefused(
        WithEvents(json::array(
            {Write(1, kD, "mine", 1),
             json{{"at_s", 10}, {"partition", json::array({json::array({kA, kB, kC, kE})})}},
             json{{"at_s", 20}, {"join", kD}}})),
        kA, kD, "not_contactable");
  }
  SECTION("a joiner already in another array") {
    // e joins d's one-member array first (d, a back-end, is a primary too), then a tries to
    // take it.
    json doc = WithEvents(json::array(
        {json{{"at_s", 10}, {"join", kE}, {"on", kD}}, json{{"at_s", 20}, {"join", kE}}}));
    doc["standalone"][0]["roles"] = {"frontend", "backend"};
    CheckRefused(doc, kA, kE, "joiner_not_standalone");
  }
  SECTION("clocks more than a minute apart") {
    json doc = WithEvents(json::array({json{{"at_s", 20}, {"join", kD}}}));
    doc["clocks"] = {{kD, {{"offset_s", 90}}}};
    CheckRefused(doc, kA, kD, "clock_skew");
  }
  SECTION("on a quorum primary that holds no majority of leases yet") {
    // Events come first in an instant: at t = 0 no voter has granted a lease yet, so a leads
    // its array but may not write (it may a moment later, when b's grant arrives).
    json doc = ThreePlusTwo(true, json::array({json{{"at_s", 0}, {"join", kD}}}), 40);
    Simulator simulator = Checked(doc);
    REQUIRE(simulator.RunUntil(0).ok());
    const json result = simulator.Result();
    const std::vector<json> refused = Entries(result, "join_refused");
    REQUIRE(refused.size() == 1);
    CHECK(refused[0]["code"] == "not_primary");
    CHECK(refused[0]["reason"].get<std::string>().find("not writable") != std::string::npos);
    CHECK(simulator.machine(LiveIndexOf(simulator, kA))->hard_state().formation.members.size() == 3);
    CHECK(simulator.machine(LiveIndexOf(simulator, kD))->hard_state().formation.members ==
          std::vector<std::string>{kD});
    CHECK(simulator.Run().ok());
  }
  SECTION("on a primary that is down") {
    Simulator simulator = Checked(WithEvents(
        json::array({json{{"at_s", 10}, {"crash", kA}}, json{{"at_s", 11}, {"join", kD}}})));
    REQUIRE(simulator.Run().ok());
    const std::vector<json> refused = Entries(simulator.Result(), "join_refused");
    REQUIRE(refused.size() == 1);
    CHECK(refused[0]["code"] == "down");
    CHECK(simulator.machine(LiveIndexOf(simulator, kD))->hard_state().formation.members ==
          std::vector<std::string>{kD});
  }
}

// A member detached from the array is standalone again and can join back; it enters the
// array's lineage again (it left it for one of its own at the detach).
TEST_CASE("a detached member joins back") {
  Simulator simulator =
      Checked(ThreePlusTwo(false,
                           json::array({json{{"at_s", 5}, {"detach", kC}},
                                        json{{"at_s", 10}, {"join", kC}}, Write(15, kA, "k", 1)}),
                           30));
  REQUIRE(simulator.RunUntil(9'000'000).ok());
  const std::size_t a = LiveIndexOf(simulator, kA);
  const std::size_t c = LiveIndexOf(simulator, kC);
  CHECK(simulator.lineage(c) != simulator.lineage(a));
  const absl::Status status = simulator.Run();
  INFO(status.message());
  REQUIRE(status.ok());
  CHECK(simulator.lineage(c) == simulator.lineage(a));
  CHECK(simulator.machine(a)->hard_state().formation.members ==
        std::vector<std::string>{kA, kB, kC});
  CHECK(simulator.CheckReplicated(false).ok());
  CHECK(simulator.replicator(c)->repository().Digest() ==
        simulator.replicator(a)->repository().Digest());
}

TEST_CASE("standalone members and join events are read strictly") {
  using Catch::Matchers::Contains;
  auto error = [](const json& doc) {
    absl::StatusOr<arraykit::sim::Scenario> scenario = arraykit::sim::ScenarioFromJson(doc);
    REQUIRE_FALSE(scenario.ok());
    CHECK(scenario.status().code() == absl::StatusCode::kInvalidArgument);
    return std::string(scenario.status().message());
  };
  json doc = WithEvents(json::array());
  doc["standalone"][1]["colour"] = "red";
  CHECK_THAT(error(doc), Contains("standalone[1].colour: unknown field"));
  doc = WithEvents(json::array());
  doc["standalone"][1]["name"] = "B.Example.com.";
  CHECK_THAT(error(doc), Contains("standalone[1].name") && Contains("a member of the array"));
  doc = WithEvents(json::array());
  doc["standalone"][1]["name"] = kD;
  CHECK_THAT(error(doc), Contains("standalone[1].name") && Contains("earlier standalone"));
  doc = WithEvents(json::array());
  doc["standalone"] = json::object();
  CHECK_THAT(error(doc), Contains("standalone: must be an array"));
  doc = WithEvents(json::array());
  for (int i = 0; i < 30; ++i) {
    doc["standalone"].push_back(json{{"name", "s" + std::to_string(i) + ".example.com"}});
  }
  CHECK_THAT(error(doc), Contains("at most 32 members"));
  doc = WithEvents(json::array({json{{"at_s", 1}, {"join", "nobody.example.com"}}}));
  CHECK_THAT(error(doc), Contains("events[0]") && Contains("unknown member"));
  doc = WithEvents(json::array({json{{"at_s", 1}, {"join", kD}, {"on", "nobody.example.com"}}}));
  CHECK_THAT(error(doc), Contains("events[0]") && Contains("on names unknown member"));

  // Defaults and names: the join runs on the configured primary unless `on` says otherwise;
  // standalone members may be named by every event and by clocks.
  doc = WithEvents(
      json::array({json{{"at_s", 1}, {"join", "D.example.com."}},
                   json{{"at_s", 2}, {"join", kE}, {"on", kD}}, json{{"at_s", 3}, {"crash", kE}}}));
  doc["clocks"] = {{kE, {{"offset_s", 3}}}};
  absl::StatusOr<arraykit::sim::Scenario> scenario = arraykit::sim::ScenarioFromJson(doc);
  INFO(scenario.status().message());
  REQUIRE(scenario.ok());
  REQUIRE(scenario->standalone.size() == 2);
  CHECK(scenario->events[0].kind == arraykit::sim::EventKind::kJoin);
  CHECK(scenario->events[0].member == kA);
  CHECK(scenario->events[0].target == kD);
  CHECK(scenario->events[1].member == kD);
  CHECK(scenario->clocks.contains(kE));
  CHECK(arraykit::sim::ToString(arraykit::sim::EventKind::kJoin) == "join");
}

}  // namespace
