#include "core/model/json_reader.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/model/array.h"
#include "core/status.h"

namespace arraykit::model::json_internal {
namespace {

using nlohmann::json;

constexpr std::size_t kDescribeLimit = 40;

}  // namespace

std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte >= 0x20 && byte < 0x7f ? c : '?');
  }
  return out;
}

std::string Quoted(std::string_view name) { return absl::StrCat("\"", AbslView(name), "\""); }

std::string FieldPath(std::string_view parent, std::string_view field) {
  if (parent.empty()) return std::string(field);
  return absl::StrCat(AbslView(parent), ".", AbslView(field));
}

std::string IndexPath(std::string_view parent, std::size_t index) {
  return absl::StrCat(AbslView(parent), "[", index, "]");
}

absl::Status FieldError(std::string_view path, std::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(AbslView(path), ": ", AbslView(rule)));
}

std::string Describe(const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::null:
      return "null";
    case json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      std::string shown = Printable(text.substr(0, kDescribeLimit));
      if (text.size() > kDescribeLimit) absl::StrAppend(&shown, "...");
      return absl::StrCat("\"", shown, "\"");
    }
    default:
      // Numbers and booleans; `replace` keeps dump() from throwing.
      return Printable(value.dump(-1, ' ', false, json::error_handler_t::replace));
  }
}

bool IsValidUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xe0) == 0xc0) {
      length = 2;
      code_point = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3;
      code_point = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3f);
    }
    // Overlong forms, surrogates and values beyond Unicode are not UTF-8.
    static constexpr std::uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kMinForLength[length]) return false;
    if (code_point >= 0xd800 && code_point <= 0xdfff) return false;
    if (code_point > 0x10ffff) return false;
    i += length;
  }
  return true;
}

