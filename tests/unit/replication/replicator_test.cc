// The replicator driven by hand: two to four members over a tiny test network that can cut
// links, drop, duplicate and reorder messages, with each member's store played by PersistReady.
#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"

#include "core/replication/replicator.h"
#include "core/status.h"

namespace {

using arraykit::ReasonOf;
using arraykit::replication::Completion;
using arraykit::replication::Conflict;
using arraykit::replication::Durable;
using arraykit::replication::Entry;
using arraykit::replication::EntryKind;
using arraykit::replication::LogPosition;
using arraykit::replication::Message;
using arraykit::replication::MessageType;
using arraykit::replication::PersistReady;
using arraykit::replication::Ready;
using arraykit::replication::Replicator;
using arraykit::replication::ReplicatorOptions;
using arraykit::replication::Repository;
using arraykit::replication::View;
using arraykit::replication::Wait;

struct Node {
  std::string name;
  Durable disk;  // what survived: the store
  std::unique_ptr<Replicator> r;
  ReplicatorOptions options;
  View view;
};

class Net {
 public:
  explicit Net(std::vector<std::string> names, ReplicatorOptions options = {}) {
    for (const std::string& name : names) {
      Node& n = nodes[name];
      n.name = name;
      n.options = options;
      n.r = std::make_unique<Replicator>(name, Durable{}, options);
    }
  }

  Replicator& operator[](const std::string& name) { return *nodes.at(name).r; }

  void SetView(const std::string& name, View view) {
    nodes.at(name).view = view;
    nodes.at(name).r->SetView(view);
    Drain(name);
  }

  // Everyone in `members` follows `primary` at `epoch`.
  void Formation(const std::string& primary, std::vector<std::string> members,
                 std::uint64_t epoch, bool quorum = false) {
    for (const std::string& m : members) {
      View v;
      v.primary = primary;
      v.epoch = epoch;
      v.quorum = quorum;
      v.members = members;
      v.voters = quorum ? voters : std::vector<std::string>{};
      v.monitor_interval = absl::Seconds(1);
      if (m == primary) {
        v.writable = true;
        v.contactable = members;
      }
      SetView(m, v);
    }
  }

  void Drain(const std::string& name) {
    Node& n = nodes.at(name);
    while (n.r->HasReady()) {
      Ready& ready = n.r->GetReady();
      PersistReady(ready, n.disk);  // persist before send
      for (Message& m : ready.messages) {
        ++sent[m.type];
        if (cut.contains({m.from, m.to}) || !nodes.contains(m.to)) continue;
        queue.push_back(m);
      }
      for (const Completion& c : ready.completions) completions[c.request] = c;
      for (const auto& e : ready.events) events.push_back(e.event + ": " + e.reason);
      for (const Entry& e : ready.rolled_back) rolled_back.push_back(e);
      n.r->Advance();
    }
  }

  void Deliver(const Message& m) {
    if (cut.contains({m.from, m.to})) return;
    ++delivered[m.type];
    if (m.type == MessageType::kAppendReply && !m.ok) ++refusals[m.reason];
    nodes.at(m.to).r->Step(m);
    Drain(m.to);
  }

  // Delivers everything in flight (and what that sends) in order.
  void Settle(int limit = 100000) {
    for (int i = 0; i < limit && !queue.empty(); ++i) {
      Message m = queue.front();
      if (i > limit - 20) {
        UNSCOPED_INFO(ToString(m.type) << " " << m.from << "->" << m.to << " e" << m.epoch << " prev " << m.prev_index << " n" << m.entries.size() << " ok " << m.ok << " " << m.reason << " match " << m.match_index << " last " << m.last_index);
      }
      queue.pop_front();
      Deliver(m);
    }
    REQUIRE(queue.empty());
  }

  // Time passes: every member ticks (retries), then everything settles.
  void Pass(absl::Duration d) {
    now += d;
    for (auto& [name, n] : nodes) {
      n.r->Tick(now);
      Drain(name);
    }
    Settle();
  }

  void Restart(const std::string& name) {
    Node& n = nodes.at(name);
    n.r = std::make_unique<Replicator>(name, n.disk, n.options);
    n.r->Tick(now);
    n.r->SetView(n.view);
    Drain(name);
  }

  void Isolate(const std::string& name) {
    for (auto& [other, n] : nodes) {
      if (other == name) continue;
      cut.insert({name, other});
      cut.insert({other, name});
    }
  }
  void Heal() { cut.clear(); }

  std::uint64_t Put(const std::string& on, const std::string& key, const std::string& value,
                    Wait wait = Wait::kPrimary, const std::string& category = "global_configuration") {
    const std::uint64_t id = ++next_request;
    nodes.at(on).r->Write(id, category, key, value, wait);
    Drain(on);
    return id;
  }

  std::map<std::string, Node> nodes;
  std::deque<Message> queue;
  std::set<std::pair<std::string, std::string>> cut;
  std::map<std::uint64_t, Completion> completions;
  std::vector<std::string> events;
  std::vector<Entry> rolled_back;
  std::map<MessageType, int> sent;
  std::map<MessageType, int> delivered;
  std::map<std::string, int> refusals;
  std::vector<std::string> voters;
  absl::Duration now = absl::ZeroDuration();
  std::uint64_t next_request = 0;
};

Entry Put(std::uint64_t index, const std::string& key, const std::string& value,
          std::uint64_t chain) {
  Entry e;
  e.index = index;
  e.epoch = 1;
  e.writer = "a";
  e.category = "sessions";
  e.key = key;
  e.value = value;
  e.chain = arraykit::replication::Chain(chain, e);
  return e;
}

bool Done(const Net& net, std::uint64_t request) {
  auto it = net.completions.find(request);
  return it != net.completions.end() && it->second.status.ok();
}

}  // namespace

