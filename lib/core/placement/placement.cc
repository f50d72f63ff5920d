#include "core/placement/placement.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/model/array_json.h"
#include "core/model/json_reader.h"

namespace arraykit::placement {
namespace {

using model::Array;
using model::Member;
using model::ResilienceMode;
using model::json_internal::AbslView;
using model::json_internal::FormatSeconds;
using model::json_internal::Quoted;
using nlohmann::json;


std::string JoinNames(const std::vector<std::string>& names) { return absl::StrJoin(names, ", "); }

// `members` is copied, never moved from: callers build the message from the same names in the
// same call, and argument evaluation order is unspecified.
Finding MakeFinding(std::string_view code, Severity severity, std::string message,
                    const std::vector<std::string>& members = {}) {
  return Finding{std::string(code), severity, std::move(message), members, std::nullopt};
}

std::vector<std::string> BackendNames(const Array& array) {
  std::vector<std::string> names;
  for (const Member& member : array.members) {
    if (member.roles.backend) names.push_back(member.name);
  }
  return names;
}

void CheckMemberCount(const Array& array, std::vector<Finding>& out) {
  if (array.members.size() <= model::kPlacementMemberLimit) return;
  // Name the members beyond the limit: they are the ones to move to a second array.
  std::vector<std::string> extra;
  for (std::size_t i = model::kPlacementMemberLimit; i < array.members.size(); ++i) {
    extra.push_back(array.members[i].name);
  }
  out.push_back(
      MakeFinding(kTooManyMembers, Severity::kError,
                  absl::StrCat("the array has ", array.members.size(), " members; at most ",
                               model::kPlacementMemberLimit,
                               " are supported in one array. Set up a second array for the other ",
                               extra.size(), " member(s) (", JoinNames(extra),
                               ") and connect it to the same back-end systems"),
                  extra));
}

void CheckFrontend(const Array& array, std::vector<Finding>& out) {
  if (array.FrontendCount() > 0) return;
  out.push_back(MakeFinding(kNoFrontend, Severity::kError,
                            "no member has the front-end role; at least one member must have "
                            "it to serve user traffic: add \"frontend\" to a member's roles"));
}

void CheckBackendCount(const Array& array, std::vector<Finding>& out) {
  if (array.members.size() <= 1) return;  // a standalone member is exempt
  const std::size_t backends = array.BackendCount();
  if (backends == 1 || backends == 3) return;
  std::vector<std::string> names = BackendNames(array);
  std::string advice;
  if (backends == 0) {
    advice = "give one member (or three) the back-end role";
  } else if (backends == 2) {
    advice = "add the back-end role to a third member on another rack, or remove it from one";
  } else {
    advice = absl::StrCat("remove the back-end role from ", backends - 3, " of them");
  }
  out.push_back(MakeFinding(
      kBackendCount, Severity::kError,
      absl::StrCat("a multi-member array needs exactly 1 or 3 back-ends; it has ", backends,
                   names.empty() ? "" : absl::StrCat(" (", JoinNames(names), ")"), ": ", advice),
      names));
}

void CheckDuplicateNames(const Array& array, std::vector<Finding>& out) {
  // Groups in order of first appearance, so the findings are stable.
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  std::map<std::string, std::size_t> group_of;
  for (const Member& member : array.members) {
    std::string key = model::NormalizeName(member.name);
    auto [it, inserted] = group_of.emplace(key, groups.size());
    if (inserted) groups.emplace_back(std::move(key), std::vector<std::string>{});
    groups[it->second].second.push_back(member.name);
  }
  for (auto& [key, names] : groups) {
    if (names.size() < 2) continue;
    out.push_back(MakeFinding(
        kDuplicateName, Severity::kError,
        absl::StrCat(names.size(), " members share the peer DNS name ", Quoted(key),
                     " (names compare case-insensitively, trailing dot ignored); every member "
                     "needs its own name"),
        names));
  }
}

void CheckNames(const Array& array, std::vector<Finding>& out) {
  for (const Member& member : array.members) {
    std::string why;
    if (IsFullyQualifiedName(member.name, &why)) continue;
    out.push_back(MakeFinding(
        kNameNotFqdn, Severity::kError,
        absl::StrCat("member ", Quoted(member.name), " is not a fully qualified DNS name (", why,
                     "); members reach and authenticate each other by FQDN, e.g. "
                     "\"boston.example.com\""),
        {member.name}));
  }
}

void CheckStaticAddresses(const Array& array, std::vector<Finding>& out) {
  for (const Member& member : array.members) {
    if (member.address_static) continue;
    out.push_back(MakeFinding(
        kAddressNotStatic, Severity::kError,
        absl::StrCat("member ", Quoted(member.name), " has a dynamic address",
                     member.address.empty() ? "" : absl::StrCat(" (", member.address, ")"),
                     "; members of an array must use static IP addresses: configure one on "
                     "the appliance console"),
        {member.name}));
  }
}

void CheckVersions(const Array& array, std::vector<Finding>& out) {
  std::map<std::string, std::vector<std::string>> by_version;
  std::vector<std::string> versioned;
  for (const Member& member : array.members) {
    if (member.version.empty()) continue;  // unknown versions cannot be compared
    by_version[member.version].push_back(member.name);
    versioned.push_back(member.name);
  }
  if (by_version.size() < 2) return;
  std::vector<std::string> parts;
  for (const auto& [version, names] : by_version) {
    parts.push_back(absl::StrCat(version, " (", JoinNames(names), ")"));
  }
  out.push_back(MakeFinding(
      kVersionMismatch, Severity::kError,
      absl::StrCat("members run different versions: ", absl::StrJoin(parts, "; "),
                   "; upgrade every member to the same version before forming the array"),
      versioned));
}

void CheckPrimary(const Array& array, std::vector<Finding>& out) {
  if (array.Find(array.primary) != nullptr) return;
  out.push_back(
      MakeFinding(kPrimaryNotMember, Severity::kError,
                  array.primary.empty()
                      ? std::string("the array names no primary; make one member the primary")
                      : absl::StrCat("the primary ", Quoted(array.primary),
                                     " is not a member of the array; make a member the primary"),
                  array.primary.empty() ? std::vector<std::string>{}
                                        : std::vector<std::string>{array.primary}));
}

void CheckBackupList(const Array& array, std::vector<Finding>& out) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < array.backup_primaries.size(); ++i) {
    const std::string& name = array.backup_primaries[i];
    std::string problem;
    if (array.Find(name) == nullptr) {
      problem = "is not a member of the array: remove it from the list";
    } else if (model::SameName(name, array.primary)) {
      problem = "is the primary; the list holds secondaries that may replace it: remove it";
    } else if (!seen.insert(model::NormalizeName(name)).second) {
      problem = "is listed more than once: keep one entry";
    }
    if (problem.empty()) continue;
    out.push_back(MakeFinding(
        kBadBackupList, Severity::kError,
        absl::StrCat("backup primaries entry ", i + 1, " ", Quoted(name), " ", problem), {name}));
  }
}

