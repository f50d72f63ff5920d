#include "core/resources/resources.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "core/model/array_json.h"
#include "core/model/json_reader.h"
#include "core/status.h"
#include "nlohmann/json.hpp"

namespace arraykit::resources {
namespace {

using nlohmann::json;
namespace ji = model::json_internal;

absl::Status PathError(std::string_view reason, std::string_view path, std::string_view rule) {
  return MakeError(absl::StatusCode::kInvalidArgument, ji::AbslView(reason),
                   absl::StrCat("resource file \"", ji::Printable(path.substr(0, 120)),
                                path.size() > 120 ? "..." : "", "\": ", std::string(rule)));
}

bool IsLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A listing or a manifest holds at most kMaxFiles files of kMaxFileBytes each as base64.
constexpr std::size_t kMaxListingBytes =
    kMaxFiles * (replication::kMaxValueBytes + kMaxPathBytes + 16);

// {"sha256": ..., "size": ...} fields of an object (other fields are the caller's business).
absl::StatusOr<FileInfo> ReadInfo(const json& value, std::string_view path) {
  for (const char* field : {"sha256", "size"}) {
    if (ji::Find(value, field) == nullptr) {
      return ji::FieldError(ji::FieldPath(path, field), "required");
    }
  }
  auto sha = ji::ReadString(value.at("sha256"), ji::FieldPath(path, "sha256"), 64, false);
  if (!sha.ok()) return sha.status();
  if (sha->size() != 64 || !IsLowerHex(*sha)) {
    return ji::FieldError(ji::FieldPath(path, "sha256"), "64 lowercase hex digits");
  }
  auto size = ji::ReadInteger(value.at("size"), ji::FieldPath(path, "size"), 0,
                              static_cast<std::int64_t>(kMaxFileBytes));
  if (!size.ok()) return size.status();
  return FileInfo{*std::move(sha), static_cast<std::uint64_t>(*size)};
}

std::string Quote(std::string_view path) { return ji::Printable(path); }

}  // namespace

std::string Sha256Hex(std::string_view content) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(content.data()), content.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof digest);
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

FileInfo InfoOf(std::string_view content) { return FileInfo{Sha256Hex(content), content.size()}; }

