// What the node persists, behind one small interface (DESIGN.md §7 "Durability", §10): the
// member's identity, the failover machine's HardState and the replicator's durable state,
// written once per loop iteration in one transaction (group commit).
//
// The interface follows lib/store's Store (SQLite), which is the default behind it
// (sqlite_storage.h); the node is the only caller, from its loop thread
// or its store thread, one at a time.
#ifndef ARRAYKIT_NODE_STORAGE_H_
#define ARRAYKIT_NODE_STORAGE_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/failover/types.h"
#include "core/pki/secret.h"
#include "core/replication/replicator.h"
#include "core/replication/types.h"

namespace arraykit::node {

// Who this member is: its peer DNS name and its DESIGN §3 member object (compact JSON).
struct Identity {
  std::string name;
  std::string member_json;
  bool operator==(const Identity&) const = default;
};

// A certificate the member keeps: its own peer certificate ("peer") and the CA certificates it
// trusts ("ca:<fingerprint>"); the status document shows their expiry and renewal date.
struct CertificateStatus {
  std::string name;  // the store's key ("peer", "ca:<fingerprint>")
  std::string role;  // "peer" or "ca"
  absl::Time not_before;
  absl::Time not_after;
  absl::Time renewal_at;
  std::string der;  // the certificate
};

// Changes to the member's keys and certificates, written with the rest of a batch: at the first
// start (its key, its own CA, its certificate) and when it joins an array (the array's CA, a new
// key and certificate; its own CA retired; its repository replaced by the array's).
struct CredentialChange {
  std::vector<std::pair<std::string, pki::SecretString>> put_secrets;  // name -> PEM
  std::vector<std::string> delete_secrets;
  std::vector<CertificateStatus> put_certificates;  // by name; `role` "peer" or "ca"
  std::vector<std::string> delete_certificates;
  // The repository and log are emptied before the batch's replication persists: the member's
  // standalone entries are not the array's (the primary then sends it the array's).
  bool reset_repository = false;

  bool empty() const;
};

// Everything one loop iteration persists, written in one transaction.
struct Batch {
  std::optional<Identity> identity;
  std::optional<failover::HardState> hard_state;
  const replication::Ready* replication = nullptr;  // its persists only; not owned
  std::optional<CredentialChange> credentials;

  bool empty() const;
};

class Storage {
 public:
  virtual ~Storage() = default;
  virtual absl::StatusOr<std::optional<Identity>> LoadIdentity() = 0;
  virtual absl::StatusOr<std::optional<failover::HardState>> LoadHardState() = 0;
  virtual absl::StatusOr<replication::Durable> LoadReplication() = 0;
  virtual absl::StatusOr<std::vector<CertificateStatus>> LoadCertificates() = 0;
  // A private key by name (nullopt when absent). Never logged.
  virtual absl::StatusOr<std::optional<pki::SecretString>> LoadSecret(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<std::string>> SecretNames() = 0;
  // Durable when it returns OK; on error nothing of the batch is written.
  virtual absl::Status Commit(const Batch& batch) = 0;
};

}  // namespace arraykit::node

#endif  // ARRAYKIT_NODE_STORAGE_H_
