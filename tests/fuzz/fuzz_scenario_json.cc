// libFuzzer target: arbitrary bytes as a simulator scenario (arrayctl simulate, ak_simulate),
// run with a small step bound so one input takes milliseconds. The run refuses cleanly (a
// message and a reason word; step_limit when the bound is hit) or gives a result document that
// reads back as a result, renders, and is the same when run again (the simulator is
// deterministic for a given seed).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/sim/simulate.h"
#include "core/status.h"

namespace {

void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  arraykit::sim::RunOptions options;
  options.max_steps = 20000;
  absl::StatusOr<nlohmann::json> result = arraykit::sim::RunScenarioText(text, options);
  if (!result.ok()) {
    Require(!result.status().message().empty(), "a refusal says why");
    Require(!arraykit::ReasonOf(result.status()).empty(), "a refusal carries a reason word");
    return 0;
  }
  Require(result->is_object(), "a result is an object");
  const std::string dumped = result->dump();
  absl::StatusOr<nlohmann::json> read = arraykit::sim::ResultFromJsonText(dumped);
  Require(read.ok() && *read == *result, "the result reads back as a result");
  Require(!arraykit::sim::RenderResult(*result).empty(), "the result renders");
  absl::StatusOr<nlohmann::json> again = arraykit::sim::RunScenarioText(text, options);
  Require(again.ok() && *again == *result, "the same scenario gives the same result");
  return 0;
}
