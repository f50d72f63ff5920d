// arraykit.simulate / arraykit.render_simulation — dicts in, dicts (or text) out.
#include "bindings.h"

namespace py = pybind11;

namespace arraykit::python {

void RegisterSimulate(py::module_& m) {
  m.def(
      "simulate",
      [](const py::object& scenario, unsigned long long max_steps) {
        std::string text = ToJsonText(scenario, "scenario");
        return CallJson([&] { return arraykit::simulate(text, -1, max_steps); });
      },
      py::arg("scenario"), py::kw_only(), py::arg("max_steps") = 0,
      "Runs a failover scenario (an array description plus 'events', 'until_s', ...) in "
      "virtual time and returns the result: {'arrays': [...], 'standalone': [...], "
      "'original_formation': {...} or None, 'manual_recovery_required': bool, "
      "'timeline': [...], ...}. Deterministic. A malformed scenario raises "
      "arraykit.InvalidArgumentError naming the field or the event ('events[3]: ...'); an "
      "unknown field has .reason 'unknown_field'. max_steps bounds the run (member ticks plus "
      "message deliveries; 0 = the library's bound of 20,000,000): a run that needs more raises "
      "arraykit.ResourceExhaustedError with .reason 'step_limit'.");
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
