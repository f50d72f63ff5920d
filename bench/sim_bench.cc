// Simulator throughput: simulated member-seconds per wall-clock second for a 10-member array
// under random faults (goal: >= 1M), and the wall time of the whole scenario suite
// (tests/scenarios/*.json).
//
//   cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release
//   cmake --build build-release --target sim_bench
//   build-release/bench/sim_bench
//
// The scenario directory is found next to this source file; ARRAYKIT_SCENARIO_DIR overrides it.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "absl/strings/str_cat.h"
#include "core/sim/random_scenario.h"
#include "core/sim/scenario.h"
#include "core/sim/simulate.h"
#include "core/sim/simulator.h"

namespace {

using nlohmann::json;

constexpr int kMembers = 10;

// Ten members (three back-end voters), the given monitor interval, a virtual day with a fault
// every ~10 minutes on average: crashes and restarts, partitions into 2-3 groups, heals, and
// message delay with jitter. Seeded, so every run simulates the same day.
json TenMemberDay(std::uint64_t seed, double monitor_interval_s, const char* mode) {
  arraykit::sim::Rng rng(seed);
  std::vector<std::string> names;
  json members = json::array();
  for (int i = 0; i < kMembers; ++i) {
    names.push_back(absl::StrCat("node", i, ".example.com"));
    members.push_back({{"name", names.back()},
                       {"roles", i < 3 ? json{"frontend", "backend"} : json{"frontend"}}});
  }
  const double day = 86400;
  json events = json::array();
  std::vector<bool> down(kMembers, false);
  for (double at = 0; at < day;) {
    at += static_cast<double>(rng.Below(1200));
    if (at >= day) break;
    const std::size_t who = rng.Below(kMembers);
    switch (rng.Below(4)) {
      case 0:
        events.push_back({{"at_s", at}, {down[who] ? "restart" : "crash", names[who]}});
        down[who] = !down[who];
        break;
      case 1: {
        json groups = json::array({json::array(), json::array()});
        for (std::size_t i = 0; i < names.size(); ++i) {
          groups[i == 0 ? 0 : i == 1 ? 1 : rng.Below(2)].push_back(names[i]);
        }
        events.push_back({{"at_s", at}, {"partition", groups}});
        break;
      }
      case 2:
        events.push_back({{"at_s", at}, {"heal", true}});
        break;
      default:
        events.push_back({{"at_s", at},
                          {"network",
                           {{"delay_s", static_cast<double>(rng.Below(200)) / 1000},
                            {"jitter_s", static_cast<double>(rng.Below(200)) / 1000}}}});
    }
  }
  return {{"members", members},
          {"primary", names[0]},
          {"resilience",
           {{"failover_enabled", true},
            {"monitor_interval_s", monitor_interval_s},
            {"find_primary_interval_s", monitor_interval_s},
            {"mode", mode}}},
          {"seed", seed},
          {"events", events},
          {"until_s", day}};
}

// Member-seconds simulated per wall second (the "items" rate Google Benchmark reports).
void RunDay(benchmark::State& state, double monitor_interval_s, const char* mode) {
  const json doc = TenMemberDay(42, monitor_interval_s, mode);
  const absl::StatusOr<arraykit::sim::Scenario> scenario = arraykit::sim::ScenarioFromJson(doc);
  if (!scenario.ok()) {
    state.SkipWithError(std::string(scenario.status().message()).c_str());
    return;
  }
  std::uint64_t messages = 0;
  for (auto _ : state) {
    arraykit::sim::Simulator simulator(
        *scenario, arraykit::sim::SimOptions{.record_timeline = false, .check_invariants = false});
    const absl::Status status = simulator.Run();
    if (!status.ok()) {
      state.SkipWithError(std::string(status.message()).c_str());
      return;
    }
    messages += simulator.messages_delivered();
  }
  const double member_seconds = kMembers * 86400.0;
  state.counters["member_s_per_s"] = benchmark::Counter(
      member_seconds * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["messages_per_s"] =
      benchmark::Counter(static_cast<double>(messages), benchmark::Counter::kIsRate);
}

// The product defaults (probe every 60 s): a day of a 10-member array with random faults.
void BM_TenMembersDefaults(benchmark::State& state) { RunDay(state, 60, "array"); }
BENCHMARK(BM_TenMembersDefaults)->Unit(benchmark::kMillisecond);

void BM_TenMembersDefaultsQuorum(benchmark::State& state) { RunDay(state, 60, "quorum"); }
BENCHMARK(BM_TenMembersDefaultsQuorum)->Unit(benchmark::kMillisecond);

// A fast configuration (probe every second): sixty times the messages per virtual second.
void BM_TenMembersOneSecondProbes(benchmark::State& state) { RunDay(state, 1, "quorum"); }
BENCHMARK(BM_TenMembersOneSecondProbes)->Unit(benchmark::kMillisecond);

// The randomized-simulation workload (what the ctest and scripts/soak run), with every
// invariant checked after every step: seeds per second.
void BM_RandomSeedsWithInvariants(benchmark::State& state) {
  std::uint64_t seed = 1;
  for (auto _ : state) {
    const absl::Status status = arraykit::sim::RunRandomSeed(seed++);
    if (!status.ok()) {
      state.SkipWithError(std::string(status.message()).c_str());
      return;
    }
  }
  state.counters["seeds_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RandomSeedsWithInvariants)->Unit(benchmark::kMicrosecond);

std::filesystem::path ScenarioDir() {
  if (const char* dir = std::getenv("ARRAYKIT_SCENARIO_DIR"); dir != nullptr) return dir;
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "tests" / "scenarios";
}

// Wall time of running every scenario file of the suite once (timelines included).
void BM_ScenarioSuite(benchmark::State& state) {
  std::vector<json> scenarios;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(ScenarioDir(), error)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    scenarios.push_back(json::parse(text.str(), nullptr, /*allow_exceptions=*/false));
  }
  if (error || scenarios.empty()) {
    state.SkipWithError("no scenario files (set ARRAYKIT_SCENARIO_DIR)");
    return;
  }
  for (auto _ : state) {
    for (const json& scenario : scenarios) {
      absl::StatusOr<json> result = arraykit::sim::RunScenario(scenario);
      if (!result.ok()) {
        state.SkipWithError(std::string(result.status().message()).c_str());
        return;
      }
      benchmark::DoNotOptimize(result);
    }
  }
  state.counters["scenarios"] = static_cast<double>(scenarios.size());
}
BENCHMARK(BM_ScenarioSuite)->Unit(benchmark::kMillisecond);

}  // namespace
