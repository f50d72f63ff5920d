#include "node/resource_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/model/json_reader.h"
#include "core/status.h"
#include "nlohmann/json.hpp"

namespace arraykit::node {
namespace {

namespace fs = std::filesystem;
namespace ji = model::json_internal;
using nlohmann::json;

constexpr std::string_view kTempPrefix = ".arraykit-tmp-";

absl::Status IoError(std::string_view what, const fs::path& path, int error) {
  return MakeError(absl::StatusCode::kInternal, "io_error",
                   absl::StrCat(std::string(what), " ", path.string(), ": ",
                                std::strerror(error)));
}

absl::Status FsyncPath(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open the directory", path, errno);
  int rc = ::fsync(fd);
  int error = errno;
  ::close(fd);
  if (rc != 0) return IoError("cannot fsync the directory", path, error);
  return absl::OkStatus();
}

// Refuses a path whose existing components below `root` are anything but real directories
// (a symlink planted in the resource directory must not redirect a write or a removal).
absl::Status CheckParents(const fs::path& root, std::string_view path) {
  fs::path at = root;
  fs::path relative(path);
  fs::path parent = relative.parent_path();
  for (const fs::path& component : parent) {
    at /= component;
    struct stat st;
    if (::lstat(at.c_str(), &st) != 0) {
      if (errno == ENOENT) return absl::OkStatus();  // created below as a directory
      return IoError("cannot stat", at, errno);
    }
    if (!S_ISDIR(st.st_mode)) {
      return MakeError(absl::StatusCode::kFailedPrecondition, "unsupported_file",
                       absl::StrCat("resource file \"", ji::Printable(path), "\": ", at.string(),
                                    " is not a directory (symlinks are not followed)"));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteAtomic(const fs::path& target, std::string_view content, mode_t mode) {
  static std::atomic<std::uint64_t> counter{0};
  const fs::path dir = target.parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create the directory", dir, ec.value());
  const fs::path temp =
      dir / absl::StrCat(std::string(kTempPrefix), ::getpid(), "-", counter.fetch_add(1));
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return IoError("cannot create", temp, errno);
  auto fail = [&](std::string_view what, int error) {
    ::close(fd);
    ::unlink(temp.c_str());
    return IoError(what, temp, error);
  };
  if (::fchmod(fd, mode) != 0) return fail("cannot set the mode of", errno);  // past the umask
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write", errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot fsync", errno);
  if (::close(fd) != 0) {
    int error = errno;
    ::unlink(temp.c_str());
    return IoError("cannot close", temp, error);
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    int error = errno;
    ::unlink(temp.c_str());
    return IoError("cannot rename over", target, error);
  }
  return FsyncPath(dir);
}

absl::StatusOr<std::string> ReadWhole(const fs::path& file, std::uint64_t limit) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) {
      return MakeError(absl::StatusCode::kNotFound, "not_found",
                       absl::StrCat(file.string(), ": no such file"));
    }
    return IoError("cannot open", file, errno);
  }
  std::string out;
  char buffer[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      ::close(fd);
      return IoError("cannot read", file, error);
    }
    if (n == 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
    if (out.size() > limit) break;  // grew past the limit while being read: the caller refuses
  }
  ::close(fd);
  return out;
}

resources::Refusal RefusalOf(std::string path, const absl::Status& status) {
  return resources::Refusal{std::move(path), ReasonOf(status), std::string(status.message())};
}

std::string EventJson(const std::string& member, std::uint64_t epoch,
                      const resources::Overwritten& o) {
  return json{{"event", "resource_overwritten"},
              {"member", member},
              {"reason", absl::StrCat("resource file ", o.path, ": a local change (",
                                      std::string(resources::ToString(o.change)), ") ",
                                      o.repository ? "overwritten with the array's copy"
                                                   : "removed: the array has no such file")},
              {"epoch", epoch},
              {"at", ji::FormatRfc3339(absl::Now())},
              {"path", o.path},
              {"change", resources::ToString(o.change)}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

absl::StatusOr<ScannedDirectory> ScanResourceDirectory(const std::string& root) {
  ScannedDirectory scanned;
  std::error_code ec;
  if (!fs::exists(root, ec)) return scanned;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) return IoError("cannot read the directory", root, ec.value());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return IoError("cannot read the directory", it->path(), ec.value());
    const fs::path& full = it->path();
    const std::string relative = full.lexically_relative(root).generic_string();
    const std::string name = full.filename().string();
    const fs::file_status status = it->symlink_status(ec);
    if (ec) return IoError("cannot stat", full, ec.value());
    if (fs::is_directory(status)) continue;
    if (fs::is_regular_file(status) && name.rfind(kTempPrefix, 0) == 0) {
      fs::remove(full, ec);  // left by a write that was interrupted
      continue;
    }
    if (!fs::is_regular_file(status)) {
      scanned.refused.push_back(resources::Refusal{
          relative, "unsupported_file",
          absl::StrCat("resource file \"", ji::Printable(relative),
                       "\": not a regular file (symlinks, devices and sockets are not "
                       "synchronized)")});
      continue;
    }
    const std::uint64_t size = it->file_size(ec);
    if (ec) return IoError("cannot stat", full, ec.value());
    if (absl::Status s = resources::ValidateFile(relative, size); !s.ok()) {
      scanned.refused.push_back(RefusalOf(relative, s));
      continue;
    }
    auto content = ReadWhole(full, resources::kMaxFileBytes);
    if (!content.ok()) {
      if (content.status().code() == absl::StatusCode::kNotFound) continue;  // removed meanwhile
      return content.status();
    }
    if (absl::Status s = resources::ValidateFile(relative, content->size()); !s.ok()) {
      scanned.refused.push_back(RefusalOf(relative, s));
      continue;
    }
    scanned.manifest[relative] = resources::InfoOf(*content);
  }
  if (absl::Status s = resources::ValidateManifest(scanned.manifest); !s.ok()) return s;
  return scanned;
}

absl::StatusOr<std::string> ReadResourceFile(const std::string& root, std::string_view path) {
  if (absl::Status s = resources::ValidatePath(path); !s.ok()) return s;
  if (absl::Status s = CheckParents(root, path); !s.ok()) return s;
  auto content = ReadWhole(fs::path(root) / fs::path(path), resources::kMaxFileBytes);
  if (!content.ok()) return content.status();
  if (absl::Status s = resources::ValidateFile(path, content->size()); !s.ok()) return s;
  return content;
}

absl::Status WriteFileAtomically(const std::string& root, std::string_view path,
                                 std::string_view content, mode_t mode) {
  if (absl::Status s = resources::ValidateFile(path, content.size()); !s.ok()) return s;
  if (absl::Status s = CheckParents(root, path); !s.ok()) return s;
  return WriteAtomic(fs::path(root) / fs::path(path), content, mode);
}

absl::Status RemoveResourceFile(const std::string& root, std::string_view path) {
  if (absl::Status s = resources::ValidatePath(path); !s.ok()) return s;
  if (absl::Status s = CheckParents(root, path); !s.ok()) return s;
  const fs::path base(root);
  fs::path target = base / fs::path(path);
  if (::unlink(target.c_str()) != 0 && errno != ENOENT) {
    return IoError("cannot remove", target, errno);
  }
  fs::path dir = target.parent_path();
  if (::access(dir.c_str(), F_OK) != 0) return absl::OkStatus();
  if (absl::Status s = FsyncPath(dir); !s.ok()) return s;
  // Directories the removal left empty go too (rmdir refuses a directory that is not empty).
  while (dir != base && dir.lexically_relative(base).native() != "." &&
         ::rmdir(dir.c_str()) == 0) {
    dir = dir.parent_path();
  }
  return absl::OkStatus();
}

std::string ResourceSyncReport::ToJson() const {
  json overwritten_json = json::array();
  for (const auto& o : overwritten) {
    overwritten_json.push_back(json{{"path", o.path}, {"change", resources::ToString(o.change)}});
  }
  json refused_json = json::array();
  for (const auto& r : refused) {
    refused_json.push_back(json{{"path", r.path}, {"reason", r.reason}, {"message", r.message}});
  }
  return json{{"role", role},
              {"put", put},
              {"deleted", deleted},
              {"written", written},
              {"removed", removed},
              {"overwritten", std::move(overwritten_json)},
              {"refused", std::move(refused_json)},
              {"unchanged", unchanged}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

ResourceSync::ResourceSync(Node& node, ResourceSyncOptions options)
    : node_(node), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ResourceSync>> ResourceSync::Create(Node& node,
                                                                   ResourceSyncOptions options) {
  if (options.directory.empty()) {
    return absl::InvalidArgumentError("resources.directory: required");
  }
  if (options.state_file.empty()) {
    return absl::InvalidArgumentError("resources.state_file: required");
  }
  std::error_code ec;
  fs::create_directories(options.directory, ec);
  if (ec) return IoError("cannot create the resource directory", options.directory, ec.value());
  if (!fs::is_directory(options.directory, ec)) {
    return MakeError(absl::StatusCode::kInvalidArgument, "unsupported_file",
                     absl::StrCat("resources.directory: ", options.directory,
                                  " is not a directory"));
  }
  return std::unique_ptr<ResourceSync>(new ResourceSync(node, std::move(options)));
}

absl::StatusOr<ResourceSyncReport> ResourceSync::SyncNow() {
  std::lock_guard lock(mu_);
  auto status_text = node_.Status();
  if (!status_text.ok()) return status_text.status();
  const json status = json::parse(*status_text);
  const std::uint64_t epoch = status.value("epoch", std::uint64_t{0});
  if (status.value("role", "") == "primary") {
    if (!status.value("writable", false)) {
      return MakeError(absl::StatusCode::kFailedPrecondition, "not_writable",
                       absl::StrCat(node_.name(),
                                    " is a primary that is not writable: its resource files are "
                                    "neither published nor replaced"));
    }
    return SyncPrimary();
  }
  return SyncSecondary(epoch);
}

absl::StatusOr<ResourceSyncReport> ResourceSync::SyncPrimary() {
  ResourceSyncReport report;
  report.role = "primary";
  auto scanned = ScanResourceDirectory(options_.directory);
  if (!scanned.ok()) return scanned.status();
  auto listing_text = node_.List(resources::kCategory);
  if (!listing_text.ok()) return listing_text.status();
  auto listing = resources::ListingFromJson(*listing_text);
  if (!listing.ok()) return listing.status();

  resources::Manifest repository = listing->manifest;
  std::vector<std::string> junk;  // entries no member could ever write: deleted
  for (const auto& r : listing->refused) {
    if (resources::ValidatePath(r.path).ok()) {
      repository[r.path] = resources::FileInfo{};  // damaged: replaced, or deleted if gone here
    } else {
      junk.push_back(r.path);
    }
  }
  std::set<std::string> untouchable;
  for (const auto& r : scanned->refused) untouchable.insert(r.path);
  report.refused = scanned->refused;
  const resources::PrimaryPlan plan = resources::PlanPrimary(scanned->manifest, repository,
                                                             untouchable);
  for (const std::string& path : plan.put) {
    auto content = ReadResourceFile(options_.directory, path);
    if (!content.ok()) {  // changed or gone since the scan: the next sync sees it
      report.refused.push_back(RefusalOf(path, content.status()));
      continue;
    }
    auto put = node_.Put(resources::kCategory, path, resources::EncodeValue(*content));
    if (!put.ok()) return put.status();
    report.put.push_back(path);
  }
  std::vector<std::string> remove = plan.remove;
  remove.insert(remove.end(), junk.begin(), junk.end());
  for (const std::string& path : remove) {
    auto deleted = node_.Delete(resources::kCategory, path);
    if (!deleted.ok()) return deleted.status();
    report.deleted.push_back(path);
  }
  report.unchanged = plan.unchanged;
  return report;
}

absl::StatusOr<ResourceSyncReport> ResourceSync::SyncSecondary(std::uint64_t epoch) {
  ResourceSyncReport report;
  report.role = "secondary";
  auto listing_text = node_.List(resources::kCategory);
  if (!listing_text.ok()) return listing_text.status();
  auto listing = resources::ListingFromJson(*listing_text);
  if (!listing.ok()) return listing.status();
  auto scanned = ScanResourceDirectory(options_.directory);
  if (!scanned.ok()) return scanned.status();

  std::optional<resources::Manifest> last;
  auto state = ReadWhole(options_.state_file, resources::kMaxFiles * 1024);
  if (state.ok()) {
    auto manifest = resources::ManifestFromJson(*state);
    if (manifest.ok()) last = *std::move(manifest);  // a damaged state counts as a first sync
  } else if (state.status().code() != absl::StatusCode::kNotFound) {
    return state.status();
  }

  // Entries this member cannot take (damaged, bad paths) leave the local file alone.
  resources::Manifest local = scanned->manifest;
  for (const auto& r : listing->refused) {
    local.erase(r.path);
    if (last) last->erase(r.path);
    report.refused.push_back(r);
  }
  for (const auto& r : scanned->refused) report.refused.push_back(r);
  const resources::SecondaryPlan plan = resources::PlanSecondary(listing->manifest, local, last);
  for (const std::string& path : plan.write) {
    if (absl::Status s = WriteFileAtomically(options_.directory, path, listing->contents.at(path));
        !s.ok()) {
      return s;
    }
    report.written.push_back(path);
  }
  for (const std::string& path : plan.remove) {
    if (absl::Status s = RemoveResourceFile(options_.directory, path); !s.ok()) return s;
    report.removed.push_back(path);
  }
  if (absl::Status s = WriteAtomic(options_.state_file,
                                   resources::ManifestToJson(listing->manifest), 0600);
      !s.ok()) {
    return s;
  }
  report.overwritten = plan.overwritten;
  report.unchanged = plan.unchanged;
  if (options_.on_event) {
    for (const auto& o : report.overwritten) options_.on_event(EventJson(node_.name(), epoch, o));
  }
  return report;
}

}  // namespace arraykit::node
