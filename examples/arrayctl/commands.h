// The command table of arrayctl. Each area registers its verbs in its own *_cmd.cc.
#ifndef ARRAYKIT_EXAMPLES_ARRAYCTL_COMMANDS_H_
#define ARRAYKIT_EXAMPLES_ARRAYCTL_COMMANDS_H_

#include <string>
#include <vector>

namespace arrayctl {

// `arrayctl WORDS... --help` prints usage, summary and details; a group (the words shared by
// several commands, e.g. "security ca") lists its verbs. main.cc does this for every command.
struct Command {
  std::vector<std::string> words;  // e.g. {"placement", "check"}
  std::string usage;               // arguments after the words, for help
  std::string summary;             // one line for help
  int (*run)(const std::vector<std::string>& args);  // returns the exit code
  std::string details = "";  // more lines for `--help`: options, output, exit codes
};

void RegisterPlacementCommands(std::vector<Command>& commands);
void RegisterSecurityCommands(std::vector<Command>& commands);
void RegisterSimulateCommands(std::vector<Command>& commands);
// Commands against a live member (array, security join-token, status, config, repo).
void RegisterNodeCommands(std::vector<Command>& commands);

// The member `--node NODE` named (main() takes it off the command line wherever it is), if any.
void SetNodeArgument(std::string node);

}  // namespace arrayctl

#endif  // ARRAYKIT_EXAMPLES_ARRAYCTL_COMMANDS_H_
