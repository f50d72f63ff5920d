// The store's crash test (DESIGN §7: "a member killed at any instant restarts with a consistent
// store and loses nothing it acknowledged").
//
// Each round starts store_crash_child on one data directory, kills it with SIGKILL after a
// random delay (anywhere from before it opened the store to deep in its commit loop), reads the
// acknowledgements it wrote, then reopens the store and checks:
//   - PRAGMA integrity_check is ok;
//   - the log's last index and the applied index are at least the last acknowledged ones, and
//     never below what an earlier round found (nothing acknowledged is lost);
//   - every log entry after the log base is exactly the entry the child wrote at that index, and
//     the log base's chain is that entry's;
//   - the hard state names the log's last index (both were in the same transaction);
//   - the repository equals the reference built by applying entries 1..applied index.
// The next round's child continues from there. Prints one summary line; exits 1 with the seed
// and the round on the first violation.
//
//   store_crash_test --child PATH [--rounds N] [--seed S] [--max-delay-ms M] [--expect-loss]
//
// --expect-loss checks the checker: the child acknowledges each batch before committing it (the
// bug the test exists to catch), and the run succeeds only if a loss is detected.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "store/store.h"
#include "store_test_util.h"

using arraykit::replication::Repository;
using arraykit::store::Store;
using arraykit::store::testing::CrashEntry;
using arraykit::store::testing::TempDir;

namespace {

struct Options {
  std::string child;
  long rounds = 100;
  std::uint64_t seed = 0;
  long max_delay_ms = 100;
  bool expect_loss = false;
};

struct Acks {
  bool opened = false;
  long count = 0;
  std::uint64_t last = 0;
  std::uint64_t applied = 0;
};

// Runs the child on `dir`, kills it after `delay`, returns what it acknowledged.
bool RunChild(const Options& options, const std::string& dir, std::chrono::microseconds delay,
              Acks& acks, std::string& error) {
  int fds[2];
  if (pipe(fds) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    if (options.expect_loss) {
      execl(options.child.c_str(), options.child.c_str(), dir.c_str(), "--ack-before-commit",
            static_cast<char*>(nullptr));
    } else {
      execl(options.child.c_str(), options.child.c_str(), dir.c_str(), static_cast<char*>(nullptr));
    }
    _exit(127);
  }
  close(fds[1]);
  std::this_thread::sleep_for(delay);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  std::string output;
  char buffer[65536];
  ssize_t got;
  while ((got = read(fds[0], buffer, sizeof buffer)) > 0) output.append(buffer, got);
  close(fds[0]);
  if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
    error = "the child ended on its own (status " + std::to_string(status) +
            ") instead of being killed; see its message above";
    return false;
  }
  // Only complete lines count: a line cut by the kill was never fully acknowledged.
  std::size_t start = 0;
  while (true) {
    const std::size_t end = output.find('\n', start);
    if (end == std::string::npos) break;
    std::istringstream line(output.substr(start, end - start));
    start = end + 1;
    std::string word;
    unsigned long long last = 0, applied = 0;
    line >> word >> last >> applied;
    if (word == "open") {
      acks.opened = true;
    } else if (word == "ack") {
      ++acks.count;
      acks.last = last;
      acks.applied = applied;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  options.seed = std::random_device{}();
  bool usage_error = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--expect-loss") {
      options.expect_loss = true;
      continue;
    }
    if (i + 1 >= argc) {
      usage_error = true;
      break;
    }
    const char* value = argv[++i];
    if (flag == "--child") {
      options.child = value;
    } else if (flag == "--rounds") {
      options.rounds = std::atol(value);
    } else if (flag == "--seed") {
      options.seed = std::strtoull(value, nullptr, 10);
    } else if (flag == "--max-delay-ms") {
      options.max_delay_ms = std::atol(value);
    } else {
      usage_error = true;
    }
  }
  if (usage_error || options.child.empty() || options.rounds < 1 || options.max_delay_ms < 1) {
    std::fprintf(stderr,
                 "usage: store_crash_test --child PATH [--rounds N] [--seed S] "
                 "[--max-delay-ms M] [--expect-loss]\n");
    return 2;
  }
  std::mt19937_64 rng(options.seed);
  TempDir tmp;
  const std::string dir = tmp.Sub("member");
  Repository reference;
  std::uint64_t verified_last = 0;
  std::uint64_t verified_applied = 0;
  long acked_batches = 0, killed_before_open = 0, killed_before_ack = 0, unacked_commits = 0;
  const auto began = std::chrono::steady_clock::now();

