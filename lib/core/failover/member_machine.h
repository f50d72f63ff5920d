// The failover state machine of one array member (DESIGN.md §5), pure and deterministic.
//
// Driven like etcd's raft node: the host calls Tick(now) whenever time passes and Step(message)
// for every message that arrives, then drains GetReady() — persist `persist`, send `messages`,
// tell the operator `events`, in that order — and calls Advance(). NextWakeup() says when the
// machine next needs a Tick, so a host (or the simulator) need not tick at a fixed rate.
//
// The machine never reads a clock, never does I/O and has no randomness: the same inputs give
// the same outputs, which is what makes the simulator's replays exact.
#ifndef ARRAYKIT_CORE_FAILOVER_MEMBER_MACHINE_H_
#define ARRAYKIT_CORE_FAILOVER_MEMBER_MACHINE_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/failover/types.h"

namespace arraykit::failover {

// Clocks of members may drift apart by at most this much (parts per million) for the quorum
// lease arithmetic to stay safe; the simulator refuses larger drift.
inline constexpr std::int64_t kMaxClockDriftPpm = 1000;

enum class Role {
  kPrimary,    // primary of its formation (standalone when the formation has one member)
  kSecondary,  // follows formation.primary
  kSearching,  // lost its primary; walking the backup primaries list (failover stage)
};
std::string_view ToString(Role role);

// What the member is doing beyond following or leading its formation: the one explicit stage
// of the machine (docs/failover.md, "Stages"). Every change of stage goes through a Become...
// transition, which records the timeline entry with its reason.
enum class Stage {
  kSteady,        // following its primary, or leading with no failover or recovery under way
  kSearching,     // lost its primary: walking the backup primaries list (failover stage)
  kElecting,      // quorum mode, while searching: standing as candidate, asking the voters
  kCleaning,      // clean --contactmembers: collecting the members' answers
  kRecovering,    // repaired primary: asked the original primary to recreate the array
  kFailbackWait,  // repaired primary: the original primary follows it until the window opens
};
std::string_view ToString(Stage stage);

// Checks persisted state handed back by a host (it may be corrupt or from another member):
// INVALID_ARGUMENT, reason `corrupt_state`, naming the broken rule.
absl::Status ValidateHardState(std::string_view self, const HardState& state);

class MemberMachine {
 public:
  // Starts (or restarts) member `self` from `state` — the configured formation at first start,
  // the last persisted HardState after a crash. `self` must be a member of state.formation.
  // The state must satisfy ValidateHardState (checked, always on: a host hands its persisted
  // state to Create instead, which refuses a bad one with a Status).
  MemberMachine(std::string self, HardState state, const Clock& now);
  static absl::StatusOr<MemberMachine> Create(std::string self, HardState state,
                                              const Clock& now);

  MemberMachine(const MemberMachine&) = default;
  MemberMachine& operator=(const MemberMachine&) = default;
  MemberMachine(MemberMachine&&) = default;
  MemberMachine& operator=(MemberMachine&&) = default;

  // Time has passed; `now` must not go back (AK_CHECK).
  void Tick(const Clock& now);
  // A message addressed to this member arrived (at the time of the last Tick).
  void Step(const Message& message);
  // The replicator's log now ends at `position` (core/replication: a primary's own writes, a
  // secondary's replicated ones, or a lower position after a rollback). The replicator is the
  // only source of this position; the machine never adopts one from a message. In quorum mode
  // it decides whom this member votes for ("at least as up to date").
  void LogChanged(const LogPosition& position);

  // Operator actions (at the time of the last Tick). Refusals are returned and also recorded
  // in the timeline, so a simulation shows them.
  //   clean: this member becomes standalone: a one-member array, its own only voter (writable
  //   at once in quorum mode), keeping nothing of the old array's quorum (votes, promises,
  //   voters); it neither asks the old array for leases nor answers its vote requests.
  //   clean --contactmembers: it stays with the members it can contact that report the same
  //   membership (answers are collected for one find-primary interval; this member becomes the
  //   primary of those that agree).
  absl::Status Clean(bool contact_members);
  // Changes the backup primaries list and/or resilience settings. Only the primary accepts
  // changes (kNotPrimary), and none while a failover or recovery is under way (kBusy).
  absl::Status ProposeChange(const FormationChange& change);

