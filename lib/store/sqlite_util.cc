#include "store/sqlite_util.h"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace arraykit::store {

Statement::~Statement() {
  if (statement_ != nullptr) sqlite3_finalize(statement_);
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), statement_(std::exchange(other.statement_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (statement_ != nullptr) sqlite3_finalize(statement_);
    db_ = other.db_;
    statement_ = std::exchange(other.statement_, nullptr);
  }
  return *this;
}

// Binding only fails for an index out of range or misuse: programmer errors that Step() then
// reports (SQLITE_RANGE/MISUSE are sticky on the statement), so the chainable form is safe.
Statement& Statement::Bind(int index, std::int64_t value) {
  sqlite3_bind_int64(statement_, index, value);
  return *this;
}

Statement& Statement::BindText(int index, std::string_view text) {
  // SQLITE_STATIC: the caller's text outlives the step that reads it (Run/Step follow at once);
  // a zero-length text is bound as '' (a null pointer would bind NULL).
  sqlite3_bind_text64(statement_, index, text.empty() ? "" : text.data(), text.size(),
                      SQLITE_STATIC, SQLITE_UTF8);
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  sqlite3_bind_blob64(statement_, index, bytes.empty() ? "" : bytes.data(), bytes.size(),
                      SQLITE_STATIC);
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  const int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    Reset();
    return false;
  }
  absl::Status status = db_->Error(rc, sqlite3_sql(statement_));
  Reset();
  return status;
}

absl::Status Statement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

void Statement::Reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

std::int64_t Statement::I64(int column) const { return sqlite3_column_int64(statement_, column); }

std::string_view Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(statement_, column);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text),
          static_cast<std::size_t>(sqlite3_column_bytes(statement_, column))};
}

std::string_view Statement::Blob(int column) const {
  const void* blob = sqlite3_column_blob(statement_, column);
  if (blob == nullptr) return {};
  return {static_cast<const char*>(blob),
          static_cast<std::size_t>(sqlite3_column_bytes(statement_, column))};
}

absl::Status Database::Open() {
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = Error(rc, "open");
    Close();
    return status;
  }
  sqlite3_extended_result_codes(db_, 1);
  // Refuse SQL that could corrupt the file deliberately (writable_schema and the like).
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  // One process at a time uses a store (the directory's flock), so this connection keeps its
  // file locks for good: no lock calls per transaction, and the WAL index lives in this
  // process's memory rather than in a shared -shm file (set before the first WAL access).
  if (absl::Status status = Exec("PRAGMA locking_mode=EXCLUSIVE"); !status.ok()) return status;
  // The first statement reads the header: a file that is not a database fails here (NOTADB).
  absl::StatusOr<Statement> mode = Prepare("PRAGMA journal_mode=WAL");
  if (!mode.ok()) return mode.status();
  absl::StatusOr<bool> row = mode->Step();
  if (!row.ok()) return row.status();
  if (!*row || mode->Text(0) != "wal") {
    return MakeError(absl::StatusCode::kInternal, "io_error",
                     absl::StrCat(path_, ": cannot switch to write-ahead logging (journal mode ",
                                  *row ? std::string(mode->Text(0)) : std::string("unknown"), ")"));
  }
  mode->Reset();
  // synchronous=FULL: in WAL mode every COMMIT syncs the WAL, so a committed batch survives a
  // power loss, not just a process kill (NORMAL would lose the last commits on power loss).
  // secure_delete: deleted secrets and records are overwritten in the file, not just unlinked.
  for (const char* sql :
       {"PRAGMA synchronous=FULL", "PRAGMA secure_delete=ON", "PRAGMA foreign_keys=OFF"}) {
    if (absl::Status status = Exec(sql); !status.ok()) return status;
  }
  // Keep the WAL file across close so its directory entry, synced once at open, stays valid.
  int persist = 1;
  sqlite3_file_control(db_, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  return absl::OkStatus();
}

void Database::Close() {
  if (db_ != nullptr) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

absl::StatusOr<Statement> Database::Prepare(std::string_view sql, bool persistent) {
  sqlite3_stmt* statement = nullptr;
  const int rc =
      sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                         persistent ? SQLITE_PREPARE_PERSISTENT : 0, &statement, nullptr);
  if (rc != SQLITE_OK) {
    if (statement != nullptr) sqlite3_finalize(statement);
    return Error(rc, absl::string_view(sql.data(), sql.size()));
  }
  return Statement(this, statement);
}

absl::Status Database::Exec(const char* sql) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, sql);
  return absl::OkStatus();
}

absl::Status Database::Error(int rc, absl::string_view what) const {
  // sqlite3_errmsg names the failing constraint or table, never a bound value.
  const char* detail = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  // The statement's text names the operation: its first line, at most 100 bytes (a migration
  // script is long).
  std::size_t start = what.find_first_not_of(" \n");
  if (start == absl::string_view::npos) start = what.size();
  absl::string_view statement = what.substr(start);
  const std::size_t end = std::min<std::size_t>(statement.find('\n'), 100);
  const bool cut = end < statement.size();
  const std::string message =
      absl::StrCat(path_, ": ", detail, " (while running \"", statement.substr(0, end),
                   cut ? "...\"" : "\"", ", SQLite code ", rc, ")");
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return MakeError(absl::StatusCode::kDataLoss, "corrupt_state", message);
    case SQLITE_FULL:
      return MakeError(absl::StatusCode::kResourceExhausted, "disk_full", message);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return MakeError(absl::StatusCode::kInternal, "io_error", message);
    default:
      return MakeError(absl::StatusCode::kInternal, "internal", message);
  }
}

absl::Status Database::Corrupt(absl::string_view message) const {
  return MakeError(absl::StatusCode::kDataLoss, "corrupt_state",
                   absl::StrCat(path_, ": ", message));
}

}  // namespace arraykit::store
