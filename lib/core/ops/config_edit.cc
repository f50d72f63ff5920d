#include "core/ops/config_edit.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/model/json_reader.h"
#include "core/status.h"

namespace arraykit::ops {
namespace {

namespace ji = model::json_internal;
using nlohmann::json;

absl::Status InvalidValue(absl::string_view attribute, absl::string_view rule,
                          std::string_view value) {
  return MakeError(
      absl::StatusCode::kInvalidArgument, "invalid_value",
      absl::StrCat("--", attribute, ": ", rule, ", got ", ji::Quoted(ji::Printable(value))));
}

absl::Status OutOfRange(absl::string_view attribute, absl::string_view rule,
                        std::string_view value) {
  return MakeError(
      absl::StatusCode::kInvalidArgument, "out_of_range",
      absl::StrCat("--", attribute, ": ", rule, ", got ", ji::Quoted(ji::Printable(value))));
}

absl::StatusOr<absl::Duration> Seconds(absl::string_view attribute, const std::string& value) {
  double s = 0;
  if (!absl::SimpleAtod(value, &s) || !std::isfinite(s)) {
    return InvalidValue(attribute, "must be a number of seconds", value);
  }
  if (s < model::kMinIntervalSeconds || s > model::kMaxIntervalSeconds) {
    return OutOfRange(attribute,
                      absl::StrCat("must be between ", model::kMinIntervalSeconds, " and ",
                                   model::kMaxIntervalSeconds, " seconds"),
                      value);
  }
  return absl::Microseconds(std::llround(s * 1e6));
}

absl::StatusOr<int> Attempts(absl::string_view attribute, const std::string& value) {
  std::int64_t n = 0;
  if (!absl::SimpleAtoi(value, &n)) {
    return InvalidValue(attribute, "must be a whole number of attempts", value);
  }
  if (n < model::kMinAttempts || n > model::kMaxAttempts) {
    return OutOfRange(
        attribute,
        absl::StrCat("must be between ", model::kMinAttempts, " and ", model::kMaxAttempts), value);
  }
  return static_cast<int>(n);
}

// "HH:MM" as minutes since midnight, or -1.
int MinuteOfDay(std::string_view t) {
  const auto digit = [&t](std::size_t i) { return t[i] >= '0' && t[i] <= '9'; };
  if (t.size() != 5 || !digit(0) || !digit(1) || t[2] != ':' || !digit(3) || !digit(4)) return -1;
  const int hours = (t[0] - '0') * 10 + (t[1] - '0');
  const int minutes = (t[3] - '0') * 10 + (t[4] - '0');
  if (hours > 23 || minutes > 59) return -1;
  return hours * 60 + minutes;
}

absl::Status Apply(absl::string_view attribute, const std::string& raw, model::Resilience& r) {
  const std::string value(absl::StripAsciiWhitespace(raw));
  const std::string lower = absl::AsciiStrToLower(value);
  if (attribute == "array-failoverenabled") {
    if (lower == "1" || lower == "true") {
      r.failover_enabled = true;
    } else if (lower == "0" || lower == "false") {
      r.failover_enabled = false;
    } else {
      return InvalidValue(attribute, "must be 1 or 0 (true or false)", value);
    }
  } else if (attribute == "array-monitortime" || attribute == "array-resubmitfindprimarywait") {
    absl::StatusOr<absl::Duration> d = Seconds(attribute, value);
    if (!d.ok()) return d.status();
    (attribute == "array-monitortime" ? r.monitor_interval : r.find_primary_interval) = *d;
  } else if (attribute == "array-maxmonitors" || attribute == "array-resubmitfindprimarymax") {
    absl::StatusOr<int> n = Attempts(attribute, value);
    if (!n.ok()) return n.status();
    (attribute == "array-maxmonitors" ? r.monitor_attempts : r.find_primary_attempts) = *n;
  } else if (attribute == "array-primaryreturnaction") {
    if (lower == "accept") {
      r.primary_return_action = model::PrimaryReturnAction::kAccept;
    } else if (lower == "acceptsecondary") {
      r.primary_return_action = model::PrimaryReturnAction::kAcceptSecondary;
    } else if (lower == "none") {
      r.primary_return_action = model::PrimaryReturnAction::kNone;
    } else {
      return InvalidValue(attribute, "must be accept, acceptsecondary or none", value);
    }
  } else if (attribute == "array-mode") {
    if (lower == "array") {
      r.mode = model::ResilienceMode::kArray;
    } else if (lower == "quorum") {
      r.mode = model::ResilienceMode::kQuorum;
    } else {
      return InvalidValue(attribute, "must be array or quorum", value);
    }
  } else if (attribute == "array-failbackwindow") {
    if (lower == "none" || lower.empty()) {
      r.failback_window.reset();
    } else {
      const std::size_t dash = value.find('-');
      const int start =
          dash == std::string::npos ? -1 : MinuteOfDay(std::string_view(value).substr(0, dash));
      const int end =
          dash == std::string::npos ? -1 : MinuteOfDay(std::string_view(value).substr(dash + 1));
      if (start < 0 || end < 0) {
        return InvalidValue(attribute,
                            "must be a daily window HH:MM-HH:MM (24-hour, UTC; 22:00-04:00 "
                            "crosses midnight) or none",
                            value);
      }
      r.failback_window = model::FailbackWindow{start, end};
    }
  }
  return absl::OkStatus();
}

// The attribute name without its leading "--", or `unknown_field` naming the nearest one.
absl::StatusOr<std::string_view> Attribute(std::string_view given) {
  std::string_view name = given;
  if (name.substr(0, 2) == "--") name.remove_prefix(2);
  for (std::string_view known : kConfigAttributes) {
    if (name == known) return known;
  }
  const std::string nearest =
      ji::NearestName(name, std::span<const std::string_view>(kConfigAttributes));
  return MakeError(
      absl::StatusCode::kInvalidArgument, "unknown_field",
      absl::StrCat(
          ji::Printable(given), ": unknown attribute",
          nearest.empty()
              ? std::string(" (config edit knows --array-failoverenabled, --array-monitortime, "
                            "--array-maxmonitors, --array-resubmitfindprimarywait, "
                            "--array-resubmitfindprimarymax, --array-primaryreturnaction, "
                            "--array-mode, --array-failbackwindow)")
              : absl::StrCat(" (did you mean --", nearest, "?)")));
}

}  // namespace

failover::FormationChange ConfigEdit::ToChange() const {
  failover::FormationChange change;
  change.resilience = resilience;
  return change;
}

absl::StatusOr<ConfigEdit> ApplyConfigEdit(
    const std::vector<std::pair<std::string, std::string>>& attributes,
    const model::Resilience& current) {
  if (attributes.empty()) {
    return absl::InvalidArgumentError(
        "config edit: no attribute given (for example --array-failoverenabled 1)");
  }
  if (attributes.size() > kConfigAttributes.size()) {
    return MakeError(absl::StatusCode::kInvalidArgument, "duplicate_attribute",
                     absl::StrCat("config edit: ", attributes.size(),
                                  " attributes given; there are only ", kConfigAttributes.size()));
  }
  ConfigEdit edit;
  edit.resilience = current;
  for (const auto& [given, value] : attributes) {
    absl::StatusOr<std::string_view> attribute = Attribute(given);
    if (!attribute.ok()) return attribute.status();
    for (const std::string& seen : edit.changed) {
      if (seen == *attribute) {
        return MakeError(absl::StatusCode::kInvalidArgument, "duplicate_attribute",
                         absl::StrCat("--", ji::AbslView(*attribute), ": given twice"));
      }
    }
    if (absl::Status s = Apply(ji::AbslView(*attribute), value, edit.resilience); !s.ok()) return s;
    edit.changed.emplace_back(*attribute);
  }
  return edit;
}

absl::StatusOr<ConfigEdit> ParseConfigEditArgs(const std::vector<std::string>& args,
                                               const model::Resilience& current) {
  std::vector<std::pair<std::string, std::string>> attributes;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.substr(0, 2) != "--") {
      return MakeError(absl::StatusCode::kInvalidArgument, "unknown_field",
                       absl::StrCat(ji::Quoted(ji::Printable(arg)),
                                    ": expected an attribute such as --array-monitortime"));
    }
    if (const std::size_t eq = arg.find('='); eq != std::string::npos) {
      attributes.emplace_back(arg.substr(0, eq), arg.substr(eq + 1));
      continue;
    }
    absl::StatusOr<std::string_view> attribute = Attribute(arg);
    if (!attribute.ok()) return attribute.status();
    if (i + 1 >= args.size() || args[i + 1].substr(0, 2) == "--") {
      return MakeError(absl::StatusCode::kInvalidArgument, "missing_value",
                       absl::StrCat(arg, ": the value is missing"));
    }
    attributes.emplace_back(arg, args[i + 1]);
    ++i;
  }
  return ApplyConfigEdit(attributes, current);
}

absl::StatusOr<ConfigEdit> ConfigEditFromJson(const json& doc, const model::Resilience& current) {
  if (absl::Status s = ji::ExpectObject(doc, "config edit"); !s.ok()) return s;
  std::vector<std::pair<std::string, std::string>> attributes;
  for (const auto& [key, value] : doc.items()) {
    std::string text;
    if (value.is_string()) {
      text = value.get<std::string>();
    } else if (value.is_boolean()) {
      text.assign(1, value.get<bool>() ? '1' : '0');
    } else if (value.is_number()) {
      text = value.dump();
    } else {
      if (absl::StatusOr<std::string_view> a = Attribute(key); !a.ok()) return a.status();
      return MakeError(absl::StatusCode::kInvalidArgument, "invalid_value",
                       absl::StrCat("--", key, ": must be a number, a boolean or a string, got ",
                                    ji::Describe(value)));
    }
    attributes.emplace_back(key, std::move(text));
  }
  return ApplyConfigEdit(attributes, current);
}

}  // namespace arraykit::ops
