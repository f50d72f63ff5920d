// Helpers the simulator's scenario-by-hand tests share: a checked simulator for a scenario
// document, and a live member's index.
#ifndef ARRAYKIT_TESTS_UNIT_SIM_SIM_TEST_UTIL_H_
#define ARRAYKIT_TESTS_UNIT_SIM_SIM_TEST_UTIL_H_

#include <cstddef>
#include <string>

#include <catch2/catch.hpp>

#include "core/sim/scenario.h"
#include "core/sim/simulator.h"
#include "nlohmann/json.hpp"

namespace arraykit::sim::test {

// A simulator for `doc` (which must parse) that checks every invariant.
inline Simulator CheckedSimulator(const nlohmann::json& doc, bool record_timeline) {
  absl::StatusOr<Scenario> scenario = ScenarioFromJson(doc);
  INFO(scenario.status().message());
  REQUIRE(scenario.ok());
  return Simulator(*std::move(scenario),
                   SimOptions{.record_timeline = record_timeline, .check_invariants = true});
}

// The index of the member `name`, which must be up.
inline std::size_t LiveIndexOf(const Simulator& simulator, const std::string& name) {
  for (std::size_t i = 0; i < simulator.member_count(); ++i) {
    if (simulator.machine(i) != nullptr && simulator.machine(i)->self() == name) return i;
  }
  FAIL("no live member " << name);
  return 0;
}

}  // namespace arraykit::sim::test

#endif  // ARRAYKIT_TESTS_UNIT_SIM_SIM_TEST_UTIL_H_