TEST_CASE("apply builds the repository; the digest depends on content, not history") {
  Repository x;
  Entry a = Put(1, "k1", "1", 0);
  Entry b = Put(2, "k2", "2", a.chain);
  x.Apply(a);
  x.Apply(b);
  Repository y;
  Entry b2 = Put(1, "k2", "2", 0);
  Entry a2 = Put(2, "k1", "1", b2.chain);
  y.Apply(b2);
  y.Apply(a2);
  CHECK(x.Digest() == y.Digest());
  CHECK(x.Digest().size() == 16);
  CHECK(x.applied_index == 2);
  CHECK(x.applied_chain == b.chain);
  CHECK(a.chain != a2.chain);  // same index, different content: different chains
  Entry del = Put(3, "k2", "", b.chain);
  del.kind = EntryKind::kDelete;
  del.chain = arraykit::replication::Chain(b.chain, del);
  const std::string before = x.Digest();
  x.Apply(del);
  CHECK(x.Digest() != before);
  CHECK(x.records.at({"sessions", "k2"}).deleted);
  Repository z;
  z.Apply(Put(1, "k1", "1", 0));
  CHECK(x.Digest() == z.Digest());  // tombstones do not count
  Entry c = Put(4, "k1", "9", del.chain);
  c.kind = EntryKind::kConflict;
  c.origin = "d@2.7";
  x.Apply(c);
  REQUIRE(x.conflicts.size() == 1);
  CHECK(x.conflicts[0] == Conflict{4, "sessions", "k1", "1", "9", "d", "d@2.7"});
  CHECK(x.records.at({"sessions", "k1"}).value == "1");
  CHECK(x.Digest() != z.Digest());
}

TEST_CASE("writes are refused off a writable primary and with bad input, with reasons") {
  Net net({"a", "b"});
  net.Formation("a", {"a", "b"}, 1);
  net.Put("b", "k", "1");
  CHECK(ReasonOf(net.completions.at(1).status) == "not_primary");
  CHECK_THAT(std::string(net.completions.at(1).status.message()),
             Catch::Matchers::Contains("the primary is a"));
  std::uint64_t id = net.Put("a", "k", "1", Wait::kPrimary, "no_such_category");
  CHECK(ReasonOf(net.completions.at(id).status) == "unknown_category");
  id = net.Put("a", "", "1");
  CHECK(ReasonOf(net.completions.at(id).status) == "invalid_key");
  id = net.Put("a", std::string(arraykit::replication::kMaxKeyBytes + 1, 'k'), "1");
  CHECK(ReasonOf(net.completions.at(id).status) == "invalid_key");
  id = net.Put("a", "k", "{not json");
  CHECK(ReasonOf(net.completions.at(id).status) == "invalid_json");
  id = net.Put("a", "k", "\"" + std::string(arraykit::replication::kMaxValueBytes, 'x') + "\"");
  CHECK(ReasonOf(net.completions.at(id).status) == "too_large");
  CHECK(net["a"].last_position().index == 0);  // nothing was written
  // A primary that is not writable (quorum mode without leases) refuses too.
  View v = net.nodes.at("a").view;
  v.writable = false;
  net.SetView("a", v);
  id = net.Put("a", "k", "1");
  CHECK(ReasonOf(net.completions.at(id).status) == "not_primary");
  CHECK(net["a"].last_position().index == 0);
}

TEST_CASE("array mode: acknowledged with the append, replicated, stored compact") {
  Net net({"a", "b", "c"});
  net.Formation("a", {"a", "b", "c"}, 1);
  const std::uint64_t id = net.Put("a", "k", "{ \"x\" : [1, 2] }");
  CHECK(Done(net, id));  // in the same Ready as the append (persisted first)
  CHECK(net.completions.at(id).position == LogPosition{1, 1});
  net.Settle();
  for (const char* m : {"a", "b", "c"}) {
    CHECK(net[m].repository().records.at({"global_configuration", "k"}).value ==
          "{\"x\":[1,2]}");
    CHECK(net[m].applied_position() == LogPosition{1, 1});
  }
  CHECK(net["b"].repository().records.at({"global_configuration", "k"}).writer == "a");
}

TEST_CASE("appends are pipelined in batches, at most max_inflight per member") {
  ReplicatorOptions options;
  options.max_batch_entries = 2;
  options.max_inflight = 3;
  Net net({"a", "b"}, options);
  net.Formation("a", {"a", "b"}, 1);
  net.Settle();
  for (int i = 0; i < 20; ++i) net.Put("a", "k" + std::to_string(i), std::to_string(i));
  int appends = 0;
  for (const Message& m : net.queue) {
    if (m.type != MessageType::kAppend) continue;
    ++appends;
    CHECK(m.entries.size() <= 2);
  }
  CHECK(appends == 3);
  net.Settle();
  CHECK(net["b"].applied_position().index == 20);
  CHECK(net["b"].repository().Digest() == net["a"].repository().Digest());
}

