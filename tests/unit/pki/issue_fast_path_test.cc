// The shortcuts SignPeerCsr takes (docs/pki.md, "Issuance, second pass"): the canonical-PEM
// decode, the direct CSR signature check with pre-fetched digests, the per-CA signing
// template, the subject name and times written as DER, the PEM writer. Each must give what the
// library's own path gives, and signing must stay safe from several threads on one CA.
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/pki/csr.h"
#include "core/pki/ossl.h"
#include "core/pki/pki.h"
#include "test_util.h"

namespace arraykit::pki {
namespace {

using internal::BioPtr;
using internal::EvpPkeyPtr;
using internal::ParsedCsr;
using internal::X509Ptr;
using internal::X509ReqPtr;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

PeerCertificateOptions Members(std::vector<std::string> names = {"boston.example.com",
                                                                  "newyork.example.com"}) {
  PeerCertificateOptions o;
  o.member_names = std::move(names);
  return o;
}

EvpPkeyPtr KeyOf(const SecretString& pem) {
  absl::StatusOr<EvpPkeyPtr> key = internal::ParsePrivateKey(pem.view());
  REQUIRE(key.ok());
  return *std::move(key);
}

// A CSR for CN=`cn` signed with `digest`; the CN is set as a UTF8String directly, so names the
// CA's own encoder refuses (longer than 64 characters) can be requested too.
std::string CsrWithDigest(EVP_PKEY* key, const std::string& cn, const EVP_MD* digest) {
  X509ReqPtr req(X509_REQ_new());
  REQUIRE(req != nullptr);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  REQUIRE(X509_NAME_add_entry_by_NID(name, NID_commonName, V_ASN1_UTF8STRING,
                                     reinterpret_cast<const unsigned char*>(cn.data()),
                                     static_cast<int>(cn.size()), -1, 0) == 1);
  REQUIRE(X509_REQ_set_pubkey(req.get(), key) == 1);
  REQUIRE(X509_REQ_sign(req.get(), key, digest) > 0);
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509_REQ(bio.get(), req.get()) == 1);
  return internal::BioContents(bio.get());
}

// The library's PEM reader on `pem`: the DER, or "" when it refuses.
std::string LibraryPemDecode(const std::string& pem) {
  BioPtr bio = internal::ReadBio(pem);
  unsigned char* data = nullptr;
  long len = 0;  // NOLINT(runtime/int): the library's type
  if (PEM_bytes_read_bio(&data, &len, nullptr, PEM_STRING_X509_REQ, bio.get(), nullptr,
                         nullptr) != 1) {
    internal::DrainErrors();
    return {};
  }
  std::string der(reinterpret_cast<const char*>(data), static_cast<std::size_t>(len));
  OPENSSL_free(data);
  return der;
}

std::string Outcome(const absl::StatusOr<std::string>& s) {
  if (s.ok()) return "issued";
  return absl::StrCat(absl::StatusCodeToString(s.status().code()), ": ", s.status().message());
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const std::size_t pos = s.find(from);
  REQUIRE(pos != std::string::npos);
  return s.replace(pos, from.size(), to);
}

}  // namespace

