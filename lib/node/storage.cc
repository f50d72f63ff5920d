#include "node/storage.h"

namespace arraykit::node {

bool CredentialChange::empty() const {
  return put_secrets.empty() && delete_secrets.empty() && put_certificates.empty() &&
         delete_certificates.empty() && !reset_repository;
}

bool Batch::empty() const {
  if (identity.has_value() || hard_state.has_value()) return false;
  if (credentials.has_value() && !credentials->empty()) return false;
  if (replication == nullptr) return true;
  const replication::Ready& r = *replication;
  return !r.snapshot && !r.truncate_after && r.append.empty() && r.apply.empty() &&
         !r.compact_through;
}

}  // namespace arraykit::node
