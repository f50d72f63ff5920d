// Entry points shared by every area: status strings, last error, memory, versions, host hooks,
// JSON options.
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "arraykit/arraykit.h"
#include "capi/guard.h"
#include "capi/status_map.h"
#include "core/model/array_json.h"
#include "core/model/json_reader.h"
#include "core/status.h"

namespace arraykit::capi {
namespace {

thread_local std::string last_error;
thread_local std::string last_reason;

std::mutex hooks_mutex;
ak_host_hooks installed_hooks = AK_HOST_HOOKS_INIT;

bool ValidLogLevel(int level) { return level >= AK_LOG_DEBUG && level <= AK_LOG_ERROR; }

// The raw value a C host stored in an ak_log_level field. C allows any int there; in C++ loading
// a value outside the enumerators' range through the enum type is undefined, so read the bytes.
int RawLogLevel(const ak_log_level& field) {
  static_assert(sizeof(ak_log_level) == sizeof(int), "C enums are int-sized on our platforms");
  int value = 0;
  std::memcpy(&value, &field, sizeof value);
  return value;
}

}  // namespace

ak_status Finish(const char* function, const absl::Status& status) noexcept {
  ak_status code = ToAkStatus(status);
  try {
    last_error = std::string(status.message());
    last_reason = ReasonOf(status);
    if (!status.ok()) {
      Log(AK_LOG_DEBUG, absl::StrCat(function, " failed (", ak_strerror(code),
                                     "): ", status.message()));
    }
  } catch (...) {
    // Out of memory while recording the message: the code still reaches the caller.
    last_error.clear();
    last_reason.clear();
  }
  return code;
}

void Log(ak_log_level level, absl::string_view message) {
  ak_host_hooks hooks;
  {
    std::lock_guard<std::mutex> lock(hooks_mutex);
    hooks = installed_hooks;
  }
  if (hooks.log == nullptr || level < hooks.log_level) return;
  std::string line(message);
  hooks.log(hooks.user, level, line.c_str());
}

absl::Status PrepareOut(char** out, const char* name) {
  if (out == nullptr) return absl::InvalidArgumentError(absl::StrCat(name, " must not be NULL"));
  *out = nullptr;
  return absl::OkStatus();
}

absl::Status RequireInput(const char* input, const char* name) {
  if (input == nullptr) return absl::InvalidArgumentError(absl::StrCat(name, " must not be NULL"));
  return absl::OkStatus();
}

absl::Status ReturnString(char** out, absl::string_view text) {
  char* copy = static_cast<char*>(std::malloc(text.size() + 1));
  if (copy == nullptr) return absl::ResourceExhaustedError("out of memory");
  std::memcpy(copy, text.data(), text.size());
  copy[text.size()] = '\0';
  *out = copy;
  return absl::OkStatus();
}

absl::Status CheckOptionsVersion(unsigned int version, unsigned int current,
                                 absl::string_view field, absl::string_view type) {
  if (version == 0) {
    return MakeError(absl::StatusCode::kInvalidArgument, "unsupported_version",
                     absl::StrCat(field, ": ", type, " version 0 is not a version (initialise ",
                                  "the struct with its _INIT macro or _init function)"));
  }
  if (version > current) {
    return MakeError(absl::StatusCode::kInvalidArgument, "unsupported_version",
                     absl::StrCat(field, ": ", type, " version ", version,
                                  " is newer than this library's (", current, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> JsonIndent(const ak_json_options* opts) {
  if (opts == nullptr) return -1;
  if (absl::Status s = CheckOptionsVersion(opts->version, AK_JSON_OPTIONS_VERSION, "opts.version",
                                           "ak_json_options");
      !s.ok()) {
    return s;
  }
  if (opts->indent > 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("opts.indent: must be negative (compact) or 0..16, got ", opts->indent));
  }
  return opts->indent < 0 ? -1 : opts->indent;
}

std::string DumpJson(const nlohmann::json& doc, int indent) {
  return doc.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<std::string> JsonPointerValue(std::string_view doc_json,
                                             std::string_view pointer) {
  // Documents arraykit returns can be larger than its input limit (simulation timelines).
  constexpr model::JsonLimits kReturnedDocumentLimits{64u << 20, 256};
  absl::StatusOr<nlohmann::json> doc =
      model::ParseJsonDocument(doc_json, "doc_json", kReturnedDocumentLimits);
  if (!doc.ok()) return doc.status();
  nlohmann::json::json_pointer parsed;
  try {
    parsed = nlohmann::json::json_pointer(std::string(pointer));
  } catch (const nlohmann::json::exception&) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_pointer",
                     absl::StrCat("pointer: \"", model::json_internal::Printable(pointer),
                                  "\" is not an RFC 6901 JSON pointer (\"\" or \"/field/0\")"));
  }
  const nlohmann::json* value = nullptr;
  try {
    value = &doc->at(parsed);
  } catch (const nlohmann::json::exception&) {
    return MakeError(absl::StatusCode::kNotFound, "no_such_field",
                     absl::StrCat("pointer: the document has no value at \"",
                                  model::json_internal::Printable(pointer), "\""));
  }
  if (!value->is_string()) return DumpJson(*value, -1);
  const std::string& text = value->get_ref<const std::string&>();
  if (text.find('\0') != std::string::npos) {
    return MakeError(absl::StatusCode::kInvalidArgument, "embedded_nul",
                     absl::StrCat("pointer: the string at \"",
                                  model::json_internal::Printable(pointer),
                                  "\" holds a NUL character and cannot be returned as C text"));
  }
  return text;
}

}  // namespace arraykit::capi

using arraykit::capi::Guard;

extern "C" {

AK_API const char* ak_strerror(ak_status code) {
  switch (code) {
#define AK_STRERROR_CASE_(name, value, word, text) \
  case name:                                      \
    return text;
    AK_STATUS_CODES(AK_STRERROR_CASE_)
#undef AK_STRERROR_CASE_
    default:
      return "unrecognised status code";
  }
}

AK_API const char* ak_last_error(void) { return arraykit::capi::last_error.c_str(); }

AK_API const char* ak_last_error_reason(void) { return arraykit::capi::last_reason.c_str(); }

AK_API void ak_free(void* ptr) { std::free(ptr); }

AK_API unsigned int ak_abi_version(void) { return AK_ABI_VERSION; }

AK_API const char* ak_version_string(void) { return ARRAYKIT_VERSION_STRING; }

AK_API ak_status ak_host_hooks_init(ak_host_hooks* hooks, unsigned int version) {
  return Guard(__func__, [&]() -> absl::Status {
    if (hooks == nullptr) return absl::InvalidArgumentError("hooks must not be NULL");
    if (absl::Status s = arraykit::capi::CheckOptionsVersion(version, AK_HOST_HOOKS_VERSION,
                                                             "version", "ak_host_hooks");
        !s.ok()) {
      return s;
    }
    *hooks = ak_host_hooks AK_HOST_HOOKS_INIT;
    return absl::OkStatus();
  });
}

AK_API ak_status ak_set_host_hooks(const ak_host_hooks* hooks) {
  return Guard(__func__, [&]() -> absl::Status {
    ak_host_hooks next = AK_HOST_HOOKS_INIT;
    if (hooks != nullptr) {
      if (absl::Status s = arraykit::capi::CheckOptionsVersion(
              hooks->version, AK_HOST_HOOKS_VERSION, "hooks.version", "ak_host_hooks");
          !s.ok()) {
        return s;
      }
      if (const int level = arraykit::capi::RawLogLevel(hooks->log_level);
          !arraykit::capi::ValidLogLevel(level)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "hooks.log_level: must be AK_LOG_DEBUG..AK_LOG_ERROR (0..3), got ", level));
      }
      for (void* reserved : hooks->reserved) {
        if (reserved != nullptr) {
          return absl::InvalidArgumentError("hooks.reserved: must be zero (use AK_HOST_HOOKS_INIT)");
        }
      }
      next = *hooks;
    }
    std::lock_guard<std::mutex> lock(arraykit::capi::hooks_mutex);
    arraykit::capi::installed_hooks = next;
    return absl::OkStatus();
  });
}

AK_API ak_status ak_json_options_init(ak_json_options* opts, unsigned int version) {
  return Guard(__func__, [&]() -> absl::Status {
    if (opts == nullptr) return absl::InvalidArgumentError("opts must not be NULL");
    if (absl::Status s = arraykit::capi::CheckOptionsVersion(version, AK_JSON_OPTIONS_VERSION,
                                                             "version", "ak_json_options");
        !s.ok()) {
      return s;
    }
    *opts = ak_json_options AK_JSON_OPTIONS_INIT;
    return absl::OkStatus();
  });
}

AK_API ak_status ak_json_get(char** out, const char* doc_json, const char* pointer) {
  return Guard(__func__, [&]() -> absl::Status {
    if (absl::Status s = arraykit::capi::PrepareOut(out, "out"); !s.ok()) return s;
    if (absl::Status s = arraykit::capi::RequireInput(doc_json, "doc_json"); !s.ok()) return s;
    if (absl::Status s = arraykit::capi::RequireInput(pointer, "pointer"); !s.ok()) return s;
    absl::StatusOr<std::string> value = arraykit::capi::JsonPointerValue(doc_json, pointer);
    if (!value.ok()) return value.status();
    return arraykit::capi::ReturnString(out, *value);
  });
}

}  // extern "C"
