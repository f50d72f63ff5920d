// libFuzzer target: arbitrary bytes as a member's certificate signing request (DER, wrapped in
// PEM as members send it). The module's own CSR reader (OpenSSL 3) must read it exactly as the
// crypto library's X509_REQ parse does, and the CA must issue or refuse it with a reason.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/pki/ossl.h"
#include "core/pki/pki.h"
#include "csr_observe.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using arraykit::pki::CertificateAuthority;
  const std::string pem = arraykit::pki::internal::DerToPem(
      std::string_view(reinterpret_cast<const char*>(data), size), "CERTIFICATE REQUEST");
  const std::string difference = arraykit::pki::testing::CompareCsrParsers(pem);
  if (!difference.empty()) {
    std::fprintf(stderr, "the parsers disagree:\n%s\n", difference.c_str());
    std::abort();
  }
  const absl::Time now = absl::FromUnixSeconds(1795000000);
  static const CertificateAuthority* const ca =
      new CertificateAuthority(*CertificateAuthority::Create(arraykit::pki::CaOptions{}, now));
  arraykit::pki::PeerCertificateOptions options;
  options.member_names = {"boston.example.com"};
  const absl::StatusOr<std::string> cert = ca->SignPeerCsr(pem, options, now);
  if (!cert.ok() && cert.status().message().empty()) std::abort();
  return 0;
}
