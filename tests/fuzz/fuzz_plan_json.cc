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

void FuzzInventory(const json& doc) {
  absl::StatusOr<placement::Inventory> inventory = placement::InventoryFromJson(doc);
  if (!inventory.ok()) return;
  absl::StatusOr<placement::Plan> plan = placement::PlanInventory(*inventory);
  if (!plan.ok()) return;
  CheckArrayInvariants(plan->array, plan->findings);
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
  if (!array.ok()) return;
  absl::StatusOr<placement::Change> change = placement::ChangeFromJson(change_doc, *array);
  if (!change.ok()) return;
  absl::StatusOr<placement::ChangeResult> result = placement::PlanChange(*array, *change);
  if (!result.ok()) {
    Require(!result.status().message().empty(), "a refused change says why");
    return;
  }
  CheckArrayInvariants(result->array, result->findings);
  Require(result->disruption == !result->disruption_reasons.empty(),
          "disruption comes with its reasons");
  (void)placement::ToJson(*result).dump();
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
