// libFuzzer target: arbitrary bytes as a member's certificate signing request, in DER as the
// crypto library reads it (the CA parses every request with the library, never by hand). The
// CA must issue it or refuse it with a reason, and never crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/pki/pki.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using arraykit::pki::CertificateAuthority;
  const std::string_view der(reinterpret_cast<const char*>(data), size);
  const absl::Time now = absl::FromUnixSeconds(1795000000);
  static const CertificateAuthority* const ca =
      new CertificateAuthority(*CertificateAuthority::Create(arraykit::pki::CaOptions{}, now));
  arraykit::pki::PeerCertificateOptions options;
  options.member_names = {"boston.example.com"};
  const absl::StatusOr<std::string> cert = ca->SignPeerCsr(der, options, now);
  if (!cert.ok()) {
    // Every refusal of the request itself names its reason.
    if (cert.status().message().empty()) std::abort();
    if (cert.status().code() == absl::StatusCode::kPermissionDenied &&
        !arraykit::pki::GetCsrRejection(cert.status()).has_value()) {
      std::abort();
    }
  }
  return 0;
}
