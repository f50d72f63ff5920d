// Join: the preconditions on both sides, each refused with its own reason, and the protocol's
// messages from the operator's command to the joiner adopting the formation.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"

#include "core/ops/join.h"
#include "core/status.h"

namespace {

using arraykit::ErrorCode;
using arraykit::GetErrorCode;
using arraykit::ReasonOf;
using arraykit::failover::Clock;
using arraykit::failover::HardState;
using arraykit::failover::MemberMachine;
using arraykit::failover::Role;
using arraykit::model::Member;
using namespace arraykit::ops;  // NOLINT: the module under test

const absl::Time kT0 = absl::FromUnixSeconds(1767268800);  // 2026-01-01T12:00:00Z
const std::string kBoston = "boston.example.com";
const std::string kNewyork = "newyork.example.com";
const std::string kDetroit = "detroit.example.com";
const std::string kVersion = "1.4.0";
// The joiner's CA fingerprint as openssl prints it, and as an operator might type it.
const std::string kFingerprint =
    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:"
    "67:89";
const std::string kFingerprintTyped =
    "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
const std::string kOtherFingerprint =
    "00:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:"
    "67:89";

Clock At(absl::Time wall) { return Clock{wall - kT0 + absl::Hours(1), wall}; }

Member Describe(const std::string& name, bool backend, std::string version = kVersion) {
  Member m;
  m.name = name;
  m.roles.frontend = true;
  m.roles.backend = backend;
  m.rack = name.substr(0, 2);
  m.power = name.substr(0, 2);
  m.address = "192.0.2.1";
  m.version = std::move(version);
  return m;
}

HardState TwoMembers() {
  HardState state;
  state.formation.primary = kBoston;
  state.formation.members = {kBoston, kNewyork};
  state.formation.backup_primaries = {kNewyork};
  state.formation.voters = {kBoston};
  state.formation.resilience.failover_enabled = true;
  state.formation.version = 3;
  state.epoch = 2;
  return state;
}

HardState Alone(const std::string& name, std::uint64_t epoch) {
  HardState state;
  state.formation.primary = name;
  state.formation.members = {name};
  state.formation.voters = {name};
  state.formation.version = 1;
  state.epoch = epoch;
  return state;
}

struct Fixture {
  MemberMachine boston{kBoston, TwoMembers(), At(kT0)};
  MemberMachine detroit{kDetroit, Alone(kDetroit, 5), At(kT0)};
  JoinTokens tokens;  // on detroit
  std::string token;
  JoinRequest request;

