#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/check.h"
#include "core/replication/types.h"

namespace arraykit::replication {
namespace {

// FNV-1a, 64 bit, over little-endian integers and length-prefixed strings: stable across
// platforms and versions (chains are persisted and compared between members).
constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

void Mix(std::uint64_t& h, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= kFnvPrime;
  }
}

void Mix(std::uint64_t& h, std::string_view s) {
  Mix(h, static_cast<std::uint64_t>(s.size()));
  for (unsigned char c : s) {
    h ^= c;
    h *= kFnvPrime;
  }
}

std::string WriterOf(const std::string& origin) { return origin.substr(0, origin.find('@')); }

}  // namespace

std::uint64_t Chain(std::uint64_t previous_chain, const Entry& entry) {
  std::uint64_t h = kFnvOffset;
  Mix(h, previous_chain);
  Mix(h, entry.index);
  Mix(h, entry.epoch);
  Mix(h, static_cast<std::uint64_t>(entry.kind));
  Mix(h, entry.writer);
  Mix(h, entry.category);
  Mix(h, entry.key);
  Mix(h, entry.value);
  Mix(h, entry.origin);
  return h;
}

std::string OriginOf(const Entry& entry) {
  return entry.origin.empty()
             ? absl::StrCat(entry.writer, "@", entry.epoch, ".", entry.index)
             : entry.origin;
}

std::string OriginOf(const Record& record) {
  return record.origin.empty()
             ? absl::StrCat(record.writer, "@", record.epoch, ".", record.index)
             : record.origin;
}

void Repository::Apply(const Entry& entry) {
  AK_CHECK(entry.index == applied_index + 1, "applying entry ", entry.index, " after ",
           applied_index);
  const Key key{entry.category, entry.key};
  switch (entry.kind) {
    case EntryKind::kPut:
    case EntryKind::kDelete:
      records[key] = Record{entry.kind == EntryKind::kPut ? entry.value : std::string(),
                            entry.kind == EntryKind::kDelete, entry.index, entry.epoch,
                            entry.writer, entry.origin};
      break;
    case EntryKind::kConflict: {
      auto it = records.find(key);
      const bool stands = it != records.end() && !it->second.deleted;
      conflicts.push_back(Conflict{entry.index, entry.category, entry.key,
                                   stands ? it->second.value : std::string(), entry.value,
                                   WriterOf(entry.origin), entry.origin});
      break;
    }
    case EntryKind::kBarrier:
      break;
  }
  applied_index = entry.index;
  applied_chain = entry.chain;
  applied_epoch = entry.epoch;
}

std::string Repository::Digest() const {
  // A sum of per-item hashes: independent of the order items were written or merged in.
  std::uint64_t sum = 0;
  for (const auto& [key, record] : records) {
    if (record.deleted) continue;
    std::uint64_t h = kFnvOffset;
    Mix(h, std::string_view("record"));
    Mix(h, key.first);
    Mix(h, key.second);
    Mix(h, record.value);
    sum += h;
  }
  for (const Conflict& c : conflicts) {
    std::uint64_t h = kFnvOffset;
    Mix(h, std::string_view("conflict"));
    Mix(h, c.category);
    Mix(h, c.key);
    Mix(h, c.kept_value);
    Mix(h, c.lost_value);
    Mix(h, c.lost_writer);
    Mix(h, c.lost_origin);
    sum += h;
  }
  return absl::StrFormat("%016x", sum);
}

std::string_view ToString(MessageType type) {
  switch (type) {
    case MessageType::kAppend:
      return "append";
    case MessageType::kAppendReply:
      return "append_reply";
    case MessageType::kSnapshot:
      return "snapshot";
    case MessageType::kSnapshotReply:
      return "snapshot_reply";
    case MessageType::kDivergent:
      return "divergent";
    case MessageType::kDivergentReply:
      return "divergent_reply";
    case MessageType::kCatchUp:
      return "catch_up";
    case MessageType::kCatchUpReply:
      return "catch_up_reply";
    case MessageType::kHello:
      return "hello";
  }
  return "unknown";
}

std::optional<MessageType> ParseMessageType(std::string_view word) {
  for (int i = 0; i <= static_cast<int>(MessageType::kHello); ++i) {
    const auto type = static_cast<MessageType>(i);
    if (ToString(type) == word) return type;
  }
  return std::nullopt;
}

std::string_view ToString(EntryKind kind) {
  switch (kind) {
    case EntryKind::kPut:
      return "put";
    case EntryKind::kDelete:
      return "delete";
    case EntryKind::kConflict:
      return "conflict";
    case EntryKind::kBarrier:
      return "barrier";
  }
  return "unknown";
}

std::optional<EntryKind> ParseEntryKind(std::string_view word) {
  for (int i = 0; i <= static_cast<int>(EntryKind::kBarrier); ++i) {
    const auto kind = static_cast<EntryKind>(i);
    if (ToString(kind) == word) return kind;
  }
  return std::nullopt;
}

}  // namespace arraykit::replication
