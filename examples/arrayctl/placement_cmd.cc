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
  json report = json::parse(arraykit::placement::check(text));
  const json& findings = report.at("findings");
  int errors = report.at("errors").get<int>();
  if (args.Has("--json")) {
    std::cout << findings.dump(2) << "\n";
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
  json plan = json::parse(arraykit::placement::plan(text));
  const json& findings = plan.at("findings");
  int errors = CountSeverity(findings, "error");
  if (args.Has("--json")) {
    std::cout << plan.dump(2) << "\n";
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
  json result = json::parse(arraykit::placement::plan_change(array_text, change_text));
  int errors = result.at("errors").get<int>();
  if (args.Has("--json")) {
    std::cout << result.dump(2) << "\n";
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
  commands.push_back({{"placement", "check"}, "ARRAY.json [--json]",
                      "check an array description against the placement rules", Check});
  commands.push_back({{"placement", "plan"}, "INVENTORY.json [--json]",
                      "plan roles and the backup primaries order for an inventory", Plan});
  commands.push_back({{"placement", "plan-change"}, "ARRAY.json CHANGE.json [--json]",
                      "show the array a change would give, its findings and any disruption",
                      PlanChange});
}

}  // namespace arrayctl
