#include "core/failover/member_machine.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "core/model/json_reader.h"
#include "core/status.h"

namespace arraykit::failover {
namespace {

using model::json_internal::FormatSeconds;

bool Has(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

void Erase(std::vector<std::string>& names, std::string_view name) {
  names.erase(std::remove(names.begin(), names.end(), name), names.end());
}

std::string Names(const std::vector<std::string>& names) {
  return names.empty() ? std::string("none") : absl::StrJoin(names, ", ");
}

std::vector<std::string> Sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

std::string Clock2(int minute) {
  return absl::StrCat(minute / 60 < 10 ? "0" : "", minute / 60, ":", minute % 60 < 10 ? "0" : "",
                      minute % 60);
}

}  // namespace

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
  }
  return "unknown";
}

MemberMachine::MemberMachine(std::string self, HardState state, const Clock& now)
    : self_(std::move(self)),
      hard_(std::move(state)),
      now_(now),
      next_monitor_(now.mono),
      last_ack_at_(now.mono),
      recovery_pending_until_(now.mono),
      writable_until_(now.mono) {
  assert(hard_.formation.Contains(self_));
  // A deadline on the monotonic clock of an earlier boot means nothing now: a voter that made a
  // promise keeps it for a full lease from its restart.
  if (!hard_.promise_to.empty()) hard_.promise_until = now.mono + LeaseDuration();
  for (const std::string& member : hard_.formation.members) last_heard_[member] = now.mono;
  UpdateWritable();
}

Role MemberMachine::role() const {
  if (hard_.formation.primary == self_) return Role::kPrimary;
  return searching_ ? Role::kSearching : Role::kSecondary;
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
  assert(epoch >= hard_.epoch);
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
  assert(!persist_pending_);  // GetReady() must be called before Advance()
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
  if (searching_ && !walk_.candidate.empty()) {
    next = std::min(
        {next, walk_.next_attempt, walk_.step_started + resilience().FindNewPrimaryTimeout()});
  }
  if (election_.has_value()) next = std::min(next, election_->deadline);
  if (contact_clean_.has_value()) next = std::min(next, contact_clean_->deadline);
  if (quorum() && writable()) next = std::min(next, writable_until_);
  return next;
}

// ---- transitions ------------------------------------------------------------------------------

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
  recovery_pending_until_ = now_.mono;
  deferral_reported_ = false;
}

void MemberMachine::BecomeSearching(const std::string& reason, bool stand_now) {
  assert(role() == Role::kSecondary);
  RecordOriginal();
  const absl::Duration unreachable_for = now_.mono - last_ack_at_;
  ResetVolatile();
  searching_ = true;
  walk_.lost_primary = hard_.formation.primary;
  walk_.last_skip =
      absl::StrCat(walk_.lost_primary, " unreachable for ", FormatSeconds(unreachable_for));
  Record("failover_started", reason);
  Persist();
  if (stand_now) {
    const auto& list = hard_.formation.backup_primaries;
    walk_.index =
        static_cast<std::size_t>(std::find(list.begin(), list.end(), self_) - list.begin());
    StandAsCandidate(reason);
  } else {
    NextCandidate();
  }
}

void MemberMachine::BecomePrimary(std::string_view event, const std::string& reason) {
  Formation next = hard_.formation;
  next.primary = self_;
  next.members = {self_};
  Erase(next.backup_primaries, self_);
  ++next.version;
  hard_.formation = std::move(next);
  hard_.uncontactable.clear();
  hard_.repaired = true;
  searching_ = false;
  ResetVolatile();
  writable_ = !quorum();
  Record(event, reason);
  Persist();
}

void MemberMachine::BecomeSecondary(const Formation& formation, std::uint64_t epoch,
                                    std::string_view event, const std::string& reason) {
  hard_.formation = formation;
  SetEpoch(std::max(epoch, hard_.epoch));
  hard_.uncontactable.clear();
  searching_ = false;
  ResetVolatile();
  Record(event, reason);
  Persist();
}

