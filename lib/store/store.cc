#include "store/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/model/array_json.h"
#include "core/model/json_reader.h"
#include "core/status.h"
#include "store/hard_state_json.h"
#include "store/schema.h"
#include "store/sqlite_util.h"

namespace arraykit::store {
namespace {

using model::json_internal::AbslView;
using replication::Entry;
using replication::EntryKind;

std::string Errno(int error) { return std::strerror(error); }

absl::Status IoError(absl::string_view what, absl::string_view path, int error) {
  return MakeError(absl::StatusCode::kInternal, "io_error",
                   absl::StrCat(path, ": ", what, ": ", Errno(error)));
}

// The permission rule of DESIGN §7: owned by this user, nothing for group or others.
absl::Status CheckProtected(const struct stat& st, absl::string_view path, absl::string_view kind,
                            mode_t required_mode) {
  if (st.st_uid != geteuid()) {
    return MakeError(absl::StatusCode::kFailedPrecondition, "unprotected_file",
                     absl::StrCat(kind, " ", path, " is owned by uid ", st.st_uid,
                                  ", not by this process's uid ", geteuid()));
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return MakeError(absl::StatusCode::kFailedPrecondition, "unprotected_file",
                     absl::StrCat(kind, " ", path, " has mode ", mode,
                                  ": group and others must have no access (chmod ",
                                  required_mode == 0700 ? "700" : "600", ")"));
  }
  return absl::OkStatus();
}

// Creates the data directory when allowed, then checks it is a protected directory.
absl::Status PrepareDirectory(const std::string& dir, const OpenOptions& options) {
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return IoError("cannot read the data directory", dir, errno);
    if (!options.create) {
      return MakeError(absl::StatusCode::kNotFound, "not_found",
                       absl::StrCat("data directory ", dir, " does not exist"));
    }
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return IoError("cannot create the data directory", dir, errno);
    }
    if (lstat(dir.c_str(), &st) != 0) return IoError("cannot read the data directory", dir, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_argument",
                     absl::StrCat("data directory ", dir, " is not a directory"));
  }
  return CheckProtected(st, dir, "data directory", 0700);
}

// The directory lock: an exclusive flock on the lock file, held for the Store's lifetime. The
// holder's pid is written in the file so a refused opener can name it.
absl::StatusOr<int> LockDirectory(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kLockFile);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return IoError("cannot open the lock file", path, errno);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int error = errno;
    close(fd);
    return IoError("cannot read the lock file", path, error);
  }
  if (absl::Status status = CheckProtected(st, path, "lock file", 0600); !status.ok()) {
    close(fd);
    return status;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error != EWOULDBLOCK) {
      close(fd);
      return IoError("cannot lock", path, error);
    }
    char buffer[32] = {};
    const ssize_t got = pread(fd, buffer, sizeof buffer - 1, 0);
    close(fd);
    std::string holder = "another process";
    std::int64_t pid = 0;
    if (got > 0 &&
        absl::SimpleAtoi(absl::string_view(buffer, static_cast<std::size_t>(got)), &pid)) {
      holder = absl::StrCat("process ", pid);
    }
    return MakeError(absl::StatusCode::kFailedPrecondition, "busy",
                     absl::StrCat("data directory ", dir, " is in use by ", holder));
  }
  const std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    const int error = errno;
    close(fd);
    return IoError("cannot write the lock file", path, error);
  }
  return fd;
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open the data directory", dir, errno);
  const int rc = fsync(fd);
  const int error = errno;
  close(fd);
  if (rc != 0) return IoError("cannot sync the data directory", dir, error);
  return absl::OkStatus();
}

// The database and its WAL/shared-memory files, when present, must be protected regular files.
absl::StatusOr<bool> CheckDatabaseFiles(const std::string& db_path) {
  bool exists = false;
  for (const std::string& path :
       {db_path, absl::StrCat(db_path, "-wal"), absl::StrCat(db_path, "-shm")}) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return IoError("cannot read", path, errno);
    }
    if (!S_ISREG(st.st_mode)) {
      return MakeError(absl::StatusCode::kDataLoss, "corrupt_state",
                       absl::StrCat(path, " is not a regular file"));
    }
    if (absl::Status status = CheckProtected(st, path, "database file", 0600); !status.ok()) {
      return status;
    }
    if (path == db_path) exists = true;
  }
  return exists;
}

std::int64_t ToSql(std::uint64_t value) { return static_cast<std::int64_t>(value); }

int KindToSql(EntryKind kind) {
  switch (kind) {
    case EntryKind::kPut:
      return 0;
    case EntryKind::kDelete:
      return 1;
    case EntryKind::kConflict:
      return 2;
    case EntryKind::kBarrier:
      return 3;
  }
  return -1;
}

std::optional<EntryKind> KindFromSql(std::int64_t kind) {
  switch (kind) {
    case 0:
      return EntryKind::kPut;
    case 1:
      return EntryKind::kDelete;
    case 2:
      return EntryKind::kConflict;
    case 3:
      return EntryKind::kBarrier;
    default:
      return std::nullopt;
  }
}

std::string_view RoleToSql(CertificateRole role) {
  return role == CertificateRole::kCa ? "ca" : "peer";
}

absl::Status Inconsistent(absl::string_view message) {
  return MakeError(absl::StatusCode::kFailedPrecondition, "inconsistent_batch", message);
}