absl::Status ValidatePath(std::string_view path) {
  if (path.empty()) return PathError("invalid_path", path, "the path is empty");
  if (path.size() > kMaxPathBytes) {
    return PathError("path_too_long", path,
                     absl::StrCat("longer than ", kMaxPathBytes, " bytes (", path.size(), ")"));
  }
  if (path.front() == '/') {
    return PathError("absolute_path", path, "must be relative to the resource directory");
  }
  if (!ji::IsValidUtf8(path)) return PathError("invalid_path", path, "not valid UTF-8");
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return PathError("invalid_path", path, "holds a control character");
    }
    if (c == '\\') return PathError("invalid_path", path, "holds a backslash ('/' separates)");
  }
  std::vector<absl::string_view> components = absl::StrSplit(ji::AbslView(path), '/');
  if (components.size() > kMaxPathComponents) {
    return PathError("path_too_long", path,
                     absl::StrCat("more than ", kMaxPathComponents, " components"));
  }
  for (absl::string_view component : components) {
    if (component == "..") {
      return PathError("parent_reference", path, "\"..\" would leave the resource directory");
    }
    if (component.empty() || component == ".") {
      return PathError("invalid_path", path, "has an empty or \".\" component");
    }
    if (absl::StartsWith(component, ji::AbslView(kReservedPrefix))) {
      return PathError("reserved_name", path,
                       absl::StrCat("names starting with \"", std::string(kReservedPrefix),
                                    "\" are the synchronizer's own"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateFile(std::string_view path, std::uint64_t size) {
  if (absl::Status s = ValidatePath(path); !s.ok()) return s;
  if (size > kMaxFileBytes) {
    return PathError("file_too_large", path,
                     absl::StrCat(size, " bytes; a resource file travels in one repository "
                                        "value and may have at most ",
                                  kMaxFileBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status ValidateManifest(const Manifest& manifest) {
  if (manifest.size() > kMaxFiles) {
    return MakeError(absl::StatusCode::kResourceExhausted, "too_many_files",
                     absl::StrCat("resource files: ", manifest.size(), " files; at most ",
                                  kMaxFiles, " are synchronized"));
  }
  std::uint64_t total = 0;
  for (const auto& [path, info] : manifest) {
    if (absl::Status s = ValidateFile(path, info.size); !s.ok()) return s;
    if (info.sha256.size() != 64 || !IsLowerHex(info.sha256)) {
      return PathError("invalid_argument", path, "sha256: 64 lowercase hex digits");
    }
    total += info.size;
  }
  if (total > kMaxTotalBytes) {
    return MakeError(absl::StatusCode::kResourceExhausted, "too_large",
                     absl::StrCat("resource files: ", total, " bytes in all; at most ",
                                  kMaxTotalBytes, " are synchronized"));
  }
  return absl::OkStatus();
}

std::string EncodeValue(std::string_view content) {
  const FileInfo info = InfoOf(content);
  return json{{"sha256", info.sha256},
              {"size", info.size},
              {"content_b64", absl::Base64Escape(ji::AbslView(content))}}
      .dump();
}

absl::StatusOr<FileValue> DecodeValue(std::string_view path, std::string_view value_json) {
  if (absl::Status s = ValidatePath(path); !s.ok()) return s;
  const std::string where = absl::StrCat("resource_files[\"", Quote(path), "\"]");
  auto doc = model::ParseJsonDocument(
      value_json, where, {.max_bytes = replication::kMaxValueBytes, .max_depth = 4});
  if (!doc.ok()) return doc.status();
  if (absl::Status s = ji::ExpectObjectWith(*doc, where, {"sha256", "size", "content_b64"});
      !s.ok()) {
    return s;
  }
  auto info = ReadInfo(*doc, where);
  if (!info.ok()) return info.status();
  if (ji::Find(*doc, "content_b64") == nullptr) {
    return ji::FieldError(ji::FieldPath(where, "content_b64"), "required");
  }
  const json& b64 = doc->at("content_b64");
  if (!b64.is_string()) {
    return ji::FieldError(ji::FieldPath(where, "content_b64"),
                          absl::StrCat("a base64 string, got ", ji::Describe(b64)));
  }
  const std::string& encoded = b64.get_ref<const std::string&>();
  FileValue value;
  value.info = *std::move(info);
  // Canonical base64 only (what EncodeValue writes): one encoding per content.
  if (!absl::Base64Unescape(encoded, &value.content) ||
      absl::Base64Escape(value.content) != encoded) {
    return PathError("corrupt_entry", path, "content_b64 is not canonical base64");
  }
  if (value.content.size() != value.info.size) {
    return PathError("corrupt_entry", path,
                     absl::StrCat("the content has ", value.content.size(),
                                  " bytes, the entry says ", value.info.size));
  }
  if (Sha256Hex(value.content) != value.info.sha256) {
    return PathError("corrupt_entry", path, "the content does not have the entry's sha256");
  }
  return value;
}

absl::StatusOr<Listing> ListingFromJson(std::string_view listing_json) {
  auto doc = model::ParseJsonDocument(listing_json, "resource_files listing",
                                      {.max_bytes = kMaxListingBytes, .max_depth = 8});
  if (!doc.ok()) return doc.status();
  if (absl::Status s = ji::ExpectObject(*doc, "resource_files"); !s.ok()) return s;
  if (doc->size() > kMaxFiles) {
    return MakeError(absl::StatusCode::kResourceExhausted, "too_many_files",
                     absl::StrCat("resource files: the repository holds ", doc->size(),
                                  " files; at most ", kMaxFiles, " are synchronized"));
  }
  Listing listing;
  for (const auto& [path, value] : doc->items()) {
    auto file = DecodeValue(path, value.dump(-1, ' ', false, json::error_handler_t::replace));
    if (!file.ok()) {
      listing.refused.push_back(
          Refusal{path, ReasonOf(file.status()), std::string(file.status().message())});
      continue;
    }
    listing.manifest[path] = file->info;
    listing.contents[path] = std::move(file->content);
  }
  return listing;
}

PrimaryPlan PlanPrimary(const Manifest& local, const Manifest& repository,
                        const std::set<std::string>& untouchable) {
  PrimaryPlan plan;
  for (const auto& [path, info] : local) {
    if (untouchable.count(path) != 0) continue;
    auto it = repository.find(path);
    if (it != repository.end() && it->second == info) {
      ++plan.unchanged;
    } else {
      plan.put.push_back(path);
    }
  }
  for (const auto& [path, info] : repository) {
    if (local.count(path) == 0 && untouchable.count(path) == 0) plan.remove.push_back(path);
  }
  return plan;
}

std::string_view ToString(LocalChange change) {
  switch (change) {
    case LocalChange::kModified:
      return "modified";
    case LocalChange::kAdded:
      return "added";
    case LocalChange::kDeleted:
      return "deleted";
  }
  return "modified";
}

SecondaryPlan PlanSecondary(const Manifest& repository, const Manifest& local,
                            const std::optional<Manifest>& last_synced) {
  SecondaryPlan plan;
  auto find = [](const Manifest& m, const std::string& path) -> std::optional<FileInfo> {
    auto it = m.find(path);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
  // Did the secondary change `path` itself since the last sync?
  auto changed_here = [&](const std::string& path, const std::optional<FileInfo>& here) {
    if (!last_synced) return here.has_value();  // first sync: only files that are here
    return find(*last_synced, path) != here;
  };
  auto note = [&](const std::string& path, const std::optional<FileInfo>& here,
                  const std::optional<FileInfo>& wanted) {
    if (!changed_here(path, here)) return;
    LocalChange change = !here                                      ? LocalChange::kDeleted
                         : last_synced && !find(*last_synced, path) ? LocalChange::kAdded
                         : !last_synced && !wanted                  ? LocalChange::kAdded
                                                                    : LocalChange::kModified;
    plan.overwritten.push_back(Overwritten{path, change, here, wanted});
  };
  std::set<std::string> paths;
  for (const auto& [path, info] : repository) paths.insert(path);
  for (const auto& [path, info] : local) paths.insert(path);
  for (const std::string& path : paths) {
    const std::optional<FileInfo> wanted = find(repository, path);
    const std::optional<FileInfo> here = find(local, path);
    if (wanted == here) {
      ++plan.unchanged;
      continue;
    }
    if (wanted) {
      plan.write.push_back(path);
    } else {
      plan.remove.push_back(path);
    }
    note(path, here, wanted);
  }
  return plan;
}

std::string ManifestToJson(const Manifest& manifest) {
  json files = json::object();
  for (const auto& [path, info] : manifest) {
    files[path] = json{{"sha256", info.sha256}, {"size", info.size}};
  }
  return json{{"files", std::move(files)}}.dump();
}

absl::StatusOr<Manifest> ManifestFromJson(std::string_view text) {
  auto doc = model::ParseJsonDocument(text, "resource manifest",
                                      {.max_bytes = kMaxFiles * (kMaxPathBytes + 128) + 64,
                                       .max_depth = 8});
  if (!doc.ok()) return doc.status();
  if (absl::Status s = ji::ExpectObjectWith(*doc, "manifest", {"files"}); !s.ok()) return s;
  const json* files = ji::Find(*doc, "files");
  if (files == nullptr) return ji::FieldError("manifest.files", "required");
  if (absl::Status s = ji::ExpectObject(*files, "manifest.files"); !s.ok()) return s;
  Manifest manifest;
  for (const auto& [path, value] : files->items()) {
    const std::string where = absl::StrCat("manifest.files[\"", Quote(path), "\"]");
    if (absl::Status s = ji::ExpectObjectWith(value, where, {"sha256", "size"}); !s.ok()) {
      return s;
    }
    auto info = ReadInfo(value, where);
    if (!info.ok()) return info.status();
    manifest[path] = *std::move(info);
  }
  if (absl::Status s = ValidateManifest(manifest); !s.ok()) return s;
  return manifest;
}

absl::StatusOr<DailyTime> ParseDailyTime(std::string_view text, std::string_view path) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  auto refuse = [&] {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_time",
                     absl::StrCat(std::string(path), ": a local time of day \"HH:MM\" (00:00 to "
                                                     "23:59), got \"",
                                  ji::Printable(text.substr(0, 32)), "\""));
  };
  if (text.size() != 5 || !digit(text[0]) || !digit(text[1]) || text[2] != ':' ||
      !digit(text[3]) || !digit(text[4])) {
    return refuse();
  }
  DailyTime t{(text[0] - '0') * 10 + (text[1] - '0'), (text[3] - '0') * 10 + (text[4] - '0')};
  if (t.hour > 23 || t.minute > 59) return refuse();
  return t;
}

std::string FormatDailyTime(DailyTime time) {
  char text[8];
  std::snprintf(text, sizeof text, "%02d:%02d", time.hour % 100, time.minute % 100);
  return text;
}

absl::Time NextSyncAt(absl::Time now, DailyTime at, absl::TimeZone zone) {
  absl::CivilDay day(zone.At(now).cs);
  // Today's, else tomorrow's; a third day covers a zone whose day skips the time altogether.
  for (int i = 0; i < 3; ++i, ++day) {
    const absl::CivilSecond when(day.year(), day.month(), day.day(), at.hour, at.minute, 0);
    const absl::TimeZone::TimeInfo info = zone.At(when);
    const absl::Time t = info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
    if (t > now) return t;
  }
  return now + absl::Hours(24);  // unreachable for real zones; still a time in the future
}

}  // namespace arraykit::resources
