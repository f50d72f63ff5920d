// Array mode, DESIGN.md §7 rule 4: the primary merges the divergent suffix a follower reports
// after a split array healed. Keys only the follower's side wrote become new entries of the
// primary (origin "writer@epoch.index"); keys the primary's side also wrote after the common
// prefix keep the primary's value and get a conflict record. A write reported twice (two
// followers of the same side, a resend) is merged once.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/replication/replicator.h"

namespace arraykit::replication {
namespace {

constexpr std::size_t kMaxNamedKeys = 10;

std::string Names(const std::vector<std::string>& keys, std::size_t total) {
  return absl::StrCat(absl::StrJoin(keys, ", "),
                      total > keys.size() ? absl::StrCat(" and ", total - keys.size(), " more")
                                          : "");
}

}  // namespace

// True when this member already holds the write `origin` names: merged before (its origin is
// recorded), or it is one of our own log's original entries (the other side had received it).
bool Replicator::HaveOrigin(const std::string& origin) const {
  if (origins_.contains(origin)) return true;
  const std::size_t at = origin.rfind('@');
  const std::size_t dot = origin.rfind('.');
  if (at == std::string::npos || dot == std::string::npos || dot < at) return false;
  std::uint64_t epoch = 0;
  std::uint64_t index = 0;
  if (!absl::SimpleAtoi(origin.substr(at + 1, dot - at - 1), &epoch) ||
      !absl::SimpleAtoi(origin.substr(dot + 1), &index)) {
    return false;
  }
  const std::string writer = origin.substr(0, at);
  if (index > base_index_ && index <= last_index()) {
    const Entry& e = At(index);
    return e.origin.empty() && e.writer == writer && e.epoch == epoch;
  }
  for (const auto& [key, record] : repo_.records) {
    if (record.index == index && record.epoch == epoch && record.writer == writer &&
        record.origin.empty()) {
      return true;
    }
  }
  return false;
}

void Replicator::OnDivergent(const Message& m) {
  if (!leading_ || m.epoch > view_.epoch || !progress_.contains(m.from)) return;
  Message reply = NewMessage(MessageType::kDivergentReply, m.from);
  reply.id = m.id;
  const std::uint64_t common = m.prev_index;
  if (view_.quorum || !view_.writable) {
    reply.reason = view_.quorum ? "quorum_mode" : "not_writable";
    Send(std::move(reply));
    return;
  }
  // Anchored: our log still holds the common prefix the follower names. Otherwise (our log
  // starts after it: we installed a snapshot or compacted since) the repository decides.
  const bool anchored = common >= base_index_ && common <= last_index() &&
                        ChainAt(common) == m.prev_chain;
  // Every entry is decided against the repository as it was before this merge (the merge's
  // own entries are applied as they are appended). Anchored: did our side write the key after
  // the common prefix? Not anchored, entry by entry: a value equal to ours is skipped; a key we
  // lack is kept; a key whose current record the report already showed (the other side held
  // our value, then wrote over it) is kept too; any other value differs from one our side may
  // have written: a conflict record keeps it (never a silent loss, at worst one record too
  // many).
  enum class Outcome { kSkip, kKeep, kConflict };
  std::vector<Outcome> outcomes(m.entries.size(), Outcome::kSkip);
  std::set<Key> overwritten;  // not anchored: keys whose current record the report held first
  std::set<std::string> seen;
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    const Entry& e = m.entries[i];
    if (e.kind == EntryKind::kBarrier) continue;
    const Key key{e.category, e.key};
    const std::string origin = OriginOf(e);
    auto it = repo_.records.find(key);
    const bool have = it != repo_.records.end();
    if (!anchored && have && e.kind != EntryKind::kConflict &&
        origin == OriginOf(it->second)) {
      overwritten.insert(key);
    }
    if (HaveOrigin(origin) || !seen.insert(origin).second) continue;
    if (e.kind == EntryKind::kConflict) {
      outcomes[i] = Outcome::kConflict;
    } else if (anchored) {
      outcomes[i] = have && it->second.index > common ? Outcome::kConflict : Outcome::kKeep;
    } else if (have && it->second.deleted == (e.kind == EntryKind::kDelete) &&
               it->second.value == e.value) {
      outcomes[i] = Outcome::kSkip;  // its effect stands already
    } else {
      outcomes[i] = !have || overwritten.contains(key) ? Outcome::kKeep : Outcome::kConflict;
    }
  }
  std::vector<std::string> merged_keys;
  std::vector<std::string> conflict_keys;
  std::size_t merged = 0;
  std::size_t conflicts = 0;
  std::size_t duplicates = 0;
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    const Entry& e = m.entries[i];
    if (e.kind == EntryKind::kBarrier) continue;
    if (outcomes[i] == Outcome::kSkip) {
      ++duplicates;
      continue;
    }
    Entry out;
    out.epoch = view_.epoch;
    out.writer = self_;
    out.category = e.category;
    out.key = e.key;
    out.value = e.value;
    out.origin = OriginOf(e);
    const std::string name = absl::StrCat(e.category, "/", e.key);
    if (outcomes[i] == Outcome::kConflict) {
      out.kind = EntryKind::kConflict;  // value: the losing value ("" for a lost delete)
      if (conflict_keys.size() < kMaxNamedKeys) conflict_keys.push_back(name);
      ++conflicts;
    } else {
      out.kind = e.kind;
      if (merged_keys.size() < kMaxNamedKeys) merged_keys.push_back(name);
      ++merged;
    }
    AppendOwn(std::move(out));
  }
  if (merged > 0) {
    Record("merged", absl::StrCat(self_, " merged ", merged, " write(s) from ", m.from,
                                  "'s side of the split (after index ", common,
                                  "): ", Names(merged_keys, merged)));
  }
  if (conflicts > 0) {
    Record("conflict",
           absl::StrCat(self_, " kept its own value of ", conflicts, " key(s) that ", m.from,
                        "'s side also wrote after index ", common,
                        "; the other value is a conflict record: ",
                        Names(conflict_keys, conflicts)));
  }
  // The follower drops its suffix by installing our snapshot (it holds the merge).
  Progress& p = progress_.at(m.from);
  p.awaiting_merge = false;
  p.needs_snapshot = true;
  p.inflight = 0;
  reply.ok = true;
  reply.match_index = common;
  reply.reason = duplicates > 0 ? absl::StrCat(duplicates, " already merged") : "";
  Send(std::move(reply));
  AdvanceCommit();
  CheckPending();
  SendAll();
}

}  // namespace arraykit::replication
