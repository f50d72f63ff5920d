// Shared by the node's crash test and its child (tests/unit/node_crash/node_crash_test.cc says what it checks): the members, their
// DESIGN §3 fields, the configured array's description and how a write is named and valued.
#ifndef ARRAYKIT_TESTS_UNIT_NODE_CRASH_NODE_CRASH_COMMON_H_
#define ARRAYKIT_TESTS_UNIT_NODE_CRASH_NODE_CRASH_COMMON_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace arraykit::node::crash {

inline const std::string kPrimary = "a.example.com";
inline const std::vector<std::string> kArrayMembers = {"a.example.com", "b.example.com",
                                                       "c.example.com"};
// The category the crash test writes (keys are never written twice, so a key names one write).
inline constexpr const char* kCategory = "sessions";

inline nlohmann::json MemberFields(int rack) {
  return nlohmann::json{{"roles", {"frontend", "backend"}},
                        {"rack", absl::StrCat("r", rack)},
                        {"power", absl::StrCat("p", rack)}};
}

// The members of a mode: {a} standalone, {a, b, c} as a configured array.
inline std::vector<std::string> MembersOf(bool array) {
  return array ? kArrayMembers : std::vector<std::string>{kPrimary};
}

inline int RackOf(const std::string& name) { return name[0] - 'a' + 1; }

// The configured array: primary a, failover off (a is the primary whatever the kills do), a
// 50 ms monitor interval so a restarted secondary is caught up within ~10 ms.
inline nlohmann::json ArrayDescription() {
  nlohmann::json members = nlohmann::json::array();
  for (const std::string& name : kArrayMembers) {
    nlohmann::json m = MemberFields(RackOf(name));
    m["name"] = name;
    members.push_back(m);
  }
  return nlohmann::json{{"members", members},
                        {"primary", kPrimary},
                        {"backup_primaries", {kArrayMembers[1], kArrayMembers[2]}},
                        {"resilience", {{"monitor_interval_s", 0.05}}}};
}

// The value written at `key`: a function of the key, so the checker can recompute it.
inline std::string ValueOf(const std::string& key) {
  return nlohmann::json{{"written", key}}.dump();
}

}  // namespace arraykit::node::crash

#endif  // ARRAYKIT_TESTS_UNIT_NODE_CRASH_NODE_CRASH_COMMON_H_