  // Membership changes (membership.cc; docs/operations-core.md). Each is refused with its own
  // reason — and then changes nothing in HardState; the refusal is recorded in the timeline as
  // `change_refused` with the reason word as its code — and each reaches the other members by
  // the formation version, as ProposeChange's changes do. All but JoinArray run on the primary
  // only (kNotPrimary) and never while a failover or recovery is under way (kBusy).
  //   AddMember: a join was admitted. `name` goes at the end of the members and of the backup
  //   primaries list (the seed's rule), among the voters when `voter`; the epoch rises to
  //   `joiner_epoch` if that is higher, so the joiner can adopt the array's epoch. Refused:
  //   `name_taken`, `array_full` (10 members), invalid_argument (empty name).
  absl::Status AddMember(const std::string& name, bool voter, std::uint64_t joiner_epoch);
  //   AdmitPlanned: a planned member (in the formation since the array was created with it,
  //   never joined) was admitted. The formation keeps its place, list position and vote; the
  //   member counts as just heard from; the epoch rises to `joiner_epoch` if higher.
  //   Refused: `not_a_member`.
  absl::Status AdmitPlanned(const std::string& name, std::uint64_t joiner_epoch);
  // The planned members that have not joined yet (the host derives them from its replicated
  // state before each Tick): the primary does not count their silence against them, so they
  // are never marked uncontactable and their absence starts no failover stage.
  void SetPlanned(std::vector<std::string> names) { planned_ = std::move(names); }
  //   JoinArray (on the joiner, standalone): adopts the formation the primary sent at its epoch;
  //   its log position starts over (the array's repository replaces its own).
  //   Refused: `joiner_not_standalone`, kBusy, invalid_argument (a formation without this
  //   member, led by it, or at a lower epoch).
  absl::Status JoinArray(const Formation& formation, std::uint64_t epoch);
  //   RemoveMember (detach): `name` leaves the members, the backup list and the voters; it is
  //   told to become standalone with an array of its own. Refused: `not_a_member`,
  //   `detach_primary` (make another member primary first), `last_voter` (quorum mode).
  absl::Status RemoveMember(const std::string& name);
  //   MakePrimary: `name` becomes primary at epoch + 1 and this member a secondary (the new
  //   primary leaves the backup list, the old one goes at its end, as in placement's
  //   plan_change). Refused: `not_a_member`, `already_primary`,
  //   `not_contactable` (not heard from within two monitor intervals). The transfer carries
  //   this member's log position, which the new primary's log takes (as a probe
  //   acknowledgement's does: the runtime's replicator must have brought it that far), and
  //   releases the lease promises made to this member, so voters grant the new primary its
  //   leases at once (quorum mode).
  absl::Status MakePrimary(const std::string& name);
  //   The backup primaries list, positions counted from 1 (the highest priority). Absent
  //   position: the end. Refused: `not_a_member`, `is_primary`, `already_listed`, `not_listed`,
  //   `invalid_position`.
  absl::Status AddBackupPrimary(const std::string& name, std::optional<std::size_t> position);
  absl::Status EditBackupPrimary(const std::string& name, std::size_t position);
  absl::Status RemoveBackupPrimary(const std::string& name);
  const std::vector<std::string>& BackupPrimaries() const {
    return hard_.formation.backup_primaries;
  }
  // Why a change would be refused as busy now ("" when it would not).
  std::string busy_reason() const { return BusyReason(); }
  // The primary heard from `name` within two monitor intervals and has not marked it
  // uncontactable (this member itself always is).
  bool IsContactable(std::string_view name) const;

  bool HasReady() const { return persist_pending_ || !ready_.empty(); }
  // What to persist, send and report since the last Advance(). The host may move the contents
  // out (the simulator does); Advance() clears them.
  Ready& GetReady();
  void Advance();

  // The monotonic time of the next Tick this machine needs (InfiniteDuration if none).
  absl::Duration NextWakeup() const;

  // Status, for hosts and invariant checks.
  const std::string& self() const { return self_; }
  Role role() const;
  Stage stage() const { return stage_; }
  const HardState& hard_state() const { return hard_; }
  std::uint64_t epoch() const { return hard_.epoch; }
  // True for a primary that may accept writes: always in array mode; in quorum mode only while
  // it holds leases from a majority of voters.
  bool writable() const { return role() == Role::kPrimary && writable_; }
  // The formation members the primary can contact (members minus uncontactable).
  std::vector<std::string> ContactableMembers() const;
  // Quorum mode: the highest log position a majority of voters acknowledged to this primary.
  LogPosition acknowledged() const { return acknowledged_; }
  bool busy() const { return !BusyReason().empty(); }
  // Secondary: how many times a probe was answered after at least one missed probe (contact
  // with the primary re-established). Volatile; the replicator says hello on each change.
  std::uint64_t primary_contacts() const { return primary_contacts_; }
  // The original primary of a failback that waits for its window follows the repaired primary;
  // true on the repaired primary while it waits.
  bool failback_waiting() const { return stage_ == Stage::kFailbackWait; }

