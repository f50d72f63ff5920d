#include "core/model/array_json.h"

#include <exception>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/model/json_reader.h"
#include "core/status.h"

namespace arraykit::model {
namespace {

using json_internal::AbslView;
using json_internal::Describe;
using json_internal::ExpectArray;
using json_internal::ExpectObject;
using json_internal::FieldError;
using json_internal::FieldPath;
using json_internal::Find;
using json_internal::IndexPath;
using json_internal::Printable;
using json_internal::ReadBool;
using json_internal::ReadInteger;
using json_internal::ReadIntervalSeconds;
using json_internal::ReadString;
using json_internal::RejectUnknownFields;
using json_internal::SecondsToJson;
using nlohmann::json;

// The byte offset at which brackets nest deeper than `max_depth`, or npos. Checked before
// parsing so hostile input cannot make the parser or the value's destructor work arbitrarily deep.
std::size_t FindExcessNesting(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string_view::npos;
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix, printable.
std::string SyntaxErrorDetail(const char* what) {
  std::string_view text(what);
  if (const auto end_of_tag = text.find("] "); end_of_tag != std::string_view::npos) {
    text.remove_prefix(end_of_tag + 2);
  }
  return Printable(text);
}

// Reads optional string `key` of `object` into `out` (absent keeps `out`).
absl::Status ReadOptionalString(const json& object, std::string_view parent, std::string_view key,
                                std::size_t max_length, std::string& out) {
  const json* value = Find(object, key);
  if (value == nullptr) return absl::OkStatus();
  absl::StatusOr<std::string> text = ReadString(*value, FieldPath(parent, key), max_length, true);
  if (!text.ok()) return text.status();
  out = *std::move(text);
  return absl::OkStatus();
}

absl::StatusOr<int> ReadAttempts(const json& value, std::string_view path) {
  absl::StatusOr<std::int64_t> attempts = ReadInteger(value, path, kMinAttempts, kMaxAttempts);
  if (!attempts.ok()) return attempts.status();
  return static_cast<int>(*attempts);
}

// "HH:MM", 00:00 to 23:59, as minutes since midnight.
absl::StatusOr<int> MinuteOfDayFromJson(const json& value, std::string_view path) {
  absl::StatusOr<std::string> text = ReadString(value, path, kMaxFieldLength, false);
  if (!text.ok()) return text.status();
  const std::string& t = *text;
  const auto digit = [&t](std::size_t i) { return t[i] >= '0' && t[i] <= '9'; };
  if (t.size() != 5 || !digit(0) || !digit(1) || t[2] != ':' || !digit(3) || !digit(4)) {
    return FieldError(
        path, absl::StrCat("must be a time \"HH:MM\" (24-hour, UTC), got ", Describe(value)));
  }
  const int hours = (t[0] - '0') * 10 + (t[1] - '0');
  const int minutes = (t[3] - '0') * 10 + (t[4] - '0');
  if (hours > 23 || minutes > 59) {
    return FieldError(
        path, absl::StrCat("must be a time from \"00:00\" to \"23:59\", got ", Describe(value)));
  }
  return hours * 60 + minutes;
}

absl::StatusOr<FailbackWindow> FailbackWindowFromJson(const json& value, std::string_view path) {
  if (absl::Status status = ExpectObject(value, path); !status.ok()) return status;
  if (absl::Status status = RejectUnknownFields(value, path, kFailbackWindowFields); !status.ok()) {
    return status;
  }
  FailbackWindow window;
  for (auto [key, minute] : {std::pair<std::string_view, int*>{"start", &window.start_minute},
                             std::pair<std::string_view, int*>{"end", &window.end_minute}}) {
    const json* field = Find(value, key);
    const std::string field_path = FieldPath(path, key);
    if (field == nullptr) {
      return FieldError(field_path, "required field is missing (a time \"HH:MM\", UTC)");
    }
    absl::StatusOr<int> parsed = MinuteOfDayFromJson(*field, field_path);
    if (!parsed.ok()) return parsed.status();
    *minute = *parsed;
  }
  return window;
}

std::string FormatMinuteOfDay(int minute) {
  const int hours = minute / 60;
  const int minutes = minute % 60;
  return absl::StrCat(hours < 10 ? "0" : "", hours, ":", minutes < 10 ? "0" : "", minutes);
}

}  // namespace

namespace {

// Watches the parser's events for a key given twice in one object (nlohmann keeps the last one
// silently) and remembers the first such key's path.
class DuplicateKeyWatch {
 public:
  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        frames_.emplace_back().is_object = true;
        break;
      case json::parse_event_t::array_start:
        frames_.emplace_back().is_object = false;
        break;
      case json::parse_event_t::key: {
        Frame& object = frames_.back();
        object.key = parsed.get<std::string>();
        if (!object.keys.insert(object.key).second && duplicate_.empty()) duplicate_ = Path();
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        CountArrayElement();
        break;
      case json::parse_event_t::value:
        CountArrayElement();
        break;
    }
    return true;
  }

