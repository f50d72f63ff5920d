// arraykit.placement: check / plan / plan_change — dicts in, dicts out.
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
      "'worst_case_failover_s': S or None}.");
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
