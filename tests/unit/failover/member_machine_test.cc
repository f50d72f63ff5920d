// The failover state machine driven directly: Tick/Step in, Ready out.
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>

#include <catch2/catch.hpp>

#include "core/failover/member_machine.h"
#include "core/status.h"

namespace {

using arraykit::failover::Clock;
using arraykit::failover::Formation;
using arraykit::failover::HardState;
using arraykit::failover::LogPosition;
using arraykit::failover::MemberMachine;
using arraykit::failover::Message;
using arraykit::failover::MessageType;
using arraykit::failover::Ready;
using arraykit::failover::Role;

Clock At(double seconds) {
  return Clock{absl::Seconds(seconds), absl::UnixEpoch() + absl::Seconds(seconds)};
}

HardState Configured(bool quorum = false) {
  HardState state;
  state.formation.primary = "a";
  state.formation.members = {"a", "b", "c"};
  state.formation.backup_primaries = {"b", "c"};
  state.formation.voters = {"a", "b", "c"};
  state.formation.resilience.failover_enabled = true;
  if (quorum) state.formation.resilience.mode = arraykit::model::ResilienceMode::kQuorum;
  state.formation.version = 1;
  return state;
}

// Drains Ready, returning it (persist, messages, events).
Ready Drain(MemberMachine& machine) {
  Ready ready = machine.GetReady();
  machine.Advance();
  return ready;
}

bool HasEvent(const Ready& ready, const std::string& event) {
  for (const auto& entry : ready.events) {
    if (entry.event == event) return true;
  }
  return false;
}

// c asks b, in epoch 1, whether it should become primary now that a is lost.
Message FindPrimaryFromC(std::uint64_t id) {
  Message ask;
  ask.type = MessageType::kFindPrimary;
  ask.from = "c";
  ask.to = "b";
  ask.id = id;
  ask.epoch = 1;
  ask.subject = "a";
  ask.original_primary = "a";
  return ask;
}

// The primary's answer to `probe`, at `epoch`.
Message AckTo(const Message& probe, std::uint64_t epoch = 1) {
  Message ack;
  ack.type = MessageType::kProbeAck;
  ack.from = probe.to;
  ack.to = probe.from;
  ack.id = probe.id;
  ack.epoch = epoch;
  ack.ok = true;
  return ack;
}

// The answer to the one probe `probe` holds.
Message Ack(const Ready& probe, std::uint64_t epoch) { return AckTo(probe.messages.at(0), epoch); }

TEST_CASE("a secondary probes every monitor interval and promotes itself after the grace period") {
  MemberMachine b("b", Configured(), At(0));
  b.Tick(At(0));
  Ready ready = Drain(b);
  REQUIRE(ready.messages.size() == 1);
  CHECK(ready.messages[0].type == MessageType::kProbe);
  CHECK(ready.messages[0].to == "a");
  CHECK(b.NextWakeup() == absl::Seconds(60));
  for (int t = 60; t < 600; t += 60) {
    b.Tick(At(t));
    ready = Drain(b);
    CHECK(b.role() == Role::kSecondary);
    CHECK(ready.messages.size() == 1);
  }
  b.Tick(At(600));
  ready = Drain(b);
  CHECK(HasEvent(ready, "failover_started"));
  CHECK(HasEvent(ready, "promoted"));
  REQUIRE(ready.persist.has_value());
  CHECK(ready.persist->epoch == 2);
  CHECK(ready.persist->original.has_value());
  CHECK(ready.persist->original->primary == "a");
  CHECK(b.role() == Role::kPrimary);
  CHECK(b.writable());
}

TEST_CASE("an answered probe resets the count of misses") {
  MemberMachine b("b", Configured(), At(0));
  for (int t = 0; t <= 1200; t += 60) {
    b.Tick(At(t));
    Ready ready = Drain(b);
    REQUIRE(ready.messages.size() == 1);
    if (t % 300 == 0) {  // the primary answers now and then
      b.Step(AckTo(ready.messages[0]));
      Drain(b);
    }
  }
  CHECK(b.role() == Role::kSecondary);
}

TEST_CASE("a candidate that still reaches the original primary refuses") {
  MemberMachine b("b", Configured(), At(0));
  b.Tick(At(0));
  Ready ready = Drain(b);
  b.Step(AckTo(ready.messages[0]));
  Drain(b);
  b.Tick(At(60));
  Drain(b);
  Message ask = FindPrimaryFromC(9);
  b.Step(ask);
  ready = Drain(b);
  REQUIRE(ready.messages.size() == 1);
  CHECK(ready.messages[0].type == MessageType::kFindPrimaryReply);
  CHECK_FALSE(ready.messages[0].ok);
  CHECK(ready.messages[0].reason == "b still reaches a");
  CHECK(b.role() == Role::kSecondary);
}

TEST_CASE("the same inputs give the same outputs") {
  auto run = [] {
    MemberMachine b("b", Configured(true), At(0));
    std::vector<std::string> trace;
    for (int t = 0; t <= 900; t += 30) {
      b.Tick(At(t));
      Ready ready = Drain(b);
      for (const auto& m : ready.messages) trace.push_back(m.to + ":" + std::to_string(m.id));
      for (const auto& e : ready.events) trace.push_back(e.event + ":" + e.reason);
    }
    return trace;
  };
  CHECK(run() == run());
  CHECK_FALSE(run().empty());
}

TEST_CASE("planned members are not marked uncontactable until they joined") {
  MemberMachine a("a", Configured(), At(0));
  a.SetPlanned({"b", "c"});
  a.Tick(At(600));  // nobody answered for the grace period
  Ready ready = Drain(a);
  CHECK_FALSE(HasEvent(ready, "member_uncontactable"));
  CHECK_FALSE(a.busy());
  // b joins into its place; from then on its silence counts.
  REQUIRE(a.AdmitPlanned("b", a.epoch()).ok());
  a.Tick(At(1300));
  ready = Drain(a);
  CHECK(HasEvent(ready, "member_uncontactable"));
  CHECK(a.hard_state().uncontactable == std::vector<std::string>{"b"});
}

TEST_CASE("changes go to the primary and are refused during a failover") {
  MemberMachine b("b", Configured(), At(0));
  arraykit::failover::FormationChange change;
  change.backup_primaries = std::vector<std::string>{"c"};
  absl::Status status = b.ProposeChange(change);
  CHECK(arraykit::GetErrorCode(status) == arraykit::ErrorCode::kNotPrimary);

  MemberMachine a("a", Configured(), At(0));
  CHECK(a.ProposeChange(change).ok());
  CHECK(Drain(a).persist->formation.backup_primaries == std::vector<std::string>{"c"});
  change.backup_primaries = std::vector<std::string>{"a"};
  CHECK(a.ProposeChange(change).code() == absl::StatusCode::kInvalidArgument);
  // Nobody answers for the grace period: b and c become uncontactable, a failover stage.
  a.Tick(At(600));
  Ready ready = Drain(a);
  CHECK(HasEvent(ready, "member_uncontactable"));
  change.backup_primaries = std::vector<std::string>{"b"};
  status = a.ProposeChange(change);
  CHECK(arraykit::GetErrorCode(status) == arraykit::ErrorCode::kBusy);
  CHECK(arraykit::ReasonOf(status) == "busy");
  CHECK_THAT(std::string(status.message()), Catch::Matchers::Contains("uncontactable"));
  // An operator's message names no C constant.
  CHECK_THAT(std::string(status.message()), !Catch::Matchers::Contains("AK_"));
  ready = Drain(a);
  REQUIRE(HasEvent(ready, "change_refused"));
  CHECK(ready.events.back().code == "busy");
  CHECK(a.stage() == arraykit::failover::Stage::kSteady);
}

TEST_CASE("a voter grants one vote per epoch and keeps its lease promise") {
  MemberMachine c("c", Configured(true), At(0));
  auto request = [&c](MessageType type, const std::string& from, std::uint64_t epoch) {
    Message m;
    m.type = type;
    m.from = from;
    m.to = "c";
    m.id = 1;
    m.epoch = epoch;
    c.Step(m);
    Ready ready = Drain(c);
    REQUIRE(ready.messages.size() == 1);
    return ready.messages[0].ok;
  };
  c.Tick(At(0));
  Drain(c);
  CHECK(request(MessageType::kLeaseRequest, "a", 1));  // the primary's lease
  // The lease lasts the grace period: promised to a until 600 s.
  CHECK_FALSE(request(MessageType::kVoteRequest, "b", 2));
  c.Tick(At(599));
  Drain(c);
  CHECK_FALSE(request(MessageType::kVoteRequest, "b", 2));
  c.Tick(At(600));
  Drain(c);
  CHECK(request(MessageType::kVoteRequest, "b", 2));
  CHECK_FALSE(request(MessageType::kVoteRequest, "a", 2));   // one vote per epoch
  CHECK_FALSE(request(MessageType::kLeaseRequest, "a", 1));  // a lower epoch is fenced off
  CHECK(c.hard_state().voted_for == "b");
}

TEST_CASE("a restarted voter keeps its promise for a full lease") {
  HardState state = Configured(true);
  state.voted_epoch = 1;
  state.voted_for = "a";
  state.promise_to = "a";
  state.promise_until = absl::Seconds(10);
  MemberMachine c("c", state, At(500));
  CHECK(c.hard_state().promise_until == absl::Seconds(500 + 600));
}

TEST_CASE("answers from a primary of a lower epoch are fenced off and count as misses") {
  HardState state = Configured();
  state.epoch = 3;
  MemberMachine b("b", state, At(0));
  for (int t = 0; t < 600; t += 60) {
    b.Tick(At(t));
    Ready ready = Drain(b);
    b.Step(Ack(ready, 2));  // a stale primary answers every probe
    Drain(b);
    CHECK(b.role() == Role::kSecondary);
  }
  b.Tick(At(600));
  CHECK(HasEvent(Drain(b), "failover_started"));
  CHECK(b.epoch() == 4);  // it promoted itself above every epoch it has seen
}

TEST_CASE("a probe answered after a miss counts as contact regained (the replicator says hello)") {
  MemberMachine b("b", Configured(), At(0));
  b.Tick(At(0));
  b.Step(Ack(Drain(b), 1));  // answered at once: nothing was lost
  Drain(b);
  CHECK(b.primary_contacts() == 0);
  b.Tick(At(60));
  Drain(b);         // the probe of 60 s is lost
  b.Tick(At(120));  // a miss; the probe of 120 s is answered
  Ready probe = Drain(b);
  b.Step(Ack(probe, 1));
  Drain(b);
  CHECK(b.primary_contacts() == 1);
  b.Tick(At(180));
  b.Step(Ack(Drain(b), 1));
  Drain(b);
  CHECK(b.primary_contacts() == 1);  // no miss in between
}

// The seed: the failover starts once the primary has been unavailable for the grace period.
// a answers the probe of 0 s at 1 s and then nothing: the probes of 60-540 s are nine misses
// and the one of 600 s has been out for half an interval at 630 s, one grace period (600 s)
// after a's last answer; no need to wait for the tick of 660 s.
TEST_CASE("the failover starts once the primary was silent for the grace period, between ticks") {
  for (const bool enabled : {true, false}) {
    HardState state = Configured();
    state.formation.resilience.failover_enabled = enabled;
    MemberMachine b("b", state, At(0));
    b.Tick(At(0));
    Ready probe = Drain(b);
    b.Tick(At(1));
    b.Step(Ack(probe, 1));
    Drain(b);
    for (int t = 60; t <= 600; t += 60) {
      CHECK(b.NextWakeup() == absl::Seconds(t));
      b.Tick(At(t));
      CHECK(Drain(b).events.empty());
    }
    CHECK(b.NextWakeup() == absl::Seconds(630));
    b.Tick(At(629));
    CHECK(Drain(b).events.empty());
    b.Tick(At(630));
    Ready lost = Drain(b);
    REQUIRE(lost.events.size() >= 1);
    if (enabled) {
      CHECK(lost.events[0].event == "failover_started");
      CHECK_THAT(lost.events[0].reason,
                 Catch::Matchers::Contains("a unreachable for 629 s: 10 probes in a row "
                                           "unanswered (grace period 600 s)"));
    } else {
      CHECK(lost.events[0].event == "primary_unreachable");
      // Reported once; the machine does not ask to be woken for it again.
      CHECK(b.NextWakeup() == absl::Seconds(660));
    }
  }
  // The silence alone is not enough: a primary that answered late (at 590 s the probe of
  // 540 s) is not lost at 630 s.
  MemberMachine b("b", Configured(), At(0));
  for (int t = 0; t <= 600; t += 60) {
    b.Tick(At(t));
    Ready probe = Drain(b);
    if (t == 540) {
      b.Tick(At(590));
      b.Step(Ack(probe, 1));
      Drain(b);
    }
  }
  CHECK(b.NextWakeup() == absl::Seconds(660));
}

TEST_CASE("a primary of a higher epoch raises the secondary's epoch") {
  MemberMachine b("b", Configured(), At(0));
  b.Tick(At(0));
  Ready ready = Drain(b);
  b.Step(Ack(ready, 5));
  CHECK(Drain(b).persist->epoch == 5);
  CHECK(b.epoch() == 5);
}

TEST_CASE("find-primary requests are refused with the reason") {
  Message ask = FindPrimaryFromC(4);
  auto reply = [&ask](MemberMachine& machine) {
    machine.Step(ask);
    Ready ready = Drain(machine);
    REQUIRE(ready.messages.size() == 1);
    CHECK_FALSE(ready.messages[0].ok);
    return ready.messages[0].reason;
  };
  HardState disabled = Configured();
  disabled.formation.resilience.failover_enabled = false;
  MemberMachine b_disabled("b", disabled, At(0));
  CHECK(reply(b_disabled) == "failover is disabled on b");

  HardState unlisted = Configured();
  unlisted.formation.backup_primaries = {"c"};
  MemberMachine b_unlisted("b", unlisted, At(0));
  b_unlisted.Tick(At(0));
  Drain(b_unlisted);
  b_unlisted.Tick(At(60));  // the probe of 0 s went unanswered: b does not reach a either
  Drain(b_unlisted);
  CHECK(reply(b_unlisted) == "b is not in the backup primaries list");

  MemberMachine a("a", Configured(), At(0));
  ask.to = "a";
  ask.subject = "z";
  CHECK(reply(a) == "a is the primary of another array");
}

TEST_CASE("a secondary that no longer reaches the primary takes over when asked") {
  MemberMachine b("b", Configured(), At(0));
  b.Tick(At(0));
  Drain(b);
  b.Tick(At(60));  // one miss
  Drain(b);
  Message ask = FindPrimaryFromC(4);
  b.Step(ask);
  Ready ready = Drain(b);
  CHECK(HasEvent(ready, "promoted"));
  REQUIRE(ready.messages.size() == 1);
  CHECK(ready.messages[0].ok);
  REQUIRE(ready.messages[0].formation != nullptr);
  CHECK(ready.messages[0].formation->members == std::vector<std::string>{"b", "c"});
  CHECK(b.role() == Role::kPrimary);
}

TEST_CASE("a stale answer from an earlier candidate step is ignored") {
  HardState state = Configured();
  state.formation.backup_primaries = {"c", "b"};
  MemberMachine b("b", state, At(0));
  for (int t = 0; t <= 600; t += 60) {
    b.Tick(At(t));
    Drain(b);
  }
  CHECK(b.role() == Role::kSearching);  // asking c
  Message refusal;
  refusal.type = MessageType::kFindPrimaryReply;
  refusal.from = "c";
  refusal.to = "b";
  refusal.id = 1;  // the id of b's first probe, long before this walk
  refusal.reason = "old";
  b.Step(refusal);
  CHECK_FALSE(HasEvent(Drain(b), "candidate_refused"));
  CHECK(b.role() == Role::kSearching);
  CHECK(b.NextWakeup() == absl::Seconds(660));  // next attempt on c
}

TEST_CASE("clean makes the member standalone at a new epoch") {
  MemberMachine b("b", Configured(), At(0));
  CHECK(b.Clean(/*contact_members=*/false).ok());
  Ready ready = Drain(b);
  CHECK(HasEvent(ready, "cleaned"));
  REQUIRE(ready.persist.has_value());
  CHECK(ready.persist->formation.members == std::vector<std::string>{"b"});
  CHECK(ready.persist->epoch == 2);
  CHECK(b.role() == Role::kPrimary);
}

// `member` joined `primary`'s array at `epoch` in the step that gave `ready`, and persisted it.
void CheckJoinedIn(const Ready& ready, const MemberMachine& member, const std::string& primary,
                   std::uint64_t epoch) {
  CHECK(HasEvent(ready, "joined"));
  CHECK(member.role() == Role::kSecondary);
  CHECK(member.hard_state().formation.primary == primary);
  CHECK(member.epoch() == epoch);
  REQUIRE(ready.persist.has_value());
  CHECK(ready.persist->formation.primary == primary);
}

// A lease request from `from` to `to` at `epoch`, optionally carrying the requester's formation.
Message LeaseRequest(const std::string& from, const std::string& to, std::uint64_t epoch,
                     std::uint64_t id = 3, std::shared_ptr<const Formation> formation = nullptr) {
  Message lease;
  lease.type = MessageType::kLeaseRequest;
  lease.from = from;
  lease.to = to;
  lease.id = id;
  lease.epoch = epoch;
  lease.formation = std::move(formation);
  return lease;
}

// The lease reply among a Ready's messages (REQUIREd).
Message LeaseReplyIn(const Ready& ready) {
  std::optional<Message> reply;
  for (const Message& m : ready.messages) {
    if (m.type == MessageType::kLeaseReply) reply = m;
  }
  REQUIRE(reply.has_value());
  return *reply;
}

TEST_CASE("clean in quorum mode leaves a writable one-member array that ignores its old array") {
  // b granted a its vote and lease promise; then the operator cleans b.
  MemberMachine b("b", Configured(/*quorum=*/true), At(0));
  b.Step(LeaseRequest("a", "b", 1, 7));
  Ready ready = Drain(b);
  REQUIRE(ready.messages.size() == 1);
  REQUIRE(ready.messages[0].ok);
  REQUIRE(b.hard_state().promise_to == "a");

  b.Tick(At(10));
  REQUIRE(b.Clean(/*contact_members=*/false).ok());
  ready = Drain(b);
  const HardState& hard = b.hard_state();
  CHECK(hard.formation.members == std::vector<std::string>{"b"});
  CHECK(hard.formation.voters == std::vector<std::string>{"b"});
  // The only vote and promise it holds are its own lease as its own voter.
  CHECK(hard.voted_for == "b");
  CHECK(hard.promise_to == "b");
  CHECK_FALSE(hard.original.has_value());
  CHECK(b.role() == Role::kPrimary);
  CHECK(b.writable());  // its own only voter
  // It asks nobody of its old array for a lease.
  for (const Message& m : ready.messages) CHECK(m.type != MessageType::kLeaseRequest);
  b.Tick(At(60));
  for (const Message& m : Drain(b).messages) CHECK(m.type != MessageType::kLeaseRequest);
  CHECK(b.writable());

  // Nor does it answer its old array's vote or lease requests.
  Message vote;
  vote.type = MessageType::kVoteRequest;
  vote.from = "c";
  vote.to = "b";
  vote.id = 9;
  vote.epoch = 50;
  b.Step(vote);
  b.Step(LeaseRequest("a", "b", 50, 7));
  ready = Drain(b);
  REQUIRE(ready.messages.size() == 2);
  CHECK_FALSE(ready.messages[0].ok);
  CHECK_FALSE(ready.messages[1].ok);
  CHECK(b.hard_state().voted_for == "b");
}

TEST_CASE("a voter lends leases only to the primary it follows") {
  // c follows a (epoch 1). b claims to be a primary of the same epoch: c has voted for nobody
  // in it, yet lending b a lease would make b writable with a voter that refuses b's stream.
  MemberMachine c("c", Configured(/*quorum=*/true), At(0));
  c.Tick(At(0));
  Drain(c);
  Formation of_b = Configured(true).formation;
  of_b.primary = "b";
  of_b.backup_primaries = {"c"};
  c.Step(LeaseRequest("b", "c", 1, 3, std::make_shared<const Formation>(of_b)));
  Ready ready = Drain(c);
  REQUIRE(ready.messages.size() == 1);
  CHECK(ready.messages[0].type == MessageType::kLeaseReply);
  CHECK_FALSE(ready.messages[0].ok);
  CHECK(c.hard_state().voted_for.empty());
  CHECK(c.hard_state().promise_to.empty());
  CHECK(c.hard_state().formation.primary == "a");
  // Its own primary gets the lease.
  c.Step(LeaseRequest("a", "c", 1));
  ready = Drain(c);
  REQUIRE(ready.messages.size() == 1);
  CHECK(ready.messages[0].ok);
  CHECK(c.hard_state().promise_to == "a");
}

// Seed 21237: voter c voted for b in epoch 4 while walking the backup list and crashed before
// b's join reply arrived; it restarted into its old array (a, epoch 1). b, elected, asks c for
// leases: c joins b's array (the join the election promised), then lends b the lease — so b's
// writes can commit through c. A lease request of b without c in b's array joins nothing and
// is refused.
TEST_CASE("a restarted voter follows the primary it voted for, then lends it leases") {
  HardState state = Configured(/*quorum=*/true);
  state.voted_epoch = 4;
  state.voted_for = "b";
  state.promise_to = "b";
  state.promise_until = absl::Seconds(5);
  MemberMachine c("c", state, At(400));
  c.Tick(At(400));
  Drain(c);
  REQUIRE(c.role() == Role::kSecondary);
  REQUIRE(c.hard_state().formation.primary == "a");

  Formation without_c;
  without_c.primary = "b";
  without_c.members = {"b"};
  without_c.voters = {"a", "b", "c"};
  without_c.resilience = state.formation.resilience;
  without_c.version = 2;
  c.Step(LeaseRequest("b", "c", 4, 3, std::make_shared<const Formation>(without_c)));
  Ready ready = Drain(c);
  REQUIRE(ready.messages.size() == 1);
  CHECK_FALSE(ready.messages[0].ok);
  CHECK(c.hard_state().formation.primary == "a");

  Formation with_c = without_c;
  with_c.members = {"b", "c"};
  with_c.version = 3;
  c.Step(LeaseRequest("b", "c", 4, 3, std::make_shared<const Formation>(with_c)));
  ready = Drain(c);
  CheckJoinedIn(ready, c, "b", 4);
  bool granted = false;
  for (const Message& m : ready.messages) {
    if (m.type == MessageType::kLeaseReply) granted = m.ok;
  }
  CHECK(granted);
  // From now on c probes b, its primary.
  c.Tick(At(400 + 60));
  ready = Drain(c);
  REQUIRE_FALSE(ready.messages.empty());
  CHECK(ready.messages[0].type == MessageType::kProbe);
  CHECK(ready.messages[0].to == "b");

  // A primary c never voted for and that is not of c's array joins nothing and gets no lease.
  MemberMachine d("c", state, At(400));
  Formation of_e = with_c;
  of_e.primary = "e";
  of_e.members = {"e", "c"};
  d.Step(LeaseRequest("e", "c", 5, 3, std::make_shared<const Formation>(of_e)));
  ready = Drain(d);
  CHECK_FALSE(HasEvent(ready, "joined"));
  REQUIRE(ready.messages.size() == 1);
  CHECK_FALSE(ready.messages[0].ok);
  CHECK(d.hard_state().formation.primary == "a");
  CHECK(d.hard_state().voted_epoch == 4);
}

// Sim seeds 6064, 7101, 7402: clean --contactmembers on b, a secondary of a; c answered with the
// same membership, so b kept it and redirected it, but the redirect was lost (a partition). b,
// primary of epoch 2, asks c for leases: c, following a at epoch 1, takes b's request as the
// redirect it missed and joins b's array, then lends the lease once its promise to a ended.
// Not for a member outside its array, not at an epoch that is not later, not when b's array
// does not list c, and not for its array's original primary (recovery decides there).
TEST_CASE("a secondary asked for a lease by a later primary of its array that lists it joins it") {
  HardState state = Configured(/*quorum=*/true);
  state.promise_to = "a";
  state.promise_until = absl::Seconds(30);  // a restart makes it a full lease from then
  Formation of_b = state.formation;
  of_b.primary = "b";
  of_b.backup_primaries = {"c"};
  of_b.members = {"b", "c"};  // a was dropped by the clean
  of_b.voters = {"b", "c"};
  auto request = [&](const std::string& from, std::uint64_t epoch, const Formation& formation) {
    return LeaseRequest(from, "c", epoch, 3, std::make_shared<const Formation>(formation));
  };
  auto fresh = [&](const HardState& with) {
    MemberMachine c("c", with, At(10));
    c.Tick(At(10));
    Drain(c);
    REQUIRE(c.hard_state().formation.primary == "a");
    return c;
  };

  MemberMachine c = fresh(state);
  c.Step(request("b", 2, of_b));
  Ready ready = Drain(c);
  CheckJoinedIn(ready, c, "b", 2);
  CHECK_FALSE(LeaseReplyIn(ready).ok);  // still promised to a
  CHECK(c.hard_state().promise_to == "a");
  // Promised to nobody, it lends b the lease at once.
  HardState unpromised = state;
  unpromised.promise_to.clear();
  unpromised.promise_until = absl::ZeroDuration();
  MemberMachine free = fresh(unpromised);
  free.Step(request("b", 2, of_b));
  ready = Drain(free);
  CHECK(HasEvent(ready, "joined"));
  CHECK(LeaseReplyIn(ready).ok);
  CHECK(free.hard_state().promise_to == "b");

  Formation of_e = of_b;
  of_e.primary = "e";
  of_e.members = {"e", "c"};
  Formation without_c = of_b;
  without_c.members = {"b"};
  HardState original = state;
  original.original = state.formation;
  original.original->primary = "b";
  original.original->backup_primaries = {"a", "c"};
  const std::vector<std::pair<std::string, Message>> refused = {
      {"not of its array", request("e", 2, of_e)},
      {"not a later epoch", request("b", 1, of_b)},
      {"c not listed", request("b", 2, without_c)},
  };
  for (const auto& [why, message] : refused) {
    INFO(why);
    MemberMachine other = fresh(state);
    other.Step(message);
    ready = Drain(other);
    CHECK_FALSE(HasEvent(ready, "joined"));
    CHECK(other.hard_state().formation.primary == "a");
  }
  MemberMachine of_original = fresh(original);
  of_original.Step(request("b", 2, of_b));
  CHECK_FALSE(HasEvent(Drain(of_original), "joined"));
  CHECK(of_original.hard_state().formation.primary == "a");
}

// Sim seed 128042: a, back from a restart, never answered the probe b sent while it was down,
// and asked b for a lease at once; b lent it and, 12 s later, took a as lost (its probes were
// "unanswered"). A lease request of b's own primary is contact, as a probe's answer is.
TEST_CASE("a secondary asked for a lease by its primary does not take it as lost") {
  // Three attempts of 60 s: a grace period of 180 s.
  HardState state = Configured(/*quorum=*/true);
  state.formation.resilience.monitor_attempts = 3;
  Formation formation = state.formation;  // a's, which lists b
  auto lost_by = [&state, &formation](bool asked, double until) {
    MemberMachine b("b", state, At(0));
    b.Tick(At(0));
    Drain(b);
    // The probes of 0, 60 and 120 go unanswered (a is down); a returns at 170 and asks for a
    // lease. Unasked, b takes a as lost at 180: the last probe half an interval out, nothing
    // heard for the grace period.
    for (double t = 60; t <= 120; t += 60) {
      b.Tick(At(t));
      Drain(b);
    }
    if (asked) {
      b.Tick(At(170));
      b.Step(LeaseRequest("a", "b", 1, 1, std::make_shared<const Formation>(formation)));
      Drain(b);
    }
    for (double t = 170; t <= until; t += 5) {
      b.Tick(At(t));
      if (HasEvent(Drain(b), "failover_started")) return true;
    }
    return false;
  };
  CHECK(lost_by(/*asked=*/false, 185));
  // Asked at 170, a is silent again: lost a grace period after that, not before.
  CHECK_FALSE(lost_by(/*asked=*/true, 345));
  CHECK(lost_by(/*asked=*/true, 400));
  // A primary whose array does not list b (it refuses b's probes) is no contact: b searches.
  formation.members = {"a", "c"};
  formation.backup_primaries = {"c"};
  CHECK(lost_by(/*asked=*/true, 185));
}

// A failover detected while the lost primary's lease still binds the voters (the candidate's
// own promise included): the election lasts until the promise ran out plus the find-new-primary
// timeout, and asks the voters that refused again just after its own promise ran out, and every
// monitor interval.
TEST_CASE("an election started under the lost primary's lease asks again once it ran out") {
  MemberMachine b("b", Configured(/*quorum=*/true), At(0));
  b.Tick(At(0));
  Drain(b);
  // a's last lease request arrives after b's last probe went out (the probe stays unanswered).
  b.Tick(At(30));
  Drain(b);
  b.Step(LeaseRequest("a", "b", 1, 1));
  Drain(b);
  REQUIRE(b.hard_state().promise_to == "a");
  const absl::Duration promised = b.hard_state().promise_until;
  // a is gone: b misses its probes, walks the list and stands (it is first) while its promise
  // to a still binds it, so it cannot vote for itself yet.
  double t = 0;
  while (b.stage() != arraykit::failover::Stage::kElecting && t < 2000) {
    t += 60;
    b.Tick(At(t));
    Drain(b);
  }
  REQUIRE(b.stage() == arraykit::failover::Stage::kElecting);
  REQUIRE(absl::Seconds(t) < promised);
  CHECK(b.hard_state().voted_for != "b");
  const std::uint64_t epoch = b.hard_state().voted_epoch + 1;
  // Just after the promise ran out (a twentieth of the interval, not a whole one), b asks
  // again: its own vote, and c once more.
  const absl::Duration again = promised + absl::Seconds(3);
  REQUIRE(b.NextWakeup() == again);
  b.Tick(Clock{again, absl::UnixEpoch() + again});
  Ready ready = Drain(b);
  CHECK(b.hard_state().voted_for == "b");
  bool asked_c = false;
  for (const Message& m : ready.messages) {
    if (m.type == MessageType::kVoteRequest && m.to == "c") asked_c = true;
  }
  REQUIRE(asked_c);
  REQUIRE(b.stage() == arraykit::failover::Stage::kElecting);
  Message vote;
  vote.type = MessageType::kVoteReply;
  vote.from = "c";
  vote.to = "b";
  vote.ok = true;
  vote.epoch = b.hard_state().voted_epoch;
  CHECK(vote.epoch >= epoch);
  b.Step(vote);
  Drain(b);
  CHECK(b.role() == Role::kPrimary);
}

TEST_CASE("persisted state from a host is validated, never trusted") {
  using arraykit::failover::ValidateHardState;
  CHECK(MemberMachine::Create("b", Configured(), At(0)).ok());
  auto reason = [](const std::string& self, const HardState& state) {
    absl::StatusOr<MemberMachine> machine = MemberMachine::Create(self, state, At(0));
    REQUIRE_FALSE(machine.ok());
    CHECK(machine.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(arraykit::ReasonOf(machine.status()) == "corrupt_state");
    return std::string(machine.status().message());
  };
  CHECK_THAT(reason("z", Configured()),
             Catch::Matchers::Contains("z is not a member of its own formation"));
  HardState state = Configured();
  state.formation.primary = "x";
  CHECK_THAT(reason("b", state), Catch::Matchers::Contains("formation.primary x"));
  state = Configured();
  state.epoch = 0;
  CHECK_THAT(reason("b", state), Catch::Matchers::Contains("epoch is 0"));
  state = Configured();
  state.formation.members.push_back("b");
  CHECK_THAT(reason("b", state), Catch::Matchers::Contains("lists b twice"));
  state = Configured();
  state.uncontactable = {"q"};
  CHECK_THAT(reason("b", state), Catch::Matchers::Contains("uncontactable lists q"));
  state = Configured(/*quorum=*/true);
  state.formation.voters.clear();
  CHECK_THAT(reason("b", state), Catch::Matchers::Contains("quorum mode without voters"));
}

TEST_CASE("log positions come from the host's replicator, also a lower one after a rollback") {
  MemberMachine a("a", Configured(), At(0));
  a.LogChanged({1, 5});
  CHECK(Drain(a).persist->log == arraykit::failover::LogPosition{1, 5});
  a.LogChanged({1, 5});
  CHECK_FALSE(Drain(a).persist.has_value());
  a.LogChanged({1, 3});
  CHECK(Drain(a).persist->log == arraykit::failover::LogPosition{1, 3});
  a.LogChanged({1, 5});
  CHECK(Drain(a).persist->log == arraykit::failover::LogPosition{1, 5});
  // Time alone writes nothing: the machine holds no write traffic of its own.
  a.Tick(At(600));
  CHECK(a.hard_state().log == arraykit::failover::LogPosition{1, 5});
}

TEST_CASE("a failover goes through the stages: searching, then steady as primary") {
  using arraykit::failover::Stage;
  MemberMachine b("b", Configured(), At(0));
  CHECK(b.stage() == Stage::kSteady);
  for (int t = 0; t < 600; t += 60) {
    b.Tick(At(t));
    Drain(b);
  }
  b.Tick(At(600));
  Drain(b);
  // b is first in the backup list: it promotes itself at once (array mode).
  CHECK(b.stage() == Stage::kSteady);
  CHECK(b.role() == Role::kPrimary);
  MemberMachine c("c", Configured(), At(0));
  for (int t = 0; t <= 600; t += 60) {
    c.Tick(At(t));
    Drain(c);
  }
  CHECK(c.stage() == Stage::kSearching);
  CHECK(c.role() == Role::kSearching);
  CHECK(c.busy());
}

// Runs `body` in a child process with its standard error captured; returns the child's wait status
// and what it wrote.
std::pair<int, std::string> RunChild(const std::function<void()>& body) {
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  std::fflush(nullptr);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    body();
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string output;
  char buffer[512];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) output.append(buffer, n);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {status, output};
}

TEST_CASE("impossible states fail loudly with the state, in every build (AK_CHECK)") {
  // A clock that goes back: the release build (NDEBUG) keeps the check.
  auto [status, output] = RunChild([] {
    MemberMachine b("b", Configured(), At(100));
    b.Tick(At(50));
  });
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK_THAT(output, Catch::Matchers::Contains("check failed") &&
                         Catch::Matchers::Contains("monotonic clock went back from 1m40s to 50s"));
  // A machine built directly on state without `self` (hosts use Create, which refuses it).
  auto [status2, output2] = RunChild([] { MemberMachine z("z", Configured(), At(0)); });
  REQUIRE(WIFSIGNALED(status2));
  CHECK_THAT(output2, Catch::Matchers::Contains("z is not a member of its own formation"));
  // A working run exits normally.
  auto [status3, output3] = RunChild([] { MemberMachine b("b", Configured(), At(0)); });
  CHECK(WIFEXITED(status3));
  CHECK(output3.empty());
}

// ---- quorum elections that find no majority at first (the quorum soak's stall) -----------------

// Ticks `m` every 60 s until `done` holds (or a limit); returns every event, with its time.
std::vector<std::pair<double, std::string>> RunUntil(MemberMachine& m, double& t,
                                                      const std::function<bool()>& done) {
  std::vector<std::pair<double, std::string>> events;
  for (int i = 0; i < 200 && !done(); ++i) {
    t += 60;
    m.Tick(At(t));
    for (const auto& e : Drain(m).events) events.emplace_back(t, e.event);
  }
  return events;
}

Message VoteReply(const std::string& from, std::uint64_t epoch, bool ok,
                  std::uint64_t voted_epoch) {
  Message reply;
  reply.type = MessageType::kVoteReply;
  reply.from = from;
  reply.to = "b";
  reply.epoch = epoch;
  reply.ok = ok;
  reply.voted_epoch = voted_epoch;
  return reply;
}

TEST_CASE("a candidate refused because the voter voted in its epoch asks again above it") {
  MemberMachine b("b", Configured(/*quorum=*/true), At(0));
  double t = 0;
  RunUntil(b, t, [&] { return b.stage() == arraykit::failover::Stage::kElecting; });
  REQUIRE(b.stage() == arraykit::failover::Stage::kElecting);
  const std::uint64_t asked = b.hard_state().voted_epoch;
  CHECK(b.hard_state().voted_for == "b");
  // c stood for the same epoch and voted for itself.
  b.Step(VoteReply("c", asked, /*ok=*/false, /*voted_epoch=*/asked));
  Ready ready = Drain(b);
  CHECK(HasEvent(ready, "election_restarted"));
  CHECK(b.hard_state().voted_epoch == asked + 1);
  bool asked_c = false;
  for (const Message& m : ready.messages) {
    if (m.type == MessageType::kVoteRequest && m.to == "c" && m.epoch == asked + 1) asked_c = true;
  }
  CHECK(asked_c);
  // An epoch nobody can go above is not followed.
  b.Step(VoteReply("c", asked + 1, /*ok=*/false, std::numeric_limits<std::uint64_t>::max()));
  CHECK(Drain(b).events.empty());
  // A refusal for a reason other than the epoch (a lease promise) does not restart it.
  b.Step(VoteReply("c", asked + 1, /*ok=*/false, /*voted_epoch=*/asked));
  CHECK(Drain(b).events.empty());
  b.Step(VoteReply("c", asked + 1, /*ok=*/true, /*voted_epoch=*/asked + 1));
  Drain(b);
  CHECK(b.role() == Role::kPrimary);
  CHECK(b.hard_state().epoch == asked + 1);
}

TEST_CASE("a candidate asked for a later epoch by one as up to date gives up and votes for it") {
  MemberMachine b("b", Configured(/*quorum=*/true), At(0));
  double t = 0;
  RunUntil(b, t, [&] { return b.stage() == arraykit::failover::Stage::kElecting; });
  REQUIRE(b.stage() == arraykit::failover::Stage::kElecting);
  const std::uint64_t own = b.hard_state().voted_epoch;
  Message request;
  request.type = MessageType::kVoteRequest;
  request.from = "c";
  request.to = "b";
  request.id = 7;
  request.epoch = own;  // the same epoch: b keeps its own vote
  b.Step(request);
  Ready ready = Drain(b);
  REQUIRE(ready.messages.size() == 1);
  CHECK_FALSE(ready.messages[0].ok);
  CHECK(ready.messages[0].voted_epoch == own);  // c learns which epoch to go above
  CHECK(b.stage() == arraykit::failover::Stage::kElecting);
  request.epoch = own + 1;
  b.Step(request);
  ready = Drain(b);
  CHECK(HasEvent(ready, "election_lost"));
  bool granted = false;
  for (const Message& m : ready.messages) {
    if (m.type == MessageType::kVoteReply && m.to == "c") granted = m.ok;
  }
  CHECK(granted);
  CHECK(b.hard_state().voted_for == "c");
  CHECK(b.role() == Role::kSearching);  // its walk goes on to c
}

TEST_CASE("a quorum member that finds no primary follows the lost one again, twice, then stands alone") {
  MemberMachine b("b", Configured(/*quorum=*/true), At(0));
  double t = 0;
  // Nobody answers: b's election is lost, c does not answer, the walk is exhausted.
  auto events = RunUntil(b, t, [&] {
    return b.hard_state().formation.members.size() == 1;  // standalone
  });
  std::vector<double> started, retried;
  double standalone_at = 0;
  for (const auto& [at, event] : events) {
    if (event == "failover_started") started.push_back(at);
    if (event == "failover_retry") retried.push_back(at);
    if (event == "standalone") standalone_at = at;
  }
  REQUIRE(started.size() == 3);
  REQUIRE(retried.size() == 2);
  CHECK(standalone_at > started[2]);
  // Each retry follows a again: the next search after 10 unanswered probes, then 20.
  CHECK(started[1] - retried[0] == Approx(600).margin(60));
  CHECK(started[2] - retried[1] == Approx(1200).margin(60));
  CHECK(b.role() == Role::kPrimary);
  CHECK_FALSE(b.writable());
}

TEST_CASE("a quorum member back to its lost primary stays when the primary answers") {
  MemberMachine b("b", Configured(/*quorum=*/true), At(0));
  double t = 0;
  RunUntil(b, t, [&] { return b.role() == Role::kSecondary && t > 600; });
  REQUIRE(b.role() == Role::kSecondary);
  // Its election lost, its promise to itself is given up: c may have its vote.
  CHECK(b.hard_state().promise_to.empty());
  b.Tick(At(t += 60));
  Ready ready = Drain(b);
  REQUIRE(ready.messages.size() == 1);
  b.Step(AckTo(ready.messages[0]));
  Drain(b);
  // A whole grace period later it has not searched again: a answers.
  for (int i = 0; i < 12; ++i) {
    b.Tick(At(t += 60));
    ready = Drain(b);
    for (const Message& m : ready.messages) {
      if (m.type != MessageType::kProbe) continue;
      b.Step(AckTo(m));
      Drain(b);
    }
    CHECK_FALSE(HasEvent(ready, "failover_started"));
  }
  CHECK(b.role() == Role::kSecondary);
}

TEST_CASE("a quorum primary refused leases by a voter that voted later moves past that epoch") {
  MemberMachine a("a", Configured(/*quorum=*/true), At(0));
  a.Tick(At(0));
  Ready ready = Drain(a);
  Message refused;
  refused.type = MessageType::kLeaseReply;
  refused.from = "b";
  refused.to = "a";
  refused.epoch = 1;
  refused.ok = false;
  for (const Message& m : ready.messages) {
    if (m.type == MessageType::kLeaseRequest && m.to == "b") refused.id = m.id;
  }
  refused.voted_epoch = 0;  // no vote to move past (or its vote in epoch 1 went to a)
  a.Step(refused);
  CHECK(Drain(a).events.empty());
  refused.voted_epoch = std::numeric_limits<std::uint64_t>::max();  // no epoch above it
  a.Step(refused);
  CHECK(Drain(a).events.empty());
  CHECK(a.hard_state().epoch == 1);
  refused.voted_epoch = 4;  // b stood in epoch 4 and lost, then followed a again
  a.Step(refused);
  ready = Drain(a);
  CHECK(HasEvent(ready, "epoch_raised"));
  CHECK(a.hard_state().epoch == 5);
  bool asked_b = false;
  for (const Message& m : ready.messages) {
    if (m.type == MessageType::kLeaseRequest && m.to == "b" && m.epoch == 5) {
      asked_b = true;
      refused.id = m.id;
    }
  }
  CHECK(asked_b);
  CHECK(a.role() == Role::kPrimary);
  // b voted in epoch 5 too, for another member (itself, standing again): a moves past it as
  // well (sim seed 114: the primary stayed at the voter's epoch, refused for good).
  refused.epoch = 5;
  refused.voted_epoch = 5;
  a.Step(refused);
  CHECK(HasEvent(Drain(a), "epoch_raised"));
  CHECK(a.hard_state().epoch == 6);
}

// b at epoch 5 of an array led by `primary` (b itself, or c it follows), having voted for it.
MemberMachine VoterAtEpochFive(const std::string& primary) {
  HardState of_b = Configured(/*quorum=*/true);
  of_b.formation.primary = primary;
  of_b.formation.backup_primaries.clear();
  for (const char* m : {"a", "b", "c"}) {
    if (m != primary) of_b.formation.backup_primaries.push_back(m);
  }
  of_b.epoch = 5;
  of_b.voted_epoch = 5;
  of_b.voted_for = primary;
  MemberMachine b("b", of_b, At(0));
  b.Tick(At(0));
  Drain(b);
  return b;
}

// b's refusal of a lease at epoch `epoch`, asked by `from`.
Message LeaseRefusal(MemberMachine& b, const std::string& from, std::uint64_t epoch) {
  b.Step(LeaseRequest(from, "b", epoch));
  Message reply = LeaseReplyIn(Drain(b));
  CHECK_FALSE(reply.ok);
  reply.to = from;
  return reply;
}

// b's refusal of a's lease for epoch 2, naming `primary` at epoch 5 (REQUIREd).
Message RefusalNaming(MemberMachine& b, const std::string& primary) {
  Message refused = LeaseRefusal(b, "a", 2);
  REQUIRE(refused.formation != nullptr);
  CHECK(refused.formation->primary == primary);
  CHECK(refused.follows_epoch == 5);
  return refused;
}

// `a` joined `primary`'s array at epoch 5.
void CheckJoined(MemberMachine& a, const std::string& primary) {
  CheckJoinedIn(Drain(a), a, primary, 5);
}

// a, the primary of epoch 2 (or, `original`, its array's original primary), steps `refused`.
MemberMachine PrimaryAtEpochTwoSteps(const Message& refused, bool original = false) {
  HardState of_a = Configured(/*quorum=*/true);
  of_a.epoch = 2;
  if (original) of_a.original = of_a.formation;
  MemberMachine a("a", of_a, At(0));
  a.Tick(At(0));
  Drain(a);
  REQUIRE(a.role() == Role::kPrimary);
  a.Step(refused);
  return a;
}

TEST_CASE("a primary apart, refused a lease by a voter that follows a later primary, joins it") {
  // b follows c, elected in epoch 5 while a led an array apart at epoch 2 (sim seed 1798).
  MemberMachine b = VoterAtEpochFive("c");
  const Message refused = RefusalNaming(b, "c");
  CHECK(LeaseRefusal(b, "d", 2).formation == nullptr);  // not a member of b's array

  MemberMachine a = PrimaryAtEpochTwoSteps(refused);
  CheckJoined(a, "c");

  // An original primary whose array c's was repaired from (b's lineage names a) waits for the
  // recovery stage instead, which applies the primary return action.
  Message from_repaired = refused;
  from_repaired.original_primary = "a";
  MemberMachine o = PrimaryAtEpochTwoSteps(from_repaired, /*original=*/true);
  CHECK(o.role() == Role::kPrimary);
  CHECK(o.hard_state().epoch == 2);
  // c's array of another lineage (sim seed 7101: a led the array a clean made of it, and c's
  // array is the one that clean left): no recovery would bring a back, so a joins it.
  Message other_lineage = refused;
  other_lineage.original_primary = "c";
  MemberMachine p = PrimaryAtEpochTwoSteps(other_lineage, /*original=*/true);
  CheckJoined(p, "c");
}

// b became primary of the array at epoch 5 (clean --contactmembers on it, sim seed 2275) while
// a, its primary before, crashed before the clean's redirect reached it: a, restarted as the
// primary of epoch 2, asks b for leases; b names itself, and a (not writable) joins it.
TEST_CASE("a primary asked for a lease by a lower-epoch primary of its array names itself") {
  MemberMachine b = VoterAtEpochFive("b");
  const Message refused = RefusalNaming(b, "b");
  // Not at an epoch lower than its own: nothing to join.
  CHECK(LeaseRefusal(b, "a", 5).formation == nullptr);

  MemberMachine a = PrimaryAtEpochTwoSteps(refused);
  CheckJoined(a, "b");
}

// acceptsecondary with two repaired arrays, b's and c's: a, the original primary, returned and
// joined b's array; c's recovery probe then reaches a secondary. a refuses, naming the array it
// follows, and c joins it (sim seeds 2236, 8812: c probed a for good).
TEST_CASE("an original primary absorbed by one repaired array names it to another, which joins") {
  HardState of_a = Configured();
  of_a.formation.primary = "b";
  of_a.formation.backup_primaries = {"c", "a"};
  of_a.epoch = 3;
  MemberMachine a("a", of_a, At(0));
  a.Tick(At(0));
  Drain(a);
  Message probe;
  probe.type = MessageType::kRecoveryProbe;
  probe.from = "c";
  probe.to = "a";
  probe.id = 7;
  a.Step(probe);
  Message ack;
  for (const Message& m : Drain(a).messages) {
    if (m.type == MessageType::kRecoveryProbeAck) ack = m;
  }
  REQUIRE(ack.type == MessageType::kRecoveryProbeAck);
  CHECK_FALSE(ack.ok);
  REQUIRE(ack.formation != nullptr);
  CHECK(ack.formation->primary == "b");

  HardState of_c = Configured();
  of_c.original = of_c.formation;
  of_c.repaired = true;
  of_c.formation.primary = "c";
  of_c.formation.members = {"c"};
  of_c.formation.backup_primaries = {};
  of_c.formation.voters = {"c"};
  of_c.formation.resilience.primary_return_action =
      arraykit::model::PrimaryReturnAction::kAcceptSecondary;
  of_c.epoch = 2;
  MemberMachine c("c", of_c, At(0));
  c.Tick(At(0));
  Drain(c);
  c.Step(ack);
  CHECK(HasEvent(Drain(c), "redirected"));
  CHECK(c.role() == Role::kSecondary);
  CHECK(c.hard_state().formation.primary == "b");
  CHECK(c.hard_state().epoch == 3);
  // With another primary return action the refusal changes nothing.
  of_c.formation.resilience.primary_return_action = arraykit::model::PrimaryReturnAction::kNone;
  MemberMachine n("c", of_c, At(0));
  n.Tick(At(0));
  Drain(n);
  n.Step(ack);
  CHECK(n.role() == Role::kPrimary);

  // Sim seed 22468: c went standalone after its searches at epoch 8 (its failed elections
  // raised it), above b's array (epoch 3). In quorum mode, leading nobody, it joins that array
  // all the same and keeps its epoch (b moves past it when c refuses its lease for epoch 3);
  // leading members, or in array mode, it does not.
  HardState later = of_c;
  later.formation.resilience.primary_return_action =
      arraykit::model::PrimaryReturnAction::kAcceptSecondary;
  later.formation.resilience.mode = arraykit::model::ResilienceMode::kQuorum;
  later.epoch = 8;
  later.voted_epoch = 7;
  later.voted_for = "c";
  auto steps_ack = [&ack](const HardState& state) {
    MemberMachine m("c", state, At(0));
    m.Tick(At(0));
    Drain(m);
    m.Step(ack);
    return m;
  };
  MemberMachine alone = steps_ack(later);
  CHECK(alone.role() == Role::kSecondary);
  CHECK(alone.hard_state().formation.primary == "b");
  CHECK(alone.hard_state().epoch == 8);
  HardState leading = later;
  leading.formation.members = {"c", "d"};
  leading.formation.backup_primaries = {"d"};
  CHECK(steps_ack(leading).role() == Role::kPrimary);
  HardState array_mode = later;
  array_mode.formation.resilience.mode = arraykit::model::ResilienceMode::kArray;
  CHECK(steps_ack(array_mode).role() == Role::kPrimary);
}

TEST_CASE("a quorum primary that itself voted for another member later moves past that epoch") {
  // a leads epoch 2 but voted for b in epoch 8 (an election while it led an array apart, sim
  // seed 6487): it cannot lend itself a lease for epoch 2 and would never be writable.
  HardState state = Configured(/*quorum=*/true);
  state.epoch = 2;
  state.voted_epoch = 8;
  state.voted_for = "b";
  MemberMachine a("a", state, At(0));
  a.Tick(At(0));
  Ready ready = Drain(a);
  CHECK(HasEvent(ready, "epoch_raised"));
  CHECK(a.hard_state().epoch == 9);
  for (const Message& m : ready.messages) {
    if (m.type == MessageType::kLeaseRequest) CHECK(m.epoch == 9);
  }
  CHECK(a.role() == Role::kPrimary);
}

TEST_CASE("a voter refusing its primary's lease names the epoch to move past only when it "
          "voted for another member") {
  // b follows a and is ahead of a's log (a's lease is refused either way).
  auto reply_of = [](const std::string& voted_for) {
    HardState state = Configured(/*quorum=*/true);
    state.epoch = 1;
    state.voted_epoch = 1;
    state.voted_for = voted_for;
    state.log = LogPosition{1, 10};
    MemberMachine b("b", state, At(0));
    b.Tick(At(0));
    Drain(b);
    Message request = LeaseRequest("a", "b", 1, 7);
    request.log = LogPosition{1, 5};  // behind b's
    b.Step(request);
    Message reply = LeaseReplyIn(Drain(b));
    CHECK_FALSE(reply.ok);
    return reply.voted_epoch;
  };
  CHECK(reply_of("a") == 0);  // its vote went to a: a later epoch would not help a
  CHECK(reply_of("c") == 1);  // it voted for c in epoch 1: a moves past it
}

}  // namespace
