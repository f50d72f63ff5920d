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
  const char* name;
};

// Every status code of arraykit.h except AK_OK; keep in step with the header.
constexpr ErrorClass kErrorClasses[] = {
    {AK_CANCELLED, "CancelledError"},
    {AK_UNKNOWN, "UnknownError"},
    {AK_INVALID_ARGUMENT, "InvalidArgumentError"},
    {AK_DEADLINE_EXCEEDED, "DeadlineExceededError"},
    {AK_NOT_FOUND, "NotFoundError"},
    {AK_ALREADY_EXISTS, "AlreadyExistsError"},
    {AK_PERMISSION_DENIED, "PermissionDeniedError"},
    {AK_RESOURCE_EXHAUSTED, "ResourceExhaustedError"},
    {AK_FAILED_PRECONDITION, "FailedPreconditionError"},
    {AK_ABORTED, "AbortedError"},
    {AK_OUT_OF_RANGE, "OutOfRangeError"},
    {AK_UNIMPLEMENTED, "UnimplementedError"},
    {AK_INTERNAL, "InternalError"},
    {AK_UNAVAILABLE, "UnavailableError"},
    {AK_DATA_LOSS, "DataLossError"},
    {AK_UNAUTHENTICATED, "UnauthenticatedError"},
    {AK_ENOTPRIMARY, "NotPrimaryError"},
    {AK_ECLOCKSKEW, "ClockSkewError"},
    {AK_EVERSION, "VersionMismatchError"},
    {AK_EFINGERPRINT, "FingerprintMismatchError"},
    {AK_EBUSY, "BusyError"},
    {AK_ECERT_REJECTED, "CertificateRejectedError"},
};

// Owned for the life of the interpreter (the module is never unloaded).
PyObject* base_error = nullptr;
std::vector<std::pair<ak_status, PyObject*>> error_classes;

}  // namespace

void RegisterErrors(py::module_& m) {
  base_error = PyErr_NewExceptionWithDoc(
      "arraykit.Error",
      "A failed arraykit call. Attributes: code (the C status code), message.", nullptr,
      nullptr);
  if (base_error == nullptr) throw py::error_already_set();
  m.add_object("Error", py::handle(base_error));
  for (const ErrorClass& c : kErrorClasses) {
    std::string qualified = std::string("arraykit.") + c.name;
    PyObject* cls = PyErr_NewException(qualified.c_str(), base_error, nullptr);
    if (cls == nullptr) throw py::error_already_set();
    py::handle(cls).attr("code") = c.code;
    m.add_object(c.name, py::handle(cls));
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
  PyErr_SetObject(cls, instance.ptr());
  throw py::error_already_set();
}

std::string ToJsonText(const py::object& value, const char* argument) {
  py::module_ json = py::module_::import("json");
  try {
    return json.attr("dumps")(value, py::arg("allow_nan") = false).cast<std::string>();
  } catch (py::error_already_set& e) {
    if (e.matches(PyExc_TypeError) || e.matches(PyExc_ValueError)) {
      Raise(arraykit::Error(AK_INVALID_ARGUMENT,
                            std::string(argument) + ": not representable as JSON: " + e.what()));
    }
    throw;
  }
}

py::object FromJsonText(const std::string& text) {
  return py::module_::import("json").attr("loads")(text);
}

}  // namespace arraykit::python
