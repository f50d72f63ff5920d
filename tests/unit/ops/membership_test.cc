// Membership changes of the failover machine: join admitted and adopted, detach, make_primary,
// the backup primaries list; every refusal with its reason and HardState unchanged.
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"

#include "core/failover/member_machine.h"
#include "core/status.h"

namespace {

using arraykit::ReasonOf;
using arraykit::failover::Clock;
using arraykit::failover::Formation;
using arraykit::failover::HardState;
using arraykit::failover::MemberMachine;
using arraykit::failover::Message;
using arraykit::failover::MessageType;
using arraykit::failover::Role;

Clock At(double seconds) {
  return Clock{absl::Seconds(seconds), absl::UnixEpoch() + absl::Seconds(seconds)};
}

HardState Configured(std::vector<std::string> members = {"a", "b", "c"}) {
  HardState state;
  state.formation.primary = members[0];
  state.formation.members = members;
  state.formation.backup_primaries.assign(members.begin() + 1, members.end());
  state.formation.voters = members;
  state.formation.resilience.failover_enabled = true;
  state.formation.version = 1;
  return state;
}

HardState Standalone(const std::string& name, std::uint64_t epoch = 1) {
  HardState state = Configured({name});
  state.epoch = epoch;
  return state;
}

// A few machines and a lossless network with no delay, driven by hand.
struct Net {
  std::map<std::string, MemberMachine> machines;
  std::vector<Message> dropped;  // messages to members that are not here
  std::vector<std::string> events;
  double now = 0;

