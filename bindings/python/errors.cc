// arraykit.Error and its subclasses: one per status code, each carrying .code and .message.
#include <Python.h>

#include <utility>
#include <vector>

#include "bindings.h"

namespace py = pybind11;

namespace arraykit::python {
namespace {

struct ErrorClass {
  ak_status code;
  const char* word;  // "not_primary" -> NotPrimaryError
};

// Every status code of arraykit.h except AK_OK, from the header's one table.
#define AK_ERROR_CLASS_(name, value, word, text) {name, word},
constexpr ErrorClass kStatusCodes[] = {AK_STATUS_CODES(AK_ERROR_CLASS_)};
#undef AK_ERROR_CLASS_

const char* WordOf(ak_status code) {
  for (const ErrorClass& c : kStatusCodes) {
    if (c.code == code) return c.word;
  }
  return "unknown";
}

// "fingerprint_mismatch" -> "FingerprintMismatchError".
std::string ClassName(const char* word) {
  std::string name;
  bool upper = true;
  for (const char* c = word; *c != '\0'; ++c) {
    if (*c == '_') {
      upper = true;
      continue;
    }
    name.push_back(upper ? static_cast<char>(*c - 'a' + 'A') : *c);
    upper = false;
  }
  return name + "Error";
}

// Owned for the life of the interpreter (the module is never unloaded).
PyObject* base_error = nullptr;
std::vector<std::pair<ak_status, PyObject*>> error_classes;

}  // namespace

void RegisterErrors(py::module_& m) {
  base_error = PyErr_NewExceptionWithDoc(
      "arraykit.Error",
      "A failed arraykit call. Attributes: code (the C status code), reason (the stable "
      "snake_case reason word: branch on it), message.",
      nullptr,
      nullptr);
  if (base_error == nullptr) throw py::error_already_set();
  m.add_object("Error", py::handle(base_error));
  for (const ErrorClass& c : kStatusCodes) {
    if (c.code == AK_OK) continue;
    const std::string name = ClassName(c.word);
    const std::string qualified = "arraykit." + name;
    PyObject* cls = PyErr_NewException(qualified.c_str(), base_error, nullptr);
    if (cls == nullptr) throw py::error_already_set();
    py::handle(cls).attr("code") = c.code;
    m.add_object(name.c_str(), py::handle(cls));
    error_classes.emplace_back(c.code, cls);
  }
}

void Raise(const arraykit::Error& error) {
  PyObject* cls = base_error;
  for (const auto& [code, candidate] : error_classes) {
    if (code == error.code()) cls = candidate;
  }
  py::object instance = py::reinterpret_borrow<py::object>(cls)(error.what());
  instance.attr("code") = error.code();
  instance.attr("message") = std::string(error.what());
  instance.attr("reason") =
      error.reason().empty() ? std::string(WordOf(error.code())) : error.reason();
  PyErr_SetObject(cls, instance.ptr());
  throw py::error_already_set();
}

std::string ToJsonText(const py::object& value, const char* argument) {
  py::module_ json = py::module_::import("json");
  try {
    return json.attr("dumps")(value, py::arg("allow_nan") = false).cast<std::string>();
  } catch (py::error_already_set& e) {
    // Sets, bytes, NaN, infinities and other objects JSON has no form for are the caller's type
    // error, not a document the library refused: TypeError naming the argument, with json's own
    // one-line explanation (str() of its exception, never pybind11's traceback text).
    if (e.matches(PyExc_TypeError) || e.matches(PyExc_ValueError)) {
      const std::string why = py::str(e.value()).cast<std::string>();
      throw py::type_error(std::string(argument) + ": not representable as JSON: " + why);
    }
    throw;
  }
}

py::object FromJsonText(const std::string& text) {
  return py::module_::import("json").attr("loads")(text);
}

}  // namespace arraykit::python
