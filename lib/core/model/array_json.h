// JSON in/out for the array description of DESIGN.md §3.
//
// Parsing never throws and never crashes: every problem is INVALID_ARGUMENT with a message that
// names the field by its path (e.g. `members[3].roles[1]`) and the rule it breaks.
#ifndef ARRAYKIT_CORE_MODEL_ARRAY_JSON_H_
#define ARRAYKIT_CORE_MODEL_ARRAY_JSON_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/model/array.h"
#include "nlohmann/json.hpp"

namespace arraykit::model {

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
// A role list: ["frontend"], ["backend"], both, or []; unknown and repeated roles are errors.
absl::StatusOr<Roles> RolesFromJson(const nlohmann::json& doc, std::string_view path);

nlohmann::json ToJson(const Array& array);
nlohmann::json ToJson(const Member& member);
nlohmann::json ToJson(const Resilience& resilience);

}  // namespace arraykit::model

#endif  // ARRAYKIT_CORE_MODEL_ARRAY_JSON_H_
