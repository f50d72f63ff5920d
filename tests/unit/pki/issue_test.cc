// The peer certificates SignPeerCsr issues (through the same path as the CA certificate): for
// every CA and member key type canonical DER with the profile's signature algorithm and
// extensions, verifying; refused rather than shortened when they would outlive the CA.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/model/json_reader.h"
#include "core/status.h"

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
      absl::StatusOr<CertificateAuthority::IssuedCertificate> issued =
          ca.IssuePeerCertificate(*csr, options, now);
      REQUIRE(issued.ok());
      absl::StatusOr<CertificateInfo> read = InspectCertificate(issued->pem);
      REQUIRE(read.ok());
      CHECK(issued->info.ToJson() == read->ToJson());
      CHECK(issued->info.not_before == read->not_before);
      CHECK(issued->info.not_after == absl::FromUnixSeconds(absl::ToUnixSeconds(now)) +
                                          options.lifetime);
      CHECK(issued->info.dns_names == std::vector<std::string>{"detroit.example.com"});
    }
  }
}

TEST_CASE("a certificate that would outlive its CA is refused, never shortened",
          "[pki][csr][validity]") {
  const absl::Time created = testing::TestNow();
  CaOptions ca_options;
  ca_options.lifetime = absl::Hours(24 * 365);
  absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Create(ca_options, created);
  REQUIRE(ca.ok());
  const absl::Time ca_end = ca->info().not_after;
  absl::StatusOr<SecretString> key = GeneratePrivateKey(KeyType::kEcdsaP256);
  REQUIRE(key.ok());
  const std::string csr = *CreateCsr(key->view(), "boston.example.com");
  PeerCertificateOptions options;
  options.member_names = {"boston.example.com"};
  options.lifetime = absl::Hours(24 * 90);
  Truststore trust;
  REQUIRE(trust.Add(ca->certificate_pem()).ok());

  SECTION("a lifetime ending exactly at the CA's notAfter is issued; one second later is not") {
    const absl::Time last_start = ca_end - options.lifetime;
    absl::StatusOr<CertificateAuthority::IssuedCertificate> issued =
        ca->IssuePeerCertificate(csr, options, last_start);
    REQUIRE(issued.ok());
    CHECK(issued->info.not_after == ca_end);
    const absl::Status late =
        ca->IssuePeerCertificate(csr, options, last_start + absl::Seconds(1)).status();
    CHECK(late.code() == absl::StatusCode::kFailedPrecondition);
    CHECK(ReasonOf(late) == "outlives_ca");
    CHECK(late.message().find(internal::Av(model::json_internal::FormatRfc3339(ca_end))) !=
          absl::string_view::npos);
    CHECK(late.message().find("roll the CA over") != absl::string_view::npos);

    // Verification is inclusive at notAfter (RFC 5280): valid at the last second of both the
    // certificate and its CA, expired one second later.
    VerifyOptions at;
    at.expected_name = "boston.example.com";
    at.at = ca_end;
    VerificationResult last = VerifyPeerCertificate(issued->pem, trust, at);
    INFO(last.message);
    CHECK(last.valid);
    at.at = ca_end - absl::Seconds(1);
    CHECK(VerifyPeerCertificate(issued->pem, trust, at).valid);
    at.at = ca_end + absl::Seconds(1);
    VerificationResult after = VerifyPeerCertificate(issued->pem, trust, at);
    CHECK(!after.valid);
    CHECK(after.reason == RejectReason::kExpired);
  }
  SECTION("the CA signs at its notAfter (then nothing fits) and not one second after") {
    const absl::Status at_end = ca->IssuePeerCertificate(csr, options, ca_end).status();
    CHECK(ReasonOf(at_end) == "outlives_ca");  // the CA is still valid: inclusive notAfter
    const absl::Status before_end =
        ca->IssuePeerCertificate(csr, options, ca_end - absl::Seconds(1)).status();
    CHECK(ReasonOf(before_end) == "outlives_ca");
    const absl::Status after_end =
        ca->IssuePeerCertificate(csr, options, ca_end + absl::Seconds(1)).status();
    CHECK(after_end.code() == absl::StatusCode::kFailedPrecondition);
    CHECK(ReasonOf(after_end) == "ca_expired");
    const absl::Status before_start =
        ca->IssuePeerCertificate(csr, options, ca->info().not_before - absl::Seconds(1)).status();
    CHECK(ReasonOf(before_start) == "ca_not_yet_valid");
    CHECK(ca->IssuePeerCertificate(csr, options, ca->info().not_before).ok());
  }
}