TEST_CASE("canonical PEM is decoded to the library's bytes; other PEM goes to the library",
          "[pki][csr][pem]") {
  absl::StatusOr<SecretString> key = GeneratePrivateKey(KeyType::kEcdsaP256);
  REQUIRE(key.ok());
  const std::string pem = *CreateCsr(key->view(), "boston.example.com");
  const std::string der = LibraryPemDecode(pem);
  REQUIRE(!der.empty());
  std::string decoded;
  REQUIRE(internal::DecodeCanonicalPem(pem, PEM_STRING_X509_REQ, decoded));
  CHECK(decoded == der);

  // Every length of body, so every padding case and a full last line occur.
  for (std::size_t n = 1; n <= 200; ++n) {
    std::string bytes;
    for (std::size_t i = 0; i < n; ++i) bytes.push_back(static_cast<char>((i * 37 + n) & 0xFF));
    const std::string text = internal::DerToPem(bytes, "CERTIFICATE REQUEST");
    // The writer is the library's writer, byte for byte.
    BioPtr bio(BIO_new(BIO_s_mem()));
    REQUIRE(PEM_write_bio(bio.get(), "CERTIFICATE REQUEST", "",
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<long>(bytes.size())) > 0);  // NOLINT(runtime/int)
    CHECK(text == internal::BioContents(bio.get()));
    REQUIRE(internal::DecodeCanonicalPem(text, PEM_STRING_X509_REQ, decoded));
    CHECK(decoded == bytes);
    CHECK(LibraryPemDecode(text) == bytes);
  }

  const std::size_t body = pem.find('\n') + 1;
  const std::size_t end_line = pem.find("-----END");
  const std::vector<std::string> others = {
      "  " + pem,                                                    // leading blanks
      "junk\n" + pem,                                                // text before the block
      Replace(pem, "\n", "\r\n"),                                    // CRLF
      pem.substr(0, pem.size() - 1),                                 // no newline after END
      Replace(pem, "-----END CERTIFICATE REQUEST-----", "-----END CERTIFICATE-----"),
      Replace(Replace(pem, "BEGIN CERTIFICATE REQUEST", "BEGIN NEW CERTIFICATE REQUEST"),
              "END CERTIFICATE REQUEST", "END NEW CERTIFICATE REQUEST"),
      pem.substr(0, body) + "\n" + pem.substr(body),                 // blank line
      pem.substr(0, body) + pem.substr(body, 10) + "\n" + pem.substr(body + 10),  // short line
      pem.substr(0, body) + pem.substr(body + 4),                    // a quantum dropped
      pem.substr(0, body) + "!" + pem.substr(body + 1),              // not base64
      pem.substr(0, end_line - 2) + "=\n" + pem.substr(end_line),    // padding moved
      pem.substr(0, body) + pem.substr(end_line),                    // no data
      pem.substr(0, end_line),                                       // no END
  };
  for (const std::string& text : others) {
    INFO(text);
    const bool canonical = internal::DecodeCanonicalPem(text, PEM_STRING_X509_REQ, decoded);
    // Whatever is accepted here is exactly what the library's reader makes of it.
    if (canonical) CHECK(decoded == LibraryPemDecode(text));
    const std::string fast = [&] {
      absl::StatusOr<ParsedCsr> csr = ParsedCsr::Parse(text, ParsedCsr::Parser::kFast);
      return csr.ok() ? std::string("parsed") : csr.status().ToString();
    }();
    const std::string library = [&] {
      absl::StatusOr<ParsedCsr> csr = ParsedCsr::Parse(text, ParsedCsr::Parser::kLibrary);
      return csr.ok() ? std::string("parsed") : csr.status().ToString();
    }();
    CHECK(fast == library);
  }
  // Bits set beyond the data in the last quantum: another encoding of the same octets, left to
  // the library.
  CHECK(!internal::DecodeCanonicalPem("-----BEGIN X-----\nQR==\n-----END X-----\n", "X", decoded));
  CHECK(internal::DecodeCanonicalPem("-----BEGIN X-----\nQQ==\n-----END X-----\n", "X", decoded));
  CHECK(decoded == "A");
}

TEST_CASE("CSRs signed with other digests get the outcome they got before",
          "[pki][csr][signature]") {
  const CertificateAuthority ca = testing::MakeCa(kNow);
  struct Case {
    KeyType type;
    const EVP_MD* digest;
    std::string expected;  // "issued" or the refusal's message
  };
  const std::vector<Case> cases = {
      {KeyType::kEcdsaP256, EVP_sha256(), "issued"},
      {KeyType::kEcdsaP256, EVP_sha384(), "issued"},
      {KeyType::kEcdsaP256, EVP_sha512(), "issued"},
      {KeyType::kEcdsaP384, EVP_sha256(), "issued"},
      {KeyType::kRsa2048, EVP_sha384(), "issued"},
      {KeyType::kRsa2048, EVP_sha512(), "issued"},
      {KeyType::kEcdsaP256, EVP_sha1(),
       "PERMISSION_DENIED: bad_signature: CSR signature algorithm ecdsa-with-SHA1 is not "
       "accepted (SHA-256 or stronger)"},
      {KeyType::kEcdsaP256, EVP_sha224(),
       "PERMISSION_DENIED: bad_signature: CSR signature algorithm ecdsa-with-SHA224 is not "
       "accepted (SHA-256 or stronger)"},
      {KeyType::kRsa2048, EVP_sha1(),
       "PERMISSION_DENIED: bad_signature: CSR signature algorithm RSA-SHA1 is not accepted "
       "(SHA-256 or stronger)"},
  };
  for (const Case& c : cases) {
    INFO(ToString(c.type) << " " << EVP_MD_type(c.digest));
    absl::StatusOr<SecretString> key = GeneratePrivateKey(c.type);
    REQUIRE(key.ok());
    EvpPkeyPtr pkey = KeyOf(*key);
    const std::string csr = CsrWithDigest(pkey.get(), "boston.example.com", c.digest);
    absl::StatusOr<ParsedCsr> fast = ParsedCsr::Parse(csr, ParsedCsr::Parser::kFast);
    absl::StatusOr<ParsedCsr> library = ParsedCsr::Parse(csr, ParsedCsr::Parser::kLibrary);
    REQUIRE(fast.ok());
    REQUIRE(library.ok());
    CHECK(fast->VerifySignature() == library->VerifySignature());
    internal::DrainErrors();
    const std::string outcome = Outcome(ca.SignPeerCsr(csr, Members(), kNow));
    CHECK(outcome.rfind(c.expected, 0) == 0);
  }
}

