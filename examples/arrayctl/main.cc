// arrayctl — the operator CLI of arraykit. See docs/arrayctl.md.
#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "arrayctl/cli.h"
#include "arrayctl/commands.h"
#include "arraykit/arraykit.hpp"
#include "nlohmann/json.hpp"

namespace {

using Words = std::vector<std::string>;

std::vector<arrayctl::Command> AllCommands() {
  std::vector<arrayctl::Command> commands;
  arrayctl::RegisterPlacementCommands(commands);
  arrayctl::RegisterSecurityCommands(commands);
  arrayctl::RegisterSimulateCommands(commands);
  arrayctl::RegisterNodeCommands(commands);
  return commands;
}

std::string Join(const Words& words) {
  std::string joined;
  for (const std::string& w : words) joined += (joined.empty() ? "" : " ") + w;
  return joined;
}

bool IsHelpFlag(const std::string& arg) { return arg == "--help" || arg == "-h"; }

bool StartsWith(const Words& words, const Words& prefix) {
  return prefix.size() <= words.size() && std::equal(prefix.begin(), prefix.end(), words.begin());
}

constexpr const char* kExitCodesLine =
    "exit codes: 0 ok / no errors, 1 errors found or rejected, 2 bad input, 3 operation failed\n";

// The verbs under `group` ({} = every command), one per line with its usage and summary.
void PrintVerbs(std::ostream& out, const std::vector<arrayctl::Command>& commands,
                const Words& group) {
  for (const auto& c : commands) {
    if (!StartsWith(c.words, group)) continue;
    const Words verb(c.words.begin() + static_cast<std::ptrdiff_t>(group.size()), c.words.end());
    out << "  " << Join(verb) << " " << c.usage << "\n      " << c.summary << "\n";
  }
}

void PrintGroupHelp(std::ostream& out, const std::vector<arrayctl::Command>& commands,
                    const Words& group) {
  const std::string prefix = group.empty() ? "arrayctl" : "arrayctl " + Join(group);
  out << "usage: " << prefix << (group.empty() ? " COMMAND" : " VERB") << " [ARGS] [--json]\n\n"
      << (group.empty() ? "commands:\n" : "verbs:\n");
  PrintVerbs(out, commands, group);
  out << "\n'" << prefix << (group.empty() ? " COMMAND" : " VERB")
      << " --help' describes one; -h is the same.\n"
      << kExitCodesLine;
}

void PrintCommandHelp(std::ostream& out, const arrayctl::Command& command) {
  out << "usage: arrayctl " << Join(command.words) << " " << command.usage << "\n\n"
      << command.summary << "\n";
  if (!command.details.empty()) out << "\n" << command.details;
  out << "\n" << kExitCodesLine;
}

// The command whose words are the longest prefix of `args`.
const arrayctl::Command* Match(const std::vector<arrayctl::Command>& commands, const Words& args) {
  const arrayctl::Command* best = nullptr;
  for (const auto& c : commands) {
    if (StartsWith(args, c.words) && (best == nullptr || c.words.size() > best->words.size())) {
      best = &c;
    }
  }
  return best;
}

// The longest prefix of `args` that some command's words start with: the group named so far.
Words GroupPrefix(const std::vector<arrayctl::Command>& commands, const Words& args) {
  Words group;
  for (const std::string& arg : args) {
    Words longer = group;
    longer.push_back(arg);
    const bool known = std::any_of(commands.begin(), commands.end(), [&](const auto& c) {
      return c.words.size() > longer.size() && StartsWith(c.words, longer);
    });
    if (!known) break;
    group = std::move(longer);
  }
  return group;
}

// An error as `--json` prints it: one object {"error": {"code", "status", "reason", "message"}}
// on standard error, so standard output only ever carries result documents. code and status are
// null for arrayctl's own errors (usage, unreadable input).
void PrintJsonError(std::optional<ak_status> code, const std::string& reason,
                    const std::string& message) {
  nlohmann::ordered_json error{
      {"code", nullptr}, {"status", nullptr}, {"reason", reason}, {"message", message}};
  if (code.has_value()) {
    error["code"] = *code;
#define ARRAYCTL_STATUS_WORD_(name, value, word, text) \
  if (*code == (name)) error["status"] = word;
    AK_STATUS_CODES(ARRAYCTL_STATUS_WORD_)
#undef ARRAYCTL_STATUS_WORD_
  }
  std::cerr << nlohmann::ordered_json{{"error", error}}.dump(
                   2, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
            << "\n";
}

// An unknown command or verb: exit 2 with the verbs that exist where it was given.
int UnknownVerb(const std::vector<arrayctl::Command>& commands, const Words& group,
                const std::string& verb, bool json) {
  const std::string where = group.empty() ? "arrayctl" : "arrayctl " + Join(group);
  const std::string message =
      "unknown " + std::string(group.empty() ? "command" : "verb") + " '" + verb + "' for " + where;
  if (json) {
    PrintJsonError(std::nullopt, arrayctl::kReasonUsage, message);
  } else {
    std::cerr << "arrayctl: error: " << message << "\n"
              << (group.empty() ? "commands:\n" : "verbs:\n");
    PrintVerbs(std::cerr, commands, group);
  }
  return arrayctl::kExitBadInput;
}

int Run(const arrayctl::Command& command, const Words& rest) {
  const std::string name = "arrayctl " + Join(command.words);
  const bool json = std::find(rest.begin(), rest.end(), "--json") != rest.end();
  try {
    return command.run(rest);
  } catch (const arrayctl::UsageError& e) {
    if (json) {
      PrintJsonError(std::nullopt, e.reason(), e.what());
    } else {
      std::cerr << name << ": error: " << e.what() << "\n"
                << "usage: " << name << " " << command.usage << "\n";
    }
    return arrayctl::kExitBadInput;
  } catch (const arrayctl::MemberError& e) {
    if (json) {
      PrintJsonError(e.code(), e.reason(), e.what());
    } else {
      std::cerr << name << ": error: " << e.reason() << ": " << e.what() << "\n";
    }
    return e.exit_code();
  } catch (const arraykit::Error& e) {
    // The reason comes from the library as a word of its own; the message is never parsed.
    const std::string reason = e.reason().empty() ? "unknown" : e.reason();
    if (json) {
      PrintJsonError(e.code(), reason, e.what());
    } else {
      std::cerr << name << ": error: " << reason << ": " << e.what() << "\n";
    }
    const bool bad_input = e.code() == AK_INVALID_ARGUMENT || e.code() == AK_NOT_FOUND ||
                           e.code() == AK_ALREADY_EXISTS || e.code() == AK_OUT_OF_RANGE;
    return bad_input ? arrayctl::kExitBadInput : arrayctl::kExitFailed;
  } catch (const std::exception& e) {
    if (json) {
      PrintJsonError(std::nullopt, "internal", e.what());
    } else {
      std::cerr << name << ": error: " << e.what() << "\n";
    }
    return arrayctl::kExitFailed;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Words args(argv + 1, argv + argc);
  // `--node NODE` (or --node=NODE) anywhere: the member the live commands talk to.
  for (std::size_t i = 0; i < args.size();) {
    if (args[i] == "--node" && i + 1 < args.size()) {
      arrayctl::SetNodeArgument(args[i + 1]);
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i),
                 args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
    } else if (args[i].rfind("--node=", 0) == 0) {
      arrayctl::SetNodeArgument(args[i].substr(7));
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  const std::vector<arrayctl::Command> commands = AllCommands();
  // `arrayctl help WORDS...` is `arrayctl WORDS... --help`.
  if (!args.empty() && args[0] == "help") {
    args.erase(args.begin());
    args.push_back("--help");
  }
  if (args.empty()) {
    PrintGroupHelp(std::cerr, commands, {});
    return arrayctl::kExitBadInput;
  }
  if (args[0] == "--version") {
    std::cout << "arrayctl " << arraykit::version() << "\n";
    return arrayctl::kExitOk;
  }

  // Help needs no library, so it works even when the ABI check below fails.
  const bool json = std::find(args.begin(), args.end(), "--json") != args.end();
  if (const arrayctl::Command* command = Match(commands, args)) {
    const Words rest(args.begin() + static_cast<std::ptrdiff_t>(command->words.size()), args.end());
    if (std::any_of(rest.begin(), rest.end(), IsHelpFlag)) {
      PrintCommandHelp(std::cout, *command);
      return arrayctl::kExitOk;
    }
    if (!arraykit::abi_compatible()) {
      std::cerr << "arrayctl: error: libarraykit ABI " << ak_abi_version()
                << " does not match the ABI " << AK_ABI_VERSION << " arrayctl was built for\n";
      return arrayctl::kExitFailed;
    }
    return Run(*command, rest);
  }

  const Words group = GroupPrefix(commands, args);
  if (group.size() == args.size()) {
    // A bare group: its verbs, on standard error with exit 2, because nothing was done.
    std::cerr << (group.empty() ? "arrayctl: a command is needed\n\n"
                                : "arrayctl " + Join(group) + ": a verb is needed\n\n");
    PrintGroupHelp(std::cerr, commands, group);
    return arrayctl::kExitBadInput;
  }
  if (IsHelpFlag(args[group.size()])) {
    PrintGroupHelp(std::cout, commands, group);
    return arrayctl::kExitOk;
  }
  return UnknownVerb(commands, group, args[group.size()], json);
}
