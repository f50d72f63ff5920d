// Peer verification: every rejection with its reason code, and interoperability with the
// openssl CLI in both directions.
#include <catch2/catch.hpp>
#include <string>

#include <openssl/x509.h>

#include "core/pki/ossl.h"
#include "core/pki/pki.h"
#include "core/pki/truststore.h"
#include "core/pki/verify.h"
#include "core/status.h"
#include "test_util.h"

namespace arraykit::pki {
namespace {

using testing::CliMakeCa;
using testing::CliMakeCsr;
using testing::CliSign;
using testing::MustRun;
using testing::PeerExtensions;
using testing::ReadFile;
using testing::TempDir;
using testing::TestNow;
using testing::WriteFile;

constexpr char kBoston[] = "boston.example.com";

Truststore TrustOnly(const std::string& ca_pem) {
  Truststore t;
  absl::StatusOr<TrustedCa> added = t.Add(ca_pem);
  INFO(added.status().ToString());
  REQUIRE(added.ok());
  return t;
}

VerifyOptions For(const std::string& name, absl::Time at, Role role = Role::kServer) {
  VerifyOptions o;
  o.expected_name = name;
  o.at = at;
  o.role = role;
  return o;
}

// The reason code, or "valid".
std::string Judge(std::string_view cert, const Truststore& trust, const VerifyOptions& o) {
  VerificationResult r = VerifyPeerCertificate(cert, trust, o);
  UNSCOPED_INFO("message: " << r.message);
  if (r.valid) return "valid";
  REQUIRE(r.reason.has_value());
  return std::string(ToString(*r.reason));
}

TEST_CASE("a certificate from the array's CA verifies for its name, both roles", "[pki][verify]") {
  const absl::Time now = TestNow();
  CertificateAuthority ca = testing::MakeCa(now);
  testing::Issued peer = testing::IssuePeer(ca, kBoston, now);
  Truststore trust = TrustOnly(ca.certificate_pem());
  CHECK(Judge(peer.certificate_pem, trust, For(kBoston, now)) == "valid");
  CHECK(Judge(peer.certificate_pem, trust, For(kBoston, now, Role::kClient)) == "valid");
  // The expected name is compared normalized.
  CHECK(Judge(peer.certificate_pem, trust, For("BOSTON.example.com.", now)) == "valid");
  // DER input is accepted as well as PEM.
  CHECK(Judge(testing::PemToDer(peer.certificate_pem), trust, For(kBoston, now)) == "valid");
  // 5 minutes of clock skew are tolerated at the start, none after the end.
  CHECK(Judge(peer.certificate_pem, trust, For(kBoston, now - absl::Minutes(4))) == "valid");
  CHECK(Judge(peer.certificate_pem, trust,
              For(kBoston, now + absl::Hours(24 * 90) - absl::Seconds(1))) == "valid");

  VerificationResult ok = VerifyPeerCertificate(peer.certificate_pem, trust, For(kBoston, now));
  const nlohmann::json j = ok.ToJson();
  CHECK(j["valid"] == true);
  CHECK(j["reason"].is_null());
  CHECK(j["message"].get<std::string>().rfind("the certificate is valid for boston.example.com", 0) ==
        0);
  CHECK(ok.ToStatus().ok());
}

TEST_CASE("rejections carry one stable reason code", "[pki][verify]") {
  const absl::Time now = TestNow();
  CertificateAuthority ca = testing::MakeCa(now, "arraykit array CA");
  testing::Issued peer = testing::IssuePeer(ca, kBoston, now);
  Truststore trust = TrustOnly(ca.certificate_pem());

  SECTION("wrong name") {
    CHECK(Judge(peer.certificate_pem, trust, For("newyork.example.com", now)) == "name_mismatch");
    CHECK(Judge(peer.certificate_pem, trust, For("boston.example.co", now)) == "name_mismatch");
    CHECK(Judge(peer.certificate_pem, trust, For("*.example.com", now)) == "name_mismatch");
  }
  SECTION("expired and not yet valid: validity is inclusive at both ends (RFC 5280)") {
    const absl::Time not_after = now + absl::Hours(24 * 90);
    REQUIRE(InspectCertificate(peer.certificate_pem)->not_after == not_after);
    CHECK(Judge(peer.certificate_pem, trust, For(kBoston, not_after - absl::Seconds(1))) ==
          "valid");
    CHECK(Judge(peer.certificate_pem, trust, For(kBoston, not_after)) == "valid");
    CHECK(Judge(peer.certificate_pem, trust, For(kBoston, not_after + absl::Seconds(1))) ==
          "expired");
    const absl::Time not_before = now - absl::Minutes(5);
    CHECK(Judge(peer.certificate_pem, trust, For(kBoston, not_before)) == "valid");
    CHECK(Judge(peer.certificate_pem, trust, For(kBoston, not_before - absl::Seconds(1))) ==
          "not_yet_valid");
  }
  SECTION("a foreign CA with the same subject DN") {
    CertificateAuthority foreign = testing::MakeCa(now, "arraykit array CA");
    REQUIRE(foreign.info().subject == ca.info().subject);
    testing::Issued impostor = testing::IssuePeer(foreign, kBoston, now);
    CHECK(InspectCertificate(impostor.certificate_pem)->issuer == ca.info().subject);
    CHECK(Judge(impostor.certificate_pem, trust, For(kBoston, now)) == "untrusted_issuer");
    // And the foreign CA's own certificate is not a peer certificate of anyone: a CA
    // certificate presented as a peer is refused for what it is.
    CHECK(Judge(foreign.certificate_pem(), trust, For(kBoston, now)) == "bad_key_usage");
  }
  SECTION("an empty truststore trusts nothing") {
    CHECK(Judge(peer.certificate_pem, Truststore(), For(kBoston, now)) == "untrusted_issuer");
  }
  SECTION("a tampered signature") {
    std::string der = testing::PemToDer(peer.certificate_pem);
    der.back() = static_cast<char>(der.back() ^ 0x01);
    CHECK(Judge(der, trust, For(kBoston, now)) == "bad_signature");
  }
  SECTION("a tampered body (the name swapped after signing)") {
    testing::Issued bostom = testing::IssuePeer(ca, "bostom.example.com", now);
    std::string der = testing::PemToDer(bostom.certificate_pem);
    for (std::size_t p = der.find("bostom"); p != std::string::npos; p = der.find("bostom", p)) {
      der[p + 5] = 'n';
    }
    CHECK(Judge(der, trust, For(kBoston, now)) == "bad_signature");
  }
  SECTION("revoked serial, in any spelling") {
    const std::string serial = InspectCertificate(peer.certificate_pem)->serial_hex;
    VerifyOptions o = For(kBoston, now);
    o.revoked_serials = {"01", "00" + serial};
    for (char& c : o.revoked_serials[1]) c = static_cast<char>(std::tolower(c));
    CHECK(Judge(peer.certificate_pem, trust, o) == "revoked");
    o.revoked_serials = {"01"};
    CHECK(Judge(peer.certificate_pem, trust, o) == "valid");
  }
  SECTION("malformed PEM, malformed DER, empty input, a private key") {
    CHECK(Judge("-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n", trust,
                For(kBoston, now)) == "malformed");
    CHECK(Judge(std::string("\x30\x82\x01\x00\x30", 5), trust, For(kBoston, now)) == "malformed");
    const std::string der = testing::PemToDer(peer.certificate_pem);
    CHECK(Judge(der.substr(0, der.size() - 10), trust, For(kBoston, now)) == "malformed");
    CHECK(Judge(der + "x", trust, For(kBoston, now)) == "malformed");
    CHECK(Judge("", trust, For(kBoston, now)) == "malformed");
    CHECK(Judge("hello", trust, For(kBoston, now)) == "malformed");
    VerificationResult key = VerifyPeerCertificate(peer.key_pem.view(), trust, For(kBoston, now));
    CHECK(key.reason == RejectReason::kMalformed);
    CHECK(key.message.find("PRIVATE KEY") == std::string::npos);
  }
  SECTION("a leaf (CA:FALSE) used as issuer") {
    // Sign a certificate with boston's peer key, as if boston were a CA.
    TempDir dir;
    WriteFile(dir.File("leafca.pem"), peer.certificate_pem);
    WriteFile(dir.File("leafca.key"), peer.key_pem.view());
    CliMakeCsr(dir, "victim", "/CN=newyork.example.com");
    CliSign(dir, "leafca", "victim", "victim", PeerExtensions("newyork.example.com"));
    const std::string forged = ReadFile(dir.File("victim.pem"));
    VerifyOptions o = For("newyork.example.com", absl::Now());
    o.at = now;
    CHECK(Judge(forged, trust, o) == "untrusted_issuer");
    // There are no presented chains: the forged certificate with its "issuer" appended is
    // more than one certificate, so malformed.
    CHECK(Judge(forged + peer.certificate_pem, trust, o) == "malformed");
    // And a truststore refuses to hold a leaf in the first place.
    const absl::Status leaf_as_ca = Truststore().Add(peer.certificate_pem).status();
    CHECK(leaf_as_ca.code() == absl::StatusCode::kInvalidArgument);
    CHECK(ReasonOf(leaf_as_ca) == "not_a_ca");
  }
  SECTION("exactly one certificate: trailing bytes and a second certificate are malformed") {
    const std::string der = testing::PemToDer(peer.certificate_pem);
    CHECK(Judge(der, trust, For(kBoston, now)) == "valid");  // DER is read as such
    VerificationResult trailing_der = VerifyPeerCertificate(der + std::string("\x05\x00", 2), trust, For(kBoston, now));
    CHECK(trailing_der.reason == RejectReason::kMalformed);
    CHECK(trailing_der.message == "certificate: 2 trailing bytes after the DER");
    const std::string trailing_pem = testing::DerToPem(der + std::string("\x05\x00", 2), "CERTIFICATE");
    VerificationResult inside_pem = VerifyPeerCertificate(trailing_pem, trust, For(kBoston, now));
    CHECK(inside_pem.reason == RejectReason::kMalformed);
    CHECK(inside_pem.message == "certificate: 2 trailing bytes after the DER");
    VerificationResult two =
        VerifyPeerCertificate(peer.certificate_pem + peer.certificate_pem, trust, For(kBoston, now));
    CHECK(two.reason == RejectReason::kMalformed);
    CHECK(two.message == "certificate: more than one PEM block; exactly one is accepted");
    // Explanatory text around the one block is fine (openssl x509 -text writes it).
    CHECK(Judge("Certificate:\n  boston\n" + peer.certificate_pem + "\n", trust,
                For(kBoston, now)) == "valid");
  }
  SECTION("a key off its curve is malformed, not untrusted") {
    internal::X509Ptr cert = *internal::ParseCertificate(peer.certificate_pem);
    const std::string spki =
        internal::ToDer(X509_get_X509_PUBKEY(cert.get()), i2d_X509_PUBKEY);
    std::string der = testing::PemToDer(peer.certificate_pem);
    const std::size_t at = der.find(spki);
    REQUIRE(at != std::string::npos);
    der[at + spki.size() - 1] = static_cast<char>(der[at + spki.size() - 1] ^ 0x01);
    VerificationResult r = VerifyPeerCertificate(der, trust, For(kBoston, now));
    INFO(r.message);
#if defined(OPENSSL_IS_BORINGSSL)
    // BoringSSL cannot tell an undecodable key from an unsupported one.
    CHECK((r.reason == RejectReason::kMalformed || r.reason == RejectReason::kWeakKey));
#else
    CHECK(r.reason == RejectReason::kMalformed);
#endif
  }
  SECTION("an IP literal is never a peer name") {
    const VerificationResult r =
        VerifyPeerCertificate(peer.certificate_pem, trust, For("10.0.0.1", now));
    CHECK(r.reason == RejectReason::kNameMismatch);
    CHECK(r.message.find("10.0.0.1") != std::string::npos);
  }
  SECTION("result maps to the JSON contract and to a status") {
    VerificationResult r =
        VerifyPeerCertificate(peer.certificate_pem, trust, For("newyork.example.com", now));
    const nlohmann::json j = r.ToJson();
    CHECK(j["valid"] == false);
    CHECK(j["reason"] == "name_mismatch");
    CHECK(j["message"].get<std::string>().find("newyork.example.com") != std::string::npos);
    CHECK(j.size() == 3);
    absl::Status s = r.ToStatus();
    CHECK(GetErrorCode(s) == ErrorCode::kCertificateRejected);
    CHECK(ReasonOf(s) == "name_mismatch");
    CHECK(s.message() == r.message);
  }
}

TEST_CASE("every reason code round-trips through its name", "[pki][verify]") {
  for (RejectReason r :
       {RejectReason::kUntrustedIssuer, RejectReason::kBadSignature, RejectReason::kNameMismatch,
        RejectReason::kExpired, RejectReason::kNotYetValid, RejectReason::kWeakKey,
        RejectReason::kBadKeyUsage, RejectReason::kRevoked, RejectReason::kMalformed}) {
    CHECK(ParseRejectReason(ToString(r)) == r);
  }
  CHECK(!ParseRejectReason("valid").has_value());
  CHECK(ToString(RejectReason::kUntrustedIssuer) == "untrusted_issuer");
  CHECK(ToString(RejectReason::kNotYetValid) == "not_yet_valid");
  CHECK(ToString(RejectReason::kBadKeyUsage) == "bad_key_usage");
}

// Certificates made entirely by the openssl CLI, judged at the real current time.
class CliFixture {
 public:
  CliFixture() {
    CliMakeCa(dir_, "ca", "/CN=cli array CA");
    trust_ = TrustOnly(ReadFile(dir_.File("ca.pem")));
  }
  // A leaf for CN=`cn` signed by the CLI CA; returns the PEM.
  std::string Leaf(const std::string& out, const std::string& cn, const std::string& extensions,
                   const std::string& key_spec = "ec -pkeyopt ec_paramgen_curve:P-256",
                   const std::string& extra = "") {
    CliMakeCsr(dir_, out, "/CN=" + cn, key_spec);
    CliSign(dir_, "ca", out, out, extensions, extra);
    return ReadFile(dir_.File(out + ".pem"));
  }
  std::string Judge(const std::string& pem, Role role = Role::kServer,
                    const std::string& name = kBoston) {
    return verify_test_judge(pem, trust_, For(name, absl::Now(), role));
  }
  static std::string verify_test_judge(const std::string& pem, const Truststore& t,
                                       const VerifyOptions& o) {
    return ::arraykit::pki::Judge(pem, t, o);
  }
  TempDir dir_;
  Truststore trust_;
};

TEST_CASE("certificates made by the openssl CLI are judged the same way",
          "[pki][verify][interop]") {
  CliFixture cli;
  const std::string base =
      "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
      "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";
  SECTION("the array's profile made by the CLI is valid") {
    const std::string good = cli.Leaf("good", kBoston, PeerExtensions(kBoston));
    CHECK(cli.Judge(good) == "valid");
    CHECK(cli.Judge(good, Role::kClient) == "valid");
    CHECK(cli.Judge(good, Role::kServer, "newyork.example.com") == "name_mismatch");
  }
  SECTION("CN right but SAN wrong") {
    CHECK(cli.Judge(cli.Leaf("sanwrong", kBoston,
                             base + "extendedKeyUsage=serverAuth,clientAuth\n"
                                    "subjectAltName=DNS:evil.example.com")) == "name_mismatch");
  }
  SECTION("no SAN at all (the CN is never used)") {
    CHECK(cli.Judge(cli.Leaf("nosan", kBoston, base + "extendedKeyUsage=serverAuth,clientAuth")) ==
          "name_mismatch");
  }
  SECTION("wildcard SAN") {
    CHECK(cli.Judge(cli.Leaf("wild", kBoston,
                             base + "extendedKeyUsage=serverAuth,clientAuth\n"
                                    "subjectAltName=DNS:*.example.com")) == "name_mismatch");
    // A wildcard next to the exact name is refused too: members never carry wildcards.
    CHECK(cli.Judge(cli.Leaf("wild2", kBoston,
                             base + "extendedKeyUsage=serverAuth,clientAuth\n"
                                    "subjectAltName=DNS:boston.example.com,DNS:*.example.com")) ==
          "name_mismatch");
  }
  SECTION("serverAuth-only certificate used as a client") {
    const std::string server_only = cli.Leaf(
        "srv", kBoston, base + "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:" + kBoston);
    CHECK(cli.Judge(server_only, Role::kServer) == "valid");
    CHECK(cli.Judge(server_only, Role::kClient) == "bad_key_usage");
  }
  SECTION("a leaf that may sign certificates: keyCertSign or CA:TRUE") {
    CHECK(cli.Judge(cli.Leaf("kcs", kBoston,
                             "basicConstraints=critical,CA:FALSE\n"
                             "keyUsage=critical,digitalSignature,keyCertSign\n"
                             "extendedKeyUsage=serverAuth,clientAuth\n"
                             "subjectAltName=DNS:" +
                                 std::string(kBoston))) == "bad_key_usage");
    CHECK(cli.Judge(cli.Leaf("leafca", kBoston,
                             "basicConstraints=critical,CA:TRUE,pathlen:0\n"
                             "keyUsage=critical,digitalSignature\n"
                             "extendedKeyUsage=serverAuth,clientAuth\n"
                             "subjectAltName=DNS:" +
                                 std::string(kBoston))) == "bad_key_usage");
  }
  SECTION("a trusted CA must be CA:TRUE with keyCertSign") {
    // CA:TRUE without a keyUsage extension (X509_get_key_usage then reports every usage).
    MustRun("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
            cli.dir_.File("noku.key") + " -out " + cli.dir_.File("noku.pem") +
            " -days 30 -subj /CN=noku -addext basicConstraints=critical,CA:TRUE");
    REQUIRE(MustRun("openssl x509 -noout -ext keyUsage -in " + cli.dir_.File("noku.pem"))
                .find("Key Usage") == std::string::npos);
    const absl::Status no_ku = Truststore().Add(ReadFile(cli.dir_.File("noku.pem"))).status();
    CHECK(no_ku.code() == absl::StatusCode::kInvalidArgument);
    CHECK(ReasonOf(no_ku) == "not_a_ca");
    // keyUsage without keyCertSign.
    MustRun("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
            cli.dir_.File("nokcs.key") + " -out " + cli.dir_.File("nokcs.pem") +
            " -days 30 -subj /CN=nokcs -addext basicConstraints=critical,CA:TRUE" +
            " -addext keyUsage=critical,cRLSign");
    CHECK(ReasonOf(Truststore().Add(ReadFile(cli.dir_.File("nokcs.pem"))).status()) ==
          "not_a_ca");
  }
  SECTION("missing EKU or keyUsage, or a CA certificate as a peer") {
    CHECK(cli.Judge(cli.Leaf("noeku", kBoston, base + "subjectAltName=DNS:" + kBoston)) ==
          "bad_key_usage");
    CHECK(cli.Judge(cli.Leaf("noku", kBoston,
                             "basicConstraints=critical,CA:FALSE\n"
                             "extendedKeyUsage=serverAuth,clientAuth\n"
                             "subjectAltName=DNS:" +
                                 std::string(kBoston))) == "bad_key_usage");
  }
  SECTION("weak keys: RSA-1024, P-192, secp256k1") {
    CHECK(cli.Judge(cli.Leaf("rsa1024", kBoston, PeerExtensions(kBoston), "rsa:1024")) ==
          "weak_key");
    CHECK(cli.Judge(cli.Leaf("p192", kBoston, PeerExtensions(kBoston),
                             "ec -pkeyopt ec_paramgen_curve:prime192v1")) == "weak_key");
    CHECK(cli.Judge(cli.Leaf("k256", kBoston, PeerExtensions(kBoston),
                             "ec -pkeyopt ec_paramgen_curve:secp256k1")) == "weak_key");
    // The boundary: RSA-2048 and P-384 are fine.
    CHECK(cli.Judge(cli.Leaf("rsa2048", kBoston, PeerExtensions(kBoston), "rsa:2048")) == "valid");
    CHECK(cli.Judge(cli.Leaf("p384", kBoston, PeerExtensions(kBoston),
                             "ec -pkeyopt ec_paramgen_curve:P-384")) == "valid");
  }
  SECTION("SHA-1 signature") {
    CHECK(cli.Judge(cli.Leaf("sha1", kBoston, PeerExtensions(kBoston),
                             "ec -pkeyopt "
                             "ec_paramgen_curve:P-256",
                             "-sha1")) == "bad_signature");
  }
  SECTION("expired and not yet valid, with the CLI's clock") {
    const std::string good = cli.Leaf("good", kBoston, PeerExtensions(kBoston));
    CHECK(Judge(good, cli.trust_, For(kBoston, absl::Now() + absl::Hours(24 * 31))) == "expired");
    CHECK(Judge(good, cli.trust_, For(kBoston, absl::Now() - absl::Hours(1))) == "not_yet_valid");
  }
  SECTION("a weak CA is refused by the truststore") {
    CliMakeCa(cli.dir_, "weakca", "/CN=weak", "rsa:1024");
    CHECK(!Truststore().Add(ReadFile(cli.dir_.File("weakca.pem"))).ok());
  }
}

TEST_CASE("openssl verify accepts our certificates", "[pki][verify][interop]") {
  // Made at the real current time, since `openssl verify` checks against its own clock.
  const absl::Time now = absl::Now();
  for (KeyType type : {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kRsa2048}) {
    INFO(ToString(type));
    CertificateAuthority ca = testing::MakeCa(now, "arraykit array CA", type);
    testing::Issued peer = testing::IssuePeer(ca, kBoston, now, type);
    TempDir dir;
    WriteFile(dir.File("ca.pem"), ca.certificate_pem());
    WriteFile(dir.File("leaf.pem"), peer.certificate_pem);
    const std::string ca_file = dir.File("ca.pem");
    const std::string leaf = dir.File("leaf.pem");
    CHECK(
        MustRun("openssl verify -CAfile " + ca_file + " -purpose sslserver " + leaf).find(": OK") !=
        std::string::npos);
    MustRun("openssl verify -CAfile " + ca_file + " -purpose sslclient " + leaf);
    MustRun("openssl verify -x509_strict -CAfile " + ca_file +
            " -purpose sslserver -verify_hostname " + std::string(kBoston) + " " + leaf);
    // And openssl rejects it for another name or another CA, so the checks above can fail.
    int code = 0;
    testing::Run(
        "openssl verify -CAfile " + ca_file + " -verify_hostname newyork.example.com " + leaf,
        &code);
    CHECK(code != 0);
    CertificateAuthority other = testing::MakeCa(now);
    WriteFile(dir.File("other.pem"), other.certificate_pem());
    testing::Run("openssl verify -CAfile " + dir.File("other.pem") + " " + leaf, &code);
    CHECK(code != 0);
  }
}

}  // namespace
}  // namespace arraykit::pki