void MemberMachine::BecomeStandalone(std::string_view event, const std::string& reason) {
  SetEpoch(NextEpoch());
  Formation next = hard_.formation;
  next.primary = self_;
  next.members = {self_};
  next.backup_primaries.clear();
  ++next.version;
  hard_.formation = std::move(next);
  hard_.uncontactable.clear();
  hard_.repaired = hard_.original.has_value();
  searching_ = false;
  ResetVolatile();
  writable_ = !quorum();
  Record(event, reason);
  Persist();
  if (quorum()) RequestLeases();
}

// ---- time ---------------------------------------------------------------------------------------

void MemberMachine::Tick(const Clock& now) {
  assert(now.mono >= now_.mono);
  now_ = now;
  if (contact_clean_.has_value() && now_.mono >= contact_clean_->deadline) FinishContactClean();
  if (election_.has_value() && now_.mono >= election_->deadline) EndElection(false);
  if (searching_ && !election_.has_value()) WalkTick();
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

void MemberMachine::PrimaryMonitor() {
  const model::Resilience& r = resilience();
  if (r.failover_enabled) {
    const absl::Duration grace = r.GracePeriod();
    bool marked = false;
    for (const std::string& member : hard_.formation.members) {
      if (member == self_ || IsUncontactable(member)) continue;
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
    // Recovery stage: a repaired primary keeps looking for the original primary.
    if (hard_.original.has_value() && hard_.original->primary != self_ &&
        !hard_.recovery_declined && !hard_.manual_recovery_required &&
        now_.mono >= recovery_pending_until_) {
      Message probe = NewMessage(MessageType::kRecoveryProbe, hard_.original->primary);
      probe.id = next_id_++;
      Send(std::move(probe));
    }
  }
  if (quorum()) {
    if (writable()) {
      // One replicated write per monitor interval stands for the array's write traffic.
      hard_.log =
          LogPosition{hard_.epoch, hard_.log.epoch == hard_.epoch ? hard_.log.index + 1 : 1};
      Persist();
    }
    RequestLeases();
  }
}

void MemberMachine::SecondaryMonitor() {
  const model::Resilience& r = resilience();
  if (probe_id_ != 0 && !probe_answered_) ++misses_;
  const std::string& primary = hard_.formation.primary;
  if (misses_ >= r.monitor_attempts) {
    if (r.failover_enabled) {
      BecomeSearching(
          absl::StrCat(primary, " unreachable for ", FormatSeconds(now_.mono - last_ack_at_), ": ",
                       misses_, " probes in a row unanswered (grace period ",
                       FormatSeconds(r.GracePeriod()), ")"),
          /*stand_now=*/false);
      return;
    }
    if (!loss_reported_) {
      loss_reported_ = true;
      Record("primary_unreachable",
             absl::StrCat(primary, " unreachable for ", FormatSeconds(now_.mono - last_ack_at_),
                          "; failover is disabled (failover_enabled false): no action"));
    }
  }
  probe_id_ = next_id_++;
  probe_answered_ = false;
  Message probe = NewMessage(MessageType::kProbe, primary);
  probe.id = probe_id_;
  probe.version = hard_.formation.version;
  Send(std::move(probe));
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
  BecomeStandalone("standalone",
                   absl::StrCat(self_, " became standalone: ",
                                list.empty() ? "the backup primaries list is empty"
                                             : absl::StrCat("backup primaries list exhausted (",
                                                            walk_.last_skip, ")")));
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
  SetEpoch(NextEpoch());
  BecomePrimary("promoted",
                absl::StrCat(self_, " promoted itself: ", reason, " (epoch ", hard_.epoch, ")"));
}

void MemberMachine::StartElection(const std::string& reason) {
  Election election;
  election.epoch = NextEpoch();
  election.sent_at = now_.mono;
  election.deadline = now_.mono + resilience().FindNewPrimaryTimeout();
  election.reason = reason;
  election_ = std::move(election);
  Record("election_started",
         absl::StrCat(self_, " asks the voters for epoch ", election_->epoch, ": ", reason));
  if (IsVoter(self_) && Grant(self_, election_->epoch, hard_.log, /*vote=*/true)) {
    election_->granted.push_back(self_);
  }
  for (const std::string& voter : hard_.formation.voters) {
    if (voter == self_) continue;
    Message request = NewMessage(MessageType::kVoteRequest, voter);
    request.epoch = election_->epoch;
    request.id = next_id_++;
    request.log = hard_.log;
    Send(std::move(request));
  }
  if (election_->granted.size() >= Majority()) EndElection(true);
}

void MemberMachine::EndElection(bool won) {
  Election election = *std::move(election_);
  election_.reset();
  const std::size_t voters = hard_.formation.voters.size();
  if (won) {
    SetEpoch(election.epoch);
    BecomePrimary("promoted", absl::StrCat(self_, " promoted itself: ", election.reason,
                                           "; votes from ", election.granted.size(), " of ", voters,
                                           " voters (epoch ", election.epoch, ")"));
    for (const std::string& voter : election.granted) RecordLease(voter, election.sent_at);
    UpdateWritable();
    for (const auto& [name, id] : election.waiting) AcceptJoiner(name, id);
    return;
  }
  const std::string why =
      absl::StrCat(self_, " won ", election.granted.size(), " of ", voters, " votes for epoch ",
                   election.epoch, ", ", Majority(), " needed");
  Record("election_lost", why);
  for (const auto& [name, id] : election.waiting) RefuseJoiner(name, id, why);
  if (searching_) {
    walk_.last_skip = why;
    ++walk_.index;
    NextCandidate();
  }
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
  if (hard_.original.has_value()) {
    const std::vector<std::string>& order = hard_.original->members;
    std::stable_sort(f.members.begin(), f.members.end(),
                     [&order](const std::string& a, const std::string& b) {
                       return std::find(order.begin(), order.end(), a) <
                              std::find(order.begin(), order.end(), b);
                     });
  }
  ++f.version;
}

void MemberMachine::TakeOver(const Message& request) {
  if (role() == Role::kPrimary) {
    AcceptJoiner(request.from, request.id);
  } else if (election_.has_value()) {
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
      if (misses_ == 0) {
        return RefuseJoiner(m.from, m.id, absl::StrCat(self_, " still reaches ", m.subject));
      }
      if (!listed) {
        return RefuseJoiner(m.from, m.id,
                            absl::StrCat(self_, " is not in the backup primaries list"));
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
      if (election_.has_value()) {
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
  if (!searching_ || m.from != walk_.candidate || m.id < walk_.first_request_id) return;
  if (m.ok && m.formation != nullptr && m.epoch >= hard_.epoch && m.formation->Contains(self_)) {
    const std::string why = walk_.index == 0
                                ? std::string("first reachable member of the backup list")
                                : absl::StrCat(walk_.last_skip, ", next in backup list");
    BecomeSecondary(
        *m.formation, m.epoch, "joined",
        absl::StrCat(self_, " joined ", m.from, "'s array (epoch ", m.epoch, "): ", why));
    if (m.log > hard_.log) hard_.log = m.log;
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

// ---- monitoring ---------------------------------------------------------------------------------

void MemberMachine::OnProbe(const Message& m) {
  Message reply = NewMessage(MessageType::kProbeAck, m.from);
  reply.id = m.id;
  reply.log = hard_.log;
  if (role() == Role::kPrimary) {
    // A member the original primary handed over (acceptsecondary) may probe before the hand-over
    // reply arrives; it carries this epoch, which only a redirect could have told it.
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
    }
  } else {
    reply.reason = absl::StrCat(self_, " is not a primary");
  }
  Send(std::move(reply));
}

void MemberMachine::OnProbeAck(const Message& m) {
  if (role() != Role::kSecondary || m.from != hard_.formation.primary || m.id != probe_id_) return;
  if (!m.ok || m.epoch < hard_.epoch) return;  // refused, or a primary of an older epoch
  probe_answered_ = true;
  misses_ = 0;
  loss_reported_ = false;
  last_ack_at_ = now_.mono;
  bool changed = false;
  if (m.epoch > hard_.epoch) {
    SetEpoch(m.epoch);
    changed = true;
  }
  if (m.formation != nullptr && *m.formation != hard_.formation && m.formation->Contains(self_)) {
    hard_.formation = *m.formation;
    changed = true;
  }
  if (m.log > hard_.log) {
    hard_.log = m.log;
    changed = true;
  }
  if (changed) Persist();
}

// ---- recovery stage
// ------------------------------------------------------------------------------

void MemberMachine::CheckRecovered() {
  if (!hard_.original.has_value() || role() != Role::kPrimary) return;
  for (const std::string& member : hard_.original->members) {
    if (!hard_.formation.Contains(member) || IsUncontactable(member)) return;
  }
  Record("recovered", absl::StrCat("original formation recreated: ", self_, " is primary of ",
                                   Names(hard_.formation.members)));
  hard_.original.reset();
  hard_.repaired = false;
  hard_.manual_recovery_required = false;
  hard_.recovery_declined = false;
}

void MemberMachine::OnRecoveryProbe(const Message& m) {
  Message reply = NewMessage(MessageType::kRecoveryProbeAck, m.from);
  reply.id = m.id;
  // Only the primary of the array the asker left counts as "the original primary is back": a
  // primary that was cleaned (or re-formed without the asker) is another array now.
  reply.ok = role() == Role::kPrimary && hard_.formation.Contains(m.from);
  if (reply.ok) reply.members = ContactableMembers();
  Send(std::move(reply));
}

void MemberMachine::OnRecoveryProbeAck(const Message& m) {
  if (role() != Role::kPrimary || !hard_.original.has_value() ||
      hard_.original->primary != m.from || !m.ok || hard_.recovery_declined ||
      hard_.manual_recovery_required || now_.mono < recovery_pending_until_) {
    return;
  }
  const model::Resilience& r = resilience();
  switch (r.primary_return_action) {
    case model::PrimaryReturnAction::kAccept: {
      if (r.failback_window.has_value()) {
        const absl::CivilMinute civil = absl::ToCivilMinute(now_.wall, absl::UTCTimeZone());
        const int minute = civil.hour() * 60 + civil.minute();
        if (!r.failback_window->Contains(minute)) {
          if (!deferral_reported_) {
            deferral_reported_ = true;
            Record("recovery_deferred",
                   absl::StrCat(m.from, " is reachable again; failback waits for the window ",
                                Clock2(r.failback_window->start_minute), "-",
                                Clock2(r.failback_window->end_minute), " UTC (now ", Clock2(minute),
                                ")"));
          }
          return;
        }
      }
      deferral_reported_ = false;
      Record("recovery_started",
             absl::StrCat(m.from, " is reachable again; primary return action accept: ", self_,
                          " and its members rejoin ", m.from));
      Message join = NewMessage(MessageType::kRecoveryJoin, m.from);
      join.id = next_id_++;
      join.members = ContactableMembers();
      join.log = hard_.log;
      Send(std::move(join));
      recovery_pending_until_ = now_.mono + r.FindNewPrimaryTimeout();
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
        Record("manual_recovery_required",
               absl::StrCat("the array split into more than two arrays: ", Names(missing),
                            " in neither ", m.from, "'s nor ", self_,
                            "'s array; primary return action acceptsecondary cannot recreate it "
                            "automatically (run clean, then rebuild)"));
        Persist();
        return;
      }
      SetEpoch(std::max(hard_.epoch, m.epoch) + 1);
      Record("recovery_started",
             absl::StrCat(m.from, " is reachable again; primary return action acceptsecondary: ",
                          m.from, " and its members join ", self_, "'s array as secondaries"));
      Persist();
      Message absorb = NewMessage(MessageType::kAbsorb, m.from);
      absorb.id = next_id_++;
      absorb.formation = SharedFormation();
      Send(std::move(absorb));
      recovery_pending_until_ = now_.mono + r.FindNewPrimaryTimeout();
      if (quorum()) RequestLeases();
      return;
    }
    case model::PrimaryReturnAction::kNone:
      hard_.recovery_declined = true;
      Record("recovery_declined",
             absl::StrCat(m.from,
                          " is reachable again; primary return action none: the arrays "
                          "stay as they are"));
      Persist();
      return;
  }
}

void MemberMachine::OnRecoveryJoin(const Message& m) {
  if (role() != Role::kPrimary) return;
  SetEpoch(std::max(hard_.epoch, m.epoch) + 1);
  // The joining array's repository is the newer one: take it over before leading again.
  if (m.log > hard_.log) hard_.log = m.log;
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
  hard_.original.reset();
  hard_.repaired = false;
  BecomeSecondary(
      *m.formation, m.epoch, "rejoined",
      absl::StrCat(self_, " rejoined ", m.from,
                   " as a secondary (primary return action accept, epoch ", m.epoch, ")"));
  for (const std::string& member : former) {
    if (member == self_ || member == m.from) continue;
    Message redirect = NewMessage(MessageType::kRedirect, member);
    redirect.formation = m.formation;
    redirect.reason = absl::StrCat("recovery: ", m.from, " is the primary again");
    Send(std::move(redirect));
  }
}

void MemberMachine::OnAbsorb(const Message& m) {
  if (role() != Role::kPrimary || m.epoch <= hard_.epoch || m.formation == nullptr) return;
  std::vector<std::string> former = ContactableMembers();
  // The array this member and its secondaries join: the repaired array plus themselves.
  Formation next = *m.formation;
  for (const std::string& member : former) {
    if (!next.Contains(member)) next.members.push_back(member);
  }
  if (hard_.original.has_value()) {
    const std::vector<std::string>& order = hard_.original->members;
    std::stable_sort(next.members.begin(), next.members.end(),
                     [&order](const std::string& a, const std::string& b) {
                       return std::find(order.begin(), order.end(), a) <
                              std::find(order.begin(), order.end(), b);
                     });
  }
  hard_.original.reset();
  hard_.repaired = false;
  hard_.manual_recovery_required = false;
  const std::string new_primary = m.from;
  BecomeSecondary(
      next, m.epoch, "absorbed",
      absl::StrCat(self_, " joined ", new_primary, "'s array as a secondary with ", Names(former),
                   " (primary return action acceptsecondary, epoch ", m.epoch, ")"));
  auto shared = std::make_shared<const Formation>(next);
  for (const std::string& member : former) {
    if (member == self_ || member == new_primary) continue;
    Message redirect = NewMessage(MessageType::kRedirect, member);
    redirect.formation = shared;
    redirect.reason = absl::StrCat("recovery: ", self_, " joined ", new_primary, "'s array");
    Send(std::move(redirect));
  }
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
         absl::StrCat(Names(m.members), " joined ", self_,
                      "'s array as secondaries (primary return action acceptsecondary)"));
  CheckRecovered();
  Persist();
}

void MemberMachine::OnRedirect(const Message& m) {
  if (m.formation == nullptr || m.epoch < hard_.epoch || !m.formation->Contains(self_)) return;
  const bool from_primary = m.from == hard_.formation.primary;
  const bool clean = m.ok && hard_.formation.Contains(m.from);
  if (!from_primary && !clean) return;
  hard_.original.reset();
  hard_.repaired = false;
  hard_.manual_recovery_required = false;
  hard_.recovery_declined = false;
  BecomeSecondary(*m.formation, m.epoch, "redirected",
                  absl::StrCat(self_, " follows ", m.formation->primary, " now (", m.reason, ")"));
}

// ---- quorum mode
// ---------------------------------------------------------------------------------

// One function for both: a vote is a lease for a new epoch. A voter serves one member per epoch,
// and promises nobody else anything until the lease it granted has run out on its own clock.
bool MemberMachine::Grant(const std::string& from, std::uint64_t epoch, const LogPosition& log,
                          bool vote) {
  if (!IsVoter(self_)) return false;
  if (vote ? epoch <= hard_.epoch : epoch < hard_.epoch) return false;
  if (epoch < hard_.voted_epoch) return false;
  if (epoch == hard_.voted_epoch && hard_.voted_for != from) return false;
  if (!hard_.promise_to.empty() && hard_.promise_to != from && now_.mono < hard_.promise_until) {
    return false;
  }
  if (log < hard_.log) return false;  // only to members at least as up to date
  hard_.voted_epoch = epoch;
  hard_.voted_for = from;
  hard_.promise_to = from;
  hard_.promise_until = now_.mono + LeaseDuration();
  hard_.log = log;
  Persist();
  return true;
}

void MemberMachine::RecordLease(const std::string& voter, absl::Duration sent_at) {
  const absl::Duration until = sent_at + SafeLease();
  auto [it, inserted] = lease_until_.try_emplace(voter, until);
  if (!inserted) it->second = std::max(it->second, until);
}

void MemberMachine::LeaseGranted(const std::string& voter, std::uint64_t round) {
  auto it = lease_rounds_.find(round);
  if (it == lease_rounds_.end()) return;
  RecordLease(voter, it->second.sent_at);
  if (++it->second.grants >= Majority() && it->second.log > acknowledged_) {
    acknowledged_ = it->second.log;
  }
  UpdateWritable();
}

void MemberMachine::RequestLeases() {
  if (role() != Role::kPrimary || !quorum()) return;
  const std::uint64_t round = next_id_++;
  lease_rounds_[round] = LeaseRound{now_.mono, hard_.log, 0};
  while (lease_rounds_.size() > 16) lease_rounds_.erase(lease_rounds_.begin());
  for (const std::string& voter : hard_.formation.voters) {
    if (voter == self_) {
      if (Grant(self_, hard_.epoch, hard_.log, /*vote=*/false)) LeaseGranted(self_, round);
      continue;
    }
    Message request = NewMessage(MessageType::kLeaseRequest, voter);
    request.id = round;
    request.log = hard_.log;
    Send(std::move(request));
  }
}

void MemberMachine::UpdateWritable() {
  bool now_writable = false;
  if (role() == Role::kPrimary) {
    if (!quorum()) {
      now_writable = true;
    } else {
      std::vector<absl::Duration> valid;
      for (const auto& [voter, until] : lease_until_) {
        if (until > now_.mono && IsVoter(voter)) valid.push_back(until);
      }
      const std::size_t majority = Majority();
      if (!hard_.formation.voters.empty() && valid.size() >= majority) {
        std::sort(valid.begin(), valid.end(), std::greater<>());
        writable_until_ = valid[majority - 1];
        now_writable = true;
      }
    }
  }
  if (now_writable == writable_) return;
  writable_ = now_writable;
  if (!quorum() || role() != Role::kPrimary) return;
  std::size_t holding = 0;
  for (const auto& [voter, until] : lease_until_) holding += until > now_.mono ? 1 : 0;
  Record(now_writable ? "writable" : "stepped_down",
         now_writable
             ? absl::StrCat(self_, " accepts writes: leases from ", holding, " of ",
                            hard_.formation.voters.size(), " voters (epoch ", hard_.epoch, ")")
             : absl::StrCat(self_, " stepped down (writable: false): leases from ", holding, " of ",
                            hard_.formation.voters.size(), " voters, ", Majority(),
                            " needed; no majority renewal for the grace period (",
                            FormatSeconds(resilience().GracePeriod()), ")"));
}

void MemberMachine::ReplyToGrantRequest(const Message& m, MessageType reply_type, bool vote) {
  Message reply = NewMessage(reply_type, m.from);
  reply.id = m.id;
  reply.ok = Grant(m.from, m.epoch, m.log, vote);
  reply.epoch = m.epoch;
  Send(std::move(reply));
}

void MemberMachine::OnLeaseRequest(const Message& m) {
  ReplyToGrantRequest(m, MessageType::kLeaseReply, /*vote=*/false);
}

void MemberMachine::OnLeaseReply(const Message& m) {
  if (!m.ok || role() != Role::kPrimary || m.epoch != hard_.epoch) return;
  LeaseGranted(m.from, m.id);
}

void MemberMachine::OnVoteRequest(const Message& m) {
  ReplyToGrantRequest(m, MessageType::kVoteReply, /*vote=*/true);
}

void MemberMachine::OnVoteReply(const Message& m) {
  if (!m.ok || !election_.has_value() || m.epoch != election_->epoch ||
      Has(election_->granted, m.from)) {
    return;
  }
  election_->granted.push_back(m.from);
  if (election_->granted.size() >= Majority()) EndElection(true);
}

// ---- operator actions
// ------------------------------------------------------------------------------

std::string MemberMachine::BusyReason() const {
  if (searching_ || election_.has_value()) {
    return absl::StrCat("a failover is under way on ", self_, " (", walk_.lost_primary,
                        " is unreachable; walking the backup primaries list)");
  }
  if (contact_clean_.has_value()) {
    return absl::StrCat("clean --contactmembers is collecting answers on ", self_);
  }
  if (!hard_.uncontactable.empty()) {
    return absl::StrCat("the failover stage is under way: ", Names(hard_.uncontactable),
                        " uncontactable");
  }
  if (now_.mono < recovery_pending_until_) return "the recovery stage is under way";
  if (hard_.original.has_value()) {
    return absl::StrCat(
        "the array is repaired and waits for the recovery stage (original "
        "primary ",
        hard_.original->primary,
        "); a change now would keep the original formation from being "
        "recreated (run clean to rebuild manually)");
  }
  return "";
}

absl::Status MemberMachine::ProposeChange(const FormationChange& change) {
  auto refuse = [this](absl::Status status, std::string code) {
    Record("change_refused", std::string(status.message()), std::move(code));
    return status;
  };
  if (role() != Role::kPrimary) {
    return refuse(MakeError(ErrorCode::kNotPrimary,
                            absl::StrCat("change refused: ", self_, " is not the primary (",
                                         hard_.formation.primary, " is)")),
                  "not_primary");
  }
  if (const std::string busy = BusyReason(); !busy.empty()) {
    return refuse(MakeError(ErrorCode::kBusy, absl::StrCat("change refused (AK_EBUSY): ", busy)),
                  "busy");
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
                                                              i, "]: ", name, " ", problem)),
                      "invalid_argument");
      }
    }
    hard_.formation.backup_primaries = list;
    summary.push_back(absl::StrCat("backup primaries list ", Names(list)));
  }
  if (change.resilience.has_value()) {
    hard_.formation.resilience = *change.resilience;
    summary.push_back("resilience settings");
  }
  ++hard_.formation.version;
  Record("change_applied", absl::StrCat(self_, " changed the ", absl::StrJoin(summary, " and ")));
  Persist();
  return absl::OkStatus();
}