TEST_CASE("a signature algorithm for the other key type does not verify, as in the library",
          "[pki][csr][signature]") {
  // An ECDSA request whose signatureAlgorithm is swapped for sha256WithRSAEncryption, and an
  // RSA request whose signatureAlgorithm is swapped for ecdsa-with-SHA256: the direct check
  // must hand both to the library, which refuses the key type.
  const std::string ecdsa_alg("\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02", 12);
  const std::string rsa_alg("\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b\x05\x00", 15);
  for (const auto& [type, from, to] : {std::tuple{KeyType::kEcdsaP256, ecdsa_alg, rsa_alg},
                                       std::tuple{KeyType::kRsa2048, rsa_alg, ecdsa_alg}}) {
    INFO(ToString(type));
    absl::StatusOr<SecretString> key = GeneratePrivateKey(type);
    REQUIRE(key.ok());
    const std::string der = testing::PemToDer(*CreateCsr(key->view(), "boston.example.com"));
    // CertificationRequest ::= SEQUENCE { info, signatureAlgorithm, signature }: rebuild the
    // outer SEQUENCE around the swapped algorithm.
    const std::size_t alg = der.rfind(from);
    REQUIRE(alg != std::string::npos);
    const std::size_t header = (static_cast<unsigned char>(der[1]) & 0x80) != 0
                                   ? 2 + (static_cast<unsigned char>(der[1]) & 0x7F)
                                   : 2;
    const std::string content =
        der.substr(header, alg - header) + to + der.substr(alg + from.size());
    const std::string swapped = internal::Tlv(0x30, content);
    const std::string pem = testing::DerToPem(swapped, "CERTIFICATE REQUEST");
    absl::StatusOr<ParsedCsr> fast = ParsedCsr::Parse(pem, ParsedCsr::Parser::kFast);
    absl::StatusOr<ParsedCsr> library = ParsedCsr::Parse(pem, ParsedCsr::Parser::kLibrary);
    REQUIRE(fast.ok());
    REQUIRE(library.ok());
    const int fast_result = fast->VerifySignature();
    internal::DrainErrors();
    CHECK(fast_result == library->VerifySignature());
    CHECK(fast_result != 1);
    internal::DrainErrors();
    const CertificateAuthority ca = testing::MakeCa(kNow);
    CHECK(Outcome(ca.SignPeerCsr(pem, Members(), kNow)) ==
          "PERMISSION_DENIED: bad_signature: the CSR's signature does not verify");
  }
}

