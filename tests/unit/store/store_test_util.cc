#include "store_test_util.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>

namespace arraykit::store::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/arraykit-store-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  // Restore permissions a test may have removed, so the tree can be deleted.
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ignored);
  std::filesystem::remove_all(path_, ignored);
}

namespace {
replication::Entry Make(std::uint64_t index, std::uint64_t epoch, replication::EntryKind kind,
                        std::string category, std::string key, std::string value,
                        std::string origin) {
  replication::Entry entry;
  entry.index = index;
  entry.epoch = epoch;
  entry.kind = kind;
  entry.writer = "boston.example.com";
  entry.category = std::move(category);
  entry.key = std::move(key);
  entry.value = std::move(value);
  entry.origin = std::move(origin);
  entry.chain = replication::Chain(0, entry);
  return entry;
}
}  // namespace

replication::Entry Put(std::uint64_t index, std::string category, std::string key,
                       std::string value, std::uint64_t epoch) {
  return Make(index, epoch, replication::EntryKind::kPut, std::move(category), std::move(key),
              std::move(value), "");
}

replication::Entry Del(std::uint64_t index, std::string category, std::string key,
                       std::uint64_t epoch) {
  return Make(index, epoch, replication::EntryKind::kDelete, std::move(category), std::move(key),
              "", "");
}

replication::Entry ConflictEntry(std::uint64_t index, std::string category, std::string key,
                                 std::string lost_value, std::string origin, std::uint64_t epoch) {
  return Make(index, epoch, replication::EntryKind::kConflict, std::move(category), std::move(key),
              std::move(lost_value), std::move(origin));
}

replication::Entry Barrier(std::uint64_t index, std::uint64_t epoch) {
  return Make(index, epoch, replication::EntryKind::kBarrier, "", "", "", "");
}

std::uint64_t Link(std::vector<replication::Entry>& entries, std::uint64_t previous_chain) {
  for (replication::Entry& entry : entries) {
    entry.chain = replication::Chain(previous_chain, entry);
    previous_chain = entry.chain;
  }
  return previous_chain;
}

void LinkTo(const replication::Durable& durable, replication::Ready& ready) {
  // Where the log stands once the snapshot and the truncation are done.
  std::uint64_t base_chain = durable.log_base_chain;
  std::vector<replication::Entry> log = durable.log;
  if (ready.snapshot.has_value() && *ready.snapshot != nullptr) {
    base_chain = (*ready.snapshot)->repository.applied_chain;
    log.clear();
  }
  if (ready.truncate_after.has_value()) {
    while (!log.empty() && log.back().index > *ready.truncate_after) log.pop_back();
  }
  const std::uint64_t previous = log.empty() ? base_chain : log.back().chain;
  Link(ready.append, previous);
  log.insert(log.end(), ready.append.begin(), ready.append.end());
  for (replication::Entry& applied : ready.apply) {
    for (const replication::Entry& entry : log) {
      if (entry.index == applied.index) applied.chain = entry.chain;
    }
  }
}

namespace {
// The crash log's entry before linking.
replication::Entry UnlinkedCrashEntry(std::uint64_t index) {
  const std::uint64_t epoch = 1 + index / 1000;
  const std::string key = "k" + std::to_string(index % 50);
  if (index % 31 == 0) return Barrier(index, epoch);
  if (index % 29 == 0) {
    return ConflictEntry(index, "global_configuration", key,
                         "\"lost" + std::to_string(index) + "\"",
                         "chicago.example.com@1." + std::to_string(index), epoch);
  }
  if (index % 17 == 0) return Del(index, "global_configuration", key, epoch);
  return Put(
      index, "global_configuration", key,
      "{\"value\":" + std::to_string(index) + ",\"pad\":\"" + std::string(index % 200, 'p') + "\"}",
      epoch);
}
}  // namespace

replication::Entry CrashEntry(std::uint64_t index) {
  // Chains of entries 1..n, computed once each (the crash test asks for them in order).
  static std::mutex mu;
  static std::vector<std::uint64_t> chains = {0};  // chains[i]: entry i's; 0 before entry 1
  std::lock_guard lock(mu);
  while (chains.size() <= index) {
    const std::uint64_t next = chains.size();
    chains.push_back(replication::Chain(chains.back(), UnlinkedCrashEntry(next)));
  }
  replication::Entry entry = UnlinkedCrashEntry(index);
  entry.chain = chains[index];
  return entry;
}

failover::HardState FullHardState() {
  failover::HardState state;
  failover::Formation& f = state.formation;
  f.primary = "detroit.example.com";
  f.members = {"detroit.example.com", "newyork.example.com", "chicago.example.com"};
  f.backup_primaries = {"newyork.example.com"};
  f.voters = {"detroit.example.com", "newyork.example.com", "chicago.example.com"};
  f.resilience.failover_enabled = true;
  f.resilience.monitor_interval = absl::Milliseconds(1500);
  f.resilience.monitor_attempts = 7;
  f.resilience.find_primary_interval = absl::Microseconds(123457);
  f.resilience.find_primary_attempts = 4;
  f.resilience.primary_return_action = model::PrimaryReturnAction::kAcceptSecondary;
  f.resilience.mode = model::ResilienceMode::kQuorum;
  f.resilience.failback_window = model::FailbackWindow{22 * 60, 4 * 60 + 30};
  f.version = 0xfedcba9876543210ULL;  // above 2^63: stored losslessly

  failover::Formation original;
  original.primary = "boston.example.com";
  original.members = {"boston.example.com", "detroit.example.com"};
  original.backup_primaries = {"detroit.example.com"};
  original.voters = {};
  original.resilience.failback_window = std::nullopt;
  original.resilience.primary_return_action = model::PrimaryReturnAction::kNone;
  original.version = 3;
  state.original = original;

  state.epoch = 42;
  state.uncontactable = {"chicago.example.com"};
  state.repaired = true;
  state.manual_recovery_required = true;
  state.recovery_declined = true;
  state.voted_epoch = 41;
  state.voted_for = "newyork.example.com";
  state.promise_to = "detroit.example.com";
  state.promise_until = absl::Nanoseconds(987654321012345);
  state.log = failover::LogPosition{41, 0x8000000000000001ULL};
  return state;
}

int ModeOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

}  // namespace arraykit::store::testing
