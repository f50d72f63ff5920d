// Placement rules (DESIGN.md §4): rule checks over an array description, validation of a
// proposed change (validate, show, then confirm), and the role planner for an inventory.
//
// The JSON of every result (ToJson below, written in placement_json.cc) is the one document the
// C ABI, the bindings and `arrayctl --json` hand out: they call it, never rebuild it.
#ifndef ARRAYKIT_CORE_PLACEMENT_PLACEMENT_H_
#define ARRAYKIT_CORE_PLACEMENT_PLACEMENT_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/model/array.h"
#include "nlohmann/json.hpp"

namespace arraykit::placement {

enum class Severity { kError, kWarning, kInfo };
std::string_view ToString(Severity severity);

// The stable finding codes, in the order Check() reports them (DESIGN.md §4, plus
// `primary_not_member` for arrays built in code or by a change, and the `failover_time` info).
inline constexpr std::string_view kTooManyMembers = "too_many_members";
inline constexpr std::string_view kNoFrontend = "no_frontend";
inline constexpr std::string_view kBackendCount = "backend_count";
inline constexpr std::string_view kDuplicateName = "duplicate_name";
inline constexpr std::string_view kNameNotFqdn = "name_not_fqdn";
inline constexpr std::string_view kAddressNotStatic = "address_not_static";
inline constexpr std::string_view kVersionMismatch = "version_mismatch";
inline constexpr std::string_view kPrimaryNotMember = "primary_not_member";
inline constexpr std::string_view kBadBackupList = "bad_backup_list";
inline constexpr std::string_view kBackendsShareRack = "backends_share_rack";
inline constexpr std::string_view kBackendsSharePower = "backends_share_power";
inline constexpr std::string_view kNoHighAvailability = "no_high_availability";
inline constexpr std::string_view kPrimaryNotBackend = "primary_not_backend";
inline constexpr std::string_view kFailoverTime = "failover_time";

// One finding. `code` is stable (DESIGN.md §4 table); `members` names the members concerned.
struct Finding {
  std::string code;
  Severity severity = Severity::kError;
  std::string message;
  std::vector<std::string> members;
  // `failover_time` only: the worst-case failover time in seconds (JSON field "seconds").
  std::optional<double> seconds;
  bool operator==(const Finding&) const = default;
};

// Worst-case time from losing the primary to a new primary:
// grace period + max(backup list length − 1, 0) × find-new-primary timeout.
absl::Duration WorstCaseFailoverTime(const model::Array& array);

// Every rule of DESIGN.md §4, in a stable order (the table's order), plus one `info` finding
// `failover_time` carrying the worst-case failover time.
std::vector<Finding> Check(const model::Array& array);
bool HasErrors(const std::vector<Finding>& findings);
std::size_t CountSeverity(const std::vector<Finding>& findings, Severity severity);

// Whether `name` is a fully qualified DNS name (at least two labels of letters, digits and
// hyphens, 1-63 bytes each, not all-numeric at the top). On false, `why` says what is wrong.
bool IsFullyQualifiedName(std::string_view name, std::string* why = nullptr);

nlohmann::json ToJson(const Finding& finding);
nlohmann::json ToJson(const std::vector<Finding>& findings);

// What a placement check returns (ak_placement_check, `arrayctl placement check --json`).
struct CheckReport {
  std::vector<Finding> findings;  // Check()
  // WorstCaseFailoverTime() when failover is enabled; absent when it is disabled.
  std::optional<absl::Duration> worst_case_failover;
};
CheckReport MakeCheckReport(const model::Array& array);
// {"findings": [...], "errors": N, "warnings": N, "worst_case_failover_s": seconds or null}.
nlohmann::json ToJson(const CheckReport& report);

// ---- change validation ------------------------------------------------------------------
// A proposed change to an array, as the add-node flow of the seeds builds it.
struct Change {
  std::vector<model::Member> add;   // members to add (appended to backup list)
  std::vector<std::string> remove;  // members to remove
  std::vector<std::pair<std::string, model::Roles>> set_roles;  // new roles of members
  std::optional<std::string> primary;                           // a new primary
  std::optional<std::vector<std::string>> backup_primaries;     // a new backup list
  std::optional<model::Resilience> resilience;                  // new resilience settings
};

// A change document (docs/placement.md); a partial `resilience` is applied over `current`'s.
absl::StatusOr<Change> ChangeFromJson(const nlohmann::json& doc, const model::Array& current);

struct ChangeResult {
  model::Array array;             // the array as it would be after the change
  std::vector<Finding> findings;  // Check() of the resulting array
  bool disruption = false;        // the change reconfigures the cluster with a service disruption
  std::vector<std::string> disruption_reasons;  // why, for the operator
};

// Applies `change` to `current` without side effects. Errors (unknown member names, adding a
// name that exists) are INVALID_ARGUMENT / NOT_FOUND; rule violations of the result are findings.
absl::StatusOr<ChangeResult> PlanChange(const model::Array& current, const Change& change);
nlohmann::json ToJson(const ChangeResult& result);

// ---- planner ----------------------------------------------------------------------------
struct InventoryItem {
  model::Member member;          // name, rack, power, address, version (roles ignored)
  double capacity = 1.0;         // relative capacity; higher is preferred for back-ends
  std::optional<bool> frontend;  // force the front-end role on/off; absent = planner decides
  std::optional<bool> backend;   // force the back-end role on/off; absent = planner decides
};

struct Inventory {
  std::vector<InventoryItem> items;
  std::optional<int> backends;         // 1 or 3; absent = 3 when ≥ 3 members, else 1
  std::optional<std::string> primary;  // absent = the planner chooses
  model::Resilience resilience;
};

// An inventory document (docs/placement.md): shape and ranges. Constraints between fields
// (duplicate names, an unlisted `primary`, `backends` 2, forced roles) are PlanInventory's.
absl::StatusOr<Inventory> InventoryFromJson(const nlohmann::json& doc);

struct Plan {
  model::Array array;
  std::vector<Finding> findings;
  std::vector<std::string> rationale;  // one line per decision, for the operator
};

// Deterministic: back-ends on distinct racks first, then distinct power, then capacity, ties by
// name; front-ends everywhere unless told otherwise; a backup primaries order.
absl::StatusOr<Plan> PlanInventory(const Inventory& inventory);
nlohmann::json ToJson(const Plan& plan);

}  // namespace arraykit::placement

#endif  // ARRAYKIT_CORE_PLACEMENT_PLACEMENT_H_
