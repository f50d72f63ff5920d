// Rotation plans, and a walk of a 4-member array through join, leave, make_primary and renewal
// proving that every pair of members can verify each other after every single step.
#include <catch2/catch.hpp>
#include <string>

#include "core/pki/rotation.h"
#include "simulated_array_pki.h"
#include "test_util.h"

namespace arraykit::pki {
namespace {

using testing::TestNow;

model::Array FourMembers() {
  model::Array array;
  for (const char* name : {"boston.example.com", "newyork.example.com", "detroit.example.com",
                           "seattle.example.com"}) {
    model::Member m;
    m.name = name;
    array.members.push_back(m);
  }
  array.members[1].name = "NewYork.Example.com.";  // operators' spelling is normalized
  array.primary = "boston.example.com";
  return array;
}

// Applies a plan step by step; after each step every pair of members must verify each other.
void Walk(SimulatedArrayPki* sim, const RotationPlan& plan, absl::Time at) {
  INFO("plan " << plan.ToJson().dump());
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    INFO("step " << i << ": " << plan.steps[i].ToJson().dump());
    absl::Status applied = sim->Apply(plan.steps[i], at);
    INFO(applied.ToString());
    REQUIRE(applied.ok());
    const std::vector<std::string> failures = sim->MutualVerificationFailures(at);
    INFO((failures.empty() ? std::string() : failures.front()));
    REQUIRE(failures.empty());
  }
}

TEST_CASE("plans are ordered lists of steps", "[pki][rotation]") {
  const model::Array array = FourMembers();
  absl::StatusOr<RotationPlan> join = PlanJoin(array, "Chicago.example.com");
  REQUIRE(join.ok());
  CHECK(join->ToJson() == nlohmann::json::parse(R"({"plan": "join", "steps": [
      {"step": "trust_ca", "member": "chicago.example.com", "ca": "current"},
      {"step": "issue_certificate", "member": "chicago.example.com", "ca": "current"},
      {"step": "add_member", "member": "chicago.example.com", "ca": "current"}]})"));

  absl::StatusOr<RotationPlan> leave = PlanLeave(array, "detroit.example.com");
  REQUIRE(leave.ok());
  CHECK(leave->ToJson() == nlohmann::json::parse(R"({"plan": "leave", "steps": [
      {"step": "remove_member", "member": "detroit.example.com", "ca": "current"},
      {"step": "revoke_certificate", "member": "detroit.example.com", "ca": "current"}]})"));

  absl::StatusOr<RotationPlan> promote = PlanNewPrimary(array, "newyork.example.com");
  REQUIRE(promote.ok());
  // create, 4 × trust, 4 × issue, activate, 4 × untrust, retire
  REQUIRE(promote->steps.size() == 15);
  CHECK(promote->steps[0] ==
        RotationStep{StepKind::kCreateCa, "newyork.example.com", CaRef::kNext});
  for (int i = 1; i <= 4; ++i) CHECK(promote->steps[i].kind == StepKind::kTrustCa);
  for (int i = 5; i <= 8; ++i) CHECK(promote->steps[i].kind == StepKind::kIssueCertificate);
  CHECK(promote->steps[9] ==
        RotationStep{StepKind::kActivateCa, "newyork.example.com", CaRef::kNext});
  for (int i = 10; i <= 13; ++i) CHECK(promote->steps[i].ca == CaRef::kPrevious);
  CHECK(promote->steps[14] ==
        RotationStep{StepKind::kRetireCa, "boston.example.com", CaRef::kPrevious});
}

