// arrayctl placement check | plan
#include <iostream>

#include "arraykit/arraykit.hpp"
#include "arrayctl/cli.h"
#include "arrayctl/commands.h"

namespace arrayctl {
namespace {

using nlohmann::json;

std::string CountLine(int errors, int warnings) {
  auto plural = [](int n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
  };
  return plural(errors, "error") + ", " + plural(warnings, "warning");
}

void PrintFindings(const json& findings) {
  Table table({"SEVERITY", "CODE", "MEMBERS", "MESSAGE"});
  for (const json& f : findings) {
    table.Add({f.value("severity", ""), f.value("code", ""), Join(f.value("members", json::array()), ", "),
               f.value("message", "")});
  }
  if (table.empty()) {
    std::cout << "No findings.\n";
  } else {
    table.Print(std::cout);
  }
}

// The members of an array description with their roles and place in the primary order.
void PrintMembers(const json& array) {
  std::string primary = array.value("primary", "");
  json backups = array.value("backup_primaries", json::array());
  Table members({"MEMBER", "ROLES", "RACK", "POWER", "PRIMARY ORDER"});
  for (const json& m : array.at("members")) {
    std::string name = m.value("name", "");
    std::string order = "-";
    if (name == primary) {
      order = "primary";
    } else {
      for (std::size_t i = 0; i < backups.size(); ++i) {
        if (backups[i] == name) order = "backup " + std::to_string(i + 1);
      }
    }
    members.Add({name, Join(m.value("roles", json::array()), "+"), m.value("rack", ""),
                 m.value("power", ""), order});
  }
  members.Print(std::cout);
}

int CountSeverity(const json& findings, const std::string& severity) {
  int n = 0;
  for (const json& f : findings) n += f.value("severity", "") == severity ? 1 : 0;
  return n;
}

int Check(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {});
  std::string path = args.OnePositional("ARRAY.json");
  std::string text = ReadInput(path);
  // --json prints the library's report as it comes: the same document as ak_placement_check.
  const std::string report_text = arraykit::placement::check(text, 2);
  json report = json::parse(report_text);
  const json& findings = report.at("findings");
  int errors = report.at("errors").get<int>();
  if (args.Has("--json")) {
    std::cout << report_text << "\n";
  } else {
    std::cout << "Placement check of " << path << "\n\n";
    PrintFindings(findings);
    std::cout << "\nResult: " << CountLine(errors, report.at("warnings").get<int>()) << "\n";
  }
  return errors > 0 ? kExitFindings : kExitOk;
}

int Plan(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {});
  std::string path = args.OnePositional("INVENTORY.json");
  std::string text = ReadInput(path);
  const std::string plan_text = arraykit::placement::plan(text, 2);
  json plan = json::parse(plan_text);
  const json& findings = plan.at("findings");
  int errors = CountSeverity(findings, "error");
  if (args.Has("--json")) {
    std::cout << plan_text << "\n";
    return errors > 0 ? kExitFindings : kExitOk;
  }
  std::cout << "Placement plan for " << path << "\n\n";
  PrintMembers(plan.at("array"));
  if (plan.contains("rationale") && !plan["rationale"].empty()) {
    std::cout << "\nWhy:\n";
    for (const json& line : plan["rationale"]) std::cout << "  - " << line.get<std::string>() << "\n";
  }
  std::cout << "\nFindings:\n";
  PrintFindings(findings);
  std::cout << "\nResult: " << CountLine(errors, CountSeverity(findings, "warning")) << "\n";
  return errors > 0 ? kExitFindings : kExitOk;
}

int PlanChange(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {});
  std::vector<std::string> paths = args.ExactPositionals(2, "ARRAY.json CHANGE.json");
  std::string array_text = ReadInput(paths[0]);
  std::string change_text = ReadInput(paths[1]);
  const std::string result_text = arraykit::placement::plan_change(array_text, change_text, 2);
  json result = json::parse(result_text);
  int errors = result.at("errors").get<int>();
  if (args.Has("--json")) {
    std::cout << result_text << "\n";
    return errors > 0 ? kExitFindings : kExitOk;
  }
  std::cout << "Change " << paths[1] << " applied to " << paths[0] << " would give\n\n";
  PrintMembers(result.at("array"));
  std::cout << "\nFindings:\n";
  PrintFindings(result.at("findings"));
  if (result.value("disruption", false)) {
    std::cout << "\nService disruption: the change reconfigures the cluster.\n";
    for (const json& why : result.value("disruption_reasons", json::array())) {
      std::cout << "  - " << why.get<std::string>() << "\n";
    }
  } else {
    std::cout << "\nNo service disruption.\n";
  }
  std::cout << "\nResult: " << CountLine(errors, result.at("warnings").get<int>()) << "\n";
  return errors > 0 ? kExitFindings : kExitOk;
}

}  // namespace

void RegisterPlacementCommands(std::vector<Command>& commands) {
  commands.push_back(
      {{"placement", "check"}, "ARRAY.json [--json]",
       "check an array description against the placement rules", Check,
       "ARRAY.json is an array description (docs/placement.md); '-' reads standard input.\n"
       "  --json  print the check report: {\"findings\", \"errors\", \"warnings\",\n"
       "          \"worst_case_failover_s\"}, the document ak_placement_check returns\n"
       "Exit 1 when the array has errors (warnings alone are exit 0).\n"});
  commands.push_back(
      {{"placement", "plan"}, "INVENTORY.json [--json]",
       "plan roles and the backup primaries order for an inventory", Plan,
       "INVENTORY.json lists the appliances (docs/placement.md); '-' reads standard input.\n"
       "  --json  print the plan: {\"array\", \"findings\", \"rationale\", \"errors\", "
       "\"warnings\"}\n"
       "Exit 1 when the planned array still has errors.\n"});
  commands.push_back(
      {{"placement", "plan-change"}, "ARRAY.json CHANGE.json [--json]",
       "show the array a change would give, its findings and any disruption", PlanChange,
       "CHANGE.json holds add, remove, set_roles, primary, backup_primaries, resilience\n"
       "(docs/placement.md); nothing is applied.\n"
       "  --json  print {\"array\", \"findings\", \"disruption\", \"disruption_reasons\", "
       "\"errors\", \"warnings\"}\n"
       "Exit 1 when the result has errors; 2 when the change names unknown members or is\n"
       "malformed (an unknown field is reason unknown_field, with the nearest known name).\n"});
}

}  // namespace arrayctl
