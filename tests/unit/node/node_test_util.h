// Helpers the node test files share: member names, per-run data directories, member fields and
// polling for states no event announces.
#ifndef ARRAYKIT_TESTS_UNIT_NODE_NODE_TEST_UTIL_H_
#define ARRAYKIT_TESTS_UNIT_NODE_NODE_TEST_UTIL_H_

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace arraykit::node::test {

inline const std::string kA = "a.example.com";
inline const std::string kB = "b.example.com";
inline const std::string kC = "c.example.com";
inline const std::string kD = "d.example.com";

// A fresh data directory per call (the default storage keys by path).
inline std::string TempDataDir(const std::string& suite, const std::string& test,
                               const std::string& member) {
  static std::atomic<int> run{0};
  return (std::filesystem::temp_directory_path() /
          absl::StrCat("arraykit-", suite, "-", ::getpid(), "-", run++, "-", test, "-", member))
      .string();
}

// Member fields: a front-end, or a front-end and back-end, on rack r<rack>.
inline std::string Frontend(int rack) {
  return nlohmann::json{{"roles", {"frontend"}}, {"rack", absl::StrCat("r", rack)}}.dump();
}
inline std::string Backend(int rack) {
  return nlohmann::json{{"roles", {"frontend", "backend"}}, {"rack", absl::StrCat("r", rack)}}
      .dump();
}

// Polls `condition` every `poll` until it holds or `timeout` passed; then asks once more.
inline bool Eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10),
                       std::chrono::milliseconds poll = std::chrono::milliseconds(2)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(poll);
  }
  return condition();
}

}  // namespace arraykit::node::test

#endif  // ARRAYKIT_TESTS_UNIT_NODE_NODE_TEST_UTIL_H_
