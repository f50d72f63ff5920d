// arraykit — header-only C++ wrapper over the C ABI.
//
// RAII for returned strings, exceptions instead of status codes. It uses only the C ABI, so a
// host compiled with any C++17 compiler can use it against any ABI-compatible libarraykit.
#ifndef ARRAYKIT_ARRAYKIT_HPP_
#define ARRAYKIT_ARRAYKIT_HPP_

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "arraykit/arraykit.h"

namespace arraykit {

// A failed call: the C status code and the library's message for it.
class Error : public std::runtime_error {
 public:
  Error(ak_status code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ak_status code() const noexcept { return code_; }
  // The canonical description of code(), e.g. "invalid argument".
  const char* code_name() const noexcept { return ak_strerror(code_); }

 private:
  ak_status code_;
};

namespace detail {

struct FreeDeleter {
  void operator()(char* p) const noexcept { ak_free(p); }
};
using OwnedString = std::unique_ptr<char, FreeDeleter>;

inline void Check(ak_status code) {
  if (code != AK_OK) throw Error(code, ak_last_error());
}

// Calls a C function of the form f(char** out, args...) and returns the string it produced.
template <typename Fn, typename... Args>
std::string CallForString(Fn fn, Args&&... args) {
  char* raw = nullptr;
  ak_status code = fn(&raw, std::forward<Args>(args)...);
  OwnedString owned(raw);
  Check(code);
  return owned ? std::string(owned.get()) : std::string();
}

inline ak_json_options JsonOptions(int indent) {
  ak_json_options opts = AK_JSON_OPTIONS_INIT;
  opts.indent = indent;
  return opts;
}

}  // namespace detail

inline std::string version() { return ak_version_string(); }

// True when the loaded library implements the ABI this header was written for.
inline bool abi_compatible() { return ak_abi_version() == AK_ABI_VERSION; }

namespace placement {

// Each returns a JSON document (see include/arraykit/placement.h). indent < 0: one line.
inline std::string check(const std::string& array_json, int indent = -1) {
  ak_json_options opts = detail::JsonOptions(indent);
  return detail::CallForString(ak_placement_check, array_json.c_str(), &opts);
}

inline std::string plan(const std::string& inventory_json, int indent = -1) {
  ak_json_options opts = detail::JsonOptions(indent);
  return detail::CallForString(ak_placement_plan, inventory_json.c_str(), &opts);
}

inline std::string plan_change(const std::string& array_json, const std::string& change_json,
                               int indent = -1) {
  ak_json_options opts = detail::JsonOptions(indent);
  return detail::CallForString(ak_placement_plan_change, array_json.c_str(),
                               change_json.c_str(), &opts);
}

}  // namespace placement
}  // namespace arraykit

#endif  // ARRAYKIT_ARRAYKIT_HPP_