// `backends_share_rack` / `backends_share_power`: one finding per shared failure domain.
void CheckFailureDomain(const Array& array, std::string_view code, std::string_view domain,
                        std::string Member::*field, std::vector<Finding>& out) {
  const bool quorum = array.resilience.mode == ResilienceMode::kQuorum;
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;  // first-seen order
  for (const Member& member : array.members) {
    const std::string& value = member.*field;
    if (!member.roles.backend || value.empty()) continue;  // unknown domains cannot be compared
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&value](const auto& group) { return group.first == value; });
    if (it == groups.end()) {
      groups.emplace_back(value, std::vector<std::string>{member.name});
    } else {
      it->second.push_back(member.name);
    }
  }
  for (auto& [value, names] : groups) {
    if (names.size() < 2) continue;
    std::string why =
        quorum
            ? absl::StrCat("in quorum mode the back-ends are the voters: losing ", AbslView(domain),
                           " ", value, " loses ", names.size(), " votes at once")
            : absl::StrCat("losing ", AbslView(domain), " ", value, " loses ", names.size(),
                           " back-ends at once and risks a split brain");
    out.push_back(
        MakeFinding(code, quorum ? Severity::kError : Severity::kWarning,
                    absl::StrCat("back-ends ", JoinNames(names), " share ", AbslView(domain), " ",
                                 Quoted(value), "; ", why,
                                 ". Place the three back-ends on three racks with distinct power "
                                 "sources"),
                    names));
  }
}

void CheckHighAvailability(const Array& array, std::vector<Finding>& out) {
  const std::size_t size = array.members.size();
  std::vector<std::string> all;
  for (const Member& member : array.members) all.push_back(member.name);
  if (size == 1) {
    out.push_back(MakeFinding(kNoHighAvailability, Severity::kWarning,
                              "a standalone member has no high availability: if it goes down "
                              "the service stops. High availability needs three members, each "
                              "with the front-end and back-end roles",
                              all));
  } else if (size == 2) {
    out.push_back(MakeFinding(kNoHighAvailability, Severity::kWarning,
                              "a two-member array has no high availability: if one member goes "
                              "down the back-end service is lost for the other too. Add a third "
                              "member and give all three the front-end and back-end roles",
                              all));
  } else if (array.BackendCount() == 1) {
    std::vector<std::string> backends = BackendNames(array);
    out.push_back(MakeFinding(
        kNoHighAvailability, Severity::kWarning,
        absl::StrCat("only one back-end (", JoinNames(backends),
                     "): if it goes down the back-end service stops. Give three members on "
                     "distinct racks the back-end role"),
        backends));
  }
}

