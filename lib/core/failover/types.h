// Value types of the failover state machine (DESIGN.md §5): what a member persists, the
// messages members exchange, the timeline entries they report and the Ready batch that carries
// all three to the host.
//
// Everything here is a plain value. Time is what the host passes in: a member's monotonic clock
// (`Clock::mono`, for intervals and leases) and its wall clock (`Clock::wall`, only for the
// failback window). Nothing in lib/core/failover reads a clock itself.
#ifndef ARRAYKIT_CORE_FAILOVER_TYPES_H_
#define ARRAYKIT_CORE_FAILOVER_TYPES_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/model/array.h"

namespace arraykit::failover {

// Limits: the machine refuses to grow beyond these (they are far above any real array).
inline constexpr std::size_t kMaxFormationMembers = 32;
inline constexpr std::size_t kMaxPendingMessages = 4096;
inline constexpr std::size_t kMaxPendingEvents = 4096;

// A member's view of time at one instant.
struct Clock {
  absl::Duration mono;  // the member's monotonic clock (never goes back)
  absl::Time wall;      // the member's wall clock (for the failback window only)
};

// Position in the replicated log: (epoch of the writer, index). Ordered lexicographically;
// used in quorum mode for "a candidate at least as up to date" and acknowledged writes.
struct LogPosition {
  std::uint64_t epoch = 0;
  std::uint64_t index = 0;
  auto operator<=>(const LogPosition&) const = default;
};

// An array as one member knows it.
struct Formation {
  std::string primary;
  std::vector<std::string> members;           // includes the primary; member order kept
  std::vector<std::string> backup_primaries;  // secondaries, highest priority first
  // Quorum voters (the back-end members at configuration time). Fixed across failovers: a
  // majority is always counted over the configured voters, never over a shrunken array.
  std::vector<std::string> voters;
  model::Resilience resilience;
  std::uint64_t version = 0;  // bumped by the primary on every change of this formation

  bool Contains(std::string_view name) const;
  bool operator==(const Formation&) const = default;
};

// Builds the formation of a configured array (DESIGN §3 description).
Formation FormationFromArray(const model::Array& array);

// What a member must keep across a restart ("persist before act").
struct HardState {
  Formation formation;
  std::uint64_t epoch = 1;
  std::vector<std::string> uncontactable;  // primary only: members lost for the grace period
  std::optional<Formation> original;       // recorded at the first failover
  bool repaired = false;
  bool manual_recovery_required = false;
  bool recovery_declined = false;  // primary return action `none` already applied
  // Quorum mode (voters): one vote per epoch, and the lease promise.
  std::uint64_t voted_epoch = 0;
  std::string voted_for;
  std::string promise_to;
  absl::Duration promise_until = absl::ZeroDuration();  // on this member's monotonic clock
  LogPosition log;

  bool operator==(const HardState&) const = default;
};

// A member's first start: the primary of a one-member array of its own (that array's only
// voter when it is a back-end), formation version 1. The node and the simulator start from it.
HardState StandaloneHardState(const model::Member& member);

enum class MessageType {
  kProbe,             // secondary -> its primary, every monitor interval
  kProbeAck,          // ok = "I am primary and you are my member"; carries formation if changed
  kFindPrimary,       // member that lost its primary -> backup candidate
  kFindPrimaryReply,  // ok = accepted as a member (formation attached); else refused (reason)
  kRecoveryProbe,     // repaired primary -> original primary, every monitor interval
  kRecoveryProbeAck,  // ok = "I am a primary"; members = my contactable members
  kRecoveryJoin,      // `accept`: repaired primary brings its members to the original primary
  kRecoveryJoinAck,   // formation attached
  kAbsorb,            // `acceptsecondary`: "join my array as secondaries"
  kAbsorbAck,         // members = the members the original primary brings
  kRedirect,          // primary -> its secondaries: "follow formation.primary from now on"
  kLeaseRequest,      // quorum: primary -> voters, every monitor interval
  kLeaseReply,        // ok = lease granted
  kVoteRequest,       // quorum: candidate -> voters
  kVoteReply,         // ok = vote (and lease) granted
  kMembershipQuery,   // `clean --contactmembers`
  kMembershipReply,   // members = the membership the member reports
  kDetached,          // detach: primary -> the removed member: "become standalone"
  kPrimaryTransfer,   // make_primary: old primary -> members: formation names the new primary
};
std::string_view ToString(MessageType type);
// The type whose ToString is `word` (exactly), if any.
std::optional<MessageType> ParseMessageType(std::string_view word);

struct Message {
  MessageType type = MessageType::kProbe;
  std::string from;
  std::string to;
  std::uint64_t epoch = 0;
  std::uint64_t id = 0;  // request id; replies echo it
  bool ok = false;
  std::uint64_t version = 0;     // formation version (probe / probe ack)
  std::string original_primary;  // lineage: the original primary the sender failed over from
  std::string subject;           // find-primary: the primary the sender lost
  std::string reason;            // why a request was refused (operator readable)
  std::uint64_t voted_epoch = 0;  // vote and lease replies: the voter's latest vote's epoch
  // lease refusals by a voter following another primary: its epoch (`formation`: its array)
  std::uint64_t follows_epoch = 0;
  LogPosition log;
  std::vector<std::string> members;
  std::shared_ptr<const Formation> formation;  // immutable payload shared between copies
};

// One entry of the timeline: a state change and the reason an operator can read.
struct TimelineEntry {
  absl::Duration at;  // the member's monotonic clock (the simulator rewrites it to virtual time)
  std::string member;
  std::string event;   // stable code, e.g. "promoted", "joined", "member_uncontactable"
  std::string reason;  // operator-readable sentence
  std::uint64_t epoch = 0;
  std::string code;  // for refused operator actions: "busy", "not_primary", "invalid_argument"
};

// The output of the machine, to be handled in this order: persist, send, notify.
struct Ready {
  std::optional<HardState> persist;
  std::vector<Message> messages;
  std::vector<TimelineEntry> events;
  bool empty() const { return !persist.has_value() && messages.empty() && events.empty(); }
};

// An operator's change of the formation or resilience settings.
struct FormationChange {
  std::optional<std::vector<std::string>> backup_primaries;
  std::optional<model::Resilience> resilience;
};

}  // namespace arraykit::failover

#endif  // ARRAYKIT_CORE_FAILOVER_TYPES_H_
