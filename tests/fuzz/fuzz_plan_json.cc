// libFuzzer target: arbitrary bytes as {"inventory": {...}} and/or {"array": {...}, "change":
// {...}}. Planning and change validation must fail cleanly or give results that keep their
// invariants: a primary that is a member, a readable array, findings ending with failover_time,
// a plan independent of the inventory's order.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "core/model/array_json.h"
#include "core/placement/placement.h"
#include "core/status.h"

namespace {

using arraykit::model::Array;
using nlohmann::json;
namespace placement = arraykit::placement;

void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

void CheckArrayInvariants(const Array& array, const std::vector<placement::Finding>& findings) {
  Require(array.Find(array.primary) != nullptr, "the primary is a member");
  Require(!findings.empty() && findings.back().code == placement::kFailoverTime,
          "findings end with failover_time");
  absl::StatusOr<Array> again =
      arraykit::model::ArrayFromJsonText(arraykit::model::ToJson(array).dump());
  Require(again.ok() && *again == array, "the array reads back as written");
}

// The "array" of a result document is an array description: it reads back strictly as `array`.
void CheckResultArray(const json& result, const Array& array) {
  absl::StatusOr<Array> again = arraykit::model::ArrayFromJsonText(result.at("array").dump());
  Require(again.ok() && *again == array, "the result's array reads back as the array");
}

void CheckRefusal(const absl::Status& status) {
  Require(!status.message().empty(), "a refusal says why");
  Require(!arraykit::ReasonOf(status).empty(), "a refusal carries a reason word");
}

void FuzzInventory(const json& doc) {
  absl::StatusOr<placement::Inventory> inventory = placement::InventoryFromJson(doc);
  if (!inventory.ok()) return CheckRefusal(inventory.status());
  absl::StatusOr<placement::Plan> plan = placement::PlanInventory(*inventory);
  if (!plan.ok()) return CheckRefusal(plan.status());
  CheckArrayInvariants(plan->array, plan->findings);
  CheckResultArray(placement::ToJson(*plan), plan->array);
  Require(plan->array.members.size() == inventory->items.size(), "every appliance is planned");
  std::set<std::string> listed;
  for (const std::string& name : plan->array.backup_primaries) {
    listed.insert(arraykit::model::NormalizeName(name));
  }
  Require(listed.size() == plan->array.members.size() - 1 &&
              !listed.contains(arraykit::model::NormalizeName(plan->array.primary)),
          "every secondary is in the backup list once");
  const std::size_t backends = plan->array.BackendCount();
  Require(backends == 1 || backends == 3 || (backends == 0 && inventory->items.size() == 1),
          "1 or 3 back-ends");
  placement::Inventory reversed = *inventory;
  std::reverse(reversed.items.begin(), reversed.items.end());
  absl::StatusOr<placement::Plan> again = placement::PlanInventory(reversed);
  Require(again.ok() && placement::ToJson(*again) == placement::ToJson(*plan),
          "the plan does not depend on the inventory's order");
}

void FuzzChange(const json& array_doc, const json& change_doc) {
  absl::StatusOr<Array> array = arraykit::model::ArrayFromJson(array_doc, "array");
  if (!array.ok()) return CheckRefusal(array.status());
  absl::StatusOr<placement::Change> change = placement::ChangeFromJson(change_doc, *array);
  if (!change.ok()) return CheckRefusal(change.status());
  absl::StatusOr<placement::ChangeResult> result = placement::PlanChange(*array, *change);
  if (!result.ok()) return CheckRefusal(result.status());
  CheckArrayInvariants(result->array, result->findings);
  Require(result->disruption == !result->disruption_reasons.empty(),
          "disruption comes with its reasons");
  const json written = placement::ToJson(*result);
  CheckResultArray(written, result->array);
  (void)written.dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<json> doc = arraykit::model::ParseJsonDocument(text, "fuzz input");
  if (!doc.ok() || !doc->is_object()) return 0;
  if (auto it = doc->find("inventory"); it != doc->end()) FuzzInventory(*it);
  auto array = doc->find("array");
  auto change = doc->find("change");
  if (array != doc->end() && change != doc->end()) FuzzChange(*array, *change);
  return 0;
}
