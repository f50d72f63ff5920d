// Schema migrations: a database as the previous arraykit left it (built with that version's own
// migration steps, then filled with SQL) is migrated on open and keeps every datum.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/pki/pki.h"
#include "store/hard_state_json.h"
#include "store/schema.h"
#include "store/sqlite_util.h"
#include "store/store.h"
#include "store_test_util.h"

using arraykit::store::Database;
using arraykit::store::kSchemaVersion;
using arraykit::store::MigrateTo;
using arraykit::store::ReadSchemaVersion;
using arraykit::store::Statement;
using arraykit::store::Store;
using arraykit::store::StoredCertificate;
using namespace arraykit::store::testing;

namespace {

// A data directory holding an empty database file, as Store::Open would create it.
std::string EmptyStore(const TempDir& tmp) {
  const std::string dir = tmp.Sub("member");
  REQUIRE(mkdir(dir.c_str(), 0700) == 0);
  const int fd = open((dir + "/store.db").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  REQUIRE(fd >= 0);
  close(fd);
  return dir;
}

std::vector<std::string> Columns(Database& db, const std::string& table) {
  auto q = db.Prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid");
  REQUIRE(q.ok());
  q->BindText(1, table);
  std::vector<std::string> names;
  while (true) {
    auto row = q->Step();
    REQUIRE(row.ok());
    if (!*row) break;
    names.emplace_back(q->Text(0));
  }
  return names;
}

}  // namespace

TEST_CASE("a schema 1 store migrates to the current schema and keeps its data") {
  REQUIRE(kSchemaVersion == 4);
  TempDir tmp;
  const std::string dir = EmptyStore(tmp);
  const absl::Time not_before = absl::FromUnixSeconds(1764547200);  // 2025-12-01
  const absl::Time not_after = absl::FromUnixSeconds(1796083201);   // a year and a second
  const arraykit::failover::HardState state = FullHardState();
  {
    Database db(dir + "/store.db");
    REQUIRE(db.Open().ok());
    auto reached = MigrateTo(db, 1);
    REQUIRE(reached.ok());
    REQUIRE(*reached == 1);
    CHECK(Columns(db, "certificates") ==
          std::vector<std::string>{"name", "role", "der", "not_before", "not_after"});
    // What an arraykit of schema 1 wrote.
    const std::string text = arraykit::store::HardStateToText(state);
    auto hard = db.Prepare("INSERT INTO hard_state(id, json) VALUES(1, ?1)");
    REQUIRE(hard.ok());
    hard->BindText(1, text);
    REQUIRE(hard->Run().ok());
    REQUIRE(db.Exec(absl::StrCat("INSERT INTO certificates VALUES('peer', 'peer', x'3082', ",
                                 absl::ToUnixSeconds(not_before), ", ",
                                 absl::ToUnixSeconds(not_after), ")")
                        .c_str())
                .ok());
    REQUIRE(db.Exec("INSERT INTO identity VALUES(1, 'boston.example.com', "
                    "'{\"name\":\"boston.example.com\"}');"
                    "INSERT INTO secrets VALUES('peer_key', x'00ff');"
                    "INSERT INTO log VALUES(1, 1, -1, 0, 'w', 'sessions', 'a', '1', ''),"
                    "(2, 1, 7, 1, 'w', 'sessions', 'a', '', '');"
                    "INSERT INTO records VALUES('sessions', 'a', '1', 0, 1, 'w', '');"
                    "UPDATE applied SET idx = 1, chain = -1, epoch = 1;")
                .ok());
  }
  auto store = Store::Open(dir);
  REQUIRE(store.ok());
  CHECK((*store)->schema_version() == 4);

  auto certs = (*store)->LoadCertificates();
  REQUIRE(certs.ok());
  REQUIRE(certs->size() == 1);
  const StoredCertificate cert = certs->front();
  CHECK(cert.not_before == not_before);
  CHECK(cert.not_after == not_after);
  // The migration's renewal time is the PKI's rule, to the second.
  CHECK(cert.renewal_at == absl::FromUnixSeconds(absl::ToUnixSeconds(
                               arraykit::pki::RenewalTime(not_before, not_after))));
  CHECK(cert.renewal_at == not_before + absl::Seconds(21024000));  // 2/3 of 31536001 s, truncated

  auto loaded_state = (*store)->LoadHardState();
  REQUIRE(loaded_state.ok());
  CHECK(**loaded_state == state);
  auto identity = (*store)->LoadIdentity();
  REQUIRE(identity.ok());
  CHECK((*identity)->name == "boston.example.com");
  auto secret = (*store)->LoadSecret("peer_key");
  REQUIRE(secret.ok());
  CHECK((*secret)->view() == std::string("\0\xff", 2));
  auto durable = (*store)->LoadReplication();
  REQUIRE(durable.ok());
  REQUIRE(durable->log.size() == 2);
  CHECK(durable->log[0].chain == 0xffffffffffffffffULL);
  CHECK(durable->log[1].kind == arraykit::replication::EntryKind::kDelete);
  CHECK(durable->repository.applied_index == 1);
  CHECK(durable->repository.records.at({"sessions", "a"}).value == "1");
  // Schema 3 gives each record the epoch of the log entry that wrote it.
  CHECK(durable->repository.records.at({"sessions", "a"}).epoch == 1);
  CHECK((*store)->CheckIntegrity().ok());

  // New certificates carry their own renewal time.
  StoredCertificate ca = cert;
  ca.name = "ca";
  ca.role = arraykit::store::CertificateRole::kCa;
  ca.renewal_at = not_after;
  arraykit::store::Batch batch;
  batch.put_certificates = {ca};
  REQUIRE((*store)->Commit(batch).ok());
  store->reset();

  // Reopening runs no step again.
  store = Store::Open(dir);
  REQUIRE(store.ok());
  certs = (*store)->LoadCertificates();
  REQUIRE(certs.ok());
  REQUIRE(certs->size() == 2);
  CHECK(certs->at(0) == ca);
  CHECK(certs->at(1) == cert);
}

// Schema 3 wrote every applied entry into the records at once: schema 4 takes its records as
// holding the repository through the applied index, so nothing is replayed twice.
TEST_CASE("a schema 3 store migrates with its records holding every applied entry") {
  TempDir tmp;
  const std::string dir = EmptyStore(tmp);
  {
    Database db(dir + "/store.db");
    REQUIRE(db.Open().ok());
    auto reached = MigrateTo(db, 3);
    REQUIRE(reached.ok());
    REQUIRE(*reached == 3);
    // Entries 1-3 applied (a put, a conflict on it, a put), 4 only appended: as schema 3 left
    // them, with the conflict and both records already written.
    std::vector<arraykit::replication::Entry> log = {
        Put(1, "sessions", "a", "1"), ConflictEntry(2, "sessions", "a", "2", "w@1.2"),
        Put(3, "sessions", "b", "3"), Put(4, "sessions", "b", "4")};
    Link(log, 0);
    for (const arraykit::replication::Entry& e : log) {
      auto insert = db.Prepare(
          "INSERT INTO log(idx, epoch, chain, kind, writer, category, \"key\", value, origin) "
          "VALUES(?1, 1, ?2, ?3, '', ?4, ?5, ?6, ?7)");
      REQUIRE(insert.ok());
      insert->Bind(1, static_cast<std::int64_t>(e.index))
          .Bind(2, static_cast<std::int64_t>(e.chain))
          .Bind(3, e.kind == arraykit::replication::EntryKind::kConflict ? 2 : 0)
          .BindText(4, e.category)
          .BindText(5, e.key)
          .BindText(6, e.value)
          .BindText(7, e.origin);
      REQUIRE(insert->Run().ok());
    }
    auto applied = db.Prepare("UPDATE applied SET idx = 3, chain = ?1, epoch = 1");
    REQUIRE(applied.ok());
    applied->Bind(1, static_cast<std::int64_t>(log[2].chain));
    REQUIRE(applied->Run().ok());
    REQUIRE(db.Exec("INSERT INTO records VALUES('sessions', 'a', '1', 0, 1, '', '', 1),"
                    "('sessions', 'b', '3', 0, 3, '', '', 1);"
                    "INSERT INTO conflicts(idx, category, \"key\", kept_value, lost_value, "
                    "lost_writer, lost_origin) VALUES(2, 'sessions', 'a', '1', '2', 'w', 'w@1.2');")
                .ok());
  }
  auto store = Store::Open(dir);
  REQUIRE(store.ok());
  CHECK((*store)->schema_version() == 4);
  auto durable = (*store)->LoadReplication();
  REQUIRE(durable.ok());
  CHECK(durable->repository.applied_index == 3);
  CHECK(durable->repository.conflicts.size() == 1);
  CHECK(durable->repository.records.at({"sessions", "b"}).value == "3");
  CHECK(durable->log.size() == 4);
  store->reset();
  Database db(dir + "/store.db");
  REQUIRE(db.Open().ok());
  auto q = db.Prepare("SELECT records_idx FROM applied");
  REQUIRE(q.ok());
  auto row = q->Step();
  REQUIRE(row.ok());
  REQUIRE(*row);
  CHECK(q->I64(0) == 3);
}

TEST_CASE("a fresh store and a migrated one have the same layout") {
  TempDir fresh_tmp;
  REQUIRE(Store::Open(fresh_tmp.Sub("member")).ok());
  TempDir old_tmp;
  const std::string old_dir = EmptyStore(old_tmp);
  {
    Database db(old_dir + "/store.db");
    REQUIRE(db.Open().ok());
    REQUIRE(MigrateTo(db, 1).ok());
    auto version = ReadSchemaVersion(db);
    REQUIRE(version.ok());
    CHECK(*version == 1);
  }
  REQUIRE(Store::Open(old_dir).ok());
  Database fresh(fresh_tmp.Sub("member") + "/store.db");
  Database migrated(old_dir + "/store.db");
  REQUIRE(fresh.Open().ok());
  REQUIRE(migrated.Open().ok());
  for (const char* table : {"meta", "identity", "secrets", "certificates", "hard_state", "log",
                            "records", "conflicts", "log_base", "applied"}) {
    INFO(table);
    const std::vector<std::string> columns = Columns(fresh, table);
    CHECK_FALSE(columns.empty());
    CHECK(columns == Columns(migrated, table));
  }
  auto version = ReadSchemaVersion(migrated);
  REQUIRE(version.ok());
  CHECK(*version == kSchemaVersion);
}
