#include "store/hard_state_json.h"

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/model/array.h"
#include "core/model/array_json.h"
#include "core/model/json_reader.h"

namespace arraykit::store {
namespace {

using model::json_internal::Describe;
using model::json_internal::ExpectArray;
using model::json_internal::ExpectObjectWith;
using model::json_internal::FieldError;
using model::json_internal::FieldPath;
using model::json_internal::Find;
using model::json_internal::IndexPath;
using model::json_internal::ReadBool;
using model::json_internal::ReadInteger;
using model::json_internal::ReadString;
using nlohmann::json;

constexpr std::size_t kMaxListItems = failover::kMaxFormationMembers;

// The value of a required field, or an error naming it.
absl::StatusOr<const json*> Required(const json& object, std::string_view path,
                                     std::string_view key) {
  const json* value = Find(object, key);
  if (value == nullptr) return FieldError(FieldPath(path, key), "required field is missing");
  return value;
}

absl::StatusOr<std::uint64_t> ReadUint64(const json& value, std::string_view path) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(value.get<std::int64_t>());
  }
  return FieldError(path, absl::StrCat("must be an integer in [0, 2^64), got ", Describe(value)));
}

absl::StatusOr<std::vector<std::string>> ReadNames(const json& value, std::string_view path) {
  if (absl::Status status = ExpectArray(value, path, kMaxListItems); !status.ok()) return status;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < value.size(); ++i) {
    absl::StatusOr<std::string> name =
        ReadString(value[i], IndexPath(path, i), model::kMaxNameLength, false);
    if (!name.ok()) return name.status();
    names.push_back(*std::move(name));
  }
  return names;
}

// Field readers that fill `out` from a required field of `object`.
absl::Status ReadNamesField(const json& object, std::string_view path, std::string_view key,
                            std::vector<std::string>* out) {
  absl::StatusOr<const json*> value = Required(object, path, key);
  if (!value.ok()) return value.status();
  absl::StatusOr<std::vector<std::string>> names = ReadNames(**value, FieldPath(path, key));
  if (!names.ok()) return names.status();
  *out = *std::move(names);
  return absl::OkStatus();
}

absl::Status ReadNameField(const json& object, std::string_view path, std::string_view key,
                           std::string* out) {
  absl::StatusOr<const json*> value = Required(object, path, key);
  if (!value.ok()) return value.status();
  absl::StatusOr<std::string> name =
      ReadString(**value, FieldPath(path, key), model::kMaxNameLength, true);
  if (!name.ok()) return name.status();
  *out = *std::move(name);
  return absl::OkStatus();
}

absl::Status ReadUint64Field(const json& object, std::string_view path, std::string_view key,
                             std::uint64_t* out) {
  absl::StatusOr<const json*> value = Required(object, path, key);
  if (!value.ok()) return value.status();
  absl::StatusOr<std::uint64_t> number = ReadUint64(**value, FieldPath(path, key));
  if (!number.ok()) return number.status();
  *out = *number;
  return absl::OkStatus();
}

absl::Status ReadBoolField(const json& object, std::string_view path, std::string_view key,
                           bool* out) {
  absl::StatusOr<const json*> value = Required(object, path, key);
  if (!value.ok()) return value.status();
  absl::StatusOr<bool> flag = ReadBool(**value, FieldPath(path, key));
  if (!flag.ok()) return flag.status();
  *out = *flag;
  return absl::OkStatus();
}

}  // namespace

json FormationToJson(const failover::Formation& formation) {
  return json{{"primary", formation.primary},
              {"members", formation.members},
              {"backup_primaries", formation.backup_primaries},
              {"voters", formation.voters},
              {"resilience", model::ToJson(formation.resilience)},
              {"version", formation.version}};
}

absl::StatusOr<failover::Formation> FormationFromJson(const json& doc, std::string_view path) {
  if (absl::Status status = ExpectObjectWith(
          doc, path, {"primary", "members", "backup_primaries", "voters", "resilience", "version"});
      !status.ok()) {
    return status;
  }
  failover::Formation formation;
  absl::Status status = ReadNameField(doc, path, "primary", &formation.primary);
  if (status.ok()) status = ReadNamesField(doc, path, "members", &formation.members);
  if (status.ok()) {
    status = ReadNamesField(doc, path, "backup_primaries", &formation.backup_primaries);
  }
  if (status.ok()) status = ReadNamesField(doc, path, "voters", &formation.voters);
  if (status.ok()) status = ReadUint64Field(doc, path, "version", &formation.version);
  if (!status.ok()) return status;

  absl::StatusOr<const json*> resilience = Required(doc, path, "resilience");
  if (!resilience.ok()) return resilience.status();
  const std::string resilience_path = FieldPath(path, "resilience");
  // Stored state names every setting: none may fall back to a default silently.
  if ((*resilience)->is_object()) {
    for (std::string_view key : model::kResilienceFields) {
      if (key == "failback_window") continue;  // optional: absent = fail back immediately
      absl::StatusOr<const json*> field = Required(**resilience, resilience_path, key);
      if (!field.ok()) return field.status();
    }
  }
  absl::StatusOr<model::Resilience> parsed =
      model::ResilienceFromJson(**resilience, resilience_path);
  if (!parsed.ok()) return parsed.status();
  formation.resilience = *parsed;
  return formation;
}

