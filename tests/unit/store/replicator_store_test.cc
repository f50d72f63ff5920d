// The store against the real replicator: members hand-driven over a tiny in-test network, every
// Ready persisted through Store::Commit. After every Ready (and after reopening), what the store
// loads must be what replication::PersistReady makes of the same Readys, the repository the
// replicator holds in memory (Repository::Apply) with the same Digest(), and a log whose entries
// the replicator still holds, chained by replication::Chain().
#include <catch2/catch.hpp>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/replication/replicator.h"
#include "core/status.h"
#include "store/store.h"
#include "store_test_util.h"

namespace {

using arraykit::replication::Chain;
using arraykit::replication::Durable;
using arraykit::replication::Entry;
using arraykit::replication::EntryKind;
using arraykit::replication::Message;
using arraykit::replication::MessageType;
using arraykit::replication::PersistReady;
using arraykit::replication::Ready;
using arraykit::replication::Replicator;
using arraykit::replication::ReplicatorOptions;
using arraykit::replication::Repository;
using arraykit::replication::ValidateDurable;
using arraykit::replication::View;
using arraykit::replication::Wait;
using arraykit::store::Batch;
using arraykit::store::Store;
using arraykit::store::testing::TempDir;

struct Member {
  std::string dir;
  std::unique_ptr<Store> store;
  Durable expected;  // PersistReady of every Ready this member persisted
  std::unique_ptr<Replicator> r;
  View view;
};

void RequireSameDurable(const Durable& got, const Durable& want) {
  CHECK(got.log_base_index == want.log_base_index);
  CHECK(got.log_base_chain == want.log_base_chain);
  CHECK(got.log_base_epoch == want.log_base_epoch);
  REQUIRE(got.log.size() == want.log.size());
  for (std::size_t i = 0; i < got.log.size(); ++i) {
    INFO("log entry " << want.log[i].index);
    REQUIRE(got.log[i] == want.log[i]);
  }
  CHECK(got.repository.Digest() == want.repository.Digest());
  REQUIRE(got.repository == want.repository);
}

class StoreNet {
 public:
  StoreNet(std::vector<std::string> names, ReplicatorOptions options = {}) : options_(options) {
    for (const std::string& name : names) {
      Member& m = members[name];
      m.dir = tmp_.Sub(name);
      auto store = Store::Open(m.dir);
      REQUIRE(store.ok());
      m.store = *std::move(store);
      auto durable = m.store->LoadReplication();
      REQUIRE(durable.ok());
      m.r = std::make_unique<Replicator>(name, *std::move(durable), options_);
    }
  }

  Replicator& operator[](const std::string& name) { return *members.at(name).r; }

  // Everyone in `group` follows `primary` at `epoch`.
  void Formation(const std::string& primary, const std::vector<std::string>& group,
                 std::uint64_t epoch, bool quorum = false) {
    for (const std::string& name : group) {
      View v;
      v.primary = primary;
      v.epoch = epoch;
      v.quorum = quorum;
      v.members = group;
      v.voters = quorum ? group : std::vector<std::string>{};
      if (name == primary) {
        v.writable = true;
        v.contactable = group;
      }
      members.at(name).view = v;
      members.at(name).r->SetView(v);
      Drain(name);
    }
  }

  // Persists every Ready through the store (before sending, as a host must) and checks the
  // store against PersistReady and against the replicator's own state.
  void Drain(const std::string& name) {
    Member& m = members.at(name);
    while (m.r->HasReady()) {
      Ready& ready = m.r->GetReady();
      Batch batch;
      batch.replication = &ready;
      const absl::Status committed = m.store->Commit(batch);
      INFO(name << ": " << committed);
      REQUIRE(committed.ok());
      PersistReady(ready, m.expected);
      seen_snapshot |= ready.snapshot.has_value();
      seen_truncate |= ready.truncate_after.has_value();
      seen_compact |= ready.compact_through.has_value();
      for (const Entry& e : ready.append) {
        seen_conflict |= e.kind == EntryKind::kConflict;
        seen_delete |= e.kind == EntryKind::kDelete;
      }
      rolled_back += ready.rolled_back.size();
      for (Message& msg : ready.messages) {
        if (!cut.contains({msg.from, msg.to})) queue.push_back(msg);
      }
      m.r->Advance();
      Check(name);
    }
  }