TEST_CASE("plans refuse impossible changes", "[pki][rotation]") {
  const model::Array array = FourMembers();
  CHECK(PlanJoin(array, "boston.example.com.").status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(PlanJoin(array, "*.example.com").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(PlanLeave(array, "boston.example.com").status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(PlanLeave(array, "chicago.example.com").status().code() == absl::StatusCode::kNotFound);
  CHECK(PlanNewPrimary(array, "chicago.example.com").status().code() ==
        absl::StatusCode::kNotFound);
  model::Array bad = array;
  bad.primary = "chicago.example.com";
  CHECK(PlanJoin(bad, "x.example.com").status().code() == absl::StatusCode::kInvalidArgument);
  bad = array;
  bad.members[2].name = "BOSTON.example.com";
  CHECK(PlanJoin(bad, "x.example.com").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(PlanJoin(model::Array(), "x.example.com").status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("renewal plans at two thirds of the lifetime", "[pki][rotation]") {
  const model::Array array = FourMembers();
  const absl::Time t0 = TestNow();
  const CertificateValidity ca{"boston.example.com", t0, t0 + absl::Hours(24 * 365 * 5)};
  std::vector<CertificateValidity> peers = {
      {"boston.example.com", t0, t0 + absl::Hours(24 * 90)},
      {"newyork.example.com", t0 + absl::Hours(24 * 30), t0 + absl::Hours(24 * 120)},
      {"detroit.example.com", t0, t0 + absl::Hours(24 * 90)},
      {"seattle.example.com", t0, t0 + absl::Hours(24 * 90)}};
  CHECK(PlanRenewal(array, ca, peers, t0 + absl::Hours(24 * 59))->steps.empty());
  absl::StatusOr<RotationPlan> due = PlanRenewal(array, ca, peers, t0 + absl::Hours(24 * 60));
  REQUIRE(due.ok());
  std::vector<std::string> renewed;
  for (const RotationStep& s : due->steps) {
    CHECK(s.kind == StepKind::kIssueCertificate);
    renewed.push_back(s.member);
  }
  CHECK(renewed == std::vector<std::string>{"boston.example.com", "detroit.example.com",
                                            "seattle.example.com"});
  // A member with no certificate on record is due at once.
  peers.pop_back();
  CHECK(PlanRenewal(array, ca, peers, t0)->steps.size() == 1);
  // A CA at two thirds of its lifetime is rolled over on the same primary.
  absl::StatusOr<RotationPlan> roll = PlanRenewal(array, ca, peers, t0 + absl::Hours(24 * 365 * 4));
  REQUIRE(roll.ok());
  CHECK(roll->steps.front() ==
        RotationStep{StepKind::kCreateCa, "boston.example.com", CaRef::kNext});
  CHECK(roll->steps.back() ==
        RotationStep{StepKind::kRetireCa, "boston.example.com", CaRef::kPrevious});
}

TEST_CASE("a 4-member array keeps every link through join, leave, make_primary and renewal",
          "[pki][rotation][walk]") {
  const absl::Time t0 = TestNow();
  absl::StatusOr<SimulatedArrayPki> created = SimulatedArrayPki::Create(FourMembers(), {}, t0);
  REQUIRE(created.ok());
  SimulatedArrayPki& sim = *created;
  REQUIRE(sim.MutualVerificationFailures(t0).empty());
  const std::string boston_ca = sim.current_ca().fingerprint();

  // Join.
  absl::StatusOr<RotationPlan> join = PlanJoin(sim.ToArray(), "chicago.example.com");
  REQUIRE(join.ok());
  Walk(&sim, *join, t0);
  CHECK(sim.members().size() == 5);

  // Leave: detroit's certificate is refused afterwards, as revoked.
  const absl::Time t1 = t0 + absl::Hours(24);
  const std::string detroit_cert = sim.credentials("detroit.example.com")->certificate_pem;
  absl::StatusOr<RotationPlan> leave = PlanLeave(sim.ToArray(), "detroit.example.com");
  REQUIRE(leave.ok());
  Walk(&sim, *leave, t1);
  CHECK(sim.members().size() == 4);
  CHECK(sim.credentials("detroit.example.com") == nullptr);
  const MemberCredentials* boston = sim.credentials("boston.example.com");
  VerifyOptions check{.expected_name = "detroit.example.com",
                      .role = Role::kClient,
                      .at = t1,
                      .revoked_serials = boston->revoked_serials};
  CHECK(VerifyPeerCertificate(detroit_cert, boston->truststore, check).reason ==
        RejectReason::kRevoked);

  // make_primary newyork: a new CA, a rollover, and boston's CA gone everywhere.
  const absl::Time t2 = t0 + absl::Hours(48);
  const std::string old_boston_cert = sim.credentials("boston.example.com")->certificate_pem;
  absl::StatusOr<RotationPlan> promote = PlanNewPrimary(sim.ToArray(), "newyork.example.com");
  REQUIRE(promote.ok());
  Walk(&sim, *promote, t2);
  CHECK(sim.primary() == "newyork.example.com");
  CHECK(sim.current_ca().fingerprint() != boston_ca);
  for (const std::string& m : sim.members()) {
    INFO(m);
    const MemberCredentials* c = sim.credentials(m);
    REQUIRE(c->truststore.size() == 1);
    CHECK(c->truststore.List()[0].fingerprint_sha256 == sim.current_ca().fingerprint());
    CHECK(c->certificate.issuer == sim.current_ca().info().subject);
  }
  check = {.expected_name = "boston.example.com",
           .role = Role::kServer,
           .at = t2,
           .revoked_serials = {}};
  CHECK(VerifyPeerCertificate(old_boston_cert, sim.credentials("seattle.example.com")->truststore,
                              check)
            .reason == RejectReason::kUntrustedIssuer);

  // Renewal: nothing due early; at two thirds of the 90 days, everyone gets a new certificate.
  const absl::Time early = t2 + absl::Hours(24 * 59);
  CHECK(PlanRenewal(sim.ToArray(), sim.CaValidity(), sim.PeerValidity(), early)->steps.empty());
  const absl::Time t3 = t2 + absl::Hours(24 * 61);
  absl::StatusOr<RotationPlan> renew =
      PlanRenewal(sim.ToArray(), sim.CaValidity(), sim.PeerValidity(), t3);
  REQUIRE(renew.ok());
  CHECK(renew->steps.size() == 4);
  Walk(&sim, *renew, t3);
  for (const CertificateValidity& v : sim.PeerValidity()) {
    CHECK(v.not_before == t3 - absl::Minutes(5));
  }
  // The renewed array still works long after the original certificates expired.
  CHECK(sim.MutualVerificationFailures(t3 + absl::Hours(24 * 80)).empty());
  CHECK(!sim.MutualVerificationFailures(t3 + absl::Hours(24 * 91)).empty());
}

TEST_CASE("a CA renewal is a rollover on the same primary and keeps every link",
          "[pki][rotation][walk]") {
  const absl::Time t0 = TestNow();
  SimulationOptions options;
  options.ca_lifetime = absl::Hours(24 * 30);
  options.peer_lifetime = absl::Hours(24 * 30);  // ending with the CA: never outliving it
  absl::StatusOr<SimulatedArrayPki> sim = SimulatedArrayPki::Create(FourMembers(), options, t0);
  REQUIRE(sim.ok());
  const std::string old_ca = sim->current_ca().fingerprint();
  const absl::Time t1 = t0 + absl::Hours(24 * 21);
  absl::StatusOr<RotationPlan> plan =
      PlanRenewal(sim->ToArray(), sim->CaValidity(), sim->PeerValidity(), t1);
  REQUIRE(plan.ok());
  REQUIRE(plan->steps.size() == 15);
  Walk(&*sim, *plan, t1);
  CHECK(sim->primary() == "boston.example.com");
  CHECK(sim->current_ca().fingerprint() != old_ca);
  CHECK(sim->MutualVerificationFailures(t0 + absl::Hours(24 * 45)).empty());
}

TEST_CASE("the walk detects a bad step order", "[pki][rotation][walk]") {
  // Dropping the old CA before reissuing breaks links: the check that guards the real plans
  // must see it.
  const absl::Time t0 = TestNow();
  absl::StatusOr<SimulatedArrayPki> sim = SimulatedArrayPki::Create(FourMembers(), {}, t0);
  REQUIRE(sim.ok());
  REQUIRE(sim->Apply({StepKind::kCreateCa, "newyork.example.com", CaRef::kNext}, t0).ok());
  REQUIRE(sim->Apply({StepKind::kTrustCa, "seattle.example.com", CaRef::kNext}, t0).ok());
  REQUIRE(sim->Apply({StepKind::kIssueCertificate, "seattle.example.com", CaRef::kNext}, t0).ok());
  // seattle now holds a new-CA certificate the others do not trust yet.
  const std::vector<std::string> failures = sim->MutualVerificationFailures(t0);
  CHECK(failures.size() == 6);  // 3 members × 2 roles cannot verify seattle
  CHECK(failures[0].find("untrusted_issuer") != std::string::npos);
  // Admitting a member without a certificate is refused.
  CHECK(sim->Apply({StepKind::kAddMember, "chicago.example.com", CaRef::kCurrent}, t0).code() ==
        absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace arraykit::pki
