// The recovery stage (DESIGN §5.1 rules 4-5): a repaired primary looks for the original primary
// and, by the primary return action, recreates the original formation (`accept`), takes the
// original primary's array in as secondaries (`acceptsecondary`) or leaves things be (`none`).
// With a failback window, `accept` waits: the original primary follows the repaired primary as
// a secondary until the window opens, then the failback makes it primary again.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "core/failover/machine_util.h"
#include "core/failover/member_machine.h"

namespace arraykit::failover {
namespace {

using internal::Has;
using internal::Names;

std::string Clock2(int minute) {
  return absl::StrCat(minute / 60 < 10 ? "0" : "", minute / 60, ":", minute % 60 < 10 ? "0" : "",
                      minute % 60);
}

}  // namespace

bool MemberMachine::RecoveryApplies() const {
  return role() == Role::kPrimary && hard_.original.has_value() &&
         hard_.original->primary != self_ && !hard_.recovery_declined &&
         !hard_.manual_recovery_required;
}

// True when no window is set or the wall clock is inside it; `*minute` is the UTC minute of day.
bool MemberMachine::FailbackWindowOpen(int* minute) const {
  const absl::CivilMinute civil = absl::ToCivilMinute(now_.wall, absl::UTCTimeZone());
  *minute = civil.hour() * 60 + civil.minute();
  const auto& window = resilience().failback_window;
  return !window.has_value() || window->Contains(*minute);
}

std::string MemberMachine::WindowText(int minute) const {
  const auto& window = resilience().failback_window;
  if (!window.has_value()) return "no failback window";
  return absl::StrCat("the window ", Clock2(window->start_minute), "-", Clock2(window->end_minute),
                      " UTC (now ", Clock2(minute), ")");
}

void MemberMachine::RecoveryMonitor() {
  if (!RecoveryApplies()) return;
  const std::string& original_primary = hard_.original->primary;
  // A failback that waits: the original primary is one of this array's members.
  // (One that went silent may be a primary again, elsewhere: it is probed like any other.)
  if (resilience().primary_return_action == model::PrimaryReturnAction::kAccept &&
      hard_.formation.Contains(original_primary) && !IsUncontactable(original_primary)) {
    int minute = 0;
    if (FailbackWindowOpen(&minute)) return FailBack(minute);
    if (stage_ != Stage::kFailbackWait) {
      Become(Stage::kFailbackWait, "recovery_deferred",
             absl::StrCat(original_primary, " follows ", self_, "; failback waits for ",
                          WindowText(minute)));
    }
    return;
  }
  if (stage_ != Stage::kSteady && stage_ != Stage::kFailbackWait) return;
  Message probe = NewMessage(MessageType::kRecoveryProbe, original_primary);
  probe.id = next_id_++;
  Send(std::move(probe));
}

void MemberMachine::CheckRecovered() {
  if (!hard_.original.has_value() || role() != Role::kPrimary) return;
  // With `accept` the original formation is back only when the original primary leads it.
  if (resilience().primary_return_action == model::PrimaryReturnAction::kAccept &&
      hard_.original->primary != self_) {
    return;
  }
  for (const std::string& member : hard_.original->members) {
    if (!hard_.formation.Contains(member) || IsUncontactable(member)) return;
  }
  // The original backup primaries list comes back with the formation (without this primary);
  // an original primary that is now a secondary goes at its end, as an added secondary does.
  // Without it every failover would shorten the list until no candidate is left.
  std::vector<std::string> list = hard_.original->backup_primaries;
  if (!Has(list, hard_.original->primary)) list.push_back(hard_.original->primary);
  for (const std::string& name : hard_.formation.backup_primaries) {
    if (!Has(list, name)) list.push_back(name);
  }
  std::erase_if(list, [this](const std::string& name) {
    return name == self_ || !hard_.formation.Contains(name);
  });
  if (list != hard_.formation.backup_primaries) {
    hard_.formation.backup_primaries = std::move(list);
    ++hard_.formation.version;
  }
  ClearArrayState(/*quorum_too=*/false);
  Become(Stage::kSteady, "recovered",
         absl::StrCat("original formation recreated: ", self_, " is primary of ",
                      Names(hard_.formation.members)));
}

// The window opened: the original primary leads again, at a new epoch, with the members of this
// array; this member follows it.
void MemberMachine::FailBack(int minute) {
  const std::string original_primary = hard_.original->primary;
  // The original formation comes back, as when the original primary returns inside the window:
  // members in other arrays (split off, standalone) stay listed, so their own recovery finds the
  // original primary "back" and rejoins it.
  Formation next = hard_.formation;
  next.primary = original_primary;
  for (const std::string& member : hard_.original->members) {
    if (!next.Contains(member) && next.members.size() < kMaxFormationMembers) {
      next.members.push_back(member);
    }
  }
  next.backup_primaries = hard_.original->backup_primaries;
  std::erase_if(next.backup_primaries, [&next](const std::string& name) {
    return !next.Contains(name) || name == next.primary;
  });
  internal::KeepOrderOf(hard_.original->members, next.members);
  ++next.version;
  const std::uint64_t epoch = NextEpoch();
  const std::vector<std::string> members = ContactableMembers();
  ClearArrayState(/*quorum_too=*/false);
  BecomeMemberOf(next, epoch, "failback",
                 absl::StrCat("failback: ", WindowText(minute), " is open; ", original_primary,
                              " is primary again (epoch ", epoch, "), ", self_, " follows it"));
  RedirectMembers(members, std::make_shared<const Formation>(next), "",
                  absl::StrCat("failback from ", self_, ": ", WindowText(minute), " is open"));
}

void MemberMachine::OnRecoveryProbe(const Message& m) {
  Message reply = NewMessage(MessageType::kRecoveryProbeAck, m.from);
  reply.id = m.id;
  // Only the primary of the array the asker left counts as "the original primary is back": a
  // primary that was cleaned (or re-formed without the asker) is another array now.
  // An original primary that left a repaired array during a failback wait (and leads again)
  // still counts the members of its original formation.
  reply.ok = role() == Role::kPrimary &&
             (hard_.formation.Contains(m.from) ||
              (hard_.original.has_value() && hard_.original->primary == self_ &&
               hard_.original->Contains(m.from)));
  if (reply.ok) reply.members = ContactableMembers();
  // An original primary that joined a repaired array as a secondary (acceptsecondary: the
  // first repaired primary to reach it absorbed it) names that array to the others of its
  // formation: their recovery ends in it too (sim seeds 2236, 8812).
  if (role() == Role::kSecondary && hard_.formation.Contains(m.from)) {
    reply.formation = SharedFormation();
  }
  Send(std::move(reply));
}

void MemberMachine::OnRecoveryProbeAck(const Message& m) {
  if (!RecoveryApplies() || hard_.original->primary != m.from ||
      (stage_ != Stage::kSteady && stage_ != Stage::kFailbackWait)) {
    return;
  }
  const model::Resilience& r = resilience();
  if (!m.ok) {
    // The original primary follows another repaired primary of its formation, whose array
    // lists this member: acceptsecondary made that array the recovered one, so this member
    // (and its secondaries, redirected) joins it as well. Also from a later epoch when this
    // member leads nobody (standalone after its searches, quorum mode: sim seed 22468, whose
    // failed elections raised its epoch above that array's); it keeps its epoch, and that
    // primary moves past it when this member refuses its lease for the earlier one.
    const bool alone = quorum() && hard_.formation.members.size() == 1;
    if (r.primary_return_action == model::PrimaryReturnAction::kAcceptSecondary &&
        m.formation != nullptr && m.formation->Contains(self_) &&
        m.formation->Contains(m.from) && m.formation->primary != self_ &&
        m.formation->primary != m.from && (m.epoch >= hard_.epoch || alone)) {
      const std::vector<std::string> former = ContactableMembers();
      const std::string primary = m.formation->primary;
      ClearArrayState(/*quorum_too=*/false);
      BecomeMemberOf(*m.formation, m.epoch, "redirected",
                     absl::StrCat(self_, " follows ", primary, " now (recovery: ", m.from,
                                  " joined ", primary, "'s array as a secondary)"));
      RedirectMembers(former, m.formation, primary,
                      absl::StrCat("recovery: ", m.from, " joined ", primary, "'s array"));
    }
    return;
  }
  switch (r.primary_return_action) {
    case model::PrimaryReturnAction::kAccept: {
      int minute = 0;
      if (!FailbackWindowOpen(&minute)) {
        // DESIGN §5.1 rule 5: the returning primary must not stay a writable primary of its old
        // formation while the failback waits; it follows this array until the window opens.
        SetEpoch(std::max(hard_.epoch, m.epoch) + 1);
        Become(Stage::kFailbackWait, "recovery_deferred",
               absl::StrCat(m.from, " is reachable again; failback waits for ", WindowText(minute),
                            "; until then ", m.from, " and its members follow ", self_));
        SendAbsorb(m.from, absl::StrCat("failback waits for ", WindowText(minute)),
                   /*failback_wait=*/true);
        if (quorum()) RequestLeases();
        return;
      }
      Message join = NewMessage(MessageType::kRecoveryJoin, m.from);
      join.id = next_id_++;
      join.members = ContactableMembers();
      join.log = hard_.log;
      Send(std::move(join));
      recovery_deadline_ = now_.mono + r.FindNewPrimaryTimeout();
      Become(Stage::kRecovering, "recovery_started",
             absl::StrCat(m.from, " is reachable again; primary return action accept: ", self_,
                          " and its members rejoin ", m.from));
      return;
    }
    case model::PrimaryReturnAction::kAcceptSecondary: {
      std::vector<std::string> missing;
      const std::vector<std::string> ours = ContactableMembers();
      for (const std::string& member : hard_.original->members) {
        if (!Has(ours, member) && !Has(m.members, member)) missing.push_back(member);
      }
      if (!missing.empty()) {
        hard_.manual_recovery_required = true;
        Become(Stage::kSteady, "manual_recovery_required",
               absl::StrCat("the array split into more than two arrays: ", Names(missing),
                            " in neither ", m.from, "'s nor ", self_,
                            "'s array; primary return action acceptsecondary cannot recreate it "
                            "automatically (run clean, then rebuild)"));
        return;
      }
      SetEpoch(std::max(hard_.epoch, m.epoch) + 1);
      recovery_deadline_ = now_.mono + r.FindNewPrimaryTimeout();
      Become(Stage::kRecovering, "recovery_started",
             absl::StrCat(m.from, " is reachable again; primary return action acceptsecondary: ",
                          m.from, " and its members join ", self_, "'s array as secondaries"));
      SendAbsorb(m.from,
                 absl::StrCat("primary return action acceptsecondary, epoch ", hard_.epoch),
                 /*failback_wait=*/false);
      if (quorum()) RequestLeases();
      return;
    }
    case model::PrimaryReturnAction::kNone:
      hard_.recovery_declined = true;
      Become(Stage::kSteady, "recovery_declined",
             absl::StrCat(m.from,
                          " is reachable again; primary return action none: the arrays "
                          "stay as they are"));
      return;
  }
}

// Tells `members` (but this member, `skip` and anyone `formation` does not list) to follow
// `formation`: the secondaries of an array this member just left or handed over.
void MemberMachine::RedirectMembers(const std::vector<std::string>& members,
                                    const std::shared_ptr<const Formation>& formation,
                                    std::string_view skip, const std::string& reason) {
  for (const std::string& member : members) {
    if (member == self_ || member == skip || !formation->Contains(member)) continue;
    Message redirect = NewMessage(MessageType::kRedirect, member);
    redirect.formation = formation;
    redirect.reason = reason;
    Send(std::move(redirect));
  }
}

void MemberMachine::SendAbsorb(const std::string& to, std::string reason, bool failback_wait) {
  Message absorb = NewMessage(MessageType::kAbsorb, to);
  absorb.id = next_id_++;
  absorb.ok = failback_wait;
  absorb.formation = SharedFormation();
  absorb.reason = std::move(reason);
  Send(std::move(absorb));
}

void MemberMachine::OnRecoveryJoin(const Message& m) {
  if (role() != Role::kPrimary) return;
  SetEpoch(std::max(hard_.epoch, m.epoch) + 1);
  AddMembers(m.members);
  if (hard_.original.has_value() && hard_.original->primary == self_) {
    hard_.formation.backup_primaries = hard_.original->backup_primaries;
  }
  Record("recovery_merged",
         absl::StrCat(Names(m.members), " rejoined ", self_,
                      " (primary return action accept, epoch ", hard_.epoch, ")"));
  CheckRecovered();
  Persist();
  Message reply = NewMessage(MessageType::kRecoveryJoinAck, m.from);
  reply.id = m.id;
  reply.ok = true;
  reply.formation = SharedFormation();
  reply.log = hard_.log;
  Send(std::move(reply));
  if (quorum()) RequestLeases();
}

void MemberMachine::OnRecoveryJoinAck(const Message& m) {
  if (role() != Role::kPrimary || !hard_.original.has_value() ||
      hard_.original->primary != m.from || m.formation == nullptr ||
      !m.formation->Contains(self_) || m.epoch < hard_.epoch) {
    return;
  }
  const std::vector<std::string> former = ContactableMembers();
  ClearArrayState(/*quorum_too=*/false);
  BecomeMemberOf(
      *m.formation, m.epoch, "rejoined",
      absl::StrCat(self_, " rejoined ", m.from,
                   " as a secondary (primary return action accept, epoch ", m.epoch, ")"));
  RedirectMembers(former, m.formation, m.from,
                  absl::StrCat("recovery: ", m.from, " is the primary again"));
}

void MemberMachine::OnAbsorb(const Message& m) {
  if (role() != Role::kPrimary || m.epoch <= hard_.epoch || m.formation == nullptr) return;
  std::vector<std::string> former = ContactableMembers();
  // The array this member and its secondaries join: the repaired array plus themselves.
  Formation next = *m.formation;
  for (const std::string& member : former) {
    if (!next.Contains(member)) next.members.push_back(member);
  }
  if (hard_.original.has_value()) internal::KeepOrderOf(hard_.original->members, next.members);
  const std::string new_primary = m.from;
  // While a failback waits this member is still the original primary: it keeps the original
  // formation, so a failover from the repaired primary does not record that one instead.
  const bool failback_wait = m.ok;
  if (failback_wait) RecordOriginal();
  ClearArrayState(/*quorum_too=*/false, /*keep_original=*/failback_wait);
  BecomeMemberOf(next, m.epoch, "absorbed",
                 absl::StrCat(self_, " joined ", new_primary, "'s array as a secondary with ",
                              Names(former), " (", m.reason, ")"));
  RedirectMembers(former, std::make_shared<const Formation>(next), new_primary,
                  absl::StrCat("recovery: ", self_, " joined ", new_primary, "'s array"));
  Message reply = NewMessage(MessageType::kAbsorbAck, new_primary);
  reply.id = m.id;
  reply.ok = true;
  reply.members = std::move(former);
  Send(std::move(reply));
}

void MemberMachine::OnAbsorbAck(const Message& m) {
  if (role() != Role::kPrimary || !m.ok) return;
  AddMembers(m.members);
  Record("recovery_merged",
         stage_ == Stage::kFailbackWait
             ? absl::StrCat(Names(m.members), " follow ", self_,
                            " as secondaries until the failback window opens")
             : absl::StrCat(Names(m.members), " joined ", self_,
                            "'s array as secondaries (primary return action acceptsecondary)"));
  CheckRecovered();
  Persist();
}

void MemberMachine::OnRedirect(const Message& m) {
  if (m.formation == nullptr || m.epoch < hard_.epoch || !m.formation->Contains(self_)) return;
  const bool from_primary = m.from == hard_.formation.primary;
  const bool clean = m.ok && hard_.formation.Contains(m.from);
  if (!from_primary && !clean) return;
  // A redirect from an original primary whose failback waits keeps (or records) the original
  // formation: the recovery is not over.
  const bool failback_wait =
      !m.original_primary.empty() &&
      (!hard_.original.has_value() || hard_.original->primary == m.original_primary);
  if (failback_wait) RecordOriginal();
  ClearArrayState(/*quorum_too=*/false, /*keep_original=*/failback_wait);
  if (m.formation->primary == self_) {
    BecomeMemberOf(*m.formation, m.epoch, "failback",
                   absl::StrCat(self_, " is primary again (epoch ", m.epoch, "): ", m.reason));
    if (quorum()) RequestLeases();
    return;
  }
  BecomeMemberOf(*m.formation, m.epoch, "redirected",
                 absl::StrCat(self_, " follows ", m.formation->primary, " now (", m.reason, ")"));
}

}  // namespace arraykit::failover
