// Hand-made Readys persisted by the store and loaded back as its Durable: compared with the
// replicator's meaning of each persist (PersistReady: snapshot, truncate, append, apply,
// compaction). replicator_store_test.cc drives the real replicator.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <memory>
#include <random>
#include <string>

#include "core/replication/replicator.h"
#include "core/status.h"
#include "store/store.h"
#include "store_test_util.h"

using arraykit::ReasonOf;
using arraykit::replication::Durable;
using arraykit::replication::Entry;
using arraykit::replication::PersistReady;
using arraykit::replication::Ready;
using arraykit::replication::Repository;
using arraykit::replication::Snapshot;
using arraykit::store::Batch;
using arraykit::store::Store;
using namespace arraykit::store::testing;

namespace {

// What the store must hold after persisting `ready`: the replicator's own meaning of a Ready
// (replication::PersistReady, which applies entries with Repository::Apply).
void ReferencePersist(Durable& d, const Ready& ready) { PersistReady(ready, d); }

void RequireEqual(const Durable& got, const Durable& want) {
  CHECK(got.log_base_index == want.log_base_index);
  CHECK(got.log_base_chain == want.log_base_chain);
  CHECK(got.log_base_epoch == want.log_base_epoch);
  REQUIRE(got.log.size() == want.log.size());
  for (std::size_t i = 0; i < got.log.size(); ++i) {
    INFO("log entry " << want.log[i].index);
    CHECK(got.log[i] == want.log[i]);
  }
  CHECK(got.repository.applied_index == want.repository.applied_index);
  CHECK(got.repository.applied_chain == want.repository.applied_chain);
  CHECK(got.repository.applied_epoch == want.repository.applied_epoch);
  CHECK(got.repository.conflicts == want.repository.conflicts);
  CHECK(got.repository.records == want.repository.records);
  REQUIRE(got.repository == want.repository);
}

Durable Load(Store& store) {
  auto durable = store.LoadReplication();
  REQUIRE(durable.ok());
  return *std::move(durable);
}

absl::Status Persist(Store& store, const Ready& ready) {
  Batch batch;
  batch.replication = &ready;
  return store.Commit(batch);
}

// One integer from the closed store's database, read with SQLite directly.
std::int64_t QueryInt(const std::string& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((dir + "/store.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
          SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  const int prepared = sqlite3_prepare_v2(db, sql.c_str(), -1, &q, nullptr);
  const int stepped = prepared == SQLITE_OK ? sqlite3_step(q) : prepared;
  const std::int64_t value = stepped == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
  sqlite3_finalize(q);
  sqlite3_close(db);
  INFO(sql);
  REQUIRE(stepped == SQLITE_ROW);
  return value;
}

void RunSql(const std::string& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((dir + "/store.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) ==
          SQLITE_OK);
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  INFO(sql);
  REQUIRE(rc == SQLITE_OK);
}

}  // namespace

TEST_CASE("appended and applied entries reload as the same log and repository") {
  TempDir tmp;
  const std::string dir = tmp.Sub("member");
  Durable want;
  {
    auto store = Store::Open(dir);
    REQUIRE(store.ok());
    Ready ready;
    ready.append = {Put(1, "sessions", "a", R"({"user":"ann"})"),
                    Put(2, "sessions", "b", R"([1,2,3])"),
                    Del(3, "sessions", "a"),
                    Put(4, "password_cache", "k\x01\xff", "\"s3cret\""),
                    Barrier(5, 2),
                    Put(6, "sessions", "a", "true", 2)};
    LinkTo(want, ready);
    ready.apply = {ready.append[0], ready.append[1], ready.append[2], ready.append[3]};
    REQUIRE(Persist(**store, ready).ok());
    ReferencePersist(want, ready);
    RequireEqual(Load(**store), want);
  }
  auto store = Store::Open(dir);
  REQUIRE(store.ok());
  const Durable got = Load(**store);
  RequireEqual(got, want);
  // The tombstone keeps its index; the chain's top bit survives.
  CHECK(got.repository.records.at({"sessions", "a"}).deleted);
  CHECK(got.repository.records.at({"sessions", "a"}).index == 3);
  CHECK(got.repository.applied_index == 4);
  CHECK(got.log.size() == 6);

  // Applying the rest later, in another batch.
  Ready more;
  more.apply = {want.log[4], want.log[5]};
  REQUIRE(Persist(**store, more).ok());
  ReferencePersist(want, more);
  RequireEqual(Load(**store), want);
  CHECK(want.repository.applied_epoch == 2);
}

// Applying an entry only moves the applied position (a joining member's catch-up writes each
// entry once, as a log row); the records and conflicts tables take the applied entries when the
// log is compacted past them, and a load replays the rest from the log.
TEST_CASE("applied entries reach the records table when the log is compacted past them") {
  TempDir tmp;
  const std::string dir = tmp.Sub("m");
  Durable want;
  auto reopen = [&](std::unique_ptr<Store>& store) {
    store.reset();
    auto opened = Store::Open(dir);
    REQUIRE(opened.ok());
    store = *std::move(opened);
    RequireEqual(Load(*store), want);
  };
  auto close = [](std::unique_ptr<Store>& store) { store.reset(); };
  auto opened = Store::Open(dir);
  REQUIRE(opened.ok());
  std::unique_ptr<Store> store = *std::move(opened);

  Ready first;
  first.append = {Put(1, "sessions", "a", "1"),
                  Put(2, "sessions", "b", "2"),
                  Del(3, "sessions", "a"),
                  ConflictEntry(4, "sessions", "b", "lost-b", "newyork@1.4"),
                  Put(5, "sessions", "c", "5"),
                  Put(6, "sessions", "b", "6"),
                  ConflictEntry(7, "sessions", "a", "lost-a", "chicago@1.7"),
                  Barrier(8, 1)};
  LinkTo(want, first);
  first.apply = first.append;
  REQUIRE(Persist(*store, first).ok());
  ReferencePersist(want, first);
  close(store);
  CHECK(QueryInt(dir, "SELECT count(*) FROM records") == 0);
  CHECK(QueryInt(dir, "SELECT count(*) FROM conflicts") == 0);
  CHECK(QueryInt(dir, "SELECT records_idx FROM applied") == 0);
  reopen(store);  // the eight entries replayed from the log
  REQUIRE(want.repository.conflicts.size() == 2);
  CHECK(want.repository.conflicts[0].kept_value == "2");

  // Compacting through 5 writes the records as entries 1-5 left them, and one conflict.
  Ready compact;
  compact.compact_through = 5;
  REQUIRE(Persist(*store, compact).ok());
  ReferencePersist(want, compact);
  close(store);
  CHECK(QueryInt(dir, "SELECT records_idx FROM applied") == 5);
  CHECK(QueryInt(dir, "SELECT count(*) FROM records") == 3);
  CHECK(QueryInt(dir, "SELECT deleted FROM records WHERE \"key\" = 'a'") == 1);
  CHECK(QueryInt(dir, "SELECT idx FROM records WHERE \"key\" = 'b'") == 2);
  CHECK(QueryInt(dir, "SELECT count(*) FROM conflicts") == 1);
  reopen(store);  // records through 5, entries 6-8 replayed

  // A conflict whose kept value is in the records table (b was last written by entry 6, which
  // the next compaction writes first), and one on a key the log no longer holds (c).
  Ready more;
  more.append = {ConflictEntry(9, "sessions", "b", "lost-b2", "newyork@1.9"),
                 ConflictEntry(10, "sessions", "c", "lost-c", "newyork@1.10")};
  LinkTo(want, more);
  more.apply = more.append;
  more.compact_through = 10;
  REQUIRE(Persist(*store, more).ok());
  ReferencePersist(want, more);
  REQUIRE(want.repository.conflicts.size() == 4);
  CHECK(want.repository.conflicts[2].kept_value == "6");
  CHECK(want.repository.conflicts[3].kept_value == "5");
  RequireEqual(Load(*store), want);
  close(store);
  CHECK(QueryInt(dir, "SELECT records_idx FROM applied") == 10);
  CHECK(QueryInt(dir, "SELECT count(*) FROM conflicts") == 4);
  CHECK(QueryInt(dir, "SELECT count(*) FROM log") == 0);
  reopen(store);
}

TEST_CASE("the records follow the applied index at most kRecordsLag entries behind") {
  using arraykit::store::kRecordsLag;
  using arraykit::store::kRecordsSlice;
  TempDir tmp;
  const std::string dir = tmp.Sub("m");
  Durable want;
  auto store = Store::Open(dir);
  REQUIRE(store.ok());
  std::uint64_t next = 1;
  auto apply = [&](std::uint64_t count) {
    Ready ready;
    for (std::uint64_t i = 0; i < count; ++i, ++next) {
      ready.append.push_back(
          next % 97 == 0
              ? ConflictEntry(next, "sessions", "k" + std::to_string(next % 300), "lost", "w@1.1")
              : Put(next, "sessions", "k" + std::to_string(next % 300), std::to_string(next)));
    }
    LinkTo(want, ready);
    ready.apply = ready.append;
    REQUIRE(Persist(**store, ready).ok());
    ReferencePersist(want, ready);
  };
  auto records_index = [&] {
    store->reset();
    const std::int64_t index = QueryInt(dir, "SELECT records_idx FROM applied");
    auto reopened = Store::Open(dir);
    REQUIRE(reopened.ok());
    *store = *std::move(reopened);
    RequireEqual(Load(**store), want);
    return static_cast<std::uint64_t>(index);
  };
  // A batch that takes the applied index past the lag writes its whole excess.
  for (int i = 0; i < 16; ++i) apply(1024);
  CHECK(records_index() == 0);
  apply(kRecordsLag + 600 - 16 * 1024);
  CHECK(records_index() == 600);
  // Beyond that, a slice at a time.
  apply(1);
  CHECK(records_index() == 600 + kRecordsSlice);
  apply(1);
  CHECK(records_index() == 600 + kRecordsSlice);
}

TEST_CASE(
    "a records index outside the log, or a log that misses the applied position, is "
    "corrupt_state") {
  TempDir tmp;
  const std::string dir = tmp.Sub("m");
  {
    auto store = Store::Open(dir);
    REQUIRE(store.ok());
    Durable want;
    Ready ready;
    ready.append = {Put(1, "sessions", "a", "1"), Put(2, "sessions", "a", "2"),
                    Put(3, "sessions", "b", "3")};
    LinkTo(want, ready);
    ready.apply = ready.append;
    ready.compact_through = 1;
    REQUIRE(Persist(**store, ready).ok());
  }
  SECTION("above the applied index") {
    RunSql(dir, "UPDATE applied SET records_idx = 4");
    auto store = Store::Open(dir);
    REQUIRE_FALSE(store.ok());
    CHECK(ReasonOf(store.status()) == "corrupt_state");
    CHECK(std::string(store.status().message()).find("records' index 4") != std::string::npos);
  }
  SECTION("below the log base") {
    RunSql(dir, "UPDATE applied SET records_idx = 0");
    auto store = Store::Open(dir);
    REQUIRE_FALSE(store.ok());
    CHECK(ReasonOf(store.status()) == "corrupt_state");
  }
  SECTION("the last applied entry's chain changed in the log") {
    RunSql(dir, "UPDATE log SET chain = 12345 WHERE idx = 3");
    auto store = Store::Open(dir);
    REQUIRE(store.ok());  // opening reads the positions only
    auto durable = (*store)->LoadReplication();
    REQUIRE_FALSE(durable.ok());
    CHECK(ReasonOf(durable.status()) == "corrupt_state");
  }
}

TEST_CASE("uint64 values above 2^63 are stored losslessly") {
  TempDir tmp;
  auto store = Store::Open(tmp.Sub("m"));
  REQUIRE(store.ok());
  Ready ready;
  // An entry whose chain has its top bit set (about every other value gives one).
  Entry e = Put(1, "sessions", "k", "1", 0xffffffffffffffffULL);
  for (int v = 2; e.chain < 0x8000000000000000ULL; ++v) {
    e = Put(1, "sessions", "k", std::to_string(v), 0xffffffffffffffffULL);
  }
  ready.append = {e};
  ready.apply = {e};
  REQUIRE(Persist(**store, ready).ok());
  Durable want;
  ReferencePersist(want, ready);
  RequireEqual(Load(**store), want);
  CHECK(Load(**store).repository.applied_chain == e.chain);
  CHECK(Load(**store).log[0].chain == e.chain);
}

TEST_CASE("conflict entries record the kept and the lost value") {
  TempDir tmp;
  auto store = Store::Open(tmp.Sub("m"));
  REQUIRE(store.ok());
  Ready ready;
  ready.append = {
      Put(1, "global_configuration", "timeout", "30"),
      ConflictEntry(2, "global_configuration", "timeout", "45", "newyork.example.com@3.17"),
      Del(3, "global_configuration", "mode"),
      ConflictEntry(4, "global_configuration", "mode", "\"fast\"", "newyork.example.com@3.18"),
      ConflictEntry(5, "sessions", "never-written", "", "chicago@2.9")};
  Durable want;
  LinkTo(want, ready);
  ready.apply = ready.append;
  REQUIRE(Persist(**store, ready).ok());
  ReferencePersist(want, ready);
  const Durable got = Load(**store);
  RequireEqual(got, want);
  REQUIRE(got.repository.conflicts.size() == 3);
  CHECK(got.repository.conflicts[0].kept_value == "30");
  CHECK(got.repository.conflicts[0].lost_value == "45");
  CHECK(got.repository.conflicts[0].lost_writer == "newyork.example.com");
  CHECK(got.repository.conflicts[0].lost_origin == "newyork.example.com@3.17");
  CHECK(got.repository.conflicts[1].kept_value.empty());  // the key stands deleted
  CHECK(got.repository.conflicts[2].lost_writer == "chicago");
  // A conflict does not change the record that stands.
  CHECK(got.repository.records.at({"global_configuration", "timeout"}).value == "30");
}

TEST_CASE("truncate drops the unapplied tail; new entries follow the truncation point") {
  TempDir tmp;
  auto store = Store::Open(tmp.Sub("m"));
  REQUIRE(store.ok());
  Durable want;
  Ready first;
  for (std::uint64_t i = 1; i <= 8; ++i) first.append.push_back(Put(i, "sessions", "k", "1"));
  LinkTo(want, first);
  first.apply = {first.append[0], first.append[1], first.append[2]};
  REQUIRE(Persist(**store, first).ok());
  ReferencePersist(want, first);

  Ready rollback;  // a deposed primary's entries 6..8 are rolled back, the new primary's follow
  rollback.truncate_after = 5;
  rollback.append = {Put(6, "sessions", "k", "2", 2), Put(7, "sessions", "j", "3", 2)};
  LinkTo(want, rollback);
  REQUIRE(Persist(**store, rollback).ok());
  ReferencePersist(want, rollback);
  RequireEqual(Load(**store), want);
  CHECK(Load(**store).log.back().epoch == 2);

  Ready beyond;  // truncating after the last entry changes nothing
  beyond.truncate_after = 100;
  REQUIRE(Persist(**store, beyond).ok());
  RequireEqual(Load(**store), want);
}

TEST_CASE("compaction drops applied entries and moves the log base") {
  TempDir tmp;
  const std::string dir = tmp.Sub("m");
  Durable want;
  {
    auto store = Store::Open(dir);
    REQUIRE(store.ok());
    Ready ready;
    for (std::uint64_t i = 1; i <= 10; ++i) {
      ready.append.push_back(Put(i, "sessions", "k" + std::to_string(i % 3), std::to_string(i)));
    }
    LinkTo(want, ready);
    ready.apply = std::vector<Entry>(ready.append.begin(), ready.append.begin() + 7);
    ready.compact_through = 6;
    REQUIRE(Persist(**store, ready).ok());
    ReferencePersist(want, ready);
    CHECK(want.log_base_index == 6);
  }
  auto store = Store::Open(dir);
  REQUIRE(store.ok());
  const Durable got = Load(**store);
  RequireEqual(got, want);
  CHECK(got.log.front().index == 7);
  CHECK(got.log_base_chain == want.log_base_chain);
  CHECK(got.log_base_chain != 0);

  Ready again;  // compacting at or below the base is a no-op
  again.compact_through = 3;
  REQUIRE(Persist(**store, again).ok());
  RequireEqual(Load(**store), want);
}

TEST_CASE("a snapshot replaces the repository and the log") {
  TempDir tmp;
  const std::string dir = tmp.Sub("m");
  Durable want;
  auto store = Store::Open(dir);
  REQUIRE(store.ok());
  Ready before;
  for (std::uint64_t i = 1; i <= 5; ++i) before.append.push_back(Put(i, "sessions", "old", "1"));
  LinkTo(want, before);
  before.apply = before.append;
  REQUIRE(Persist(**store, before).ok());
  ReferencePersist(want, before);

  Repository repo;
  for (const Entry& e :
       {Put(1, "client_profiles", "p1", R"({"a":1})", 4), Put(2, "client_profiles", "p2", "2", 4),
        Del(3, "client_profiles", "p1", 4),
        ConflictEntry(4, "client_profiles", "p2", "3", "detroit@3.3", 4), Barrier(5, 4),
        Put(6, "resource_files", "logo", "\"abc\"", 4)}) {
    repo.Apply(e);
  }
  repo.applied_index = 900;  // the snapshot's position, far ahead of this member's log
  Ready install;
  install.snapshot = std::make_shared<const Snapshot>(Snapshot{repo});
  install.append = {Put(901, "sessions", "new", "1", 4)};
  LinkTo(want, install);
  install.apply = install.append;
  REQUIRE(Persist(**store, install).ok());
  ReferencePersist(want, install);
  store->reset();

  store = Store::Open(dir);
  REQUIRE(store.ok());
  const Durable got = Load(**store);
  RequireEqual(got, want);
  CHECK(got.log_base_index == 900);
  CHECK(got.repository.records.count({"sessions", "old"}) == 0);
  CHECK(got.repository.conflicts.size() == 1);

  Ready empty;
  empty.snapshot = std::shared_ptr<const Snapshot>();
  CHECK(Persist(**store, empty).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("a batch that does not fit the stored log is refused and writes nothing") {
  TempDir tmp;
  auto store = Store::Open(tmp.Sub("m"));
  REQUIRE(store.ok());
  Durable want;
  Ready base;
  for (std::uint64_t i = 1; i <= 5; ++i) base.append.push_back(Put(i, "sessions", "k", "1"));
  LinkTo(want, base);
  base.apply = {base.append[0], base.append[1], base.append[2]};
  REQUIRE(Persist(**store, base).ok());
  ReferencePersist(want, base);

  struct Case {
    const char* what;
    Ready ready;
    const char* field;
  };
  std::vector<Case> cases;
  {
    Ready r;
    r.append = {Put(7, "sessions", "k", "1")};
    cases.push_back({"append with a gap", r, "replication.append[0]: index 7"});
  }
  {
    Ready r;
    r.append = {Put(6, "sessions", "x", "1"), Put(6, "sessions", "y", "1")};
    LinkTo(want, r);
    cases.push_back({"append repeating an index", r, "replication.append[1]: index 6"});
  }
  {
    Ready r;  // the hand-made chain follows an empty log, not entry 5
    r.append = {Put(6, "sessions", "x", "1")};
    cases.push_back({"append not linked to the stored log", r,
                     "replication.append[0]: entry 6 has chain"});
  }
  {
    Ready r;  // the second entry's chain skips the first
    r.append = {Put(6, "sessions", "x", "1"), Put(7, "sessions", "y", "1")};
    LinkTo(want, r);
    r.append[1].chain = arraykit::replication::Chain(want.log.back().chain, r.append[1]);
    cases.push_back({"append not linked to the entry before it in the batch", r,
                     "replication.append[1]: entry 7 has chain"});
  }
  {
    Ready r;  // linked to entry 5, but the truncation makes entry 4 the last one
    r.truncate_after = 4;
    r.append = {Put(5, "sessions", "x", "1")};
    r.append[0].chain = arraykit::replication::Chain(want.log.back().chain, r.append[0]);
    cases.push_back({"append not linked to the truncation point", r,
                     "replication.append[0]: entry 5 has chain"});
  }
  {
    Ready r;  // a changed value under the chain of the original content
    r.append = {Put(6, "sessions", "x", "1")};
    LinkTo(want, r);
    r.append[0].value = "2";
    cases.push_back({"append whose content does not match its chain", r,
                     "replication.append[0]: entry 6 has chain"});
  }
  {
    Ready r;
    r.apply = {want.log[4]};
    cases.push_back({"apply skipping an index", r, "replication.apply[0]: index 5"});
  }
  {
    Ready r;
    r.apply = {want.log[3], want.log[4], Put(6, "sessions", "k", "1")};
    cases.push_back({"apply beyond the log", r, "replication.apply[2]: index 6"});
  }
  {
    Ready r;
    r.truncate_after = 2;
    cases.push_back({"truncate below applied", r, "replication.truncate_after: 2"});
  }
  {
    Ready r;
    r.compact_through = 4;
    cases.push_back({"compact above applied", r, "replication.compact_through: 4"});
  }
  for (const Case& c : cases) {
    INFO(c.what);
    Batch batch;
    batch.replication = &c.ready;
    batch.hard_state = FullHardState();  // must not be written either
    absl::Status status = (*store)->Commit(batch);
    CHECK(ReasonOf(status) == "inconsistent_batch");
    CHECK(status.code() == absl::StatusCode::kFailedPrecondition);
    CHECK(std::string(status.message()).find(c.field) != std::string::npos);
    RequireEqual(Load(**store), want);
    auto state = (*store)->LoadHardState();
    REQUIRE(state.ok());
    CHECK_FALSE(state->has_value());
  }
  // The store still works after the refusals.
  Ready next;
  next.append = {Put(6, "sessions", "k", "2")};
  LinkTo(want, next);
  next.apply = {want.log[3]};
  REQUIRE(Persist(**store, next).ok());
  ReferencePersist(want, next);
  RequireEqual(Load(**store), want);
}

TEST_CASE("randomized histories persist exactly as the reference, across reopenings") {
  const std::uint32_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  TempDir tmp;
  const std::string dir = tmp.Sub("m");
  Durable want;
  std::uint64_t next_index = 1;
  std::uint64_t epoch = 1;
  auto store = Store::Open(dir);
  REQUIRE(store.ok());
  const char* keys[] = {"a", "b", "c", "d"};
  for (int round = 0; round < 60; ++round) {
    Ready ready;
    const std::uint64_t applied = want.repository.applied_index;
    const std::uint64_t last = want.log.empty() ? want.log_base_index : want.log.back().index;
    if (rng() % 8 == 0 && last > applied) {
      ready.truncate_after = applied + rng() % (last - applied + 1);
      next_index = *ready.truncate_after + 1;
      ++epoch;
    }
    const int appends = static_cast<int>(rng() % 6);
    for (int i = 0; i < appends; ++i) {
      const std::string key = keys[rng() % 4];
      switch (rng() % 5) {
        case 0:
          ready.append.push_back(Del(next_index, "sessions", key, epoch));
          break;
        case 1:
          ready.append.push_back(ConflictEntry(next_index, "sessions", key,
                                               std::to_string(rng() % 100), "w@1.1", epoch));
          break;
        case 2:
          ready.append.push_back(Barrier(next_index, epoch));
          break;
        default:
          ready.append.push_back(Put(next_index, "sessions", key, std::to_string(rng()), epoch));
      }
      ++next_index;
    }
    LinkTo(want, ready);
    // Apply a prefix of what is in the log (after this batch's truncate and append).
    Durable after_log = want;
    Ready log_only;
    log_only.truncate_after = ready.truncate_after;
    log_only.append = ready.append;
    ReferencePersist(after_log, log_only);
    std::uint64_t apply_to = after_log.repository.applied_index;
    const std::uint64_t new_last =
        after_log.log.empty() ? after_log.log_base_index : after_log.log.back().index;
    if (new_last > apply_to) apply_to += rng() % (new_last - apply_to + 1);
    for (const Entry& e : after_log.log) {
      if (e.index > after_log.repository.applied_index && e.index <= apply_to) {
        ready.apply.push_back(e);
      }
    }
    if (rng() % 5 == 0 && apply_to > want.log_base_index) {
      ready.compact_through = want.log_base_index + rng() % (apply_to - want.log_base_index + 1);
    }
    REQUIRE(Persist(**store, ready).ok());
    ReferencePersist(want, ready);
    if (round % 10 == 9) {
      store->reset();
      store = Store::Open(dir);
      REQUIRE(store.ok());
    }
    RequireEqual(Load(**store), want);
  }
  CHECK((*store)->CheckIntegrity().ok());
}