TEST_CASE("appends in flight are resent after a retry interval each, from the last answer") {
  ReplicatorOptions options;
  options.max_inflight = 3;
  Net net({"a", "b"}, options);
  net.Formation("a", {"a", "b"}, 1);  // monitor interval 1 s: retry interval 0.5 s
  net.Settle();
  for (int i = 0; i < 3; ++i) net.Put("a", "k" + std::to_string(i), std::to_string(i));
  auto appends_queued = [&] {
    return std::count_if(net.queue.begin(), net.queue.end(),
                         [](const Message& m) { return m.type == MessageType::kAppend; });
  };
  auto tick = [&](absl::Duration at) {
    net.now = at;
    net["a"].Tick(at);
    net.Drain("a");
  };
  REQUIRE(appends_queued() == 3);
  // One retry interval later all three are still on their way (a catch-up's batches take
  // longer than one interval to transfer and commit): nothing is resent.
  tick(absl::Milliseconds(600));
  CHECK(appends_queued() == 3);
  // b answers the first; the answer is a sign of life: two more intervals from it.
  Message first = net.queue.front();
  net.queue.pop_front();
  net.Deliver(first);
  REQUIRE(net.queue.back().type == MessageType::kAppendReply);
  Message reply = net.queue.back();
  net.queue.pop_back();
  net.Deliver(reply);
  tick(absl::Milliseconds(1500));  // 1.5 s after the sends, 0.9 s after the answer
  CHECK(appends_queued() == 2);
  tick(absl::Milliseconds(1700));  // two intervals after the answer: taken as lost
  CHECK(appends_queued() == 3);
  const Message& resent = net.queue.back();
  CHECK(resent.type == MessageType::kAppend);
  CHECK(resent.prev_index == 1);
  CHECK(resent.entries.size() == 2);
  net.Settle();
  CHECK(net["b"].applied_position().index == 3);
  CHECK(net["b"].repository().Digest() == net["a"].repository().Digest());
}

TEST_CASE("quorum: commit needs a majority and an entry of the primary's epoch") {
  Net net({"a", "b", "c"});
  net.voters = {"a", "b", "c"};
  net.Formation("a", {"a", "b", "c"}, 1, /*quorum=*/true);
  REQUIRE(net["a"].last_position() == LogPosition{1, 1});  // the barrier
  CHECK(net["a"].EntryAt(1)->kind == EntryKind::kBarrier);
  net.Isolate("c");
  net.cut.insert({"a", "b"});  // b hears nothing yet
  const std::uint64_t id = net.Put("a", "k", "1");
  net.Settle();
  CHECK_FALSE(net.completions.contains(id));
  CHECK(net["a"].repository().records.empty());  // not applied before commit
  net.cut.erase({"a", "b"});
  net.Pass(absl::Seconds(1));  // retry reaches b: majority {a, b}
  REQUIRE(Done(net, id));
  CHECK(net["a"].commit_index() == 2);
  CHECK(net["a"].repository().records.contains({"global_configuration", "k"}));
  net.Pass(absl::Seconds(1));
  CHECK(net["b"].applied_position().index == 2);
  CHECK(net["c"].applied_position().index == 0);
}

// Seed 559648: voter b voted for c in epoch 2 (c's log then lacked what a sends next) but never
// learned whether c won, so its view still names a, the primary of epoch 1. Had a counted b's
// acknowledgement of its write, {a, b} would make a majority and the write would be
// acknowledged, and c, elected by b's vote, would lead epoch 2 without it (the Raft term rule:
// a vote for epoch 2 is a promise to help no primary of an older epoch commit).
TEST_CASE("quorum: a voter that voted in a newer epoch counts for no older primary's commit") {
  using arraykit::failover::Clock;
  using arraykit::failover::HardState;
  using arraykit::failover::MemberMachine;
  Net net({"a", "b", "c"});
  net.voters = {"a", "b", "c"};
  net.Formation("a", {"a", "b", "c"}, 1, /*quorum=*/true);
  net.Settle();
  REQUIRE(net["b"].last_position() == LogPosition{1, 1});  // a's barrier

  // b's failover machine: a voter following a at epoch 1 grants c its vote for epoch 2.
  HardState state;
  state.formation.primary = "a";
  state.formation.members = {"a", "b", "c"};
  state.formation.backup_primaries = {"b", "c"};
  state.formation.voters = {"a", "b", "c"};
  state.formation.resilience.failover_enabled = true;
  state.formation.resilience.mode = arraykit::model::ResilienceMode::kQuorum;
  state.formation.version = 1;
  state.log = net["b"].last_position();
  const Clock at{absl::Seconds(1), absl::UnixEpoch() + absl::Seconds(1)};
  MemberMachine machine("b", state, at);
  const View before = arraykit::replication::ViewOf(machine);
  CHECK(before.voted_epoch == 0);
  arraykit::failover::Message ask;
  ask.type = arraykit::failover::MessageType::kVoteRequest;
  ask.from = "c";
  ask.to = "b";
  ask.epoch = 2;
  ask.id = 1;
  ask.log = net["b"].last_position();
  machine.Step(ask);
  REQUIRE(machine.hard_state().voted_epoch == 2);
  CHECK_FALSE(arraykit::replication::ViewMatches(machine, before));
  View of_b = arraykit::replication::ViewOf(machine);
  CHECK(of_b.primary == "a");
  CHECK(of_b.epoch == 1);
  CHECK(of_b.voted_epoch == 2);
  CHECK(arraykit::replication::ViewMatches(machine, of_b));
  net.SetView("b", of_b);

  net.Isolate("c");  // c campaigns elsewhere; a reaches only b
  const std::uint64_t id = net.Put("a", "k", "1", Wait::kPrimary, "sessions");
  for (int i = 0; i < 3; ++i) net.Pass(absl::Seconds(1));
  CHECK(net["b"].last_position() == LogPosition{1, 2});  // b holds it...
  CHECK_FALSE(net.completions.contains(id));             // ...but a acknowledges nothing
  CHECK(net["a"].commit_index() == 1);
  CHECK(net["b"].applied_position().index == 1);

  // c won epoch 2 without the write: b turns to it and rolls back what was never acknowledged.
  net.Heal();
  View of_c = net.nodes.at("c").view;
  of_c.primary = "c";
  of_c.epoch = 2;
  of_c.writable = true;
  of_c.voted_epoch = 2;
  of_c.contactable = {"a", "b", "c"};
  net.SetView("c", of_c);
  of_b.primary = "c";
  of_b.epoch = 2;
  net.SetView("b", of_b);
  net.Pass(absl::Seconds(1));
  CHECK(net["b"].last_position() == LogPosition{2, 2});  // c's barrier replaced a's write
  CHECK_FALSE(net["b"].repository().records.contains({"sessions", "k"}));
  CHECK(net["c"].commit_index() == 2);
}

