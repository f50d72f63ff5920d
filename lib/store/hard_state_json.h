// The failover machine's HardState as JSON text, as the store keeps it (DESIGN.md §5, §7).
//
// The codec is complete and strict: every field of HardState is written, every field is
// required when read (only `original` may be absent or null: no failover recorded yet), unknown
// fields are refused with reason `unknown_field`, and numbers must be integers in range. Reading
// what HardStateToJson wrote gives back an equal HardState. Errors are INVALID_ARGUMENT naming
// the field by its path (`hard_state.formation.members[2]: ...`).
#ifndef ARRAYKIT_STORE_HARD_STATE_JSON_H_
#define ARRAYKIT_STORE_HARD_STATE_JSON_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/failover/types.h"
#include "nlohmann/json.hpp"

namespace arraykit::store {

nlohmann::json FormationToJson(const failover::Formation& formation);
absl::StatusOr<failover::Formation> FormationFromJson(const nlohmann::json& doc,
                                                      std::string_view path);

nlohmann::json HardStateToJson(const failover::HardState& state);
absl::StatusOr<failover::HardState> HardStateFromJson(const nlohmann::json& doc,
                                                      std::string_view path = "hard_state");

// Compact JSON text, and its parser (within the core's document limits).
std::string HardStateToText(const failover::HardState& state);
absl::StatusOr<failover::HardState> HardStateFromText(std::string_view text);

}  // namespace arraykit::store

#endif  // ARRAYKIT_STORE_HARD_STATE_JSON_H_
