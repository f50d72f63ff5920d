// Value types of the replicated repository (DESIGN.md §7): log entries, the repository they
// build, conflict records, snapshots, the messages replicators exchange and the Ready batch that
// carries persists, messages, completions and events to the host.
//
// The repository maps (category, key) to a JSON value (kept as compact JSON text). Every write
// is an entry of one log, ordered by index; an entry's position is (epoch of its writer, index).
// Entries are chained: `chain` hashes the previous entry's chain with this entry's content, so
// two logs that agree on the chain at index i agree on every entry up to i (the replicator finds
// divergence after a split by comparing chains, not by trusting epochs, which two sides of a
// split array may reuse in array mode).
#ifndef ARRAYKIT_CORE_REPLICATION_TYPES_H_
#define ARRAYKIT_CORE_REPLICATION_TYPES_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/failover/types.h"

namespace arraykit::replication {

using failover::LogPosition;

// The seed's categories. `password_cache` is secret: its values are never logged, never in
// status, events or simulation results (only their count and digest).
inline constexpr const char* kCategories[] = {
    "local_repository",   "sessions",         "global_configuration", "server_configuration",
    "client_profiles",    "user_preferences", "password_cache",       "resource_files"};
inline constexpr const char* kSecretCategory = "password_cache";

// Limits (refused with INVALID_ARGUMENT / RESOURCE_EXHAUSTED and a reason, never truncated).
inline constexpr std::size_t kMaxKeyBytes = 1024;
inline constexpr std::size_t kMaxValueBytes = 1 << 20;

enum class EntryKind {
  kPut,       // category/key := value
  kDelete,    // category/key removed (a tombstone remembers the index)
  kConflict,  // a conflict record (DESIGN §7 rule 4); value holds the losing value
  kBarrier,   // no-op a new quorum-mode primary writes in its epoch before acknowledging
};
// "put", "delete", "conflict", "barrier"; ParseEntryKind is its inverse (exact words).
std::string_view ToString(EntryKind kind);
std::optional<EntryKind> ParseEntryKind(std::string_view word);

struct Entry {
  std::uint64_t index = 0;
  std::uint64_t epoch = 0;
  std::uint64_t chain = 0;  // hash(previous chain, content); see Chain()
  EntryKind kind = EntryKind::kPut;
  std::string writer;  // member that wrote it (for merged entries: the primary that merged it)
  std::string category;
  std::string key;
  std::string value;  // compact JSON text; empty for delete and barrier
  // Merged from a divergent side (array mode): "writer@epoch.index" of the original write.
  // For kConflict: the losing write's origin.
  std::string origin;

  LogPosition position() const { return LogPosition{epoch, index}; }
  bool operator==(const Entry&) const = default;
};

// The chain hash of `entry` following `previous_chain` (64-bit, stable across platforms and
// versions: it is persisted and compared between members).
std::uint64_t Chain(std::uint64_t previous_chain, const Entry& entry);

// One key's current state.
struct Record {
  std::string value;  // compact JSON text; empty when deleted
  bool deleted = false;
  std::uint64_t index = 0;  // index of the entry that last wrote it
  std::uint64_t epoch = 0;  // that entry's epoch (its origin is "writer@epoch.index")
  std::string writer;
  std::string origin;  // as Entry::origin
  bool operator==(const Record&) const = default;
};

// A write that lost a merge: the merged primary's value stands, this one is kept here.
struct Conflict {
  std::uint64_t index = 0;  // the kConflict entry that recorded it
  std::string category;
  std::string key;
  std::string kept_value;   // the value that stands (empty when the key stands deleted)
  std::string lost_value;   // the value that lost (empty for a lost delete)
  std::string lost_writer;
  std::string lost_origin;  // "writer@epoch.index"
  bool operator==(const Conflict&) const = default;
};

// The write an entry or record is, or was merged from: its origin, else "writer@epoch.index".
std::string OriginOf(const Entry& entry);
std::string OriginOf(const Record& record);

using Key = std::pair<std::string, std::string>;  // (category, key)

// The state machine the log builds. Applying the same entries in the same order gives the same
// repository on every member.
struct Repository {
  std::map<Key, Record> records;  // tombstones included
  std::vector<Conflict> conflicts;
  std::uint64_t applied_index = 0;
  std::uint64_t applied_chain = 0;
  std::uint64_t applied_epoch = 0;