  // The path of the first repeated key ("members[1].name"), or "" when there was none.
  const std::string& duplicate() const { return duplicate_; }

 private:
  struct Frame {
    bool is_object = false;
    std::string key;
    std::size_t index = 0;
    absl::flat_hash_set<std::string> keys;
  };

  void CountArrayElement() {
    if (!frames_.empty() && !frames_.back().is_object) ++frames_.back().index;
  }

  std::string Path() const {
    std::string path;
    for (const Frame& frame : frames_) {
      path = frame.is_object ? FieldPath(path, Printable(frame.key)) : IndexPath(path, frame.index);
    }
    return path;
  }

  std::vector<Frame> frames_;
  std::string duplicate_;
};

}  // namespace

absl::StatusOr<json> ParseJsonDocument(std::string_view text, std::string_view what,
                                       const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return MakeError(absl::StatusCode::kInvalidArgument, "too_large",
                     absl::StrCat(AbslView(what), ": the document is ", text.size(),
                                  " bytes; at most ", limits.max_bytes, " bytes are accepted"));
  }
  if (const std::size_t at = FindExcessNesting(text, limits.max_depth);
      at != std::string_view::npos) {
    return MakeError(absl::StatusCode::kInvalidArgument, "too_deep",
                     absl::StrCat(AbslView(what), ": JSON nests deeper than ", limits.max_depth,
                                  " levels at byte ", at));
  }
  // The parser reports the byte offset only through its exception; it is caught here and never
  // leaves the core.
  DuplicateKeyWatch watch;
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), std::ref(watch));
  } catch (const json::parse_error& e) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_json",
                     absl::StrCat(AbslView(what), ": not valid JSON (byte ", e.byte,
                                  "): ", SyntaxErrorDetail(e.what())));
  } catch (const std::exception& e) {
    return MakeError(
        absl::StatusCode::kInvalidArgument, "invalid_json",
        absl::StrCat(AbslView(what), ": not valid JSON: ", SyntaxErrorDetail(e.what())));
  }
  if (!watch.duplicate().empty()) {
    return MakeError(absl::StatusCode::kInvalidArgument, "duplicate_key",
                     absl::StrCat(AbslView(what), ": ", watch.duplicate(),
                                  ": the key appears more than once in its object"));
  }
  return doc;
}

absl::StatusOr<Roles> RolesFromJson(const json& value, std::string_view path) {
  if (absl::Status status = ExpectArray(value, path, kMaxMembers); !status.ok()) return status;
  Roles roles;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string role_path = IndexPath(path, i);
    absl::StatusOr<std::string> role = ReadString(value[i], role_path, kMaxFieldLength, false);
    if (!role.ok()) return role.status();
    bool* slot = nullptr;
    if (*role == "frontend") {
      slot = &roles.frontend;
    } else if (*role == "backend") {
      slot = &roles.backend;
    } else {
      return FieldError(role_path, absl::StrCat("must be one of \"frontend\", \"backend\", got ",
                                                Describe(value[i])));
    }
    if (*slot) return FieldError(role_path, absl::StrCat("role \"", *role, "\" is listed twice"));
    *slot = true;
  }
  return roles;
}

absl::StatusOr<Member> MemberFromJson(const json& doc, std::string_view path) {
  return MemberFromJson(doc, path, kMemberFields);
}

absl::StatusOr<Member> MemberFromJson(const json& doc, std::string_view path,
                                      std::span<const std::string_view> known) {
  if (absl::Status status = ExpectObject(doc, path); !status.ok()) return status;
  if (absl::Status status = RejectUnknownFields(doc, path, known); !status.ok()) return status;
  Member member;
  const json* name = Find(doc, "name");
  if (name == nullptr) {
    return FieldError(FieldPath(path, "name"),
                      "required field is missing (the member's peer DNS name)");
  }
  absl::StatusOr<std::string> name_text =
      ReadString(*name, FieldPath(path, "name"), kMaxNameLength, false);
  if (!name_text.ok()) return name_text.status();
  member.name = *std::move(name_text);

  if (const json* roles = Find(doc, "roles"); roles != nullptr) {
    absl::StatusOr<Roles> parsed = RolesFromJson(*roles, FieldPath(path, "roles"));
    if (!parsed.ok()) return parsed.status();
    member.roles = *parsed;
  }
  for (auto [key, field] :
       {std::pair<std::string_view, std::string*>{"rack", &member.rack},
        std::pair<std::string_view, std::string*>{"power", &member.power},
        std::pair<std::string_view, std::string*>{"address", &member.address},
        std::pair<std::string_view, std::string*>{"version", &member.version}}) {
    if (absl::Status status = ReadOptionalString(doc, path, key, kMaxFieldLength, *field);
        !status.ok()) {
      return status;
    }
  }
  if (const json* address_static = Find(doc, "address_static"); address_static != nullptr) {
    absl::StatusOr<bool> parsed = ReadBool(*address_static, FieldPath(path, "address_static"));
    if (!parsed.ok()) return parsed.status();
    member.address_static = *parsed;
  }
  return member;
}