  for (long round = 1; round <= options.rounds; ++round) {
    auto fail = [&](const std::string& what) {
      if (options.expect_loss && what.rfind("an acknowledged batch is lost", 0) == 0) {
        std::printf(
            "store_crash_test: round %ld: the early-acknowledging child's loss was "
            "detected, as expected: %s\n",
            round, what.c_str());
        return 0;
      }
      std::fprintf(stderr, "store_crash_test: round %ld (seed %llu): %s\n", round,
                   static_cast<unsigned long long>(options.seed), what.c_str());
      return 1;
    };
    const std::chrono::microseconds delay(rng() % (options.max_delay_ms * 1000 + 1));
    Acks acks;
    std::string error;
    if (!RunChild(options, dir, delay, acks, error)) return fail(error);
    acked_batches += acks.count;
    if (!acks.opened) ++killed_before_open;
    if (acks.opened && acks.count == 0) ++killed_before_ack;

    auto store = Store::Open(dir);
    if (!store.ok()) return fail("reopen: " + store.status().ToString());
    if (absl::Status status = (*store)->CheckIntegrity(); !status.ok()) {
      return fail("integrity: " + status.ToString());
    }
    auto durable = (*store)->LoadReplication();
    if (!durable.ok()) return fail("load: " + durable.status().ToString());
    auto hard_state = (*store)->LoadHardState();
    if (!hard_state.ok()) return fail("load hard state: " + hard_state.status().ToString());

    const std::uint64_t base = durable->log_base_index;
    const std::uint64_t last = durable->log.empty() ? base : durable->log.back().index;
    const std::uint64_t applied = durable->repository.applied_index;
    auto numbers = [&] {
      return " (log through " + std::to_string(last) + ", applied " + std::to_string(applied) +
             ", acknowledged " + std::to_string(acks.last) + "/" + std::to_string(acks.applied) +
             ", earlier rounds " + std::to_string(verified_last) + "/" +
             std::to_string(verified_applied) + ")";
    };
    if (acks.count > 0 && (last < acks.last || applied < acks.applied)) {
      return fail("an acknowledged batch is lost" + numbers());
    }
    if (last < verified_last || applied < verified_applied) {
      return fail("the store went back" + numbers());
    }
    if (last > acks.last && acks.count > 0) ++unacked_commits;
    if (base > applied || applied > last) return fail("positions out of order" + numbers());
    for (std::size_t i = 0; i < durable->log.size(); ++i) {
      if (!(durable->log[i] == CrashEntry(base + 1 + i))) {
        return fail("log entry " + std::to_string(base + 1 + i) + " differs from what was written");
      }
    }
    if (base > 0 && durable->log_base_chain != CrashEntry(base).chain) {
      return fail("the log base's chain is not entry " + std::to_string(base) + "'s");
    }
    if (last > 0 && (!hard_state->has_value() || (*hard_state)->log.index != last)) {
      return fail("the hard state does not name the log's last index" + numbers());
    }
    for (std::uint64_t i = reference.applied_index + 1; i <= applied; ++i) {
      reference.Apply(CrashEntry(i));
    }
    if (!(durable->repository == reference)) {
      return fail("the repository differs from the reference at applied index " +
                  std::to_string(applied));
    }
    verified_last = last;
    verified_applied = applied;
  }
  if (options.expect_loss) {
    std::fprintf(stderr,
                 "store_crash_test: %ld rounds (seed %llu): the early-acknowledging "
                 "child lost nothing detectable: the checker is broken\n",
                 options.rounds, static_cast<unsigned long long>(options.seed));
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::printf(
      "store_crash_test: %ld rounds (seed %llu, kill within %ld ms): %ld acknowledged batches, "
      "log index %llu, applied %llu; %ld kills before the store opened, %ld before the first "
      "ack, %ld rounds with a durable batch not yet acknowledged; integrity ok and nothing "
      "acknowledged lost in every round; %.1f s\n",
      options.rounds, static_cast<unsigned long long>(options.seed), options.max_delay_ms,
      acked_batches, static_cast<unsigned long long>(verified_last),
      static_cast<unsigned long long>(verified_applied), killed_before_open, killed_before_ack,
      unacked_commits, seconds);
  return 0;
}