TEST_CASE("the subject name and validity are the library's encodings", "[pki][csr][der]") {
  // Up to 64 characters the CN is written here; longer names are refused by the library's
  // encoder as before.
  const std::string long64 = std::string(51, 'a') + ".example.coms";  // 64 characters
  const std::string long65 = std::string(52, 'a') + ".example.coms";  // 65 characters
  REQUIRE(long64.size() == 64);
  const std::vector<absl::Time> times = {
      kNow, absl::FromCivil(absl::CivilSecond(2049, 12, 31, 23, 59, 59), absl::UTCTimeZone()),
      absl::FromCivil(absl::CivilSecond(2050, 1, 1, 0, 0, 5), absl::UTCTimeZone()),
      absl::FromCivil(absl::CivilSecond(2031, 2, 28, 1, 2, 3), absl::UTCTimeZone()) +
          absl::Milliseconds(999)};
  for (const absl::Time now : times) {
    INFO(absl::FormatTime(now));
    const CertificateAuthority ca = testing::MakeCa(now);
    for (const std::string& name : {std::string("boston.example.com"), long64}) {
      absl::StatusOr<SecretString> key = GeneratePrivateKey(KeyType::kEcdsaP256);
      REQUIRE(key.ok());
      EvpPkeyPtr pkey = KeyOf(*key);
      absl::StatusOr<std::string> pem = ca.SignPeerCsr(
          CsrWithDigest(pkey.get(), name, EVP_sha256()), Members({name}), now);
      REQUIRE(pem.ok());
      absl::StatusOr<X509Ptr> cert = internal::ParseCertificate(*pem);
      REQUIRE(cert.ok());
      internal::X509NamePtr expected(X509_NAME_new());
      REQUIRE(X509_NAME_add_entry_by_NID(expected.get(), NID_commonName, MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(name.data()),
                                         static_cast<int>(name.size()), -1, 0) == 1);
      CHECK(internal::ToDer(X509_get_subject_name(cert->get()), i2d_X509_NAME) ==
            internal::ToDer(expected.get(), i2d_X509_NAME));
      for (const auto& [field, at] :
           {std::pair{X509_get0_notBefore(cert->get()), now - kBackdate},
            std::pair{X509_get0_notAfter(cert->get()), now + absl::Hours(24 * 90)}}) {
        internal::Asn1TimePtr library(ASN1_TIME_set(nullptr, absl::ToTimeT(at)));
        REQUIRE(library != nullptr);
        CHECK(internal::ToDer(const_cast<ASN1_TIME*>(field), i2d_ASN1_TIME) ==
              internal::ToDer(library.get(), i2d_ASN1_TIME));
      }
    }
    absl::StatusOr<SecretString> key = GeneratePrivateKey(KeyType::kEcdsaP256);
    REQUIRE(key.ok());
    EvpPkeyPtr pkey = KeyOf(*key);
    const absl::StatusOr<std::string> refused = ca.SignPeerCsr(
        CsrWithDigest(pkey.get(), long65, EVP_sha256()), Members({long65}), now);
    REQUIRE(!refused.ok());
    CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(refused.status().message()).rfind("cannot encode common name: ", 0) == 0);
  }
}

TEST_CASE("one CA signs from four threads at once", "[pki][csr][threads]") {
  const KeyType type = GENERATE(KeyType::kEcdsaP256, KeyType::kRsa2048);
  INFO(ToString(type));
  const CertificateAuthority ca = testing::MakeCa(kNow, "arraykit array CA", type);
  absl::StatusOr<SecretString> key = GeneratePrivateKey(KeyType::kEcdsaP256);
  REQUIRE(key.ok());
  const std::string csr = *CreateCsr(key->view(), "boston.example.com");
  constexpr int kThreads = 4;
  const int per_thread = type == KeyType::kRsa2048 ? 10 : 40;
  std::vector<std::vector<std::string>> issued(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        absl::StatusOr<std::string> pem = ca.SignPeerCsr(csr, Members(), kNow);
        issued[t].push_back(pem.ok() ? *pem : "");
      }
    });
  }
  for (std::thread& t : threads) t.join();
  absl::StatusOr<X509Ptr> ca_cert = internal::ParseCertificate(ca.certificate_pem());
  REQUIRE(ca_cert.ok());
  EvpPkeyPtr ca_public_key(X509_get_pubkey(ca_cert->get()));
  EVP_PKEY* ca_key = ca_public_key.get();
  std::set<std::string> serials;
  for (const std::vector<std::string>& pems : issued) {
    for (const std::string& pem : pems) {
      REQUIRE(!pem.empty());
      absl::StatusOr<X509Ptr> cert = internal::ParseCertificate(pem);
      REQUIRE(cert.ok());
      CHECK(X509_verify(cert->get(), ca_key) == 1);
      serials.insert(internal::SerialToHex(X509_get0_serialNumber(cert->get())));
    }
  }
  CHECK(serials.size() == static_cast<std::size_t>(kThreads * per_thread));
}

}  // namespace arraykit::pki
