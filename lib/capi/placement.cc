// C ABI: placement check, plan and plan_change (translation only; the rules and the JSON of
// their results live in core/placement).
#include "core/placement/placement.h"
#include "arraykit/arraykit.h"
#include "capi/guard.h"
#include "core/model/array_json.h"

namespace capi = arraykit::capi;
namespace model = arraykit::model;
namespace placement = arraykit::placement;

extern "C" {

AK_API ak_status ak_placement_check(char** out_report, const char* array_json,
                                    const ak_json_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (absl::Status s = capi::PrepareOut(out_report, "out_report"); !s.ok()) return s;
    if (absl::Status s = capi::RequireInput(array_json, "array_json"); !s.ok()) return s;
    absl::StatusOr<int> indent = capi::JsonIndent(opts);
    if (!indent.ok()) return indent.status();
    absl::StatusOr<model::Array> array = model::ArrayFromJsonText(array_json);
    if (!array.ok()) return array.status();
    const placement::CheckReport report = placement::MakeCheckReport(*array);
    return capi::ReturnString(out_report, capi::DumpJson(placement::ToJson(report), *indent));
  });
}

AK_API ak_status ak_placement_plan(char** out_plan, const char* inventory_json,
                                   const ak_json_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (absl::Status s = capi::PrepareOut(out_plan, "out_plan"); !s.ok()) return s;
    if (absl::Status s = capi::RequireInput(inventory_json, "inventory_json"); !s.ok()) return s;
    absl::StatusOr<int> indent = capi::JsonIndent(opts);
    if (!indent.ok()) return indent.status();
    absl::StatusOr<nlohmann::json> doc = model::ParseJsonDocument(inventory_json, "inventory");
    if (!doc.ok()) return doc.status();
    absl::StatusOr<placement::Inventory> inventory = placement::InventoryFromJson(*doc);
    if (!inventory.ok()) return inventory.status();
    absl::StatusOr<placement::Plan> plan = placement::PlanInventory(*inventory);
    if (!plan.ok()) return plan.status();
    return capi::ReturnString(out_plan, capi::DumpJson(placement::ToJson(*plan), *indent));
  });
}

AK_API ak_status ak_placement_plan_change(char** out_result, const char* array_json,
                                          const char* change_json, const ak_json_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (absl::Status s = capi::PrepareOut(out_result, "out_result"); !s.ok()) return s;
    if (absl::Status s = capi::RequireInput(array_json, "array_json"); !s.ok()) return s;
    if (absl::Status s = capi::RequireInput(change_json, "change_json"); !s.ok()) return s;
    absl::StatusOr<int> indent = capi::JsonIndent(opts);
    if (!indent.ok()) return indent.status();
    absl::StatusOr<model::Array> array = model::ArrayFromJsonText(array_json);
    if (!array.ok()) return array.status();
    absl::StatusOr<nlohmann::json> change_doc = model::ParseJsonDocument(change_json, "change");
    if (!change_doc.ok()) return change_doc.status();
    absl::StatusOr<placement::Change> change = placement::ChangeFromJson(*change_doc, *array);
    if (!change.ok()) return change.status();
    absl::StatusOr<placement::ChangeResult> result = placement::PlanChange(*array, *change);
    if (!result.ok()) return result.status();
    return capi::ReturnString(out_result, capi::DumpJson(placement::ToJson(*result), *indent));
  });
}

}  // extern "C"
