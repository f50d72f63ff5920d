// The replicator of one member (DESIGN.md §7 rules 1-4 and 6), pure and deterministic, driven
// like the failover machine: Tick(now) when time passes, Step(message) for every replication
// message, host requests (Write, WaitSynced), SetView after every step of the member's failover
// machine; then drain GetReady() — persist, send, complete/notify — and Advance().
//
// The host tells the failover machine the replicator's log position after each Ready
// (MemberMachine::LogChanged(last_position())), so quorum votes compare the real log.
#ifndef ARRAYKIT_CORE_REPLICATION_REPLICATOR_H_
#define ARRAYKIT_CORE_REPLICATION_REPLICATOR_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/failover/member_machine.h"
#include "core/replication/types.h"

namespace arraykit::replication {

// What a member loads from its store at start: the repository as applied, and the log entries
// after the last compaction (index order, contiguous, ending at the last durable entry).
struct Durable {
  Repository repository;
  std::uint64_t log_base_index = 0;  // entries through this index were compacted away
  std::uint64_t log_base_chain = 0;
  std::uint64_t log_base_epoch = 0;
  std::vector<Entry> log;
};

struct ReplicatorOptions {
  std::size_t max_batch_entries = 1024;  // entries per kAppend
  std::size_t max_inflight = 4;          // unanswered kAppend per member (pipelining)
  std::size_t retain_entries = 20000;    // log kept after compaction (for catch-up)
  absl::Duration min_retry = absl::Milliseconds(5);
};

View ViewOf(const failover::MemberMachine& machine);
// ViewOf into an existing View, reusing its storage (a host that refreshes the view after every
// step of the machine).
void FillView(const failover::MemberMachine& machine, View& view);
// True when ViewOf(machine) would equal `view` (compared in place, nothing copied).
bool ViewMatches(const failover::MemberMachine& machine, const View& view);

// Checks what a store loaded (it may be corrupt): INVALID_ARGUMENT, reason `corrupt_state`,
// naming the broken rule (log contiguous after its base, chains linked, repository applied
// at or beyond the base and within the log).
absl::Status ValidateDurable(const Durable& durable);

// What a store does with a Ready, in the Ready's order (snapshot, truncate, append, apply,
// compact): the reference the simulator and the tests play the store with.
void PersistReady(const Ready& ready, Durable& durable);

// Pending requests at once (writes waiting for acknowledgement, wait-synced); beyond this a
// request is refused with RESOURCE_EXHAUSTED, reason `too_many_pending`.
inline constexpr std::size_t kMaxPendingRequests = 65536;

class Replicator {
 public:
  // `durable` must satisfy ValidateDurable (AK_CHECK: a host validates what it loaded first).
  Replicator(std::string self, Durable durable, ReplicatorOptions options = {});

  void SetView(const View& view);
  void Tick(absl::Duration mono);
  void Step(const Message& message);

  // Host requests. The answer comes later as a Completion with `request` (or at once in the
  // next Ready for a refusal: not_primary naming the primary, invalid_argument, ...).
  void Write(std::uint64_t request, std::string category, std::string key, std::string value,
             Wait wait);
  void Delete(std::uint64_t request, std::string category, std::string key, Wait wait);
  void WaitSynced(std::uint64_t request);

  bool HasReady() const;
  Ready& GetReady();
  void Advance();
  absl::Duration NextWakeup() const;

  const Repository& repository() const;
  LogPosition last_position() const;  // last durable log entry
  LogPosition applied_position() const;
  // Primary: each member's matched index (itself included).
  std::vector<std::pair<std::string, std::uint64_t>> progress() const;

  // The highest index known committed (array mode: the primary's last entry).
  std::uint64_t commit_index() const { return commit_; }
  // The log entry at `index` if this member still holds it (not compacted, not truncated).
  std::optional<Entry> EntryAt(std::uint64_t index) const;
  // True when this member's log holds the entry at `position` (compacted entries count as
  // held: only applied entries are compacted).
  bool Holds(const LogPosition& position) const;