  void Check(const std::string& name) {
    INFO("member " << name);
    Member& m = members.at(name);
    auto loaded = m.store->LoadReplication();
    REQUIRE(loaded.ok());
    REQUIRE(ValidateDurable(*loaded).ok());
    RequireSameDurable(*loaded, m.expected);
    // The repository the replicator built in memory, entry by entry.
    CHECK(loaded->repository.Digest() == m.r->repository().Digest());
    REQUIRE(loaded->repository == m.r->repository());
    CHECK(loaded->repository.applied_index == m.r->applied_position().index);
    // The stored log is the replicator's log, and each entry's chain follows its predecessor's.
    const std::uint64_t last = loaded->log.empty() ? loaded->log_base_index
                                                   : loaded->log.back().index;
    CHECK(last == m.r->last_position().index);
    std::uint64_t previous = loaded->log_base_chain;
    for (const Entry& e : loaded->log) {
      INFO("log entry " << e.index);
      CHECK(e.chain == Chain(previous, e));
      previous = e.chain;
      const std::optional<Entry> held = m.r->EntryAt(e.index);
      if (held.has_value()) CHECK(*held == e);
    }
    ++checks;
  }

  void Settle() {
    for (int i = 0; i < 100000 && !queue.empty(); ++i) {
      Message msg = queue.front();
      queue.pop_front();
      if (cut.contains({msg.from, msg.to})) continue;
      members.at(msg.to).r->Step(msg);
      Drain(msg.to);
    }
    REQUIRE(queue.empty());
  }

  void Pass(absl::Duration d) {
    now_ += d;
    for (auto& [name, m] : members) {
      m.r->Tick(now_);
      Drain(name);
    }
    Settle();
  }

  // The member stops, its store is closed and reopened; the replicator restarts from what the
  // store loads (not from the reference).
  void Reopen(const std::string& name) {
    Member& m = members.at(name);
    m.r.reset();
    m.store.reset();
    auto store = Store::Open(m.dir);
    REQUIRE(store.ok());
    m.store = *std::move(store);
    auto durable = m.store->LoadReplication();
    REQUIRE(durable.ok());
    RequireSameDurable(*durable, m.expected);
    m.r = std::make_unique<Replicator>(name, *std::move(durable), options_);
    m.r->Tick(now_);
    m.r->SetView(m.view);
    Drain(name);
    Check(name);
  }

  void Isolate(const std::string& name) {
    for (auto& [other, m] : members) {
      if (other == name) continue;
      cut.insert({name, other});
      cut.insert({other, name});
    }
  }

  void Put(const std::string& on, const std::string& key, const std::string& value,
           const std::string& category = "global_configuration") {
    members.at(on).r->Write(++next_request_, category, key, value, Wait::kPrimary);
    Drain(on);
  }
  void Delete(const std::string& on, const std::string& key,
              const std::string& category = "global_configuration") {
    members.at(on).r->Delete(++next_request_, category, key, Wait::kPrimary);
    Drain(on);
  }

  std::map<std::string, Member> members;
  std::deque<Message> queue;
  std::set<std::pair<std::string, std::string>> cut;
  bool seen_snapshot = false;
  bool seen_truncate = false;
  bool seen_compact = false;
  bool seen_conflict = false;
  bool seen_delete = false;
  std::size_t rolled_back = 0;
  int checks = 0;

 private:
  TempDir tmp_;
  ReplicatorOptions options_;
  absl::Duration now_ = absl::ZeroDuration();
  std::uint64_t next_request_ = 0;
};

}  // namespace

