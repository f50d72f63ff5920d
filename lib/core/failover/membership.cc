// Membership changes (DESIGN §10 "Array operations", §5.1 rule 6): a join admitted on the
// primary and adopted by the joiner, detach, make_primary and the backup primaries list.
// Every refusal leaves HardState as it was and is recorded as `change_refused` with its reason
// word; every change bumps the formation version, which the members' probes carry, so the
// others learn it from the next probe acknowledgement (as ProposeChange's changes).
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/failover/machine_util.h"
#include "core/failover/member_machine.h"
#include "core/model/array.h"
#include "core/model/json_reader.h"
#include "core/status.h"

namespace arraykit::failover {
namespace {

using internal::Erase;
using internal::Has;
using internal::Names;

// Detached names a primary remembers, to repeat the news to one that missed it.
constexpr std::size_t kMaxRememberedDetached = 16;

absl::Status NotAMember(std::string_view what, const std::string& name,
                        const std::string& primary) {
  return MakeError(absl::StatusCode::kNotFound, "not_a_member",
                   absl::StrCat(std::string(what), " refused: ", name, " is not a member of ",
                                primary, "'s array"));
}

}  // namespace

absl::Status MemberMachine::RefuseChange(absl::Status status) {
  Record("change_refused", std::string(status.message()), ReasonOf(status));
  return status;
}

// The refusals every change on the primary shares: not the primary, or busy (§5.1 rule 6).
absl::Status MemberMachine::CheckCanChange(std::string_view what) const {
  if (role() != Role::kPrimary) {
    return MakeError(ErrorCode::kNotPrimary,
                     absl::StrCat(std::string(what), " refused: ", self_, " is not the primary (",
                                  hard_.formation.primary, " is)"));
  }
  if (const std::string busy = BusyReason(); !busy.empty()) {
    return MakeError(ErrorCode::kBusy, absl::StrCat(std::string(what), " refused: ", busy));
  }
  return absl::OkStatus();
}

bool MemberMachine::IsContactable(std::string_view name) const {
  if (name == self_) return true;
  if (!hard_.formation.Contains(name) || IsUncontactable(name)) return false;
  auto it = last_heard_.find(std::string(name));
  return it != last_heard_.end() && now_.mono - it->second <= 2 * resilience().monitor_interval;
}

// ---- join ---------------------------------------------------------------------------------------

absl::Status MemberMachine::AddMember(const std::string& name, bool voter,
                                      std::uint64_t joiner_epoch) {
  if (absl::Status s = CheckCanChange("join"); !s.ok()) return RefuseChange(std::move(s));
  if (name.empty()) {
    return RefuseChange(absl::InvalidArgumentError("join refused: the member name is empty"));
  }
  if (hard_.formation.Contains(name)) {
    return RefuseChange(
        MakeError(absl::StatusCode::kAlreadyExists, "name_taken",
                  absl::StrCat("join refused: ", name, " is already a member of the array")));
  }
  if (hard_.formation.members.size() >= model::kPlacementMemberLimit) {
    return RefuseChange(
        MakeError(absl::StatusCode::kFailedPrecondition, "array_full",
                  absl::StrCat("join refused: the array has ", hard_.formation.members.size(),
                               " members, the most an array can have (start a second array)")));
  }
  Formation& f = hard_.formation;
  f.members.push_back(name);
  f.backup_primaries.push_back(name);
  if (voter) f.voters.push_back(name);
  ++f.version;
  last_heard_[name] = now_.mono;
  Erase(detached_, name);
  std::string epoch_note;
  if (joiner_epoch > hard_.epoch) {
    SetEpoch(joiner_epoch);
    epoch_note = absl::StrCat("; epoch raised to ", joiner_epoch, ", the joiner's");
  }
  Record("member_added",
         absl::StrCat(name, " joined ", self_, "'s array", voter ? " as a voter" : "",
                      ", last in the backup primaries list", epoch_note));
  Persist();
  return absl::OkStatus();
}

absl::Status MemberMachine::AdmitPlanned(const std::string& name, std::uint64_t joiner_epoch) {
  if (absl::Status s = CheckCanChange("join"); !s.ok()) return RefuseChange(std::move(s));
  if (!hard_.formation.Contains(name) || name == self_) {
    return RefuseChange(NotAMember("join", name, self_));
  }
  last_heard_[name] = now_.mono;
  Erase(hard_.uncontactable, name);
  Erase(detached_, name);
  Erase(planned_, name);
  std::string epoch_note;
  if (joiner_epoch > hard_.epoch) {
    SetEpoch(joiner_epoch);
    epoch_note = absl::StrCat("; epoch raised to ", joiner_epoch, ", the joiner's");
  }
  ++hard_.formation.version;  // the others learn the member is in (and the epoch)
  Record("member_added", absl::StrCat(name, " joined ", self_, "'s array in its planned place",
                                      IsVoter(name) ? " as a voter" : "", epoch_note));
  Persist();
  return absl::OkStatus();
}

absl::Status MemberMachine::JoinArray(const Formation& formation, std::uint64_t epoch) {
  auto refuse = [this](absl::Status status) { return RefuseChange(std::move(status)); };
  if (hard_.formation.members.size() != 1) {
    return refuse(
        MakeError(absl::StatusCode::kFailedPrecondition, "joiner_not_standalone",
                  absl::StrCat("join refused: ", self_, " is not standalone: it is in ",
                               hard_.formation.primary, "'s array with ",
                               Names(hard_.formation.members), " (detach it or run clean first)")));
  }
  if (const std::string busy = BusyReason(); !busy.empty()) {
    return refuse(MakeError(ErrorCode::kBusy, absl::StrCat("join refused: ", busy)));
  }
  std::string problem;
  if (!formation.Contains(self_)) {
    problem = absl::StrCat("the formation does not list ", self_);
  } else if (formation.primary == self_ || !formation.Contains(formation.primary)) {
    problem = absl::StrCat("the formation's primary ", formation.primary,
                           " is not another of its members");
  } else if (formation.members.size() > kMaxFormationMembers) {
    problem = absl::StrCat("the formation has more than ", kMaxFormationMembers, " members");
  } else if (epoch < hard_.epoch) {
    problem =
        absl::StrCat("the array's epoch ", epoch, " is below ", self_, "'s epoch ", hard_.epoch);
  }
  if (!problem.empty()) {
    return refuse(absl::InvalidArgumentError(absl::StrCat("join refused: ", problem)));
  }
  // The formation comes from another member: it must be one this member could restart from.
  HardState next;
  next.formation = formation;
  next.epoch = std::max<std::uint64_t>(epoch, 1);
  if (absl::Status valid = ValidateHardState(self_, next); !valid.ok()) {
    return refuse(MakeError(absl::StatusCode::kInvalidArgument, "invalid_argument",
                            absl::StrCat("join refused: ", valid.message())));
  }
  ClearArrayState(/*quorum_too=*/true);
  AdoptFormation(formation, epoch);
  // The joiner's repository is replaced by the array's (a snapshot, then the stream): its log
  // position starts over, or a voter would refuse every primary behind its old array's log.
  hard_.log = LogPosition{};
  Become(Stage::kSteady, "joined_array",
         absl::StrCat(self_, " joined ", formation.primary, "'s array as a secondary (epoch ",
                      hard_.epoch, ", ", formation.members.size(), " members)"));
  return absl::OkStatus();
}

// ---- detach -------------------------------------------------------------------------------------

absl::Status MemberMachine::RemoveMember(const std::string& name) {
  if (absl::Status s = CheckCanChange("detach"); !s.ok()) return RefuseChange(std::move(s));
  if (!hard_.formation.Contains(name)) {
    return RefuseChange(NotAMember("detach", name, self_));
  }
  if (name == self_) {
    return RefuseChange(MakeError(
        absl::StatusCode::kFailedPrecondition, "detach_primary",
        absl::StrCat("detach refused: ", name,
                     " is the primary; make another member primary first (make_primary), then "
                     "detach it")));
  }
  Formation next = hard_.formation;
  Erase(next.members, name);
  Erase(next.backup_primaries, name);
  Erase(next.voters, name);
  if (quorum() && next.voters.empty()) {
    return RefuseChange(
        MakeError(absl::StatusCode::kFailedPrecondition, "last_voter",
                  absl::StrCat("detach refused: ", name,
                               " is the array's last voter; quorum mode needs at least one")));
  }
  ++next.version;
  hard_.formation = std::move(next);
  Erase(hard_.uncontactable, name);
  last_heard_.erase(name);
  Erase(detached_, name);
  detached_.push_back(name);
  if (detached_.size() > kMaxRememberedDetached) detached_.erase(detached_.begin());
  Record("member_removed", absl::StrCat("operator detached ", name, " from ", self_,
                                        "'s array; it becomes standalone"));
  Persist();
  Message detach = NewMessage(MessageType::kDetached, name);
  detach.reason = absl::StrCat("operator detached ", name, " on ", self_);
  Send(std::move(detach));
  return absl::OkStatus();
}

void MemberMachine::OnDetached(const Message& m) {
  if (m.from != hard_.formation.primary || m.from == self_ || m.epoch < hard_.epoch) return;
  BecomeOwnArray("detached",
                 absl::StrCat(m.reason, ": ", self_, " is standalone, primary of its own array"));
}

// ---- make_primary -------------------------------------------------------------------------------

absl::Status MemberMachine::MakePrimary(const std::string& name) {
  if (absl::Status s = CheckCanChange("make_primary"); !s.ok()) {
    return RefuseChange(std::move(s));
  }
  if (!hard_.formation.Contains(name)) return RefuseChange(NotAMember("make_primary", name, self_));
  if (name == self_) {
    return RefuseChange(
        MakeError(absl::StatusCode::kFailedPrecondition, "already_primary",
                  absl::StrCat("make_primary refused: ", name, " is the primary already")));
  }
  if (!IsContactable(name)) {
    return RefuseChange(MakeError(
        absl::StatusCode::kUnavailable, "not_contactable",
        absl::StrCat("make_primary refused: ", self_, " has not heard from ", name,
                     " within two monitor intervals (",
                     model::json_internal::FormatSeconds(2 * resilience().monitor_interval),
                     "); a new primary must be reachable")));
  }
  Formation next = hard_.formation;
  next.primary = name;
  // As placement's plan_change does: the new primary leaves the backup list; the old one, now
  // a secondary, goes at its end like any secondary that joins.
  Erase(next.backup_primaries, name);
  next.backup_primaries.push_back(self_);
  ++next.version;
  const std::uint64_t epoch = NextEpoch();
  AdoptFormation(next, epoch);
  // This member stopped writing (AdoptFormation): the lease it holds from itself goes.
  if (hard_.promise_to == self_) {
    hard_.promise_to.clear();
    hard_.promise_until = absl::ZeroDuration();
  }
  transferred_ = SharedFormation();
  Become(Stage::kSteady, "primary_transferred",
         absl::StrCat("operator ran make_primary on ", self_, ": ", name, " is the primary (epoch ",
                      epoch, "), ", self_, " a secondary"));
  for (const std::string& member : next.members) {
    if (member == self_) continue;
    Message transfer = NewMessage(MessageType::kPrimaryTransfer, member);
    transfer.formation = transferred_;
    transfer.log = hard_.log;
    transfer.reason = absl::StrCat("operator ran make_primary on ", self_);
    Send(std::move(transfer));
  }
  return absl::OkStatus();
}

void MemberMachine::OnPrimaryTransfer(const Message& m) {
  if (m.formation == nullptr || m.from != hard_.formation.primary || m.from == self_ ||
      m.epoch <= hard_.epoch || !m.formation->Contains(self_)) {
    return;
  }
  ClearArrayState(/*quorum_too=*/false);
  // The old primary stopped writing before it sent this: the lease promised to it can go, so
  // this member may grant the new primary its lease now (the vote's epoch stays as a floor).
  // Its log position stands for the replication the runtime completed before the hand-over.
  if (m.log > hard_.log) hard_.log = m.log;
  if (hard_.promise_to == m.from) {
    hard_.promise_to.clear();
    hard_.promise_until = absl::ZeroDuration();
  }
  if (m.formation->primary == self_) {
    BecomeMemberOf(*m.formation, m.epoch, "promoted",
                   absl::StrCat(self_, " is the primary (epoch ", m.epoch, "): ", m.reason));
    if (quorum()) RequestLeases();
    return;
  }
  BecomeMemberOf(*m.formation, m.epoch, "redirected",
                 absl::StrCat(self_, " follows ", m.formation->primary, " now (", m.reason, ")"));
}

bool MemberMachine::ResendMembershipChange(const Message& probe) {
  if (role() == Role::kPrimary && Has(detached_, probe.from) && probe.epoch <= hard_.epoch) {
    Message detach = NewMessage(MessageType::kDetached, probe.from);
    detach.reason = absl::StrCat("operator detached ", probe.from, " on ", self_);
    Send(std::move(detach));
    return true;
  }
  if (role() == Role::kSecondary && transferred_ != nullptr && *transferred_ == hard_.formation &&
      hard_.formation.Contains(probe.from) && probe.epoch < hard_.epoch) {
    // This member was the primary until its make_primary; the prober still follows it.
    Message transfer = NewMessage(MessageType::kPrimaryTransfer, probe.from);
    transfer.formation = transferred_;
    transfer.log = hard_.log;
    transfer.reason = absl::StrCat("operator ran make_primary on ", self_);
    Send(std::move(transfer));
    return true;
  }
  return false;
}

// ---- backup primaries list ----------------------------------------------------------------------

absl::Status MemberMachine::AddBackupPrimary(const std::string& name,
                                             std::optional<std::size_t> position) {
  if (absl::Status s = CheckCanChange("add_backup_primary"); !s.ok()) {
    return RefuseChange(std::move(s));
  }
  std::vector<std::string> list = hard_.formation.backup_primaries;
  if (!hard_.formation.Contains(name))
    return RefuseChange(NotAMember("add_backup_primary", name, self_));
  if (name == hard_.formation.primary) {
    return RefuseChange(MakeError(absl::StatusCode::kInvalidArgument, "is_primary",
                                  absl::StrCat("add_backup_primary refused: ", name,
                                               " is the primary; the list holds secondaries")));
  }
  if (Has(list, name)) {
    const auto at = std::find(list.begin(), list.end(), name) - list.begin() + 1;
    return RefuseChange(MakeError(
        absl::StatusCode::kAlreadyExists, "already_listed",
        absl::StrCat("add_backup_primary refused: ", name, " is listed already, at position ", at,
                     " (edit_backup_primary moves it)")));
  }
  const std::size_t at = position.value_or(list.size() + 1);
  if (at < 1 || at > list.size() + 1) {
    return RefuseChange(MakeError(absl::StatusCode::kInvalidArgument, "invalid_position",
                                  absl::StrCat("add_backup_primary refused: position ", at,
                                               " is outside 1..", list.size() + 1)));
  }
  list.insert(list.begin() + static_cast<std::ptrdiff_t>(at - 1), name);
  FormationChange change;
  change.backup_primaries = std::move(list);
  return ProposeChange(change);
}

absl::Status MemberMachine::EditBackupPrimary(const std::string& name, std::size_t position) {
  if (absl::Status s = CheckCanChange("edit_backup_primary"); !s.ok()) {
    return RefuseChange(std::move(s));
  }
  std::vector<std::string> list = hard_.formation.backup_primaries;
  if (!hard_.formation.Contains(name))
    return RefuseChange(NotAMember("edit_backup_primary", name, self_));
  if (!Has(list, name)) {
    return RefuseChange(
        MakeError(absl::StatusCode::kNotFound, "not_listed",
                  absl::StrCat("edit_backup_primary refused: ", name,
                               " is not in the backup primaries list (", Names(list), ")")));
  }
  if (position < 1 || position > list.size()) {
    return RefuseChange(MakeError(absl::StatusCode::kInvalidArgument, "invalid_position",
                                  absl::StrCat("edit_backup_primary refused: position ", position,
                                               " is outside 1..", list.size())));
  }
  Erase(list, name);
  list.insert(list.begin() + static_cast<std::ptrdiff_t>(position - 1), name);
  FormationChange change;
  change.backup_primaries = std::move(list);
  return ProposeChange(change);
}

absl::Status MemberMachine::RemoveBackupPrimary(const std::string& name) {
  if (absl::Status s = CheckCanChange("remove_backup_primary"); !s.ok()) {
    return RefuseChange(std::move(s));
  }
  std::vector<std::string> list = hard_.formation.backup_primaries;
  if (!hard_.formation.Contains(name))
    return RefuseChange(NotAMember("remove_backup_primary", name, self_));
  if (!Has(list, name)) {
    return RefuseChange(
        MakeError(absl::StatusCode::kNotFound, "not_listed",
                  absl::StrCat("remove_backup_primary refused: ", name,
                               " is not in the backup primaries list (", Names(list), ")")));
  }
  Erase(list, name);
  FormationChange change;
  change.backup_primaries = std::move(list);
  return ProposeChange(change);
}

}  // namespace arraykit::failover
