// Resource files on disk (DESIGN.md §7 rule 5; docs/resources.md): the I/O around the pure
// rules of core/resources — scanning the resource directory into a manifest, writing a file
// atomically, removing one — and ResourceSync, which synchronizes a member's resource directory
// through the public node::Node API:
//   - on the writable primary, the directory is the truth: new and changed files are put in the
//     repository's `resource_files` category (key: the relative path, value: {"sha256", "size",
//     "content_b64"}), files gone from the directory are deleted from it;
//   - on a secondary, the repository is the truth: files are written or removed so the
//     directory matches what this member applied, and every local change this undoes is
//     reported (in the result and as a "resource_overwritten" event).
// The daily timer is the host's (core/resources NextSyncAt gives the instant); SyncNow runs one
// synchronization. Only while the member runs, so only while the servers run.
#ifndef ARRAYKIT_NODE_RESOURCE_FILES_H_
#define ARRAYKIT_NODE_RESOURCE_FILES_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/resources/resources.h"
#include "node/node.h"

namespace arraykit::node {

// What a scan found: the files that are synchronized, and those that are not, with why
// (`file_too_large`, `invalid_path`, `reserved_name`, `path_too_long`, `unsupported_file` for
// anything but a regular file or a directory — symlinks included, so nothing outside the
// directory is ever read or written through one).
struct ScannedDirectory {
  resources::Manifest manifest;
  std::vector<resources::Refusal> refused;
};

// Scans `root` recursively (a missing directory is empty). Leftover temporary files of an
// interrupted write (kReservedPrefix) are removed. NOT_FOUND-free; I/O errors are INTERNAL
// `io_error` naming the path; more than kMaxFiles files or kMaxTotalBytes bytes are refused as
// ValidateManifest says.
absl::StatusOr<ScannedDirectory> ScanResourceDirectory(const std::string& root);

// The content of `root`/`path` (path checked by ValidatePath first).
absl::StatusOr<std::string> ReadResourceFile(const std::string& root, std::string_view path);

// Writes `content` to `root`/`path` atomically: a temporary file in the same directory,
// fsync, rename over the target, fsync of the directory. Parent directories are created
// (0755). `mode`: 0644 for resource files (the application servers read them), 0600 for the
// synchronizer's own state.
absl::Status WriteFileAtomically(const std::string& root, std::string_view path,
                                 std::string_view content, mode_t mode = 0644);

// Removes `root`/`path` (absent is fine), fsyncs its directory, and removes the directories
// this left empty (never `root` itself).
absl::Status RemoveResourceFile(const std::string& root, std::string_view path);

struct ResourceSyncOptions {
  std::string directory;   // the resource directory (created 0755 when absent)
  // Where a secondary keeps the manifest its last sync left (0600; written atomically), so it
  // can tell its own local changes from the primary's. Required.
  std::string state_file;
  // "resource_overwritten" events, {"event", "member", "reason", "epoch", "at", "path",
  // "change"} (the node's event words); called on the SyncNow caller's thread.
  std::function<void(const std::string&)> on_event;
};

// What one synchronization did.
struct ResourceSyncReport {
  std::string role;  // "primary" or "secondary"
  std::vector<std::string> put;      // primary: files replicated (new or changed)
  std::vector<std::string> deleted;  // primary: files deleted from the repository
  std::vector<std::string> written;  // secondary: files written from the repository
  std::vector<std::string> removed;  // secondary: files removed (gone from the repository)
  std::vector<resources::Overwritten> overwritten;  // secondary: local changes undone
  std::vector<resources::Refusal> refused;          // files or entries left alone, with why
  std::size_t unchanged = 0;
  // {"role", "put", "deleted", "written", "removed", "overwritten": [{"path", "change"}],
  //  "refused": [{"path", "reason", "message"}], "unchanged"}
  std::string ToJson() const;
};

class ResourceSync {
 public:
  // `node` must outlive the ResourceSync. The directory is created when absent.
  static absl::StatusOr<std::unique_ptr<ResourceSync>> Create(Node& node,
                                                              ResourceSyncOptions options);

  // One synchronization, as the member's role says (status "role"/"writable"). A primary that
  // is not writable is refused (FAILED_PRECONDITION `not_writable`: it must not publish its
  // directory, nor take the repository's). The node's refusals pass through (a primary that
  // lost its role mid-sync: `not_primary`). One sync at a time per ResourceSync.
  absl::StatusOr<ResourceSyncReport> SyncNow();

 private:
  ResourceSync(Node& node, ResourceSyncOptions options);
  absl::StatusOr<ResourceSyncReport> SyncPrimary();
  absl::StatusOr<ResourceSyncReport> SyncSecondary(std::uint64_t epoch);

  Node& node_;
  ResourceSyncOptions options_;
  std::mutex mu_;
};

}  // namespace arraykit::node

#endif  // ARRAYKIT_NODE_RESOURCE_FILES_H_
