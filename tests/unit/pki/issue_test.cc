// The peer certificate SignPeerCsr writes as DER itself: for every CA and member key type it
// must be exactly what the crypto library would encode for the same fields, carry the
// signature algorithm and extensions of the profile, and verify.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/pki/ossl.h"
#include "core/pki/pki.h"
#include "core/pki/truststore.h"
#include "core/pki/verify.h"
#include "test_util.h"

namespace arraykit::pki {
namespace {

using internal::X509Ptr;

X509Ptr ParseDer(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));  // NOLINT(runtime/int)
  REQUIRE(cert != nullptr);
  CHECK(p == reinterpret_cast<const unsigned char*>(der.data()) + der.size());
  return cert;
}

std::string Bytes(const ASN1_STRING* s) {
  REQUIRE(s != nullptr);
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

TEST_CASE("issued certificates are the DER the library itself writes, for every key type",
          "[pki][csr][der]") {
  const absl::Time now = testing::TestNow();
  const KeyType ca_type = GENERATE(KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kRsa2048);
  const KeyType member_type =
      GENERATE(KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kRsa2048);
  INFO("CA " << ToString(ca_type) << ", member " << ToString(member_type));
  CertificateAuthority ca = testing::MakeCa(now, "arraykit array CA", ca_type);
  testing::Issued peer = testing::IssuePeer(ca, "boston.example.com", now, member_type);

  // The PEM text is what the library's PEM writer makes of the DER.
  const std::string der = testing::PemToDer(peer.certificate_pem);
  X509Ptr cert = ParseDer(der);
  CHECK(internal::CertificateToPem(cert.get()) == peer.certificate_pem);

  // Re-encoding every field of the parsed TBSCertificate gives back our bytes: the DER is
  // canonical, in the field order and forms the library uses.
  unsigned char* tbs = nullptr;
  const int tbs_len = i2d_re_X509_tbs(cert.get(), &tbs);
  REQUIRE(tbs_len > 0);
  const std::string reencoded(reinterpret_cast<const char*>(tbs), static_cast<std::size_t>(tbs_len));
  OPENSSL_free(tbs);
  CHECK(der.size() > 4 + reencoded.size());
  CHECK(der.compare(4, reencoded.size(), reencoded) == 0);  // after the outer 30 82 LL LL

  // Signed by the CA, with the algorithm X509_sign chose for the CA's own certificate.
  X509Ptr ca_cert = *internal::ParseCertificate(ca.certificate_pem());
  internal::EvpPkeyPtr ca_key(X509_get_pubkey(ca_cert.get()));
  REQUIRE(ca_key != nullptr);
  CHECK(X509_verify(cert.get(), ca_key.get()) == 1);
  const X509_ALGOR* outer = nullptr;
  X509_get0_signature(nullptr, &outer, cert.get());
  CHECK(X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(cert.get())) == 0);
  CHECK(X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(ca_cert.get())) == 0);
  CHECK(X509_get_version(cert.get()) == 2);

  // The profile's extensions, in order, with their criticality.
  const std::vector<std::pair<int, int>> expected = {
      {NID_basic_constraints, 1},      {NID_key_usage, 1},
      {NID_ext_key_usage, 0},          {NID_subject_key_identifier, 0},
      {NID_authority_key_identifier, 0}, {NID_subject_alt_name, 0}};
  REQUIRE(X509_get_ext_count(cert.get()) == static_cast<int>(expected.size()));
  for (int i = 0; i < static_cast<int>(expected.size()); ++i) {
    X509_EXTENSION* ext = X509_get_ext(cert.get(), i);
    CHECK(OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == expected[i].first);
    CHECK(X509_EXTENSION_get_critical(ext) == expected[i].second);
  }
  // SKI = SHA-1 of the subjectPublicKey bits; AKI = the CA's SKI.
  const ASN1_BIT_STRING* key_bits = X509_get0_pubkey_bitstr(cert.get());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  REQUIRE(EVP_Digest(ASN1_STRING_get0_data(key_bits), ASN1_STRING_length(key_bits), md, &md_len,
                     EVP_sha1(), nullptr) == 1);
  CHECK(Bytes(X509_get0_subject_key_id(cert.get())) ==
        std::string(reinterpret_cast<const char*>(md), md_len));
  CHECK(Bytes(X509_get0_authority_key_id(cert.get())) ==
        Bytes(X509_get0_subject_key_id(ca_cert.get())));

  // Described and verified like any other peer certificate.
  absl::StatusOr<CertificateInfo> info = InspectCertificate(peer.certificate_pem);
  REQUIRE(info.ok());
  CHECK(info->key == ToString(member_type));
  CHECK(info->subject == "CN=boston.example.com");
  CHECK(info->dns_names == std::vector<std::string>{"boston.example.com"});
  CHECK(info->serial_hex.size() == 40);
  Truststore trust;
  REQUIRE(trust.Add(ca.certificate_pem()).ok());
  VerifyOptions options;
  options.expected_name = "boston.example.com";
  options.at = now;
  VerificationResult verdict = VerifyPeerCertificate(peer.certificate_pem, trust, options);
  INFO(verdict.message);
  CHECK(verdict.valid);
}