TEST_CASE("the CA certificate and peer certificates come from one profile", "[pki][csr][der]") {
  const absl::Time now = testing::TestNow();
  CertificateAuthority ca = testing::MakeCa(now);
  testing::Issued peer = testing::IssuePeer(ca, "boston.example.com", now);
  X509Ptr ca_cert = ParseDer(testing::PemToDer(ca.certificate_pem()));
  X509Ptr leaf = ParseDer(testing::PemToDer(peer.certificate_pem));
  for (X509* c : {ca_cert.get(), leaf.get()}) {
    CHECK(X509_get_version(c) == 2);
    CHECK(X509_get0_subject_key_id(c) != nullptr);
    CHECK(X509_get0_authority_key_id(c) != nullptr);
    BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c), nullptr);
    CHECK(BN_num_bits(serial) == 159);
    BN_free(serial);
  }
  CHECK((X509_get_extension_flags(ca_cert.get()) & EXFLAG_CA) != 0);
  CHECK(X509_get_key_usage(ca_cert.get()) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  CHECK((X509_get_extension_flags(leaf.get()) & EXFLAG_CA) == 0);
  CHECK(X509_get_key_usage(leaf.get()) == KU_DIGITAL_SIGNATURE);
  CHECK(X509_get_extended_key_usage(leaf.get()) == (XKU_SSL_SERVER | XKU_SSL_CLIENT));
  // The leaf's AKI is the CA's SKI.
  CHECK(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf.get()),
                              X509_get0_subject_key_id(ca_cert.get())) == 0);
}

TEST_CASE("one CA signs from four threads at once", "[pki][csr][threads]") {
  const absl::Time now = testing::TestNow();
  const KeyType type = GENERATE(KeyType::kEcdsaP256, KeyType::kRsa2048);
  INFO(ToString(type));
  const CertificateAuthority ca = testing::MakeCa(now, "arraykit array CA", type);
  absl::StatusOr<SecretString> key = GeneratePrivateKey(KeyType::kEcdsaP256);
  REQUIRE(key.ok());
  const std::string csr = *CreateCsr(key->view(), "boston.example.com");
  PeerCertificateOptions options;
  options.member_names = {"boston.example.com"};
  constexpr int kThreads = 4;
  const int per_thread = type == KeyType::kRsa2048 ? 10 : 40;
  std::vector<std::vector<std::string>> issued(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        absl::StatusOr<std::string> pem = ca.SignPeerCsr(csr, options, now);
        issued[t].push_back(pem.ok() ? *pem : "");
      }
    });
  }
  for (std::thread& t : threads) t.join();
  X509Ptr ca_cert = ParseDer(testing::PemToDer(ca.certificate_pem()));
  internal::EvpPkeyPtr ca_public_key(X509_get_pubkey(ca_cert.get()));
  std::set<std::string> serials;
  for (const std::vector<std::string>& pems : issued) {
    for (const std::string& pem : pems) {
      REQUIRE(!pem.empty());
      X509Ptr cert = ParseDer(testing::PemToDer(pem));
      CHECK(X509_verify(cert.get(), ca_public_key.get()) == 1);
      serials.insert(internal::SerialToHex(X509_get0_serialNumber(cert.get())));
    }
  }
  CHECK(serials.size() == static_cast<std::size_t>(kThreads * per_thread));
}

}  // namespace
}  // namespace arraykit::pki
