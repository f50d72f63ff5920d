#include "core/pki/rotation.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/pki/ossl.h"

namespace arraykit::pki {
namespace {

using internal::Av;

absl::StatusOr<std::string> ReadName(std::string_view name, std::string_view what) {
  absl::StatusOr<std::string> n = NormalizePeerName(name);
  if (!n.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(Av(what), ": ", n.status().message()));
  }
  return n;
}

void AppendRollover(const Membership& m, const std::string& holder, const std::string& old,
                    std::vector<RotationStep>* steps) {
  steps->push_back({StepKind::kCreateCa, holder, CaRef::kNext});
  for (const std::string& n : m.names) steps->push_back({StepKind::kTrustCa, n, CaRef::kNext});
  for (const std::string& n : m.names) {
    steps->push_back({StepKind::kIssueCertificate, n, CaRef::kNext});
  }
  steps->push_back({StepKind::kActivateCa, holder, CaRef::kNext});
  for (const std::string& n : m.names) {
    steps->push_back({StepKind::kUntrustCa, n, CaRef::kPrevious});
  }
  steps->push_back({StepKind::kRetireCa, old, CaRef::kPrevious});
}

}  // namespace

bool Membership::Contains(const std::string& name) const {
  return std::find(names.begin(), names.end(), name) != names.end();
}

absl::StatusOr<Membership> ReadMembership(const model::Array& array) {
  Membership m;
  if (array.members.empty()) return absl::InvalidArgumentError("the array has no members");
  if (array.members.size() > model::kMaxMembers) {
    return absl::InvalidArgumentError("too many members");
  }
  for (const model::Member& member : array.members) {
    absl::StatusOr<std::string> name = NormalizePeerName(member.name);
    if (!name.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("member name: ", name.status().message()));
    }
    if (m.Contains(*name)) {
      return absl::InvalidArgumentError(absl::StrCat("member '", *name, "' is listed twice"));
    }
    m.names.push_back(*name);
  }
  absl::StatusOr<std::string> primary = NormalizePeerName(array.primary);
  if (!primary.ok() || !m.Contains(*primary)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the primary '", Av(array.primary), "' is not a member of the array"));
  }
  m.primary = *primary;
  return m;
}

std::string_view ToString(CaRef ca) {
  switch (ca) {
    case CaRef::kCurrent:
      return "current";
    case CaRef::kNext:
      return "next";
    case CaRef::kPrevious:
      return "previous";
  }
  return "unknown";
}

std::string_view ToString(StepKind kind) {
  switch (kind) {
    case StepKind::kCreateCa:
      return "create_ca";
    case StepKind::kTrustCa:
      return "trust_ca";
    case StepKind::kIssueCertificate:
      return "issue_certificate";
    case StepKind::kAddMember:
      return "add_member";
    case StepKind::kRemoveMember:
      return "remove_member";
    case StepKind::kRevokeCertificate:
      return "revoke_certificate";
    case StepKind::kActivateCa:
      return "activate_ca";
    case StepKind::kUntrustCa:
      return "untrust_ca";
    case StepKind::kRetireCa:
      return "retire_ca";
  }
  return "unknown";
}

std::string_view ToString(PlanKind kind) {
  switch (kind) {
    case PlanKind::kJoin:
      return "join";
    case PlanKind::kLeave:
      return "leave";
    case PlanKind::kNewPrimary:
      return "new_primary";
    case PlanKind::kRenewal:
      return "renewal";
  }
  return "unknown";
}

nlohmann::json RotationStep::ToJson() const {
  return nlohmann::json{{"step", ToString(kind)}, {"member", member}, {"ca", ToString(ca)}};
}

nlohmann::json RotationPlan::ToJson() const {
  nlohmann::json out{{"plan", ToString(kind)}, {"steps", nlohmann::json::array()}};
  for (const RotationStep& s : steps) out["steps"].push_back(s.ToJson());
  return out;
}

absl::StatusOr<RotationPlan> PlanJoin(const model::Array& array, std::string_view joining) {
  absl::StatusOr<Membership> m = ReadMembership(array);
  if (!m.ok()) return m.status();
  absl::StatusOr<std::string> name = ReadName(joining, "joining member");
  if (!name.ok()) return name.status();
  if (m->Contains(*name)) {
    return absl::AlreadyExistsError(absl::StrCat("'", *name, "' is already a member"));
  }
  // The truststore first, so the joining member can authenticate the primary; the member is
  // admitted only once it holds a certificate every member accepts.
  return RotationPlan{PlanKind::kJoin,
                      {{StepKind::kTrustCa, *name, CaRef::kCurrent},
                       {StepKind::kIssueCertificate, *name, CaRef::kCurrent},
                       {StepKind::kAddMember, *name, CaRef::kCurrent}}};
}

absl::StatusOr<RotationPlan> PlanLeave(const model::Array& array, std::string_view leaving) {
  absl::StatusOr<Membership> m = ReadMembership(array);
  if (!m.ok()) return m.status();
  absl::StatusOr<std::string> name = ReadName(leaving, "leaving member");
  if (!name.ok()) return name.status();
  if (!m->Contains(*name)) {
    return absl::NotFoundError(absl::StrCat("'", *name, "' is not a member"));
  }
  if (*name == m->primary) {
    return absl::FailedPreconditionError(absl::StrCat(
        "'", *name, "' is the primary and holds the CA; make another member primary first"));
  }
  // Removal before revocation: while it is still a member, its certificate must still verify.
  return RotationPlan{PlanKind::kLeave,
                      {{StepKind::kRemoveMember, *name, CaRef::kCurrent},
                       {StepKind::kRevokeCertificate, *name, CaRef::kCurrent}}};
}

absl::StatusOr<RotationPlan> PlanNewPrimary(const model::Array& array,
                                            std::string_view new_primary) {
  absl::StatusOr<Membership> m = ReadMembership(array);
  if (!m.ok()) return m.status();
  absl::StatusOr<std::string> name = ReadName(new_primary, "new primary");
  if (!name.ok()) return name.status();
  if (!m->Contains(*name)) {
    return absl::NotFoundError(absl::StrCat("'", *name, "' is not a member"));
  }
  RotationPlan plan{PlanKind::kNewPrimary, {}};
  AppendRollover(*m, *name, m->primary, &plan.steps);
  return plan;
}

absl::StatusOr<RotationPlan> PlanRenewal(const model::Array& array, const CertificateValidity& ca,
                                         const std::vector<CertificateValidity>& peers,
                                         absl::Time now) {
  absl::StatusOr<Membership> m = ReadMembership(array);
  if (!m.ok()) return m.status();
  RotationPlan plan{PlanKind::kRenewal, {}};
  if (ca.not_after <= ca.not_before) {
    return absl::InvalidArgumentError("CA validity: not_after must follow not_before");
  }
  if (RenewalDue(ca.not_before, ca.not_after, now)) {
    AppendRollover(*m, m->primary, m->primary, &plan.steps);
    return plan;
  }
  for (const std::string& n : m->names) {
    bool due = true;  // a member without a listed certificate needs one
    for (const CertificateValidity& p : peers) {
      absl::StatusOr<std::string> holder = NormalizePeerName(p.member);
      if (holder.ok() && *holder == n) due = RenewalDue(p.not_before, p.not_after, now);
    }
    if (due) plan.steps.push_back({StepKind::kIssueCertificate, n, CaRef::kCurrent});
  }
  return plan;
}

}  // namespace arraykit::pki
