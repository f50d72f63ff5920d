// What the node persists, behind one small interface (DESIGN.md §7 "Durability", §10): the
// member's identity, the failover machine's HardState and the replicator's durable state,
// written once per loop iteration in one transaction (group commit).
//
// The interface follows lib/store's Store (SQLite), which is the default behind it
// (sqlite_storage.h); the node is the only caller, from its loop thread.
#ifndef ARRAYKIT_NODE_STORAGE_H_
#define ARRAYKIT_NODE_STORAGE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/failover/types.h"
#include "core/replication/replicator.h"
#include "core/replication/types.h"

namespace arraykit::node {

// Who this member is: its peer DNS name and its DESIGN §3 member object (compact JSON).
struct Identity {
  std::string name;
  std::string member_json;
  bool operator==(const Identity&) const = default;
};

// A certificate the member keeps, for the status document (expiry and renewal date).
struct CertificateStatus {
  std::string name;  // the store's key ("peer", "ca:<fingerprint>")
  std::string role;  // "peer" or "ca"
  absl::Time not_before;
  absl::Time not_after;
  absl::Time renewal_at;
};

// Everything one loop iteration persists, written in one transaction.
struct Batch {
  std::optional<Identity> identity;
  std::optional<failover::HardState> hard_state;
  const replication::Ready* replication = nullptr;  // its persists only; not owned

  bool empty() const;
};

class Storage {
 public:
  virtual ~Storage() = default;
  virtual absl::StatusOr<std::optional<Identity>> LoadIdentity() = 0;
  virtual absl::StatusOr<std::optional<failover::HardState>> LoadHardState() = 0;
  virtual absl::StatusOr<replication::Durable> LoadReplication() = 0;
  virtual absl::StatusOr<std::vector<CertificateStatus>> LoadCertificates() = 0;
  // Durable when it returns OK; on error nothing of the batch is written.
  virtual absl::Status Commit(const Batch& batch) = 0;
};

}  // namespace arraykit::node

#endif  // ARRAYKIT_NODE_STORAGE_H_
