// AK_CHECK: the always-on check for states that cannot happen (a clock going back, a member
// missing from its own formation, a broken invariant of the machine's own bookkeeping).
//
// Unlike assert() it is not compiled out by NDEBUG: the shipped build (RelWithDebInfo) keeps
// it. A failed check prints the file, the line, the condition and the state the caller passes,
// then aborts — continuing from an impossible state could make two primaries writable.
//
// It is for the library's own invariants only. Anything a host or a user supplies (documents,
// persisted state handed back to the library) is validated and refused with a Status, never
// checked with AK_CHECK.
#ifndef ARRAYKIT_CORE_CHECK_H_
#define ARRAYKIT_CORE_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace arraykit::internal {

[[noreturn]] inline void CheckFailed(const char* file, int line, const char* condition,
                                     const std::string& state) {
  std::fprintf(stderr, "arraykit: check failed at %s:%d: %s\n  state: %s\n", file, line, condition,
               state.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace arraykit::internal

// AK_CHECK(condition, pieces...): the pieces (anything absl::StrCat accepts) describe the state
// and are only evaluated when the check fails.
#define AK_CHECK(condition, ...)                                                            \
  do {                                                                                      \
    if (!(condition)) [[unlikely]] {                                                        \
      ::arraykit::internal::CheckFailed(__FILE__, __LINE__, #condition,                     \
                                        ::absl::StrCat("" __VA_OPT__(, ) __VA_ARGS__));     \
    }                                                                                       \
  } while (false)

#endif  // ARRAYKIT_CORE_CHECK_H_
