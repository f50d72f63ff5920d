// libFuzzer target: arbitrary bytes as the config edit document of the C ABI and Python
// ({"array-monitortime": 60, "array-failoverenabled": true, ...}), applied to two current
// settings. A refusal says why with a reason word; an accepted edit names every attribute it
// was given, gives settings that read back through the resilience JSON, and is idempotent.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/model/array_json.h"
#include "core/ops/config_edit.h"
#include "core/status.h"

namespace {

using arraykit::model::Resilience;
using nlohmann::json;

void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

void Edit(const json& doc, const Resilience& current) {
  absl::StatusOr<arraykit::ops::ConfigEdit> edit = arraykit::ops::ConfigEditFromJson(doc, current);
  if (!edit.ok()) {
    Require(edit.status().code() == absl::StatusCode::kInvalidArgument,
            "a refused edit is INVALID_ARGUMENT");
    Require(!edit.status().message().empty(), "a refusal says why");
    Require(!arraykit::ReasonOf(edit.status()).empty(), "a refusal carries a reason word");
    return;
  }
  Require(doc.is_object() && !edit->changed.empty() && edit->changed.size() == doc.size(),
          "an accepted edit names each attribute given");
  const arraykit::failover::FormationChange change = edit->ToChange();
  Require(change.resilience.has_value() && *change.resilience == edit->resilience,
          "the change carries the edited settings");
  Require(!change.backup_primaries.has_value(), "a config edit leaves the backup list alone");
  absl::StatusOr<Resilience> again =
      arraykit::model::ResilienceFromJson(arraykit::model::ToJson(edit->resilience), "resilience");
  Require(again.ok() && *again == edit->resilience, "the edited settings read back");
  absl::StatusOr<arraykit::ops::ConfigEdit> twice =
      arraykit::ops::ConfigEditFromJson(doc, edit->resilience);
  Require(twice.ok() && twice->resilience == edit->resilience, "an edit is idempotent");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<json> doc = arraykit::model::ParseJsonDocument(text, "config edit");
  if (!doc.ok()) return 0;
  Edit(*doc, Resilience{});
  Resilience quorum;
  quorum.failover_enabled = true;
  quorum.mode = arraykit::model::ResilienceMode::kQuorum;
  quorum.monitor_interval = absl::Milliseconds(1);
  quorum.monitor_attempts = 1000;
  quorum.primary_return_action = arraykit::model::PrimaryReturnAction::kNone;
  Edit(*doc, quorum);
  return 0;
}
