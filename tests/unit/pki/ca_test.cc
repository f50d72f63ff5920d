// The CA and peer-certificate profiles, CSR creation and the CA's refusals.
#include <catch2/catch.hpp>
#include <string>

#include "core/pki/ossl.h"
#include "core/pki/pki.h"
#include "core/status.h"
#include "test_util.h"

namespace arraykit::pki {
namespace {

using testing::CliMakeCsr;
using testing::MustRun;
using testing::TempDir;
using testing::TestNow;
using testing::WriteFile;

const std::vector<std::string> kMembers = {"boston.example.com", "newyork.example.com",
                                           "detroit.example.com", "seattle.example.com"};

PeerCertificateOptions Members() {
  PeerCertificateOptions o;
  o.member_names = kMembers;
  return o;
}

std::string CliText(const TempDir& dir, const std::string& pem) {
  WriteFile(dir.File("show.pem"), pem);
  return MustRun("openssl x509 -noout -text -in " + dir.File("show.pem"));
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_CASE("CA certificate follows the array's CA profile", "[pki][ca]") {
  const absl::Time now = TestNow();
  CertificateAuthority ca = testing::MakeCa(now, "arraykit CA boston.example.com");
  const CertificateInfo& info = ca.info();
  CHECK(info.is_ca);
  CHECK(info.subject == "CN=arraykit CA boston.example.com");
  CHECK(info.issuer == info.subject);
  CHECK(info.not_before == now - absl::Minutes(5));
  CHECK(info.not_after == now + absl::Hours(24 * 365 * 5));
  CHECK(info.key == "ecdsa-p256");
  // 159-bit serial: 40 hex digits, leading digit 4..7 (positive, top bit set below the sign).
  REQUIRE(info.serial_hex.size() == 40);
  CHECK(std::string("4567").find(info.serial_hex[0]) != std::string::npos);
  CHECK(testing::MakeCa(now).info().serial_hex != info.serial_hex);

  TempDir dir;
  const std::string text = CliText(dir, ca.certificate_pem());
  INFO(text);
  CHECK(Contains(text, "X509v3 Basic Constraints: critical"));
  CHECK(Contains(text, "CA:TRUE, pathlen:0"));
  CHECK(Contains(text, "X509v3 Key Usage: critical"));
  CHECK(Contains(text, "Certificate Sign, CRL Sign"));
  CHECK(Contains(text, "X509v3 Subject Key Identifier"));
  CHECK(Contains(text, "X509v3 Authority Key Identifier"));
  CHECK(Contains(text, "ecdsa-with-SHA256"));
  CHECK(Contains(text, "Version: 3"));
}

TEST_CASE("CA lifetime and key type are configurable and bad options are refused", "[pki][ca]") {
  const absl::Time now = TestNow();
  CaOptions options;
  options.lifetime = absl::Hours(24 * 365);
  options.key_type = KeyType::kEcdsaP384;
  absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Create(options, now);
  REQUIRE(ca.ok());
  CHECK(ca->info().not_after == now + absl::Hours(24 * 365));
  CHECK(ca->info().key == "ecdsa-p384");

  options.key_type = KeyType::kRsa2048;
  absl::StatusOr<CertificateAuthority> rsa = CertificateAuthority::Create(options, now);
  REQUIRE(rsa.ok());
  CHECK(rsa->info().key == "rsa-2048");
  // An RSA CA signs ECDSA member keys: mixed types are fine.
  testing::Issued peer = testing::IssuePeer(*rsa, "boston.example.com", now);
  CHECK(InspectCertificate(peer.certificate_pem)->issuer == rsa->info().subject);

  options.lifetime = absl::ZeroDuration();
  CHECK(CertificateAuthority::Create(options, now).status().code() ==
        absl::StatusCode::kInvalidArgument);
  options.lifetime = absl::Hours(24);
  options.common_name = "";
  CHECK(CertificateAuthority::Create(options, now).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("CA round-trips through PEM and refuses foreign keys and leaf certificates",
          "[pki][ca]") {
  const absl::Time now = TestNow();
  CertificateAuthority ca = testing::MakeCa(now);
  absl::StatusOr<SecretString> key = ca.PrivateKeyPem();
  REQUIRE(key.ok());
  CHECK(key->view().find("BEGIN PRIVATE KEY") != std::string_view::npos);
  absl::StatusOr<CertificateAuthority> loaded =
      CertificateAuthority::Load(ca.certificate_pem(), key->view());
  REQUIRE(loaded.ok());
  CHECK(loaded->fingerprint() == ca.fingerprint());
  // The loaded CA signs, and what it signs chains to the original certificate.
  testing::Issued peer = testing::IssuePeer(*loaded, "boston.example.com", now);
  CHECK(InspectCertificate(peer.certificate_pem)->issuer == ca.info().subject);

  CertificateAuthority other = testing::MakeCa(now);
  absl::StatusOr<SecretString> other_key = other.PrivateKeyPem();
  REQUIRE(other_key.ok());
  CHECK(CertificateAuthority::Load(ca.certificate_pem(), other_key->view()).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(CertificateAuthority::Load(peer.certificate_pem, peer.key_pem.view()).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(!CertificateAuthority::Load("", key->view()).ok());
  CHECK(!CertificateAuthority::Load(ca.certificate_pem(), "not a key").ok());
}

TEST_CASE("peer certificate follows the array's peer profile", "[pki][csr]") {
  const absl::Time now = TestNow();
  CertificateAuthority ca = testing::MakeCa(now);
  absl::StatusOr<SecretString> key = GeneratePrivateKey(KeyType::kEcdsaP256);
  REQUIRE(key.ok());
  // The CSR is made from the operator's spelling; the certificate carries the normalized name.
  absl::StatusOr<std::string> csr = CreateCsr(key->view(), "Boston.Example.COM.");
  REQUIRE(csr.ok());
  absl::StatusOr<std::string> cert = ca.SignPeerCsr(*csr, Members(), now);
  INFO(cert.status().ToString());
  REQUIRE(cert.ok());
  absl::StatusOr<CertificateInfo> info = InspectCertificate(*cert);
  REQUIRE(info.ok());
  CHECK(info->subject == "CN=boston.example.com");
  CHECK(info->dns_names == std::vector<std::string>{"boston.example.com"});
  CHECK(info->issuer == ca.info().subject);
  CHECK(!info->is_ca);
  CHECK(info->not_before == now - absl::Minutes(5));
  CHECK(info->not_after == now + absl::Hours(24 * 90));
  CHECK(info->serial_hex.size() == 40);
  CHECK(info->key == "ecdsa-p256");

  TempDir dir;
  const std::string text = CliText(dir, *cert);
  INFO(text);
  CHECK(Contains(text, "X509v3 Basic Constraints: critical"));
  CHECK(Contains(text, "CA:FALSE"));
  CHECK(Contains(text, "X509v3 Key Usage: critical"));
  CHECK(Contains(text, "Digital Signature"));
  CHECK(!Contains(text, "Certificate Sign"));
  CHECK(Contains(text, "TLS Web Server Authentication, TLS Web Client Authentication"));
  CHECK(Contains(text, "DNS:boston.example.com"));
  CHECK(Contains(text, "X509v3 Authority Key Identifier"));
  CHECK(Contains(text, "X509v3 Subject Key Identifier"));
}

TEST_CASE("peer certificate lifetime is configurable and never outlives the CA (refused)",
          "[pki][csr]") {
  const absl::Time now = TestNow();
  CaOptions options;
  options.lifetime = absl::Hours(24 * 30);
  absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Create(options, now);
  REQUIRE(ca.ok());
  testing::Issued a =
      testing::IssuePeer(*ca, "boston.example.com", now, KeyType::kEcdsaP256, absl::Hours(24 * 7));
  CHECK(InspectCertificate(a.certificate_pem)->not_after == now + absl::Hours(24 * 7));
  // 90 days requested from a CA with 30 left: refused with the CA's expiry, never shortened.
  absl::StatusOr<SecretString> key = GeneratePrivateKey(KeyType::kEcdsaP256);
  absl::StatusOr<std::string> csr = CreateCsr(key->view(), "boston.example.com");
  REQUIRE(csr.ok());
  const absl::Status outlives = ca->SignPeerCsr(*csr, Members(), now).status();
  CHECK(outlives.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(ReasonOf(outlives) == "outlives_ca");
  CHECK(outlives.message().find("which expires at 2026-") != absl::string_view::npos);

  // An expired CA signs nothing.
  absl::Status late = ca->SignPeerCsr(*csr, Members(), now + absl::Hours(24 * 31)).status();
  CHECK(late.code() == absl::StatusCode::kFailedPrecondition);
}

struct Refusal {
  absl::Status status;
  std::optional<CsrRejection> code() const { return GetCsrRejection(status); }
};

Refusal SignCliCsr(const CertificateAuthority& ca, const TempDir& dir, const std::string& name,
                   const PeerCertificateOptions& options, absl::Time now) {
  const std::string csr = testing::ReadFile(dir.File(name + ".csr"));
  return {ca.SignPeerCsr(csr, options, now).status()};
}

TEST_CASE("CA refuses CSRs with a stable reason", "[pki][csr]") {
  const absl::Time now = TestNow();
  CertificateAuthority ca = testing::MakeCa(now);
  absl::StatusOr<SecretString> key = GeneratePrivateKey(KeyType::kEcdsaP256);
  REQUIRE(key.ok());

  SECTION("a name that is not a member") {
    absl::StatusOr<std::string> csr = CreateCsr(key->view(), "intruder.example.com");
    REQUIRE(csr.ok());
    absl::Status s = ca.SignPeerCsr(*csr, Members(), now).status();
    CHECK(GetCsrRejection(s) == CsrRejection::kNotAMember);
    CHECK(s.code() == absl::StatusCode::kPermissionDenied);
    CHECK(ReasonOf(s) == "not_a_member");
    CHECK(s.message() == "'intruder.example.com' is not a member of the array");
  }
  SECTION("a member other than the one being enrolled") {
    absl::StatusOr<std::string> csr = CreateCsr(key->view(), "boston.example.com");
    REQUIRE(csr.ok());
    PeerCertificateOptions o = Members();
    o.expected_name = "newyork.example.com";
    CHECK(GetCsrRejection(ca.SignPeerCsr(*csr, o, now).status()) == CsrRejection::kNameMismatch);
    o.expected_name = "BOSTON.example.com.";
    CHECK(ca.SignPeerCsr(*csr, o, now).ok());
  }
  SECTION("garbage and empty input") {
    absl::Status s = ca.SignPeerCsr(
                           "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                           "-----END CERTIFICATE REQUEST-----\n",
                           Members(), now)
                         .status();
    CHECK(GetCsrRejection(s) == CsrRejection::kMalformed);
    CHECK(s.code() == absl::StatusCode::kPermissionDenied);
    CHECK(GetCsrRejection(ca.SignPeerCsr("", Members(), now).status()) == CsrRejection::kMalformed);
    CHECK(GetCsrRejection(ca.SignPeerCsr(ca.certificate_pem(), Members(), now).status()) ==
          CsrRejection::kMalformed);
  }
  SECTION("an IP literal is never a peer name: not in the request, not in the CSR") {
    const absl::Status made = CreateCsr(key->view(), "10.0.0.1").status();
    CHECK(made.code() == absl::StatusCode::kInvalidArgument);
    CHECK(ReasonOf(made) == "name_not_fqdn");
    CHECK(ReasonOf(CreateKeyAndCsr(KeyType::kEcdsaP256, "10.0.0.1").status()) == "name_not_fqdn");
    TempDir ip_dir;
    testing::CliMakeCsr(ip_dir, "ip", "/CN=10.0.0.1");
    PeerCertificateOptions o = Members();
    o.member_names.push_back("10.0.0.1");  // even if a caller listed it
    const absl::Status s = SignCliCsr(ca, ip_dir, "ip", o, now).status;
    CHECK(GetCsrRejection(s) == CsrRejection::kNameNotFqdn);
    CHECK(s.code() == absl::StatusCode::kPermissionDenied);
    CHECK(s.message().find("10.0.0.1") != absl::string_view::npos);
  }
  SECTION("CreateKeyAndCsr: the CSR is signed by the key it returns") {
    absl::StatusOr<MemberRequest> made = CreateKeyAndCsr(KeyType::kEcdsaP384, "Boston.Example.COM.");
    REQUIRE(made.ok());
    absl::StatusOr<CertificateAuthority::IssuedCertificate> issued =
        ca.IssuePeerCertificate(made->csr_pem, Members(), now);
    REQUIRE(issued.ok());
    CHECK(issued->info.dns_names == std::vector<std::string>{"boston.example.com"});
    CHECK(issued->info.key == "ecdsa-p384");
    absl::StatusOr<internal::X509Ptr> cert = internal::ParseCertificate(issued->pem);
    absl::StatusOr<internal::EvpPkeyPtr> member_key =
        internal::ParsePrivateKey(made->private_key_pem.view());
    REQUIRE((cert.ok() && member_key.ok()));
    CHECK(X509_check_private_key(cert->get(), member_key->get()) == 1);
  }
  SECTION("a tampered CSR signature") {
    absl::StatusOr<std::string> csr = CreateCsr(key->view(), "boston.example.com");
    REQUIRE(csr.ok());
    std::string der = testing::PemToDer(*csr);
    der.back() = static_cast<char>(der.back() ^ 0x01);  // last byte of the signature value
    const std::string tampered = testing::DerToPem(der, "CERTIFICATE REQUEST");
    CHECK(GetCsrRejection(ca.SignPeerCsr(tampered, Members(), now).status()) ==
          CsrRejection::kBadSignature);
  }

  TempDir dir;
  SECTION("weak keys: RSA-1024, P-192, secp256k1") {
    testing::CliMakeCsr(dir, "rsa1024", "/CN=boston.example.com", "rsa:1024");
    testing::CliMakeCsr(dir, "p192", "/CN=boston.example.com",
                        "ec -pkeyopt ec_paramgen_curve:prime192v1");
    testing::CliMakeCsr(dir, "k256", "/CN=boston.example.com",
                        "ec -pkeyopt ec_paramgen_curve:secp256k1");
    for (const char* name : {"rsa1024", "p192", "k256"}) {
      Refusal r = SignCliCsr(ca, dir, name, Members(), now);
      INFO(name << ": " << r.status.ToString());
      CHECK(r.code() == CsrRejection::kWeakKey);
    }
  }
  SECTION("extra SANs, non-DNS SANs, wildcards, SAN differing from CN, SHA-1") {
    CliMakeCsr(dir, "extra", "/CN=boston.example.com", "ec -pkeyopt ec_paramgen_curve:P-256",
               "-addext subjectAltName=DNS:boston.example.com,DNS:evil.example.com");
    CliMakeCsr(dir, "ip", "/CN=boston.example.com", "ec -pkeyopt ec_paramgen_curve:P-256",
               "-addext subjectAltName=IP:192.0.2.1");
    CliMakeCsr(dir, "wild", "/CN=*.example.com");
    CliMakeCsr(dir, "wildsan", "/CN=boston.example.com", "ec -pkeyopt ec_paramgen_curve:P-256",
               "-addext subjectAltName=DNS:*.example.com");
    CliMakeCsr(dir, "differ", "/CN=boston.example.com", "ec -pkeyopt ec_paramgen_curve:P-256",
               "-addext subjectAltName=DNS:newyork.example.com");
    CliMakeCsr(dir, "sha1", "/CN=boston.example.com", "ec -pkeyopt ec_paramgen_curve:P-256",
               "-sha1");
    CliMakeCsr(dir, "twocn", "/CN=boston.example.com/CN=newyork.example.com");
    CHECK(SignCliCsr(ca, dir, "extra", Members(), now).code() == CsrRejection::kBadSubjectAltName);
    CHECK(SignCliCsr(ca, dir, "ip", Members(), now).code() == CsrRejection::kBadSubjectAltName);
    CHECK(SignCliCsr(ca, dir, "wild", Members(), now).code() == CsrRejection::kBadSubjectAltName);
    CHECK(SignCliCsr(ca, dir, "wildsan", Members(), now).code() ==
          CsrRejection::kBadSubjectAltName);
    CHECK(SignCliCsr(ca, dir, "differ", Members(), now).code() == CsrRejection::kNameMismatch);
    CHECK(SignCliCsr(ca, dir, "sha1", Members(), now).code() == CsrRejection::kBadSignature);
    CHECK(SignCliCsr(ca, dir, "twocn", Members(), now).code() == CsrRejection::kNameMismatch);
  }
  SECTION("CSRs made by the openssl CLI are signed like ours") {
    CliMakeCsr(dir, "plain", "/O=Example/CN=Boston.Example.com");
    CliMakeCsr(dir, "withsan", "/CN=newyork.example.com", "rsa:2048",
               "-addext subjectAltName=DNS:newyork.example.com");
    for (const char* name : {"plain", "withsan"}) {
      absl::StatusOr<std::string> cert =
          ca.SignPeerCsr(testing::ReadFile(dir.File(std::string(name) + ".csr")), Members(), now);
      INFO(name << ": " << cert.status().ToString());
      REQUIRE(cert.ok());
      absl::StatusOr<CertificateInfo> info = InspectCertificate(*cert);
      REQUIRE(info.ok());
      CHECK(info->dns_names.size() == 1);
      CHECK(info->subject == "CN=" + info->dns_names[0]);  // the O= of the request is dropped
    }
  }
}

TEST_CASE("key types: the allowed ones parse, the others are refused naming the allowed",
          "[pki][keys]") {
  CHECK(ParseKeyType("ecdsa-p256").value() == KeyType::kEcdsaP256);
  CHECK(ParseKeyType("P-256").value() == KeyType::kEcdsaP256);
  CHECK(ParseKeyType("prime256v1").value() == KeyType::kEcdsaP256);
  CHECK(ParseKeyType("ECDSA-P384").value() == KeyType::kEcdsaP384);
  CHECK(ParseKeyType("rsa-2048").value() == KeyType::kRsa2048);
  CHECK(ParseKeyType("RSA3072").value() == KeyType::kRsa3072);
  for (const char* bad : {"rsa-1024", "rsa-1536", "secp256k1", "p-192", "prime192v1", "ed25519",
                          "dsa", "p-521", ""}) {
    absl::StatusOr<KeyType> t = ParseKeyType(bad);
    INFO(bad);
    REQUIRE(!t.ok());
    CHECK(t.status().message().find("ecdsa-p256") != absl::string_view::npos);
  }
  for (KeyType t :
       {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kRsa2048, KeyType::kRsa3072}) {
    CHECK(ParseKeyType(ToString(t)).value() == t);
  }
  // A member cannot even make a CSR with a key the array refuses.
  TempDir dir;
  MustRun("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out " +
          dir.File("weak.key"));
  CHECK(!CreateCsr(testing::ReadFile(dir.File("weak.key")), "boston.example.com").ok());
}

TEST_CASE("peer DNS names are normalized and validated", "[pki][names]") {
  CHECK(NormalizePeerName("Boston.Example.COM.").value() == "boston.example.com");
  CHECK(NormalizePeerName("a-1.b2.example").value() == "a-1.b2.example");
  for (const char* bad :
       {"", ".", "*.example.com", "10.0.0.1", "::1", "bo ston.example.com", "-a.example.com", "a-.example.com",
        "a..example.com", "boston.example.com,DNS:evil", "b\xc3\xb6ston.example.com"}) {
    INFO(bad);
    CHECK(!NormalizePeerName(bad).ok());
  }
  CHECK(!NormalizePeerName(std::string(64, 'a') + ".example.com").ok());
  CHECK(NormalizePeerName(std::string(63, 'a') + ".example.com").ok());
}

TEST_CASE("renewal falls due at two thirds of the lifetime", "[pki][renewal]") {
  const absl::Time nb = TestNow();
  const absl::Time na = nb + absl::Hours(24 * 90);
  CHECK(RenewalTime(nb, na) == nb + absl::Hours(24 * 60));
  CHECK(!RenewalDue(nb, na, nb + absl::Hours(24 * 60) - absl::Seconds(1)));
  CHECK(RenewalDue(nb, na, nb + absl::Hours(24 * 60)));
}

}  // namespace
}  // namespace arraykit::pki
