// The node crash test's child (driven by node_crash_test): opens the member(s) of DIR through
// node::Node — `standalone`: a.example.com alone; `array`: a, b and c of the configured array
// the parent formed, in this one process over a MemoryNetwork — prints "open", then runs
// WRITERS threads that Put fresh keys on the primary a forever. After each Put returned OK (the
// write is acknowledged: durable on a) a writer prints "ack KEY EPOCH INDEX" in one write(2)
// to stdout (a pipe to the parent). The parent kills the process with SIGKILL at a random
// instant and checks that nothing acknowledged is lost. Exits 2 (message on stderr) when a
// member refuses to open or a Put fails.
//
//   node_crash_child DIR standalone|array ROUND WRITERS [--ack-before-put]
//
// --ack-before-put acknowledges each key before calling Put (position 0 0), then waits 2 ms:
// the bug the parent's --expect-loss run must catch.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "node/node.h"
#include "node_crash_common.h"

using arraykit::node::AttachTo;
using arraykit::node::MemoryNetwork;
using arraykit::node::Node;
using arraykit::node::NodeOptions;
namespace crash = arraykit::node::crash;

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "node_crash_child: %s\n", what.c_str());
  std::fflush(stderr);
  _exit(2);
}

// One line in one write(2): lines of concurrent writers never interleave (a pipe write of at
// most PIPE_BUF bytes is atomic), and a kill leaves either the whole line or none of it.
void Say(const std::string& line) {
  std::string text = line + "\n";
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = write(STDOUT_FILENO, p, left);
    if (n < 0) Die("write to the parent failed");
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool ack_first = argc == 6 && std::string(argv[5]) == "--ack-before-put";
  if ((argc != 5 && !ack_first) ||
      (std::string(argv[2]) != "standalone" && std::string(argv[2]) != "array")) {
    std::fprintf(stderr,
                 "usage: node_crash_child DIR standalone|array ROUND WRITERS [--ack-before-put]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const bool array = std::string(argv[2]) == "array";
  const std::string round = argv[3];
  const int writers = std::atoi(argv[4]);
  if (writers < 1 || writers > 64) Die("WRITERS: 1 to 64");

  auto network = MemoryNetwork::Create(std::strtoull(round.c_str(), nullptr, 10) + 1);
  std::vector<std::unique_ptr<Node>> nodes;
  // Secondaries first, so they follow the primary from its first message.
  std::vector<std::string> names = crash::MembersOf(array);
  std::rotate(names.begin(), names.begin() + 1, names.end());
  for (const std::string& name : names) {
    NodeOptions options;
    options.name = name;
    options.data_dir = dir + "/" + name;
    options.member_json = crash::MemberFields(crash::RackOf(name)).dump();
    options.attach = AttachTo(network);
    auto node = Node::Open(std::move(options));
    if (!node.ok()) Die(absl::StrCat("open ", name, ": ", node.status().ToString()));
    nodes.push_back(*std::move(node));
  }
  Node& primary = *nodes.back();
  Say("open");

  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&primary, &round, w, ack_first] {
      for (long n = 0;; ++n) {
        const std::string key = absl::StrCat("r", round, "-w", w, "-", n);
        if (ack_first) {
          // Acknowledge, then do other work before writing (as a runtime that answers before
          // its store committed would): the window in which a kill loses an acknowledged key.
          Say(absl::StrCat("ack ", key, " 0 0"));
          usleep(2000);
        }
        auto position = primary.Put(crash::kCategory, key, crash::ValueOf(key));
        if (!position.ok()) Die(absl::StrCat("put ", key, ": ", position.status().ToString()));
        if (ack_first) continue;
        auto p = nlohmann::json::parse(*position);
        Say(absl::StrCat("ack ", key, " ", p["epoch"].get<std::uint64_t>(), " ",
                         p["index"].get<std::uint64_t>()));
      }
    });
  }
  for (std::thread& t : threads) t.join();  // never: the parent kills the process
  return 0;
}