const json* Find(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status ExpectObject(const json& value, std::string_view path) {
  if (!value.is_object()) {
    return FieldError(path, absl::StrCat("must be a JSON object, got ", Describe(value)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadString(const json& value, std::string_view path,
                                       std::size_t max_length, bool allow_empty) {
  if (!value.is_string()) {
    return FieldError(path, absl::StrCat("must be a string, got ", Describe(value)));
  }
  const std::string& text = value.get_ref<const std::string&>();
  if (text.empty() && !allow_empty) return FieldError(path, "must not be empty");
  if (text.size() > max_length) {
    return FieldError(path, absl::StrCat("must be at most ", max_length, " bytes long, got ",
                                         text.size(), " bytes"));
  }
  if (!IsValidUtf8(text)) return FieldError(path, "must be valid UTF-8");
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      return FieldError(path,
                        absl::StrCat("must not contain control characters, got ", Describe(value)));
    }
  }
  return text;
}

absl::StatusOr<bool> ReadBool(const json& value, std::string_view path) {
  if (!value.is_boolean()) {
    return FieldError(path, absl::StrCat("must be true or false, got ", Describe(value)));
  }
  return value.get<bool>();
}

absl::StatusOr<std::int64_t> ReadInteger(const json& value, std::string_view path, std::int64_t min,
                                         std::int64_t max) {
  const std::string rule = absl::StrCat("must be an integer from ", min, " to ", max);
  if (!value.is_number_integer()) {
    return FieldError(path, absl::StrCat(rule, ", got ", Describe(value)));
  }
  // Unsigned values beyond int64 would wrap in get<int64_t>(); they are out of range anyway.
  if (value.is_number_unsigned() && value.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
    return FieldError(path, absl::StrCat(rule, ", got ", Describe(value)));
  }
  const auto number = value.get<std::int64_t>();
  if (number < min || number > max) {
    return FieldError(path, absl::StrCat(rule, ", got ", Describe(value)));
  }
  return number;
}

absl::StatusOr<double> ReadNumber(const json& value, std::string_view path, double min,
                                  double max) {
  const std::string rule = absl::StrFormat("must be a number from %g to %g", min, max);
  if (!value.is_number()) {
    return FieldError(path, absl::StrCat(rule, ", got ", Describe(value)));
  }
  const auto number = value.get<double>();
  if (!std::isfinite(number) || number < min || number > max) {
    return FieldError(path, absl::StrCat(rule, ", got ", Describe(value)));
  }
  return number;
}

absl::Status ExpectArray(const json& value, std::string_view path, std::size_t max_items) {
  if (!value.is_array()) {
    return FieldError(path, absl::StrCat("must be an array, got ", Describe(value)));
  }
  if (value.size() > max_items) {
    return FieldError(
        path, absl::StrCat("must have at most ", max_items, " entries, got ", value.size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> ReadIntervalSeconds(const json& value, std::string_view path) {
  const std::string rule = absl::StrFormat("must be a number of seconds from %g to %g",
                                           kMinIntervalSeconds, kMaxIntervalSeconds);
  if (!value.is_number()) {
    return FieldError(path, absl::StrCat(rule, ", got ", Describe(value)));
  }
  const auto seconds = value.get<double>();
  if (!std::isfinite(seconds) || seconds < kMinIntervalSeconds || seconds > kMaxIntervalSeconds) {
    return FieldError(path, absl::StrCat(rule, ", got ", Describe(value)));
  }
  return absl::Microseconds(std::llround(seconds * 1e6));
}

std::string FormatRfc3339(absl::Time time) {
  return absl::FormatTime(absl::RFC3339_sec, time, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> ReadRfc3339(const json& value, std::string_view path) {
  constexpr std::size_t kMaxTimeBytes = 64;
  absl::Time time;
  std::string error;
  if (!value.is_string() || value.get_ref<const std::string&>().size() > kMaxTimeBytes ||
      !absl::ParseTime(absl::RFC3339_full, value.get_ref<const std::string&>(), &time, &error)) {
    return FieldError(path, absl::StrCat("must be an RFC 3339 time such as "
                                         "\"2026-01-01T12:00:00Z\", got ",
                                         Describe(value)));
  }
  return time;
}

json SecondsToJson(absl::Duration duration) {
  const std::int64_t micros = absl::ToInt64Microseconds(duration);
  if (micros % 1'000'000 == 0) return micros / 1'000'000;
  return static_cast<double>(micros) / 1e6;
}

std::string FormatSeconds(absl::Duration duration) {
  const std::int64_t micros = absl::ToInt64Microseconds(duration);
  if (micros % 1'000'000 == 0) return absl::StrCat(micros / 1'000'000, " s");
  // Up to microseconds, without trailing zeros: 0.05 s, not 0.050000 s.
  std::string text = absl::StrFormat("%.6f", static_cast<double>(micros) / 1e6);
  while (!text.empty() && text.back() == '0') text.pop_back();
  return absl::StrCat(text, " s");
}

namespace {

// Edit distance where a swap of two neighbouring letters counts as one edit, as do an insertion,
// a deletion and a substitution ("optimal string alignment"): "mdoe" is one edit from "mode".
std::size_t EditDistance(std::string_view a, std::string_view b) {
  const std::size_t width = b.size() + 1;
  std::vector<std::size_t> d((a.size() + 1) * width);
  const auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * width + j]; };
  for (std::size_t i = 0; i <= a.size(); ++i) at(i, 0) = i;
  for (std::size_t j = 0; j <= b.size(); ++j) at(0, j) = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(a.size(), b.size());
}

}  // namespace

std::string NearestName(std::string_view name, std::initializer_list<std::string_view> candidates) {
  return NearestName(name,
                     std::span<const std::string_view>(candidates.begin(), candidates.size()));
}

std::string NearestName(std::string_view name, std::span<const std::string_view> candidates) {
  const std::size_t allowed = std::max<std::size_t>(1, name.size() / 3);
  std::string_view best;
  std::size_t best_distance = allowed + 1;
  for (std::string_view candidate : candidates) {
    const std::size_t distance = EditDistance(name, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return std::string(best);
}

absl::Status RejectUnknownFields(const json& object, std::string_view path,
                                 std::initializer_list<std::string_view> known) {
  return RejectUnknownFields(object, path,
                             std::span<const std::string_view>(known.begin(), known.size()));
}

absl::Status RejectUnknownFields(const json& object, std::string_view path,
                                 std::span<const std::string_view> known) {
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string hint;
    if (std::string nearest = NearestName(key, known); !nearest.empty()) {
      hint = absl::StrCat("did you mean ", nearest, "?");
    } else {
      hint = "known fields:";
      for (std::string_view name : known) absl::StrAppend(&hint, " ", AbslView(name));
    }
    return MakeError(absl::StatusCode::kInvalidArgument, "unknown_field",
                     absl::StrCat(FieldPath(path, Printable(key)), ": unknown field (", hint, ")"));
  }
  return absl::OkStatus();
}

absl::Status ExpectObjectWith(const json& value, std::string_view path,
                              std::initializer_list<std::string_view> known) {
  if (absl::Status status = ExpectObject(value, path); !status.ok()) return status;
  return RejectUnknownFields(value, path, known);
}

}  // namespace arraykit::model::json_internal