absl::Status CheckSecretName(absl::string_view name, absl::string_view path) {
  if (name.empty() || name.size() > kMaxSecretNameBytes) {
    return MakeError(
        absl::StatusCode::kInvalidArgument, "invalid_argument",
        absl::StrCat(path, ": a secret's name must have 1 to ", kMaxSecretNameBytes, " bytes"));
  }
  for (char c : name) {
    if (c <= 0x20 || c >= 0x7f) {
      return MakeError(absl::StatusCode::kInvalidArgument, "invalid_argument",
                       absl::StrCat(path,
                                    ": a secret's name must be printable ASCII without "
                                    "spaces"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool Batch::empty() const {
  return !identity.has_value() && secrets.empty() && put_certificates.empty() &&
         delete_certificates.empty() && !hard_state.has_value() &&
         (replication == nullptr ||
          (!replication->snapshot && !replication->truncate_after && replication->append.empty() &&
           replication->apply.empty() && !replication->compact_through));
}

// A log row's columns, and the rows one insert statement writes when a batch appends many.
constexpr std::size_t kLogColumns = 9;
constexpr std::size_t kLogRowsPerInsert = 32;

// Where the log and the repository stand; cached so Commit can check a batch without reading.
struct Positions {
  std::uint64_t base_index = 0;  // entries through here were compacted away
  std::uint64_t base_chain = 0;
  std::uint64_t base_epoch = 0;
  std::uint64_t last_index = 0;  // last log entry (base_index when the log is empty)
  std::uint64_t last_chain = 0;  // its chain (base_chain when the log is empty)
  std::uint64_t applied_index = 0;
  std::uint64_t applied_chain = 0;
  std::uint64_t applied_epoch = 0;
  // The records and conflicts tables hold the repository through this index (base_index <=
  // records_index <= applied_index); the applied entries after it are still in the log.
  std::uint64_t records_index = 0;
};

class Store::Impl {
 public:
  Impl(std::string db_path, int lock_fd) : db_(std::move(db_path)), lock_fd_(lock_fd) {}
  ~Impl() {
    statements_ = {};
    db_.Close();
    if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
  }

  absl::Status Prepare();
  absl::Status LoadPositions();
  absl::Status Commit(const Batch& batch);
  absl::Status WriteBatch(const Batch& batch, Positions& positions);
  absl::Status WriteReplication(const replication::Ready& ready, Positions& positions);
  absl::Status WriteRecordsThrough(std::uint64_t through, Positions& positions);
  absl::StatusOr<Entry> ReadEntry(const Statement& row) const;
  absl::Status InsertRecord(const std::string& category, const std::string& key,
                            const replication::Record& record);
  absl::Status InsertConflict(const replication::Conflict& conflict);
  absl::Status SetPosition(Statement& statement, std::uint64_t index, std::uint64_t chain,
                           std::uint64_t epoch);

  Database db_;
  int lock_fd_;
  Positions positions_;
  std::optional<std::string> identity_name_;
  absl::Status broken_;  // set when a COMMIT failed: the connection's state is unknown
  // The last hard state that read back equal from its text, log position cleared.
  std::optional<failover::HardState> checked_hard_state_;

  struct Statements {
    Statement begin, commit, rollback;
    Statement insert_log_rows;  // kLogRowsPerInsert rows
    Statement put_record, get_record, insert_conflict, insert_log, truncate_log, compact_log,
        get_log_position, read_log_after, set_applied, set_records_index, set_log_base,
        put_hard_state, put_identity, put_secret, delete_secret, put_certificate,
        delete_certificate;
  } statements_;
};

absl::Status Store::Impl::Prepare() {
  struct StatementSql {
    Statement* statement;
    const char* sql;
  };
  Statements& s = statements_;
  // One statement inserting kLogRowsPerInsert log rows: a catch-up's batch of thousands of
  // entries runs a statement per 32 rows, not per row.
  std::string insert_log_rows =
      "INSERT INTO log(idx, epoch, chain, kind, writer, category, \"key\", value, origin) VALUES";
  for (std::size_t row = 0; row < kLogRowsPerInsert; ++row) {
    absl::StrAppend(&insert_log_rows, row == 0 ? "" : ",", "(");
    for (std::size_t column = 1; column <= kLogColumns; ++column) {
      absl::StrAppend(&insert_log_rows, column == 1 ? "?" : ", ?", row * kLogColumns + column);
    }
    absl::StrAppend(&insert_log_rows, ")");
  }
  const StatementSql entries[] = {
      {&s.begin, "BEGIN IMMEDIATE"},
      {&s.commit, "COMMIT"},
      {&s.rollback, "ROLLBACK"},
      {&s.put_record,
       "INSERT INTO records(category, \"key\", value, deleted, idx, writer, origin, epoch) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(category, \"key\") DO UPDATE SET "
       "value = excluded.value, deleted = excluded.deleted, idx = excluded.idx, "
       "writer = excluded.writer, origin = excluded.origin, epoch = excluded.epoch"},
      {&s.get_record, "SELECT value, deleted FROM records WHERE category = ?1 AND \"key\" = ?2"},
      {&s.insert_conflict,
       "INSERT INTO conflicts(idx, category, \"key\", kept_value, lost_value, lost_writer, "
       "lost_origin) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
      {&s.insert_log,
       "INSERT INTO log(idx, epoch, chain, kind, writer, category, \"key\", value, origin) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
      {&s.insert_log_rows, insert_log_rows.c_str()},
      {&s.truncate_log, "DELETE FROM log WHERE idx > ?1"},
      {&s.compact_log, "DELETE FROM log WHERE idx <= ?1"},
      {&s.get_log_position, "SELECT chain, epoch FROM log WHERE idx = ?1"},
      {&s.read_log_after,
       "SELECT idx, epoch, chain, kind, writer, category, \"key\", value, origin FROM log "
       "WHERE idx > ?1 AND idx <= ?2 ORDER BY idx"},
      {&s.set_applied, "UPDATE applied SET idx = ?1, chain = ?2, epoch = ?3 WHERE id = 1"},
      {&s.set_records_index, "UPDATE applied SET records_idx = ?1 WHERE id = 1"},
      {&s.set_log_base, "UPDATE log_base SET idx = ?1, chain = ?2, epoch = ?3 WHERE id = 1"},
      {&s.put_hard_state, "INSERT OR REPLACE INTO hard_state(id, json) VALUES(1, ?1)"},
      {&s.put_identity, "INSERT OR REPLACE INTO identity(id, name, member_json) VALUES(1, ?1, ?2)"},
      {&s.put_secret, "INSERT OR REPLACE INTO secrets(name, value) VALUES(?1, ?2)"},
      {&s.delete_secret, "DELETE FROM secrets WHERE name = ?1"},
      {&s.put_certificate,
       "INSERT OR REPLACE INTO certificates(name, role, der, not_before, not_after, renewal_at) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
      {&s.delete_certificate, "DELETE FROM certificates WHERE name = ?1"},
  };
  for (const StatementSql& entry : entries) {
    absl::StatusOr<Statement> statement = db_.Prepare(entry.sql, /*persistent=*/true);
    if (!statement.ok()) return statement.status();
    *entry.statement = *std::move(statement);
  }
  return absl::OkStatus();
}

absl::Status Store::Impl::LoadPositions() {
  Positions p;
  {
    absl::StatusOr<Statement> q =
        db_.Prepare("SELECT idx, chain, epoch FROM log_base WHERE id = 1");
    if (!q.ok()) return q.status();
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return db_.Corrupt("the log_base row is missing");
    p.base_index = q->U64(0);
    p.base_chain = q->U64(1);
    p.base_epoch = q->U64(2);
  }
  {
    absl::StatusOr<Statement> q =
        db_.Prepare("SELECT idx, chain, epoch, records_idx FROM applied WHERE id = 1");
    if (!q.ok()) return q.status();
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return db_.Corrupt("the applied row is missing");
    p.applied_index = q->U64(0);
    p.applied_chain = q->U64(1);
    p.applied_epoch = q->U64(2);
    p.records_index = q->U64(3);
  }
  {
    absl::StatusOr<Statement> q = db_.Prepare("SELECT min(idx), max(idx), count(*) FROM log");
    if (!q.ok()) return q.status();
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    const std::uint64_t count = q->U64(2);
    p.last_index = p.base_index;
    if (count > 0) {
      const std::uint64_t first = q->U64(0);
      const std::uint64_t last = q->U64(1);
      if (first != p.base_index + 1 || last - first + 1 != count) {
        return db_.Corrupt(absl::StrCat("the log is not contiguous after its base index ",
                                        p.base_index, " (entries ", first, " to ", last, ", ",
                                        count, " rows)"));
      }
      p.last_index = last;
    }
  }
  p.last_chain = p.base_chain;
  if (p.last_index > p.base_index) {
    absl::StatusOr<Statement> q = db_.Prepare("SELECT chain FROM log WHERE idx = ?1");
    if (!q.ok()) return q.status();
    q->Bind(1, ToSql(p.last_index));
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return db_.Corrupt(absl::StrCat("log entry ", p.last_index, " is missing"));
    p.last_chain = q->U64(0);
  }
  if (p.applied_index < p.base_index || p.applied_index > p.last_index) {
    return db_.Corrupt(absl::StrCat("the applied index ", p.applied_index,
                                    " is outside the log (base ", p.base_index, ", last ",
                                    p.last_index, ")"));
  }
  if (p.records_index < p.base_index || p.records_index > p.applied_index) {
    return db_.Corrupt(absl::StrCat("the records' index ", p.records_index,
                                    " is outside the applied log (base ", p.base_index,
                                    ", applied ", p.applied_index, ")"));
  }
  positions_ = p;
  {
    absl::StatusOr<Statement> q = db_.Prepare("SELECT name FROM identity WHERE id = 1");
    if (!q.ok()) return q.status();
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (*row) identity_name_ = std::string(q->Text(0));
  }
  return absl::OkStatus();
}

absl::Status Store::Impl::SetPosition(Statement& statement, std::uint64_t index,
                                      std::uint64_t chain, std::uint64_t epoch) {
  statement.Bind(1, ToSql(index)).Bind(2, ToSql(chain)).Bind(3, ToSql(epoch));
  return statement.Run();
}

absl::Status Store::Impl::InsertRecord(const std::string& category, const std::string& key,
                                       const replication::Record& record) {
  Statement& s = statements_.put_record;
  s.BindText(1, category)
      .BindText(2, key)
      .BindText(3, record.value)
      .Bind(4, record.deleted ? 1 : 0)
      .Bind(5, ToSql(record.index))
      .BindText(6, record.writer)
      .BindText(7, record.origin)
      .Bind(8, ToSql(record.epoch));
  return s.Run();
}

absl::Status Store::Impl::InsertConflict(const replication::Conflict& conflict) {
  Statement& s = statements_.insert_conflict;
  s.Bind(1, ToSql(conflict.index))
      .BindText(2, conflict.category)
      .BindText(3, conflict.key)
      .BindText(4, conflict.kept_value)
      .BindText(5, conflict.lost_value)
      .BindText(6, conflict.lost_writer)
      .BindText(7, conflict.lost_origin);
  return s.Run();
}

absl::StatusOr<Entry> Store::Impl::ReadEntry(const Statement& row) const {
  Entry entry;
  entry.index = row.U64(0);
  entry.epoch = row.U64(1);
  entry.chain = row.U64(2);
  std::optional<EntryKind> kind = KindFromSql(row.I64(3));
  if (!kind.has_value()) {
    return db_.Corrupt(absl::StrCat("log entry ", entry.index, " has an unknown kind"));
  }
  entry.kind = *kind;
  entry.writer = std::string(row.Text(4));
  entry.category = std::string(row.Text(5));
  entry.key = std::string(row.Text(6));
  entry.value = std::string(row.Text(7));
  entry.origin = std::string(row.Text(8));
  return entry;
}

// Brings the records and conflicts tables from positions.records_index to `through` (applied,
// still in the log): the stored entries in between are applied with replication::Repository::
// Apply to the records they touch (a conflict reads the record it conflicts with), then each
// touched record is written once, in key order, and the new conflicts in entry order.
absl::Status Store::Impl::WriteRecordsThrough(std::uint64_t through, Positions& p) {
  if (through <= p.records_index) return absl::OkStatus();
  std::vector<Entry> entries;
  entries.reserve(through - p.records_index);
  {
    Statement& q = statements_.read_log_after;
    q.Bind(1, ToSql(p.records_index)).Bind(2, ToSql(through));
    while (true) {
      absl::StatusOr<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      absl::StatusOr<Entry> entry = ReadEntry(q);
      if (!entry.ok()) {
        q.Reset();
        return entry.status();
      }
      entries.push_back(*std::move(entry));
    }
  }
  replication::Repository changed;  // the records the entries touch, and the new conflicts
  changed.applied_index = p.records_index;
  std::set<replication::Key> written;
  for (const Entry& entry : entries) {
    if (entry.index != changed.applied_index + 1) {
      return db_.Corrupt(absl::StrCat("log entry ", changed.applied_index + 1, " is missing"));
    }
    replication::Key key(entry.category, entry.key);
    if (entry.kind == EntryKind::kConflict && !changed.records.contains(key)) {
      Statement& get = statements_.get_record;
      get.BindText(1, key.first).BindText(2, key.second);
      absl::StatusOr<bool> row = get.Step();
      if (!row.ok()) return row.status();
      if (*row) {
        replication::Record stored;
        stored.value = std::string(get.Text(0));
        stored.deleted = get.I64(1) != 0;
        changed.records.emplace(key, std::move(stored));
        get.Reset();
      }
    } else if (entry.kind == EntryKind::kPut || entry.kind == EntryKind::kDelete) {
      written.insert(key);
    }
    changed.Apply(entry);
  }
  if (changed.applied_index != through) {
    return db_.Corrupt(absl::StrCat("log entry ", changed.applied_index + 1, " is missing"));
  }
  for (const replication::Key& key : written) {
    if (absl::Status status = InsertRecord(key.first, key.second, changed.records.at(key));
        !status.ok()) {
      return status;
    }
  }
  for (const replication::Conflict& conflict : changed.conflicts) {
    if (absl::Status status = InsertConflict(conflict); !status.ok()) return status;
  }
  Statement& s = statements_.set_records_index;
  s.Bind(1, ToSql(through));
  if (absl::Status status = s.Run(); !status.ok()) return status;
  p.records_index = through;
  return absl::OkStatus();
}

absl::Status Store::Impl::WriteReplication(const replication::Ready& ready, Positions& p) {
  constexpr std::uint64_t kMaxIndex = std::numeric_limits<std::int64_t>::max();
  if (ready.snapshot.has_value()) {
    if (*ready.snapshot == nullptr) {
      return MakeError(absl::StatusCode::kInvalidArgument, "invalid_argument",
                       "replication.snapshot: set but holds no snapshot");
    }
    const replication::Repository& repo = (*ready.snapshot)->repository;
    if (repo.applied_index > kMaxIndex) {
      return MakeError(absl::StatusCode::kInvalidArgument, "too_large",
                       absl::StrCat("replication.snapshot.applied_index: ", repo.applied_index,
                                    " is above 2^63-1"));
    }
    for (const char* sql : {"DELETE FROM log", "DELETE FROM records", "DELETE FROM conflicts"}) {
      if (absl::Status status = db_.Exec(sql); !status.ok()) return status;
    }
    for (const auto& [key, record] : repo.records) {
      if (absl::Status status = InsertRecord(key.first, key.second, record); !status.ok()) {
        return status;
      }
    }
    for (const replication::Conflict& conflict : repo.conflicts) {
      if (absl::Status status = InsertConflict(conflict); !status.ok()) return status;
    }
    if (absl::Status status = SetPosition(statements_.set_applied, repo.applied_index,
                                          repo.applied_chain, repo.applied_epoch);
        !status.ok()) {
      return status;
    }
    if (absl::Status status = SetPosition(statements_.set_log_base, repo.applied_index,
                                          repo.applied_chain, repo.applied_epoch);
        !status.ok()) {
      return status;
    }
    Statement& s = statements_.set_records_index;
    s.Bind(1, ToSql(repo.applied_index));
    if (absl::Status status = s.Run(); !status.ok()) return status;
    p.base_index = p.applied_index = p.last_index = p.records_index = repo.applied_index;
    p.base_chain = p.applied_chain = p.last_chain = repo.applied_chain;
    p.base_epoch = p.applied_epoch = repo.applied_epoch;
  }

  if (ready.truncate_after.has_value()) {
    const std::uint64_t after = *ready.truncate_after;
    if (after < p.applied_index) {
      return Inconsistent(absl::StrCat("replication.truncate_after: ", after,
                                       " is below the applied index ", p.applied_index,
                                       " (applied entries cannot be rolled back)"));
    }
    if (after < p.last_index) {
      // The new last entry's chain: the one the next append must follow.
      std::uint64_t chain = p.base_chain;
      if (after > p.base_index) {
        Statement& get = statements_.get_log_position;
        get.Bind(1, ToSql(after));
        absl::StatusOr<bool> row = get.Step();
        if (!row.ok()) return row.status();
        if (!*row) return db_.Corrupt(absl::StrCat("log entry ", after, " is missing"));
        chain = get.U64(0);
        get.Reset();
      }
      Statement& s = statements_.truncate_log;
      s.Bind(1, ToSql(after));
      if (absl::Status status = s.Run(); !status.ok()) return status;
      p.last_index = after;
      p.last_chain = chain;
    }
  }

  // Checked first, then written kLogRowsPerInsert rows per statement.
  for (std::size_t i = 0; i < ready.append.size(); ++i) {
    const Entry& entry = ready.append[i];
    if (entry.index != p.last_index + 1 || entry.index > kMaxIndex) {
      return Inconsistent(absl::StrCat("replication.append[", i, "]: index ", entry.index,
                                       " does not follow the log's last index ", p.last_index));
    }
    const int kind = KindToSql(entry.kind);
    if (kind < 0) {
      return MakeError(absl::StatusCode::kInvalidArgument, "invalid_argument",
                       absl::StrCat("replication.append[", i, "]: unknown entry kind"));
    }
    // Each entry's chain hashes the previous entry's chain with its content (replication::Chain):
    // an entry that does not link to the stored log (or to the one before it in the batch)
    // would break the chain comparisons members use to find where their logs diverge.
    if (entry.chain != replication::Chain(p.last_chain, entry)) {
      return Inconsistent(absl::StrCat("replication.append[", i, "]: entry ", entry.index,
                                       " has chain ", entry.chain,
                                       ", which does not link to the chain ", p.last_chain,
                                       " of entry ", p.last_index));
    }
    p.last_index = entry.index;
    p.last_chain = entry.chain;
  }
  for (std::size_t i = 0; i < ready.append.size();) {
    const bool full = ready.append.size() - i >= kLogRowsPerInsert;
    Statement& s = full ? statements_.insert_log_rows : statements_.insert_log;
    const std::size_t rows = full ? kLogRowsPerInsert : 1;
    for (std::size_t row = 0; row < rows; ++row, ++i) {
      const Entry& entry = ready.append[i];
      const int first = static_cast<int>(row * kLogColumns) + 1;
      s.Bind(first, ToSql(entry.index))
          .Bind(first + 1, ToSql(entry.epoch))
          .Bind(first + 2, ToSql(entry.chain))
          .Bind(first + 3, KindToSql(entry.kind))
          .BindText(first + 4, entry.writer)
          .BindText(first + 5, entry.category)
          .BindText(first + 6, entry.key)
          .BindText(first + 7, entry.value)
          .BindText(first + 8, entry.origin);
    }
    if (absl::Status status = s.Run(); !status.ok()) return status;
  }

  // Applying moves the applied position only: the entries stay in the log, and the records
  // take them when the log is compacted past them (WriteRecordsThrough).
  for (std::size_t i = 0; i < ready.apply.size(); ++i) {
    const Entry& entry = ready.apply[i];
    if (entry.index != p.applied_index + 1 || entry.index > p.last_index) {
      return Inconsistent(absl::StrCat("replication.apply[", i, "]: index ", entry.index,
                                       " is not the next entry to apply (applied ", p.applied_index,
                                       ", log through ", p.last_index, ")"));
    }
    p.applied_index = entry.index;
    p.applied_chain = entry.chain;
    p.applied_epoch = entry.epoch;
  }
  if (!ready.apply.empty()) {
    if (absl::Status status =
            SetPosition(statements_.set_applied, p.applied_index, p.applied_chain, p.applied_epoch);
        !status.ok()) {
      return status;
    }
  }
  // The records follow the applied index at most kRecordsLag entries behind, a slice at a time,
  // so that a compaction (the replicator's: 5,000 entries once its log holds 25,000) finds them
  // written and no commit writes more than a slice or its own batch's excess.
  if (p.applied_index - p.records_index > kRecordsLag) {
    const std::uint64_t excess = p.applied_index - p.records_index - kRecordsLag;
    if (absl::Status status =
            WriteRecordsThrough(p.records_index + std::max(excess, kRecordsSlice), p);
        !status.ok()) {
      return status;
    }
  }

  if (ready.compact_through.has_value() && *ready.compact_through > p.base_index) {
    const std::uint64_t through = *ready.compact_through;
    if (through > p.applied_index) {
      return Inconsistent(absl::StrCat("replication.compact_through: ", through,
                                       " is above the applied index ", p.applied_index,
                                       " (unapplied entries cannot be compacted)"));
    }
    Statement& get = statements_.get_log_position;
    get.Bind(1, ToSql(through));
    absl::StatusOr<bool> row = get.Step();
    if (!row.ok()) return row.status();
    if (!*row) return db_.Corrupt(absl::StrCat("log entry ", through, " is missing"));
    const std::uint64_t chain = get.U64(0);
    const std::uint64_t epoch = get.U64(1);
    get.Reset();
    if (absl::Status status = WriteRecordsThrough(through, p); !status.ok()) return status;
    Statement& s = statements_.compact_log;
    s.Bind(1, ToSql(through));
    if (absl::Status status = s.Run(); !status.ok()) return status;
    if (absl::Status status = SetPosition(statements_.set_log_base, through, chain, epoch);
        !status.ok()) {
      return status;
    }
    p.base_index = through;
    p.base_chain = chain;
    p.base_epoch = epoch;
  }
  return absl::OkStatus();
}

absl::Status Store::Impl::WriteBatch(const Batch& batch, Positions& positions) {
  if (batch.identity.has_value()) {
    const Identity& identity = *batch.identity;
    if (identity_name_.has_value() && *identity_name_ != identity.name) {
      return MakeError(absl::StatusCode::kFailedPrecondition, "identity_mismatch",
                       absl::StrCat("identity.name: this store belongs to \"", *identity_name_,
                                    "\"; it cannot become \"", identity.name, "\""));
    }
    absl::StatusOr<std::string> name = model::NormalizePeerName(identity.name, "identity.name");
    if (!name.ok()) return name.status();
    if (*name != identity.name) {
      return MakeError(absl::StatusCode::kInvalidArgument, "name_not_fqdn",
                       absl::StrCat("identity.name: \"", identity.name,
                                    "\" must be written in its normal form \"", *name, "\""));
    }
    absl::StatusOr<nlohmann::json> doc =
        model::ParseJsonDocument(identity.member_json, "identity.member_json");
    if (!doc.ok()) return doc.status();
    absl::StatusOr<model::Member> member = model::MemberFromJson(*doc, "identity.member_json");
    if (!member.ok()) return member.status();
    if (member->name != identity.name) {
      return MakeError(absl::StatusCode::kInvalidArgument, "name_mismatch",
                       absl::StrCat("identity.member_json.name: \"", member->name,
                                    "\" is not the identity's name \"", identity.name, "\""));
    }
    // Kept in its canonical form (the fields ToJson writes, in its order).
    const std::string canonical = model::ToJson(*member).dump();
    Statement& s = statements_.put_identity;
    s.BindText(1, identity.name).BindText(2, canonical);
    if (absl::Status status = s.Run(); !status.ok()) return status;
  }

  for (std::size_t i = 0; i < batch.secrets.size(); ++i) {
    const SecretChange& change = batch.secrets[i];
    const std::string path = absl::StrCat("secrets[", i, "]");
    if (absl::Status status = CheckSecretName(change.name, path); !status.ok()) return status;
    if (change.value == nullptr) {
      Statement& s = statements_.delete_secret;
      s.BindText(1, change.name);
      if (absl::Status status = s.Run(); !status.ok()) return status;
      continue;
    }
    if (change.value->empty() || change.value->size() > kMaxSecretBytes) {
      return MakeError(absl::StatusCode::kInvalidArgument, "invalid_argument",
                       absl::StrCat(path, " (", change.name, "): a secret must have 1 to ",
                                    kMaxSecretBytes, " bytes"));
    }
    Statement& s = statements_.put_secret;
    s.BindText(1, change.name).BindBlob(2, change.value->view());
    if (absl::Status status = s.Run(); !status.ok()) return status;
  }

  for (std::size_t i = 0; i < batch.put_certificates.size(); ++i) {
    const StoredCertificate& cert = batch.put_certificates[i];
    const std::string path = absl::StrCat("put_certificates[", i, "]");
    if (cert.name.empty() || cert.name.size() > 256) {
      return MakeError(absl::StatusCode::kInvalidArgument, "invalid_argument",
                       absl::StrCat(path, ".name: must have 1 to 256 bytes"));
    }
    if (cert.der.empty() || cert.der.size() > kMaxCertificateBytes) {
      return MakeError(absl::StatusCode::kInvalidArgument, "invalid_argument",
                       absl::StrCat(path, ".der: must have 1 to ", kMaxCertificateBytes, " bytes"));
    }
    if (cert.not_after < cert.not_before) {
      return MakeError(absl::StatusCode::kInvalidArgument, "invalid_argument",
                       absl::StrCat(path, ": not_after is before not_before"));
    }
    if (cert.renewal_at < cert.not_before || cert.renewal_at > cert.not_after) {
      return MakeError(absl::StatusCode::kInvalidArgument, "invalid_argument",
                       absl::StrCat(path, ".renewal_at: must be within the validity period"));
    }
    Statement& s = statements_.put_certificate;
    s.BindText(1, cert.name)
        .BindText(2, RoleToSql(cert.role))
        .BindBlob(3, cert.der)
        .Bind(4, absl::ToUnixSeconds(cert.not_before))
        .Bind(5, absl::ToUnixSeconds(cert.not_after))
        .Bind(6, absl::ToUnixSeconds(cert.renewal_at));
    if (absl::Status status = s.Run(); !status.ok()) return status;
  }
  for (const std::string& name : batch.delete_certificates) {
    Statement& s = statements_.delete_certificate;
    s.BindText(1, name);
    if (absl::Status status = s.Run(); !status.ok()) return status;
  }

  if (batch.hard_state.has_value()) {
    const std::string text = HardStateToText(*batch.hard_state);
    // What is stored must read back as exactly this state (durations to the nanosecond,
    // resilience settings within their documented ranges). A state that differs from the last
    // one checked only in its log position (two integers, stored exactly) is not parsed again:
    // a write changes nothing else.
    failover::HardState shape = *batch.hard_state;
    shape.log = {};
    if (!checked_hard_state_.has_value() || *checked_hard_state_ != shape) {
      absl::StatusOr<failover::HardState> back = HardStateFromText(text);
      if (!back.ok()) return back.status();
      if (*back != *batch.hard_state) {
        return MakeError(absl::StatusCode::kInvalidArgument, "invalid_argument",
                         "hard_state: does not read back equal from its stored form (a duration "
                         "finer than a nanosecond or out of range)");
      }
      checked_hard_state_ = std::move(shape);
    }
    Statement& s = statements_.put_hard_state;
    s.BindText(1, text);
    if (absl::Status status = s.Run(); !status.ok()) return status;
  }

  if (batch.replication != nullptr) {
    return WriteReplication(*batch.replication, positions);
  }
  return absl::OkStatus();
}

absl::Status Store::Impl::Commit(const Batch& batch) {
  if (!broken_.ok()) return broken_;
  if (batch.empty()) return absl::OkStatus();
  if (absl::Status status = statements_.begin.Run(); !status.ok()) return status;
  Positions positions = positions_;
  absl::Status status = WriteBatch(batch, positions);
  if (!status.ok()) {
    absl::Status rolled_back = statements_.rollback.Run();
    if (!rolled_back.ok()) broken_ = rolled_back;
    return status;
  }
  status = statements_.commit.Run();
  if (!status.ok()) {
    // After a failed COMMIT (an fsync error, a full disk) what reached the disk is unknown:
    // refuse every later call; reopening the store reads what is really there.
    if (sqlite3_get_autocommit(db_.get()) == 0) (void)statements_.rollback.Run();
    broken_ =
        MakeError(status.code(), ReasonOf(status),
                  absl::StrCat(status.message(), " (the store refuses further writes: reopen it)"));
    return status;
  }
  positions_ = positions;
  if (batch.identity.has_value()) identity_name_ = batch.identity->name;
  return absl::OkStatus();
}

Store::Store(std::string data_dir, std::unique_ptr<Impl> impl, int schema_version)
    : data_dir_(std::move(data_dir)), impl_(std::move(impl)), schema_version_(schema_version) {}

Store::~Store() = default;

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& data_dir,
                                                   const OpenOptions& options) {
  if (data_dir.empty()) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_argument",
                     "data directory: must not be empty");
  }
  if (absl::Status status = PrepareDirectory(data_dir, options); !status.ok()) return status;
  absl::StatusOr<int> lock_fd = LockDirectory(data_dir);
  if (!lock_fd.ok()) return lock_fd.status();
  const std::string db_path = absl::StrCat(data_dir, "/", kDatabaseFile);
  auto impl = std::make_unique<Impl>(db_path, *lock_fd);

  absl::StatusOr<bool> exists = CheckDatabaseFiles(db_path);
  if (!exists.ok()) return exists.status();
  if (!*exists) {
    if (!options.create) {
      return MakeError(absl::StatusCode::kNotFound, "not_found",
                       absl::StrCat("no store in ", data_dir, " (", kDatabaseFile, " is absent)"));
    }
    // Created here with mode 0600 so SQLite never makes it with the umask's mode; SQLite gives
    // its -wal and -shm files the database's mode.
    const int fd =
        open(db_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return IoError("cannot create the database", db_path, errno);
    close(fd);
  }
  if (absl::Status status = impl->db_.Open(); !status.ok()) return status;
  absl::StatusOr<int> version = MigrateToCurrent(impl->db_);
  if (!version.ok()) return version.status();
  // The files now exist (database, WAL): make their directory entries durable.
  if (absl::Status status = SyncDirectory(data_dir); !status.ok()) return status;
  if (absl::Status status = impl->Prepare(); !status.ok()) return status;
  if (absl::Status status = impl->LoadPositions(); !status.ok()) return status;
  return std::unique_ptr<Store>(new Store(data_dir, std::move(impl), *version));
}

absl::StatusOr<std::optional<Identity>> Store::LoadIdentity() {
  absl::StatusOr<Statement> q =
      impl_->db_.Prepare("SELECT name, member_json FROM identity WHERE id = 1");
  if (!q.ok()) return q.status();
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Identity>();
  return std::optional<Identity>(Identity{std::string(q->Text(0)), std::string(q->Text(1))});
}

absl::StatusOr<std::optional<pki::SecretString>> Store::LoadSecret(const std::string& name) {
  if (absl::Status status = CheckSecretName(name, "secret"); !status.ok()) return status;
  absl::StatusOr<Statement> q = impl_->db_.Prepare("SELECT value FROM secrets WHERE name = ?1");
  if (!q.ok()) return q.status();
  q->BindText(1, name);
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<pki::SecretString>();
  return std::optional<pki::SecretString>(pki::SecretString(q->Blob(0)));
}

absl::StatusOr<std::vector<std::string>> Store::SecretNames() {
  absl::StatusOr<Statement> q = impl_->db_.Prepare("SELECT name FROM secrets ORDER BY name");
  if (!q.ok()) return q.status();
  std::vector<std::string> names;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    names.emplace_back(q->Text(0));
  }
  return names;
}

absl::StatusOr<std::vector<StoredCertificate>> Store::LoadCertificates() {
  absl::StatusOr<Statement> q = impl_->db_.Prepare(
      "SELECT name, role, der, not_before, not_after, renewal_at FROM certificates ORDER BY name");
  if (!q.ok()) return q.status();
  std::vector<StoredCertificate> certificates;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    StoredCertificate cert;
    cert.name = std::string(q->Text(0));
    const std::string_view role = q->Text(1);
    if (role == "peer") {
      cert.role = CertificateRole::kPeer;
    } else if (role == "ca") {
      cert.role = CertificateRole::kCa;
    } else {
      return impl_->db_.Corrupt(
          absl::StrCat("certificate \"", cert.name, "\" has role \"", AbslView(role), "\""));
    }
    cert.der = std::string(q->Blob(2));
    cert.not_before = absl::FromUnixSeconds(q->I64(3));
    cert.not_after = absl::FromUnixSeconds(q->I64(4));
    cert.renewal_at = absl::FromUnixSeconds(q->I64(5));
    certificates.push_back(std::move(cert));
  }
  return certificates;
}

absl::StatusOr<std::optional<failover::HardState>> Store::LoadHardState() {
  absl::StatusOr<Statement> q = impl_->db_.Prepare("SELECT json FROM hard_state WHERE id = 1");
  if (!q.ok()) return q.status();
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<failover::HardState>();
  absl::StatusOr<failover::HardState> state = HardStateFromText(q->Text(0));
  if (!state.ok()) {
    return impl_->db_.Corrupt(
        absl::StrCat("the stored hard state is unreadable: ", state.status().message()));
  }
  return std::optional<failover::HardState>(*std::move(state));
}

absl::StatusOr<replication::Durable> Store::LoadReplication() {
  Database& db = impl_->db_;
  const Positions& p = impl_->positions_;
  replication::Durable durable;
  durable.log_base_index = p.base_index;
  durable.log_base_chain = p.base_chain;
  durable.log_base_epoch = p.base_epoch;
  replication::Repository& repository = durable.repository;
  repository.applied_index = p.applied_index;
  repository.applied_chain = p.applied_chain;
  repository.applied_epoch = p.applied_epoch;
  {
    Statement& q = impl_->statements_.read_log_after;
    q.Bind(1, ToSql(p.base_index)).Bind(2, ToSql(p.last_index));
    while (true) {
      absl::StatusOr<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      absl::StatusOr<Entry> entry = impl_->ReadEntry(q);
      if (!entry.ok()) {
        q.Reset();
        return entry.status();
      }
      durable.log.push_back(*std::move(entry));
    }
  }
  {
    absl::StatusOr<Statement> q =
        db.Prepare("SELECT category, \"key\", value, deleted, idx, writer, origin, epoch FROM records");
    if (!q.ok()) return q.status();
    while (true) {
      absl::StatusOr<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      replication::Record record;
      record.value = std::string(q->Text(2));
      record.deleted = q->I64(3) != 0;
      record.index = q->U64(4);
      record.writer = std::string(q->Text(5));
      record.origin = std::string(q->Text(6));
      record.epoch = q->U64(7);
      durable.repository.records.emplace(
          replication::Key(std::string(q->Text(0)), std::string(q->Text(1))), std::move(record));
    }
  }
  {
    absl::StatusOr<Statement> q = db.Prepare(
        "SELECT idx, category, \"key\", kept_value, lost_value, lost_writer, lost_origin "
        "FROM conflicts ORDER BY seq");
    if (!q.ok()) return q.status();
    while (true) {
      absl::StatusOr<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      replication::Conflict conflict;
      conflict.index = q->U64(0);
      conflict.category = std::string(q->Text(1));
      conflict.key = std::string(q->Text(2));
      conflict.kept_value = std::string(q->Text(3));
      conflict.lost_value = std::string(q->Text(4));
      conflict.lost_writer = std::string(q->Text(5));
      conflict.lost_origin = std::string(q->Text(6));
      durable.repository.conflicts.push_back(std::move(conflict));
    }
  }
  // The applied entries the records do not hold yet, replayed from the log.
  if (p.records_index < p.applied_index) {
    repository.applied_index = p.records_index;
    for (const Entry& entry : durable.log) {
      if (entry.index <= p.records_index) continue;
      if (entry.index > p.applied_index) break;
      if (entry.index != repository.applied_index + 1) {
        return db.Corrupt(absl::StrCat("log entry ", repository.applied_index + 1, " is missing"));
      }
      repository.Apply(entry);
    }
    if (repository.applied_index != p.applied_index ||
        repository.applied_chain != p.applied_chain ||
        repository.applied_epoch != p.applied_epoch) {
      return db.Corrupt(absl::StrCat("the log does not lead to the applied position ",
                                     p.applied_index, " (it reaches ", repository.applied_index,
                                     ")"));
    }
  }
  return durable;
}

absl::Status Store::Commit(const Batch& batch) { return impl_->Commit(batch); }

absl::Status Store::CheckIntegrity() {
  absl::StatusOr<Statement> q = impl_->db_.Prepare("PRAGMA integrity_check");
  if (!q.ok()) return q.status();
  std::string problems;
  int lines = 0;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const std::string_view line = q->Text(0);
    if (line == "ok") continue;
    if (++lines <= 5) absl::StrAppend(&problems, lines > 1 ? "; " : "", AbslView(line));
  }
  if (lines > 0) return impl_->db_.Corrupt(absl::StrCat("integrity check: ", problems));
  return absl::OkStatus();
}

}  // namespace arraykit::store