TEST_CASE("store and replicator agree: writes, deletes, array-mode merge with conflicts") {
  StoreNet net({"a", "b", "c"});
  net.Formation("a", {"a", "b", "c"}, 1);
  net.Put("a", "base", "0");
  net.Put("a", "gone", R"({"x":[1,2]})");
  net.Delete("a", "gone");
  net.Settle();
  // Split: a alone | c leads {b, c}; both sides write, some keys on both.
  net.Isolate("a");
  net.Formation("a", {"a"}, 1);
  net.Formation("c", {"b", "c"}, 2);
  net.Put("a", "only_a", "1");
  net.Put("a", "both", "\"a\"");
  net.Delete("a", "base");
  net.Put("c", "only_c", "2");
  net.Put("c", "both", "\"c\"");
  net.Put("c", "base", "\"c\"");
  net.Put("c", "pw", "\"hunter2\"", "password_cache");
  net.Settle();
  net.Reopen("b");  // mid-split, from its store
  // Heal: a leads all three at epoch 3; b and c send their divergent suffix, a merges it.
  net.cut.clear();
  net.Formation("a", {"a", "b", "c"}, 3);
  for (int i = 0; i < 5; ++i) net.Pass(absl::Seconds(1));
  CHECK(net.seen_conflict);
  CHECK(net.seen_delete);
  const Repository repo = net["a"].repository();  // a copy: Reopen replaces the replicator
  CHECK(repo.records.at({"global_configuration", "only_c"}).value == "2");
  CHECK(repo.records.at({"global_configuration", "both"}).value == "\"a\"");
  CHECK_FALSE(repo.conflicts.empty());
  for (const char* name : {"a", "b", "c"}) {
    net.Reopen(name);
    CHECK(net[name].repository().Digest() == repo.Digest());
  }
  // Writes after the merge still persist alike on every member.
  net.Put("a", "after", "[true]");
  net.Settle();
  for (const char* name : {"a", "b", "c"}) net.Check(name);
  CHECK(net.members.at("c").store->CheckIntegrity().ok());
}

TEST_CASE("store and replicator agree: quorum rollback truncates the stored log") {
  StoreNet net({"a", "b", "c"});
  net.Formation("a", {"a", "b", "c"}, 1, /*quorum=*/true);
  for (int i = 0; i < 8; ++i) net.Put("a", "k" + std::to_string(i), std::to_string(i));
  net.Pass(absl::Seconds(1));
  // a is cut off and writes entries it can never commit.
  net.Isolate("a");
  for (int i = 0; i < 6; ++i) net.Put("a", "lost" + std::to_string(i), "1");
  net.Settle();
  net.Reopen("a");  // the uncommitted tail survives a restart, as it must
  net.Formation("b", {"a", "b", "c"}, 2, /*quorum=*/true);
  for (int i = 0; i < 4; ++i) net.Put("b", "new" + std::to_string(i), "2");
  net.Delete("b", "k0");
  net.Settle();
  net.cut.clear();
  for (int i = 0; i < 4; ++i) net.Pass(absl::Seconds(1));
  CHECK(net.seen_truncate);
  CHECK(net.rolled_back == 6);
  CHECK_FALSE(net["a"].repository().records.contains({"global_configuration", "lost0"}));
  for (const char* name : {"a", "b", "c"}) {
    net.Reopen(name);
    CHECK(net[name].repository().Digest() == net["b"].repository().Digest());
    CHECK(net[name].last_position() == net["b"].last_position());
  }
}

TEST_CASE("store and replicator agree: compaction and snapshot install") {
  ReplicatorOptions options;
  options.retain_entries = 4;
  StoreNet net({"a", "b", "d"}, options);
  net.Formation("a", {"a", "b"}, 1);
  for (int i = 0; i < 30; ++i) {
    if (i % 7 == 6) {
      net.Delete("a", "k" + std::to_string(i - 3));
    } else {
      net.Put("a", "k" + std::to_string(i), std::to_string(i));
    }
    net.Settle();
  }
  CHECK(net.seen_compact);
  net.Reopen("a");
  {
    auto loaded = net.members.at("a").store->LoadReplication();
    REQUIRE(loaded.ok());
    CHECK(loaded->log_base_index > 0);
    CHECK(loaded->log.size() <= 6);
  }
  // d is new: it installs a snapshot, then follows the stream (and compacts in turn).
  net.Formation("a", {"a", "b", "d"}, 1);
  net.Settle();
  CHECK(net.seen_snapshot);
  for (int i = 0; i < 10; ++i) {
    net.Put("a", "after" + std::to_string(i), "1");
    net.Settle();
  }
  net.Pass(absl::Seconds(1));
  for (const char* name : {"a", "b", "d"}) {
    net.Reopen(name);
    CHECK(net[name].repository().Digest() == net["a"].repository().Digest());
  }
  CHECK(net.members.at("d").store->CheckIntegrity().ok());
  CHECK(net.checks > 50);
}
