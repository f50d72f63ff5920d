// Joining a standalone member to an array (DESIGN.md §10 "Array operations", §6; the seed's
// `tarantella array join --secondary`): the preconditions, checked on both sides, and the
// messages of the join protocol, which the node's transport carries in its envelope.
//
// The protocol (docs/operations-core.md "Join"), J the joiner, P the primary:
//   0. On J the operator makes a one-time token (JoinTokens::Issue) and reads J's CA
//      fingerprint; on P the operator runs join with J's name, that fingerprint and the token.
//   1. P: CheckJoinRequest (nothing is sent if it fails).
//   2. P connects to J. Before P sends anything it pins J's CA: CheckPin compares the CA
//      fingerprint J presented in the TLS handshake with the one the operator confirmed.
//   3. P -> J JoinHello: the token, P's version, clock, epoch and CA certificate.
//   4. J: CheckJoinHello (token, standalone, version, clock). On success J makes a fresh key and
//      a CSR for its name (the key never leaves J) and answers AcceptJoinHello; else
//      RefuseJoinHello. J writes nothing yet: the CA is not trusted, the token not used.
//   5. P: CheckJoin — every precondition again, now with J's description, version and clock,
//      and the placement check of the resulting array. It returns the PKI join plan
//      (trust_ca J, issue_certificate J, add_member J), executed in that order:
//        trust_ca J          P's CA certificate travels in JoinAdmit; J installs it in step 6;
//        issue_certificate J P's CA signs J's CSR (the node: CertificateAuthority::SignPeerCsr);
//        add_member J        P's machine: MemberMachine::AddMember (persisted before sending).
//   6. P -> J JoinAdmit: certificate, CA certificate, formation and epoch. J: CheckJoinAdmit,
//      then JoinTokens::Consume(token, time the hello arrived), trust the CA, install the
//      certificate, MemberMachine::JoinArray(formation, epoch) — one store transaction — and
//      answers JoinAdmitted. The other members learn the new formation from their next probe.
// Every refusal carries a reason word (docs/c-abi.md "Reason words"); a refusal on either side
// writes nothing on either side.
#ifndef ARRAYKIT_CORE_OPS_JOIN_H_
#define ARRAYKIT_CORE_OPS_JOIN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/failover/member_machine.h"
#include "core/model/array.h"
#include "core/ops/join_token.h"
#include "core/pki/rotation.h"
#include "core/placement/placement.h"

