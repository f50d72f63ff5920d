// C ABI: the deterministic failover simulator (translation only; semantics and documents live in
// core/sim).
#include <string_view>

#include "absl/strings/str_cat.h"
#include "arraykit/arraykit.h"
#include "capi/guard.h"
#include "core/sim/simulate.h"
#include "core/status.h"

namespace arraykit::capi {
namespace {

// Version 1 is the whole struct today; a later version only appends fields, so every version
// from 1 to the library's reads the same prefix.
absl::StatusOr<sim::RunOptions> RunOptionsFrom(const ak_simulate_options* opts, int* indent) {
  sim::RunOptions options;
  *indent = -1;
  if (opts == nullptr) return options;
  if (absl::Status s = CheckOptionsVersion(opts->version, AK_SIMULATE_OPTIONS_VERSION,
                                           "opts.version", "ak_simulate_options");
      !s.ok()) {
    return s;
  }
  if (opts->indent > 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("opts.indent: must be negative (compact) or 0..16, got ", opts->indent));
  }
  *indent = opts->indent < 0 ? -1 : opts->indent;
  options.max_steps = opts->max_steps;
  return options;
}

}  // namespace
}  // namespace arraykit::capi

namespace capi = arraykit::capi;
namespace sim = arraykit::sim;

extern "C" {

AK_API ak_status ak_simulate_options_init(ak_simulate_options* opts, unsigned int version) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (opts == nullptr) return absl::InvalidArgumentError("opts must not be NULL");
    if (absl::Status s = capi::CheckOptionsVersion(version, AK_SIMULATE_OPTIONS_VERSION,
                                                   "version", "ak_simulate_options");
        !s.ok()) {
      return s;
    }
    *opts = ak_simulate_options AK_SIMULATE_OPTIONS_INIT;
    opts->version = version;
    return absl::OkStatus();
  });
}

AK_API ak_status ak_simulate(char** out_result, const char* scenario_json,
                             const ak_simulate_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (absl::Status s = capi::PrepareOut(out_result, "out_result"); !s.ok()) return s;
    if (absl::Status s = capi::RequireInput(scenario_json, "scenario_json"); !s.ok()) return s;
    int indent = -1;
    absl::StatusOr<sim::RunOptions> options = capi::RunOptionsFrom(opts, &indent);
    if (!options.ok()) return options.status();
    absl::StatusOr<nlohmann::json> result = sim::RunScenarioText(scenario_json, *options);
    if (!result.ok()) return result.status();
    return capi::ReturnString(out_result, capi::DumpJson(*result, indent));
  });
}

AK_API ak_status ak_simulate_render(char** out_text, const char* result_json) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (absl::Status s = capi::PrepareOut(out_text, "out_text"); !s.ok()) return s;
    if (absl::Status s = capi::RequireInput(result_json, "result_json"); !s.ok()) return s;
    absl::StatusOr<nlohmann::json> result = sim::ResultFromJsonText(result_json);
    if (!result.ok()) return result.status();
    return capi::ReturnString(out_text, sim::RenderResult(*result));
  });
}

}  // extern "C"
