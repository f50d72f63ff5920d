// Operator actions (DESIGN §5.1 rules 6-7, §5.3): changes of the formation or resilience
// settings, `clean` and `clean --contactmembers`.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/failover/machine_util.h"
#include "core/failover/member_machine.h"
#include "core/status.h"

namespace arraykit::failover {

using internal::Has;
using internal::Names;
using internal::Sorted;

std::string MemberMachine::BusyReason() const {
  switch (stage_) {
    case Stage::kSearching:
    case Stage::kElecting:
      return absl::StrCat("a failover is under way on ", self_, " (", walk_.lost_primary,
                          " is unreachable; walking the backup primaries list)");
    case Stage::kCleaning:
      return absl::StrCat("clean --contactmembers is collecting answers on ", self_);
    case Stage::kRecovering:
      return "the recovery stage is under way";
    case Stage::kFailbackWait:
      return absl::StrCat("a failback to the original primary (",
                          hard_.original.has_value() ? hard_.original->primary : "none",
                          ") waits for the failback window");
    case Stage::kSteady:
      break;
  }
  if (!hard_.uncontactable.empty()) {
    return absl::StrCat("the failover stage is under way: ", Names(hard_.uncontactable),
                        " uncontactable");
  }
  if (hard_.original.has_value()) {
    return absl::StrCat(
        "the array is repaired and waits for the recovery stage (original primary ",
        hard_.original->primary,
        "); a change now would keep the original formation from being recreated (run clean to "
        "rebuild manually)");
  }
  return "";
}

absl::Status MemberMachine::ProposeChange(const FormationChange& change) {
  auto refuse = [this](absl::Status status) {
    Record("change_refused", std::string(status.message()), ReasonOf(status));
    return status;
  };
  if (role() != Role::kPrimary) {
    return refuse(MakeError(ErrorCode::kNotPrimary,
                            absl::StrCat("change refused: ", self_, " is not the primary (",
                                         hard_.formation.primary, " is)")));
  }
  if (const std::string busy = BusyReason(); !busy.empty()) {
    return refuse(MakeError(ErrorCode::kBusy, absl::StrCat("change refused: ", busy)));
  }
  if (change.resilience.has_value() && change.resilience->mode == model::ResilienceMode::kQuorum &&
      hard_.formation.voters.empty()) {
    return refuse(MakeError(absl::StatusCode::kFailedPrecondition, "no_voters",
                            "change refused: quorum mode needs voters (back-end members); this "
                            "array has none"));
  }
  std::vector<std::string> summary;
  if (change.backup_primaries.has_value()) {
    const std::vector<std::string>& list = *change.backup_primaries;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string& name = list[i];
      std::string problem;
      if (!hard_.formation.Contains(name)) {
        problem = "is not a member of the array";
      } else if (name == self_) {
        problem = "is the primary, not a secondary";
      } else if (std::find(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(i), name) !=
                 list.begin() + static_cast<std::ptrdiff_t>(i)) {
        problem = "is listed twice";
      }
      if (!problem.empty()) {
        return refuse(absl::InvalidArgumentError(absl::StrCat("change refused: backup_primaries[",
                                                              i, "]: ", name, " ", problem)));
      }
    }
    hard_.formation.backup_primaries = list;
    summary.push_back(absl::StrCat("backup primaries list ", Names(list)));
  }
  if (change.resilience.has_value()) {
    hard_.formation.resilience = *change.resilience;
    KeepMonitorWithinInterval();
    summary.push_back("resilience settings");
  }
  ++hard_.formation.version;
  Record("change_applied", absl::StrCat(self_, " changed the ", absl::StrJoin(summary, " and ")));
  Persist();
  return absl::OkStatus();
}

absl::Status MemberMachine::Clean(bool contact_members) {
  if (stage_ == Stage::kCleaning) {
    return MakeError(ErrorCode::kBusy,
                     absl::StrCat("clean --contactmembers is already under way on ", self_));
  }
  ClearArrayState(/*quorum_too=*/false);
  if (!contact_members || hard_.formation.members.size() == 1) {
    // DESIGN §5.3: a one-member array, its own only voter, writable; nothing of the old array's
    // quorum (votes, promises, voters) stays behind.
    BecomeOwnArray("cleaned", absl::StrCat("operator ran clean on ", self_,
                                           ": standalone, array state removed"));
    return absl::OkStatus();
  }
  ContactClean clean;
  clean.id = next_id_++;
  clean.deadline = now_.mono + resilience().find_primary_interval;
  contact_clean_ = std::move(clean);
  Become(Stage::kCleaning, "clean_started",
         absl::StrCat("operator ran clean --contactmembers on ", self_, ": asking ",
                      hard_.formation.members.size() - 1, " members for their membership"));
  for (const std::string& member : hard_.formation.members) {
    if (member == self_) continue;
    Message query = NewMessage(MessageType::kMembershipQuery, member);
    query.id = contact_clean_->id;
    Send(std::move(query));
  }
  return absl::OkStatus();
}

void MemberMachine::OnMembershipQuery(const Message& m) {
  Message reply = NewMessage(MessageType::kMembershipReply, m.from);
  reply.id = m.id;
  reply.ok = true;
  reply.members = hard_.formation.members;
  Send(std::move(reply));
}

void MemberMachine::OnMembershipReply(const Message& m) {
  if (stage_ != Stage::kCleaning || m.id != contact_clean_->id ||
      Has(contact_clean_->answered, m.from) || !hard_.formation.Contains(m.from)) {
    return;
  }
  contact_clean_->answered.push_back(m.from);
  if (Sorted(m.members) == Sorted(hard_.formation.members)) {
    contact_clean_->agreeing.push_back(m.from);
  }
  if (contact_clean_->answered.size() + 1 >= hard_.formation.members.size()) FinishContactClean();
}

void MemberMachine::FinishContactClean() {
  ContactClean clean = *std::move(contact_clean_);
  std::vector<std::string> dropped;
  Formation next = hard_.formation;
  next.members.clear();
  for (const std::string& member : hard_.formation.members) {
    if (member == self_ || Has(clean.agreeing, member)) {
      next.members.push_back(member);
    } else {
      dropped.push_back(member);
    }
  }
  next.primary = self_;
  std::erase_if(next.backup_primaries, [&clean, this](const std::string& name) {
    return name == self_ || !Has(clean.agreeing, name);
  });
  // The voters are the kept members among the old voters (this member alone if none was).
  std::erase_if(next.voters, [&next](const std::string& name) { return !next.Contains(name); });
  if (next.voters.empty()) next.voters = {self_};
  ++next.version;
  const bool promised_outside =
      !hard_.promise_to.empty() && !next.Contains(hard_.promise_to);
  ClearArrayState(/*quorum_too=*/promised_outside);
  AdoptFormation(std::move(next), NextEpoch());
  Become(Stage::kSteady, "cleaned",
         absl::StrCat("clean --contactmembers on ", self_, ": it stays with ",
                      Names(clean.agreeing), " (contactable, same membership); dropped ",
                      Names(dropped)));
  for (const std::string& member : clean.agreeing) {
    Message redirect = NewMessage(MessageType::kRedirect, member);
    redirect.ok = true;
    redirect.formation = SharedFormation();
    redirect.reason = absl::StrCat("clean --contactmembers on ", self_);
    Send(std::move(redirect));
  }
  if (quorum()) RequestLeases();
}

}  // namespace arraykit::failover
