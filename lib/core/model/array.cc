#include "core/model/array.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/model/json_reader.h"
#include "core/status.h"

namespace arraykit::model {
namespace {

constexpr char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Peer DNS names ignore one trailing dot ("a.example.com." is "a.example.com").
constexpr std::string_view StripTrailingDot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return name;
}

constexpr std::size_t kMaxLabelLength = 63;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string PeerNameProblem(std::string_view name) {
  name = StripTrailingDot(name);
  if (name.empty()) return "it is empty";
  if (name.size() > kMaxNameLength) {
    return absl::StrCat("it is longer than ", kMaxNameLength, " bytes");
  }
  if (name.find('.') == std::string_view::npos) return "it has no domain part";
  std::string_view last_label;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view label = name.substr(start, end - start);
    if (label.empty()) return "it has an empty label";
    if (label.size() > kMaxLabelLength) {
      return absl::StrCat("a label is longer than ", kMaxLabelLength, " bytes");
    }
    for (char c : label) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-';
      if (!ok) return "labels may hold only letters, digits and hyphens";
    }
    if (label.front() == '-' || label.back() == '-') {
      return "a label starts or ends with a hyphen";
    }
    last_label = label;
    start = end + 1;
  }
  if (std::all_of(last_label.begin(), last_label.end(), IsDigit)) {
    return "it looks like an IP address, not a name";
  }
  return "";
}

absl::StatusOr<std::string> NormalizePeerName(std::string_view name, std::string_view path) {
  if (std::string problem = PeerNameProblem(name); !problem.empty()) {
    return MakeError(absl::StatusCode::kInvalidArgument, "name_not_fqdn",
                     absl::StrCat(json_internal::AbslView(path), ": ",
                                  json_internal::Quoted(json_internal::Printable(name)),
                                  " is not a fully qualified peer DNS name: ", problem));
  }
  return NormalizeName(name);
}

bool FailbackWindow::Contains(int minute_of_day) const {
  // start == end is a window of the whole day: "any time" is the only reading that does not
  // silently disable failback.
  if (start_minute == end_minute) return true;
  if (start_minute < end_minute) {
    return minute_of_day >= start_minute && minute_of_day < end_minute;
  }
  return minute_of_day >= start_minute || minute_of_day < end_minute;  // crosses midnight
}

absl::Duration Resilience::GracePeriod() const { return monitor_interval * monitor_attempts; }

absl::Duration Resilience::FindNewPrimaryTimeout() const {
  return find_primary_interval * find_primary_attempts;
}

const Member* Array::Find(std::string_view name) const {
  for (const Member& member : members) {
    if (SameName(member.name, name)) return &member;
  }
  return nullptr;
}

Member* Array::Find(std::string_view name) {
  for (Member& member : members) {
    if (SameName(member.name, name)) return &member;
  }
  return nullptr;
}

std::size_t Array::BackendCount() const {
  return static_cast<std::size_t>(std::count_if(members.begin(), members.end(),
                                                [](const Member& m) { return m.roles.backend; }));
}

std::size_t Array::FrontendCount() const {
  return static_cast<std::size_t>(std::count_if(members.begin(), members.end(),
                                                [](const Member& m) { return m.roles.frontend; }));
}

std::string NormalizeName(std::string_view name) {
  name = StripTrailingDot(name);
  std::string normalized(name);
  for (char& c : normalized) c = AsciiLower(c);
  return normalized;
}

bool SameName(std::string_view a, std::string_view b) {
  a = StripTrailingDot(a);
  b = StripTrailingDot(b);
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

std::string_view ToString(PrimaryReturnAction action) {
  switch (action) {
    case PrimaryReturnAction::kAccept:
      return "accept";
    case PrimaryReturnAction::kAcceptSecondary:
      return "acceptsecondary";
    case PrimaryReturnAction::kNone:
      return "none";
  }
  return "accept";
}

std::string_view ToString(ResilienceMode mode) {
  switch (mode) {
    case ResilienceMode::kArray:
      return "array";
    case ResilienceMode::kQuorum:
      return "quorum";
  }
  return "array";
}

}  // namespace arraykit::model
