// What CertificateAuthority::SignPeerCsr reads from a request through internal::ParsedCsr, as
// one comparable string: the unit tests and the CSR fuzz target require it to be the same
// whichever parser ran (the module's own reader or the library's X509_REQ).
#ifndef ARRAYKIT_TESTS_UNIT_PKI_CSR_OBSERVE_H_
#define ARRAYKIT_TESTS_UNIT_PKI_CSR_OBSERVE_H_

#include <string>
#include <string_view>

#include "core/pki/csr.h"

namespace arraykit::pki::testing {

std::string ObserveCsr(std::string_view pem, internal::ParsedCsr::Parser parser);

// "" when both parsers read `pem` the same; otherwise both observations.
std::string CompareCsrParsers(std::string_view pem);

}  // namespace arraykit::pki::testing

#endif  // ARRAYKIT_TESTS_UNIT_PKI_CSR_OBSERVE_H_
