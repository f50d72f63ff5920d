// The documents in examples/inventories/ give the outcomes their README promises, so the demo
// and the docs cannot drift from the code.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/model/array_json.h"
#include "core/placement/placement.h"
#include "placement/fixtures.h"

namespace arraykit::placement {
namespace {

using nlohmann::json;
using testing::Codes;
using testing::WithCode;

std::string ReadExample(const std::string& file) {
  std::ifstream in(std::string(ARRAYKIT_EXAMPLES_DIR) + "/" + file, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

model::Array ExampleArray(const std::string& file) {
  absl::StatusOr<model::Array> array = model::ArrayFromJsonText(ReadExample(file));
  REQUIRE(array.ok());
  return *std::move(array);
}

Plan ExamplePlan(const std::string& file) {
  absl::StatusOr<json> doc = model::ParseJsonDocument(ReadExample(file), "inventory");
  REQUIRE(doc.ok());
  absl::StatusOr<Inventory> inventory = InventoryFromJson(*doc);
  REQUIRE(inventory.ok());
  absl::StatusOr<Plan> plan = PlanInventory(*inventory);
  REQUIRE(plan.ok());
  return *std::move(plan);
}

TEST_CASE("example: three-racks.json plans one back-end per rack") {
  const Plan plan = ExamplePlan("three-racks.json");
  CHECK(plan.array.primary == "boston.example.com");
  std::vector<std::string> backends;
  for (const auto& member : plan.array.members) {
    if (member.roles.backend) backends.push_back(member.name);
  }
  CHECK(backends == std::vector<std::string>{"boston.example.com", "detroit.example.com",
                                             "newyork.example.com"});
  CHECK(plan.array.FrontendCount() == 6);
  CHECK(Codes(plan.findings) == std::vector<std::string>{"failover_time"});
}

TEST_CASE("example: two-nodes.json warns no_high_availability") {
  const Plan plan = ExamplePlan("two-nodes.json");
  CHECK(Codes(plan.findings) == std::vector<std::string>{"no_high_availability", "failover_time"});
}

TEST_CASE("example: datacenter-array.json is well placed") {
  const std::vector<Finding> findings = Check(ExampleArray("datacenter-array.json"));
  CHECK(Codes(findings) == std::vector<std::string>{"failover_time"});
  REQUIRE(findings.back().seconds.has_value());
  CHECK(*findings.back().seconds == 960.0);
}

TEST_CASE("example: eleven-members.json reports too_many_members") {
  const model::Array array = ExampleArray("eleven-members.json");
  CHECK(array.members.size() == 11);
  const std::vector<Finding> findings = Check(array);
  CHECK(WithCode(findings, kTooManyMembers).size() == 1);
  CHECK(CountSeverity(findings, Severity::kError) == 1);
}

TEST_CASE("example: two-backends.json breaks backend_count and the change fixes it, disruptively") {
  const model::Array array = ExampleArray("two-backends.json");
  CHECK(Codes(Check(array)) == std::vector<std::string>{"backend_count", "failover_time"});
  absl::StatusOr<json> doc =
      model::ParseJsonDocument(ReadExample("add-backends.change.json"), "change");
  REQUIRE(doc.ok());
  absl::StatusOr<Change> change = ChangeFromJson(*doc, array);
  REQUIRE(change.ok());
  absl::StatusOr<ChangeResult> result = PlanChange(array, *change);
  REQUIRE(result.ok());
  CHECK(result->disruption);
  CHECK_THAT(result->disruption_reasons.front(), Catch::Contains("from 2 to 3"));
  CHECK(Codes(result->findings) == std::vector<std::string>{"failover_time"});
}

}  // namespace
}  // namespace arraykit::placement
