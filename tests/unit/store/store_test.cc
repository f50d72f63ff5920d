// Opening a store: creation, permissions, locking and every refusal with its reason; identity,
// secrets and certificates.
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "core/status.h"
#include "nlohmann/json.hpp"
#include "store/store.h"
#include "store_test_util.h"

using arraykit::ReasonOf;
using arraykit::store::Batch;
using arraykit::store::CertificateRole;
using arraykit::store::Identity;
using arraykit::store::kSchemaVersion;
using arraykit::store::OpenOptions;
using arraykit::store::SecretChange;
using arraykit::store::Store;
using arraykit::store::StoredCertificate;
using arraykit::store::testing::ModeOf;
using arraykit::store::testing::TempDir;

namespace {

std::string Message(const absl::Status& status) { return std::string(status.message()); }

void RunSql(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  INFO((error != nullptr ? error : ""));
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

void WriteFile(const std::string& path, const std::string& bytes, mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  close(fd);
  REQUIRE(chmod(path.c_str(), mode) == 0);
}

constexpr const char* kMemberJson =
    R"({"name":"boston.example.com","roles":["frontend","backend"],"rack":"r1","power":"p1",)"
    R"("address":"192.0.2.10","address_static":true,"version":"1.0.0"})";

}  // namespace

TEST_CASE("a new store is created 0700/0600 whatever the umask, at the current schema") {
  TempDir tmp;
  const std::string dir = tmp.Sub("member");
  const mode_t old_umask = umask(0);
  auto store = Store::Open(dir);
  umask(old_umask);
  REQUIRE(store.ok());
  CHECK((*store)->schema_version() == kSchemaVersion);
  CHECK(ModeOf(dir) == 0700);
  CHECK(ModeOf(dir + "/store.db") == 0600);
  CHECK(ModeOf(dir + "/store.db-wal") == 0600);
  // Exclusive locking: the WAL index is in the process's memory, no -shm file is made.
  CHECK(ModeOf(dir + "/store.db-shm") == -1);
  CHECK(ModeOf(dir + "/store.lock") == 0600);
  // A fresh store holds nothing yet.
  auto hard_state = (*store)->LoadHardState();
  REQUIRE(hard_state.ok());
  CHECK_FALSE(hard_state->has_value());
  auto durable = (*store)->LoadReplication();
  REQUIRE(durable.ok());
  CHECK(durable->log.empty());
  CHECK(durable->repository == arraykit::replication::Repository{});
  CHECK((*store)->CheckIntegrity().ok());
  store->reset();
  // Reopened: the same store, same version.
  auto again = Store::Open(dir, OpenOptions{.create = false});
  REQUIRE(again.ok());
  CHECK((*again)->schema_version() == kSchemaVersion);
}

TEST_CASE("without create, a missing directory or database is NOT_FOUND") {
  TempDir tmp;
  auto missing = Store::Open(tmp.Sub("absent"), OpenOptions{.create = false});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  REQUIRE(mkdir(tmp.Sub("empty").c_str(), 0700) == 0);
  auto empty = Store::Open(tmp.Sub("empty"), OpenOptions{.create = false});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().code() == absl::StatusCode::kNotFound);
  CHECK(Message(empty.status()).find("store.db") != std::string::npos);
  CHECK(Store::Open("").status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("a second opener of the directory is refused as busy, naming the holder") {
  TempDir tmp;
  const std::string dir = tmp.Sub("member");
  auto first = Store::Open(dir);
  REQUIRE(first.ok());
  auto second = Store::Open(dir);
  REQUIRE_FALSE(second.ok());
  CHECK(ReasonOf(second.status()) == "busy");
  CHECK(second.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Message(second.status()) ==
        "data directory " + dir + " is in use by process " + std::to_string(getpid()));
  first->reset();  // closing releases the lock
  CHECK(Store::Open(dir).ok());
}

TEST_CASE("a directory or file readable by group or others is refused as unprotected_file") {
  TempDir tmp;
  const std::string dir = tmp.Sub("member");
  SECTION("directory") {
    REQUIRE(mkdir(dir.c_str(), 0700) == 0);
    REQUIRE(chmod(dir.c_str(), 0750) == 0);
    auto store = Store::Open(dir);
    REQUIRE_FALSE(store.ok());
    CHECK(ReasonOf(store.status()) == "unprotected_file");
    CHECK(Message(store.status()) ==
          "data directory " + dir +
              " has mode 0750: group and others must have no access (chmod 700)");
    // Nothing was created in it.
    CHECK(ModeOf(dir + "/store.lock") == -1);
    REQUIRE(chmod(dir.c_str(), 0700) == 0);
    CHECK(Store::Open(dir).ok());
  }
  SECTION("database") {
    REQUIRE(Store::Open(dir).ok());
    REQUIRE(chmod((dir + "/store.db").c_str(), 0644) == 0);
    auto store = Store::Open(dir);
    REQUIRE_FALSE(store.ok());
    CHECK(ReasonOf(store.status()) == "unprotected_file");
    CHECK(Message(store.status()).find(dir + "/store.db has mode 0644") != std::string::npos);
  }
  SECTION("write-ahead log") {
    REQUIRE(Store::Open(dir).ok());
    REQUIRE(chmod((dir + "/store.db-wal").c_str(), 0604) == 0);
    auto store = Store::Open(dir);
    REQUIRE_FALSE(store.ok());
    CHECK(ReasonOf(store.status()) == "unprotected_file");
    CHECK(Message(store.status()).find("store.db-wal has mode 0604") != std::string::npos);
  }
}

TEST_CASE("a database from a newer arraykit is refused as schema_too_new") {
  TempDir tmp;
  const std::string dir = tmp.Sub("member");
  REQUIRE(Store::Open(dir).ok());
  RunSql(dir + "/store.db", "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  auto store = Store::Open(dir);
  REQUIRE_FALSE(store.ok());
  CHECK(ReasonOf(store.status()) == "schema_too_new");
  CHECK(store.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Message(store.status()).find("schema version 99") != std::string::npos);
}

TEST_CASE("a file that is not an arraykit store is refused as corrupt_state, never a crash") {
  TempDir tmp;
  const std::string dir = tmp.Sub("member");
  REQUIRE(mkdir(dir.c_str(), 0700) == 0);
  const std::string db = dir + "/store.db";
  SECTION("not SQLite at all") {
    WriteFile(db, std::string(8192, 'x') + "this is not a database", 0600);
  }
  SECTION("another application's SQLite database") {
    WriteFile(db, "", 0600);
    RunSql(db, "CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT)");
  }
  SECTION("a meta table that is not ours") {
    WriteFile(db, "", 0600);
    RunSql(db, "CREATE TABLE meta(key TEXT, value TEXT); INSERT INTO meta VALUES('x', 'y')");
  }
  SECTION("a garbled schema version") {
    REQUIRE(Store::Open(dir).ok());
    RunSql(db, "UPDATE meta SET value = 'one' WHERE key = 'schema_version'");
  }
  SECTION("an unreadable hard state") {
    {
      auto store = Store::Open(dir);
      REQUIRE(store.ok());
    }
    RunSql(db, "INSERT INTO hard_state(id, json) VALUES(1, '{\"epoch\": 1}')");
    auto store = Store::Open(dir);
    REQUIRE(store.ok());
    auto state = (*store)->LoadHardState();
    REQUIRE_FALSE(state.ok());
    CHECK(ReasonOf(state.status()) == "corrupt_state");
    CHECK(state.status().code() == absl::StatusCode::kDataLoss);
    return;
  }
  SECTION("a log with a hole") {
    REQUIRE(Store::Open(dir).ok());
    RunSql(db,
           "INSERT INTO log VALUES(1, 1, 1, 0, 'w', 'c', 'k', '1', ''),"
           "(3, 1, 1, 0, 'w', 'c', 'k', '1', '')");
  }
  auto store = Store::Open(dir);
  REQUIRE_FALSE(store.ok());
  CHECK(ReasonOf(store.status()) == "corrupt_state");
  CHECK(store.status().code() == absl::StatusCode::kDataLoss);
  CHECK(Message(store.status()).find(db) != std::string::npos);
}

TEST_CASE("damaged pages of a real store are reported as corrupt_state") {
  TempDir tmp;
  const std::string dir = tmp.Sub("member");
  {
    auto store = Store::Open(dir);
    REQUIRE(store.ok());
    arraykit::replication::Ready ready;
    for (std::uint64_t i = 1; i <= 400; ++i) {
      ready.append.push_back(arraykit::store::testing::Put(
          i, "sessions", "key-" + std::to_string(i), "\"" + std::string(200, 'v') + "\""));
    }
    arraykit::store::testing::Link(ready.append, 0);
    ready.apply = ready.append;
    Batch batch;
    batch.replication = &ready;
    REQUIRE((*store)->Commit(batch).ok());
  }
  // Closing checkpointed the WAL into the database file; the WAL file is kept (its frames
  // would be read in preference to the damaged pages), so remove it, then damage the pages.
  const std::string db = dir + "/store.db";
  REQUIRE(unlink((db + "-wal").c_str()) == 0);
  std::fstream file(db, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(file);
  file.seekp(0, std::ios::end);
  const std::streamoff size = file.tellp();
  REQUIRE(size > 64 * 1024);
  for (std::streamoff at = 4096; at < size; at += 4096) {
    file.seekp(at);  // each b-tree page's header
    file.write("garbage-garbage-garbage-garbage", 31);
  }
  file.close();
  auto store = Store::Open(dir);
  absl::Status status = store.status();
  if (store.ok()) {
    status = (*store)->LoadReplication().status();
    if (status.ok()) status = (*store)->CheckIntegrity();
  }
  REQUIRE_FALSE(status.ok());
  CHECK(ReasonOf(status) == "corrupt_state");
}

TEST_CASE("identity is set once; the member fields may change, the name may not") {
  TempDir tmp;
  const std::string dir = tmp.Sub("member");
  auto store = Store::Open(dir);
  REQUIRE(store.ok());
  Batch batch;
  batch.identity = Identity{"boston.example.com", kMemberJson};
  REQUIRE((*store)->Commit(batch).ok());
  auto identity = (*store)->LoadIdentity();
  REQUIRE(identity.ok());
  REQUIRE(identity->has_value());
  CHECK((*identity)->name == "boston.example.com");
  // Kept in canonical form: the same member, whatever the spelling it was given in.
  CHECK(nlohmann::json::parse((*identity)->member_json) == nlohmann::json::parse(kMemberJson));

  Batch rename;
  rename.identity =
      Identity{"newyork.example.com", R"({"name":"newyork.example.com","roles":["backend"]})"};
  absl::Status refused = (*store)->Commit(rename);
  CHECK(ReasonOf(refused) == "identity_mismatch");
  CHECK(Message(refused).find("boston.example.com") != std::string::npos);

  Batch mismatch;
  mismatch.identity =
      Identity{"boston.example.com", R"({"name":"newyork.example.com","roles":["backend"]})"};
  CHECK(ReasonOf((*store)->Commit(mismatch)) == "name_mismatch");
  Batch unknown;
  unknown.identity = Identity{"boston.example.com", R"({"name":"boston.example.com","rol":[]})"};
  CHECK(ReasonOf((*store)->Commit(unknown)) == "unknown_field");
  Batch not_fqdn;
  not_fqdn.identity = Identity{"boston", R"({"name":"boston"})"};
  store->reset();

  // The name survives a restart and still binds.
  store = Store::Open(dir);
  REQUIRE(store.ok());
  CHECK(ReasonOf((*store)->Commit(rename)) == "identity_mismatch");
  Batch moved;
  moved.identity = Identity{"boston.example.com",
                            R"({"name":"boston.example.com","roles":["backend"],"rack":"r2"})"};
  REQUIRE((*store)->Commit(moved).ok());
  identity = (*store)->LoadIdentity();
  REQUIRE(identity.ok());
  CHECK((*identity)->member_json.find("\"rack\":\"r2\"") != std::string::npos);

  TempDir other;
  auto fresh = Store::Open(other.Sub("m"));
  REQUIRE(fresh.ok());
  CHECK(ReasonOf((*fresh)->Commit(not_fqdn)) == "name_not_fqdn");
  Batch upper;
  upper.identity = Identity{"Boston.example.com", R"({"name":"Boston.example.com"})"};
  absl::Status refused_upper = (*fresh)->Commit(upper);
  CHECK(ReasonOf(refused_upper) == "name_not_fqdn");
  CHECK(Message(refused_upper).find("normal form \"boston.example.com\"") != std::string::npos);
  auto none = (*fresh)->LoadIdentity();
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
}

TEST_CASE("secrets are kept and deleted, and never appear in an error message") {
  TempDir tmp;
  const std::string dir = tmp.Sub("member");
  auto store = Store::Open(dir);
  REQUIRE(store.ok());
  const std::string pem =
      "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRET\n"
      "-----END PRIVATE KEY-----\n";
  const arraykit::pki::SecretString key(pem);
  const arraykit::pki::SecretString binary(std::string("\0\x01\xff secret", 10));
  {
    Batch batch;
    batch.secrets = {SecretChange{"peer_key", &key}, SecretChange{"ca_key", &binary}};
    REQUIRE((*store)->Commit(batch).ok());
  }
  store->reset();
  store = Store::Open(dir);
  REQUIRE(store.ok());
  auto loaded = (*store)->LoadSecret("peer_key");
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->view() == pem);
  auto loaded_binary = (*store)->LoadSecret("ca_key");
  REQUIRE(loaded_binary.ok());
  CHECK((*loaded_binary)->view() == binary.view());
  auto names = (*store)->SecretNames();
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"ca_key", "peer_key"});

  // Failing batches that carry a secret: the messages name the field, never the value.
  const arraykit::pki::SecretString other("OTHER-SECRET-MATERIAL");
  arraykit::replication::Ready gap;
  gap.append.push_back(arraykit::store::testing::Put(7, "sessions", "k", "1"));
  std::vector<absl::Status> failures;
  {
    Batch batch;
    batch.secrets = {SecretChange{"bad name", &other}};
    failures.push_back((*store)->Commit(batch));
  }
  {
    Batch batch;
    batch.secrets = {SecretChange{"peer_key", &other}};
    batch.replication = &gap;
    failures.push_back((*store)->Commit(batch));
  }
  {
    const arraykit::pki::SecretString huge(std::string(100000, 'S'));
    Batch batch;
    batch.secrets = {SecretChange{"huge", &huge}};
    failures.push_back((*store)->Commit(batch));
  }
  failures.push_back((*store)->LoadSecret("").status());
  for (const absl::Status& failure : failures) {
    INFO(failure.ToString());
    CHECK_FALSE(failure.ok());
    const std::string text = failure.ToString();
    CHECK(text.find("SECRET") == std::string::npos);
    CHECK(text.find("BEGIN PRIVATE KEY") == std::string::npos);
    CHECK(text.find("SSSS") == std::string::npos);
  }
  // The refused batch wrote nothing: the old key stands.
  loaded = (*store)->LoadSecret("peer_key");
  REQUIRE(loaded.ok());
  CHECK((*loaded)->view() == pem);

  Batch remove;
  remove.secrets = {SecretChange{"peer_key", nullptr}};
  REQUIRE((*store)->Commit(remove).ok());
  loaded = (*store)->LoadSecret("peer_key");
  REQUIRE(loaded.ok());
  CHECK_FALSE(loaded->has_value());
}

TEST_CASE("certificates are kept by name with role and validity, to the second") {
  TempDir tmp;
  const std::string dir = tmp.Sub("member");
  auto store = Store::Open(dir);
  REQUIRE(store.ok());
  StoredCertificate peer{"peer",
                         CertificateRole::kPeer,
                         std::string("\x30\x82\x01\x00peer", 8),
                         absl::FromUnixSeconds(1764547200),
                         absl::FromUnixSeconds(1796083200),
                         absl::FromUnixSeconds(1785568000)};
  StoredCertificate ca{"ca:AB:CD",
                       CertificateRole::kCa,
                       std::string("\x30\x82\x02\x00"
                                   "ca",
                                   6),
                       absl::FromUnixSeconds(1764547200),
                       absl::FromUnixSeconds(2079907200),
                       absl::FromUnixSeconds(2079907200)};
  Batch batch;
  batch.put_certificates = {peer, ca};
  REQUIRE((*store)->Commit(batch).ok());
  store->reset();
  store = Store::Open(dir);
  REQUIRE(store.ok());
  auto certs = (*store)->LoadCertificates();
  REQUIRE(certs.ok());
  CHECK(*certs == std::vector<StoredCertificate>{ca, peer});

  Batch bad;
  StoredCertificate backwards = peer;
  backwards.not_after = backwards.not_before - absl::Seconds(1);
  bad.put_certificates = {backwards};
  CHECK((*store)->Commit(bad).code() == absl::StatusCode::kInvalidArgument);
  StoredCertificate late = peer;
  late.renewal_at = late.not_after + absl::Seconds(1);
  bad.put_certificates = {late};
  absl::Status refused = (*store)->Commit(bad);
  CHECK(refused.code() == absl::StatusCode::kInvalidArgument);
  CHECK(Message(refused).find("put_certificates[0].renewal_at") != std::string::npos);

  Batch remove;
  remove.delete_certificates = {"ca:AB:CD"};
  REQUIRE((*store)->Commit(remove).ok());
  certs = (*store)->LoadCertificates();
  REQUIRE(certs.ok());
  CHECK(*certs == std::vector<StoredCertificate>{peer});
}

TEST_CASE("the hard state is replaced by each commit and survives a restart") {
  TempDir tmp;
  const std::string dir = tmp.Sub("member");
  arraykit::failover::HardState state = arraykit::store::testing::FullHardState();
  {
    auto store = Store::Open(dir);
    REQUIRE(store.ok());
    Batch batch;
    batch.hard_state = arraykit::failover::HardState{};
    REQUIRE((*store)->Commit(batch).ok());
    batch.hard_state = state;
    REQUIRE((*store)->Commit(batch).ok());
    // A state the stored form cannot hold exactly is refused, not silently rounded.
    Batch odd;
    odd.hard_state = state;
    odd.hard_state->promise_until = absl::Nanoseconds(1) / 4;
    absl::Status refused = (*store)->Commit(odd);
    CHECK(refused.code() == absl::StatusCode::kInvalidArgument);
    CHECK(Message(refused).find("hard_state") != std::string::npos);
    // A write moves only the log position (the store then skips reading the text back): the
    // new position is what is stored, to the last bit.
    state.log = {0xffffffffffffffffULL, 0x8000000000000001ULL};
    batch.hard_state = state;
    REQUIRE((*store)->Commit(batch).ok());
    auto moved = (*store)->LoadHardState();
    REQUIRE(moved.ok());
    CHECK(**moved == state);
    // An odd state is still refused after states were accepted, whatever its log position.
    odd.hard_state->log = state.log;
    CHECK((*store)->Commit(odd).code() == absl::StatusCode::kInvalidArgument);
  }
  auto store = Store::Open(dir);
  REQUIRE(store.ok());
  auto loaded = (*store)->LoadHardState();
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  CHECK(**loaded == state);
}

TEST_CASE("a commit whose write fails writes nothing and leaves the store refusing writes") {
  TempDir tmp;
  const std::string dir = tmp.Sub("member");
  auto store = Store::Open(dir);
  REQUIRE(store.ok());
  Batch first;
  first.hard_state = arraykit::store::testing::FullHardState();
  REQUIRE((*store)->Commit(first).ok());

  // The WAL may not grow past its current size: the next commit's frames cannot be written
  // (EFBIG, as a full disk would refuse them) when COMMIT writes them.
  struct stat wal {};
  REQUIRE(stat((dir + "/store.db-wal").c_str(), &wal) == 0);
  struct rlimit old_limit {};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = static_cast<rlim_t>(wal.st_size);
  const auto old_handler = signal(SIGXFSZ, SIG_IGN);
  REQUIRE(setrlimit(RLIMIT_FSIZE, &limit) == 0);
  arraykit::replication::Ready ready;
  for (std::uint64_t i = 1; i <= 50; ++i) {
    ready.append.push_back(
        arraykit::store::testing::Put(i, "sessions", "k" + std::to_string(i), "\"value\""));
  }
  arraykit::store::testing::Link(ready.append, 0);
  Batch second;
  second.replication = &ready;
  const absl::Status failed = (*store)->Commit(second);
  REQUIRE(setrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  signal(SIGXFSZ, old_handler);

  REQUIRE_FALSE(failed.ok());
  CHECK(ReasonOf(failed) == "io_error");
  CHECK(Message(failed).find(dir + "/store.db") != std::string::npos);
  // What reached the disk is unknown to this connection: it refuses further writes.
  Batch third;
  third.hard_state = arraykit::failover::HardState{};
  const absl::Status refused = (*store)->Commit(third);
  CHECK(ReasonOf(refused) == "io_error");
  CHECK(Message(refused).find("reopen it") != std::string::npos);
  store->reset();

  // Reopened: the earlier commit is there, the failed one is not.
  store = Store::Open(dir);
  REQUIRE(store.ok());
  auto state = (*store)->LoadHardState();
  REQUIRE(state.ok());
  CHECK(**state == arraykit::store::testing::FullHardState());
  auto durable = (*store)->LoadReplication();
  REQUIRE(durable.ok());
  CHECK(durable->log.empty());
  CHECK((*store)->CheckIntegrity().ok());
  REQUIRE((*store)->Commit(second).ok());
}