 private:
  struct Walk {  // failover stage: walking the backup primaries list
    std::string lost_primary;
    std::size_t index = 0;  // position in formation.backup_primaries
    std::string candidate;  // empty while this member is its own candidate
    absl::Duration step_started;
    absl::Duration next_attempt;
    std::uint64_t first_request_id = 0;  // replies to older requests are stale
    std::string last_skip;               // why the previous candidate was passed over
  };
  struct Election {  // quorum mode: this member asks voters for epoch `epoch`
    std::uint64_t epoch = 0;
    absl::Duration sent_at;
    absl::Duration deadline;
    absl::Duration next_ask;  // voters that refused (a lease still binding them) are asked again
    std::vector<std::string> granted;
    std::vector<std::pair<std::string, std::uint64_t>> waiting;  // requesters (name, id)
    std::string reason;                                          // why this member stood
  };
  struct LeaseRound {
    absl::Duration sent_at;
    LogPosition log;
    std::size_t grants = 0;
  };
  struct ContactClean {
    std::uint64_t id = 0;
    absl::Duration deadline;
    std::vector<std::string> agreeing;
    std::vector<std::string> answered;
  };

  const model::Resilience& resilience() const { return hard_.formation.resilience; }
  bool quorum() const { return resilience().mode == model::ResilienceMode::kQuorum; }
  bool IsVoter(std::string_view name) const;
  std::size_t Majority() const { return hard_.formation.voters.size() / 2 + 1; }
  // A lease lasts the grace period, so a primary steps down once it has lacked a majority for
  // the grace period (DESIGN §5.3) and a lost primary's voters are free about when its loss is
  // detected; never less than two monitor intervals, so a renewal merely in flight (one
  // monitor attempt) does not make the primary flap.
  absl::Duration LeaseDuration() const {
    return std::max(resilience().GracePeriod(), 2 * resilience().monitor_interval);
  }
  absl::Duration SafeLease() const;
  bool IsUncontactable(std::string_view name) const;
  std::string BusyReason() const;

  // Transitions (member_machine.cc). Become() is the one place the stage changes: it records
  // the timeline entry with its reason and persists. The Become... functions that change the
  // formation install it through AdoptFormation first.
  void Become(Stage stage, std::string_view event, std::string reason);
  void BecomeSearching(const std::string& reason, bool stand_now);
  void BecomePromoted(std::uint64_t epoch, const std::string& reason);
  void BecomeMemberOf(const Formation& formation, std::uint64_t epoch, std::string_view event,
                      const std::string& reason);
  void BecomeStandalone(std::string_view event, const std::string& reason);
  // clean and detach: a one-member array of its own, its own only voter, keeping nothing of
  // the old array's quorum state (DESIGN §5.3).
  void BecomeOwnArray(std::string_view event, const std::string& reason);
  // The one place that forgets the old array: recovery bookkeeping (original formation,
  // repaired, manual recovery, declined recovery) and, with `quorum_too`, the vote and the
  // lease promise given to the old array's members. With `keep_original` the original
  // formation stays (a failback still waits for it).
  void ClearArrayState(bool quorum_too, bool keep_original = false);
  // Installs `formation` at `epoch` (never lower than the current one) and resets everything
  // volatile that belonged to the old formation.
  void AdoptFormation(Formation formation, std::uint64_t epoch);
  // Brings the next monitor tick within the current monitor interval (after it shrank).
  void KeepMonitorWithinInterval();

  void MonitorTick();
  void PrimaryMonitor();
  void RecoveryMonitor();
  bool RecoveryApplies() const;
  std::string WindowText(int minute) const;
  void SendAbsorb(const std::string& to, std::string reason, bool failback_wait);
  bool AnswersVotesOf(std::string_view from) const;
  void SecondaryMonitor();
  void WalkTick();
  void NextCandidate();
  void StandAsCandidate(const std::string& reason);
  void StartElection(const std::string& reason);
  // Asks every voter that has not granted yet (itself included) for the election's epoch.
  void AskVoters();
  void EndElection(bool won);
  // Asks the voters again at an epoch above `taken` (a voter already voted in the election's).
  void RestartElection(std::uint64_t taken);
  // Quorum mode, no primary found: follows the lost primary again and searches again later.
  void RetryFailover(const std::string& reason);
  int MissesBeforeSearch() const;
  absl::Duration SilenceDeadline() const;
  bool PrimaryLost(int unanswered);
  void RedirectMembers(const std::vector<std::string>& members,
                       const std::shared_ptr<const Formation>& formation, std::string_view skip,
                       const std::string& reason);
  void UpdateWritable();
  // epoch_raised: a voter (maybe this member) voted in `voted_epoch` for another member; this
  // primary moves to the epoch after it, where that vote does not bind.
  void MovePast(std::uint64_t voted_epoch, const std::string& voter);
  void RequestLeases();
  void FinishContactClean();
  void RecordOriginal();
  void CheckRecovered();
  bool FailbackWindowOpen(int* minute) const;
  void FailBack(int minute);
  void AddMembers(const std::vector<std::string>& names);
  void ResetVolatile();
  std::uint64_t NextEpoch() const;
  void SetEpoch(std::uint64_t epoch);

