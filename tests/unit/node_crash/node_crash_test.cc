// The node's crash test (DESIGN §7: "a member killed at any instant restarts with a consistent
// store and loses nothing it acknowledged"), through a running member rather than the store
// alone (tests/unit/store has that one).
//
// The parent forms the member(s) first: `standalone` — a.example.com alone; `array` — a, b and
// c as a configured array with a primary. Each round starts node_crash_child, which opens the
// member(s) with node::Node over a MemoryNetwork and writes fresh keys on the primary from
// several threads, printing each key with its position only after Put returned. The parent
// kills the child with SIGKILL after a random delay (in a quarter of the rounds counted from its
// start, so the kill may come while the members open; else from its "open" line), then checks every data directory with lib/store directly:
//   - PRAGMA integrity_check is ok;
//   - every key acknowledged in any round so far is on the primary, at its acknowledged
//     position (the log entry at that index is that write), and the primary's log never goes
//     back;
//   - (array) each secondary's log is a prefix of the primary's (same entry at its last index);
// and then restarts the member(s) with fresh Nodes: the primary takes a new write (array mode
// with wait "all": every secondary restarted, caught up and applied it), every key the child
// acknowledged this round is readable on each member, and the members are closed again.
// Prints one summary line; exits 1 with the seed and the round on the first violation.
//
//   node_crash_test --child PATH --mode standalone|array [--rounds N] [--seed S]
//                   [--max-delay-ms M] [--writers W] [--fresh-every N] [--expect-loss]
//
// --fresh-every N starts over with new members in a new directory every N rounds, so a long
// soak's rounds stay as fast as the first ones (each round loads the whole store three times).
//
// --expect-loss checks the checker: the child acknowledges each key before writing it, and the
// run succeeds only if a loss is detected.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "node/node.h"
#include "node_crash_common.h"
#include "store/store.h"
#include "store_test_util.h"

namespace {

using arraykit::node::AttachTo;
using arraykit::node::MemoryNetwork;
using arraykit::node::Node;
using arraykit::node::NodeOptions;
using arraykit::replication::Wait;
using arraykit::store::Store;
using arraykit::store::testing::TempDir;
using nlohmann::json;
namespace crash = arraykit::node::crash;

struct Options {
  std::string child;
  bool array = false;
  long rounds = 100;
  std::uint64_t seed = 0;
  long max_delay_ms = 0;  // 0: the mode's default
  int writers = 4;
  long fresh_every = 0;  // start over in a new data directory every N rounds (0: never)
  bool expect_loss = false;
};

struct Acked {
  std::uint64_t epoch = 0;
  std::uint64_t index = 0;  // 0: unknown (the cheating child acknowledges before writing)
};

struct ChildRun {
  bool opened = false;
  std::vector<std::pair<std::string, Acked>> acks;
};

// A violation of what the test checks (as opposed to a failure to run it).
struct Violation {
  std::string what;
};

// Runs the child, kills it after `delay`, returns what it acknowledged.
// `after_open`: the delay counts from the child's "open" line (a kill in the write loop), else
// from its start (a kill anywhere, opening included).
bool RunChild(const Options& options, const std::string& dir, long round,
              std::chrono::microseconds delay, bool after_open, ChildRun& run,
              std::string& error) {
  int fds[2];
  if (pipe(fds) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  const std::string round_text = std::to_string(round);
  const std::string writers_text = std::to_string(options.writers);
  const char* mode = options.array ? "array" : "standalone";
  const pid_t pid = fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(options.child.c_str(), options.child.c_str(), dir.c_str(), mode, round_text.c_str(),
          writers_text.c_str(), options.expect_loss ? "--ack-before-put" : nullptr,
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string output;
  char buffer[65536];
  ssize_t got;
  if (after_open) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (output.find('\n') == std::string::npos &&
           std::chrono::steady_clock::now() < give_up) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      if ((got = read(fds[0], buffer, sizeof buffer)) <= 0) break;
      output.append(buffer, static_cast<std::size_t>(got));
    }
  }
  std::this_thread::sleep_for(delay);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
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
    std::string word, key;
    unsigned long long epoch = 0, index = 0;
    line >> word;
    if (word == "open") {
      run.opened = true;
    } else if (word == "ack" && (line >> key >> epoch >> index)) {
      run.acks.emplace_back(key, Acked{epoch, index});
    } else {
      error = "the child wrote an unreadable line: " + output.substr(start, end - start);
      return false;
    }
  }
  return true;
}

