// A member's durable state (DESIGN.md §7 "Durability", §10): one SQLite database in the
// member's data directory, written once per loop iteration of the node (by its loop thread or
// its store thread).
//
// What it keeps: the member's identity (its name and DESIGN §3 member fields), its private keys
// (secrets), its certificates, the failover machine's HardState, and the replicated repository
// (log after the last compaction, records, conflicts, log base and applied position). Applying
// an entry only moves the applied position: the records and conflicts tables take the applied
// entries when the log is compacted past them, and LoadReplication replays the rest from the log.
//
// Rules:
// - Commit(batch) writes everything of one loop iteration in ONE transaction (group commit) and
//   returns only once it is durable (WAL, synchronous=FULL): the caller may then send messages
//   and acknowledge writes. A process killed at any instant reopens with every committed batch
//   and nothing of a half-done one.
// - The data directory is 0700 and every file in it 0600; a store whose directory or database is
//   readable by group or others is refused (`unprotected_file`), like ssh refuses a key.
// - One process at a time: the directory is locked (flock) while a Store is open (`busy`).
// - Secrets (private keys) are never logged and never put in a status message.
//
// A Store is used by one thread at a time (the node's loop or its store thread, handing over
// in order); it is not internally synchronized.
#ifndef ARRAYKIT_STORE_STORE_H_
#define ARRAYKIT_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/failover/types.h"
#include "core/pki/secret.h"
#include "core/replication/replicator.h"
#include "core/replication/types.h"

namespace arraykit::store {

// The schema this build writes. Older databases are migrated when opened; newer ones refused.
inline constexpr int kSchemaVersion = 4;

// Applied entries reach the records table when the log is compacted past them, or once they
// are more than kRecordsLag entries behind the applied index (then kRecordsSlice at a time, or
// the whole excess when one batch applies more).
inline constexpr std::uint64_t kRecordsLag = 16384;
inline constexpr std::uint64_t kRecordsSlice = 256;

// File names inside the data directory.
inline constexpr const char* kDatabaseFile = "store.db";
inline constexpr const char* kLockFile = "store.lock";

// Limits on what a batch may carry (refused with INVALID_ARGUMENT, never truncated).
inline constexpr std::size_t kMaxSecretNameBytes = 128;
inline constexpr std::size_t kMaxSecretBytes = 64 * 1024;
inline constexpr std::size_t kMaxCertificateBytes = 64 * 1024;

struct OpenOptions {
  // Create the directory (mode 0700; its parent must exist) and the database (0600) when absent.
  // When false, a missing directory or database is NOT_FOUND.
  bool create = true;
};

// Who this member is: its peer DNS name and its DESIGN §3 member object (compact JSON text,
// `{"name": ..., "roles": [...], "rack": ..., ...}`; its "name" is `name`).
struct Identity {
  std::string name;
  std::string member_json;
  bool operator==(const Identity&) const = default;
};

enum class CertificateRole { kPeer, kCa };

// A certificate this member keeps (its own peer certificate, trusted CAs), for status and
// renewal. Times are stored to the whole second (X.509 validity has no finer grain).
struct StoredCertificate {
  std::string name;  // the store's key, e.g. "peer" or "ca:<fingerprint>"
  CertificateRole role = CertificateRole::kPeer;
  std::string der;
  absl::Time not_before = absl::UnixEpoch();
  absl::Time not_after = absl::UnixEpoch();
  // When to renew it (pki::RenewalTime for peer certificates); within [not_before, not_after].
  absl::Time renewal_at = absl::UnixEpoch();
  bool operator==(const StoredCertificate&) const = default;
};

// One secret change: `value` set = store (replacing any earlier value), unset = delete.
struct SecretChange {
  std::string name;
  const pki::SecretString* value = nullptr;  // not owned; must outlive Commit()
};

// Everything one loop iteration persists. Applied in this order: identity, secrets,
// certificates, hard state, replication (snapshot, truncate, append, apply, compact).
struct Batch {
  std::optional<Identity> identity;  // set once; later batches may change the member fields only
  std::vector<SecretChange> secrets;
  std::vector<StoredCertificate> put_certificates;  // upsert by name
  std::vector<std::string> delete_certificates;
  std::optional<failover::HardState> hard_state;
  const replication::Ready* replication = nullptr;  // not owned; its persists only

  bool empty() const;
};

class Store {
 public:
  // Opens (or creates) the store of `data_dir`, migrating an older schema. Refusals, each with
  // its reason: `busy` (another process has it open), `unprotected_file` (group/other
  // permissions on the directory or a database file), `schema_too_new`, `corrupt_state` (not an
  // arraykit SQLite database, or a damaged one), NOT_FOUND when absent and !create.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& data_dir,
                                                     const OpenOptions& options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  absl::StatusOr<std::optional<Identity>> LoadIdentity();
  absl::StatusOr<std::optional<pki::SecretString>> LoadSecret(const std::string& name);
  absl::StatusOr<std::vector<std::string>> SecretNames();
  absl::StatusOr<std::vector<StoredCertificate>> LoadCertificates();  // by name
  absl::StatusOr<std::optional<failover::HardState>> LoadHardState();
  // The repository as applied and the log after the last compaction.
  absl::StatusOr<replication::Durable> LoadReplication();

  // Writes `batch` in one transaction; durable when it returns OK. On error nothing of the
  // batch is written. A batch that does not fit the stored log (an append that does not follow
  // the last entry — its index is not the next one, or its chain is not replication::Chain of
  // the previous entry's chain (the log base's for the first entry after it) — an apply that
  // skips an index, compaction past the applied index) is refused with FAILED_PRECONDITION,
  // reason `inconsistent_batch`.
  absl::Status Commit(const Batch& batch);

  // SQLite's `PRAGMA integrity_check`: OK, or DATA_LOSS (`corrupt_state`) with its first lines.
  absl::Status CheckIntegrity();

  int schema_version() const { return schema_version_; }
  const std::string& data_dir() const { return data_dir_; }

 private:
  class Impl;
  Store(std::string data_dir, std::unique_ptr<Impl> impl, int schema_version);

  std::string data_dir_;
  std::unique_ptr<Impl> impl_;
  int schema_version_;
};

}  // namespace arraykit::store

#endif  // ARRAYKIT_STORE_STORE_H_