TEST_CASE("the issued certificate certifies the CSR's key, and serials differ", "[pki][csr][der]") {
  const absl::Time now = testing::TestNow();
  CertificateAuthority ca = testing::MakeCa(now);
  testing::Issued a = testing::IssuePeer(ca, "boston.example.com", now);
  testing::Issued b = testing::IssuePeer(ca, "boston.example.com", now);
  X509Ptr cert = ParseDer(testing::PemToDer(a.certificate_pem));
  absl::StatusOr<internal::EvpPkeyPtr> key = internal::ParsePrivateKey(a.key_pem.view());
  REQUIRE(key.ok());
  CHECK(X509_check_private_key(cert.get(), key->get()) == 1);
  CHECK(InspectCertificate(a.certificate_pem)->serial_hex !=
        InspectCertificate(b.certificate_pem)->serial_hex);
  // A long name (64 characters, the most a CN holds) still encodes and verifies.
  const std::string long_name = std::string(50, 'a') + ".example.com.x";
  REQUIRE(long_name.size() == 64);
  testing::Issued c = testing::IssuePeer(ca, long_name, now);
  CHECK(InspectCertificate(c.certificate_pem)->dns_names == std::vector<std::string>{long_name});
}

TEST_CASE("IssuePeerCertificate describes what it issued exactly as InspectCertificate reads it",
          "[pki][csr]") {
  // A sub-second instant: the description must hold the whole seconds the DER holds.
  const absl::Time now = testing::TestNow() + absl::Milliseconds(750);
  for (KeyType ca_type : {KeyType::kEcdsaP256, KeyType::kRsa2048}) {
    CertificateAuthority ca = testing::MakeCa(now, "arraykit array CA", ca_type);
    for (KeyType member_type : {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kRsa2048}) {
      absl::StatusOr<SecretString> key = GeneratePrivateKey(member_type);
      REQUIRE(key.ok());
      absl::StatusOr<std::string> csr = CreateCsr(key->view(), "Detroit.Example.COM.");
      REQUIRE(csr.ok());
      PeerCertificateOptions options;
      options.member_names = {"boston.example.com", "detroit.example.com"};
      // A lifetime past the CA's end: not_after is clamped to the CA's.
      options.lifetime = absl::Hours(24 * 365 * 20);
      absl::StatusOr<CertificateAuthority::IssuedCertificate> issued =
          ca.IssuePeerCertificate(*csr, options, now);
      REQUIRE(issued.ok());
      absl::StatusOr<CertificateInfo> read = InspectCertificate(issued->pem);
      REQUIRE(read.ok());
      CHECK(issued->info.ToJson() == read->ToJson());
      CHECK(issued->info.not_before == read->not_before);
      CHECK(issued->info.not_after == ca.info().not_after);
      CHECK(issued->info.dns_names == std::vector<std::string>{"detroit.example.com"});
    }
  }
}

}  // namespace
}  // namespace arraykit::pki