TEST_CASE("quorum: a primary that voted in a newer epoch does not count itself") {
  Net net({"a", "b", "c"});
  net.voters = {"a", "b", "c"};
  net.Formation("a", {"a", "b", "c"}, 1, /*quorum=*/true);
  net.Settle();
  View of_a = net.nodes.at("a").view;
  of_a.voted_epoch = 2;  // a voted for another candidate's epoch 2
  net.SetView("a", of_a);
  net.Isolate("c");
  const std::uint64_t id = net.Put("a", "k", "1");
  net.Pass(absl::Seconds(1));
  CHECK(net["b"].last_position().index == 2);
  CHECK_FALSE(net.completions.contains(id));  // {a, b} is no majority: a does not count
  net.Heal();
  net.Pass(absl::Seconds(1));
  CHECK(Done(net, id));  // b and c
}

TEST_CASE("quorum: a new primary rolls back what it does not have, found in one probe round") {
  Net net({"a", "b", "c"});
  net.voters = {"a", "b", "c"};
  net.Formation("a", {"a", "b", "c"}, 1, /*quorum=*/true);
  for (int i = 0; i < 49; ++i) net.Put("a", "k" + std::to_string(i), std::to_string(i));
  net.Pass(absl::Seconds(1));
  REQUIRE(net["b"].last_position().index == 50);
  // a is cut off and writes 30 more it can never commit.
  net.Isolate("a");
  std::vector<std::uint64_t> lost;
  for (int i = 0; i < 30; ++i) lost.push_back(net.Put("a", "lost" + std::to_string(i), "1"));
  net.Settle();
  // b is elected for epoch 2 (it holds every committed entry) and writes.
  net.Formation("b", {"a", "b", "c"}, 2, /*quorum=*/true);
  for (std::uint64_t id : lost) {
    REQUIRE(net.completions.contains(id));
    CHECK(ReasonOf(net.completions.at(id).status) == "not_primary");  // outcome unknown
  }
  std::uint64_t id = 0;
  for (int i = 0; i < 40; ++i) id = net.Put("b", "new" + std::to_string(i), "2");
  net.Settle();
  CHECK(Done(net, id));  // b and c are a majority
  // b restarts: it no longer knows where a stands and probes at its own end (91), past a's
  // last entry (80); a's samples (80, 79, 78, 76, 72, 64, 48, ...) meet b's log at 48.
  net.Restart("b");
  net.Heal();
  net.refusals.clear();
  net.Pass(absl::Seconds(1));
  net.Pass(absl::Seconds(1));
  CHECK(net.refusals["mismatch"] == 1);  // one round trip found the common prefix
  CHECK(net.rolled_back.size() == 30);
  bool reported = false;
  for (const std::string& e : net.events) reported |= e.rfind("rolled_back: a rolled back 30", 0) == 0;
  CHECK(reported);
  CHECK(net["a"].repository().Digest() == net["b"].repository().Digest());
  CHECK(net["a"].last_position() == net["b"].last_position());
  CHECK_FALSE(net["a"].repository().records.contains({"global_configuration", "lost0"}));
}

// Sim seed 125830: a member that applied writes of another array (a clean split it) follows a
// primary lacking them. Its answer to the first append that differs asks for a snapshot; the
// snapshot's last entry is in its log, and keeping its own suffix asked for the snapshot again at
// the next append, for ever. It installs the snapshot instead.
TEST_CASE("quorum: a follower that applied what its new primary lacks installs its snapshot") {
  Net net({"a", "b", "c"});
  net.voters = {"a", "b", "c"};
  net.Formation("a", {"a", "b", "c"}, 1, /*quorum=*/true);
  for (int i = 0; i < 3; ++i) net.Put("a", "k" + std::to_string(i), std::to_string(i));
  net.Pass(absl::Seconds(1));
  const std::uint64_t shared = net["b"].applied_position().index;
  REQUIRE(shared == net["a"].applied_position().index);
  // a, cut off, writes what it cannot commit; c leads b in epoch 2 and commits a write there.
  net.Isolate("a");
  net.Put("a", "only_a", "1");
  net.Settle();
  net.Formation("c", {"b", "c"}, 2, /*quorum=*/true);
  const std::uint64_t write = net.Put("c", "only_c", "2");
  net.Settle();
  REQUIRE(Done(net, write));
  net.Pass(absl::Seconds(1));
  REQUIRE(net["b"].applied_position().index > shared);
  // b follows a in epoch 3 (c is gone).
  net.Heal();
  net.Isolate("c");
  net.Formation("a", {"a", "b"}, 3, /*quorum=*/true);
  net.Pass(absl::Seconds(1));
  net.Pass(absl::Seconds(1));
  CHECK(std::count_if(net.events.begin(), net.events.end(), [](const std::string& e) {
          return e.rfind("snapshot_installed: b installed a's snapshot", 0) == 0;
        }) == 1);
  CHECK(net["b"].repository().Digest() == net["a"].repository().Digest());
  CHECK(net["b"].last_position() == net["a"].last_position());
  CHECK_FALSE(net["b"].repository().records.contains({"global_configuration", "only_c"}));
  CHECK(net["b"].repository().records.contains({"global_configuration", "only_a"}));
}

