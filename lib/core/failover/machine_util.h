// Small helpers shared by the member machine's source files (not part of the interface).
#ifndef ARRAYKIT_CORE_FAILOVER_MACHINE_UTIL_H_
#define ARRAYKIT_CORE_FAILOVER_MACHINE_UTIL_H_

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_join.h"

namespace arraykit::failover::internal {

inline bool Has(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

inline void Erase(std::vector<std::string>& names, std::string_view name) {
  names.erase(std::remove(names.begin(), names.end(), name), names.end());
}

inline std::string Names(const std::vector<std::string>& names) {
  return names.empty() ? std::string("none") : absl::StrJoin(names, ", ");
}

inline std::vector<std::string> Sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

// Sorts `members` into the order of `order` (members not in it go last, in their order).
inline void KeepOrderOf(const std::vector<std::string>& order, std::vector<std::string>& members) {
  std::stable_sort(members.begin(), members.end(),
                   [&order](const std::string& a, const std::string& b) {
                     return std::find(order.begin(), order.end(), a) <
                            std::find(order.begin(), order.end(), b);
                   });
}

}  // namespace arraykit::failover::internal

#endif  // ARRAYKIT_CORE_FAILOVER_MACHINE_UTIL_H_