std::string Describe(const arraykit::replication::Entry& e) {
  return absl::StrCat("(", e.epoch, ", ", e.index, ") ", e.category, "/", e.key, " = ", e.value);
}

// What the store of one member holds, loaded and integrity-checked.
struct Loaded {
  arraykit::replication::Durable durable;
  std::uint64_t last = 0;
  const arraykit::replication::Entry* At(std::uint64_t index) const {
    if (index <= durable.log_base_index || index > last) return nullptr;
    return &durable.log[index - durable.log_base_index - 1];
  }
};

Loaded LoadChecked(const std::string& dir) {
  auto store = Store::Open(dir, {.create = false});
  if (!store.ok()) throw Violation{"reopen " + dir + ": " + store.status().ToString()};
  if (absl::Status s = (*store)->CheckIntegrity(); !s.ok()) {
    throw Violation{"integrity of " + dir + ": " + s.ToString()};
  }
  auto durable = (*store)->LoadReplication();
  if (!durable.ok()) throw Violation{"load " + dir + ": " + durable.status().ToString()};
  Loaded loaded;
  loaded.durable = *std::move(durable);
  loaded.last = loaded.durable.log.empty() ? loaded.durable.log_base_index
                                           : loaded.durable.log.back().index;
  return loaded;
}

// Checks that every acknowledged key is on the primary at its acknowledged position.
void CheckAcknowledged(const Loaded& primary, const std::map<std::string, Acked>& acked) {
  for (const auto& [key, at] : acked) {
    const std::string value = crash::ValueOf(key);
    const auto* entry = at.index > 0 ? primary.At(at.index) : nullptr;
    if (entry != nullptr) {
      if (entry->category != crash::kCategory || entry->key != key || entry->value != value ||
          entry->epoch != at.epoch) {
        throw Violation{absl::StrCat("an acknowledged write is lost: ", key, " was acknowledged at (",
                                     at.epoch, ", ", at.index, "), the log holds ",
                                     Describe(*entry), " there")};
      }
      continue;
    }
    if (at.index > primary.last) {
      throw Violation{absl::StrCat("an acknowledged write is lost: ", key,
                                   " was acknowledged at index ", at.index,
                                   ", the primary's log ends at ", primary.last)};
    }
    // Compacted away, or acknowledged without a position: the applied repository has it, or
    // the log after the base does.
    auto it = primary.durable.repository.records.find({crash::kCategory, key});
    bool found = it != primary.durable.repository.records.end() && !it->second.deleted &&
                 it->second.value == value && (at.index == 0 || it->second.index == at.index);
    for (std::size_t i = 0; !found && at.index == 0 && i < primary.durable.log.size(); ++i) {
      const auto& e = primary.durable.log[i];
      found = e.category == crash::kCategory && e.key == key && e.value == value;
    }
    if (!found) {
      throw Violation{absl::StrCat("an acknowledged write is lost: ", key,
                                   " is neither in the primary's log nor in its repository")};
    }
  }
}

