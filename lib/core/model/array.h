// The array model: members, roles, failure domains, primary, backup primaries list and the
// resilience settings, with the seed product's meanings and defaults (DESIGN.md §1, §3).
//
// These are plain value types. Parsing from and writing to the JSON documents of DESIGN.md §3
// lives in array_json.h; rule checks live in core/placement.
#ifndef ARRAYKIT_CORE_MODEL_ARRAY_H_
#define ARRAYKIT_CORE_MODEL_ARRAY_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace arraykit::model {

// Hard limits on input sizes; a document beyond them is rejected while parsing.
// Note kMaxMembers is *not* the placement limit of 10: an array of 11 parses and is reported by
// the placement finding `too_many_members`, so operators see why.
inline constexpr std::size_t kMaxDocumentBytes = 1 << 20;  // 1 MiB
inline constexpr std::size_t kMaxMembers = 100;
inline constexpr std::size_t kMaxNameLength = 253;   // longest DNS name
inline constexpr std::size_t kMaxFieldLength = 256;  // rack, power, address, version
inline constexpr std::size_t kPlacementMemberLimit = 10;
inline constexpr std::size_t kMaxNestingDepth = 64;  // JSON nesting; deeper is refused unparsed
// Resilience intervals are seconds in [kMinIntervalSeconds, kMaxIntervalSeconds], kept to whole
// microseconds; attempts are integers in [kMinAttempts, kMaxAttempts].
inline constexpr double kMinIntervalSeconds = 0.001;
inline constexpr double kMaxIntervalSeconds = 86400;
inline constexpr int kMinAttempts = 1;
inline constexpr int kMaxAttempts = 1000;

struct Roles {
  bool frontend = false;
  bool backend = false;
  bool operator==(const Roles&) const = default;
};

struct Member {
  std::string name;  // peer DNS name, as written by the operator
  Roles roles;
  std::string rack;     // failure domain; empty = unknown
  std::string power;    // power source; empty = unknown
  std::string address;  // IP address or host; empty = unknown
  bool address_static = true;
  std::string version;  // product version the member runs; empty = unknown
  bool operator==(const Member&) const = default;
};

enum class PrimaryReturnAction {
  kAccept,           // restore the original formation with the original primary (default)
  kAcceptSecondary,  // the original primary joins the repaired array as a secondary
  kNone,             // do not restore
};

enum class ResilienceMode {
  kArray,   // the seed product's behaviour (default)
  kQuorum,  // back-ends vote; a primary needs a majority lease (DESIGN.md §5.3)
};

// A daily wall-clock window in which failback (`accept`) may happen. Minutes since midnight
// UTC; end < start means the window crosses midnight.
struct FailbackWindow {
  int start_minute = 0;
  int end_minute = 0;
  bool Contains(int minute_of_day) const;
  bool operator==(const FailbackWindow&) const = default;
};

struct Resilience {
  bool failover_enabled = false;
  absl::Duration monitor_interval = absl::Seconds(60);
  int monitor_attempts = 10;
  absl::Duration find_primary_interval = absl::Seconds(60);
  int find_primary_attempts = 3;
  PrimaryReturnAction primary_return_action = PrimaryReturnAction::kAccept;
  ResilienceMode mode = ResilienceMode::kArray;
  std::optional<FailbackWindow> failback_window;  // absent = fail back immediately

  // monitor interval × monitor attempts (defaults: 600 s).
  absl::Duration GracePeriod() const;
  // find-primary interval × find-primary attempts (defaults: 180 s).
  absl::Duration FindNewPrimaryTimeout() const;
  bool operator==(const Resilience&) const = default;
};

struct Array {
  std::vector<Member> members;
  std::string primary;                        // name of the primary member
  std::vector<std::string> backup_primaries;  // highest priority first
  Resilience resilience;

  // The member whose peer DNS name matches `name` (case-insensitive, trailing dot ignored).
  const Member* Find(std::string_view name) const;
  Member* Find(std::string_view name);
  std::size_t BackendCount() const;
  std::size_t FrontendCount() const;
  bool operator==(const Array&) const = default;
};

// Peer DNS names compare case-insensitively with a trailing dot ignored.
std::string NormalizeName(std::string_view name);
bool SameName(std::string_view a, std::string_view b);

// The one peer DNS name rule, used by the model, placement (`name_not_fqdn`) and the PKI alike:
// a fully qualified host name of at most kMaxNameLength bytes (one trailing dot ignored), at least
// two labels of 1-63 letters, digits and inner hyphens, and not an IP literal (the last label is
// not all digits). Returns "" when `name` follows the rule, else why not ("it has no domain
// part"), for messages.
std::string PeerNameProblem(std::string_view name);
// NormalizeName(name) when `name` follows the peer name rule; else INVALID_ARGUMENT with reason
// `name_not_fqdn`: "<path>: "boston" is not a fully qualified peer DNS name: it has no domain
// part".
absl::StatusOr<std::string> NormalizePeerName(std::string_view name,
                                              std::string_view path = "name");

std::string_view ToString(PrimaryReturnAction action);
std::string_view ToString(ResilienceMode mode);

}  // namespace arraykit::model

#endif  // ARRAYKIT_CORE_MODEL_ARRAY_H_
