// internal::ParsedCsr: the module's own reading (OpenSSL 3) against the library's X509_REQ parse, on
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
#include "csr_observe.h"
#include "test_util.h"

namespace arraykit::pki {
namespace {

using internal::ParsedCsr;
using testing::CompareCsrParsers;

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
  CHECK(CompareCsrParsers(*csr) == "");
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
    const std::string difference = CompareCsrParsers(Pem(v));
    if (!difference.empty() && ++differing <= 3) {
      INFO("DER " << absl::CHexEscape(v));
      CHECK(difference == "");
    }
  }
  CHECK(differing == 0);
}

}  // namespace arraykit::pki