  void Add(const std::string& name, HardState state) {
    machines.emplace(name, MemberMachine(name, std::move(state), At(now)));
  }
  MemberMachine& operator[](const std::string& name) { return machines.at(name); }
  // Ticks everyone at `t`, then delivers until nothing is in flight.
  void RunTo(double t) {
    now = t;
    for (auto& [name, m] : machines) m.Tick(At(t));
    Deliver();
  }
  void Deliver() {
    for (int round = 0; round < 100; ++round) {
      std::vector<Message> flight;
      for (auto& [name, m] : machines) {
        if (!m.HasReady()) continue;
        auto& ready = m.GetReady();
        for (auto& msg : ready.messages) flight.push_back(msg);
        for (auto& e : ready.events) events.push_back(absl::StrCat(e.member, ":", e.event));
        m.Advance();
      }
      if (flight.empty()) return;
      for (const Message& msg : flight) {
        auto it = machines.find(msg.to);
        if (it == machines.end()) {
          dropped.push_back(msg);
          continue;
        }
        it->second.Step(msg);
      }
    }
    FAIL("no quiet moment after 100 rounds");
  }
  bool Saw(const std::string& entry) const {
    return std::find(events.begin(), events.end(), entry) != events.end();
  }
};

// Runs `op` on `m` expecting a refusal with `reason`; HardState, role and the pending persist
// stay as they were, and the refusal is in the timeline as change_refused with that code.
template <typename Op>
void ExpectRefused(MemberMachine& m, const std::string& reason, Op op) {
  m.GetReady();
  m.Advance();
  const HardState before = m.hard_state();
  const absl::Status status = op();
  CHECK(ReasonOf(status) == reason);
  CHECK(m.hard_state() == before);
  auto& ready = m.GetReady();
  CHECK_FALSE(ready.persist.has_value());
  CHECK(ready.messages.empty());
  REQUIRE(ready.events.size() == 1);
  CHECK(ready.events[0].event == "change_refused");
  CHECK(ready.events[0].code == reason);
  m.Advance();
}

// Puts `primary` in the failover stage: one member unheard for the grace period.
void MakeBusy(MemberMachine& primary, double start = 0) {
  primary.Tick(At(start));
  primary.Tick(At(start + 600));
  REQUIRE(primary.busy());
}

TEST_CASE("AddMember appends the joiner to members and backup list, and members learn it") {
  Net net;
  net.Add("a", Configured());
  net.Add("b", Configured());
  net.Add("c", Configured());
  net.Add("d", Standalone("d", 4));
  net.RunTo(0);
  REQUIRE(net["a"].AddMember("d", /*voter=*/false, /*joiner_epoch=*/net["d"].epoch()).ok());
  const Formation& f = net["a"].hard_state().formation;
  CHECK(f.members == std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(f.backup_primaries == std::vector<std::string>{"b", "c", "d"});
  CHECK(f.voters == std::vector<std::string>{"a", "b", "c"});
  CHECK(f.version == 2);
  CHECK(net["a"].epoch() == 4);  // raised to the joiner's epoch
  net.Deliver();
  CHECK(net.Saw("a:member_added"));
  REQUIRE(net["d"].JoinArray(net["a"].hard_state().formation, net["a"].epoch()).ok());
  CHECK(net["d"].role() == Role::kSecondary);
  CHECK(net["d"].hard_state().formation == net["a"].hard_state().formation);
  net.RunTo(60);
  CHECK(net.Saw("d:joined_array"));
  // b and c learned the new formation and epoch from their probes.
  for (const char* name : {"b", "c", "d"}) {
    CHECK(net[name].hard_state().formation == net["a"].hard_state().formation);
    CHECK(net[name].epoch() == 4);
  }
  CHECK(net["a"].IsContactable("d"));
}

TEST_CASE("AddMember as a voter adds the joiner to the voters") {
  MemberMachine a("a", Configured(), At(0));
  REQUIRE(a.AddMember("d", true, 1).ok());
  CHECK(a.hard_state().formation.voters == std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(a.epoch() == 1);
}

TEST_CASE("AddMember refusals leave HardState unchanged") {
  MemberMachine a("a", Configured(), At(0));
  MemberMachine b("b", Configured(), At(0));
  ExpectRefused(b, "not_primary", [&] { return b.AddMember("d", false, 1); });
  ExpectRefused(a, "name_taken", [&] { return a.AddMember("c", false, 1); });
  ExpectRefused(a, "invalid_argument", [&] { return a.AddMember("", false, 1); });
  MemberMachine full("m0", Configured({"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"}),
                     At(0));
  ExpectRefused(full, "array_full", [&] { return full.AddMember("m10", false, 1); });
  MakeBusy(a);
  ExpectRefused(a, "busy", [&] { return a.AddMember("d", false, 1); });
}

TEST_CASE("JoinArray refusals leave HardState unchanged") {
  MemberMachine a("a", Configured(), At(0));
  REQUIRE(a.AddMember("d", false, 1).ok());
  const Formation joined = a.hard_state().formation;
  MemberMachine b("b", Configured(), At(0));
  ExpectRefused(b, "joiner_not_standalone", [&] { return b.JoinArray(joined, 1); });
  MemberMachine d("d", Standalone("d", 3), At(0));
  ExpectRefused(d, "invalid_argument", [&] { return d.JoinArray(joined, 2); });  // epoch below
  Formation without = joined;
  without.members.pop_back();
  ExpectRefused(d, "invalid_argument", [&] { return d.JoinArray(without, 3); });
  Formation led_by_d = joined;
  led_by_d.primary = std::string(1, 'd');
  ExpectRefused(d, "invalid_argument", [&] { return d.JoinArray(led_by_d, 3); });
  Formation broken = joined;
  broken.resilience.monitor_attempts = 0;
  ExpectRefused(d, "invalid_argument", [&] { return d.JoinArray(broken, 3); });
  CHECK(d.JoinArray(joined, 3).ok());
}

TEST_CASE("a joiner's log starts over: a voter never refuses the array for its old log") {
  HardState quorum = Configured();
  quorum.formation.resilience.mode = arraykit::model::ResilienceMode::kQuorum;
  Net net;
  for (const char* name : {"a", "b", "c"}) net.Add(name, quorum);
  HardState alone = Standalone("d", 5);
  alone.log = {5, 100};  // d wrote a lot in its own array
  net.Add("d", alone);
  net.RunTo(0);
  REQUIRE(net["a"].writable());
  REQUIRE(net["a"].AddMember("d", /*voter=*/true, net["d"].epoch()).ok());
  REQUIRE(net["d"].JoinArray(net["a"].hard_state().formation, net["a"].epoch()).ok());
  CHECK(net["d"].hard_state().log == arraykit::failover::LogPosition{});
  net.Deliver();
  net.RunTo(60);
  // a asks its four voters for leases at epoch 5; d grants too.
  CHECK(net["a"].writable());
  CHECK(net["d"].hard_state().promise_to == "a");
}

TEST_CASE("a joiner and a config edit use a shorter monitor interval at once") {
  HardState array = Configured({"a", "b"});
  array.formation.resilience.monitor_interval = absl::Milliseconds(20);
  HardState alone = Standalone("d");
  alone.formation.resilience.monitor_interval = absl::Seconds(60);
  Net net;
  net.Add("a", array);
  net.Add("b", array);
  net.Add("d", alone);
  net.RunTo(1);
  REQUIRE(net["d"].NextWakeup() > absl::Seconds(2));  // its own array's minute
  REQUIRE(net["a"].AddMember("d", /*voter=*/false, net["d"].epoch()).ok());
  REQUIRE(net["d"].JoinArray(net["a"].hard_state().formation, net["a"].epoch()).ok());
  CHECK(net["d"].NextWakeup() <= absl::Seconds(1) + absl::Milliseconds(20));

  // A config edit that shortens the interval on a primary probing every minute.
  Net slow;
  HardState minute = Configured({"a", "b"});
  minute.formation.resilience.monitor_interval = absl::Seconds(60);
  slow.Add("a", minute);
  slow.Add("b", minute);
  slow.RunTo(1);
  REQUIRE(slow["a"].NextWakeup() > absl::Seconds(2));
  arraykit::failover::FormationChange change;
  auto faster = minute.formation.resilience;
  faster.monitor_interval = absl::Milliseconds(50);
  change.resilience = faster;
  REQUIRE(slow["a"].ProposeChange(change).ok());
  CHECK(slow["a"].NextWakeup() <= absl::Seconds(1) + absl::Milliseconds(50));
}

TEST_CASE("detach: the member leaves the formation and becomes standalone") {
  Net net;
  net.Add("a", Configured());
  net.Add("b", Configured());
  net.Add("c", Configured());
  net.RunTo(0);
  REQUIRE(net["a"].RemoveMember("c").ok());
  const Formation& f = net["a"].hard_state().formation;
  CHECK(f.members == std::vector<std::string>{"a", "b"});
  CHECK(f.backup_primaries == std::vector<std::string>{"b"});
  CHECK(f.voters == std::vector<std::string>{"a", "b"});
  CHECK(f.version == 2);
  net.Deliver();
  CHECK(net.Saw("a:member_removed"));
  CHECK(net.Saw("c:detached"));
  CHECK(net["c"].role() == Role::kPrimary);
  CHECK(net["c"].hard_state().formation.members == std::vector<std::string>{"c"});
  CHECK(net["c"].hard_state().formation.voters == std::vector<std::string>{"c"});
  CHECK(net["c"].epoch() == 2);
  net.RunTo(60);
  CHECK(net["b"].hard_state().formation == net["a"].hard_state().formation);
  // Nobody fails over afterwards.
  net.RunTo(1200);
  CHECK_FALSE(net.Saw("b:failover_started"));
  CHECK_FALSE(net.Saw("c:failover_started"));
  CHECK(net["a"].hard_state().uncontactable.empty());
}

TEST_CASE("a detached member that missed the news learns it at its next probe") {
  Net net;
  net.Add("a", Configured());
  net.Add("b", Configured());
  net.RunTo(0);
  REQUIRE(net["a"].RemoveMember("c").ok());  // c is not on the network
  net.Deliver();
  REQUIRE(net.dropped.size() >= 1);
  CHECK(net.dropped.back().type == MessageType::kDetached);
  // c comes up with its old state and probes a.
  net.Add("c", Configured());
  net.RunTo(60);
  CHECK(net.Saw("c:detached"));
  CHECK(net["c"].hard_state().formation.members == std::vector<std::string>{"c"});
}

TEST_CASE("detach refusals leave HardState unchanged") {
  MemberMachine a("a", Configured(), At(0));
  MemberMachine b("b", Configured(), At(0));
  ExpectRefused(b, "not_primary", [&] { return b.RemoveMember("c"); });
  ExpectRefused(a, "detach_primary", [&] { return a.RemoveMember("a"); });
  ExpectRefused(a, "not_a_member", [&] { return a.RemoveMember("z"); });
  HardState quorum = Configured();
  quorum.formation.voters = {"b"};
  quorum.formation.resilience.mode = arraykit::model::ResilienceMode::kQuorum;
  MemberMachine q("a", quorum, At(0));
  ExpectRefused(q, "last_voter", [&] { return q.RemoveMember("b"); });
  MakeBusy(a);
  ExpectRefused(a, "busy", [&] { return a.RemoveMember("c"); });
}

TEST_CASE("make_primary hands over at epoch + 1 and the old primary follows") {
  Net net;
  net.Add("a", Configured());
  net.Add("b", Configured());
  net.Add("c", Configured());
  net.RunTo(0);
  net.RunTo(60);
  REQUIRE(net["a"].MakePrimary("c").ok());
  net.Deliver();
  CHECK(net["a"].role() == Role::kSecondary);
  CHECK(net["c"].role() == Role::kPrimary);
  CHECK(net["b"].hard_state().formation.primary == "c");
  for (const char* name : {"a", "b", "c"}) CHECK(net[name].epoch() == 2);
  CHECK(net["c"].hard_state().formation.backup_primaries == std::vector<std::string>{"b", "a"});
  CHECK(net.Saw("a:primary_transferred"));
  CHECK(net.Saw("c:promoted"));
  CHECK(net.Saw("b:redirected"));
  net.RunTo(120);
  net.RunTo(1200);
  CHECK_FALSE(net.Saw("a:failover_started"));
  CHECK_FALSE(net.Saw("b:failover_started"));
  CHECK(net["c"].hard_state().uncontactable.empty());
}

TEST_CASE("quorum mode: make_primary releases the old primary's leases and hands over its log") {
  HardState state = Configured();
  state.formation.resilience.mode = arraykit::model::ResilienceMode::kQuorum;
  Net net;
  for (const char* name : {"a", "b", "c"}) net.Add(name, state);
  net.RunTo(0);
  REQUIRE(net["a"].writable());
  net["a"].LogChanged({1, 7});
  net.Deliver();
  net.RunTo(60);
  REQUIRE(net["b"].hard_state().promise_to == "a");
  REQUIRE(net["a"].MakePrimary("c").ok());
  CHECK_FALSE(net["a"].writable());
  CHECK(net["a"].hard_state().promise_to.empty());
  net.Deliver();
  // Every voter granted c its lease for epoch 2 at once: no wait for a's leases to run out.
  CHECK(net["c"].writable());
  CHECK(net["c"].epoch() == 2);
  CHECK(net["b"].hard_state().promise_to == "c");
  CHECK(net["c"].hard_state().log == arraykit::failover::LogPosition{1, 7});
  CHECK_FALSE(net["a"].writable());
}

TEST_CASE("a member that missed make_primary is told by the old primary at its next probe") {
  Net net;
  net.Add("a", Configured());
  net.Add("c", Configured());
  net.RunTo(0);
  net.RunTo(60);
  REQUIRE(net["a"].MakePrimary("c").ok());
  net.Deliver();  // b is not on the network: its transfer is lost
  net.Add("b", Configured());
  net.RunTo(120);
  CHECK(net["b"].hard_state().formation.primary == "c");
  CHECK(net["b"].epoch() == 2);
}

TEST_CASE("make_primary refusals leave HardState unchanged") {
  MemberMachine a("a", Configured(), At(0));
  MemberMachine b("b", Configured(), At(0));
  ExpectRefused(b, "not_primary", [&] { return b.MakePrimary("c"); });
  ExpectRefused(a, "not_a_member", [&] { return a.MakePrimary("z"); });
  ExpectRefused(a, "already_primary", [&] { return a.MakePrimary("a"); });
  a.Tick(At(121));  // nothing heard from b or c for more than two monitor intervals
  ExpectRefused(a, "not_contactable", [&] { return a.MakePrimary("b"); });
  MakeBusy(a, 121);
  ExpectRefused(a, "busy", [&] { return a.MakePrimary("b"); });
}

TEST_CASE("backup primaries list: add with a position, edit the position, remove, list") {
  HardState state = Configured({"a", "b", "c", "d", "e"});
  state.formation.backup_primaries = {"b"};
  MemberMachine a("a", state, At(0));
  REQUIRE(a.AddBackupPrimary("c", std::nullopt).ok());
  CHECK(a.BackupPrimaries() == std::vector<std::string>{"b", "c"});
  REQUIRE(a.AddBackupPrimary("d", 1).ok());
  CHECK(a.BackupPrimaries() == std::vector<std::string>{"d", "b", "c"});
  REQUIRE(a.AddBackupPrimary("e", 4).ok());
  CHECK(a.BackupPrimaries() == std::vector<std::string>{"d", "b", "c", "e"});
  REQUIRE(a.EditBackupPrimary("e", 2).ok());
  CHECK(a.BackupPrimaries() == std::vector<std::string>{"d", "e", "b", "c"});
  REQUIRE(a.EditBackupPrimary("d", 4).ok());
  CHECK(a.BackupPrimaries() == std::vector<std::string>{"e", "b", "c", "d"});
  REQUIRE(a.RemoveBackupPrimary("b").ok());
  CHECK(a.BackupPrimaries() == std::vector<std::string>{"e", "c", "d"});
  CHECK(a.hard_state().formation.version == 7);
  auto& ready = a.GetReady();
  REQUIRE(ready.persist.has_value());
  CHECK(ready.persist->formation.backup_primaries == a.BackupPrimaries());
  a.Advance();
}

TEST_CASE("backup primaries list refusals leave HardState unchanged") {
  HardState state = Configured({"a", "b", "c", "d"});
  state.formation.backup_primaries = {"b", "c"};
  MemberMachine a("a", state, At(0));
  MemberMachine b("b", state, At(0));
  ExpectRefused(b, "not_primary", [&] { return b.AddBackupPrimary("d", std::nullopt); });
  ExpectRefused(b, "not_primary", [&] { return b.EditBackupPrimary("c", 1); });
  ExpectRefused(b, "not_primary", [&] { return b.RemoveBackupPrimary("c"); });
  ExpectRefused(a, "not_a_member", [&] { return a.AddBackupPrimary("z", std::nullopt); });
  ExpectRefused(a, "is_primary", [&] { return a.AddBackupPrimary("a", std::nullopt); });
  ExpectRefused(a, "already_listed", [&] { return a.AddBackupPrimary("c", 1); });
  ExpectRefused(a, "invalid_position", [&] { return a.AddBackupPrimary("d", 0); });
  ExpectRefused(a, "invalid_position", [&] { return a.AddBackupPrimary("d", 4); });
  ExpectRefused(a, "not_a_member", [&] { return a.EditBackupPrimary("z", 1); });
  ExpectRefused(a, "not_listed", [&] { return a.EditBackupPrimary("d", 1); });
  ExpectRefused(a, "invalid_position", [&] { return a.EditBackupPrimary("c", 3); });
  ExpectRefused(a, "invalid_position", [&] { return a.EditBackupPrimary("c", 0); });
  ExpectRefused(a, "not_a_member", [&] { return a.RemoveBackupPrimary("z"); });
  ExpectRefused(a, "not_listed", [&] { return a.RemoveBackupPrimary("d"); });
  MakeBusy(a);
  ExpectRefused(a, "busy", [&] { return a.AddBackupPrimary("d", std::nullopt); });
  ExpectRefused(a, "busy", [&] { return a.EditBackupPrimary("c", 1); });
  ExpectRefused(a, "busy", [&] { return a.RemoveBackupPrimary("c"); });
  // The list stays readable on every member, busy or not.
  CHECK(a.BackupPrimaries() == std::vector<std::string>{"b", "c"});
  CHECK(b.BackupPrimaries() == std::vector<std::string>{"b", "c"});
}

TEST_CASE("a change to quorum mode without voters is refused") {
  HardState state = Configured({"a", "b"});
  state.formation.voters.clear();
  MemberMachine a("a", state, At(0));
  arraykit::failover::FormationChange change;
  change.backup_primaries = std::vector<std::string>{};  // nothing of the change applies
  change.resilience = state.formation.resilience;
  change.resilience->mode = arraykit::model::ResilienceMode::kQuorum;
  ExpectRefused(a, "no_voters", [&] { return a.ProposeChange(change); });
}

}  // namespace
