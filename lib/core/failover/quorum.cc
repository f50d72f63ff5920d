// Quorum mode (DESIGN §5.3): leases from a majority of voters, elections for a new epoch, and
// the voter's side of both.
#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/check.h"
#include "core/failover/machine_util.h"
#include "core/failover/member_machine.h"
#include "core/model/json_reader.h"

namespace arraykit::failover {

using internal::Has;
using model::json_internal::FormatSeconds;

// A voted epoch nobody can go above (a peer's reply is input): not followed.
constexpr std::uint64_t kMaxEpoch = std::numeric_limits<std::uint64_t>::max();

// Whom a voter answers: the members of its own array, its fellow voters, and the members of the
// array it failed over from. A cleaned member (a one-member array, its own only voter) answers
// nobody of its old array.
bool MemberMachine::AnswersVotesOf(std::string_view from) const {
  return from == self_ || hard_.formation.Contains(from) || IsVoter(from) ||
         (hard_.original.has_value() && hard_.original->Contains(from));
}

// One function for both: a vote is a lease for a new epoch. A voter serves one member per epoch,
// and promises nobody else anything until the lease it granted has run out on its own clock.
// A lease (not a vote) goes only to the primary this voter follows (or to itself as primary): a
// voter lends its lease to the primary whose stream it accepts, so a primary that is writable
// holds a majority that can also commit its writes (seed 21237: a voter that followed another
// array kept a primary writable that could never commit).
bool MemberMachine::Grant(const std::string& from, std::uint64_t epoch, const LogPosition& log,
                          bool vote) {
  if (!IsVoter(self_) || !AnswersVotesOf(from)) return false;
  if (!vote && from != hard_.formation.primary) return false;
  if (vote ? epoch <= hard_.epoch : epoch < hard_.epoch) return false;
  if (epoch < hard_.voted_epoch) return false;
  if (epoch == hard_.voted_epoch && hard_.voted_for != from) return false;
  if (!hard_.promise_to.empty() && hard_.promise_to != from && now_.mono < hard_.promise_until) {
    return false;
  }
  if (log < hard_.log) return false;  // only to members at least as up to date
  // A renewal changes only the promise's end, which a restart recomputes (a full lease from
  // the restart): nothing to make durable, so a lease round costs the voters no disk flush.
  const bool renewal =
      hard_.voted_epoch == epoch && hard_.voted_for == from && hard_.promise_to == from;
  hard_.voted_epoch = epoch;
  hard_.voted_for = from;
  hard_.promise_to = from;
  hard_.promise_until = now_.mono + LeaseDuration();
  if (!renewal) Persist();
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
  // This primary, a voter, voted for another member in its epoch or a later one (an election
  // it took part in while it led an array apart, sim seed 6487): it lends itself no lease for
  // this epoch either, and moves past that one as it does for a peer's vote.
  if (IsVoter(self_) && hard_.voted_epoch >= hard_.epoch && hard_.voted_for != self_ &&
      hard_.voted_epoch < kMaxEpoch) {
    MovePast(hard_.voted_epoch, self_);
  }
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
    request.formation = SharedFormation();  // a voter that elected this member may join it
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
  // The epoch of its last vote, to a candidate, or to the primary it follows (which needs a
  // later epoch for its leases once this voter voted in one for another member; not when the
  // vote in the lease's epoch went to that primary: a later epoch would not help it).
  const bool lent_to_asker = hard_.voted_epoch == m.epoch && hard_.voted_for == m.from;
  if (vote || (m.from == hard_.formation.primary && !lent_to_asker)) {
    reply.voted_epoch = hard_.voted_epoch;
  }
  // A member asked for a lease by a primary it does not follow, at an earlier epoch, whose
  // array lists that primary: it names the primary it follows (a secondary's, or itself: a
  // secondary made primary by clean --contactmembers whose redirect the asker never received,
  // sim seed 2275), so the asker can join it. Not to its array's original primary, whose return
  // the recovery stage handles.
  if (!vote && role() != Role::kSearching && m.from != hard_.formation.primary &&
      m.epoch < hard_.epoch && hard_.formation.Contains(m.from) &&
      !(hard_.original.has_value() && hard_.original->primary == m.from)) {
    reply.formation = SharedFormation();
    reply.follows_epoch = hard_.epoch;
  }
  Send(std::move(reply));
}

void MemberMachine::OnLeaseRequest(const Message& m) {
  FollowNewerPrimary(m);
  // Its primary is there, and counts it as a member (a primary that does not refuses its
  // probes, and it must search: sim seed 16408).
  if (role() == Role::kSecondary && m.from == hard_.formation.primary &&
      m.epoch >= hard_.epoch && m.formation != nullptr && m.formation->Contains(self_)) {
    HeardFromPrimary();
  }
  ReplyToGrantRequest(m, MessageType::kLeaseReply, /*vote=*/false);
}

// A member follows the primary of a later epoch whose lease request lists it, when that tells
// that the message that should have moved it there was lost:
// - this voter elected the asker for that epoch (the election's answer was lost: it crashed
//   before the join reply arrived and restarted into its old array, or the reply was dropped);
// - the asker is a member of this member's array that leads an array of a later epoch listing
//   it: the redirect of a clean --contactmembers on the asker, which this member agreed to,
//   was lost (sim seeds 6064, 7101, 7402), or a failover went on without it. Not the array's
//   original primary, whose return the recovery stage handles.
// It joins that array now, as the lost message would have made it, and lends the lease once
// its promise to its old primary ended (Grant).
void MemberMachine::FollowNewerPrimary(const Message& m) {
  if (!quorum() || m.formation == nullptr || m.epoch <= hard_.epoch ||
      m.formation->primary != m.from || m.from == hard_.formation.primary ||
      !m.formation->Contains(self_) || role() == Role::kPrimary ||
      (stage_ != Stage::kSteady && stage_ != Stage::kSearching)) {
    return;
  }
  const bool elected = m.from == hard_.voted_for && m.epoch == hard_.voted_epoch;
  const bool of_my_array = hard_.formation.Contains(m.from) &&
                           !(hard_.original.has_value() && hard_.original->primary == m.from);
  if (!elected && !of_my_array) return;
  if (stage_ == Stage::kSteady) RecordOriginal();  // it leaves its array as a failover would
  const std::string why =
      elected ? absl::StrCat(self_, " voted for ", m.from, " in epoch ", m.epoch,
                             " and follows the primary it elected")
              : absl::StrCat(m.from, ", of ", self_, "'s array, leads it in a later epoch (",
                             self_, " followed ", hard_.formation.primary, " in epoch ",
                             hard_.epoch, ")");
  BecomeMemberOf(*m.formation, m.epoch, "joined",
                 absl::StrCat(self_, " joined ", m.from, "'s array (epoch ", m.epoch, "): ", why));
}

void MemberMachine::OnLeaseReply(const Message& m) {
  if (role() != Role::kPrimary || m.epoch != hard_.epoch) return;
  if (m.ok) return LeaseGranted(m.from, m.id);
  // The voter follows a primary of a later epoch whose array lists this member: that primary
  // was elected while this one led an array apart (sim seed 1798). Not writable, this one has
  // acknowledged nothing since its leases ran out; it follows that primary, whose stream rolls
  // back what it wrote unacknowledged. When that array was repaired from this member (the
  // voter's lineage names it), the recovery stage decides instead (the primary return action);
  // an array of another lineage has no recovery that would bring this one back.
  if (!writable() && m.formation != nullptr && m.follows_epoch > hard_.epoch &&
      m.follows_epoch < kMaxEpoch && m.formation->Contains(self_) &&
      m.formation->primary != self_ && m.formation->Contains(m.formation->primary) &&
      m.original_primary != self_) {
    const std::string primary = m.formation->primary;
    BecomeMemberOf(*m.formation, m.follows_epoch, "joined",
                   absl::StrCat(self_, " joined ", primary, "'s array (epoch ", m.follows_epoch,
                                "): voter ", m.from, " follows it"));
    Persist();
    return;
  }
  // A voter that follows this primary voted in this epoch or a later one (an election that
  // found no majority, maybe its own): it lends no lease for an earlier one, nor for this one
  // when it voted for another member. The primary moves past that epoch; its lease requests
  // for the new one are its votes (Grant: one member per epoch).
  if (m.voted_epoch >= hard_.epoch && m.voted_epoch < kMaxEpoch) {
    MovePast(m.voted_epoch, m.from);
    RequestLeases();
  }
}

void MemberMachine::MovePast(std::uint64_t voted_epoch, const std::string& voter) {
  const std::uint64_t epoch = voted_epoch + 1;
  Record("epoch_raised", absl::StrCat(self_, " moves to epoch ", epoch, ": ", voter,
                                      " voted in epoch ", voted_epoch,
                                      " and lends no lease for epoch ", hard_.epoch));
  SetEpoch(epoch);
  Persist();
}

void MemberMachine::OnVoteRequest(const Message& m) {
  // A candidate asked by another candidate for a later epoch, at least as up to date: its own
  // election cannot win (the other voted for itself) and its self-vote would block the other's.
  // It gives up and votes, as a Raft candidate steps down for a newer term.
  if (stage_ == Stage::kElecting && m.epoch > election_->epoch && !(m.log < hard_.log) &&
      IsVoter(self_) && AnswersVotesOf(m.from)) {
    EndElection(false);
  }
  ReplyToGrantRequest(m, MessageType::kVoteReply, /*vote=*/true);
}

void MemberMachine::OnVoteReply(const Message& m) {
  if (stage_ != Stage::kElecting || m.epoch != election_->epoch ||
      Has(election_->granted, m.from)) {
    return;
  }
  if (!m.ok) {
    // The voter voted in this epoch or a later one (another candidate's, or its own): this
    // election cannot have its vote; asking again above that epoch can.
    if (m.voted_epoch >= election_->epoch && m.voted_epoch < kMaxEpoch) {
      RestartElection(m.voted_epoch);
    }
    return;
  }
  election_->granted.push_back(m.from);
  if (election_->granted.size() >= Majority()) EndElection(true);
}

// ---- elections (the failover stage's last step in quorum mode) -------------------------------

void MemberMachine::StartElection(const std::string& reason) {
  AK_CHECK(stage_ == Stage::kSearching, self_, " stands as candidate in stage ", std::string(ToString(stage_)));
  Election election;
  election.epoch = NextEpoch();
  election.sent_at = now_.mono;
  // A lost primary's leases still bind its voters for a while (this member's own promise says
  // how long, theirs end about then): the election lasts that much longer, and the voters that
  // refused are asked again every monitor interval, so a failover detected just before the
  // leases ran out is not lost for it.
  absl::Duration bound = absl::ZeroDuration();
  if (!hard_.promise_to.empty() && hard_.promise_to != self_ && hard_.promise_until > now_.mono) {
    bound = hard_.promise_until - now_.mono;
  }
  election.deadline = now_.mono + bound + resilience().FindNewPrimaryTimeout();
  election.reason = reason;
  const std::uint64_t epoch = election.epoch;
  election_ = std::move(election);
  Become(Stage::kElecting, "election_started",
         absl::StrCat(self_, " asks the voters for epoch ", epoch, ": ", reason));
  AskVoters();
}

void MemberMachine::AskVoters() {
  AK_CHECK(stage_ == Stage::kElecting, self_, " asks for votes in stage ", std::string(ToString(stage_)));
  Election& election = *election_;
  const absl::Duration interval = resilience().monitor_interval;
  election.next_ask = now_.mono + interval;
  // The lost primary asked every voter for its lease at once, so this member's own promise ends
  // about when the others' do: they are asked again just after it, not a whole interval later.
  if (!hard_.promise_to.empty() && hard_.promise_to != self_ &&
      hard_.promise_until > now_.mono) {
    election.next_ask = std::min(election.next_ask, hard_.promise_until + interval / 20);
  }
  if (IsVoter(self_) && !Has(election.granted, self_) &&
      Grant(self_, election.epoch, hard_.log, /*vote=*/true)) {
    election.granted.push_back(self_);
  }
  for (const std::string& voter : hard_.formation.voters) {
    if (voter == self_ || Has(election.granted, voter)) continue;
    Message request = NewMessage(MessageType::kVoteRequest, voter);
    request.epoch = election.epoch;
    request.id = next_id_++;
    request.log = hard_.log;
    Send(std::move(request));
  }
  if (election.granted.size() >= Majority()) EndElection(true);
}

void MemberMachine::RestartElection(std::uint64_t taken) {
  Election& election = *election_;
  const std::uint64_t epoch = std::max(NextEpoch(), taken + 1);
  Record("election_restarted",
         absl::StrCat(self_, " asks the voters for epoch ", epoch, ": a voter already voted in "
                      "epoch ", taken, " (", election.epoch, " asked)"));
  election.epoch = epoch;
  election.granted.clear();
  election.sent_at = now_.mono;
  AskVoters();
}

void MemberMachine::EndElection(bool won) {
  AK_CHECK(stage_ == Stage::kElecting, self_, " ends an election in stage ", std::string(ToString(stage_)));
  Election election = *std::move(election_);
  const std::size_t voters = hard_.formation.voters.size();
  if (won) {
    BecomePromoted(election.epoch,
                   absl::StrCat(self_, " promoted itself: ", election.reason, "; votes from ",
                                election.granted.size(), " of ", voters, " voters (epoch ",
                                election.epoch, ")"));
    for (const std::string& voter : election.granted) RecordLease(voter, election.sent_at);
    UpdateWritable();
    for (const auto& [name, id] : election.waiting) AcceptJoiner(name, id);
    return;
  }
  const std::string why =
      absl::StrCat(self_, " won ", election.granted.size(), " of ", voters, " votes for epoch ",
                   election.epoch, ", ", Majority(), " needed");
  // Its promise to itself held nobody's lease: another candidate may have its vote now.
  if (hard_.promise_to == self_) {
    hard_.promise_to.clear();
    hard_.promise_until = absl::ZeroDuration();
  }
  Become(Stage::kSearching, "election_lost", why);
  for (const auto& [name, id] : election.waiting) RefuseJoiner(name, id, why);
  walk_.last_skip = why;
  ++walk_.index;
  NextCandidate();
}

}  // namespace arraykit::failover
