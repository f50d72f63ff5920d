// Shared pieces of arrayctl: exit codes, argument handling, file reading and table output.
#ifndef ARRAYKIT_EXAMPLES_ARRAYCTL_CLI_H_
#define ARRAYKIT_EXAMPLES_ARRAYCTL_CLI_H_

#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace arrayctl {

// Exit codes (documented in docs/arrayctl.md).
inline constexpr int kExitOk = 0;        // success; for checks: no errors found
inline constexpr int kExitFindings = 1;  // the input was understood and breaks rules / is rejected
inline constexpr int kExitBadInput = 2;  // bad command line, unreadable file, malformed document
inline constexpr int kExitFailed = 3;    // the operation failed for another reason
// Commands against a live member (--node): 1 when the member refused or the operation failed,
// 3 when the member cannot be reached (docs/arrayctl.md "Commands against a live member").
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUnreachable = 3;

// arrayctl's own reasons, for errors that never reach the library (docs/arrayctl.md).
inline constexpr const char* kReasonUsage = "usage";                       // bad command line
inline constexpr const char* kReasonUnreadableInput = "unreadable_file";  // a file not read

// Thrown for bad command lines and unreadable inputs; main() prints it and exits 2. `reason` is
// the stable word a `--json` error carries.
class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& message, std::string reason = kReasonUsage)
      : std::runtime_error(message), reason_(std::move(reason)) {}
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string reason_;
};

// A failure of a command against a live member, with the exit code it decided (main() prints it
// as any library error).
class MemberError : public std::runtime_error {
 public:
  MemberError(int exit_code, int code, std::string reason, const std::string& message)
      : std::runtime_error(message),
        exit_code_(exit_code),
        code_(code),
        reason_(std::move(reason)) {}
  int exit_code() const noexcept { return exit_code_; }
  int code() const noexcept { return code_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  int exit_code_;
  int code_;
  std::string reason_;
};

// The arguments of one command after its verb, split into flags and positionals.
class Args {
 public:
  // `flags_with_value` take the next argument as their value; other `--x` are booleans.
  Args(std::vector<std::string> argv, std::vector<std::string> boolean_flags,
       std::vector<std::string> flags_with_value);
  bool Has(const std::string& flag) const;
  std::optional<std::string> Value(const std::string& flag) const;
  const std::vector<std::string>& Positionals() const { return positionals_; }
  // The single positional argument named `what`; UsageError if missing or more than one.
  std::string OnePositional(const std::string& what) const;
  // Exactly `count` positionals, described by `what` in the error; UsageError otherwise.
  std::vector<std::string> ExactPositionals(std::size_t count, const std::string& what) const;

 private:
  std::vector<std::string> booleans_;
  std::vector<std::pair<std::string, std::string>> values_;
  std::vector<std::string> positionals_;
};

// Reads a whole file ("-" = standard input); UsageError naming the path when unreadable.
std::string ReadInput(const std::string& path);

// A plain-text table with a header row, columns padded to their widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void Add(std::vector<std::string> row);
  void Print(std::ostream& out) const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

std::string Join(const nlohmann::json& strings, const std::string& separator);
std::string FormatSeconds(double seconds);

}  // namespace arrayctl

#endif  // ARRAYKIT_EXAMPLES_ARRAYCTL_CLI_H_
