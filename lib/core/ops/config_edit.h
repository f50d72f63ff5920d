// `config edit` with the seed's attribute names (`tarantella config edit --array-...`; DESIGN.md
// §3 arrayctl, §10): the array's resilience settings as the operator types them, validated
// strictly and turned into a failover::FormationChange for MemberMachine::ProposeChange (which
// refuses it on a secondary, kNotPrimary, and during a failover or recovery, kBusy).
//
// Attributes (docs/operations-core.md "config edit"):
//   --array-failoverenabled 1|0|true|false      Array Failover            failover_enabled
//   --array-monitortime SECONDS                 Monitor Interval          monitor_interval_s
//   --array-maxmonitors N                       Monitor Attempts          monitor_attempts
//   --array-resubmitfindprimarywait SECONDS     Find Primary Interval     find_primary_interval_s
//   --array-resubmitfindprimarymax N            Find Primary Attempts     find_primary_attempts
//   --array-primaryreturnaction accept|acceptsecondary|none   Action When Failover Ends
// and two of arraykit's own, which the seed has no name for:
//   --array-mode array|quorum                                  mode
//   --array-failbackwindow HH:MM-HH:MM|none                    failback_window (UTC)
#ifndef ARRAYKIT_CORE_OPS_CONFIG_EDIT_H_
#define ARRAYKIT_CORE_OPS_CONFIG_EDIT_H_

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/failover/types.h"
#include "core/model/array.h"
#include "nlohmann/json.hpp"

namespace arraykit::ops {

inline constexpr std::array<std::string_view, 8> kConfigAttributes = {
    "array-failoverenabled",
    "array-monitortime",
    "array-maxmonitors",
    "array-resubmitfindprimarywait",
    "array-resubmitfindprimarymax",
    "array-primaryreturnaction",
    "array-mode",
    "array-failbackwindow"};

struct ConfigEdit {
  model::Resilience resilience;      // the current settings with the edits applied
  std::vector<std::string> changed;  // the attributes given, in the order given
  // {resilience: ...} for MemberMachine::ProposeChange.
  failover::FormationChange ToChange() const;
};

// Applies (attribute, value) pairs to `current`. Attribute names are given with or without the
// leading "--". Refusals (INVALID_ARGUMENT, nothing applied): `unknown_field` (naming the
// nearest attribute), `duplicate_attribute`, `invalid_value` (not a number, an unknown action
// or mode, a malformed window) and `out_of_range` (intervals 0.001..86400 s, attempts
// 1..1000); no attributes at all is `invalid_argument`.
absl::StatusOr<ConfigEdit> ApplyConfigEdit(
    const std::vector<std::pair<std::string, std::string>>& attributes,
    const model::Resilience& current);

// The command line form: {"--array-failoverenabled", "1", "--array-monitortime=60", ...}.
// A name without a value is `missing_value`; a word that is not an attribute is `unknown_field`.
absl::StatusOr<ConfigEdit> ParseConfigEditArgs(const std::vector<std::string>& args,
                                               const model::Resilience& current);

// The document form, for the C ABI and Python: {"array-monitortime": 60,
// "array-failoverenabled": true, "array-primaryreturnaction": "accept", ...}; values are JSON
// numbers, booleans or strings as the attribute takes them (a string is read as on the command
// line).
absl::StatusOr<ConfigEdit> ConfigEditFromJson(const nlohmann::json& doc,
                                              const model::Resilience& current);

}  // namespace arraykit::ops

#endif  // ARRAYKIT_CORE_OPS_CONFIG_EDIT_H_
