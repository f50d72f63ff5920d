// Operations: the host calls of one array member, whoever serves them — the member running in
// this process (node::Node) or one running elsewhere reached over its admin socket
// (grpc_transport::AdminClient). The C ABI's ak_node holds either. Documents are the JSON text
// of the C ABI; refusals are statuses with a reason word (docs/node.md, docs/c-abi.md).
#ifndef ARRAYKIT_NODE_OPERATIONS_H_
#define ARRAYKIT_NODE_OPERATIONS_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/replication/types.h"

namespace arraykit::node {

// The answer of a call made without blocking (PutAsync, DeleteAsync).
using AnswerFn = std::function<void(absl::StatusOr<std::string>)>;

class Operations {
 public:
  virtual ~Operations() = default;

  virtual absl::Status CreateArray(std::string_view description_json) = 0;
  virtual absl::StatusOr<std::string> Put(std::string_view category, std::string_view key,
                                          std::string_view value_json, replication::Wait wait) = 0;
  virtual absl::StatusOr<std::string> Delete(std::string_view category, std::string_view key,
                                             replication::Wait wait) = 0;
  // Put and Delete without blocking the caller: `done` gets what Put or Delete would return,
  // exactly once. It runs on the caller's thread when the call is refused at once, otherwise
  // on one of the member's threads: it must not block and must not call the member. The
  // default runs the blocking call and then `done`; a member in this process answers from the
  // thread that releases the write.
  virtual void PutAsync(std::string_view category, std::string_view key,
                        std::string_view value_json, replication::Wait wait, AnswerFn done) {
    done(Put(category, key, value_json, wait));
  }
  virtual void DeleteAsync(std::string_view category, std::string_view key,
                           replication::Wait wait, AnswerFn done) {
    done(Delete(category, key, wait));
  }
  virtual absl::StatusOr<std::string> Get(std::string_view category, std::string_view key) = 0;
  virtual absl::StatusOr<std::string> List(std::string_view category) = 0;
  virtual absl::StatusOr<std::string> WaitSynced(absl::Duration timeout) = 0;
  virtual absl::Status Detach(std::string_view name) = 0;
  virtual absl::Status MakePrimary(std::string_view name) = 0;
  virtual absl::StatusOr<std::string> BackupPrimaries() = 0;
  virtual absl::Status AddBackupPrimary(std::string_view name, std::size_t position) = 0;
  virtual absl::Status EditBackupPrimary(std::string_view name, std::size_t position) = 0;
  virtual absl::Status RemoveBackupPrimary(std::string_view name) = 0;
  virtual absl::Status Clean(bool contact_members) = 0;
  virtual absl::Status ConfigEdit(std::string_view edit_json) = 0;
  virtual absl::StatusOr<std::string> JoinToken(absl::Duration ttl) = 0;
  virtual absl::StatusOr<std::string> CaFingerprint() = 0;
  virtual absl::StatusOr<std::string> Join(std::string_view joiner, std::string_view fingerprint,
                                           std::string_view token, absl::Duration timeout) = 0;
  virtual absl::StatusOr<std::string> Status() = 0;
  // The events posted since the last call, oldest first (each one event document).
  virtual absl::StatusOr<std::vector<std::string>> Events() = 0;
};

}  // namespace arraykit::node

#endif  // ARRAYKIT_NODE_OPERATIONS_H_
