#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"

#include "core/model/array_json.h"
#include "core/placement/placement.h"
#include "core/status.h"
#include "placement/fixtures.h"

namespace arraykit::placement {
namespace {

using nlohmann::json;
using testing::Codes;
using testing::WithCode;

json Appliance(const std::string& name, const std::string& rack, const std::string& power,
               double capacity = 1.0) {
  return {{"name", name + ".example.com"}, {"rack", rack},           {"power", power},
          {"capacity", capacity},          {"address", "192.0.2.1"}, {"version", "1.0.0"}};
}

Plan PlanOf(const json& inventory_doc) {
  absl::StatusOr<Inventory> inventory = InventoryFromJson(inventory_doc);
  REQUIRE(inventory.ok());
  absl::StatusOr<Plan> plan = PlanInventory(*inventory);
  REQUIRE(plan.ok());
  return *std::move(plan);
}

std::string PlanError(const json& inventory_doc) {
  absl::StatusOr<Inventory> inventory = InventoryFromJson(inventory_doc);
  if (!inventory.ok()) {
    CHECK(inventory.status().code() == absl::StatusCode::kInvalidArgument);
    return std::string(inventory.status().message());
  }
  absl::StatusOr<Plan> plan = PlanInventory(*inventory);
  REQUIRE_FALSE(plan.ok());
  CHECK(plan.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(plan.status().message());
}

std::vector<std::string> Backends(const Plan& plan) {
  std::vector<std::string> names;
  for (const auto& member : plan.array.members) {
    if (member.roles.backend) names.push_back(member.name);
  }
  return names;
}

std::set<std::string> BackendDomains(const Plan& plan, std::string model::Member::*field) {
  std::set<std::string> values;
  for (const auto& member : plan.array.members) {
    if (member.roles.backend) values.insert(member.*field);
  }
  return values;
}

json ThreeRacks() {
  return {
      {"members",
       {Appliance("a1", "r1", "p1"), Appliance("a2", "r1", "p1"), Appliance("b1", "r2", "p2"),
        Appliance("b2", "r2", "p2"), Appliance("c1", "r3", "p3"), Appliance("c2", "r3", "p3")}}};
}

TEST_CASE("three racks: one back-end per rack, front-ends everywhere") {
  const Plan plan = PlanOf(ThreeRacks());
  CHECK(Backends(plan) ==
        std::vector<std::string>{"a1.example.com", "b1.example.com", "c1.example.com"});
  CHECK(BackendDomains(plan, &model::Member::rack) == std::set<std::string>{"r1", "r2", "r3"});
  CHECK(plan.array.FrontendCount() == 6);
  CHECK(plan.array.primary == "a1.example.com");
  CHECK(plan.array.backup_primaries == std::vector<std::string>{"b1.example.com", "c1.example.com",
                                                                "a2.example.com", "b2.example.com",
                                                                "c2.example.com"});
  CHECK(Codes(plan.findings) == std::vector<std::string>{"failover_time"});
  CHECK_THAT(plan.rationale[0], Catch::StartsWith("back-ends: 3"));
  CHECK_THAT(plan.rationale[1], Catch::Contains("a1.example.com") &&
                                    Catch::Contains("rack r1 (new)") &&
                                    Catch::Contains("power p1 (new)"));
}

TEST_CASE("two racks with distinct power: the third back-end goes by power") {
  const Plan plan =
      PlanOf({{"members",
               {Appliance("a", "r1", "p1"), Appliance("b", "r1", "p1"), Appliance("c", "r1", "p3"),
                Appliance("d", "r2", "p2"), Appliance("e", "r2", "p2")}}});
  CHECK(BackendDomains(plan, &model::Member::rack) == std::set<std::string>{"r1", "r2"});
  CHECK(BackendDomains(plan, &model::Member::power) == std::set<std::string>{"p1", "p2", "p3"});
  CHECK(Backends(plan) ==
        std::vector<std::string>{"a.example.com", "d.example.com", "c.example.com"});
  // Two back-ends share r1: placement warns, the plan says so.
  CHECK(WithCode(plan.findings, kBackendsShareRack).size() == 1);
  CHECK(WithCode(plan.findings, kBackendsSharePower).empty());
  CHECK_THAT(plan.rationale[3],
             Catch::Contains("rack r1 (shared)") && Catch::Contains("power p3 (new)"));
}

TEST_CASE("capacity breaks ties between equal failure domains, then the name") {
  const Plan plan = PlanOf({{"members",
                             {Appliance("a", "r1", "p1", 1), Appliance("b", "r1", "p1", 4),
                              Appliance("c", "r1", "p1", 4)}},
                            {"backends", 1}});
  CHECK(Backends(plan) == std::vector<std::string>{"b.example.com"});
  CHECK(plan.array.primary == "b.example.com");
  CHECK(plan.array.backup_primaries == std::vector<std::string>{"c.example.com", "a.example.com"});
  CHECK(plan.array.members[0].name == "b.example.com");
}

TEST_CASE("the plan does not depend on the inventory's order") {
  json doc = ThreeRacks();
  doc["members"].push_back(Appliance("d1", "r1", "p2", 3));
  doc["members"].push_back(Appliance("e1", "", "", 2));
  const std::string expected = ToJson(PlanOf(doc)).dump();
  std::mt19937 rng(20261122);
  for (int round = 0; round < 20; ++round) {
    json shuffled = doc;
    std::vector<json> members(shuffled["members"].begin(), shuffled["members"].end());
    std::shuffle(members.begin(), members.end(), rng);
    shuffled["members"] = members;
    INFO("round " << round << ": " << shuffled.dump());
    CHECK(ToJson(PlanOf(shuffled)).dump() == expected);
  }
}

TEST_CASE("two appliances: one back-end and a no_high_availability warning") {
  const Plan plan = PlanOf({{"members", {Appliance("a", "r1", "p1"), Appliance("b", "r2", "p2")}}});
  CHECK(Backends(plan).size() == 1);
  CHECK(plan.array.FrontendCount() == 2);
  const std::vector<Finding> findings = WithCode(plan.findings, kNoHighAvailability);
  REQUIRE(findings.size() == 1);
  CHECK(findings[0].severity == Severity::kWarning);
  CHECK_FALSE(HasErrors(plan.findings));
}

TEST_CASE("a single appliance is a standalone array") {
  const Plan plan = PlanOf({{"members", {Appliance("solo", "r1", "p1")}}});
  CHECK(plan.array.primary == "solo.example.com");
  CHECK(plan.array.backup_primaries.empty());
  CHECK(Backends(plan).size() == 1);
  const Plan no_backend =
      PlanOf({{"members", {{{"name", "solo.example.com"}, {"backend", false}}}}});
  CHECK(Backends(no_backend).empty());
  CHECK_FALSE(HasErrors(no_backend.findings));
}

TEST_CASE("forced roles, a given primary and resilience are honoured") {
  json doc = ThreeRacks();
  doc["members"][0]["backend"] = false;   // a1
  doc["members"][5]["backend"] = true;    // c2
  doc["members"][1]["frontend"] = false;  // a2
  doc["primary"] = "b2.example.com";
  doc["resilience"] = {{"failover_enabled", true}, {"mode", "quorum"}};
  const Plan plan = PlanOf(doc);
  // c2 forced, then the given primary b2, then the best of the rest (a2: rack r1 is new).
  CHECK(Backends(plan) ==
        std::vector<std::string>{"b2.example.com", "c2.example.com", "a2.example.com"});
  CHECK(plan.array.primary == "b2.example.com");
  CHECK(plan.array.Find("a2.example.com")->roles == model::Roles{false, true});
  CHECK(plan.array.Find("a1.example.com")->roles == model::Roles{true, false});
  CHECK(plan.array.resilience.failover_enabled);
  CHECK(plan.array.resilience.mode == model::ResilienceMode::kQuorum);
  CHECK(plan.array.backup_primaries.front() == "c2.example.com");
  CHECK_FALSE(HasErrors(plan.findings));
  bool mentions_front_end = false;
  for (const std::string& line : plan.rationale) {
    if (line.find("except a2.example.com") != std::string::npos) mentions_front_end = true;
  }
  CHECK(mentions_front_end);
}

TEST_CASE("a given primary that may not be a back-end is still the primary") {
  json doc = ThreeRacks();
  doc["members"][0]["backend"] = false;  // a1
  doc["primary"] = "a1.example.com";
  doc["resilience"] = {{"mode", "quorum"}};
  const Plan plan = PlanOf(doc);
  CHECK(plan.array.primary == "a1.example.com");
  CHECK(WithCode(plan.findings, kPrimaryNotBackend).size() == 1);
}

TEST_CASE("more than ten appliances: the plan is made and says too_many_members") {
  json members = json::array();
  for (int i = 0; i < 12; ++i) {
    members.push_back(Appliance(absl::StrCat("m", i), absl::StrCat("r", i % 4), "p"));
  }
  const Plan plan = PlanOf({{"members", members}});
  CHECK(plan.array.members.size() == 12);
  CHECK(WithCode(plan.findings, kTooManyMembers).size() == 1);
  CHECK(HasErrors(plan.findings));
  CHECK(ToJson(plan)["errors"] == 1);
}

TEST_CASE("impossible inventories are INVALID_ARGUMENT naming the field") {
  CHECK_THAT(PlanError({{"members", json::array()}}),
             Catch::StartsWith("members: must list at least one appliance"));
  CHECK_THAT(PlanError(json::array()), Catch::StartsWith("inventory: must be a JSON object"));
  CHECK_THAT(PlanError(json::object()), Catch::StartsWith("members: required field is missing"));
  CHECK_THAT(PlanError({{"members", {Appliance("a", "r1", "p1")}}, {"backends", 2}}),
             Catch::StartsWith("backends: must be 1 or 3"));
  CHECK_THAT(PlanError({{"members", {Appliance("a", "r1", "p1")}}, {"backends", 4}}),
             Catch::StartsWith("backends: must be an integer from 1 to 3, got 4"));
  CHECK_THAT(PlanError({{"members", {Appliance("a", "r1", "p1"), Appliance("b", "r1", "p1")}},
                        {"backends", 3}}),
             Catch::StartsWith("backends: 3 back-ends need at least 3 appliances"));
  json duplicate = Appliance("a", "r2", "p2");
  duplicate["name"] = "A.Example.com.";
  CHECK_THAT(PlanError({{"members", {Appliance("a", "r1", "p1"), duplicate}}}),
             Catch::StartsWith("members[1].name: \"A.Example.com.\" duplicates members[0].name"));
  CHECK_THAT(PlanError({{"members", {Appliance("a", "r1", "p1")}}, {"primary", "x.example.com"}}),
             Catch::StartsWith("primary: must name an appliance"));
  json negative = Appliance("a", "r1", "p1", -1);
  CHECK_THAT(PlanError({{"members", {negative}}}),
             Catch::StartsWith("members[0].capacity: must be a number from 0 to 1e+06, got -1"));
  json forced = ThreeRacks();
  forced["members"][0]["backend"] = "yes";
  CHECK_THAT(PlanError(forced), Catch::StartsWith("members[0].backend: must be true or false"));
  json too_many_forced = {{"members", {Appliance("a", "r1", "p1"), Appliance("b", "r2", "p2")}}};
  too_many_forced["members"][0]["backend"] = true;
  too_many_forced["members"][1]["backend"] = true;
  CHECK_THAT(PlanError(too_many_forced),
             Catch::StartsWith("members: 2 appliances have backend: true") &&
                 Catch::Contains("1 or 3 back-ends"));
  json too_few_allowed = ThreeRacks();
  for (std::size_t i = 0; i < 4; ++i) too_few_allowed["members"][i]["backend"] = false;
  CHECK_THAT(PlanError(too_few_allowed),
             Catch::StartsWith("members: 3 back-ends are needed but only 2"));
  json no_frontend = {{"members", {Appliance("a", "r1", "p1")}}};
  no_frontend["members"][0]["frontend"] = false;
  CHECK_THAT(PlanError(no_frontend),
             Catch::StartsWith("members: every appliance has frontend: false"));
  CHECK_THAT(PlanError({{"members", {Appliance("a", "r1", "p1")}},
                        {"resilience", {{"monitor_interval_s", -1}}}}),
             Catch::StartsWith("resilience.monitor_interval_s: must be a number of seconds"));
}

TEST_CASE("a typo in an inventory is refused with the nearest known name") {
  const auto unknown = [](const json& doc) {
    absl::StatusOr<Inventory> inventory = InventoryFromJson(doc);
    REQUIRE_FALSE(inventory.ok());
    CHECK(inventory.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(ReasonOf(inventory.status()) == "unknown_field");
    return std::string(inventory.status().message());
  };
  json top = ThreeRacks();
  top["backend"] = 3;
  CHECK(unknown(top) == "backend: unknown field (did you mean backends?)");
  json capacity = ThreeRacks();
  capacity["members"][2]["capacty"] = 4;
  CHECK(unknown(capacity) == "members[2].capacty: unknown field (did you mean capacity?)");
  json forced = ThreeRacks();
  forced["members"][0]["frontned"] = false;
  CHECK(unknown(forced) == "members[0].frontned: unknown field (did you mean frontend?)");
  json resilience = ThreeRacks();
  resilience["resilience"] = {{"mod", "quorum"}};
  CHECK(unknown(resilience) == "resilience.mod: unknown field (did you mean mode?)");
  // Roles are what the planner decides: a role list would be overridden, so it is refused with
  // what to write instead.
  json roles = ThreeRacks();
  roles["members"][1]["roles"] = {"backend"};
  CHECK_THAT(PlanError(roles), Catch::StartsWith("members[1].roles: roles are the planner's "
                                                 "output; force a role on or off with "
                                                 "\"frontend\": true|false"));
}

TEST_CASE("PlanInventory checks inventories built in code too") {
  CHECK_FALSE(PlanInventory(Inventory{}).ok());
  Inventory inventory;
  InventoryItem item;
  item.member.name = "a.example.com";
  item.capacity = -3;
  inventory.items = {item};
  absl::StatusOr<Plan> plan = PlanInventory(inventory);
  REQUIRE_FALSE(plan.ok());
  CHECK_THAT(std::string(plan.status().message()), Catch::StartsWith("members[0].capacity"));
  inventory.items[0].capacity = 1;
  inventory.backends = 2;
  plan = PlanInventory(inventory);
  REQUIRE_FALSE(plan.ok());
  CHECK_THAT(std::string(plan.status().message()), Catch::StartsWith("backends: must be 1 or 3"));
}

TEST_CASE("plans as JSON") {
  const json doc = ToJson(PlanOf(ThreeRacks()));
  CHECK(doc["array"]["primary"] == "a1.example.com");
  CHECK(doc["array"]["members"].size() == 6);
  CHECK(doc["findings"].back()["code"] == "failover_time");
  CHECK(doc["rationale"].is_array());
  CHECK(doc["errors"] == 0);
  CHECK(doc["warnings"] == 0);
  // The planned array is an array description: it reads back strictly as the same array.
  absl::StatusOr<model::Array> array = model::ArrayFromJsonText(doc["array"].dump());
  REQUIRE(array.ok());
  CHECK(*array == PlanOf(ThreeRacks()).array);
}

}  // namespace
}  // namespace arraykit::placement
