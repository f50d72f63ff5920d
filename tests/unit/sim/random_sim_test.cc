// VOPR-style randomized simulation: thousands of seeds, every invariant checked after every step,
// the settled end state checked after the faults heal. A failure prints the seed; any seed replays
// exactly (scripts/soak 1 SEED, or sim_soak --seed SEED --print).
#include <cstdint>

#include <catch2/catch.hpp>

#include "core/sim/random_scenario.h"
#include "core/sim/simulate.h"

namespace {

// Release builds run 10,000 seeds (about 11 s); Debug and sanitizer builds, ~20x slower, 2,000.
#ifdef NDEBUG
constexpr std::uint64_t kSeeds = 10000;
#else
constexpr std::uint64_t kSeeds = 2000;
#endif

TEST_CASE("randomized simulation keeps every invariant") {
  std::uint64_t failures = 0;
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    const absl::Status status = arraykit::sim::RunRandomSeed(seed);
    if (!status.ok()) {
      ++failures;
      FAIL_CHECK(status.message());
      if (failures >= 20) break;
    }
  }
  CHECK(failures == 0);
}

TEST_CASE("a random seed replays exactly") {
  for (std::uint64_t seed : {7ULL, 1234ULL}) {
    const auto scenario = arraykit::sim::RandomScenario(seed);
    CHECK(scenario == arraykit::sim::RandomScenario(seed));
    absl::StatusOr<nlohmann::json> first = arraykit::sim::RunScenario(scenario);
    absl::StatusOr<nlohmann::json> second = arraykit::sim::RunScenario(scenario);
    REQUIRE(first.ok());
    REQUIRE(second.ok());
    CHECK(*first == *second);
    CHECK(scenario != arraykit::sim::RandomScenario(seed + 1));
  }
}

}  // namespace
