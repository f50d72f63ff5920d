#include "simulated_array_pki.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/pki/ossl.h"

namespace arraykit::pki {

using internal::Av;

absl::StatusOr<SimulatedArrayPki> SimulatedArrayPki::Create(const model::Array& array,
                                                            const SimulationOptions& options,
                                                            absl::Time now) {
  absl::StatusOr<Membership> m = ReadMembership(array);
  if (!m.ok()) return m.status();
  SimulatedArrayPki sim;
  sim.options_ = options;
  sim.primary_ = m->primary;
  absl::StatusOr<CertificateAuthority> ca =
      CertificateAuthority::Create({.common_name = "arraykit array CA",
                                    .key_type = options.key_type,
                                    .lifetime = options.ca_lifetime},
                                   now);
  if (!ca.ok()) return ca.status();
  sim.current_ca_.emplace(*std::move(ca));
  for (const std::string& n : m->names) {
    sim.admitted_[n] = true;
    if (absl::Status s = sim.Apply({StepKind::kTrustCa, n, CaRef::kCurrent}, now); !s.ok()) {
      return s;
    }
    if (absl::Status s = sim.Issue(n, CaRef::kCurrent, now); !s.ok()) return s;
  }
  return sim;
}

const CertificateAuthority* SimulatedArrayPki::Ca(CaRef ref) const {
  const std::optional<CertificateAuthority>* ca = nullptr;
  switch (ref) {
    case CaRef::kCurrent:
      ca = &current_ca_;
      break;
    case CaRef::kNext:
      ca = &next_ca_;
      break;
    case CaRef::kPrevious:
      ca = &previous_ca_;
      break;
  }
  return ca != nullptr && ca->has_value() ? &**ca : nullptr;
}

absl::Status SimulatedArrayPki::Issue(const std::string& member, CaRef ref, absl::Time now) {
  const CertificateAuthority* ca = Ca(ref);
  if (ca == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("no ", Av(ToString(ref)), " CA"));
  }
  // On the member: a fresh key and a CSR. On the CA: checks and signature. The names the CA
  // accepts are the members after the change, so a joining member can be enrolled.
  absl::StatusOr<MemberRequest> request = CreateKeyAndCsr(options_.key_type, member);
  if (!request.ok()) return request.status();
  PeerCertificateOptions issue;
  for (const auto& [name, admitted] : admitted_) {
    if (admitted) issue.member_names.push_back(name);
  }
  issue.member_names.push_back(member);
  issue.expected_name = member;
  issue.lifetime = options_.peer_lifetime;
  absl::StatusOr<CertificateAuthority::IssuedCertificate> issued =
      ca->IssuePeerCertificate(request->csr_pem, issue, now);
  if (!issued.ok()) return issued.status();
  MemberCredentials& c = credentials_[member];
  c.private_key_pem = std::move(request->private_key_pem);
  c.certificate_pem = std::move(issued->pem);
  c.certificate = std::move(issued->info);
  issued_serials_[member].push_back(c.certificate.serial_hex);
  return absl::OkStatus();
}