// Sim seed 958: the primary of epoch 1 returns (recovery, accept) to a member elected in epoch
// 2 meanwhile. Its catch-up samples (5, 4, 2, 0) skip index 3, which it applied: the member's
// answer starts below that, at 2, and must still be taken (the shared entry 3 skipped), or the
// returning primary never gets the leases its members lend only to an up-to-date log.
TEST_CASE("quorum: a primary takes over a newer log whose shared prefix starts below its applied "
          "index") {
  Net net({"a", "b", "c"});
  net.voters = {"a", "b", "c"};
  net.Formation("a", {"a", "b", "c"}, 1, /*quorum=*/true);
  const std::uint64_t id = net.Put("a", "k1", "1");
  net.Pass(absl::Seconds(1));
  REQUIRE(Done(net, id));
  REQUIRE(net["a"].applied_position() == LogPosition{1, 2});
  const std::uint64_t id3 = net.Put("a", "k2", "2");
  net.Pass(absl::Seconds(1));
  REQUIRE(Done(net, id3));
  REQUIRE(net["a"].applied_position() == LogPosition{1, 3});
  net.Isolate("a");  // two writes it can never commit
  net.Put("a", "lost1", "1");
  net.Put("a", "lost2", "1");
  net.Settle();
  REQUIRE(net["a"].last_position() == LogPosition{1, 5});
  net.Formation("b", {"a", "b", "c"}, 2, /*quorum=*/true);  // b's barrier at (2, 4)
  net.Settle();
  REQUIRE(net["b"].last_position() == LogPosition{2, 4});

  // a is primary again in epoch 3, not writable until it holds the newest log.
  net.Heal();
  for (const char* m : {"b", "c"}) {
    View v = net.nodes.at(m).view;
    v.primary = "a";
    v.epoch = 3;
    v.writable = false;
    v.contactable.clear();
    net.SetView(m, v);
  }
  View of_a = net.nodes.at("a").view;
  of_a.primary = "a";
  of_a.epoch = 3;
  of_a.writable = false;
  net.SetView("a", of_a);
  net.Pass(absl::Seconds(1));
  CHECK(net["a"].last_position() == LogPosition{2, 4});
  bool caught_up = false;
  for (const std::string& e : net.events) caught_up |= e.rfind("caught_up: a took over", 0) == 0;
  CHECK(caught_up);
  CHECK(net.rolled_back.size() == 2);
  CHECK(net["a"].repository().records.contains({"global_configuration", "k2"}));
}

TEST_CASE("a new member, or one behind the log base, gets a snapshot then the stream") {
  ReplicatorOptions options;
  options.retain_entries = 4;
  Net net({"a", "b", "d"}, options);
  net.Formation("a", {"a", "b"}, 1);
  for (int i = 0; i < 30; ++i) {
    net.Put("a", "k" + std::to_string(i), std::to_string(i));
    net.Settle();  // b keeps up: it never needs a snapshot
  }
  CHECK(net.nodes.at("a").disk.log_base_index > 0);  // compacted
  CHECK(net.nodes.at("a").disk.log.size() <= 6);
  net.Formation("a", {"a", "b", "d"}, 1);
  net.Settle();
  CHECK(net.delivered[MessageType::kSnapshot] == 1);
  CHECK(net["d"].repository().Digest() == net["a"].repository().Digest());
  net.Put("a", "after", "1");
  net.Settle();
  CHECK(net["d"].applied_position() == net["a"].applied_position());
  CHECK(net.nodes.at("d").disk.repository == net["d"].repository());
}

TEST_CASE("loss, duplication and reordering: every member converges") {
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    CAPTURE(seed);
    std::uint64_t state = seed * 0x9e3779b97f4a7c15ULL;
    auto rnd = [&state](std::uint64_t bound) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      return (state >> 33) % bound;
    };
    const bool quorum = seed % 2 == 0;
    Net net({"a", "b", "c"});
    net.voters = {"a", "b", "c"};
    net.Formation("a", {"a", "b", "c"}, 1, quorum);
    std::vector<std::uint64_t> ids;
    for (int step = 0; step < 300; ++step) {
      if (rnd(3) == 0) ids.push_back(net.Put("a", "k" + std::to_string(rnd(20)), std::to_string(step)));
      if (!net.queue.empty()) {
        const std::size_t pick = rnd(std::min<std::size_t>(net.queue.size(), 4));
        Message m = net.queue[pick];
        net.queue.erase(net.queue.begin() + static_cast<std::ptrdiff_t>(pick));
        const std::uint64_t fate = rnd(10);
        if (fate < 2) continue;                 // lost
        if (fate == 2) net.queue.push_back(m);  // duplicated
        net.Deliver(m);
      }
      if (rnd(10) == 0) {
        net.now += absl::Milliseconds(300);
        for (const char* n : {"a", "b", "c"}) {
          net[n].Tick(net.now);
          net.Drain(n);
        }
      }
      if (rnd(60) == 0) net.Restart(rnd(2) == 0 ? "b" : "c");
    }
    for (int i = 0; i < 5; ++i) net.Pass(absl::Seconds(1));
    for (std::uint64_t id : ids) CHECK(Done(net, id));
    const std::string digest = net["a"].repository().Digest();
    for (const char* n : {"b", "c"}) {
      CHECK(net[n].repository().Digest() == digest);
      CHECK(net[n].applied_position() == net["a"].applied_position());
    }
  }
}

