// libFuzzer target: arbitrary bytes as an array description. Parsing must fail cleanly, with a
// message and a reason word, or give an array that Check() handles and that survives a strict
// JSON round trip unchanged (everything the core writes is a known field).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/array_json.h"
#include "core/placement/placement.h"
#include "core/status.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<arraykit::model::Array> array = arraykit::model::ArrayFromJsonText(text);
  if (!array.ok()) {
    // A rejection must say why; an empty message would leave the operator guessing.
    if (array.status().message().empty()) std::abort();
    const std::string reason = arraykit::ReasonOf(array.status());
    if (reason.empty()) std::abort();
    // An unknown field always comes with its hint (the nearest name or the known fields).
    if (reason == "unknown_field" &&
        array.status().message().find(": unknown field (") == absl::string_view::npos) {
      std::abort();
    }
    return 0;
  }
  const std::vector<arraykit::placement::Finding> findings = arraykit::placement::Check(*array);
  if (findings.empty() || findings.back().code != arraykit::placement::kFailoverTime) {
    std::abort();
  }
  // What the core writes, it must read back as the same array.
  const std::string written = arraykit::model::ToJson(*array).dump();
  absl::StatusOr<arraykit::model::Array> again = arraykit::model::ArrayFromJsonText(written);
  if (!again.ok() || !(*again == *array)) {
    std::fprintf(stderr, "round trip failed: %s\n", written.c_str());
    std::abort();
  }
  (void)arraykit::placement::ToJson(findings).dump();
  (void)arraykit::placement::ToJson(arraykit::placement::MakeCheckReport(*array)).dump();
  return 0;
}
