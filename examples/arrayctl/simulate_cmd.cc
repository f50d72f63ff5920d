// arrayctl simulate: a deterministic what-if run of the failover state machine.
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "arrayctl/cli.h"
#include "arrayctl/commands.h"
#include "arraykit/arraykit.hpp"

namespace arrayctl {
namespace {

using nlohmann::json;

// The outcome in one line, so an operator sees at once whether the array came back by itself.
std::string Summary(const json& result) {
  if (result.value("manual_recovery_required", false)) {
    return "manual recovery required: the array cannot be recreated automatically "
           "(see docs/failover.md, operator actions: clean)";
  }
  const json arrays = result.value("arrays", json::array());
  const json standalone = result.value("standalone", json::array());
  const json down = result.value("down", json::array());
  // Appended piece by piece: gcc 12 -O3 warns falsely (-Wrestrict) on "lit" + std::string.
  std::string line = std::to_string(arrays.size());
  line += arrays.size() == 1 ? " array, " : " arrays, ";
  line += std::to_string(standalone.size());
  line += " standalone";
  if (!down.empty()) {
    line += ", ";
    line += std::to_string(down.size());
    line += " down";
  }
  const json original = result.value("original_formation", json());
  if (original.is_object()) {
    // The library decides (original primary up and leading every original member, not
    // repaired); the summary only words it.
    if (result.value("original_formation_restored", false)) {
      line += "; the original formation is restored";
    } else {
      line += "; the original formation is not restored";
      const std::string primary = original.value("primary", std::string());
      bool primary_down = false;
      for (const json& name : down) primary_down = primary_down || name == primary;
      if (primary_down) {
        line += " (its primary ";
        line += primary;
        line += " is down)";
      } else {
        bool repaired = false;
        for (const json& a : arrays) repaired = repaired || a.value("repaired", false);
        if (repaired) line += " (repaired)";
      }
    }
  } else {
    line += "; no failover happened";
  }
  return line;
}

// Exit 0 for every completed run, also one that ends with manual_recovery_required: the
// command reports what would happen, it does not judge it (docs/arrayctl.md).
int Simulate(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {"--max-steps"});
  std::string path = args.OnePositional("SCENARIO.json");
  unsigned long long max_steps = 0;
  if (std::optional<std::string> value = args.Value("--max-steps"); value.has_value()) {
    if (value->empty() || value->find_first_not_of("0123456789") != std::string::npos ||
        value->size() > 9) {
      throw UsageError("--max-steps: a whole number of steps up to 20000000, got \"" + *value +
                       "\"");
    }
    max_steps = std::stoull(*value);
  }
  std::string text = ReadInput(path);
  if (args.Has("--json")) {
    std::cout << arraykit::simulate(text, 2, max_steps) << "\n";
    return kExitOk;
  }
  std::string result_text = arraykit::simulate(text, -1, max_steps);
  std::string rendered = arraykit::render_simulation(result_text);
  std::cout << "Simulation of " << (path == "-" ? std::string("standard input") : path) << "\n";
  // The scenario parsed in the library, so it is valid JSON here; its description is optional.
  json scenario = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (scenario.is_object() && scenario.contains("description") &&
      scenario["description"].is_string()) {
    std::cout << scenario["description"].get<std::string>() << "\n";
  }
  std::cout << "\n" << rendered;
  json result = json::parse(result_text);
  std::cout << "\nResult after " << FormatSeconds(result.value("until_s", 0.0)) << ": "
            << Summary(result) << "\n";
  return kExitOk;
}

}  // namespace

void RegisterSimulateCommands(std::vector<Command>& commands) {
  commands.push_back({{"simulate"},
                      "SCENARIO.json [--json] [--max-steps N]",
                      "deterministic what-if run of the failover state machine: timeline and "
                      "final formation",
                      Simulate});
}

}  // namespace arrayctl
