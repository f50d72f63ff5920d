#include "core/ops/join.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/model/json_reader.h"
#include "core/pki/pki.h"
#include "core/status.h"

namespace arraykit::ops {
namespace {

namespace ji = model::json_internal;

absl::Status Refused(absl::Status status) {
  // Same code, reason and payloads; the message says which operation refused.
  absl::Status out(status.code(), absl::StrCat("join refused: ", status.message()));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

absl::Status NameMismatch(std::string message) {
  return MakeError(absl::StatusCode::kPermissionDenied, "name_mismatch", message);
}

absl::Status CheckClock(absl::Time ours, absl::Time theirs, absl::string_view us,
                        absl::string_view them) {
  const absl::Duration skew = absl::AbsDuration(ours - theirs);
  if (skew <= kMaxJoinClockSkew) return absl::OkStatus();
  return MakeError(
      ErrorCode::kClockSkew,
      absl::StrCat("the clocks of ", us, " (", ji::FormatRfc3339(ours), ") and ", them, " (",
                   ji::FormatRfc3339(theirs), ") differ by ", ji::FormatSeconds(skew), "; at most ",
                   ji::FormatSeconds(kMaxJoinClockSkew),
                   " is allowed (synchronize them with NTP)"));
}

absl::Status CheckVersion(std::string_view ours, std::string_view theirs, absl::string_view us,
                          absl::string_view them) {
  if (ours == theirs) return absl::OkStatus();
  return MakeError(
      ErrorCode::kVersionMismatch,
      absl::StrCat(us, " runs version ", ji::Quoted(ours), ", ", them, " runs version ",
                   ji::Quoted(theirs), "; all members of an array run the same version"));
}

bool IsPlanned(const PrimaryView& primary, std::string_view name) {
  return std::any_of(primary.planned.begin(), primary.planned.end(),
                     [name](const std::string& p) { return model::SameName(p, name); });
}

std::string RolesText(const model::Roles& roles) {
  std::vector<std::string> names;
  if (roles.frontend) names.push_back("frontend");
  if (roles.backend) names.push_back("backend");
  return names.empty() ? "(none)" : absl::StrJoin(names, ",");
}

absl::Status NotStandalone(absl::string_view joiner, const std::vector<std::string>& members) {
  return MakeError(
      absl::StatusCode::kFailedPrecondition, "joiner_not_standalone",
      absl::StrCat(joiner, " is not standalone: its array has ", members.size(), " members (",
                   absl::StrJoin(members, ", "), "); detach it or run clean on it first"));
}

}  // namespace

WireStatus ToWire(const absl::Status& status) {
  WireStatus out;
  if (status.ok()) return out;
  const std::optional<ErrorCode> own = GetErrorCode(status);
  out.code = own.has_value() ? static_cast<int>(*own) : static_cast<int>(status.code());
  out.reason = ReasonOf(status);
  out.message = std::string(status.message());
  return out;
}

absl::Status FromWire(const WireStatus& wire) {
  if (wire.code == 0) return absl::OkStatus();
  if (wire.code >= 1000) {
    absl::Status status = MakeError(static_cast<ErrorCode>(wire.code), wire.message);
    if (!GetErrorCode(status).has_value()) {
      return MakeError(absl::StatusCode::kUnknown, wire.reason, wire.message);
    }
    return wire.reason.empty() ? status : WithReason(status, wire.reason);
  }
  const auto code = wire.code > 0 && wire.code <= 16 ? static_cast<absl::StatusCode>(wire.code)
                                                     : absl::StatusCode::kUnknown;
  return MakeError(code, wire.reason, wire.message);
}

PrimaryView ViewOfPrimary(const failover::MemberMachine& machine,
                          std::vector<model::Member> members, std::string version) {
  PrimaryView view;
  view.self = machine.self();
  view.formation = machine.hard_state().formation;
  view.epoch = machine.epoch();
  view.busy_reason = machine.busy_reason();
  view.members = std::move(members);
  view.version = std::move(version);
  return view;
}

JoinerView ViewOfJoiner(const failover::MemberMachine& machine, model::Member member) {
  JoinerView view;
  view.self = machine.self();
  view.formation = machine.hard_state().formation;
  view.epoch = std::max(machine.epoch(), machine.hard_state().voted_epoch);
  view.busy_reason = machine.busy_reason();
  view.member = std::move(member);
  return view;
}

absl::StatusOr<model::Array> ArrayOf(const PrimaryView& primary) {
  model::Array array;
  for (const std::string& name : primary.formation.members) {
    auto it =
        std::find_if(primary.members.begin(), primary.members.end(),
                     [&name](const model::Member& m) { return model::SameName(m.name, name); });
    if (it == primary.members.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the description of member ", name, " is missing"));
    }
    array.members.push_back(*it);
  }
  array.primary = primary.formation.primary;
  array.backup_primaries = primary.formation.backup_primaries;
  array.resilience = primary.formation.resilience;
  return array;
}

absl::Status CheckJoinRequest(const PrimaryView& primary, const JoinRequest& request) {
  if (primary.formation.primary != primary.self) {
    return Refused(
        MakeError(ErrorCode::kNotPrimary,
                  absl::StrCat(primary.self, " is not the primary (", primary.formation.primary,
                               " is); run join on the primary")));
  }
  if (!primary.busy_reason.empty()) {
    return Refused(MakeError(ErrorCode::kBusy, primary.busy_reason));
  }
  absl::StatusOr<std::string> name = model::NormalizePeerName(request.joiner, "joiner");
  if (!name.ok()) return Refused(name.status());
  const bool planned = IsPlanned(primary, *name);
  for (const std::string& member : primary.formation.members) {
    if (!planned && model::SameName(member, *name)) {
      return Refused(MakeError(absl::StatusCode::kAlreadyExists, "name_taken",
                               absl::StrCat(*name, " is already a member of the array")));
    }
  }
  if (!planned && primary.formation.members.size() >= model::kPlacementMemberLimit) {
    return Refused(
        MakeError(absl::StatusCode::kFailedPrecondition, "array_full",
                  absl::StrCat("the array has ", primary.formation.members.size(),
                               " members, the most an array can have (start a second array)")));
  }
  if (absl::StatusOr<std::string> fp = pki::NormalizeFingerprint(request.confirmed_fingerprint);
      !fp.ok()) {
    return Refused(MakeError(absl::StatusCode::kInvalidArgument, "invalid_fingerprint",
                             absl::StrCat("fingerprint: ", fp.status().message())));
  }
  return absl::OkStatus();
}

absl::Status CheckPin(const JoinRequest& request, std::string_view presented_ca_fingerprint) {
  absl::StatusOr<std::string> confirmed = pki::NormalizeFingerprint(request.confirmed_fingerprint);
  if (!confirmed.ok()) {
    return Refused(MakeError(absl::StatusCode::kInvalidArgument, "invalid_fingerprint",
                             absl::StrCat("fingerprint: ", confirmed.status().message())));
  }
  absl::StatusOr<std::string> presented = pki::NormalizeFingerprint(presented_ca_fingerprint);
  if (!presented.ok() || *presented != *confirmed) {
    return Refused(MakeError(ErrorCode::kFingerprintMismatch,
                             absl::StrCat(request.joiner, " presented a CA with fingerprint ",
                                          presented.ok() ? *presented : std::string("(none)"),
                                          ", not the one the operator confirmed (", *confirmed,
                                          "); nothing was sent to it")));
  }
  return absl::OkStatus();
}

JoinHello MakeJoinHello(const PrimaryView& primary, const JoinRequest& request, absl::Time now,
                        std::string ca_certificate_pem) {
  JoinHello hello;
  hello.primary = primary.self;
  hello.joiner = request.joiner;
  hello.token = request.token;
  hello.version = primary.version;
  hello.clock = now;
  hello.epoch = primary.epoch;
  hello.ca_certificate_pem = std::move(ca_certificate_pem);
  return hello;
}

absl::Status CheckJoinHello(const JoinerView& joiner, const JoinHello& hello, absl::Time now,
                            const JoinTokens& tokens) {
  if (!model::SameName(hello.joiner, joiner.self)) {
    return Refused(
        NameMismatch(absl::StrCat("the hello is for ", hello.joiner, ", this is ", joiner.self)));
  }
  if (joiner.formation.members.size() != 1) {
    return Refused(NotStandalone(joiner.self, joiner.formation.members));
  }
  if (!joiner.busy_reason.empty()) {
    return Refused(MakeError(ErrorCode::kBusy, joiner.busy_reason));
  }
  if (absl::Status s = CheckVersion(joiner.member.version, hello.version, joiner.self,
                                    absl::StrCat("the primary ", hello.primary));
      !s.ok()) {
    return Refused(s);
  }
  if (absl::Status s = CheckClock(now, hello.clock, joiner.self, hello.primary); !s.ok()) {
    return Refused(s);
  }
  if (absl::Status s = tokens.Verify(hello.token, now); !s.ok()) return Refused(s);
  return absl::OkStatus();
}

JoinReply AcceptJoinHello(const JoinerView& joiner, absl::Time now, std::string csr_pem) {
  JoinReply reply;
  reply.joiner = joiner.self;
  reply.member = joiner.member;
  reply.clock = now;
  reply.standalone = joiner.formation.members.size() == 1;
  reply.epoch = joiner.epoch;
  reply.csr_pem = std::move(csr_pem);
  return reply;
}

JoinReply RefuseJoinHello(const JoinerView& joiner, absl::Time now, const absl::Status& why) {
  JoinReply reply = AcceptJoinHello(joiner, now, "");
  reply.status = ToWire(why.ok() ? absl::UnknownError("refused without a reason") : why);
  return reply;
}

absl::StatusOr<JoinDecision> CheckJoin(const PrimaryView& primary, const JoinRequest& request,
                                       std::string_view presented_ca_fingerprint,
                                       const JoinReply& reply, absl::Time now) {
  if (absl::Status s = CheckJoinRequest(primary, request); !s.ok()) return s;
  if (absl::Status s = CheckPin(request, presented_ca_fingerprint); !s.ok()) return s;
  if (absl::Status s = FromWire(reply.status); !s.ok()) {
    // The joiner's refusal, as it gave it (its message already says "join refused").
    return s;
  }
  if (!model::SameName(reply.joiner, request.joiner) ||
      !model::SameName(reply.member.name, request.joiner)) {
    return Refused(NameMismatch(absl::StrCat("the answer comes from ", reply.joiner, " describing ",
                                             reply.member.name, ", not from ", request.joiner)));
  }
  if (!reply.standalone) {
    return Refused(MakeError(absl::StatusCode::kFailedPrecondition, "joiner_not_standalone",
                             absl::StrCat(request.joiner, " reports it is not standalone")));
  }
  if (absl::Status s =
          CheckVersion(primary.version, reply.member.version, primary.self, request.joiner);
      !s.ok()) {
    return Refused(s);
  }
  if (absl::Status s = CheckClock(now, reply.clock, primary.self, request.joiner); !s.ok()) {
    return Refused(s);
  }
  if (reply.csr_pem.empty()) {
    return Refused(absl::InvalidArgumentError(
        absl::StrCat(request.joiner, " sent no certificate signing request")));
  }
  absl::StatusOr<model::Array> current = ArrayOf(primary);
  if (!current.ok()) return Refused(current.status());
  const bool is_planned = IsPlanned(primary, request.joiner);
  absl::StatusOr<placement::ChangeResult> planned;
  if (is_planned) {
    // The joiner takes its planned place: its own description (rack, power, address,
    // version) replaces the plan's, with the planned roles.
    model::Member* place = nullptr;
    for (model::Member& m : current->members) {
      if (model::SameName(m.name, request.joiner)) place = &m;
    }
    if (place == nullptr) {
      return Refused(absl::InvalidArgumentError(
          absl::StrCat("the description of planned member ", request.joiner, " is missing")));
    }
    if (!(place->roles == reply.member.roles)) {
      return Refused(MakeError(
          absl::StatusCode::kFailedPrecondition, "roles_mismatch",
          absl::StrCat(request.joiner, " runs with roles ", RolesText(reply.member.roles),
                       "; the array planned it with roles ", RolesText(place->roles),
                       " (configure the member with the planned roles)")));
    }
    model::Member joined = reply.member;
    joined.name = place->name;
    *place = std::move(joined);
    placement::ChangeResult in_place;
    in_place.array = *current;
    in_place.findings = placement::Check(*current);
    planned = std::move(in_place);
    // The PKI plan is a join's: the array without the planned member, which joins.
    placement::Change without;
    without.remove.push_back(request.joiner);
    absl::StatusOr<placement::ChangeResult> rest = placement::PlanChange(*current, without);
    if (!rest.ok()) return Refused(rest.status());
    *current = std::move(rest->array);
  } else {
    placement::Change change;
    change.add.push_back(reply.member);
    planned = placement::PlanChange(*current, change);
  }
  if (!planned.ok()) return Refused(planned.status());
  std::vector<std::string> errors;
  for (const placement::Finding& f : planned->findings) {
    if (f.severity == placement::Severity::kError) {
      errors.push_back(absl::StrCat(f.code, " (", f.message, ")"));
    }
  }
  if (!errors.empty()) {
    return Refused(
        MakeError(absl::StatusCode::kFailedPrecondition, "placement_errors",
                  absl::StrCat("the array with ", request.joiner,
                               " would break placement rules: ", absl::StrJoin(errors, "; "))));
  }
  absl::StatusOr<pki::RotationPlan> plan = pki::PlanJoin(*current, request.joiner);
  if (!plan.ok()) return Refused(plan.status());
  JoinDecision decision;
  decision.result = std::move(planned->array);
  decision.findings = std::move(planned->findings);
  decision.plan = *std::move(plan);
  decision.voter = reply.member.roles.backend;
  decision.planned = is_planned;
  return decision;
}

JoinAdmit MakeJoinAdmit(const failover::MemberMachine& primary, const JoinRequest& request,
                        std::string certificate_pem, std::string ca_certificate_pem) {
  JoinAdmit admit;
  admit.primary = primary.self();
  admit.joiner = request.joiner;
  admit.formation = primary.hard_state().formation;
  admit.epoch = primary.epoch();
  admit.certificate_pem = std::move(certificate_pem);
  admit.ca_certificate_pem = std::move(ca_certificate_pem);
  return admit;
}

absl::Status CheckJoinAdmit(const JoinerView& joiner, const JoinHello& hello,
                            const JoinAdmit& admit) {
  if (!model::SameName(admit.joiner, joiner.self) ||
      !model::SameName(admit.primary, hello.primary)) {
    return Refused(
        NameMismatch(absl::StrCat("the admission is from ", admit.primary, " for ", admit.joiner,
                                  "; expected ", hello.primary, " admitting ", joiner.self)));
  }
  std::string problem;
  if (!admit.formation.Contains(joiner.self)) {
    problem = absl::StrCat("the formation does not list ", joiner.self);
  } else if (admit.formation.primary != admit.primary) {
    problem =
        absl::StrCat("the formation is led by ", admit.formation.primary, ", not ", admit.primary);
  } else if (admit.certificate_pem.empty() || admit.ca_certificate_pem.empty()) {
    problem = "the certificate or the CA certificate is missing";
  } else if (admit.epoch < joiner.epoch) {
    problem = absl::StrCat("the array's epoch ", admit.epoch, " is below ", joiner.self,
                           "'s epoch ", joiner.epoch);
  }
  if (!problem.empty()) return Refused(absl::InvalidArgumentError(problem));
  return absl::OkStatus();
}

}  // namespace arraykit::ops
