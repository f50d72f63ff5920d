#include "store/schema.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "store/store.h"

namespace arraykit::store {
namespace {

// Schema 1. uint64 values (indexes, epochs, chains) are stored in INTEGER columns cast to int64
// and cast back when read, so every bit survives.
constexpr const char* kSchema1 = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE identity(id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL,
                      member_json TEXT NOT NULL);
CREATE TABLE secrets(name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE certificates(name TEXT PRIMARY KEY, role TEXT NOT NULL CHECK (role IN ('peer', 'ca')),
                          der BLOB NOT NULL, not_before INTEGER NOT NULL,
                          not_after INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE hard_state(id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);
CREATE TABLE log(idx INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, chain INTEGER NOT NULL,
                 kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 3), writer TEXT NOT NULL,
                 category TEXT NOT NULL, "key" TEXT NOT NULL, value TEXT NOT NULL,
                 origin TEXT NOT NULL);
CREATE TABLE records(category TEXT NOT NULL, "key" TEXT NOT NULL, value TEXT NOT NULL,
                     deleted INTEGER NOT NULL CHECK (deleted IN (0, 1)), idx INTEGER NOT NULL,
                     writer TEXT NOT NULL, origin TEXT NOT NULL,
                     PRIMARY KEY (category, "key")) WITHOUT ROWID;
CREATE TABLE conflicts(seq INTEGER PRIMARY KEY, idx INTEGER NOT NULL, category TEXT NOT NULL,
                       "key" TEXT NOT NULL, kept_value TEXT NOT NULL, lost_value TEXT NOT NULL,
                       lost_writer TEXT NOT NULL, lost_origin TEXT NOT NULL);
CREATE TABLE log_base(id INTEGER PRIMARY KEY CHECK (id = 1), idx INTEGER NOT NULL,
                      chain INTEGER NOT NULL, epoch INTEGER NOT NULL);
CREATE TABLE applied(id INTEGER PRIMARY KEY CHECK (id = 1), idx INTEGER NOT NULL,
                     chain INTEGER NOT NULL, epoch INTEGER NOT NULL);
INSERT INTO meta(key, value) VALUES('application', 'arraykit-store'), ('schema_version', '0');
INSERT INTO log_base(id, idx, chain, epoch) VALUES(1, 0, 0, 0);
INSERT INTO applied(id, idx, chain, epoch) VALUES(1, 0, 0, 0);
)sql";

// Schema 2: certificates.renewal_at (Unix seconds). Rows written by schema 1 get
// not_before + 2/3 of the validity period, as pki::RenewalTime computes it (integer seconds:
// the division truncates, as ToUnixSeconds floors the exact time for whole-second inputs).
constexpr const char* kSchema2 = R"sql(
ALTER TABLE certificates ADD COLUMN renewal_at INTEGER NOT NULL DEFAULT 0;
UPDATE certificates SET renewal_at = not_before + (not_after - not_before) * 2 / 3;
)sql";

// Schema 3: records.epoch, the epoch of the entry that last wrote the record (the replicator's
// merge names a write by "writer@epoch.index"). Rows written by schema 2 take it from their log
// entry; a record whose entry was compacted away gets the log base's epoch, the closest one the
// store still knows (an older epoch only shows in a merged write's origin).
constexpr const char* kSchema3 = R"sql(
ALTER TABLE records ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
UPDATE records SET epoch = COALESCE((SELECT log.epoch FROM log WHERE log.idx = records.idx),
                                    (SELECT epoch FROM log_base WHERE id = 1), 0);
)sql";

// Schema 4: applied.records_idx, the index through which the records and conflicts tables hold
// the repository. Applying an entry only moves the applied position; the entries after
// records_idx are written into the records when the log is compacted past them, and replayed
// from the log when the store is loaded. Schema 3 wrote every applied entry at once, so its
// records hold the repository through the applied index.
constexpr const char* kSchema4 = R"sql(
ALTER TABLE applied ADD COLUMN records_idx INTEGER NOT NULL DEFAULT 0;
UPDATE applied SET records_idx = idx;
)sql";

struct Migration {
  int from;
  const char* sql;
};

// Step i takes a database from version i to i + 1.
constexpr Migration kMigrations[] = {
    {0, kSchema1},
    {1, kSchema2},
    {2, kSchema3},
    {3, kSchema4},
};
static_assert(sizeof kMigrations / sizeof kMigrations[0] == kSchemaVersion,
              "one migration step per schema version");

}  // namespace

absl::StatusOr<int> ReadSchemaVersion(Database& db) {
  absl::StatusOr<Statement> tables =
      db.Prepare("SELECT count(*), sum(name = 'meta') FROM sqlite_master WHERE type = 'table'");
  if (!tables.ok()) return tables.status();
  absl::StatusOr<bool> row = tables->Step();
  if (!row.ok()) return row.status();
  const std::int64_t count = tables->I64(0);
  const std::int64_t has_meta = tables->I64(1);
  tables->Reset();
  if (count == 0) return 0;
  if (has_meta == 0) return db.Corrupt("not an arraykit store (no meta table)");

  absl::StatusOr<Statement> meta = db.Prepare(
      "SELECT (SELECT value FROM meta WHERE key = 'application'), "
      "(SELECT value FROM meta WHERE key = 'schema_version')");
  if (!meta.ok()) return meta.status();
  row = meta->Step();
  if (!row.ok()) return row.status();
  if (meta->Text(0) != "arraykit-store") return db.Corrupt("not an arraykit store (meta table)");
  int version = 0;
  const std::string text(meta->Text(1));
  if (!absl::SimpleAtoi(text, &version) || version < 1) {
    return db.Corrupt(absl::StrCat("the schema version \"", text, "\" is not valid"));
  }
  if (version > kSchemaVersion) {
    return MakeError(absl::StatusCode::kFailedPrecondition, "schema_too_new",
                     absl::StrCat(db.path(), ": schema version ", version,
                                  " was written by a newer arraykit; this one reads versions "
                                  "up to ",
                                  kSchemaVersion, " (upgrade arraykit)"));
  }
  return version;
}

absl::StatusOr<int> MigrateToCurrent(Database& db) { return MigrateTo(db, kSchemaVersion); }

absl::StatusOr<int> MigrateTo(Database& db, int target) {
  absl::StatusOr<int> version = ReadSchemaVersion(db);
  if (!version.ok()) return version.status();
  for (const Migration& step : kMigrations) {
    if (step.from < *version || step.from >= target) continue;
    if (absl::Status status = db.Exec("BEGIN IMMEDIATE"); !status.ok()) return status;
    absl::Status status = db.Exec(step.sql);
    if (status.ok()) {
      absl::StatusOr<Statement> set =
          db.Prepare("UPDATE meta SET value = ?1 WHERE key = 'schema_version'");
      if (!set.ok()) {
        status = set.status();
      } else {
        const std::string reached = absl::StrCat(step.from + 1);
        set->BindText(1, reached);
        status = set->Run();
      }
    }
    if (status.ok()) status = db.Exec("COMMIT");
    if (!status.ok()) {
      (void)db.Exec("ROLLBACK");
      return MakeError(status.code(), ReasonOf(status),
                       absl::StrCat("migrating the store from schema ", step.from, " to ",
                                    step.from + 1, ": ", status.message()));
    }
    *version = step.from + 1;
  }
  return *version;
}

}  // namespace arraykit::store