absl::Status SimulatedArrayPki::Apply(const RotationStep& step, absl::Time now) {
  const std::string& member = step.member;
  switch (step.kind) {
    case StepKind::kCreateCa: {
      if (next_ca_.has_value()) return absl::FailedPreconditionError("a next CA already exists");
      absl::StatusOr<CertificateAuthority> ca =
          CertificateAuthority::Create({.common_name = "arraykit array CA",
                                        .key_type = options_.key_type,
                                        .lifetime = options_.ca_lifetime},
                                       now);
      if (!ca.ok()) return ca.status();
      next_ca_.emplace(*std::move(ca));
      return absl::OkStatus();
    }
    case StepKind::kTrustCa: {
      const CertificateAuthority* ca = Ca(step.ca);
      if (ca == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat("no ", Av(ToString(step.ca)), " CA"));
      }
      absl::StatusOr<TrustedCa> added = credentials_[member].truststore.Add(ca->certificate_pem());
      return added.status();
    }
    case StepKind::kIssueCertificate:
      return Issue(member, step.ca, now);
    case StepKind::kAddMember: {
      auto it = credentials_.find(member);
      if (it == credentials_.end() || it->second.certificate_pem.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("'", member, "' has no certificate yet; issue one before admitting it"));
      }
      admitted_[member] = true;
      return absl::OkStatus();
    }
    case StepKind::kRemoveMember:
      if (!admitted_[member]) {
        return absl::NotFoundError(absl::StrCat("'", member, "' is not a member"));
      }
      admitted_.erase(member);
      credentials_.erase(member);  // the departing member's keys are wiped (SecretString)
      return absl::OkStatus();
    case StepKind::kRevokeCertificate:
      for (auto& [name, c] : credentials_) {
        for (const std::string& serial : issued_serials_[member]) {
          c.revoked_serials.push_back(serial);
        }
      }
      return absl::OkStatus();
    case StepKind::kActivateCa:
      if (!next_ca_.has_value()) return absl::FailedPreconditionError("no next CA to activate");
      previous_ca_ = std::move(current_ca_);
      current_ca_ = std::move(next_ca_);
      next_ca_.reset();
      primary_ = member;
      return absl::OkStatus();
    case StepKind::kUntrustCa: {
      const CertificateAuthority* ca = Ca(step.ca);
      if (ca == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat("no ", Av(ToString(step.ca)), " CA"));
      }
      return credentials_[member].truststore.Remove(ca->fingerprint());
    }
    case StepKind::kRetireCa:
      if (Ca(step.ca) == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat("no ", Av(ToString(step.ca)), " CA"));
      }
      if (step.ca == CaRef::kPrevious) previous_ca_.reset();
      if (step.ca == CaRef::kNext) next_ca_.reset();
      if (step.ca == CaRef::kCurrent) current_ca_.reset();
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("unknown step");
}

std::vector<std::string> SimulatedArrayPki::MutualVerificationFailures(absl::Time now) const {
  std::vector<std::string> failures;
  const std::vector<std::string> names = members();
  for (const std::string& a : names) {
    const MemberCredentials& verifier = credentials_.at(a);
    for (const std::string& b : names) {
      if (a == b) continue;
      const MemberCredentials& peer = credentials_.at(b);
      for (Role role : {Role::kServer, Role::kClient}) {
        VerifyOptions options{.expected_name = b,
                              .role = role,
                              .at = now,
                              .revoked_serials = verifier.revoked_serials};
        VerificationResult r =
            VerifyPeerCertificate(peer.certificate_pem, verifier.truststore, options);
        if (!r.valid) {
          failures.push_back(absl::StrCat(a, " -> ", b,
                                          role == Role::kServer ? " (server): " : " (client): ",
                                          Av(ToString(*r.reason)), ": ", r.message));
        }
      }
    }
  }
  return failures;
}

std::vector<std::string> SimulatedArrayPki::members() const {
  std::vector<std::string> out;
  for (const auto& [name, admitted] : admitted_) {
    if (admitted) out.push_back(name);
  }
  return out;
}

const MemberCredentials* SimulatedArrayPki::credentials(std::string_view member) const {
  absl::StatusOr<std::string> n = NormalizePeerName(member);
  if (!n.ok()) return nullptr;
  auto it = credentials_.find(*n);
  return it == credentials_.end() ? nullptr : &it->second;
}

model::Array SimulatedArrayPki::ToArray() const {
  model::Array array;
  for (const std::string& n : members()) {
    model::Member m;
    m.name = n;
    array.members.push_back(std::move(m));
  }
  array.primary = primary_;
  return array;
}

CertificateValidity SimulatedArrayPki::CaValidity() const {
  return {primary_, current_ca_->info().not_before, current_ca_->info().not_after};
}

std::vector<CertificateValidity> SimulatedArrayPki::PeerValidity() const {
  std::vector<CertificateValidity> out;
  for (const std::string& n : members()) {
    const CertificateInfo& c = credentials_.at(n).certificate;
    out.push_back({n, c.not_before, c.not_after});
  }
  return out;
}

}  // namespace arraykit::pki
