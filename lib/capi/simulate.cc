// C ABI: the deterministic failover simulator (translation only; semantics live in core/sim).
#include <cstddef>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "arraykit/arraykit.h"
#include "capi/guard.h"
#include "core/model/array_json.h"
#include "core/sim/simulate.h"

namespace arraykit::capi {
namespace {

namespace model = arraykit::model;

// A result document carries up to 100,000 timeline entries, far more than the 1 MiB accepted
// for input documents, so rendering has its own, larger bound.
constexpr std::size_t kMaxResultBytes = std::size_t{64} << 20;  // 64 MiB
// Results nest four levels deep; anything much deeper is not a result and is refused unparsed.
constexpr std::size_t kMaxResultNesting = 16;

absl::StatusOr<nlohmann::json> ParseResult(std::string_view text) {
  absl::StatusOr<nlohmann::json> parsed =
      model::ParseJsonDocument(text, "result_json", {kMaxResultBytes, kMaxResultNesting});
  if (!parsed.ok()) return parsed.status();
  const nlohmann::json& doc = *parsed;
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "result_json: must be a JSON object (a result of ak_simulate), got ", doc.type_name()));
  }
  // A scenario passed by mistake has "events" but no "timeline": say so rather than render an
  // empty table.
  for (const char* key : {"timeline", "arrays"}) {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat("result_json: not a simulation result: \"", key,
                       "\" must be an array (pass the output of ak_simulate, not the scenario)"));
    }
  }
  return parsed;
}

}  // namespace
}  // namespace arraykit::capi

namespace capi = arraykit::capi;
namespace sim = arraykit::sim;

extern "C" {

AK_API ak_status ak_simulate(char** out_result, const char* scenario_json,
                             const ak_json_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (absl::Status s = capi::PrepareOut(out_result, "out_result"); !s.ok()) return s;
    if (absl::Status s = capi::RequireInput(scenario_json, "scenario_json"); !s.ok()) return s;
    absl::StatusOr<int> indent = capi::JsonIndent(opts);
    if (!indent.ok()) return indent.status();
    absl::StatusOr<nlohmann::json> result = sim::RunScenarioText(scenario_json);
    if (!result.ok()) return result.status();
    return capi::ReturnString(out_result, capi::DumpJson(*result, *indent));
  });
}

AK_API ak_status ak_simulate_render(char** out_text, const char* result_json) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (absl::Status s = capi::PrepareOut(out_text, "out_text"); !s.ok()) return s;
    if (absl::Status s = capi::RequireInput(result_json, "result_json"); !s.ok()) return s;
    absl::StatusOr<nlohmann::json> result = capi::ParseResult(result_json);
    if (!result.ok()) return result.status();
    return capi::ReturnString(out_text, sim::RenderResult(*result));
  });
}

}  // extern "C"
