// Key hygiene: private keys leave the module only as SecretString PEM; no JSON document, error
// message or verification result ever carries one.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/pki/pki.h"
#include "core/pki/rotation.h"
#include "simulated_array_pki.h"
#include "core/pki/secret.h"
#include "core/pki/tls_policy.h"
#include "core/pki/truststore.h"
#include "core/pki/verify.h"
#include "test_util.h"

namespace arraykit::pki {
namespace {

using testing::TestNow;

// The base64 body lines of a PEM private key, long enough to be unambiguous.
std::vector<std::string> KeyFragments(std::string_view pem) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < pem.size()) {
    std::size_t end = pem.find('\n', start);
    if (end == std::string_view::npos) end = pem.size();
    std::string_view line = pem.substr(start, end - start);
    if (line.size() >= 24 && line.rfind("-----", 0) != 0) out.emplace_back(line.substr(0, 24));
    start = end + 1;
  }
  return out;
}

TEST_CASE("no output, JSON or error string contains a private key", "[pki][hygiene]") {
  const absl::Time now = TestNow();
  CertificateAuthority ca = testing::MakeCa(now);
  absl::StatusOr<SecretString> ca_key = ca.PrivateKeyPem();
  REQUIRE(ca_key.ok());
  testing::Issued peer = testing::IssuePeer(ca, "boston.example.com", now);
  Truststore trust;
  REQUIRE(trust.Add(ca.certificate_pem()).ok());
  PeerCertificateOptions members;
  members.member_names = {"boston.example.com"};

  std::vector<std::string> outputs;
  auto status = [&](const absl::Status& s) { outputs.push_back(s.ToString()); };
  // Documents.
  outputs.push_back(ca.info().ToJson().dump());
  outputs.push_back(InspectCertificate(peer.certificate_pem)->ToJson().dump());
  outputs.push_back(trust.ToJson().dump());
  outputs.push_back(DefaultTlsPolicy().ToJson().dump());
  // Private keys handed to every entry point that expects something else.
  for (std::string_view key : {ca_key->view(), peer.key_pem.view()}) {
    outputs.push_back(VerifyPeerCertificate(key, trust,
                                            {.expected_name = "boston.example.com",
                                             .role = Role::kServer,
                                             .at = now,
                                             .revoked_serials = {}})
                          .ToJson()
                          .dump());
    status(ca.SignPeerCsr(key, members, now).status());
    status(trust.Add(key).status());
    status(InspectCertificate(key).status());
    status(Fingerprint(key).status());
    status(CertificateAuthority::Load(key, key).status());
    status(CreateCsr(key, "*.bad").status());
    std::string broken(key);
    broken[broken.size() / 2] = '!';  // a damaged key is reported without its content
    status(CertificateAuthority::Load(ca.certificate_pem(), broken).status());
    status(CreateCsr(broken, "boston.example.com").status());
  }
  status(CertificateAuthority::Load(ca.certificate_pem(), peer.key_pem.view()).status());
  // Rotation documents and the walk's diagnostics.
  model::Array array;
  array.members.push_back({});
  array.members.back().name = "boston.example.com";
  array.members.push_back({});
  array.members.back().name = "newyork.example.com";
  array.primary = "boston.example.com";
  absl::StatusOr<SimulatedArrayPki> sim = SimulatedArrayPki::Create(array, {}, now);
  REQUIRE(sim.ok());
  REQUIRE(sim->Apply({StepKind::kCreateCa, "newyork.example.com", CaRef::kNext}, now).ok());
  REQUIRE(sim->Apply({StepKind::kIssueCertificate, "newyork.example.com", CaRef::kNext}, now).ok());
  for (const std::string& f : sim->MutualVerificationFailures(now)) outputs.push_back(f);
  outputs.push_back(PlanNewPrimary(array, "newyork.example.com")->ToJson().dump());

  REQUIRE(outputs.size() > 20);
  std::vector<std::string> fragments = KeyFragments(ca_key->view());
  for (const std::string& f : KeyFragments(peer.key_pem.view())) fragments.push_back(f);
  REQUIRE(fragments.size() >= 4);
  for (const std::string& out : outputs) {
    INFO(out);
    CHECK(out.find("PRIVATE KEY") == std::string::npos);
    for (const std::string& fragment : fragments) CHECK(out.find(fragment) == std::string::npos);
  }
}

TEST_CASE("private keys come out as PKCS#8 PEM in a SecretString", "[pki][hygiene]") {
  absl::StatusOr<SecretString> key = GeneratePrivateKey(KeyType::kEcdsaP256);
  REQUIRE(key.ok());
  CHECK(key->view().rfind("-----BEGIN PRIVATE KEY-----\n", 0) == 0);
  // Each call makes a new key from the crypto library's RNG.
  CHECK(GeneratePrivateKey(KeyType::kEcdsaP256)->view() != key->view());

  SecretString moved = std::move(*key);
  CHECK(key->empty());  // NOLINT(bugprone-use-after-move): moved-from is defined to be empty
  CHECK(!moved.empty());
  SecretString copy = moved.Clone();
  CHECK(copy.view() == moved.view());
  CHECK(copy.view().data() != moved.view().data());
  moved = SecretString("x");
  CHECK(moved.view() == "x");
}

}  // namespace
}  // namespace arraykit::pki
