// Change validation: apply a proposed change to a copy of the array, check the result and say
// whether it reconfigures the cluster with a service disruption (the seeds' add-node flow:
// validate, show, confirm).
#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/model/array_json.h"
#include "core/model/json_reader.h"
#include "core/placement/placement.h"

namespace arraykit::placement {
namespace {

using model::Array;
using model::Member;
using model::json_internal::AbslView;
using model::json_internal::Describe;
using model::json_internal::ExpectArray;
using model::json_internal::ExpectObject;
using model::json_internal::FieldError;
using model::json_internal::Find;
using model::json_internal::IndexPath;
using model::json_internal::Quoted;
using model::json_internal::ReadString;
using model::json_internal::RejectUnknownFields;
using nlohmann::json;

// set_roles["boston.example.com"]: names hold dots, so they are not written as a.b.c paths.
std::string SetRolesPath(std::string_view name) {
  return absl::StrCat("set_roles[", Quoted(name), "]");
}

absl::StatusOr<std::vector<std::string>> NameListFromJson(const json& value,
                                                          std::string_view path) {
  if (absl::Status status = ExpectArray(value, path, model::kMaxMembers); !status.ok()) {
    return status;
  }
  std::vector<std::string> names;
  for (std::size_t i = 0; i < value.size(); ++i) {
    absl::StatusOr<std::string> name =
        ReadString(value[i], IndexPath(path, i), model::kMaxNameLength, false);
    if (!name.ok()) return name.status();
    names.push_back(*std::move(name));
  }
  return names;
}

std::set<std::string> BackendSet(const Array& array) {
  std::set<std::string> names;
  for (const Member& member : array.members) {
    if (member.roles.backend) names.insert(model::NormalizeName(member.name));
  }
  return names;
}

void RemoveFromList(std::vector<std::string>& list, std::string_view name) {
  list.erase(
      std::remove_if(list.begin(), list.end(),
                     [name](const std::string& entry) { return model::SameName(entry, name); }),
      list.end());
}

// Why the change disrupts service, for the operator; empty = no disruption.
std::vector<std::string> DisruptionReasons(const Array& before, const Array& after) {
  std::vector<std::string> reasons;
  const std::set<std::string> old_backends = BackendSet(before);
  const std::set<std::string> new_backends = BackendSet(after);
  if (old_backends != new_backends) {
    if (old_backends.size() != new_backends.size()) {
      reasons.push_back(absl::StrCat("back-ends change from ", old_backends.size(), " to ",
                                     new_backends.size(),
                                     ": the back-end service is reconfigured across the array, "
                                     "with a service disruption; do not reboot members meanwhile"));
    } else {
      reasons.push_back(absl::StrCat("the set of back-ends changes (still ", new_backends.size(),
                                     "): the back-end service is reconfigured, with a service "
                                     "disruption; do not reboot members meanwhile"));
    }
    for (const Member& member : before.members) {
      const std::string key = model::NormalizeName(member.name);
      if (!old_backends.contains(key) || new_backends.contains(key)) continue;
      reasons.push_back(after.Find(member.name) == nullptr
                            ? absl::StrCat("back-end ", member.name, " leaves the array")
                            : absl::StrCat(member.name, " loses the back-end role"));
    }
    for (const Member& member : after.members) {
      const std::string key = model::NormalizeName(member.name);
      if (old_backends.contains(key) || !new_backends.contains(key)) continue;
      reasons.push_back(before.Find(member.name) == nullptr
                            ? absl::StrCat(member.name, " joins the array as a back-end")
                            : absl::StrCat(member.name, " gains the back-end role"));
    }
  }
  if (!model::SameName(before.primary, after.primary)) {
    reasons.push_back(absl::StrCat("the primary changes from ", before.primary, " to ",
                                   after.primary,
                                   ": the new primary becomes the array's CA and every peer "
                                   "certificate is reissued"));
  }
  return reasons;
}

}  // namespace

absl::StatusOr<Change> ChangeFromJson(const json& doc, const Array& current) {
  if (absl::Status status = ExpectObject(doc, "change"); !status.ok()) return status;
  // Paths in a change start at its fields ("add[0].name"), so unknown ones do too.
  if (absl::Status status = RejectUnknownFields(
          doc, "", {"add", "remove", "set_roles", "primary", "backup_primaries", "resilience"});
      !status.ok()) {
    return status;
  }
  Change change;
  if (const json* add = Find(doc, "add"); add != nullptr) {
    if (absl::Status status = ExpectArray(*add, "add", model::kMaxMembers); !status.ok()) {
      return status;
    }
    for (std::size_t i = 0; i < add->size(); ++i) {
      absl::StatusOr<Member> member = model::MemberFromJson((*add)[i], IndexPath("add", i));
      if (!member.ok()) return member.status();
      change.add.push_back(*std::move(member));
    }
  }
  if (const json* remove = Find(doc, "remove"); remove != nullptr) {
    absl::StatusOr<std::vector<std::string>> names = NameListFromJson(*remove, "remove");
    if (!names.ok()) return names.status();
    change.remove = *std::move(names);
  }
  if (const json* set_roles = Find(doc, "set_roles"); set_roles != nullptr) {
    if (!set_roles->is_object()) {
      return FieldError("set_roles", absl::StrCat("must be an object mapping member names to "
                                                  "role lists, got ",
                                                  Describe(*set_roles)));
    }
    if (set_roles->size() > model::kMaxMembers) {
      return FieldError("set_roles", absl::StrCat("must have at most ", model::kMaxMembers,
                                                  " entries, got ", set_roles->size()));
    }
    for (const auto& [name, roles] : set_roles->items()) {
      const std::string path = SetRolesPath(name);
      if (absl::StatusOr<std::string> checked =
              ReadString(json(name), path, model::kMaxNameLength, false);
          !checked.ok()) {
        return checked.status();
      }
      absl::StatusOr<model::Roles> parsed = model::RolesFromJson(roles, path);
      if (!parsed.ok()) return parsed.status();
      change.set_roles.emplace_back(name, *parsed);
    }
  }
  if (const json* primary = Find(doc, "primary"); primary != nullptr) {
    absl::StatusOr<std::string> name =
        ReadString(*primary, "primary", model::kMaxNameLength, false);
    if (!name.ok()) return name.status();
    change.primary = *std::move(name);
  }
  if (const json* backups = Find(doc, "backup_primaries"); backups != nullptr) {
    absl::StatusOr<std::vector<std::string>> names = NameListFromJson(*backups, "backup_primaries");
    if (!names.ok()) return names.status();
    change.backup_primaries = *std::move(names);
  }
  if (const json* resilience = Find(doc, "resilience"); resilience != nullptr) {
    absl::StatusOr<model::Resilience> parsed =
        model::ResilienceFromJson(*resilience, "resilience", current.resilience);
    if (!parsed.ok()) return parsed.status();
    change.resilience = *std::move(parsed);
  }
  return change;
}

absl::StatusOr<ChangeResult> PlanChange(const Array& current, const Change& change) {
  Array next = current;

  // 1. remove — the seed drops a removed secondary's entry from the backup list.
  std::set<std::string> removed;
  for (std::size_t i = 0; i < change.remove.size(); ++i) {
    const std::string& name = change.remove[i];
    const std::string path = IndexPath("remove", i);
    if (!removed.insert(model::NormalizeName(name)).second) {
      return FieldError(path, absl::StrCat(Quoted(name), " is listed twice"));
    }
    const Member* member = next.Find(name);
    if (member == nullptr) {
      return absl::NotFoundError(
          absl::StrCat(path, ": no member named ", Quoted(name), " in the array"));
    }
    if (model::SameName(name, current.primary) && !change.primary.has_value()) {
      return FieldError(path, absl::StrCat(Quoted(name),
                                           " is the primary; name a new primary in \"primary\" "
                                           "to remove it"));
    }
    const std::string written = member->name;
    next.members.erase(std::remove_if(next.members.begin(), next.members.end(),
                                      [&written](const Member& m) { return m.name == written; }),
                       next.members.end());
    RemoveFromList(next.backup_primaries, name);
  }

  // 2. add — "If you add a secondary server to the array, an entry is added at the end of the
  // list" (seed); an explicit backup list in the same change replaces that.
  for (std::size_t i = 0; i < change.add.size(); ++i) {
    const Member& member = change.add[i];
    if (next.Find(member.name) != nullptr) {
      return FieldError(IndexPath("add", i) + ".name",
                        absl::StrCat(Quoted(member.name), " is already a member of the array"));
    }
    next.members.push_back(member);
    next.backup_primaries.push_back(member.name);
  }

  // 3. set_roles
  std::set<std::string> role_changes;
  for (const auto& [name, roles] : change.set_roles) {
    const std::string path = SetRolesPath(name);
    if (!role_changes.insert(model::NormalizeName(name)).second) {
      return FieldError(path, "the member is named twice (names compare case-insensitively)");
    }
    Member* member = next.Find(name);
    if (member == nullptr) {
      return absl::NotFoundError(
          absl::StrCat(path, ": no member named ", Quoted(name), " in the array"));
    }
    member->roles = roles;
  }

  // 4. primary — the new primary leaves the backup list; the old one, now a secondary, is
  // appended like any secondary that joins.
  if (change.primary.has_value()) {
    const Member* target = next.Find(*change.primary);
    if (target == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("primary: no member named ", Quoted(*change.primary), " in the array"));
    }
    if (!model::SameName(target->name, next.primary)) {
      const std::string old_primary = next.primary;
      next.primary = target->name;
      RemoveFromList(next.backup_primaries, next.primary);
      if (next.Find(old_primary) != nullptr) next.backup_primaries.push_back(old_primary);
    }
  }

  // 5. backup_primaries — replaces the list; problems in it are `bad_backup_list` findings.
  if (change.backup_primaries.has_value()) next.backup_primaries = *change.backup_primaries;

  // 6. resilience
  if (change.resilience.has_value()) next.resilience = *change.resilience;

  if (next.members.empty()) {
    return FieldError("remove", "the change removes every member of the array");
  }
  if (next.members.size() > model::kMaxMembers) {
    return FieldError(
        "add", absl::StrCat("the array would have ", next.members.size(), " members; at most ",
                            model::kMaxMembers, " are accepted"));
  }

  ChangeResult result;
  result.findings = Check(next);
  result.disruption_reasons = DisruptionReasons(current, next);
  result.disruption = !result.disruption_reasons.empty();
  result.array = std::move(next);
  return result;
}

}  // namespace arraykit::placement
