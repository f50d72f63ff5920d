// A thin RAII layer over the SQLite C API for the store: one connection, prepared statements
// with typed binding, and SQLite result codes turned into arraykit statuses that name the
// database file (corruption → DATA_LOSS `corrupt_state`, a full disk → RESOURCE_EXHAUSTED
// `disk_full`, other I/O failures → INTERNAL `io_error`). Bound values never appear in messages.
#ifndef ARRAYKIT_STORE_SQLITE_UTIL_H_
#define ARRAYKIT_STORE_SQLITE_UTIL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct sqlite3;
struct sqlite3_stmt;

namespace arraykit::store {

class Database;

// A prepared statement. Bind, then Run() (a statement without rows) or Step() until false.
// Text and blobs are bound without a copy (SQLITE_STATIC): what is bound must outlive the
// Run()/Step() that follows, so never bind a temporary.
// Step() resets the statement when it returns false or an error; after reading a row of a
// statement that is kept (a cached one), call Reset().
class Statement {
 public:
  Statement() = default;
  Statement(Database* db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, std::int64_t value);
  Statement& Bind(int index, int value) { return Bind(index, static_cast<std::int64_t>(value)); }
  Statement& BindText(int index, std::string_view text);
  Statement& BindBlob(int index, std::string_view bytes);

  absl::StatusOr<bool> Step();  // true: a row is ready
  absl::Status Run();           // steps to the end; the statement is reset afterwards
  void Reset();                 // ready to bind and run again; bindings cleared

  std::int64_t I64(int column) const;
  // INTEGER columns hold uint64 values cast to int64 (SQLite's integers are signed): cast back.
  std::uint64_t U64(int column) const { return static_cast<std::uint64_t>(I64(column)); }
  std::string_view Text(int column) const;  // valid until the next Step/Reset
  std::string_view Blob(int column) const;

 private:
  Database* db_ = nullptr;
  sqlite3_stmt* statement_ = nullptr;
};

class Database {
 public:
  explicit Database(std::string path) : path_(std::move(path)) {}
  ~Database() { Close(); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Opens the existing file read-write (never creating it, never through a symlink) and sets the
  // durability pragmas: WAL, synchronous=FULL, secure_delete, a persistent WAL file.
  absl::Status Open();
  void Close();

  absl::StatusOr<Statement> Prepare(std::string_view sql, bool persistent = false);
  absl::Status Exec(const char* sql);  // statements without parameters or rows

  // The status for SQLite result `rc` while doing `what`.
  absl::Status Error(int rc, absl::string_view what) const;
  // DATA_LOSS, reason `corrupt_state`: "<database path>: <message>".
  absl::Status Corrupt(absl::string_view message) const;

  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace arraykit::store

#endif  // ARRAYKIT_STORE_SQLITE_UTIL_H_
