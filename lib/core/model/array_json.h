// JSON in/out for the array description of DESIGN.md §3.
//
// Parsing never throws and never crashes: every problem is INVALID_ARGUMENT with a message that
// names the field by its path (e.g. `members[3].roles[1]`) and the rule it breaks. Documents are
// strict: a field that is not listed below is refused with reason `unknown_field` and the
// nearest known name, and everything ToJson writes is a known field (docs/placement.md).
#ifndef ARRAYKIT_CORE_MODEL_ARRAY_JSON_H_
#define ARRAYKIT_CORE_MODEL_ARRAY_JSON_H_

#include <array>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/model/array.h"
#include "nlohmann/json.hpp"

namespace arraykit::model {

// The fields of each object of an array description, as ToJson writes them.
inline constexpr std::array<std::string_view, 4> kArrayFields = {"members", "primary",
                                                                 "backup_primaries", "resilience"};
inline constexpr std::array<std::string_view, 7> kMemberFields = {
    "name", "roles", "rack", "power", "address", "address_static", "version"};
inline constexpr std::array<std::string_view, 8> kResilienceFields = {"failover_enabled",
                                                                      "monitor_interval_s",
                                                                      "monitor_attempts",
                                                                      "find_primary_interval_s",
                                                                      "find_primary_attempts",
                                                                      "primary_return_action",
                                                                      "mode",
                                                                      "failback_window"};
inline constexpr std::array<std::string_view, 2> kFailbackWindowFields = {"start", "end"};

// Bounds checked before a document is parsed, so hostile input cannot make the parser work
// arbitrarily hard or deep. The defaults are those of every input document.
struct JsonLimits {
  std::size_t max_bytes = kMaxDocumentBytes;
  std::size_t max_depth = kMaxNestingDepth;
};

// Parses UTF-8 JSON text within `limits` into a JSON value; the error names `what` (e.g.
// "array description") and the byte offset of a syntax error.
absl::StatusOr<nlohmann::json> ParseJsonDocument(std::string_view text, std::string_view what,
                                                 const JsonLimits& limits = {});

// Parses an array description. `path` prefixes field names in error messages, so a description
// embedded in a larger document (a scenario, a change) reports e.g. `array.members[0].name`.
absl::StatusOr<Array> ArrayFromJson(const nlohmann::json& doc, std::string_view path = "");
absl::StatusOr<Array> ArrayFromJsonText(std::string_view text);

// Resilience settings alone (all fields optional; absent fields keep `base`'s values).
absl::StatusOr<Resilience> ResilienceFromJson(const nlohmann::json& doc, std::string_view path,
                                              const Resilience& base = Resilience{});
absl::StatusOr<Member> MemberFromJson(const nlohmann::json& doc, std::string_view path);
// MemberFromJson for documents whose member objects carry fields of their own (an inventory's
// `capacity`): `known` lists every field accepted in the object; the member's own are read.
absl::StatusOr<Member> MemberFromJson(const nlohmann::json& doc, std::string_view path,
                                      std::span<const std::string_view> known);
// A role list: ["frontend"], ["backend"], both, or []; unknown and repeated roles are errors.
absl::StatusOr<Roles> RolesFromJson(const nlohmann::json& doc, std::string_view path);

nlohmann::json ToJson(const Array& array);
nlohmann::json ToJson(const Member& member);
nlohmann::json ToJson(const Resilience& resilience);

}  // namespace arraykit::model

#endif  // ARRAYKIT_CORE_MODEL_ARRAY_JSON_H_
