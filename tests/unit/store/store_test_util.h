// Helpers of the store's tests: a temporary directory and hand-made replication entries (the
// tests compare the store with replication::Repository::Apply / PersistReady).
#ifndef ARRAYKIT_TESTS_UNIT_STORE_STORE_TEST_UTIL_H_
#define ARRAYKIT_TESTS_UNIT_STORE_STORE_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/failover/types.h"
#include "core/replication/replicator.h"
#include "core/replication/types.h"

namespace arraykit::store::testing {

// A fresh directory under $TMPDIR (mode 0700), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // A path inside the directory (not created).
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Hand-made entries. Their chain is replication::Chain after a zero chain (the chain of the first
// entry of an empty log); an entry appended after others must be linked to them (Link, LinkTo),
// as the store refuses an append whose chain does not follow the stored log.
replication::Entry Put(std::uint64_t index, std::string category, std::string key,
                       std::string value, std::uint64_t epoch = 1);
replication::Entry Del(std::uint64_t index, std::string category, std::string key,
                       std::uint64_t epoch = 1);
replication::Entry ConflictEntry(std::uint64_t index, std::string category, std::string key,
                                 std::string lost_value, std::string origin,
                                 std::uint64_t epoch = 1);
replication::Entry Barrier(std::uint64_t index, std::uint64_t epoch);

// Gives `entries` the chains replication::Chain defines, the first one following
// `previous_chain`; returns the last entry's chain (`previous_chain` when there is none).
std::uint64_t Link(std::vector<replication::Entry>& entries, std::uint64_t previous_chain);

// Makes `ready` fit the log `durable` holds (a test's reference of what the store holds, kept
// with replication::PersistReady): its appended entries are linked after the entry they follow
// (the snapshot's position or the truncation point when `ready` has them), and its applied
// entries carry the chains of the log entries they apply.
void LinkTo(const replication::Durable& durable, replication::Ready& ready);

// The crash test's log: entry `index` is a fixed function of the index (mostly puts over 50
// keys, with deletes, conflicts and barriers mixed in), linked from entry 1 on an empty log, so
// a checker can recompute what any prefix of the log must have built.
replication::Entry CrashEntry(std::uint64_t index);

// A HardState with every field away from its default (original formation, failback window,
// quorum fields, log position), for round trips.
failover::HardState FullHardState();

// Mode bits of a path (stat), or -1.
int ModeOf(const std::string& path);

}  // namespace arraykit::store::testing

#endif  // ARRAYKIT_TESTS_UNIT_STORE_STORE_TEST_UTIL_H_