absl::Status MemberMachine::Clean(bool contact_members) {
  if (contact_clean_.has_value()) {
    return MakeError(ErrorCode::kBusy,
                     absl::StrCat("clean --contactmembers is already under way on ", self_));
  }
  hard_.original.reset();
  hard_.repaired = false;
  hard_.manual_recovery_required = false;
  hard_.recovery_declined = false;
  if (!contact_members || hard_.formation.members.size() == 1) {
    BecomeStandalone("cleaned", absl::StrCat("operator ran clean on ", self_,
                                             ": standalone, array state removed"));
    return absl::OkStatus();
  }
  ContactClean clean;
  clean.id = next_id_++;
  clean.deadline = now_.mono + resilience().find_primary_interval;
  contact_clean_ = std::move(clean);
  Record("clean_started",
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
  if (!contact_clean_.has_value() || m.id != contact_clean_->id ||
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
  contact_clean_.reset();
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
  std::vector<std::string> backups;
  for (const std::string& name : next.backup_primaries) {
    if (name != self_ && Has(clean.agreeing, name)) backups.push_back(name);
  }
  next.backup_primaries = std::move(backups);
  ++next.version;
  SetEpoch(NextEpoch());
  hard_.formation = std::move(next);
  hard_.uncontactable.clear();
  hard_.original.reset();
  hard_.repaired = false;
  searching_ = false;
  ResetVolatile();
  writable_ = !quorum();
  Record("cleaned", absl::StrCat("clean --contactmembers on ", self_, ": it stays with ",
                                 Names(clean.agreeing), " (contactable, same membership); dropped ",
                                 Names(dropped)));
  Persist();
  for (const std::string& member : clean.agreeing) {
    Message redirect = NewMessage(MessageType::kRedirect, member);
    redirect.ok = true;
    redirect.formation = SharedFormation();
    redirect.reason = absl::StrCat("clean --contactmembers on ", self_);
    Send(std::move(redirect));
  }
  if (quorum()) RequestLeases();
}

// ---- dispatch
// ----------------------------------------------------------------------------------------

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
  }
}

}  // namespace arraykit::failover