  void OnProbe(const Message& m);
  void OnProbeAck(const Message& m);
  void OnFindPrimary(const Message& m);
  void OnFindPrimaryReply(const Message& m);
  void OnRecoveryProbe(const Message& m);
  void OnRecoveryProbeAck(const Message& m);
  void OnRecoveryJoin(const Message& m);
  void OnRecoveryJoinAck(const Message& m);
  void OnAbsorb(const Message& m);
  void OnAbsorbAck(const Message& m);
  void OnRedirect(const Message& m);
  void OnLeaseRequest(const Message& m);
  void HeardFromPrimary();  // a secondary's primary answered or asked: not lost (walk.cc)
  // A member whose move to a later primary was lost joins it on its lease request (quorum.cc).
  void FollowNewerPrimary(const Message& m);
  void OnLeaseReply(const Message& m);
  void OnVoteRequest(const Message& m);
  void OnVoteReply(const Message& m);
  void OnMembershipQuery(const Message& m);
  void OnMembershipReply(const Message& m);
  // Voter side of leases and votes; `from` may be this member itself.
  bool Grant(const std::string& from, std::uint64_t epoch, const LogPosition& log, bool vote);
  // Answers a lease or vote request with Grant's decision.
  void ReplyToGrantRequest(const Message& m, MessageType reply_type, bool vote);
  void RecordLease(const std::string& voter, absl::Duration sent_at);
  void LeaseGranted(const std::string& voter, std::uint64_t round);
  void AcceptJoiner(const std::string& name, std::uint64_t id);
  void RefuseJoiner(const std::string& name, std::uint64_t id, std::string reason);
  void TakeOver(const Message& request);
  // Membership changes (membership.cc).
  absl::Status RefuseChange(absl::Status status);
  absl::Status CheckCanChange(std::string_view what) const;
  void OnDetached(const Message& m);
  void OnPrimaryTransfer(const Message& m);
  // A member that missed a detach or a primary transfer learns it at its next probe.
  bool ResendMembershipChange(const Message& probe);

  Message NewMessage(MessageType type, const std::string& to);
  void Send(Message message);
  void Record(std::string_view event, std::string reason, std::string code = "");
  void Persist();
  std::shared_ptr<const Formation> SharedFormation();

  std::string self_;
  HardState hard_;
  Clock now_;
  Ready ready_;
  bool persist_pending_ = false;  // hard_ changed; copied into ready_.persist by GetReady()
  Stage stage_ = Stage::kSteady;
  Walk walk_;
  std::optional<Election> election_;
  std::optional<ContactClean> contact_clean_;
  absl::Duration next_monitor_;
  std::uint64_t next_id_ = 1;
  // Secondary: the probe of the current monitor interval.
  std::uint64_t probe_id_ = 0;
  bool probe_answered_ = true;
  absl::Duration probe_sent_at_;  // (SilenceDeadline)
  int misses_ = 0;
  std::uint64_t primary_contacts_ = 0;
  bool loss_reported_ = false;  // failover disabled: the loss was reported once
  // Quorum mode: searches in a row that found no primary. After the first the next search
  // comes after monitor_attempts unanswered probes, after the second after twice that; the
  // third ends standalone.
  int failed_searches_ = 0;
  static constexpr int kMaxFailedSearches = 2;
  absl::Duration last_ack_at_;
  // Primary: when each member was last heard.
  absl::flat_hash_map<std::string, absl::Duration> last_heard_;
  // Repaired primary, stage kRecovering: when an unanswered recovery request is given up.
  absl::Duration recovery_deadline_;
  // Quorum mode.
  bool writable_ = false;
  absl::flat_hash_map<std::string, absl::Duration> lease_until_;  // per voter, this epoch
  std::map<std::uint64_t, LeaseRound> lease_rounds_;
  absl::Duration writable_until_;  // when the majority lease runs out (quorum mode)
  LogPosition acknowledged_;
  std::shared_ptr<const Formation> shared_formation_;
  // Members this primary detached (most recent last, bounded) and, after make_primary, the
  // formation it handed over: repeated to a member that probes as if nothing had changed.
  std::vector<std::string> detached_;
  std::vector<std::string> planned_;  // SetPlanned
  std::shared_ptr<const Formation> transferred_;
};

}  // namespace arraykit::failover

#endif  // ARRAYKIT_CORE_FAILOVER_MEMBER_MACHINE_H_
