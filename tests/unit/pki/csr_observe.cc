#include "csr_observe.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/pki/ossl.h"

namespace arraykit::pki::testing {

using internal::ParsedCsr;

std::string ObserveCsr(std::string_view pem, ParsedCsr::Parser parser) {
  absl::StatusOr<ParsedCsr> csr = ParsedCsr::Parse(pem, parser);
  if (!csr.ok()) return "parse failed: " + csr.status().ToString();
  std::string out = "key: ";
  EVP_PKEY* key = csr->public_key();
  out += key == nullptr ? "none" : absl::StrCat(EVP_PKEY_id(key), "/", EVP_PKEY_bits(key));
  out += "\ncommon names:";
  for (const std::string& cn : csr->CommonNames()) {
    absl::StrAppend(&out, " '", absl::CHexEscape(cn), "'");
  }
  internal::ExtensionStackPtr extensions = csr->Extensions();
  internal::DrainErrors();
  out += "\nextensions:";
  if (extensions == nullptr) {
    out += " unreadable";
  } else {
    for (int i = 0; i < static_cast<int>(sk_X509_EXTENSION_num(extensions.get())); ++i) {
      absl::StrAppend(&out, " ",
                      absl::CHexEscape(internal::ToDer(sk_X509_EXTENSION_value(extensions.get(), i),
                                                       i2d_X509_EXTENSION)));
    }
  }
  if (key == nullptr) return out;  // SignPeerCsr stops here
  if (absl::Status s = csr->PrepareKeyInfo(); !s.ok()) {
    return absl::StrCat(out, "\nkey info: ", s.ToString());
  }
  const internal::KeyAssessment assessment = csr->AssessKey();
  absl::StrAppend(&out, "\nassessment: ", assessment.description,
                  assessment.allowed ? " allowed" : "");
  absl::StrAppend(&out, "\nkey info: ", absl::CHexEscape(csr->KeyInfoDer()));
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  out += "\nkey bits: ";
  if (csr->KeyBits(&bits, &bits_len)) {
    out += absl::CHexEscape(
        absl::string_view(reinterpret_cast<const char*>(bits), static_cast<std::size_t>(bits_len)));
  }
  absl::StrAppend(&out, "\nsignature: ", csr->signature_nid(),
                  " verifies: ", csr->VerifySignature());
  internal::DrainErrors();
  return out;
}

std::string CompareCsrParsers(std::string_view pem) {
  const std::string fast = ObserveCsr(pem, ParsedCsr::Parser::kFast);
  const std::string library = ObserveCsr(pem, ParsedCsr::Parser::kLibrary);
  if (fast == library) return "";
  return absl::StrCat("module reader:\n", fast, "\nlibrary:\n", library);
}

}  // namespace arraykit::pki::testing