TEST_CASE("fencing: a follower refuses a lower epoch and anyone but its primary") {
  Net net({"a", "b", "c"});
  net.Formation("a", {"a", "b", "c"}, 1);
  net.Settle();
  // b follows c at epoch 3 now; a (epoch 1) still thinks it leads.
  View v = net.nodes.at("b").view;
  v.primary = "c";
  v.epoch = 3;
  net.SetView("b", v);
  net.Put("a", "k", "1");
  net.refusals.clear();
  net.Settle();
  CHECK(net.refusals["stale_epoch"] == 1);
  CHECK(net["b"].repository().records.empty());
  v.epoch = 1;  // same epoch, but a is not b's primary
  Net other({"a", "b"});
  other.Formation("a", {"a", "b"}, 1);
  other.Settle();
  View w = other.nodes.at("b").view;
  w.primary = "z";
  other.SetView("b", w);
  other.Put("a", "k", "1");
  other.Settle();
  CHECK(other.refusals["not_my_primary"] == 1);
  CHECK(other["b"].repository().records.empty());
}

TEST_CASE("array mode: a healed split merges keys, keeps conflicts, dedupes two reports") {
  Net net({"a", "b", "c"});
  net.Formation("a", {"a", "b", "c"}, 1);
  net.Put("a", "base", "0");
  net.Settle();
  // Split: a alone | c leads {b, c}.
  net.Isolate("a");
  net.Formation("a", {"a"}, 1);
  net.Formation("c", {"b", "c"}, 2);
  net.Put("a", "only_a", "1");
  net.Put("a", "both", "\"a\"");
  net.Put("c", "only_c", "2");
  net.Put("c", "both", "\"c\"");
  net.Put("c", "pw", "\"hunter2\"", Wait::kPrimary, "password_cache");
  net.Settle();
  REQUIRE(net["b"].applied_position().index == 4);
  // Heal with accept: a leads all three at epoch 3; b and c report the same divergent suffix.
  net.Heal();
  net.Formation("a", {"a", "b", "c"}, 3);
  for (int i = 0; i < 4; ++i) net.Pass(absl::Seconds(1));
  const Repository& repo = net["a"].repository();
  CHECK(repo.records.at({"global_configuration", "both"}).value == "\"a\"");
  CHECK(repo.records.at({"global_configuration", "only_a"}).value == "1");
  CHECK(repo.records.at({"global_configuration", "only_c"}).value == "2");
  CHECK(repo.records.at({"global_configuration", "only_c"}).origin == "c@2.2");
  CHECK(repo.records.at({"password_cache", "pw"}).value == "\"hunter2\"");
  REQUIRE(repo.conflicts.size() == 1);  // reported by b and c, merged once
  CHECK(repo.conflicts[0].key == "both");
  CHECK(repo.conflicts[0].kept_value == "\"a\"");
  CHECK(repo.conflicts[0].lost_value == "\"c\"");
  CHECK(repo.conflicts[0].lost_writer == "c");
  CHECK(repo.conflicts[0].lost_origin == "c@2.3");
  for (const char* m : {"b", "c"}) CHECK(net[m].repository().Digest() == repo.Digest());
  bool conflict_event = false;
  bool merged_event = false;
  for (const std::string& e : net.events) {
    CHECK(e.find("hunter2") == std::string::npos);  // secret values never in events
    conflict_event |= e.rfind("conflict:", 0) == 0 && e.find("global_configuration/both") != std::string::npos;
    merged_event |= e.rfind("merged:", 0) == 0 && e.find("global_configuration/only_c") != std::string::npos;
  }
  CHECK(conflict_event);
  CHECK(merged_event);
  // A resend after a's restart is merged once too: the origins are rebuilt from its store.
  net.Restart("a");
  net.Formation("a", {"a", "b", "c"}, 3);
  Message resend;
  resend.type = MessageType::kDivergent;
  resend.from = "c";
  resend.to = "a";
  resend.epoch = 3;
  resend.prev_index = 1;
  resend.prev_chain = net["a"].EntryAt(1)->chain;
  Entry e;
  e.index = 2;
  e.epoch = 2;
  e.writer = "c";
  e.category = "global_configuration";
  e.key = "both";
  e.value = "\"c\"";
  resend.entries.push_back(e);
  const std::uint64_t before = net["a"].last_position().index;
  net.Deliver(resend);
  net.Settle();
  CHECK(net["a"].repository().conflicts.size() == 1);
  CHECK(net["a"].last_position().index == before);
}

