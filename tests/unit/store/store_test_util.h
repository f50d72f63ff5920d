// Helpers of the store's tests: a temporary directory and hand-made replication entries (the
// tests compare the store with replication::Repository::Apply / PersistReady).
#ifndef ARRAYKIT_TESTS_UNIT_STORE_STORE_TEST_UTIL_H_
#define ARRAYKIT_TESTS_UNIT_STORE_STORE_TEST_UTIL_H_

#include <cstdint>
#include <string>

#include "core/failover/types.h"
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

replication::Entry Put(std::uint64_t index, std::string category, std::string key,
                       std::string value, std::uint64_t epoch = 1);
replication::Entry Del(std::uint64_t index, std::string category, std::string key,
                       std::uint64_t epoch = 1);
replication::Entry ConflictEntry(std::uint64_t index, std::string category, std::string key,
                                 std::string lost_value, std::string origin,
                                 std::uint64_t epoch = 1);
replication::Entry Barrier(std::uint64_t index, std::uint64_t epoch);

// The crash test's log: entry `index` is a fixed function of the index (mostly puts over 50
// keys, with deletes, conflicts and barriers mixed in), so a checker can recompute what any
// prefix of the log must have built.
replication::Entry CrashEntry(std::uint64_t index);

// A HardState with every field away from its default (original formation, failback window,
// quorum fields, log position), for round trips.
failover::HardState FullHardState();

// Mode bits of a path (stat), or -1.
int ModeOf(const std::string& path);

}  // namespace arraykit::store::testing

#endif  // ARRAYKIT_TESTS_UNIT_STORE_STORE_TEST_UTIL_H_
