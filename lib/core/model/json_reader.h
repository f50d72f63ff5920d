// Typed, path-aware reading of JSON values for the documents of the core (array description,
// change, inventory). Every failure is INVALID_ARGUMENT "<path>: <rule>, got <value>", so an
// operator sees which field breaks which rule. Nothing here throws.
//
// Internal to lib/core: the public entry points are in array_json.h and placement.h.
#ifndef ARRAYKIT_CORE_MODEL_JSON_READER_H_
#define ARRAYKIT_CORE_MODEL_JSON_READER_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace arraykit::model::json_internal {

// Debian's Abseil is built with its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0),
// which does not convert from std::string_view; this bridges the two without a copy.
inline absl::string_view AbslView(std::string_view text) { return {text.data(), text.size()}; }

// "resilience" + "mode" -> "resilience.mode"; "" + "members" -> "members".
std::string FieldPath(std::string_view parent, std::string_view field);
// "members" + 3 -> "members[3]".
std::string IndexPath(std::string_view parent, std::size_t index);

// INVALID_ARGUMENT "<path>: <rule>".
absl::Status FieldError(std::string_view path, std::string_view rule);

// A short, printable rendering of a value for "got ..." (strings quoted and truncated,
// containers by kind), never throwing on invalid UTF-8.
std::string Describe(const nlohmann::json& value);

// `text` with every byte outside printable ASCII replaced by '?': safe in any message.
std::string Printable(std::string_view text);

// "boston.example.com" in double quotes, as messages show names.
std::string Quoted(std::string_view name);

// True when `text` is well-formed UTF-8.
bool IsValidUtf8(std::string_view text);

// The value of `key` in `object`, or nullptr when the key is absent or null (null reads as
// "not given" so generators that always emit every key keep working).
const nlohmann::json* Find(const nlohmann::json& object, std::string_view key);

absl::Status ExpectObject(const nlohmann::json& value, std::string_view path);

// Documents are strict: a key of `object` that is not in `known` is INVALID_ARGUMENT with reason
// `unknown_field`, "<path>.<key>: unknown field (did you mean <nearest known>?)", so a typo can
// never silently weaken a check. `object` must be an object.
absl::Status RejectUnknownFields(const nlohmann::json& object, std::string_view path,
                                 std::initializer_list<std::string_view> known);
// The same for a field list kept in a table (e.g. model::kMemberFields plus a document's own).
absl::Status RejectUnknownFields(const nlohmann::json& object, std::string_view path,
                                 std::span<const std::string_view> known);

// ExpectObject, then RejectUnknownFields.
absl::Status ExpectObjectWith(const nlohmann::json& value, std::string_view path,
                              std::initializer_list<std::string_view> known);

// The entry of `candidates` closest to `name` by edit distance when it is close enough to be a
// plausible typo (at most a third of the name's length, at least 1), else "".
std::string NearestName(std::string_view name, std::initializer_list<std::string_view> candidates);
std::string NearestName(std::string_view name, std::span<const std::string_view> candidates);

// A string of at most `max_length` bytes, valid UTF-8, without control characters.
absl::StatusOr<std::string> ReadString(const nlohmann::json& value, std::string_view path,
                                       std::size_t max_length, bool allow_empty);
absl::StatusOr<bool> ReadBool(const nlohmann::json& value, std::string_view path);
// A JSON integer (not 3.0, not "3") within [min, max].
absl::StatusOr<std::int64_t> ReadInteger(const nlohmann::json& value, std::string_view path,
                                         std::int64_t min, std::int64_t max);
// Any JSON number within [min, max].
absl::StatusOr<double> ReadNumber(const nlohmann::json& value, std::string_view path, double min,
                                  double max);
// A JSON array of at most `max_items` elements.
absl::Status ExpectArray(const nlohmann::json& value, std::string_view path, std::size_t max_items);
// Seconds as a JSON number within [kMinIntervalSeconds, kMaxIntervalSeconds], kept to whole
// microseconds so that writing and reading a document gives back the same duration.
absl::StatusOr<absl::Duration> ReadIntervalSeconds(const nlohmann::json& value,
                                                   std::string_view path);

// The one RFC 3339 writer: UTC with whole seconds, "2026-01-01T12:00:00+00:00".
std::string FormatRfc3339(absl::Time time);
// The one RFC 3339 reader: a JSON string such as "2026-01-01T12:00:00Z" (an offset or
// fractional seconds are accepted).
absl::StatusOr<absl::Time> ReadRfc3339(const nlohmann::json& value, std::string_view path);

// A duration in seconds as JSON: an integer when whole, else a number.
nlohmann::json SecondsToJson(absl::Duration duration);
// "600 s", "0.05 s": durations for operator messages.
std::string FormatSeconds(absl::Duration duration);

}  // namespace arraykit::model::json_internal

#endif  // ARRAYKIT_CORE_MODEL_JSON_READER_H_