// Seed 27429: the primary confirmed a follower's merge, then restarted before its snapshot
// arrived; the restarted primary (no per-member state) streams to the follower and waits for its
// report, while the follower waited for the snapshot. The follower reports again.
TEST_CASE("array mode: a merge confirmed before the primary restarted is reported again") {
  Net net({"a", "c"});
  net.Formation("a", {"a"}, 1);
  net.Formation("c", {"c"}, 2);
  net.Put("c", "only_c", "2");
  net.Settle();
  net.Formation("a", {"a", "c"}, 3);
  bool confirmed = false;
  for (int i = 0; i < 100 && !net.queue.empty(); ++i) {
    Message m = net.queue.front();
    net.queue.pop_front();
    net.Deliver(m);
    if (m.type == MessageType::kDivergentReply && m.to == "c" && m.ok) {
      confirmed = true;
      break;
    }
  }
  REQUIRE(confirmed);
  net.queue.clear();  // a crashes: its snapshot to c is lost, the merge is durable
  net.Restart("a");
  for (int i = 0; i < 5; ++i) net.Pass(absl::Seconds(1));
  const Repository& repo = net["a"].repository();
  CHECK(repo.records.at({"global_configuration", "only_c"}).value == "2");
  CHECK(net["c"].repository().Digest() == repo.Digest());
  // c installed a's snapshot: its log is a's (not its own epoch-2 entry with the same content).
  CHECK(net["c"].applied_position().epoch == 3);
  CHECK(net["c"].last_position().epoch == 3);
  CHECK(net["c"].repository().records.at({"global_configuration", "only_c"}).origin == "c@2.1");
}

TEST_CASE("restart from the store mid-stream loses nothing acknowledged") {
  Net net({"a", "b"});
  net.Formation("a", {"a", "b"}, 1);
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(net.Put("a", "k" + std::to_string(i), "1"));
  // Half the stream arrives, then both restart from what they persisted.
  for (int i = 0; i < 2 && !net.queue.empty(); ++i) {
    Message m = net.queue.front();
    net.queue.pop_front();
    net.Deliver(m);
  }
  net.queue.clear();
  net.Restart("a");
  net.Restart("b");
  CHECK(net["a"].last_position().index == 10);
  for (int i = 0; i < 3; ++i) net.Pass(absl::Seconds(1));
  for (std::uint64_t id : ids) CHECK(Done(net, id));
  CHECK(net["b"].repository().Digest() == net["a"].repository().Digest());
  CHECK(net["b"].applied_position().index == 10);
}

TEST_CASE("wait all and wait-synced complete once every contactable member has it") {
  Net net({"a", "b", "c"});
  net.Formation("a", {"a", "b", "c"}, 1);
  net.Settle();
  net.Isolate("c");
  const std::uint64_t all = net.Put("a", "k", "1", Wait::kAll);
  const std::uint64_t synced = ++net.next_request;
  net["a"].WaitSynced(synced);
  net.Drain("a");
  net.Pass(absl::Seconds(1));
  CHECK_FALSE(net.completions.contains(all));  // c is still contactable and lacks it
  CHECK_FALSE(net.completions.contains(synced));
  // a's failover machine declares c uncontactable: both complete.
  View v = net.nodes.at("a").view;
  v.contactable = {"a", "b"};
  net.SetView("a", v);
  net.Pass(absl::Seconds(1));
  CHECK(Done(net, all));
  CHECK(Done(net, synced));
  CHECK(net.completions.at(synced).position == LogPosition{1, 1});
  net["b"].WaitSynced(99);
  net.Drain("b");
  CHECK(ReasonOf(net.completions.at(99).status) == "not_primary");
}

// ---- prompt catch-up when contact is (re)established ------------------------------------------

namespace {

// A two-member array a -> b with the default monitor interval (60 s: unanswered messages are
// retried after 30 s), b holding the first write.
void SlowRetryFormation(Net& net) {
  net.Formation("a", {"a", "b"}, 1);
  for (const std::string name : {"a", "b"}) {
    View v = net.nodes.at(name).view;
    v.monitor_interval = absl::Seconds(60);
    net.SetView(name, v);
  }
  net.Settle();
  net.Put("a", "k0", "0");
  net.Settle();
  REQUIRE(net["b"].applied_position().index == 1);
}

}  // namespace

TEST_CASE("a restarted follower says hello and catches up at once, not at the next retry") {
  Net net({"a", "b"});
  SlowRetryFormation(net);
  net.Isolate("b");  // b is down: a's appends are lost
  for (int i = 1; i <= 3; ++i) net.Put("a", "k" + std::to_string(i), "1");
  net.Settle();
  net.Heal();
  net.Pass(absl::Seconds(1));  // a's retry is 30 s away: nothing reaches b
  REQUIRE(net["b"].last_position().index == 1);
  net.delivered.clear();
  net.Restart("b");  // b comes back at 1 s: its hello tells a where it stands
  net.Settle();
  CHECK(net.delivered[MessageType::kHello] == 1);
  CHECK(net["b"].last_position().index == 4);
  CHECK(net["b"].applied_position().index == 4);
  CHECK(net["b"].repository().Digest() == net["a"].repository().Digest());
  // One hello per restart: the stream goes on without more.
  net.Put("a", "k4", "1");
  net.Pass(absl::Seconds(1));
  CHECK(net.delivered[MessageType::kHello] == 1);
  CHECK(net["b"].applied_position().index == 5);
}

TEST_CASE("a follower whose probe is answered again after a miss says hello") {
  Net net({"a", "b"});
  SlowRetryFormation(net);
  net.Isolate("b");  // a short cut: a's appends are lost, nobody restarts
  net.Put("a", "k1", "1");
  net.Put("a", "k2", "1");
  net.Settle();
  net.Heal();
  net.Pass(absl::Seconds(1));
  REQUIRE(net["b"].last_position().index == 1);
  // b's failover machine had a probe answered after a miss.
  View v = net.nodes.at("b").view;
  ++v.primary_contact;
  net.SetView("b", v);
  net.Settle();
  CHECK(net["b"].applied_position().index == 3);
  CHECK(net["b"].repository().Digest() == net["a"].repository().Digest());
}