void CheckPrimaryIsBackend(const Array& array, std::vector<Finding>& out) {
  if (array.resilience.mode != ResilienceMode::kQuorum) return;
  const Member* primary = array.Find(array.primary);
  if (primary == nullptr || primary->roles.backend) return;
  out.push_back(MakeFinding(
      kPrimaryNotBackend, Severity::kWarning,
      absl::StrCat("the primary ", Quoted(primary->name),
                   " is not a back-end: in quorum mode the back-ends vote, and a primary that is "
                   "not a voter needs a majority of the others for every lease. Give it the "
                   "back-end role or make a back-end the primary"),
      {primary->name}));
}

Finding FailoverTimeFinding(const Array& array) {
  const model::Resilience& r = array.resilience;
  const absl::Duration worst = WorstCaseFailoverTime(array);
  const std::size_t unreachable =
      array.backup_primaries.empty() ? 0 : array.backup_primaries.size() - 1;
  std::string breakdown = absl::StrCat(
      "grace period ", FormatSeconds(r.GracePeriod()), " (", FormatSeconds(r.monitor_interval),
      " x ", r.monitor_attempts, " monitor attempts) + ", unreachable,
      " unreachable backup candidate(s) x find-new-primary timeout ",
      FormatSeconds(r.FindNewPrimaryTimeout()), " (", FormatSeconds(r.find_primary_interval), " x ",
      r.find_primary_attempts, " attempts)");
  std::string message =
      r.failover_enabled
          ? absl::StrCat("worst-case failover time ", FormatSeconds(worst), ": ", breakdown)
          : absl::StrCat(
                "failover is disabled (resilience.failover_enabled is false): losing "
                "the primary needs an operator. Once enabled, the worst-case failover "
                "time is ",
                FormatSeconds(worst), ": ", breakdown);
  if (array.backup_primaries.empty()) {
    absl::StrAppend(&message,
                    "; the backup primaries list is empty, so members that lose the "
                    "primary become standalone");
  }
  Finding finding = MakeFinding(kFailoverTime, Severity::kInfo, std::move(message));
  finding.seconds = absl::ToDoubleSeconds(worst);
  return finding;
}

}  // namespace

std::string_view ToString(Severity severity) {
  switch (severity) {
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kInfo:
      return "info";
  }
  return "error";
}

bool IsFullyQualifiedName(std::string_view name, std::string* why) {
  std::string problem = model::PeerNameProblem(name);
  if (problem.empty()) return true;
  if (why != nullptr) *why = std::move(problem);
  return false;
}

absl::Duration WorstCaseFailoverTime(const Array& array) {
  const std::size_t list = array.backup_primaries.size();
  const int64_t unreachable = list == 0 ? 0 : static_cast<int64_t>(list - 1);
  return array.resilience.GracePeriod() + unreachable * array.resilience.FindNewPrimaryTimeout();
}

std::vector<Finding> Check(const Array& array) {
  std::vector<Finding> findings;
  CheckMemberCount(array, findings);
  CheckFrontend(array, findings);
  CheckBackendCount(array, findings);
  CheckDuplicateNames(array, findings);
  CheckNames(array, findings);
  CheckStaticAddresses(array, findings);
  CheckVersions(array, findings);
  CheckPrimary(array, findings);
  CheckBackupList(array, findings);
  CheckFailureDomain(array, kBackendsShareRack, "rack", &Member::rack, findings);
  CheckFailureDomain(array, kBackendsSharePower, "power source", &Member::power, findings);
  CheckHighAvailability(array, findings);
  CheckPrimaryIsBackend(array, findings);
  findings.push_back(FailoverTimeFinding(array));
  return findings;
}

bool HasErrors(const std::vector<Finding>& findings) {
  return CountSeverity(findings, Severity::kError) > 0;
}

std::size_t CountSeverity(const std::vector<Finding>& findings, Severity severity) {
  return static_cast<std::size_t>(
      std::count_if(findings.begin(), findings.end(),
                    [severity](const Finding& finding) { return finding.severity == severity; }));
}

}  // namespace arraykit::placement
