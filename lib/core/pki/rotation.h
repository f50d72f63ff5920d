// Rotation plans (DESIGN.md §6): what has to happen to keys, certificates and truststores when
// the array changes — join, leave, new primary, renewal — as an ordered list of steps computed
// by pure functions over the array model. The runtime executes the steps later, one at a time,
// on the members they name; the order is chosen so that every pair of members can still verify
// each other after every single step (no link drops during a rollover).
//
// tests/unit/pki/simulated_array_pki.h applies the same steps to an in-memory picture of all
// members' credentials: the reference the distributed runtime has to match.
#ifndef ARRAYKIT_CORE_PKI_ROTATION_H_
#define ARRAYKIT_CORE_PKI_ROTATION_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/model/array.h"
#include "core/pki/pki.h"
#include "core/pki/secret.h"
#include "core/pki/truststore.h"
#include "core/pki/verify.h"
#include "nlohmann/json.hpp"

namespace arraykit::pki {

// Which CA a step refers to. Plans cannot name CAs by fingerprint (the new one does not exist
// yet when the plan is made), so they name them by role in the rollover.
enum class CaRef {
  kCurrent,   // the array's CA when the step runs
  kNext,      // the CA created by this plan's create_ca step, until it is activated
  kPrevious,  // the CA that was current before this plan's activate_ca step
};
std::string_view ToString(CaRef ca);

enum class StepKind {
  kCreateCa,           // "create_ca": `member` (the new primary) creates CA `ca` (kNext)
  kTrustCa,            // "trust_ca": `member` adds CA `ca` to its truststore
  kIssueCertificate,   // "issue_certificate": `member` makes a key + CSR; CA `ca` signs it
  kAddMember,          // "add_member": the array starts accepting `member` as a peer
  kRemoveMember,       // "remove_member": the array stops accepting `member`; its keys are wiped
  kRevokeCertificate,  // "revoke_certificate": `member`'s serials go on every member's list
  kActivateCa,         // "activate_ca": CA `ca` (kNext, held by `member`) becomes current
  kUntrustCa,          // "untrust_ca": `member` removes CA `ca` (kPrevious) from its truststore
  kRetireCa,           // "retire_ca": `member` destroys the key of CA `ca` (kPrevious)
};
std::string_view ToString(StepKind kind);

struct RotationStep {
  StepKind kind;
  std::string member;  // normalized peer DNS name of the member the step is about
  CaRef ca = CaRef::kCurrent;

  // {"step": "trust_ca", "member": "...", "ca": "next"}
  nlohmann::json ToJson() const;
  bool operator==(const RotationStep&) const = default;
};

enum class PlanKind { kJoin, kLeave, kNewPrimary, kRenewal };
std::string_view ToString(PlanKind kind);

struct RotationPlan {
  PlanKind kind;
  std::vector<RotationStep> steps;

  // {"plan": "join", "steps": [...]}
  nlohmann::json ToJson() const;
};

// Join: hand `joining` the truststore, issue its certificate, then admit it.
absl::StatusOr<RotationPlan> PlanJoin(const model::Array& array, std::string_view joining);

// Leave: stop accepting `leaving`, then revoke its serials. The primary cannot leave (make
// another member primary first); the last member cannot leave.
absl::StatusOr<RotationPlan> PlanLeave(const model::Array& array, std::string_view leaving);

// New primary: it creates a new CA; every member trusts old and new; every certificate is
// reissued by the new CA; the new CA becomes current; every member drops the old CA; the old
// primary destroys the old CA key. Also used to roll the CA over on the same primary.
absl::StatusOr<RotationPlan> PlanNewPrimary(const model::Array& array,
                                            std::string_view new_primary);

// The validity of one certificate, as the runtime reads it from its store.
struct CertificateValidity {
  std::string member;  // the holder's peer DNS name; for the CA, the primary
  absl::Time not_before;
  absl::Time not_after;
};

// Renewal at two thirds of the lifetime: a CA past that point is rolled over (the new-primary
// plan on the same primary, which also reissues every certificate); otherwise each member whose
// certificate is past that point — or has none listed — gets a new key and certificate.
// An empty plan means nothing is due.
absl::StatusOr<RotationPlan> PlanRenewal(const model::Array& array, const CertificateValidity& ca,
                                         const std::vector<CertificateValidity>& peers,
                                         absl::Time now);

// The array's membership as normalized names, checked: valid peer names, no duplicates, a
// primary that is a member.
struct Membership {
  std::vector<std::string> names;  // in the array's order
  std::string primary;
  bool Contains(const std::string& name) const;
};
absl::StatusOr<Membership> ReadMembership(const model::Array& array);

}  // namespace arraykit::pki

#endif  // ARRAYKIT_CORE_PKI_ROTATION_H_