  // Applies one entry (index must be applied_index + 1).
  void Apply(const Entry& entry);
  // Order-independent digest of records (tombstones excluded) and conflicts: equal on members
  // holding the same repository, whatever the history. Hex, 16 digits.
  std::string Digest() const;
  bool operator==(const Repository&) const = default;
};

// A full copy of the repository at `applied_index`, for a member that is new or too far behind
// (or that diverged in array mode).
struct Snapshot {
  Repository repository;
};

enum class MessageType {
  kAppend,         // primary -> member: entries after (prev_index, prev_chain); commit index
  kAppendReply,    // ok: member's log matches through match_index; else a hint (probe list)
  kSnapshot,       // primary -> member: install this repository, then the stream follows
  kSnapshotReply,  // ok: installed through match_index
  kDivergent,      // member -> primary (array mode): my entries your log does not have
  kDivergentReply, // primary -> member: merged (or refused, reason); member then resyncs
  // Quorum mode: a primary without leases (made primary by a recovery, not an election) asks
  // its members for a newer log (probes = samples of its own); a member whose log is newer
  // answers kCatchUpReply with its entries after the common prefix. The primary takes them
  // over, so the voters, who lease only to a member at least as up to date, can lease to it.
  kCatchUp,
  kCatchUpReply,
  // member -> its primary, once per (re)established contact: at start (a restart), when it
  // follows a new primary or epoch, and when its failover probe is answered again after a miss
  // (View::primary_contact). Carries where its log stands (last and applied index, probes), so
  // the primary resends what is missing at once instead of at its next retry.
  kHello,
};
std::string_view ToString(MessageType type);
// The type whose ToString is `word` (exactly), if any.
std::optional<MessageType> ParseMessageType(std::string_view word);

struct Message {
  MessageType type = MessageType::kAppend;
  std::string from;
  std::string to;
  std::uint64_t epoch = 0;  // sender's epoch (fencing, DESIGN §5.2)
  std::uint64_t id = 0;     // request id; replies echo it
  bool ok = false;
  std::string reason;
  // kAppend
  std::uint64_t prev_index = 0;
  std::uint64_t prev_chain = 0;
  std::uint64_t commit_index = 0;  // entries through this index may be applied
  std::vector<Entry> entries;      // also kDivergent: the divergent suffix
  // replies
  std::uint64_t match_index = 0;  // the member's log matches the primary's through here
  // Replies: the member's last log index (durable). kAppend: the primary's last index, so a
  // follower knows when an append reaches the primary's end (anything it holds beyond is
  // not the primary's: rolled back in quorum mode, divergent in array mode).
  std::uint64_t last_index = 0;
  std::uint64_t applied_index = 0;  // replies: the member's applied index (wait all, synced)
  std::uint64_t last_epoch = 0;     // kCatchUp: epoch of the primary's last entry
  // kAppendReply refusals: (index, chain) samples of the member's log at exponentially growing
  // distances back from its last entry, so the primary finds the common prefix in one round.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> probes;
  std::shared_ptr<const Snapshot> snapshot;  // kSnapshot (immutable, shared between copies)
  std::uint64_t voted_epoch = 0;  // the sender's View::voted_epoch
};

// What a host asked for.
enum class Wait {
  kPrimary,  // array mode default: durable on the primary (quorum mode: on a majority of voters)
  kAll,      // every contactable member applied it
};

// The outcome of a write, delete or wait-synced request, by the host's request id.
struct Completion {
  std::uint64_t request = 0;
  absl::Status status;    // OK, or the refusal with its reason (not_primary, ...)
  LogPosition position;   // the write's position (wait-synced: the position waited for)
};

// The output of the replicator, handled in this order: persist everything in one transaction
// (snapshot, truncate, append, apply, compact), then send messages, then deliver completions and
// events.
struct Ready {
  std::optional<std::shared_ptr<const Snapshot>> snapshot;  // replaces repository + log
  std::optional<std::uint64_t> truncate_after;  // log entries above this index are gone
  std::vector<Entry> append;                    // new log entries, in index order
  std::vector<Entry> apply;                     // entries applied to the repository, in order
  std::optional<std::uint64_t> compact_through; // log entries through this may be dropped
  std::vector<Message> messages;
  std::vector<Completion> completions;
  std::vector<failover::TimelineEntry> events;  // rolled_back, conflict, merged, snapshot_...
  // The entries `truncate_after` dropped that this member had applied nowhere and that the
  // primary does not have (quorum mode: never acknowledged), for status and the simulator.
  std::vector<Entry> rolled_back;

  bool empty() const {
    return !snapshot && !truncate_after && append.empty() && apply.empty() && !compact_through &&
           messages.empty() && completions.empty() && events.empty() && rolled_back.empty();
  }
};

// What the replicator needs to know of the failover machine, refreshed by the host after
// every step of the machine (View::Of in replicator.h).
struct View {
  std::string primary;
  std::uint64_t epoch = 0;
  bool writable = false;                 // this member is a writable primary
  bool quorum = false;                   // resilience mode quorum
  std::vector<std::string> members;      // formation members
  std::vector<std::string> contactable;  // primary: members it can contact (incl. itself)
  std::vector<std::string> voters;
  // The formation's monitor interval: the replicator retries unanswered messages at
  // max(min_retry, monitor_interval / 2), never later than one monitor interval.
  absl::Duration monitor_interval = absl::Seconds(1);
  // Secondary: how many times its failover probe was answered after a miss (contact with the
  // primary re-established); a change makes the replicator say kHello to its primary.
  std::uint64_t primary_contact = 0;
  // Quorum mode: the highest epoch this member voted in (HardState::voted_epoch). Its messages
  // carry it: a voter that voted for epoch E counts toward no commit of an older epoch's primary
  // (the Raft term rule), since the candidate it elected may lack what that primary sends now.
  std::uint64_t voted_epoch = 0;
  bool operator==(const View&) const = default;
};

}  // namespace arraykit::replication

#endif  // ARRAYKIT_CORE_REPLICATION_TYPES_H_