absl::StatusOr<Resilience> ResilienceFromJson(const json& doc, std::string_view path,
                                              const Resilience& base) {
  if (absl::Status status = ExpectObject(doc, path); !status.ok()) return status;
  if (absl::Status status = RejectUnknownFields(doc, path, kResilienceFields); !status.ok()) {
    return status;
  }
  Resilience resilience = base;
  if (const json* value = Find(doc, "failover_enabled"); value != nullptr) {
    absl::StatusOr<bool> parsed = ReadBool(*value, FieldPath(path, "failover_enabled"));
    if (!parsed.ok()) return parsed.status();
    resilience.failover_enabled = *parsed;
  }
  for (auto [key, interval] : {std::pair<std::string_view, absl::Duration*>{
                                   "monitor_interval_s", &resilience.monitor_interval},
                               std::pair<std::string_view, absl::Duration*>{
                                   "find_primary_interval_s", &resilience.find_primary_interval}}) {
    const json* value = Find(doc, key);
    if (value == nullptr) continue;
    absl::StatusOr<absl::Duration> parsed = ReadIntervalSeconds(*value, FieldPath(path, key));
    if (!parsed.ok()) return parsed.status();
    *interval = *parsed;
  }
  for (auto [key, attempts] :
       {std::pair<std::string_view, int*>{"monitor_attempts", &resilience.monitor_attempts},
        std::pair<std::string_view, int*>{"find_primary_attempts",
                                          &resilience.find_primary_attempts}}) {
    const json* value = Find(doc, key);
    if (value == nullptr) continue;
    absl::StatusOr<int> parsed = ReadAttempts(*value, FieldPath(path, key));
    if (!parsed.ok()) return parsed.status();
    *attempts = *parsed;
  }
  if (const json* value = Find(doc, "primary_return_action"); value != nullptr) {
    const std::string field_path = FieldPath(path, "primary_return_action");
    absl::StatusOr<std::string> text = ReadString(*value, field_path, kMaxFieldLength, false);
    if (!text.ok()) return text.status();
    if (*text == "accept") {
      resilience.primary_return_action = PrimaryReturnAction::kAccept;
    } else if (*text == "acceptsecondary") {
      resilience.primary_return_action = PrimaryReturnAction::kAcceptSecondary;
    } else if (*text == "none") {
      resilience.primary_return_action = PrimaryReturnAction::kNone;
    } else {
      return FieldError(
          field_path, absl::StrCat("must be one of \"accept\", \"acceptsecondary\", \"none\", got ",
                                   Describe(*value)));
    }
  }
  if (const json* value = Find(doc, "mode"); value != nullptr) {
    const std::string field_path = FieldPath(path, "mode");
    absl::StatusOr<std::string> text = ReadString(*value, field_path, kMaxFieldLength, false);
    if (!text.ok()) return text.status();
    if (*text == "array") {
      resilience.mode = ResilienceMode::kArray;
    } else if (*text == "quorum") {
      resilience.mode = ResilienceMode::kQuorum;
    } else {
      return FieldError(
          field_path, absl::StrCat("must be one of \"array\", \"quorum\", got ", Describe(*value)));
    }
  }
  // An explicit null clears the window (fail back immediately); an absent key keeps `base`'s.
  if (auto it = doc.find("failback_window"); it != doc.end()) {
    if (it->is_null()) {
      resilience.failback_window.reset();
    } else {
      absl::StatusOr<FailbackWindow> window =
          FailbackWindowFromJson(*it, FieldPath(path, "failback_window"));
      if (!window.ok()) return window.status();
      resilience.failback_window = *window;
    }
  }
  return resilience;
}

