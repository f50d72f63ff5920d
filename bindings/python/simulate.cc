// arraykit.simulate / arraykit.render_simulation — dicts in, dicts (or text) out.
#include "bindings.h"

namespace py = pybind11;

namespace arraykit::python {

void RegisterSimulate(py::module_& m) {
  m.def(
      "simulate",
      [](const py::object& scenario) {
        std::string text = ToJsonText(scenario, "scenario");
        return CallJson([&] { return arraykit::simulate(text); });
      },
      py::arg("scenario"),
      "Runs a failover scenario (an array description plus 'events', 'until_s', ...) in "
      "virtual time and returns the result: {'arrays': [...], 'standalone': [...], "
      "'original_formation': {...} or None, 'manual_recovery_required': bool, "
      "'timeline': [...], ...}. Deterministic. A malformed scenario raises "
      "arraykit.InvalidArgumentError naming the field or the event ('events[3]: ...').");
  m.def(
      "render_simulation",
      [](const py::object& result) {
        std::string text = ToJsonText(result, "result");
        std::string rendered;
        try {
          py::gil_scoped_release release;
          rendered = arraykit::render_simulation(text);
        } catch (const arraykit::Error& e) {
          Raise(e);
        }
        return rendered;
      },
      py::arg("result"),
      "The timeline (time, member, event, reason) and the final formation of a simulate() "
      "result as plain-text tables, for people.");
}

}  // namespace arraykit::python