TEST_CASE("a member that turns to its new primary after refusing it says hello") {
  // a leads epoch 2 with b as a member, but b still follows c when a's first append arrives:
  // refused (not_my_primary), a would look again only after its retry interval.
  Net net({"a", "b", "c"});
  SlowRetryFormation(net);
  View of_b = net.nodes.at("b").view;
  of_b.primary = "c";
  net.SetView("b", of_b);
  net.Settle();
  View of_a = net.nodes.at("a").view;
  of_a.epoch = 2;
  net.SetView("a", of_a);
  net.Put("a", "k1", "1");
  net.refusals.clear();
  net.Settle();
  REQUIRE(net.refusals["not_my_primary"] >= 1);
  REQUIRE(net["b"].last_position().index == 1);
  of_b.primary = "a";  // b joins a's array at epoch 2
  of_b.epoch = 2;
  net.SetView("b", of_b);
  net.Settle();
  CHECK(net["b"].last_position().index == 2);
  CHECK(net["b"].applied_position().index == 2);
}

TEST_CASE("a hello from a member of another array or a newer epoch changes nothing") {
  Net net({"a", "b", "c"});
  SlowRetryFormation(net);
  Message hello;
  hello.type = MessageType::kHello;
  hello.from = "c";  // not in a's array
  hello.to = "a";
  hello.epoch = 1;
  net["a"].Step(hello);
  CHECK_FALSE(net["a"].HasReady());
  hello.from = "b";
  hello.epoch = 7;  // a is stale: b follows someone newer
  net["a"].Step(hello);
  CHECK_FALSE(net["a"].HasReady());
}

TEST_CASE("a hello from a member holding writes the primary lacks still gets them merged") {
  // b led an array of its own and wrote only_b; a (array mode, epoch 2, empty log) takes it
  // in, but a's first append arrives before b turns to a (refused, not_my_primary). b's hello
  // then shares only the empty prefix with a: a asks again at its end, b reports its write as
  // divergent, a merges it — at once, not at a's next retry.
  Net net({"a", "b"});
  net.Formation("b", {"b"}, 1);
  net.Put("b", "only_b", "1");
  net.Settle();
  REQUIRE(net["b"].last_position().index == 1);
  View of_b = net.nodes.at("b").view;
  View of_a = of_b;
  of_a.primary = "a";
  of_a.epoch = 2;
  of_a.members = {"a", "b"};
  of_a.contactable = {"a", "b"};
  net.SetView("a", of_a);
  net.refusals.clear();
  net.Settle();
  REQUIRE(net.refusals["not_my_primary"] == 1);
  of_b = of_a;
  of_b.writable = false;
  of_b.contactable.clear();
  net.SetView("b", of_b);
  net.Settle();
  CHECK(net["a"].repository().records.contains({"global_configuration", "only_b"}));
  CHECK(net["b"].repository().Digest() == net["a"].repository().Digest());
}

// Seeds 177250, 333856, 651253, 776247, 946970: a primary whose log no longer reaches the common
// prefix merges by value. c held a's writes as merged copies, then wrote over two of the keys;
// b, holding a's originals, leads c. c reports the copies (equal to b's values), then its own
// writes. The merge decided every key by its first reported entry, skipped c's writes as
// "equal", and c's snapshot install dropped them. They are c's side's newer writes of keys b's
// side left as they were: kept.
TEST_CASE("array mode: a merge by value keeps a write over a value both sides held") {
  Net net({"a", "b", "c"});
  net.nodes.at("b").options.retain_entries = 1;  // b's log soon starts after the split
  net.Restart("b");
  net.Isolate("c");
  net.Formation("a", {"a", "b"}, 1);
  net.Formation("c", {"c"}, 2);
  net.Put("a", "k", "\"a\"");
  net.Put("a", "d", "\"a\"");
  net.Put("a", "l", "\"a\"");
  net.Settle();
  REQUIRE(net["b"].repository().applied_index == 3);
  REQUIRE_FALSE(net["b"].EntryAt(1).has_value());  // compacted
  // c takes a in: a's writes become c's merged copies; then c writes over k and deletes d.
  net.Heal();
  net.Isolate("b");
  net.Formation("c", {"a", "c"}, 3);
  for (int i = 0; i < 4; ++i) net.Pass(absl::Seconds(1));
  REQUIRE(net["c"].repository().records.at({"global_configuration", "k"}).origin == "a@1.1");
  const std::uint64_t k_index = net["c"].last_position().index + 1;
  net.Put("c", "k", "\"c\"");
  net.nodes.at("c").r->Delete(++net.next_request, "global_configuration", "d", Wait::kPrimary);
  net.Drain("c");
  net.Settle();
  // b leads b and c: its log starts after their common prefix (index 0).
  net.Heal();
  net.Isolate("a");
  net.Formation("b", {"b", "c"}, 4);
  for (int i = 0; i < 4; ++i) net.Pass(absl::Seconds(1));
  const Repository& repo = net["b"].repository();
  const auto& k = repo.records.at({"global_configuration", "k"});
  CHECK(k.value == "\"c\"");
  CHECK(k.origin == absl::StrCat("c@3.", k_index));
  CHECK(repo.records.at({"global_configuration", "d"}).deleted);
  CHECK(repo.records.at({"global_configuration", "l"}).value == "\"a\"");
  CHECK(repo.conflicts.empty());
  CHECK(net["c"].repository().Digest() == repo.Digest());
}
