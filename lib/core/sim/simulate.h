// The simulator's entry points for the C ABI, the Python binding and `arrayctl simulate`.
//
//   RunScenario(doc)   parse + validate a scenario (DESIGN.md §3), run it, return the result
//                      document of DESIGN.md §3. Bad input: INVALID_ARGUMENT naming the field or
//                      the event (`events[3]: ...`).
//   RenderResult(res)  the result for people: the timeline and the final formation as tables.
#ifndef ARRAYKIT_CORE_SIM_SIMULATE_H_
#define ARRAYKIT_CORE_SIM_SIMULATE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace arraykit::sim {

absl::StatusOr<nlohmann::json> RunScenario(const nlohmann::json& scenario);
// The same from UTF-8 JSON text (at most 1 MiB).
absl::StatusOr<nlohmann::json> RunScenarioText(std::string_view text);

// Plain-text rendering of a result document produced by RunScenario.
std::string RenderResult(const nlohmann::json& result);

}  // namespace arraykit::sim

#endif  // ARRAYKIT_CORE_SIM_SIMULATE_H_
