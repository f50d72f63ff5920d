// Shared declarations of the pybind11 module: each area registers itself from its own file.
#ifndef ARRAYKIT_BINDINGS_PYTHON_BINDINGS_H_
#define ARRAYKIT_BINDINGS_PYTHON_BINDINGS_H_

#include <pybind11/pybind11.h>

#include <string>

#include "arraykit/arraykit.hpp"

namespace arraykit::python {

// Creates arraykit.Error and one subclass per status code.
void RegisterErrors(pybind11::module_& m);
// Raises the arraykit.Error subclass for `error` (carrying .code, .reason and .message).
[[noreturn]] void Raise(const arraykit::Error& error);

// dict (or any JSON-serialisable object) <-> JSON text, via Python's json module.
std::string ToJsonText(const pybind11::object& value, const char* argument);
pybind11::object FromJsonText(const std::string& text);

// Runs `call` (returning a JSON string) without the GIL and converts its result to Python.
template <typename Call>
pybind11::object CallJson(Call&& call) {
  std::string result;
  try {
    pybind11::gil_scoped_release release;
    result = call();
  } catch (const arraykit::Error& e) {
    Raise(e);
  }
  return FromJsonText(result);
}

void RegisterPlacement(pybind11::module_& m);
void RegisterPki(pybind11::module_& m);
void RegisterSimulate(pybind11::module_& m);
void RegisterNode(pybind11::module_& m);

}  // namespace arraykit::python

#endif  // ARRAYKIT_BINDINGS_PYTHON_BINDINGS_H_
