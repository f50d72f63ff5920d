// The join protocol with real credentials: the joiner's own CA is pinned by its fingerprint,
// the joiner's key never leaves it (a CSR travels), the primary's CA signs, and after the PKI
// join plan each side verifies the other.
#include <string>

#include <catch2/catch.hpp>

#include "absl/strings/ascii.h"
#include "core/ops/join.h"
#include "core/pki/pki.h"
#include "core/pki/truststore.h"
#include "core/pki/verify.h"
#include "core/status.h"

namespace {

using arraykit::ReasonOf;
using arraykit::failover::Clock;
using arraykit::failover::HardState;
using arraykit::failover::MemberMachine;
using arraykit::pki::CertificateAuthority;
using arraykit::pki::StepKind;
using namespace arraykit::ops;  // NOLINT: the module under test

const absl::Time kT0 = absl::FromUnixSeconds(1767268800);  // 2026-01-01T12:00:00Z
const std::string kBoston = "boston.example.com";
const std::string kNewyork = "newyork.example.com";
const std::string kDetroit = "detroit.example.com";

arraykit::model::Member Describe(const std::string& name, bool backend) {
  arraykit::model::Member m;
  m.name = name;
  m.roles = {true, backend};
  m.version = "1.4.0";
  return m;
}

HardState Formation(std::vector<std::string> members) {
  HardState state;
  state.formation.primary = members[0];
  state.formation.members = members;
  state.formation.backup_primaries.assign(members.begin() + 1, members.end());
  state.formation.voters = {members[0]};
  state.formation.version = 1;
  return state;
}

TEST_CASE("join with real credentials: pin, CSR, signature, truststores, mutual verification") {
  const Clock now{absl::Hours(1), kT0};
  absl::StatusOr<CertificateAuthority> boston_ca =
      CertificateAuthority::Create(arraykit::pki::CaOptions{}, kT0);
  absl::StatusOr<CertificateAuthority> detroit_ca =
      CertificateAuthority::Create(arraykit::pki::CaOptions{}, kT0);
  REQUIRE(boston_ca.ok());
  REQUIRE(detroit_ca.ok());
  MemberMachine boston(kBoston, Formation({kBoston, kNewyork}), now);
  MemberMachine detroit(kDetroit, Formation({kDetroit}), now);
  const PrimaryView primary =
      ViewOfPrimary(boston, {Describe(kBoston, true), Describe(kNewyork, false)}, "1.4.0");

  // On detroit: a token, and the CA fingerprint the operator reads (typed in lower case).
  JoinTokens tokens;
  const std::string token = *tokens.Issue(std::string(32, '\x5c'), kT0, absl::Minutes(10));
  const JoinRequest request{kDetroit, absl::AsciiStrToLower(detroit_ca->fingerprint()), token};

  REQUIRE(CheckJoinRequest(primary, request).ok());
  // The TLS handshake shows detroit's CA; another CA (an impostor) is refused before the hello.
  CHECK(ReasonOf(CheckPin(request, boston_ca->fingerprint())) == "fingerprint_mismatch");
  REQUIRE(CheckPin(request, detroit_ca->fingerprint()).ok());
  const JoinHello hello = MakeJoinHello(primary, request, kT0, boston_ca->certificate_pem());

  // On detroit: the hello's checks, then a fresh key and a CSR; only the CSR is sent.
  const JoinerView joiner = ViewOfJoiner(detroit, Describe(kDetroit, false));
  REQUIRE(CheckJoinHello(joiner, hello, kT0, tokens).ok());
  absl::StatusOr<arraykit::pki::MemberRequest> key_and_csr =
      arraykit::pki::CreateKeyAndCsr(arraykit::pki::KeyType::kEcdsaP256, kDetroit);
  REQUIRE(key_and_csr.ok());
  const JoinReply reply = AcceptJoinHello(joiner, kT0, key_and_csr->csr_pem);
  CHECK(reply.csr_pem.find("PRIVATE KEY") == std::string::npos);

  absl::StatusOr<JoinDecision> decision =
      CheckJoin(primary, request, detroit_ca->fingerprint(), reply, kT0 + absl::Seconds(1));
  REQUIRE(decision.ok());

  // The PKI join plan, in order.
  arraykit::pki::Truststore detroit_trust;  // detroit's view once admitted
  std::string certificate;
  bool admitted = false;
  for (const arraykit::pki::RotationStep& step : decision->plan.steps) {
    REQUIRE(step.member == kDetroit);
    switch (step.kind) {
      case StepKind::kTrustCa:
        REQUIRE(detroit_trust.Add(hello.ca_certificate_pem).ok());
        break;
      case StepKind::kIssueCertificate: {
        arraykit::pki::PeerCertificateOptions options;
        for (const auto& m : decision->result.members) options.member_names.push_back(m.name);
        options.expected_name = kDetroit;
        absl::StatusOr<std::string> signed_pem =
            boston_ca->SignPeerCsr(reply.csr_pem, options, kT0 + absl::Seconds(1));
        REQUIRE(signed_pem.ok());
        certificate = *signed_pem;
        break;
      }
      case StepKind::kAddMember:
        REQUIRE_FALSE(certificate.empty());  // admitted only with a certificate
        REQUIRE(boston.AddMember(kDetroit, decision->voter, reply.epoch).ok());
        admitted = true;
        break;
      default:
        FAIL("a join plan has only trust_ca, issue_certificate and add_member");
    }
  }
  REQUIRE(admitted);
  const JoinAdmit admit = MakeJoinAdmit(boston, request, certificate, boston_ca->certificate_pem());
  REQUIRE(CheckJoinAdmit(joiner, hello, admit).ok());
  REQUIRE(tokens.Consume(hello.token, kT0).ok());
  REQUIRE(detroit.JoinArray(admit.formation, admit.epoch).ok());

  // Both sides now verify detroit's certificate with the array's CA.
  arraykit::pki::Truststore boston_trust;
  REQUIRE(boston_trust.Add(boston_ca->certificate_pem()).ok());
  for (const auto* trust : {&boston_trust, &detroit_trust}) {
    arraykit::pki::VerifyOptions options;
    options.expected_name = kDetroit;
    options.role = arraykit::pki::Role::kClient;
    options.at = kT0 + absl::Minutes(1);
    const arraykit::pki::VerificationResult result =
        arraykit::pki::VerifyPeerCertificate(admit.certificate_pem, *trust, options);
    INFO(result.message);
    CHECK(result.valid);
  }
  // detroit's old CA does not vouch for it in the array.
  arraykit::pki::Truststore old_trust;
  REQUIRE(old_trust.Add(detroit_ca->certificate_pem()).ok());
  arraykit::pki::VerifyOptions options;
  options.expected_name = kDetroit;
  options.at = kT0 + absl::Minutes(1);
  CHECK_FALSE(
      arraykit::pki::VerifyPeerCertificate(admit.certificate_pem, old_trust, options).valid);
}

}  // namespace