 private:
  struct Progress {  // primary: one member's replication state
    std::uint64_t next = 1;   // next index to send
    std::uint64_t match = 0;  // the member's log equals ours through here
    std::uint64_t applied = 0;
    std::size_t inflight = 0;  // unanswered kAppend
    bool known = false;        // answered in this term (else: probe where it stands)
    bool needs_snapshot = false;
    bool awaiting_merge = false;  // it reported divergence; wait for its kDivergent
    std::uint64_t sent_commit = 0;
    std::uint64_t voted_epoch = 0;  // the highest epoch it said it voted in (quorum mode)
    absl::Duration sent_at = absl::InfiniteDuration() * -1;
    absl::Duration answered_at = absl::InfiniteDuration() * -1;  // its last kAppendReply
  };
  struct Pending {
    std::uint64_t request = 0;
    LogPosition position;
    Wait wait = Wait::kPrimary;
    bool synced = false;  // WaitSynced (every contactable member applied `position`)
  };

  bool IsPrimary() const { return view_.primary == self_; }
  std::uint64_t last_index() const { return base_index_ + log_.size(); }
  std::uint64_t ChainAt(std::uint64_t index) const;  // index in [base, last]
  std::uint64_t EpochAt(std::uint64_t index) const;
  const Entry& At(std::uint64_t index) const;
  // Unanswered messages are retried after this (ComputeRetryInterval of the view, kept).
  absl::Duration RetryInterval() const { return retry_interval_; }
  absl::Duration LostAt(const Progress& p) const;
  absl::Duration ComputeRetryInterval() const;
  void Refuse(std::uint64_t request, absl::Status status);
  absl::Status CheckWrite(const std::string& category, const std::string& key) const;
  void Submit(std::uint64_t request, Entry entry, Wait wait);
  void AppendOwn(Entry entry);
  void Truncate(std::uint64_t after, const std::string& why);
  void ApplyThrough(std::uint64_t index);
  void MaybeCompact();
  void BecomeLeader();
  void StepDown(const std::string& why);
  void FailPending(const std::string& why);
  void AdvanceCommit();
  void CheckPending();
  void SendAll();
  void SendTo(const std::string& member, Progress& progress);
  void Send(Message message);
  Message NewMessage(MessageType type, const std::string& to);
  void Record(std::string_view event, std::string reason);
  bool HaveOrigin(const std::string& origin) const;
  void NoteOrigins(const Entry& entry);

  void OnAppend(const Message& m);
  void OnAppendReply(const Message& m);
  void OnSnapshot(const Message& m);
  void OnSnapshotReply(const Message& m);
  void OnDivergent(const Message& m);
  void OnDivergentReply(const Message& m);
  void OnCatchUp(const Message& m);
  void OnCatchUpReply(const Message& m);
  void OnHello(const Message& m);
  void SendHello();
  void SendCatchUp();
  bool IsStale(const Message& m);
  static bool InSnapshot(const Repository& snapshot, const Entry& e);
  bool ResolveForeignSuffix(const Message& m, std::uint64_t from);
  void ReplyToAppend(const Message& m, bool ok, std::string reason, std::uint64_t match);
  void SendDivergent();
  std::vector<std::pair<std::uint64_t, std::uint64_t>> Probes() const;

  std::string self_;
  ReplicatorOptions options_;
  View view_;
  absl::Duration retry_interval_ = ComputeRetryInterval();
  absl::Duration now_ = absl::ZeroDuration();
  Repository repo_;
  std::uint64_t base_index_ = 0;
  std::uint64_t base_chain_ = 0;
  std::uint64_t base_epoch_ = 0;
  std::deque<Entry> log_;
  std::uint64_t persisted_index_ = 0;  // last index durable as of the last Advance()
  std::uint64_t commit_ = 0;
  Ready ready_;
  std::uint64_t next_id_ = 1;
  // Primary.
  std::map<std::string, Progress> progress_;
  std::deque<Pending> pending_;
  bool leading_ = false;
  std::uint64_t leading_epoch_ = 0;
  // Follower: the highest primary last index seen per (primary, epoch) (drops reordered
  // appends), and the divergent suffix waiting for the primary's merge (array mode).
  std::string stream_from_;
  std::uint64_t stream_epoch_ = 0;
  std::uint64_t stream_last_ = 0;
  std::optional<Message> divergent_;
  absl::Duration divergent_sent_ = absl::ZeroDuration();
  bool divergent_merged_ = false;  // the primary answered: merged
  absl::Duration catch_up_sent_ = absl::InfiniteDuration() * -1;
  // Follower: say kHello to the primary at the first view after start (a restart).
  bool hello_due_ = true;
  // Array-mode merge: origins already merged (dedupe), rebuilt from the repository, the
  // conflicts and the log at start.
  std::set<std::string> origins_;
};

}  // namespace arraykit::replication

#endif  // ARRAYKIT_CORE_REPLICATION_REPLICATOR_H_