namespace arraykit::ops {

// The seed: "If the time difference is more than one minute, the array join operation fails."
inline constexpr absl::Duration kMaxJoinClockSkew = absl::Seconds(60);

// The operator's join command on the primary.
struct JoinRequest {
  std::string joiner;                 // the joiner's peer DNS name
  std::string confirmed_fingerprint;  // the joiner's CA fingerprint the operator confirmed
  std::string token;                  // the one-time token made on the joiner
};

// What the primary knows of itself and its array when it checks a join.
struct PrimaryView {
  std::string self;
  failover::Formation formation;       // MemberMachine::hard_state().formation
  std::uint64_t epoch = 0;             // MemberMachine::epoch()
  std::string busy_reason;             // MemberMachine::busy_reason(); "" when not busy
  std::vector<model::Member> members;  // the description of each formation member
  std::string version;                 // the arraykit version this member runs
  // Planned members: listed by the array description the array was created with, not joined
  // yet (the primary issued them no certificate). Each may join once, taking its place.
  std::vector<std::string> planned;
};
PrimaryView ViewOfPrimary(const failover::MemberMachine& machine,
                          std::vector<model::Member> members, std::string version);

// What the joiner knows of itself.
struct JoinerView {
  std::string self;
  failover::Formation formation;
  std::uint64_t epoch = 0;  // the highest epoch it used or voted in
  std::string busy_reason;
  model::Member member;  // its own description; member.version is the version it runs
};
JoinerView ViewOfJoiner(const failover::MemberMachine& machine, model::Member member);

// ---- messages -----------------------------------------------------------------------------------
// A status on the wire: `code` is the absl canonical code or, from 1000, arraykit's ErrorCode.
struct WireStatus {
  int code = 0;
  std::string reason;
  std::string message;
  bool operator==(const WireStatus&) const = default;
};
WireStatus ToWire(const absl::Status& status);
absl::Status FromWire(const WireStatus& status);

struct JoinHello {  // P -> J, sent only after the pin
  std::string primary;
  std::string joiner;
  std::string token;
  std::string version;
  absl::Time clock;  // P's wall clock when it sent the hello
  std::uint64_t epoch = 0;
  std::string ca_certificate_pem;  // P's CA (trust_ca on J, installed at admission)
};

struct JoinReply {  // J -> P
  std::string joiner;
  WireStatus status;        // code 0: J accepts; else why it refuses
  model::Member member;     // J's description: roles, rack, power, address, version
  absl::Time clock;         // J's wall clock when it answered
  bool standalone = false;  // J is alone in its array
  std::uint64_t epoch = 0;  // J's highest epoch (the array's epoch rises to it)
  std::string csr_pem;      // J's CSR for its peer certificate
};

struct JoinAdmit {  // P -> J, after add_member
  std::string primary;
  std::string joiner;
  failover::Formation formation;
  std::uint64_t epoch = 0;
  std::string certificate_pem;     // J's peer certificate, signed by P's CA
  std::string ca_certificate_pem;  // P's CA
};

struct JoinAdmitted {  // J -> P
  std::string joiner;
  WireStatus status;
};

// ---- checks -------------------------------------------------------------------------------------
// 1. Primary, before contacting the joiner: kNotPrimary, kBusy, `name_not_fqdn`, `name_taken`
//    (a member that is not a planned one), `array_full`, `invalid_fingerprint` (the confirmed
//    fingerprint is not a SHA-256 fingerprint).
absl::Status CheckJoinRequest(const PrimaryView& primary, const JoinRequest& request);

// 2. Primary, after the TLS handshake and before sending anything: the CA fingerprint the joiner
//    presented equals the one the operator confirmed (colon-hex, case-insensitive), else
//    kFingerprintMismatch (`fingerprint_mismatch`).
absl::Status CheckPin(const JoinRequest& request, std::string_view presented_ca_fingerprint);

// 3. The hello, once the pin holds.
JoinHello MakeJoinHello(const PrimaryView& primary, const JoinRequest& request, absl::Time now,
                        std::string ca_certificate_pem);

// 4. Joiner: `name_mismatch` (the hello is for another member), `joiner_not_standalone`, kBusy,
//    kVersionMismatch, kClockSkew (more than 60 s apart), `token_invalid`, `token_expired`.
//    Changes nothing (the token is used only at admission).
absl::Status CheckJoinHello(const JoinerView& joiner, const JoinHello& hello, absl::Time now,
                            const JoinTokens& tokens);
JoinReply AcceptJoinHello(const JoinerView& joiner, absl::Time now, std::string csr_pem);
JoinReply RefuseJoinHello(const JoinerView& joiner, absl::Time now, const absl::Status& why);

// 5. Primary, with the joiner's reply: every check of steps 1 and 2 again (the array may have
//    changed meanwhile), the joiner's own refusal, then `name_mismatch`,
//    `joiner_not_standalone`, kVersionMismatch, kClockSkew, `roles_mismatch` (a planned member
//    must come with the roles it was planned with: they made it a voter or not), and
//    `placement_errors` (the array with the joiner added has placement errors; the message
//    lists them). On success: the resulting array (a planned member's description replaced by
//    the joiner's), its findings (warnings may remain) and the PKI join plan to execute.
struct JoinDecision {
  model::Array result;
  std::vector<placement::Finding> findings;
  pki::RotationPlan plan;
  bool voter = false;    // the joiner is a back-end: a quorum voter (MemberMachine::AddMember)
  bool planned = false;  // the joiner takes its planned place (MemberMachine::AdmitPlanned)
};
absl::StatusOr<JoinDecision> CheckJoin(const PrimaryView& primary, const JoinRequest& request,
                                       std::string_view presented_ca_fingerprint,
                                       const JoinReply& reply, absl::Time now);

// 6. Primary, after issue_certificate and MemberMachine::AddMember succeeded.
JoinAdmit MakeJoinAdmit(const failover::MemberMachine& primary, const JoinRequest& request,
                        std::string certificate_pem, std::string ca_certificate_pem);

// 7. Joiner: the admission answers its hello (same primary, a formation listing the joiner and
//    led by that primary, a certificate), else `name_mismatch` / invalid_argument. Then the node
//    consumes the token and runs MemberMachine::JoinArray (which re-checks standalone and busy).
absl::Status CheckJoinAdmit(const JoinerView& joiner, const JoinHello& hello,
                            const JoinAdmit& admit);

// The array a PrimaryView describes (formation order, backup list and resilience), or
// INVALID_ARGUMENT when a formation member has no description.
absl::StatusOr<model::Array> ArrayOf(const PrimaryView& primary);

}  // namespace arraykit::ops

#endif  // ARRAYKIT_CORE_OPS_JOIN_H_
