// The simulator's entry points for the C ABI, the Python binding and `arrayctl simulate`.
//
//   RunScenario(doc)   parse + validate a scenario (DESIGN.md §3), run it, return the result
//                      document of DESIGN.md §3. Bad input: INVALID_ARGUMENT naming the field or
//                      the event (`events[3]: ...`).
//   RenderResult(res)  the result for people: the timeline and the final formation as tables.
//   ResultFromJsonText(text)  reads a result document back (the input of ak_simulate_render).
#ifndef ARRAYKIT_CORE_SIM_SIMULATE_H_
#define ARRAYKIT_CORE_SIM_SIMULATE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace arraykit::sim {

struct RunOptions {
  // The most steps (member ticks plus message deliveries) the run may take; 0 = the library's
  // bound (kMaxTotalSteps, 20,000,000), which is also the largest value accepted. A run that needs
  // more is refused: RESOURCE_EXHAUSTED, reason `step_limit`.
  std::uint64_t max_steps = 0;
};

absl::StatusOr<nlohmann::json> RunScenario(const nlohmann::json& scenario,
                                           const RunOptions& options = {});
// The same from UTF-8 JSON text (at most 1 MiB).
absl::StatusOr<nlohmann::json> RunScenarioText(std::string_view text,
                                               const RunOptions& options = {});

// A result document of RunScenario, read back from text (up to 64 MiB: results carry up to
// 100,000 timeline entries). INVALID_ARGUMENT when it is not JSON or not a result (reason
// `not_a_result` for a scenario passed by mistake).
absl::StatusOr<nlohmann::json> ResultFromJsonText(std::string_view text);

// Plain-text rendering of a result document produced by RunScenario.
std::string RenderResult(const nlohmann::json& result);

}  // namespace arraykit::sim

#endif  // ARRAYKIT_CORE_SIM_SIMULATE_H_
