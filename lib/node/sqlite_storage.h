// The node's durable storage: lib/store's SQLite Store behind node::Storage (DESIGN.md §7
// "Durability"). The default storage of a node.
#ifndef ARRAYKIT_NODE_SQLITE_STORAGE_H_
#define ARRAYKIT_NODE_SQLITE_STORAGE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "node/storage.h"

namespace arraykit::node {

// Opens (creating when absent) the SQLite store of `data_dir`; the store's refusals pass through
// (`busy` while another process or node has it open, `unprotected_file`, `schema_too_new`,
// `corrupt_state`).
absl::StatusOr<std::unique_ptr<Storage>> OpenSqliteStorage(const std::string& data_dir);

}  // namespace arraykit::node

#endif  // ARRAYKIT_NODE_SQLITE_STORAGE_H_