// Opens the member(s) with fresh Nodes, writes once on the primary and reads `keys` back on
// every member; returns the new write's key and position.
std::pair<std::string, Acked> Restart(const std::string& dir, bool array, long round,
                                      const std::vector<std::string>& keys) {
  auto network = MemoryNetwork::Create(static_cast<std::uint64_t>(round) + 1000);
  std::map<std::string, std::unique_ptr<Node>> nodes;
  std::vector<std::string> names = crash::MembersOf(array);
  for (const std::string& name : names) {
    NodeOptions options;
    options.name = name;
    options.data_dir = dir + "/" + name;
    options.attach = AttachTo(network);  // no member fields: the stored ones are kept
    auto node = Node::Open(std::move(options));
    if (!node.ok()) throw Violation{"restart " + name + ": " + node.status().ToString()};
    nodes[name] = *std::move(node);
  }
  Node& primary = *nodes[crash::kPrimary];
  const std::string key = absl::StrCat("parent-", round);
  auto position = primary.Put(crash::kCategory, key, crash::ValueOf(key),
                              array ? Wait::kAll : Wait::kPrimary);
  if (!position.ok()) {
    auto st = primary.Status();
    throw Violation{"the restarted primary refuses a write: " + position.status().ToString() +
                    "; status " + (st.ok() ? *st : st.status().ToString())};
  }
  json p = json::parse(*position);
  std::vector<std::string> all = keys;
  all.push_back(key);
  // The primary answers at once; a secondary gets 10 s to catch up (wait "all" waits only for
  // the members the primary counts as contactable).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (const auto& [name, node] : nodes) {
    for (const std::string& k : all) {
      while (true) {
        auto value = node->Get(crash::kCategory, k);
        if (value.ok() && *value == crash::ValueOf(k)) break;
        if (name == crash::kPrimary || std::chrono::steady_clock::now() > deadline) {
          throw Violation{absl::StrCat("after the restart ", name, " does not read ", k, ": ",
                                       value.ok() ? *value : value.status().ToString())};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  }
  for (auto& [name, node] : nodes) {
    if (absl::Status s = node->Close(); !s.ok()) throw Violation{"close " + name + ": " + s.ToString()};
  }
  return {key, Acked{p["epoch"].get<std::uint64_t>(), p["index"].get<std::uint64_t>()}};
}

// Forms the member(s) the children restart: a standalone member, or the configured array.
void Form(const std::string& dir, bool array) {
  auto network = MemoryNetwork::Create(7);
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<std::string> names = crash::MembersOf(array);
  std::rotate(names.begin(), names.begin() + 1, names.end());  // the primary last
  for (const std::string& name : names) {
    NodeOptions options;
    options.name = name;
    options.data_dir = dir + "/" + name;
    options.member_json = crash::MemberFields(crash::RackOf(name)).dump();
    options.attach = AttachTo(network);
    auto node = Node::Open(std::move(options));
    if (!node.ok()) throw Violation{"open " + name + ": " + node.status().ToString()};
    if (array) {
      if (absl::Status s = (*node)->CreateArray(crash::ArrayDescription().dump()); !s.ok()) {
        throw Violation{"create the array on " + name + ": " + s.ToString()};
      }
    }
    nodes.push_back(*std::move(node));
  }
  if (array) {
    auto synced = nodes.back()->Put(crash::kCategory, "formed", crash::ValueOf("formed"),
                                    Wait::kAll);
    if (!synced.ok()) throw Violation{"the formed array does not replicate: " +
                                      synced.status().ToString()};
  }
  for (auto& node : nodes) {
    if (absl::Status s = node->Close(); !s.ok()) throw Violation{"close: " + s.ToString()};
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  options.seed = std::random_device{}();
  bool usage_error = false;
  std::string mode;
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
    } else if (flag == "--mode") {
      mode = value;
    } else if (flag == "--rounds") {
      options.rounds = std::atol(value);
    } else if (flag == "--seed") {
      options.seed = std::strtoull(value, nullptr, 10);
    } else if (flag == "--max-delay-ms") {
      options.max_delay_ms = std::atol(value);
    } else if (flag == "--writers") {
      options.writers = std::atoi(value);
    } else if (flag == "--fresh-every") {
      options.fresh_every = std::atol(value);
    } else {
      usage_error = true;
    }
  }
  options.array = mode == "array";
  if (options.max_delay_ms == 0) options.max_delay_ms = 60;
  if (usage_error || options.child.empty() || (mode != "array" && mode != "standalone") ||
      options.rounds < 1 || options.max_delay_ms < 1 || options.writers < 1 ||
      options.writers > 64 || options.fresh_every < 0) {
    std::fprintf(stderr,
                 "usage: node_crash_test --child PATH --mode standalone|array [--rounds N] "
                 "[--seed S] [--max-delay-ms M] [--writers W (1-64)] [--fresh-every N] "
                 "[--expect-loss]\n");
    return 2;
  }
  std::mt19937_64 rng(options.seed);
  TempDir tmp;
  std::string dir;
  long generation = 0;
  std::map<std::string, Acked> acked;  // every write acknowledged so far, by key
  std::uint64_t verified_last = 0;
  long acked_writes = 0, killed_before_open = 0, killed_before_ack = 0, unacked_durable = 0;
  const auto began = std::chrono::steady_clock::now();
  long round = 0;
  auto fail = [&](const std::string& what) {
    if (options.expect_loss && what.find("an acknowledged write is lost") != std::string::npos) {
      std::printf(
          "node_crash_test: round %ld: the early-acknowledging child's loss was detected, as "
          "expected: %s\n",
          round, what.c_str());
      return 0;
    }
    std::fprintf(stderr, "node_crash_test --mode %s: round %ld (seed %llu): %s\n", mode.c_str(),
                 round, static_cast<unsigned long long>(options.seed), what.c_str());
    return 1;
  };
  try {
    for (round = 1; round <= options.rounds; ++round) {
      if (round == 1 || (options.fresh_every > 0 && (round - 1) % options.fresh_every == 0)) {
        // A new generation: new member(s) in a new directory (the old one is removed).
        if (!dir.empty()) std::filesystem::remove_all(dir);
        dir = tmp.Sub("generation-" + std::to_string(++generation));
        if (mkdir(dir.c_str(), 0700) != 0) throw Violation{"mkdir " + dir + ": " + std::strerror(errno)};
        Form(dir, options.array);
        acked.clear();
        verified_last = 0;
      }
      const std::chrono::microseconds delay(rng() % (options.max_delay_ms * 1000 + 1));
      const bool after_open = rng() % 4 != 0;
      ChildRun run;
      std::string error;
      if (!RunChild(options, dir, round, delay, after_open, run, error)) return fail(error);
      acked_writes += static_cast<long>(run.acks.size());
      if (!run.opened) ++killed_before_open;
      if (run.opened && run.acks.empty()) ++killed_before_ack;
      std::uint64_t acked_max = 0;
      std::vector<std::string> keys;
      for (const auto& [key, at] : run.acks) {
        acked[key] = at;
        keys.push_back(key);
        acked_max = std::max(acked_max, at.index);
      }

      const Loaded primary = LoadChecked(dir + "/" + crash::kPrimary);
      CheckAcknowledged(primary, acked);
      if (primary.last < verified_last) {
        throw Violation{absl::StrCat("the primary's log went back from ", verified_last, " to ",
                                     primary.last)};
      }
      if (primary.last > acked_max && !run.acks.empty()) ++unacked_durable;
      for (const std::string& name : crash::MembersOf(options.array)) {
        if (name == crash::kPrimary) continue;
        const Loaded secondary = LoadChecked(dir + "/" + name);
        if (secondary.last > primary.last) {
          throw Violation{absl::StrCat(name, "'s log (through ", secondary.last,
                                       ") is ahead of the primary's (", primary.last, ")")};
        }
        const auto* mine = secondary.At(secondary.last);
        const auto* theirs = primary.At(secondary.last);
        if (mine != nullptr && theirs != nullptr && !(*mine == *theirs)) {
          throw Violation{absl::StrCat(name, "'s last entry ", Describe(*mine),
                                       " is not the primary's ", Describe(*theirs))};
        }
      }
      verified_last = primary.last;

      auto [key, at] = Restart(dir, options.array, round, keys);
      acked[key] = at;
      verified_last = std::max(verified_last, at.index);
    }
  } catch (const Violation& v) {
    return fail(v.what);
  }
  if (options.expect_loss) {
    std::fprintf(stderr,
                 "node_crash_test: %ld rounds (seed %llu): the early-acknowledging child lost "
                 "nothing detectable: the checker is broken\n",
                 options.rounds, static_cast<unsigned long long>(options.seed));
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::printf(
      "node_crash_test --mode %s: %ld rounds (seed %llu, kill within %ld ms, %d writers): %ld "
      "acknowledged writes by the child, primary log index %llu (last generation); %ld kills before the members "
      "opened, %ld before the first ack, %ld rounds with a durable write not yet acknowledged; "
      "integrity ok, nothing acknowledged lost, restart and a new write ok in every round; "
      "%ld generation(s) of members; %.1f s\n",
      mode.c_str(), options.rounds, static_cast<unsigned long long>(options.seed),
      options.max_delay_ms, options.writers, acked_writes,
      static_cast<unsigned long long>(verified_last), killed_before_open, killed_before_ack,
      unacked_durable, generation, seconds);
  return 0;
}
