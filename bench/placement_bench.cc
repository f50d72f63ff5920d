// Placement costs an operator or a host pays per call: checking a 10-member array, parsing and
// checking its JSON description, and planning roles for 10 appliances.
//
//   cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release
//   cmake --build build-release --target placement_bench
//   build-release/bench/placement_bench
#include <string>

#include <benchmark/benchmark.h>

#include "absl/strings/str_cat.h"

#include "core/model/array_json.h"
#include "core/placement/placement.h"

namespace {

using nlohmann::json;

// Ten members over three racks, three back-ends, failover on: a full-size, well-placed array.
json TenMemberArray() {
  json members = json::array();
  for (int i = 0; i < 10; ++i) {
    json roles = i < 3 ? json{"frontend", "backend"} : json{"frontend"};
    members.push_back({{"name", absl::StrCat("node", i, ".example.com")},
                       {"roles", roles},
                       {"rack", absl::StrCat("r", i % 3)},
                       {"power", absl::StrCat("p", i % 3)},
                       {"address", absl::StrCat("192.0.2.", 10 + i)},
                       {"address_static", true},
                       {"version", "1.0.0"}});
  }
  return {{"members", members},
          {"primary", "node0.example.com"},
          {"resilience",
           {{"failover_enabled", true},
            {"monitor_interval_s", 0.05},
            {"monitor_attempts", 4},
            {"mode", "quorum"}}}};
}

json TenApplianceInventory() {
  json members = json::array();
  for (int i = 0; i < 10; ++i) {
    members.push_back({{"name", absl::StrCat("node", i, ".example.com")},
                       {"rack", absl::StrCat("r", i % 3)},
                       {"power", absl::StrCat("p", i % 4)},
                       {"capacity", 1 + i % 2},
                       {"version", "1.0.0"}});
  }
  return {{"members", members}};
}

void BM_Check10(benchmark::State& state) {
  absl::StatusOr<arraykit::model::Array> array = arraykit::model::ArrayFromJson(TenMemberArray());
  if (!array.ok()) {
    state.SkipWithError("the benchmark array does not parse");
    return;
  }
  for (auto _ : state) {
    std::vector<arraykit::placement::Finding> findings = arraykit::placement::Check(*array);
    benchmark::DoNotOptimize(findings);
  }
}
BENCHMARK(BM_Check10);

void BM_ParseAndCheck10(benchmark::State& state) {
  const std::string text = TenMemberArray().dump();
  for (auto _ : state) {
    absl::StatusOr<arraykit::model::Array> array = arraykit::model::ArrayFromJsonText(text);
    if (!array.ok()) {
      state.SkipWithError("the benchmark array does not parse");
      return;
    }
    std::vector<arraykit::placement::Finding> findings = arraykit::placement::Check(*array);
    benchmark::DoNotOptimize(findings);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_ParseAndCheck10);

void BM_PlanInventory10(benchmark::State& state) {
  absl::StatusOr<arraykit::placement::Inventory> inventory =
      arraykit::placement::InventoryFromJson(TenApplianceInventory());
  if (!inventory.ok()) {
    state.SkipWithError("the benchmark inventory does not parse");
    return;
  }
  for (auto _ : state) {
    absl::StatusOr<arraykit::placement::Plan> plan = arraykit::placement::PlanInventory(*inventory);
    benchmark::DoNotOptimize(plan);
  }
}
BENCHMARK(BM_PlanInventory10);

}  // namespace
