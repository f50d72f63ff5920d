// internal::ParsedCsr: the local parse (OpenSSL 3) against the library's X509_REQ parse, on
// valid requests and on thousands of corrupted ones. Everything SignPeerCsr reads from a
// request must be the same whichever parser ran.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "core/pki/csr.h"
#include "core/pki/ossl.h"
#include "core/pki/pki.h"
#include "test_util.h"

namespace arraykit::pki {
namespace {

using internal::ParsedCsr;

std::string NameDer(const X509_NAME* name) {
  return internal::ToDer(const_cast<X509_NAME*>(name), i2d_X509_NAME);
}

// Everything SignPeerCsr reads from a request, in one comparable string.
std::string Observe(std::string_view pem, ParsedCsr::Parser parser) {
  absl::StatusOr<ParsedCsr> csr = ParsedCsr::Parse(pem, parser);
  if (!csr.ok()) return "parse failed: " + csr.status().ToString();
  std::string out = "key: ";
  EVP_PKEY* key = csr->public_key();
  out += key == nullptr ? "none" : std::to_string(EVP_PKEY_id(key)) + "/" +
                                       std::to_string(EVP_PKEY_bits(key));
  out += "\nsubject: " + absl::CHexEscape(NameDer(csr->subject()));
  internal::ExtensionStackPtr extensions = csr->Extensions();
  internal::DrainErrors();
  out += "\nextensions:";
  if (extensions == nullptr) {
    out += " unreadable";
  } else {
    for (int i = 0; i < static_cast<int>(sk_X509_EXTENSION_num(extensions.get())); ++i) {
      out += ' ';
      out += absl::CHexEscape(internal::ToDer(sk_X509_EXTENSION_value(extensions.get(), i),
                                              i2d_X509_EXTENSION));
    }
  }
  if (key == nullptr) return out;  // SignPeerCsr stops here
  REQUIRE(csr->PrepareKeyInfo().ok());
  const internal::KeyAssessment assessment = csr->AssessKey();
  out += "\nassessment: " + assessment.description + (assessment.allowed ? " allowed" : "");
  out += "\nkey info: " + absl::CHexEscape(csr->KeyInfoDer());
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  out += "\nkey bits: ";
  if (csr->KeyBits(&bits, &bits_len)) {
    out += absl::CHexEscape(
        absl::string_view(reinterpret_cast<const char*>(bits), static_cast<std::size_t>(bits_len)));
  }
  out += "\nsignature: " + std::to_string(csr->signature_nid());
  out += " verifies: " + std::to_string(csr->VerifySignature());
  internal::DrainErrors();
  return out;
}

std::string Pem(const std::string& der) {
  return testing::DerToPem(der, "CERTIFICATE REQUEST");
}

}  // namespace

TEST_CASE("the local CSR parse is used for the array's key types", "[pki][csr][parse]") {
  const KeyType type = GENERATE(KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kRsa2048);
  absl::StatusOr<SecretString> key = GeneratePrivateKey(type);
  REQUIRE(key.ok());
  absl::StatusOr<std::string> csr = CreateCsr(key->view(), "boston.example.com");
  REQUIRE(csr.ok());
  absl::StatusOr<ParsedCsr> parsed = ParsedCsr::Parse(*csr);
  REQUIRE(parsed.ok());
#if defined(OPENSSL_IS_BORINGSSL)
  CHECK(!parsed->parsed_locally());
#else
  CHECK(parsed->parsed_locally());
#endif
  CHECK(parsed->VerifySignature() == 1);
  CHECK(Observe(*csr, ParsedCsr::Parser::kFast) == Observe(*csr, ParsedCsr::Parser::kLibrary));
}

TEST_CASE("corrupted CSRs read the same through both parsers", "[pki][csr][parse]") {
  const KeyType type = GENERATE(KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kRsa2048);
  INFO("member key " << ToString(type));
  absl::StatusOr<SecretString> key = GeneratePrivateKey(type);
  REQUIRE(key.ok());
  absl::StatusOr<std::string> csr = CreateCsr(key->view(), "boston.example.com");
  REQUIRE(csr.ok());
  const std::string der = testing::PemToDer(*csr);

  std::vector<std::string> variants;
  for (std::size_t i = 0; i < der.size(); ++i) {
    for (unsigned char mask : {0x01, 0x02, 0x40, 0x80, 0xFF}) {
      std::string v = der;
      v[i] = static_cast<char>(static_cast<unsigned char>(v[i]) ^ mask);
      variants.push_back(std::move(v));
    }
    for (unsigned char value : {0x00, 0x30, 0x81}) {
      std::string v = der;
      v[i] = static_cast<char>(value);
      variants.push_back(std::move(v));
    }
    variants.push_back(der.substr(0, i));
    variants.push_back(der.substr(0, i) + der.substr(i + 1));  // one byte dropped
  }
  variants.push_back(der + std::string(1, '\0'));
  int differing = 0;
  for (const std::string& v : variants) {
    const std::string pem = Pem(v);
    const std::string fast = Observe(pem, ParsedCsr::Parser::kFast);
    const std::string library = Observe(pem, ParsedCsr::Parser::kLibrary);
    if (fast != library && ++differing <= 3) {
      INFO("DER " << absl::CHexEscape(v));
      CHECK(fast == library);
    }
  }
  CHECK(differing == 0);
}

}  // namespace arraykit::pki
