// The JSON of placement results (docs/placement.md): findings, the check report, change results
// and plans. The C ABI and arrayctl print exactly these documents.
#include <string>
#include <vector>

#include "core/model/array_json.h"
#include "core/placement/placement.h"

namespace arraykit::placement {

using nlohmann::json;

json ToJson(const Finding& finding) {
  json out{{"code", finding.code},
           {"severity", std::string(ToString(finding.severity))},
           {"message", finding.message},
           {"members", finding.members}};
  if (finding.seconds.has_value()) out["seconds"] = *finding.seconds;
  return out;
}

json ToJson(const std::vector<Finding>& findings) {
  json out = json::array();
  for (const Finding& finding : findings) out.push_back(ToJson(finding));
  return out;
}

CheckReport MakeCheckReport(const model::Array& array) {
  CheckReport report;
  report.findings = Check(array);
  if (array.resilience.failover_enabled) {
    report.worst_case_failover = WorstCaseFailoverTime(array);
  }
  return report;
}

json ToJson(const CheckReport& report) {
  json out{{"findings", ToJson(report.findings)},
           {"errors", CountSeverity(report.findings, Severity::kError)},
           {"warnings", CountSeverity(report.findings, Severity::kWarning)}};
  if (report.worst_case_failover.has_value()) {
    out["worst_case_failover_s"] = absl::ToDoubleSeconds(*report.worst_case_failover);
  } else {
    out["worst_case_failover_s"] = nullptr;
  }
  return out;
}

json ToJson(const ChangeResult& result) {
  return json{{"array", model::ToJson(result.array)},
              {"findings", ToJson(result.findings)},
              {"disruption", result.disruption},
              {"disruption_reasons", result.disruption_reasons},
              {"errors", CountSeverity(result.findings, Severity::kError)},
              {"warnings", CountSeverity(result.findings, Severity::kWarning)}};
}

json ToJson(const Plan& plan) {
  return json{{"array", model::ToJson(plan.array)},
              {"findings", ToJson(plan.findings)},
              {"rationale", plan.rationale},
              {"errors", CountSeverity(plan.findings, Severity::kError)},
              {"warnings", CountSeverity(plan.findings, Severity::kWarning)}};
}

}  // namespace arraykit::placement
