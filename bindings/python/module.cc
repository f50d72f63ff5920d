#include "bindings.h"

PYBIND11_MODULE(arraykit, m) {
  m.doc() = "arraykit: appliance arrays — placement, PKI, failover (over the arraykit C ABI)";
  m.attr("__version__") = arraykit::version();
  m.attr("ABI_VERSION") = ak_abi_version();
  arraykit::python::RegisterErrors(m);
  arraykit::python::RegisterPlacement(m);
  arraykit::python::RegisterPki(m);
  arraykit::python::RegisterSimulate(m);
  arraykit::python::RegisterNode(m);
}