json HardStateToJson(const failover::HardState& state) {
  return json{
      {"formation", FormationToJson(state.formation)},
      {"epoch", state.epoch},
      {"uncontactable", state.uncontactable},
      {"original", state.original.has_value() ? FormationToJson(*state.original) : json(nullptr)},
      {"repaired", state.repaired},
      {"manual_recovery_required", state.manual_recovery_required},
      {"recovery_declined", state.recovery_declined},
      {"voted_epoch", state.voted_epoch},
      {"voted_for", state.voted_for},
      {"promise_to", state.promise_to},
      {"promise_until_ns", absl::ToInt64Nanoseconds(state.promise_until)},
      {"log", json{{"epoch", state.log.epoch}, {"index", state.log.index}}}};
}

absl::StatusOr<failover::HardState> HardStateFromJson(const json& doc, std::string_view path) {
  if (absl::Status status =
          ExpectObjectWith(doc, path,
                           {"formation", "epoch", "uncontactable", "original", "repaired",
                            "manual_recovery_required", "recovery_declined", "voted_epoch",
                            "voted_for", "promise_to", "promise_until_ns", "log"});
      !status.ok()) {
    return status;
  }
  failover::HardState state;
  absl::StatusOr<const json*> formation = Required(doc, path, "formation");
  if (!formation.ok()) return formation.status();
  absl::StatusOr<failover::Formation> parsed =
      FormationFromJson(**formation, FieldPath(path, "formation"));
  if (!parsed.ok()) return parsed.status();
  state.formation = *std::move(parsed);

  if (const json* original = Find(doc, "original"); original != nullptr) {
    absl::StatusOr<failover::Formation> parsed_original =
        FormationFromJson(*original, FieldPath(path, "original"));
    if (!parsed_original.ok()) return parsed_original.status();
    state.original = *std::move(parsed_original);
  }

  absl::Status status = ReadUint64Field(doc, path, "epoch", &state.epoch);
  if (status.ok()) status = ReadNamesField(doc, path, "uncontactable", &state.uncontactable);
  if (status.ok()) status = ReadBoolField(doc, path, "repaired", &state.repaired);
  if (status.ok()) {
    status = ReadBoolField(doc, path, "manual_recovery_required", &state.manual_recovery_required);
  }
  if (status.ok()) status = ReadBoolField(doc, path, "recovery_declined", &state.recovery_declined);
  if (status.ok()) status = ReadUint64Field(doc, path, "voted_epoch", &state.voted_epoch);
  if (status.ok()) status = ReadNameField(doc, path, "voted_for", &state.voted_for);
  if (status.ok()) status = ReadNameField(doc, path, "promise_to", &state.promise_to);
  if (!status.ok()) return status;

  absl::StatusOr<const json*> promise = Required(doc, path, "promise_until_ns");
  if (!promise.ok()) return promise.status();
  absl::StatusOr<std::int64_t> promise_ns = ReadInteger(
      **promise, FieldPath(path, "promise_until_ns"), std::numeric_limits<std::int64_t>::min(),
      std::numeric_limits<std::int64_t>::max());
  if (!promise_ns.ok()) return promise_ns.status();
  state.promise_until = absl::Nanoseconds(*promise_ns);

  absl::StatusOr<const json*> log = Required(doc, path, "log");
  if (!log.ok()) return log.status();
  const std::string log_path = FieldPath(path, "log");
  status = ExpectObjectWith(**log, log_path, {"epoch", "index"});
  if (status.ok()) status = ReadUint64Field(**log, log_path, "epoch", &state.log.epoch);
  if (status.ok()) status = ReadUint64Field(**log, log_path, "index", &state.log.index);
  if (!status.ok()) return status;
  return state;
}

std::string HardStateToText(const failover::HardState& state) {
  return HardStateToJson(state).dump();
}

absl::StatusOr<failover::HardState> HardStateFromText(std::string_view text) {
  absl::StatusOr<json> doc = model::ParseJsonDocument(text, "hard_state");
  if (!doc.ok()) return doc.status();
  return HardStateFromJson(*doc);
}

}  // namespace arraykit::store
