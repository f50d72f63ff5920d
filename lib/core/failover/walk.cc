// Monitoring and the failover stage: probes between secondaries and their primary, the
// primary's grace period for silent members, and the walk down the backup primaries list
// (DESIGN §5.1 rules 1-3).
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/failover/machine_util.h"
#include "core/failover/member_machine.h"
#include "core/model/json_reader.h"

namespace arraykit::failover {

using internal::Erase;
using internal::Has;
using model::json_internal::FormatSeconds;

// ---- monitoring ---------------------------------------------------------------------------------

void MemberMachine::PrimaryMonitor() {
  const model::Resilience& r = resilience();
  if (r.failover_enabled) {
    const absl::Duration grace = r.GracePeriod();
    bool marked = false;
    for (const std::string& member : hard_.formation.members) {
      if (member == self_ || IsUncontactable(member) || Has(planned_, member)) continue;
      auto [it, inserted] = last_heard_.try_emplace(member, now_.mono);
      const absl::Duration silent = now_.mono - it->second;
      if (silent < grace) continue;
      RecordOriginal();
      hard_.repaired = true;
      hard_.uncontactable.push_back(member);
      marked = true;
      Record("member_uncontactable",
             absl::StrCat(self_, " marked ", member, " uncontactable: no contact for ",
                          FormatSeconds(silent), " (grace period ", FormatSeconds(grace), ")"));
    }
    if (marked) Persist();
    RecoveryMonitor();
  }
  if (quorum()) RequestLeases();
}

void MemberMachine::SecondaryMonitor() {
  if (probe_id_ != 0 && !probe_answered_) ++misses_;
  if (misses_ >= MissesBeforeSearch() && PrimaryLost(misses_)) return;
  probe_id_ = next_id_++;
  probe_answered_ = false;
  probe_sent_at_ = now_.mono;
  Message probe = NewMessage(MessageType::kProbe, hard_.formation.primary);
  probe.id = probe_id_;
  probe.version = hard_.formation.version;
  Send(std::move(probe));
}

// The seed starts the failover once the primary has been unavailable for the grace period.
// Between monitor ticks: all but the last of the probes it takes are missed, the last has been
// out for half an interval, and nothing was heard for the grace period. So the loss is seen
// about one grace period after the primary's last answer, not after the first probe it missed.
absl::Duration MemberMachine::SilenceDeadline() const {
  if (role() != Role::kSecondary || probe_id_ == 0 || probe_answered_ || loss_reported_ ||
      misses_ < MissesBeforeSearch() - 1 || stage_ == Stage::kCleaning) {
    return absl::InfiniteDuration();
  }
  const absl::Duration interval = resilience().monitor_interval;
  return std::max(probe_sent_at_ + interval / 2, last_ack_at_ + interval * MissesBeforeSearch());
}

// Starts the failover stage (or, failover disabled, reports the loss once). False if it did not.
bool MemberMachine::PrimaryLost(int unanswered) {
  const model::Resilience& r = resilience();
  const std::string& primary = hard_.formation.primary;
  // An operator's clean --contactmembers finishes within one find-primary interval; the
  // failover waits for it.
  if (stage_ == Stage::kCleaning) return false;
  if (r.failover_enabled) {
    BecomeSearching(
        absl::StrCat(primary, " unreachable for ", FormatSeconds(now_.mono - last_ack_at_), ": ",
                     unanswered, " probes in a row unanswered (grace period ",
                     FormatSeconds(r.GracePeriod()), ")"),
        /*stand_now=*/false);
    return true;
  }
  if (!loss_reported_) {
    loss_reported_ = true;
    Record("primary_unreachable",
           absl::StrCat(primary, " unreachable for ", FormatSeconds(now_.mono - last_ack_at_),
                        "; failover is disabled (failover_enabled false): no action"));
  }
  return false;
}

void MemberMachine::OnProbe(const Message& m) {
  Message reply = NewMessage(MessageType::kProbeAck, m.from);
  reply.id = m.id;
  reply.log = hard_.log;
  if (role() == Role::kPrimary) {
    // A member the original primary handed over (acceptsecondary, or a failback that waits) may
    // probe before the hand-over reply arrives; it carries this epoch, which only a redirect
    // could have told it.
    if (!hard_.formation.Contains(m.from) && hard_.original.has_value() &&
        hard_.original->Contains(m.from) && m.epoch == hard_.epoch) {
      AddMembers({m.from});
      CheckRecovered();
      Persist();
    }
    if (hard_.formation.Contains(m.from)) {
      reply.ok = true;
      last_heard_[m.from] = now_.mono;
      if (IsUncontactable(m.from)) {
        Erase(hard_.uncontactable, m.from);
        Record("member_contactable", absl::StrCat(m.from, " is contactable again"));
        CheckRecovered();
        Persist();
      }
      if (m.version != hard_.formation.version || m.epoch != hard_.epoch) {
        reply.formation = SharedFormation();
      }
    } else {
      reply.reason = absl::StrCat(m.from, " is not a member of ", self_, "'s array");
      ResendMembershipChange(m);
    }
  } else {
    reply.reason = absl::StrCat(self_, " is not a primary");
    ResendMembershipChange(m);
  }
  Send(std::move(reply));
}

// The primary answered a probe or asked for a lease: it is there. A probe still out counts as
// answered (a primary back from a restart gets the probe sent before it, never answers it,
// and asks for leases at once: sim seed 128042 took it as lost 12 s after lending it one).
void MemberMachine::HeardFromPrimary() {
  probe_answered_ = true;
  if (misses_ > 0) ++primary_contacts_;  // contact re-established after a missed probe
  misses_ = 0;
  failed_searches_ = 0;
  loss_reported_ = false;
  last_ack_at_ = now_.mono;
}

void MemberMachine::OnProbeAck(const Message& m) {
  if (role() != Role::kSecondary || m.from != hard_.formation.primary || m.id != probe_id_) return;
  if (!m.ok || m.epoch < hard_.epoch) return;  // refused, or a primary of an older epoch
  HeardFromPrimary();
  bool changed = false;
  if (m.epoch > hard_.epoch) {
    SetEpoch(m.epoch);
    changed = true;
  }
  if (m.formation != nullptr && *m.formation != hard_.formation && m.formation->Contains(self_)) {
    hard_.formation = *m.formation;
    KeepMonitorWithinInterval();
    changed = true;
  }
  // The primary's lineage is the array's: once it no longer names an original primary (its
  // recovery ended), neither does this secondary. Otherwise a later failover of this member
  // would wait for the previous original primary, not for the one it lost.
  if (m.original_primary.empty() && hard_.original.has_value()) {
    ClearArrayState(/*quorum_too=*/false);
    changed = true;
  }
  if (changed) Persist();
}

// ---- failover stage: walking the backup primaries list -----------------------------------------

void MemberMachine::NextCandidate() {
  const std::vector<std::string>& list = hard_.formation.backup_primaries;
  while (walk_.index < list.size()) {
    const std::string& candidate = list[walk_.index];
    if (candidate == walk_.lost_primary) {
      ++walk_.index;
      continue;
    }
    if (candidate == self_) {
      StandAsCandidate(absl::StrCat(
          walk_.last_skip, walk_.index == 0 ? ", first in backup list" : ", next in backup list"));
      return;
    }
    walk_.candidate = candidate;
    walk_.step_started = now_.mono;
    walk_.next_attempt = now_.mono;
    walk_.first_request_id = next_id_;
    WalkTick();
    return;
  }
  const std::string why = list.empty()
                              ? std::string("the backup primaries list is empty")
                              : absl::StrCat("backup primaries list exhausted (", walk_.last_skip,
                                             ")");
  if (quorum() && failed_searches_ < kMaxFailedSearches) return RetryFailover(why);
  BecomeStandalone("standalone", absl::StrCat(self_, " became standalone: ", why));
}

// Quorum mode: a member that found no primary and won no election does not leave its array
// (a standalone member would hold its vote and lend its leases to nobody, and a majority
// connected again could be left without a writable primary). It follows the lost primary
// again: if that primary answers, nothing happened; if not, it searches again after the grace
// period (after the second such search, twice that) and stands at a later epoch.
void MemberMachine::RetryFailover(const std::string& reason) {
  const std::string lost = walk_.lost_primary;
  ++failed_searches_;
  ResetVolatile();
  Become(Stage::kSteady, "failover_retry",
         absl::StrCat(self_, " found no primary: ", reason, "; it follows ", lost,
                      " again and searches again after ", MissesBeforeSearch(),
                      " unanswered probes"));
}

int MemberMachine::MissesBeforeSearch() const {
  return failed_searches_ < 2 ? resilience().monitor_attempts
                              : resilience().monitor_attempts * 2;
}

void MemberMachine::WalkTick() {
  if (walk_.candidate.empty()) return;
  const model::Resilience& r = resilience();
  const absl::Duration timeout = r.FindNewPrimaryTimeout();
  if (now_.mono >= walk_.step_started + timeout) {
    walk_.last_skip = absl::StrCat(walk_.candidate, " unreachable for ",
                                   FormatSeconds(now_.mono - walk_.step_started));
    Record("candidate_unreachable",
           absl::StrCat(self_, " could not reach ", walk_.candidate,
                        " within the find-new-primary timeout (", FormatSeconds(timeout), ", ",
                        r.find_primary_attempts, " attempts)"));
    walk_.candidate.clear();
    ++walk_.index;
    NextCandidate();
    return;
  }
  if (now_.mono >= walk_.next_attempt) {
    Message request = NewMessage(MessageType::kFindPrimary, walk_.candidate);
    request.id = next_id_++;
    request.subject = walk_.lost_primary;
    request.log = hard_.log;
    Send(std::move(request));
    walk_.next_attempt += r.find_primary_interval;
  }
}

void MemberMachine::StandAsCandidate(const std::string& reason) {
  walk_.candidate.clear();
  if (quorum()) {
    StartElection(reason);
    return;
  }
  const std::uint64_t epoch = NextEpoch();
  BecomePromoted(epoch, absl::StrCat(self_, " promoted itself: ", reason, " (epoch ", epoch, ")"));
}

void MemberMachine::AcceptJoiner(const std::string& name, std::uint64_t id) {
  AddMembers({name});
  Persist();
  Message reply = NewMessage(MessageType::kFindPrimaryReply, name);
  reply.id = id;
  reply.ok = true;
  reply.formation = SharedFormation();
  reply.log = hard_.log;
  Send(std::move(reply));
}

void MemberMachine::RefuseJoiner(const std::string& name, std::uint64_t id, std::string reason) {
  Message reply = NewMessage(MessageType::kFindPrimaryReply, name);
  reply.id = id;
  reply.reason = std::move(reason);
  Send(std::move(reply));
}

void MemberMachine::AddMembers(const std::vector<std::string>& names) {
  Formation& f = hard_.formation;
  bool changed = false;
  for (const std::string& name : names) {
    Erase(hard_.uncontactable, name);
    last_heard_[name] = now_.mono;
    if (f.Contains(name)) continue;
    if (f.members.size() >= kMaxFormationMembers) break;
    f.members.push_back(name);
    changed = true;
  }
  if (!changed) return;
  // Keep the configured member order, so every view lists members the same way.
  if (hard_.original.has_value()) internal::KeepOrderOf(hard_.original->members, f.members);
  ++f.version;
}

void MemberMachine::TakeOver(const Message& request) {
  if (role() == Role::kPrimary) {
    AcceptJoiner(request.from, request.id);
  } else if (stage_ == Stage::kElecting) {
    election_->waiting.emplace_back(request.from, request.id);
  } else {
    RefuseJoiner(request.from, request.id,
                 absl::StrCat(self_, " could not take over (", walk_.last_skip, ")"));
  }
}

void MemberMachine::OnFindPrimary(const Message& m) {
  if (!resilience().failover_enabled) {
    return RefuseJoiner(m.from, m.id, absl::StrCat("failover is disabled on ", self_));
  }
  const auto& list = hard_.formation.backup_primaries;
  const bool listed = Has(list, self_);
  switch (role()) {
    case Role::kPrimary: {
      if (hard_.original.has_value() && hard_.original->primary == m.original_primary &&
          m.subject != self_) {
        if (m.epoch > hard_.epoch) {
          if (quorum()) {
            return RefuseJoiner(m.from, m.id,
                                absl::StrCat(self_, " is at epoch ", hard_.epoch, ", behind ",
                                             m.from, "'s epoch ", m.epoch));
          }
          SetEpoch(m.epoch);  // fencing: nobody may follow a primary of a lower epoch
        }
        return AcceptJoiner(m.from, m.id);
      }
      return RefuseJoiner(m.from, m.id, absl::StrCat(self_, " is the primary of another array"));
    }
    case Role::kSecondary: {
      if (hard_.formation.primary != m.subject) {
        return RefuseJoiner(m.from, m.id,
                            absl::StrCat(self_, " follows ", hard_.formation.primary));
      }
      if (misses_ == 0 && failed_searches_ == 0) {
        return RefuseJoiner(m.from, m.id, absl::StrCat(self_, " still reaches ", m.subject));
      }
      if (!listed) {
        return RefuseJoiner(m.from, m.id,
                            absl::StrCat(self_, " is not in the backup primaries list"));
      }
      if (stage_ == Stage::kCleaning) {
        return RefuseJoiner(m.from, m.id,
                            absl::StrCat("clean --contactmembers is under way on ", self_));
      }
      BecomeSearching(
          absl::StrCat(m.subject, " unreachable for ", FormatSeconds(now_.mono - last_ack_at_),
                       "; ", m.from, " asked ", self_, " to take over"),
          /*stand_now=*/true);
      return TakeOver(m);
    }
    case Role::kSearching: {
      if (walk_.lost_primary != m.subject) {
        return RefuseJoiner(m.from, m.id,
                            absl::StrCat(self_, " lost ", walk_.lost_primary, ", not ", m.subject));
      }
      if (stage_ == Stage::kElecting) {
        election_->waiting.emplace_back(m.from, m.id);
        return;
      }
      const std::size_t position =
          static_cast<std::size_t>(std::find(list.begin(), list.end(), self_) - list.begin());
      if (!listed || position < walk_.index) {
        return RefuseJoiner(m.from, m.id,
                            listed ? absl::StrCat(self_, " could not win a majority of voters")
                                   : absl::StrCat(self_, " is not in the backup primaries list"));
      }
      walk_.index = position;
      StandAsCandidate(
          absl::StrCat(m.subject, " unreachable; ", m.from, " asked ", self_, " to take over"));
      return TakeOver(m);
    }
  }
}

void MemberMachine::OnFindPrimaryReply(const Message& m) {
  if (stage_ != Stage::kSearching || m.from != walk_.candidate ||
      m.id < walk_.first_request_id) {
    return;
  }
  if (m.ok && m.formation != nullptr && m.epoch >= hard_.epoch && m.formation->Contains(self_)) {
    const std::string why = walk_.index == 0
                                ? std::string("first reachable member of the backup list")
                                : absl::StrCat(walk_.last_skip, ", next in backup list");
    BecomeMemberOf(
        *m.formation, m.epoch, "joined",
        absl::StrCat(self_, " joined ", m.from, "'s array (epoch ", m.epoch, "): ", why));
    Persist();
    return;
  }
  const std::string why = m.ok ? absl::StrCat(m.from, " is at a lower epoch") : m.reason;
  Record("candidate_refused", absl::StrCat(m.from, " refused ", self_, ": ", why));
  walk_.last_skip = absl::StrCat(m.from, " refused (", why, ")");
  walk_.candidate.clear();
  ++walk_.index;
  NextCandidate();
}

}  // namespace arraykit::failover
