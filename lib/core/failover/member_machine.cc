// The member machine's core: construction, the stage and its transitions, time, dispatch and
// output. The protocol handlers live by concern in walk.cc (monitoring and the backup-list
// walk), recovery.cc, quorum.cc and operator_actions.cc.
#include "core/failover/member_machine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/check.h"
#include "core/failover/machine_util.h"
#include "core/model/json_reader.h"
#include "core/status.h"

namespace arraykit::failover {

using internal::Erase;
using internal::Has;

bool Formation::Contains(std::string_view name) const { return Has(members, name); }

Formation FormationFromArray(const model::Array& array) {
  Formation formation;
  formation.primary = array.primary;
  for (const model::Member& member : array.members) {
    formation.members.push_back(member.name);
    if (member.roles.backend) formation.voters.push_back(member.name);
  }
  formation.backup_primaries = array.backup_primaries;
  formation.resilience = array.resilience;
  formation.version = 1;
  return formation;
}

HardState StandaloneHardState(const model::Member& member) {
  HardState state;
  state.formation.primary = member.name;
  state.formation.members = {member.name};
  if (member.roles.backend) state.formation.voters = {member.name};
  state.formation.version = 1;
  return state;
}

std::string_view ToString(Role role) {
  switch (role) {
    case Role::kPrimary:
      return "primary";
    case Role::kSecondary:
      return "secondary";
    case Role::kSearching:
      return "searching";
  }
  return "unknown";
}

std::string_view ToString(Stage stage) {
  switch (stage) {
    case Stage::kSteady:
      return "steady";
    case Stage::kSearching:
      return "searching";
    case Stage::kElecting:
      return "electing";
    case Stage::kCleaning:
      return "cleaning";
    case Stage::kRecovering:
      return "recovering";
    case Stage::kFailbackWait:
      return "failback_wait";
  }
  return "unknown";
}

std::string_view ToString(MessageType type) {
  switch (type) {
    case MessageType::kProbe:
      return "probe";
    case MessageType::kProbeAck:
      return "probe_ack";
    case MessageType::kFindPrimary:
      return "find_primary";
    case MessageType::kFindPrimaryReply:
      return "find_primary_reply";
    case MessageType::kRecoveryProbe:
      return "recovery_probe";
    case MessageType::kRecoveryProbeAck:
      return "recovery_probe_ack";
    case MessageType::kRecoveryJoin:
      return "recovery_join";
    case MessageType::kRecoveryJoinAck:
      return "recovery_join_ack";
    case MessageType::kAbsorb:
      return "absorb";
    case MessageType::kAbsorbAck:
      return "absorb_ack";
    case MessageType::kRedirect:
      return "redirect";
    case MessageType::kLeaseRequest:
      return "lease_request";
    case MessageType::kLeaseReply:
      return "lease_reply";
    case MessageType::kVoteRequest:
      return "vote_request";
    case MessageType::kVoteReply:
      return "vote_reply";
    case MessageType::kMembershipQuery:
      return "membership_query";
    case MessageType::kMembershipReply:
      return "membership_reply";
    case MessageType::kDetached:
      return "detached";
    case MessageType::kPrimaryTransfer:
      return "primary_transfer";
  }
  return "unknown";
}

std::optional<MessageType> ParseMessageType(std::string_view word) {
  for (int i = 0; i <= static_cast<int>(MessageType::kPrimaryTransfer); ++i) {
    const auto type = static_cast<MessageType>(i);
    if (ToString(type) == word) return type;
  }
  return std::nullopt;
}

namespace {

absl::Status Corrupt(const std::string& self, std::string message) {
  return MakeError(absl::StatusCode::kInvalidArgument, "corrupt_state",
                   absl::StrCat("persisted state of ", self, ": ", message));
}

absl::Status ValidateFormation(const std::string& self, const Formation& f,
                               const std::string& what) {
  if (f.members.empty() || f.members.size() > kMaxFormationMembers) {
    return Corrupt(self, absl::StrCat(what, ".members must hold 1 to ", kMaxFormationMembers,
                                      " members, got ", f.members.size()));
  }
  for (std::size_t i = 0; i < f.members.size(); ++i) {
    if (f.members[i].empty()) return Corrupt(self, absl::StrCat(what, ".members[", i, "] is empty"));
    if (std::find(f.members.begin(), f.members.begin() + static_cast<std::ptrdiff_t>(i),
                  f.members[i]) != f.members.begin() + static_cast<std::ptrdiff_t>(i)) {
      return Corrupt(self, absl::StrCat(what, ".members lists ", f.members[i], " twice"));
    }
  }
  if (!f.Contains(f.primary)) {
    return Corrupt(self, absl::StrCat(what, ".primary ", f.primary, " is not one of its members"));
  }
  for (const std::string& name : f.backup_primaries) {
    if (name.empty() || name == f.primary) {
      return Corrupt(self, absl::StrCat(what, ".backup_primaries lists ",
                                        name.empty() ? "an empty name" : "the primary"));
    }
  }
  if (f.voters.size() > kMaxFormationMembers) {
    return Corrupt(self, absl::StrCat(what, ".voters holds more than ", kMaxFormationMembers));
  }
  if (f.resilience.mode == model::ResilienceMode::kQuorum && f.voters.empty()) {
    return Corrupt(self, absl::StrCat(what, ": quorum mode without voters"));
  }
  if (f.resilience.monitor_interval <= absl::ZeroDuration() ||
      f.resilience.find_primary_interval <= absl::ZeroDuration() ||
      f.resilience.monitor_attempts < 1 || f.resilience.find_primary_attempts < 1) {
    return Corrupt(self, absl::StrCat(what, ".resilience has a non-positive interval or count"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateHardState(std::string_view self_name, const HardState& state) {
  const std::string self(self_name);
  if (absl::Status s = ValidateFormation(self, state.formation, "formation"); !s.ok()) return s;
  if (!state.formation.Contains(self)) {
    return Corrupt(self, absl::StrCat(self, " is not a member of its own formation (",
                                      internal::Names(state.formation.members), ")"));
  }
  if (state.epoch == 0) return Corrupt(self, "epoch is 0 (epochs start at 1)");
  if (state.original.has_value()) {
    if (absl::Status s = ValidateFormation(self, *state.original, "original"); !s.ok()) return s;
  }
  for (const std::string& name : state.uncontactable) {
    if (!state.formation.Contains(name) || name == self) {
      return Corrupt(self, absl::StrCat("uncontactable lists ", name,
                                        ", which is not another member of the formation"));
    }
  }
  if (state.uncontactable.size() > kMaxFormationMembers) {
    return Corrupt(self, "uncontactable holds more members than a formation can");
  }
  if (state.voted_epoch != 0 && state.voted_for.empty() && !state.promise_to.empty()) {
    return Corrupt(self, "a lease promise without the vote it came with");
  }
  return absl::OkStatus();
}

absl::StatusOr<MemberMachine> MemberMachine::Create(std::string self, HardState state,
                                                    const Clock& now) {
  if (absl::Status status = ValidateHardState(self, state); !status.ok()) return status;
  return MemberMachine(std::move(self), std::move(state), now);
}

MemberMachine::MemberMachine(std::string self, HardState state, const Clock& now)
    : self_(std::move(self)),
      hard_(std::move(state)),
      now_(now),
      next_monitor_(now.mono),
      last_ack_at_(now.mono),
      recovery_deadline_(now.mono),
      writable_until_(now.mono) {
  const absl::Status valid = ValidateHardState(self_, hard_);
  AK_CHECK(valid.ok(), valid.message());
  // A deadline on the monotonic clock of an earlier boot means nothing now: a voter that made a
  // promise keeps it for a full lease from its restart.
  if (!hard_.promise_to.empty()) hard_.promise_until = now.mono + LeaseDuration();
  for (const std::string& member : hard_.formation.members) last_heard_[member] = now.mono;
  UpdateWritable();
}

Role MemberMachine::role() const {
  if (hard_.formation.primary == self_) return Role::kPrimary;
  return stage_ == Stage::kSearching || stage_ == Stage::kElecting ? Role::kSearching
                                                                   : Role::kSecondary;
}

bool MemberMachine::IsVoter(std::string_view name) const {
  return Has(hard_.formation.voters, name);
}

bool MemberMachine::IsUncontactable(std::string_view name) const {
  return Has(hard_.uncontactable, name);
}

// The primary stops writing before any voter's promise can run out: a lease is counted from when
// the request was sent (before the voter granted it), shortened by twice the drift bound and by a
// margin of 1 % of the lease.
absl::Duration MemberMachine::SafeLease() const {
  const absl::Duration lease = LeaseDuration();
  return lease - lease * (2.0 * static_cast<double>(kMaxClockDriftPpm) / 1e6) - lease / 100;
}

std::vector<std::string> MemberMachine::ContactableMembers() const {
  std::vector<std::string> out;
  for (const std::string& member : hard_.formation.members) {
    if (!IsUncontactable(member)) out.push_back(member);
  }
  return out;
}

std::uint64_t MemberMachine::NextEpoch() const {
  return std::max(hard_.epoch, hard_.voted_epoch) + 1;
}

void MemberMachine::SetEpoch(std::uint64_t epoch) {
  AK_CHECK(epoch >= hard_.epoch, self_, ": epoch would go back from ", hard_.epoch, " to ", epoch);
  if (epoch == hard_.epoch) return;
  hard_.epoch = epoch;
  // Leases belong to an epoch: a primary at a new epoch writes again only once a majority of
  // voters has granted it a lease for that epoch.
  lease_until_.clear();
  lease_rounds_.clear();
  if (quorum() && writable()) {
    writable_ = false;
    Record("stepped_down",
           absl::StrCat(self_, " paused writes (writable: false): epoch changed to ", epoch,
                        "; writes resume with leases from a majority of voters for it"));
  }
}

void MemberMachine::LogChanged(const LogPosition& position) {
  if (position == hard_.log) return;
  hard_.log = position;
  Persist();
}

// ---- output ---------------------------------------------------------------------------------

Message MemberMachine::NewMessage(MessageType type, const std::string& to) {
  Message m;
  m.type = type;
  m.from = self_;
  m.to = to;
  m.epoch = hard_.epoch;
  if (hard_.original.has_value()) m.original_primary = hard_.original->primary;
  return m;
}

void MemberMachine::Send(Message message) {
  // The host drains Ready after every input, so this bound is never reached by a working host.
  if (ready_.messages.size() >= kMaxPendingMessages) return;
  ready_.messages.push_back(std::move(message));
}

void MemberMachine::Record(std::string_view event, std::string reason, std::string code) {
  if (ready_.events.size() >= kMaxPendingEvents) return;
  ready_.events.push_back(TimelineEntry{now_.mono, self_, std::string(event), std::move(reason),
                                        hard_.epoch, std::move(code)});
}

// Several changes in one step are persisted once: the copy is taken when the host asks.
void MemberMachine::Persist() { persist_pending_ = true; }

Ready& MemberMachine::GetReady() {
  if (persist_pending_) {
    ready_.persist = hard_;
    persist_pending_ = false;
  }
  return ready_;
}

void MemberMachine::Advance() {
  AK_CHECK(!persist_pending_, self_, ": Advance() without GetReady() would lose a persist");
  ready_.persist.reset();
  ready_.messages.clear();
  ready_.events.clear();
}

std::shared_ptr<const Formation> MemberMachine::SharedFormation() {
  if (shared_formation_ == nullptr || *shared_formation_ != hard_.formation) {
    shared_formation_ = std::make_shared<const Formation>(hard_.formation);
  }
  return shared_formation_;
}

absl::Duration MemberMachine::NextWakeup() const {
  absl::Duration next = next_monitor_;
  switch (stage_) {
    case Stage::kSearching:
      if (!walk_.candidate.empty()) {
        next = std::min({next, walk_.next_attempt,
                         walk_.step_started + resilience().FindNewPrimaryTimeout()});
      }
      break;
    case Stage::kElecting:
      next = std::min({next, election_->deadline, election_->next_ask});
      break;
    case Stage::kCleaning:
      next = std::min(next, contact_clean_->deadline);
      break;
    case Stage::kRecovering:
      next = std::min(next, recovery_deadline_);
      break;
    case Stage::kSteady:
    case Stage::kFailbackWait:
      next = std::min(next, SilenceDeadline());
      break;
  }
  if (quorum() && writable()) next = std::min(next, writable_until_);
  return next;
}

// ---- stage and transitions ---------------------------------------------------------------------

void MemberMachine::RecordOriginal() {
  if (!hard_.original.has_value()) hard_.original = hard_.formation;
}

void MemberMachine::ResetVolatile() {
  walk_ = Walk{};
  election_.reset();
  probe_id_ = 0;
  probe_answered_ = true;
  misses_ = 0;
  loss_reported_ = false;
  last_ack_at_ = now_.mono;
  last_heard_.clear();
  for (const std::string& member : hard_.formation.members) last_heard_[member] = now_.mono;
  lease_until_.clear();
  lease_rounds_.clear();
  writable_ = false;
  recovery_deadline_ = now_.mono;
}

// The one place the stage changes: checks that the transition is one the machine can take,
// drops the data of the stage left behind, records the reason and persists.
void MemberMachine::Become(Stage stage, std::string_view event, std::string reason) {
  switch (stage) {
    case Stage::kSteady:
      break;
    case Stage::kSearching:
      AK_CHECK(stage_ == Stage::kSteady || stage_ == Stage::kSearching ||
                   stage_ == Stage::kElecting,
               self_, ": to searching from ", std::string(ToString(stage_)));
      break;
    case Stage::kElecting:
      AK_CHECK(stage_ == Stage::kSearching && quorum(), self_, ": to electing from ",
               std::string(ToString(stage_)));
      break;
    case Stage::kCleaning:
      AK_CHECK(stage_ != Stage::kCleaning, self_, ": a second clean --contactmembers");
      break;
    case Stage::kRecovering:
    case Stage::kFailbackWait:
      AK_CHECK(role() == Role::kPrimary && hard_.original.has_value(), self_, ": to ",
               std::string(ToString(stage)), " as ", std::string(ToString(role())),
               hard_.original.has_value() ? "" : " without an original formation");
      break;
  }
  if (stage_ == Stage::kCleaning && stage != Stage::kCleaning && event != "cleaned") {
    absl::StrAppend(&reason, " (clean --contactmembers on ", self_, " abandoned)");
  }
  if (stage != Stage::kCleaning) contact_clean_.reset();
  if (stage != Stage::kElecting) election_.reset();
  if (stage != Stage::kSearching && stage != Stage::kElecting) walk_ = Walk{};
  stage_ = stage;
  Record(event, std::move(reason));
  Persist();
  AK_CHECK(stage_ != Stage::kElecting || election_.has_value(), self_, ": electing, no election");
}

void MemberMachine::ClearArrayState(bool quorum_too, bool keep_original) {
  if (!keep_original) hard_.original.reset();
  hard_.repaired = false;
  hard_.manual_recovery_required = false;
  hard_.recovery_declined = false;
  if (quorum_too) {
    // Votes and promises were given to the old array's members. The epoch of the last vote
    // stays as a floor, so this member never goes back to an epoch it voted in.
    hard_.voted_for.clear();
    hard_.promise_to.clear();
    hard_.promise_until = absl::ZeroDuration();
  }
  Persist();
}

void MemberMachine::AdoptFormation(Formation formation, std::uint64_t epoch) {
  AK_CHECK(formation.Contains(self_), self_, " would adopt a formation without itself (",
           internal::Names(formation.members), ")");
  SetEpoch(std::max(epoch, hard_.epoch));
  hard_.formation = std::move(formation);
  hard_.uncontactable.clear();
  ResetVolatile();
  failed_searches_ = 0;
  writable_ = role() == Role::kPrimary && !quorum();
  KeepMonitorWithinInterval();
}

void MemberMachine::KeepMonitorWithinInterval() {
  // The schedule was made with the old interval: a shorter one takes effect now, not after the
  // old one ran out (a joiner would otherwise not probe its new array for a whole minute).
  next_monitor_ = std::min(next_monitor_, now_.mono + resilience().monitor_interval);
}

void MemberMachine::BecomeSearching(const std::string& reason, bool stand_now) {
  AK_CHECK(role() == Role::kSecondary, self_, " starts a failover as ", std::string(ToString(role())));
  RecordOriginal();
  const absl::Duration unreachable_for = now_.mono - last_ack_at_;
  ResetVolatile();
  Become(Stage::kSearching, "failover_started", reason);
  walk_.lost_primary = hard_.formation.primary;
  walk_.last_skip = absl::StrCat(walk_.lost_primary, " unreachable for ",
                                 model::json_internal::FormatSeconds(unreachable_for));
  if (stand_now) {
    const auto& list = hard_.formation.backup_primaries;
    walk_.index =
        static_cast<std::size_t>(std::find(list.begin(), list.end(), self_) - list.begin());
    StandAsCandidate(reason);
  } else {
    NextCandidate();
  }
}

void MemberMachine::BecomePromoted(std::uint64_t epoch, const std::string& reason) {
  AK_CHECK(stage_ == Stage::kSearching || stage_ == Stage::kElecting, self_,
           ": promoted in stage ", std::string(ToString(stage_)));
  Formation next = hard_.formation;
  next.primary = self_;
  next.members = {self_};
  Erase(next.backup_primaries, self_);
  ++next.version;
  AdoptFormation(std::move(next), epoch);
  hard_.repaired = true;
  Become(Stage::kSteady, "promoted", reason);
}

void MemberMachine::BecomeMemberOf(const Formation& formation, std::uint64_t epoch,
                                   std::string_view event, const std::string& reason) {
  AdoptFormation(formation, epoch);
  Become(Stage::kSteady, event, reason);
}

void MemberMachine::BecomeStandalone(std::string_view event, const std::string& reason) {
  AK_CHECK(stage_ == Stage::kSearching, self_, ": standalone in stage ",
           std::string(ToString(stage_)));
  Formation next = hard_.formation;
  next.primary = self_;
  next.members = {self_};
  next.backup_primaries.clear();
  ++next.version;
  AdoptFormation(std::move(next), NextEpoch());
  hard_.repaired = hard_.original.has_value();
  Become(Stage::kSteady, event, reason);
  if (quorum()) RequestLeases();
}

void MemberMachine::BecomeOwnArray(std::string_view event, const std::string& reason) {
  Formation next = hard_.formation;
  next.primary = self_;
  next.members = {self_};
  next.backup_primaries.clear();
  next.voters = {self_};
  ++next.version;
  ClearArrayState(/*quorum_too=*/true);
  AdoptFormation(std::move(next), NextEpoch());
  Become(Stage::kSteady, event, reason);
  if (quorum()) RequestLeases();
}

// ---- time and dispatch -------------------------------------------------------------------------

void MemberMachine::Tick(const Clock& now) {
  AK_CHECK(now.mono >= now_.mono, self_, ": monotonic clock went back from ",
           absl::FormatDuration(now_.mono), " to ", absl::FormatDuration(now.mono));
  now_ = now;
  switch (stage_) {
    case Stage::kCleaning:
      if (now_.mono >= contact_clean_->deadline) FinishContactClean();
      break;
    case Stage::kElecting:
      if (now_.mono >= election_->deadline) {
        EndElection(false);
      } else if (now_.mono >= election_->next_ask) {
        AskVoters();
      }
      break;
    case Stage::kRecovering:
      if (now_.mono >= recovery_deadline_) {
        Become(Stage::kSteady, "recovery_retried",
               absl::StrCat("no answer from the original primary within ",
                            model::json_internal::FormatSeconds(
                                resilience().FindNewPrimaryTimeout()),
                            "; the recovery stage starts again at the next contact"));
      }
      break;
    case Stage::kSteady:
    case Stage::kSearching:
    case Stage::kFailbackWait:
      break;
  }
  if (stage_ == Stage::kSearching) WalkTick();
  if (now_.mono < next_monitor_ && now_.mono >= SilenceDeadline()) PrimaryLost(misses_ + 1);
  if (now_.mono >= next_monitor_) {
    MonitorTick();
    const absl::Duration interval = resilience().monitor_interval;
    next_monitor_ += interval;
    if (next_monitor_ <= now_.mono) next_monitor_ = now_.mono + interval;  // host slept
  }
  if (quorum()) UpdateWritable();
}

void MemberMachine::MonitorTick() {
  switch (role()) {
    case Role::kPrimary:
      PrimaryMonitor();
      break;
    case Role::kSecondary:
      SecondaryMonitor();
      break;
    case Role::kSearching:
      break;
  }
}

void MemberMachine::Step(const Message& m) {
  if (m.to != self_) return;
  switch (m.type) {
    case MessageType::kProbe:
      return OnProbe(m);
    case MessageType::kProbeAck:
      return OnProbeAck(m);
    case MessageType::kFindPrimary:
      return OnFindPrimary(m);
    case MessageType::kFindPrimaryReply:
      return OnFindPrimaryReply(m);
    case MessageType::kRecoveryProbe:
      return OnRecoveryProbe(m);
    case MessageType::kRecoveryProbeAck:
      return OnRecoveryProbeAck(m);
    case MessageType::kRecoveryJoin:
      return OnRecoveryJoin(m);
    case MessageType::kRecoveryJoinAck:
      return OnRecoveryJoinAck(m);
    case MessageType::kAbsorb:
      return OnAbsorb(m);
    case MessageType::kAbsorbAck:
      return OnAbsorbAck(m);
    case MessageType::kRedirect:
      return OnRedirect(m);
    case MessageType::kLeaseRequest:
      return OnLeaseRequest(m);
    case MessageType::kLeaseReply:
      return OnLeaseReply(m);
    case MessageType::kVoteRequest:
      return OnVoteRequest(m);
    case MessageType::kVoteReply:
      return OnVoteReply(m);
    case MessageType::kMembershipQuery:
      return OnMembershipQuery(m);
    case MessageType::kMembershipReply:
      return OnMembershipReply(m);
    case MessageType::kDetached:
      return OnDetached(m);
    case MessageType::kPrimaryTransfer:
      return OnPrimaryTransfer(m);
  }
}

}  // namespace arraykit::failover
