// Truststore contents and the SHA-256 fingerprint, checked against the openssl CLI.
#include <catch2/catch.hpp>
#include <string>

#include "core/pki/pki.h"
#include "core/pki/truststore.h"
#include "test_util.h"

namespace arraykit::pki {
namespace {

using testing::MustRun;
using testing::TempDir;
using testing::TestNow;
using testing::WriteFile;

// The value `openssl x509 -noout -fingerprint -sha256` prints after "=".
std::string CliFingerprint(const TempDir& dir, const std::string& pem) {
  WriteFile(dir.File("fp.pem"), pem);
  std::string out = MustRun("openssl x509 -noout -fingerprint -sha256 -in " + dir.File("fp.pem"));
  const std::size_t eq = out.find('=');
  REQUIRE(eq != std::string::npos);
  out = out.substr(eq + 1);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

TEST_CASE("fingerprints match `openssl x509 -noout -fingerprint -sha256` exactly",
          "[pki][truststore][interop]") {
  const absl::Time now = TestNow();
  TempDir dir;
  for (KeyType type : {KeyType::kEcdsaP256, KeyType::kEcdsaP384}) {
    CertificateAuthority ca = testing::MakeCa(now, "arraykit array CA", type);
    const std::string cli = CliFingerprint(dir, ca.certificate_pem());
    INFO(cli);
    CHECK(cli.size() == 32 * 3 - 1);
    CHECK(ca.fingerprint() == cli);
    CHECK(Fingerprint(ca.certificate_pem()).value() == cli);
    CHECK(Fingerprint(testing::PemToDer(ca.certificate_pem())).value() == cli);
    testing::Issued peer = testing::IssuePeer(ca, "boston.example.com", now);
    CHECK(InspectCertificate(peer.certificate_pem)->fingerprint_sha256 ==
          CliFingerprint(dir, peer.certificate_pem));
  }
  // The format does not depend on which tool made the certificate.
  testing::CliMakeCa(dir, "cli", "/CN=cli CA");
  const std::string cli_pem = testing::ReadFile(dir.File("cli.pem"));
  CHECK(Fingerprint(cli_pem).value() == CliFingerprint(dir, cli_pem));
}

TEST_CASE("operator-typed fingerprints are normalized", "[pki][truststore]") {
  const std::string canonical =
      "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:"
      "67:89";
  CHECK(NormalizeFingerprint(canonical).value() == canonical);
  CHECK(NormalizeFingerprint("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
            .value() == canonical);
  CHECK(NormalizeFingerprint("sha256 Fingerprint=" + canonical + "\n").value() == canonical);
  CHECK(!NormalizeFingerprint("AB:CD").ok());
  CHECK(!NormalizeFingerprint(std::string(64, 'g')).ok());
  CHECK(!NormalizeFingerprint("").ok());
}

TEST_CASE("truststore add, list, remove", "[pki][truststore]") {
  const absl::Time now = TestNow();
  CertificateAuthority old_ca = testing::MakeCa(now, "arraykit CA boston.example.com");
  CertificateAuthority new_ca = testing::MakeCa(now + absl::Hours(1), "arraykit CA newyork");
  Truststore trust;
  CHECK(trust.empty());

  absl::StatusOr<TrustedCa> a = trust.Add(old_ca.certificate_pem());
  REQUIRE(a.ok());
  CHECK(a->subject == "CN=arraykit CA boston.example.com");
  CHECK(a->fingerprint_sha256 == old_ca.fingerprint());
  CHECK(a->not_after == old_ca.info().not_after);
  CHECK(a->not_before == old_ca.info().not_before);
  CHECK(a->serial_hex == old_ca.info().serial_hex);

  // Adding the same CA again (even as DER) changes nothing.
  REQUIRE(trust.Add(testing::PemToDer(old_ca.certificate_pem())).ok());
  CHECK(trust.size() == 1);
  REQUIRE(trust.Add(new_ca.certificate_pem()).ok());
  REQUIRE(trust.size() == 2);

  const std::vector<TrustedCa> list = trust.List();
  CHECK(list[0].fingerprint_sha256 == old_ca.fingerprint());
  CHECK(list[1].fingerprint_sha256 == new_ca.fingerprint());
  const nlohmann::json j = trust.ToJson();
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 2);
  CHECK(j[1]["subject"] == "CN=arraykit CA newyork");
  CHECK(j[1]["fingerprint_sha256"] == new_ca.fingerprint());
  CHECK(j[0]["not_after"] ==
        absl::FormatTime(absl::RFC3339_sec, old_ca.info().not_after, absl::UTCTimeZone()));
  CHECK(j[0]["certificate_pem"] == old_ca.certificate_pem());

  // Removal by fingerprint in any spelling.
  std::string sloppy;
  for (char c : old_ca.fingerprint()) {
    if (c != ':') sloppy += static_cast<char>(std::tolower(c));
  }
  CHECK(trust.Contains(sloppy));
  REQUIRE(trust.Remove(sloppy).ok());
  CHECK(!trust.Contains(old_ca.fingerprint()));
  CHECK(trust.size() == 1);
  CHECK(trust.Remove(old_ca.fingerprint()).code() == absl::StatusCode::kNotFound);
  CHECK(trust.Remove("nonsense").code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("truststore refuses what is not an acceptable CA, and is bounded", "[pki][truststore]") {
  const absl::Time now = TestNow();
  CertificateAuthority ca = testing::MakeCa(now);
  testing::Issued peer = testing::IssuePeer(ca, "boston.example.com", now);
  Truststore trust;
  CHECK(trust.Add(peer.certificate_pem).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(trust.Add("").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(
      trust.Add("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n").status().code() ==
      absl::StatusCode::kInvalidArgument);
  CHECK(trust.empty());
  for (std::size_t i = 0; i < kMaxTrustedCas; ++i) {
    REQUIRE(trust.Add(testing::MakeCa(now).certificate_pem()).ok());
  }
  CHECK(trust.Add(ca.certificate_pem()).status().code() == absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace arraykit::pki
