// Resource files (DESIGN.md §7 rule 5; the seed's "resource files, such as application server
// login scripts"): the files of one directory, synchronized once a day at each server's
// configured time, only while the servers run, by content hash. Only changed files move,
// deletions propagate, and a local change on a secondary is overwritten and reported.
//
// This is the pure part (no files, no clocks): the manifest of a directory, the rules a path
// and a file must follow, the repository value that carries a file, the primary's and the
// secondary's plans, and the daily schedule. lib/node/resource_files.h does the I/O on top.
// docs/resources.md describes the whole.
#ifndef ARRAYKIT_CORE_RESOURCES_RESOURCES_H_
#define ARRAYKIT_CORE_RESOURCES_RESOURCES_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/replication/types.h"

namespace arraykit::resources {

// The repository category that carries resource files (key: the relative path).
inline constexpr const char* kCategory = "resource_files";

// Limits (refused with a reason, never truncated).
inline constexpr std::size_t kMaxPathBytes = 512;
inline constexpr std::size_t kMaxPathComponents = 32;
inline constexpr std::size_t kMaxFiles = 4096;
// A file travels in one repository value, as base64 inside a small JSON object: the largest
// file is what fits replication::kMaxValueBytes with room for the object's other fields.
inline constexpr std::size_t kValueOverheadBytes = 1024;
inline constexpr std::size_t kMaxFileBytes =
    (replication::kMaxValueBytes - kValueOverheadBytes) / 4 * 3;
inline constexpr std::uint64_t kMaxTotalBytes = 64ull << 20;
// Files whose name starts with this are the synchronizer's own (temporary files of an atomic
// write): never synchronized, and refused as resource names.
inline constexpr std::string_view kReservedPrefix = ".arraykit-";

// What the manifest knows of one file.
struct FileInfo {
  std::string sha256;  // 64 lowercase hex digits of the content's SHA-256
  std::uint64_t size = 0;
  bool operator==(const FileInfo&) const = default;
};

// Relative path ("scripts/login.sh", '/' separated) -> content hash and size.
using Manifest = std::map<std::string, FileInfo>;

// The SHA-256 of `content`, 64 lowercase hex digits.
std::string Sha256Hex(std::string_view content);
FileInfo InfoOf(std::string_view content);

// A path relative to the resource directory: non-empty, '/'-separated components, not
// absolute (`absolute_path`), no ".." (`parent_reference`), no "." or empty component, no
// backslash, no control character, valid UTF-8 (`invalid_path`), no component starting with
// kReservedPrefix (`reserved_name`), at most kMaxPathBytes bytes and kMaxPathComponents
// components (`path_too_long`). All INVALID_ARGUMENT, the message naming the path.
absl::Status ValidatePath(std::string_view path);
// ValidatePath, and a size of at most kMaxFileBytes (`file_too_large`, INVALID_ARGUMENT).
absl::Status ValidateFile(std::string_view path, std::uint64_t size);
// A whole manifest: every path and size valid, at most kMaxFiles files (`too_many_files`) and
// kMaxTotalBytes bytes (`too_large`), RESOURCE_EXHAUSTED for the two limits.
absl::Status ValidateManifest(const Manifest& manifest);

// The repository value of a file: {"sha256": ..., "size": ..., "content_b64": ...} (compact).
std::string EncodeValue(std::string_view content);

// A file read back from a repository value.
struct FileValue {
  FileInfo info;
  std::string content;
};
// Strict: exactly the three fields (`unknown_field`), sha256 64 lowercase hex digits, size an
// integer within [0, kMaxFileBytes], content_b64 valid base64 whose bytes have that size and
// that hash (`corrupt_entry` when they do not). INVALID_ARGUMENT naming `path`.
absl::StatusOr<FileValue> DecodeValue(std::string_view path, std::string_view value_json);
// The manifest half of DecodeValue for a listing: {path: value, ...} as the node's
// List(kCategory) returns it. Entries that fail DecodeValue are returned in `refused`.
struct Refusal {
  std::string path;
  std::string reason;   // reason word
  std::string message;  // why, naming the path
  bool operator==(const Refusal&) const = default;
};
struct Listing {
  Manifest manifest;
  std::map<std::string, std::string> contents;  // path -> bytes, for every manifest path
  std::vector<Refusal> refused;
};
absl::StatusOr<Listing> ListingFromJson(std::string_view listing_json);

// The primary: what to replicate so the repository matches its directory. Paths in
// `untouchable` (files the scan refused: too large, bad name) are left as the repository has
// them — neither put nor deleted.
struct PrimaryPlan {
  std::vector<std::string> put;     // new or changed files, path order
  std::vector<std::string> remove;  // in the repository, gone from the directory
  std::size_t unchanged = 0;
  bool empty() const { return put.empty() && remove.empty(); }
};
PrimaryPlan PlanPrimary(const Manifest& local, const Manifest& repository,
                        const std::set<std::string>& untouchable = {});

// A local change on a secondary that a sync overwrites (reported to the operator).
enum class LocalChange {
  kModified,  // the file's content differs from what the last sync left
  kAdded,     // a file the last sync did not leave (and the repository does not have)
  kDeleted,   // a file the last sync left is gone
};
std::string_view ToString(LocalChange change);

struct Overwritten {
  std::string path;
  LocalChange change = LocalChange::kModified;
  std::optional<FileInfo> local;       // what the secondary had (none when deleted)
  std::optional<FileInfo> repository;  // what it has now (none when the file is removed)
  bool operator==(const Overwritten&) const = default;
};

// The secondary: what to write and delete so its directory matches the repository, and which
// of those undo a local change. `last_synced` is the manifest the previous sync left (nullopt
// on the first sync: then any file that differs from the repository or that the repository
// does not have counts as a local change, a missing one does not).
struct SecondaryPlan {
  std::vector<std::string> write;   // missing or different here, path order
  std::vector<std::string> remove;  // here, not in the repository
  std::vector<Overwritten> overwritten;
  std::size_t unchanged = 0;
  bool empty() const { return write.empty() && remove.empty(); }
};
SecondaryPlan PlanSecondary(const Manifest& repository, const Manifest& local,
                            const std::optional<Manifest>& last_synced);

// Manifests as JSON (the secondary keeps its last synced manifest in a file):
// {"files": {"path": {"sha256": ..., "size": ...}, ...}}; strict, validated as ValidateManifest.
std::string ManifestToJson(const Manifest& manifest);
absl::StatusOr<Manifest> ManifestFromJson(std::string_view text);

// The daily schedule: a local time of day "HH:MM" (00:00-23:59).
struct DailyTime {
  int hour = 0;
  int minute = 0;
  bool operator==(const DailyTime&) const = default;
};
// INVALID_ARGUMENT `invalid_time` naming `path` unless exactly "HH:MM" within range.
absl::StatusOr<DailyTime> ParseDailyTime(std::string_view text, std::string_view path);
std::string FormatDailyTime(DailyTime time);
// The first instant strictly after `now` at which the wall clock of `zone` shows `at` (a day
// whose `at` does not exist — a daylight-saving gap — syncs at the first instant after the
// gap; a day where it happens twice syncs at the first). A sync missed while the server was
// down is not caught up: the next one is the next day's.
absl::Time NextSyncAt(absl::Time now, DailyTime at, absl::TimeZone zone);

}  // namespace arraykit::resources

#endif  // ARRAYKIT_CORE_RESOURCES_RESOURCES_H_