absl::StatusOr<Array> ArrayFromJson(const json& doc, std::string_view path) {
  if (absl::Status status = ExpectObject(doc, path.empty() ? "array description" : path);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = RejectUnknownFields(doc, path, kArrayFields); !status.ok()) {
    return status;
  }
  Array array;
  const std::string members_path = FieldPath(path, "members");
  const json* members = Find(doc, "members");
  if (members == nullptr) {
    return FieldError(members_path, "required field is missing (an array of member objects)");
  }
  if (!members->is_array()) {
    return FieldError(members_path,
                      absl::StrCat("must be an array of member objects, got ", Describe(*members)));
  }
  if (members->empty()) return FieldError(members_path, "must list at least one member");
  if (members->size() > kMaxMembers) {
    return FieldError(
        members_path,
        absl::StrCat("at most ", kMaxMembers, " members are accepted, got ", members->size(),
                     " (placement allows ", kPlacementMemberLimit, " per array)"));
  }
  array.members.reserve(members->size());
  for (std::size_t i = 0; i < members->size(); ++i) {
    absl::StatusOr<Member> member = MemberFromJson((*members)[i], IndexPath(members_path, i));
    if (!member.ok()) return member.status();
    array.members.push_back(*std::move(member));
  }

  const std::string primary_path = FieldPath(path, "primary");
  if (const json* primary = Find(doc, "primary"); primary != nullptr) {
    absl::StatusOr<std::string> name = ReadString(*primary, primary_path, kMaxNameLength, false);
    if (!name.ok()) return name.status();
    // Everything else about an array refers to its primary, so a primary that is not a member
    // is a broken document, not a placement finding.
    if (array.Find(*name) == nullptr) {
      return FieldError(primary_path,
                        absl::StrCat("must name a member of the array, got ", Describe(*primary)));
    }
    array.primary = *std::move(name);
  } else if (array.members.size() == 1) {
    array.primary = array.members.front().name;  // a standalone member is its own primary
  } else {
    return FieldError(primary_path,
                      "required field is missing (the name of the primary member; required "
                      "when the array has more than one member)");
  }

  const std::string backup_path = FieldPath(path, "backup_primaries");
  if (const json* backups = Find(doc, "backup_primaries"); backups != nullptr) {
    if (absl::Status status = ExpectArray(*backups, backup_path, kMaxMembers); !status.ok()) {
      return status;
    }
    // Names that are not secondaries of this array are `bad_backup_list` findings, so the
    // operator sees every problem of the list at once instead of one parse error.
    for (std::size_t i = 0; i < backups->size(); ++i) {
      absl::StatusOr<std::string> name =
          ReadString((*backups)[i], IndexPath(backup_path, i), kMaxNameLength, false);
      if (!name.ok()) return name.status();
      array.backup_primaries.push_back(*std::move(name));
    }
  } else {
    // The seed appends every secondary that joins to the list: absent means all secondaries in
    // member order.
    for (const Member& member : array.members) {
      if (!SameName(member.name, array.primary)) array.backup_primaries.push_back(member.name);
    }
  }

  if (const json* resilience = Find(doc, "resilience"); resilience != nullptr) {
    absl::StatusOr<Resilience> parsed =
        ResilienceFromJson(*resilience, FieldPath(path, "resilience"));
    if (!parsed.ok()) return parsed.status();
    array.resilience = *parsed;
  }
  return array;
}

absl::StatusOr<Array> ArrayFromJsonText(std::string_view text) {
  absl::StatusOr<json> doc = ParseJsonDocument(text, "array description");
  if (!doc.ok()) return doc.status();
  return ArrayFromJson(*doc);
}

json ToJson(const Member& member) {
  json roles = json::array();
  if (member.roles.frontend) roles.push_back("frontend");
  if (member.roles.backend) roles.push_back("backend");
  return json{{"name", member.name},       {"roles", std::move(roles)},
              {"rack", member.rack},       {"power", member.power},
              {"address", member.address}, {"address_static", member.address_static},
              {"version", member.version}};
}

json ToJson(const Resilience& resilience) {
  json out{{"failover_enabled", resilience.failover_enabled},
           {"monitor_interval_s", SecondsToJson(resilience.monitor_interval)},
           {"monitor_attempts", resilience.monitor_attempts},
           {"find_primary_interval_s", SecondsToJson(resilience.find_primary_interval)},
           {"find_primary_attempts", resilience.find_primary_attempts},
           {"primary_return_action", std::string(ToString(resilience.primary_return_action))},
           {"mode", std::string(ToString(resilience.mode))}};
  if (resilience.failback_window.has_value()) {
    out["failback_window"] = {
        {"start", FormatMinuteOfDay(resilience.failback_window->start_minute)},
        {"end", FormatMinuteOfDay(resilience.failback_window->end_minute)}};
  }
  return out;
}

json ToJson(const Array& array) {
  json members = json::array();
  for (const Member& member : array.members) members.push_back(ToJson(member));
  return json{{"members", std::move(members)},
              {"primary", array.primary},
              {"backup_primaries", array.backup_primaries},
              {"resilience", ToJson(array.resilience)}};
}

}  // namespace arraykit::model