  Fixture() {
    token = *tokens.Issue(std::string(16, '\x2a'), kT0, absl::Minutes(10));
    request = JoinRequest{kDetroit, kFingerprintTyped, token};
  }
  PrimaryView Primary() const {
    return ViewOfPrimary(boston, {Describe(kBoston, true), Describe(kNewyork, false)}, kVersion);
  }
  JoinerView Joiner(Member self = Describe(kDetroit, false)) const {
    return ViewOfJoiner(detroit, std::move(self));
  }
  JoinHello Hello(absl::Time at = kT0) const {
    return MakeJoinHello(Primary(), request, at, "CA PEM");
  }
  JoinReply Reply(absl::Time at = kT0, Member self = Describe(kDetroit, false)) const {
    return AcceptJoinHello(Joiner(std::move(self)), at, "CSR PEM");
  }
};

TEST_CASE("join: the whole protocol, from the operator's command to the joiner following") {
  Fixture f;
  // 1-2. The primary checks the request, then pins the CA the joiner presented.
  REQUIRE(CheckJoinRequest(f.Primary(), f.request).ok());
  REQUIRE(CheckPin(f.request, kFingerprint).ok());
  // 3-4. Hello; the joiner checks it and answers with its description and CSR.
  const JoinHello hello = f.Hello(kT0);
  CHECK(hello.primary == kBoston);
  CHECK(hello.version == kVersion);
  CHECK(hello.epoch == 2);
  REQUIRE(CheckJoinHello(f.Joiner(), hello, kT0 + absl::Seconds(1), f.tokens).ok());
  const JoinReply reply = f.Reply(kT0 + absl::Seconds(1));
  CHECK(reply.status.code == 0);
  CHECK(reply.standalone);
  CHECK(reply.epoch == 5);
  // 5. Every precondition again, placement of the result, and the PKI plan.
  absl::StatusOr<JoinDecision> decision =
      CheckJoin(f.Primary(), f.request, kFingerprint, reply, kT0 + absl::Seconds(2));
  REQUIRE(decision.ok());
  CHECK(decision->result.members.size() == 3);
  CHECK(decision->result.backup_primaries == std::vector<std::string>{kNewyork, kDetroit});
  CHECK_FALSE(decision->voter);
  REQUIRE(decision->plan.steps.size() == 3);
  CHECK(
      decision->plan.ToJson().dump() ==
      R"({"plan":"join","steps":[{"ca":"current","member":"detroit.example.com","step":"trust_ca"},)"
      R"({"ca":"current","member":"detroit.example.com","step":"issue_certificate"},)"
      R"({"ca":"current","member":"detroit.example.com","step":"add_member"}]})");
  // 6. add_member on the primary, then the admission.
  REQUIRE(f.boston.AddMember(kDetroit, decision->voter, reply.epoch).ok());
  const JoinAdmit admit = MakeJoinAdmit(f.boston, f.request, "CERT PEM", "CA PEM");
  CHECK(admit.epoch == 5);
  CHECK(admit.formation.members == std::vector<std::string>{kBoston, kNewyork, kDetroit});
  // 7. The joiner checks it, uses the token up and adopts the formation.
  REQUIRE(CheckJoinAdmit(f.Joiner(), hello, admit).ok());
  REQUIRE(f.tokens.Consume(hello.token, kT0 + absl::Seconds(1)).ok());
  REQUIRE(f.detroit.JoinArray(admit.formation, admit.epoch).ok());
  CHECK(f.detroit.role() == Role::kSecondary);
  CHECK(f.detroit.hard_state().formation == f.boston.hard_state().formation);
  // The token admits one join only.
  CHECK(ReasonOf(CheckJoinHello(f.Joiner(), hello, kT0 + absl::Seconds(3), f.tokens)) ==
        "joiner_not_standalone");
  CHECK(ReasonOf(f.tokens.Verify(hello.token, kT0)) == "token_invalid");
}

// Boston's array as created with detroit planned: three back-ends (the quorum voters), detroit
// listed but never joined.
HardState PlannedDetroit() {
  HardState state = TwoMembers();
  state.formation.members = {kBoston, kNewyork, kDetroit};
  state.formation.backup_primaries = {kNewyork, kDetroit};
  state.formation.voters = {kBoston, kNewyork, kDetroit};
  return state;
}

TEST_CASE("join: a planned member takes its planned place, with its planned roles") {
  Fixture f;
  MemberMachine boston(kBoston, PlannedDetroit(), At(kT0));
  Member planned = Describe(kDetroit, true);
  planned.rack = "planned-rack";
  PrimaryView view = ViewOfPrimary(
      boston, {Describe(kBoston, true), Describe(kNewyork, true), planned}, kVersion);
  // Not planned: a listed member cannot join again.
  CHECK(ReasonOf(CheckJoinRequest(view, f.request)) == "name_taken");
  view.planned = {"Detroit.Example.com"};
  REQUIRE(CheckJoinRequest(view, f.request).ok());

  // It must come with the planned roles: they made it a voter.
  const JoinReply frontend_only = f.Reply(kT0, Describe(kDetroit, false));
  absl::StatusOr<JoinDecision> refused =
      CheckJoin(view, f.request, kFingerprint, frontend_only, kT0);
  CHECK(ReasonOf(refused.status()) == "roles_mismatch");
  CHECK(std::string(refused.status().message()).find("roles frontend,backend") !=
        std::string::npos);

  const JoinReply reply = f.Reply(kT0, Describe(kDetroit, true));
  absl::StatusOr<JoinDecision> decision = CheckJoin(view, f.request, kFingerprint, reply, kT0);
  REQUIRE(decision.ok());
  CHECK(decision->planned);
  // Same place in the members and the backup list; the joiner's own description (rack) wins.
  REQUIRE(decision->result.members.size() == 3);
  CHECK(decision->result.members[2].name == kDetroit);
  CHECK(decision->result.members[2].rack == "de");
  CHECK(decision->result.backup_primaries == std::vector<std::string>{kNewyork, kDetroit});
  CHECK(decision->plan.steps.size() == 3);  // trust_ca, issue_certificate, add_member

  const auto version = boston.hard_state().formation.version;
  REQUIRE(boston.AdmitPlanned(kDetroit, reply.epoch).ok());
  CHECK(boston.hard_state().formation.members ==
        std::vector<std::string>{kBoston, kNewyork, kDetroit});
  CHECK(boston.hard_state().formation.voters ==
        std::vector<std::string>{kBoston, kNewyork, kDetroit});
  CHECK(boston.hard_state().formation.version == version + 1);
  CHECK(boston.epoch() == 5);  // raised to the joiner's
  CHECK(ReasonOf(boston.AdmitPlanned("chicago.example.com", 1)) == "not_a_member");
}

TEST_CASE("join refusals on the primary before anything is sent") {
  Fixture f;
  MemberMachine newyork(kNewyork, TwoMembers(), At(kT0));
  PrimaryView secondary = ViewOfPrimary(newyork, f.Primary().members, kVersion);
  absl::Status s = CheckJoinRequest(secondary, f.request);
  CHECK(GetErrorCode(s) == ErrorCode::kNotPrimary);
  CHECK(ReasonOf(s) == "not_primary");

  PrimaryView busy = f.Primary();
  busy.busy_reason = "the failover stage is under way: newyork.example.com uncontactable";
  s = CheckJoinRequest(busy, f.request);
  CHECK(GetErrorCode(s) == ErrorCode::kBusy);
  CHECK(std::string(s.message()).find("uncontactable") != std::string::npos);

  JoinRequest short_name = f.request;
  short_name.joiner = "detroit";
  CHECK(ReasonOf(CheckJoinRequest(f.Primary(), short_name)) == "name_not_fqdn");

  JoinRequest taken = f.request;
  taken.joiner = "NewYork.Example.com.";
  s = CheckJoinRequest(f.Primary(), taken);
  CHECK(ReasonOf(s) == "name_taken");
  CHECK(s.code() == absl::StatusCode::kAlreadyExists);

  PrimaryView full = f.Primary();
  for (int i = 2; i < 10; ++i)
    full.formation.members.push_back(absl::StrCat("m", i, ".example.com"));
  CHECK(ReasonOf(CheckJoinRequest(full, f.request)) == "array_full");
  full.formation.members.pop_back();
  CHECK(CheckJoinRequest(full, f.request).ok());  // the tenth member may join

  JoinRequest bad_fp = f.request;
  bad_fp.confirmed_fingerprint = "AB:CD";
  CHECK(ReasonOf(CheckJoinRequest(f.Primary(), bad_fp)) == "invalid_fingerprint");
}

TEST_CASE("join: the primary pins the joiner's CA fingerprint, compared case-insensitively") {
  Fixture f;
  CHECK(CheckPin(f.request, kFingerprint).ok());
  CHECK(CheckPin(f.request, absl::StrCat("SHA256 Fingerprint=", kFingerprint)).ok());
  JoinRequest upper = f.request;
  upper.confirmed_fingerprint = kFingerprint;
  CHECK(CheckPin(upper, kFingerprintTyped).ok());
  absl::Status s = CheckPin(f.request, kOtherFingerprint);
  CHECK(GetErrorCode(s) == ErrorCode::kFingerprintMismatch);
  CHECK(ReasonOf(s) == "fingerprint_mismatch");
  CHECK(std::string(s.message()).find("nothing was sent") != std::string::npos);
  CHECK(ReasonOf(CheckPin(f.request, "")) == "fingerprint_mismatch");
  // And again when the reply is judged.
  CHECK(ReasonOf(CheckJoin(f.Primary(), f.request, kOtherFingerprint, f.Reply(), kT0).status()) ==
        "fingerprint_mismatch");
}

TEST_CASE("join refusals on the joiner: name, standalone, busy, version, clock, token") {
  Fixture f;
  const JoinTokens before = f.tokens;
  JoinHello other = f.Hello();
  other.joiner = "seattle.example.com";
  CHECK(ReasonOf(CheckJoinHello(f.Joiner(), other, kT0, f.tokens)) == "name_mismatch");

  MemberMachine in_array(kNewyork, TwoMembers(), At(kT0));
  JoinHello to_newyork = f.Hello();
  to_newyork.joiner = kNewyork;
  absl::Status s =
      CheckJoinHello(ViewOfJoiner(in_array, Describe(kNewyork, false)), to_newyork, kT0, f.tokens);
  CHECK(ReasonOf(s) == "joiner_not_standalone");
  CHECK(std::string(s.message()).find("boston.example.com") != std::string::npos);

  JoinerView busy = f.Joiner();
  busy.busy_reason = "the array is repaired and waits for the recovery stage";
  CHECK(GetErrorCode(CheckJoinHello(busy, f.Hello(), kT0, f.tokens)) == ErrorCode::kBusy);

  s = CheckJoinHello(f.Joiner(Describe(kDetroit, false, "1.3.9")), f.Hello(), kT0, f.tokens);
  CHECK(GetErrorCode(s) == ErrorCode::kVersionMismatch);
  CHECK(ReasonOf(s) == "version_mismatch");

  s = CheckJoinHello(f.Joiner(), f.Hello(kT0), kT0 + absl::Seconds(61), f.tokens);
  CHECK(GetErrorCode(s) == ErrorCode::kClockSkew);
  CHECK(ReasonOf(s) == "clock_skew");
  CHECK(CheckJoinHello(f.Joiner(), f.Hello(kT0), kT0 + absl::Seconds(60), f.tokens).ok());
  CHECK(GetErrorCode(CheckJoinHello(f.Joiner(), f.Hello(kT0 + absl::Seconds(61)), kT0, f.tokens)) ==
        ErrorCode::kClockSkew);

  JoinHello wrong_token = f.Hello();
  wrong_token.token = absl::StrCat("AKJT-", std::string(26, 'A'));
  CHECK(ReasonOf(CheckJoinHello(f.Joiner(), wrong_token, kT0, f.tokens)) == "token_invalid");
  JoinHello no_token = f.Hello();
  no_token.token = "";
  CHECK(ReasonOf(CheckJoinHello(f.Joiner(), no_token, kT0, f.tokens)) == "token_invalid");
  // A hello 11 minutes later carries an expired token (its clock agrees with the joiner's).
  const absl::Time late = kT0 + absl::Minutes(11);
  CHECK(ReasonOf(CheckJoinHello(f.Joiner(), f.Hello(late), late, f.tokens)) == "token_expired");
  // The joiner's checks never use the token up.
  CHECK(f.tokens == before);
}

TEST_CASE("join: the joiner's refusal reaches the primary's operator with its reason") {
  Fixture f;
  const absl::Time late = kT0 + absl::Minutes(11);
  absl::Status why = CheckJoinHello(f.Joiner(), f.Hello(late), late, f.tokens);
  const JoinReply refusal = RefuseJoinHello(f.Joiner(), late, why);
  absl::StatusOr<JoinDecision> decision =
      CheckJoin(f.Primary(), f.request, kFingerprint, refusal, late);
  CHECK(ReasonOf(decision.status()) == "token_expired");
  CHECK(decision.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(decision.status().message() == why.message());

  const JoinReply skewed = RefuseJoinHello(
      f.Joiner(), kT0, CheckJoinHello(f.Joiner(), f.Hello(kT0), kT0 + absl::Seconds(90), f.tokens));
  CHECK(GetErrorCode(CheckJoin(f.Primary(), f.request, kFingerprint, skewed, kT0).status()) ==
        ErrorCode::kClockSkew);
}

TEST_CASE("join refusals on the primary when it judges the joiner's reply") {
  Fixture f;
  const HardState before = f.boston.hard_state();
  auto reason = [&f](const JoinReply& reply, absl::Time now = kT0) {
    return ReasonOf(CheckJoin(f.Primary(), f.request, kFingerprint, reply, now).status());
  };
  CHECK(reason(f.Reply()) == "");

  JoinReply other = f.Reply();
  other.joiner = "seattle.example.com";
  CHECK(reason(other) == "name_mismatch");
  JoinReply described_other = f.Reply(kT0, Describe("seattle.example.com", false));
  CHECK(reason(described_other) == "name_mismatch");

  JoinReply not_alone = f.Reply();
  not_alone.standalone = false;
  CHECK(reason(not_alone) == "joiner_not_standalone");

  CHECK(reason(f.Reply(kT0, Describe(kDetroit, false, "2.0.0"))) == "version_mismatch");
  CHECK(reason(f.Reply(kT0), kT0 + absl::Seconds(61)) == "clock_skew");
  CHECK(reason(f.Reply(kT0 + absl::Seconds(61)), kT0) == "clock_skew");
  CHECK(reason(f.Reply(kT0), kT0 + absl::Seconds(60)) == "");

  // A second back-end makes two: backend_count is a placement error.
  absl::Status placement =
      CheckJoin(f.Primary(), f.request, kFingerprint, f.Reply(kT0, Describe(kDetroit, true)), kT0)
          .status();
  CHECK(ReasonOf(placement) == "placement_errors");
  CHECK(std::string(placement.message()).find("backend_count") != std::string::npos);
  Member unstatic = Describe(kDetroit, false);
  unstatic.address_static = false;
  CHECK(reason(f.Reply(kT0, unstatic)) == "placement_errors");

  JoinReply no_csr = f.Reply();
  no_csr.csr_pem.clear();
  CHECK(reason(no_csr) == "invalid_argument");

  // The array changed while the hello was in flight: the request's checks run again.
  PrimaryView busy = f.Primary();
  busy.busy_reason = "a failover is under way";
  CHECK(GetErrorCode(CheckJoin(busy, f.request, kFingerprint, f.Reply(), kT0).status()) ==
        ErrorCode::kBusy);
  // Judging wrote nothing.
  CHECK(f.boston.hard_state() == before);
  CHECK_FALSE(f.tokens.records()[0].consumed);
}

TEST_CASE("join: the joiner checks the admission against its hello") {
  Fixture f;
  const JoinHello hello = f.Hello();
  REQUIRE(f.boston.AddMember(kDetroit, false, 5).ok());
  const JoinAdmit admit = MakeJoinAdmit(f.boston, f.request, "CERT", "CA");
  CHECK(CheckJoinAdmit(f.Joiner(), hello, admit).ok());
  JoinAdmit from_other = admit;
  from_other.primary = kNewyork;
  CHECK(ReasonOf(CheckJoinAdmit(f.Joiner(), hello, from_other)) == "name_mismatch");
  JoinAdmit without = admit;
  without.formation.members.pop_back();
  CHECK(ReasonOf(CheckJoinAdmit(f.Joiner(), hello, without)) == "invalid_argument");
  JoinAdmit no_cert = admit;
  no_cert.certificate_pem.clear();
  CHECK(ReasonOf(CheckJoinAdmit(f.Joiner(), hello, no_cert)) == "invalid_argument");
  JoinAdmit behind = admit;
  behind.epoch = 4;
  CHECK(ReasonOf(CheckJoinAdmit(f.Joiner(), hello, behind)) == "invalid_argument");
}

TEST_CASE("wire statuses keep the code, arraykit's code and the reason") {
  for (const absl::Status& s :
       {arraykit::MakeError(ErrorCode::kClockSkew, "clocks apart"),
        arraykit::MakeError(absl::StatusCode::kPermissionDenied, "token_expired", "expired"),
        arraykit::MakeError(ErrorCode::kBusy, "failover")}) {
    const absl::Status back = FromWire(ToWire(s));
    CHECK(back.code() == s.code());
    CHECK(back.message() == s.message());
    CHECK(ReasonOf(back) == ReasonOf(s));
    CHECK(GetErrorCode(back) == GetErrorCode(s));
  }
  CHECK(FromWire(ToWire(absl::OkStatus())).ok());
  CHECK(FromWire(WireStatus{99, "", "odd"}).code() == absl::StatusCode::kUnknown);
  CHECK(FromWire(WireStatus{1999, "odd", "odd"}).code() == absl::StatusCode::kUnknown);
}

}  // namespace
