// Shared machinery of every extern "C" entry point: one exception guard, the thread-local last
// error, logging through the host hooks, and returning strings to the caller.
#ifndef ARRAYKIT_CAPI_GUARD_H_
#define ARRAYKIT_CAPI_GUARD_H_

#include <exception>
#include <new>
#include <string>
#include <string_view>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "arraykit/arraykit.h"
#include "nlohmann/json.hpp"

namespace arraykit::capi {

// Records the outcome of the entry point `function`: sets the thread's last error ("" on
// success), logs failures at debug level, and returns the C status code. Never throws.
ak_status Finish(const char* function, const absl::Status& status) noexcept;

// Runs `body` (returning absl::Status) so that no exception crosses the C boundary.
template <typename Body>
ak_status Guard(const char* function, Body&& body) noexcept {
  try {
    return Finish(function, body());
  } catch (const std::bad_alloc&) {
    return Finish(function, absl::ResourceExhaustedError("out of memory"));
  } catch (const std::exception& e) {
    return Finish(function, absl::InternalError(std::string("unexpected exception: ") + e.what()));
  } catch (...) {
    return Finish(function, absl::InternalError("unexpected non-C++ exception"));
  }
}

// Delivers a log line to the host's callback if one is installed and `level` is enabled.
// The hooks are copied out under the lock and the callback runs after it is released.
void Log(ak_log_level level, absl::string_view message);

// Checks an out-parameter and sets *out to NULL so callers never see garbage on failure.
absl::Status PrepareOut(char** out, const char* name);
// Checks that a required input string is present.
absl::Status RequireInput(const char* input, const char* name);
// Copies `text` into memory the caller releases with ak_free().
absl::Status ReturnString(char** out, absl::string_view text);

// Options structs: a library serves every version from 1 up to its own `current` (DESIGN.md §3);
// 0 and versions above `current` are INVALID_ARGUMENT with reason `unsupported_version`, e.g.
// "opts.version: ak_json_options version 7 is newer than this library's (1)".
absl::Status CheckOptionsVersion(unsigned int version, unsigned int current,
                                 absl::string_view field, absl::string_view type);

// The indentation requested by `opts` (NULL = compact), validated.
absl::StatusOr<int> JsonIndent(const ak_json_options* opts);
// The value at RFC 6901 `pointer` in `doc_json` as text: a string's contents, any other value as
// compact JSON. Reasons: invalid_json, invalid_pointer, no_such_field (NOT_FOUND), embedded_nul.
absl::StatusOr<std::string> JsonPointerValue(std::string_view doc_json, std::string_view pointer);

// Serialises `doc` with `indent` (< 0 = one line); invalid UTF-8 is replaced, never thrown.
std::string DumpJson(const nlohmann::json& doc, int indent);

}  // namespace arraykit::capi

#endif  // ARRAYKIT_CAPI_GUARD_H_
