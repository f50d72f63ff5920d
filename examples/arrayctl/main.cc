// arrayctl — the operator CLI of arraykit. See docs/arrayctl.md.
#include <iostream>
#include <string>
#include <vector>

#include "arraykit/arraykit.hpp"
#include "arrayctl/cli.h"
#include "arrayctl/commands.h"

namespace {

std::vector<arrayctl::Command> AllCommands() {
  std::vector<arrayctl::Command> commands;
  arrayctl::RegisterPlacementCommands(commands);
  arrayctl::RegisterSecurityCommands(commands);
  arrayctl::RegisterSimulateCommands(commands);
  return commands;
}

std::string Words(const arrayctl::Command& c) {
  std::string joined;
  for (const std::string& w : c.words) joined += (joined.empty() ? "" : " ") + w;
  return joined;
}

void PrintHelp(std::ostream& out, const std::vector<arrayctl::Command>& commands) {
  out << "usage: arrayctl COMMAND [ARGS] [--json]\n\ncommands:\n";
  for (const auto& c : commands) {
    out << "  " << Words(c) << " " << c.usage << "\n      " << c.summary << "\n";
  }
  out << "\nexit codes: 0 ok / no errors, 1 errors found or rejected, 2 bad input,"
         " 3 operation failed\n";
}

// The command whose words are the longest prefix of `argv`.
const arrayctl::Command* Match(const std::vector<arrayctl::Command>& commands,
                               const std::vector<std::string>& argv) {
  const arrayctl::Command* best = nullptr;
  for (const auto& c : commands) {
    if (c.words.size() > argv.size()) continue;
    bool matches = true;
    for (std::size_t i = 0; i < c.words.size(); ++i) matches = matches && argv[i] == c.words[i];
    if (matches && (best == nullptr || c.words.size() > best->words.size())) best = &c;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<arrayctl::Command> commands = AllCommands();
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintHelp(args.empty() ? std::cerr : std::cout, commands);
    return args.empty() ? arrayctl::kExitBadInput : arrayctl::kExitOk;
  }
  if (args[0] == "--version") {
    std::cout << "arrayctl " << arraykit::version() << "\n";
    return arrayctl::kExitOk;
  }
  if (!arraykit::abi_compatible()) {
    std::cerr << "arrayctl: error: libarraykit ABI " << ak_abi_version()
              << " does not match the ABI " << AK_ABI_VERSION << " arrayctl was built for\n";
    return 3;
  }
  const arrayctl::Command* command = Match(commands, args);
  if (command == nullptr) {
    std::cerr << "arrayctl: error: unknown command '" << args[0]
              << (args.size() > 1 ? " " + args[1] : "") << "' (see arrayctl --help)\n";
    return arrayctl::kExitBadInput;
  }
  std::vector<std::string> rest(args.begin() + command->words.size(), args.end());
  try {
    return command->run(rest);
  } catch (const arrayctl::UsageError& e) {
    std::cerr << "arrayctl " << Words(*command) << ": error: " << e.what() << "\n"
              << "usage: arrayctl " << Words(*command) << " " << command->usage << "\n";
    return arrayctl::kExitBadInput;
  } catch (const arraykit::Error& e) {
    std::cerr << "arrayctl " << Words(*command) << ": error: " << e.code_name() << ": "
              << e.what() << "\n";
    bool bad_input = e.code() == AK_INVALID_ARGUMENT || e.code() == AK_NOT_FOUND ||
                     e.code() == AK_ALREADY_EXISTS || e.code() == AK_OUT_OF_RANGE;
    return bad_input ? arrayctl::kExitBadInput : 3;
  } catch (const std::exception& e) {
    std::cerr << "arrayctl " << Words(*command) << ": error: " << e.what() << "\n";
    return 3;
  }
}
