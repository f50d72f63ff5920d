// arraykit.placement: check / plan / plan_change — dicts in, dicts out. A value JSON cannot hold
// raises TypeError (ToJsonText); a document the library refuses raises the arraykit.Error subclass
// of its status, with .reason ("unknown_field" for a misspelt field).
#include "bindings.h"

namespace py = pybind11;

namespace arraykit::python {

void RegisterPlacement(py::module_& m) {
  py::module_ placement = m.def_submodule("placement", "Placement rules and the role planner");
  placement.def(
      "check",
      [](const py::object& array) {
        std::string text = ToJsonText(array, "array");
        return CallJson([&] { return arraykit::placement::check(text); });
      },
      py::arg("array"),
      "Checks an array description; returns {'findings': [...], 'errors': N, 'warnings': N, "
      "'worst_case_failover_s': S or None}. Raises TypeError for values JSON cannot hold (sets, "
      "bytes, NaN, infinities) and arraykit.InvalidArgumentError for a refused document "
      "(.reason 'unknown_field' names a misspelt field).");
  placement.def(
      "plan",
      [](const py::object& inventory) {
        std::string text = ToJsonText(inventory, "inventory");
        return CallJson([&] { return arraykit::placement::plan(text); });
      },
      py::arg("inventory"), "Plans roles and a backup primaries order for an inventory.");
  placement.def(
      "plan_change",
      [](const py::object& array, const py::object& change) {
        std::string array_text = ToJsonText(array, "array");
        std::string change_text = ToJsonText(change, "change");
        return CallJson([&] { return arraykit::placement::plan_change(array_text, change_text); });
      },
      py::arg("array"), py::arg("change"),
      "Validates a change without applying it; returns the resulting array, its findings and "
      "whether the change disrupts service.");
}

}  // namespace arraykit::python
