// End-to-end timings of the node in one process (issue 9's bench): three members over the
// in-memory network, each with its durable SQLite store in its own data directory.
//
//   node_bench [--rounds N] [--dir DIR]
//
// Measures, in one run (the machine is noisy; compare figures of one run):
//   1. sequential durable writes on the primary, 3 members, array mode (p50/p99 of Put);
//   2. throughput with 64 writers in flight (each a thread doing Put in a loop);
//   3. a member restarting into an array that holds 10,000 entries: from its Open to
//      "applied the primary's last position" (the catch-up the join of a member also pays);
//   4. failover at 20 ms × 3 probes: from the primary's Close to the first Put the new primary
//      accepts (rounds of a fresh array each).
// Prints one line per figure; docs/PERFORMANCE.md records them with this command.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "node/node.h"

namespace {

using arraykit::node::AttachTo;
using arraykit::node::MemoryNetwork;
using arraykit::node::Node;
using arraykit::node::NodeOptions;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> kNames = {"a.example.com", "b.example.com", "c.example.com"};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

[[noreturn]] void Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "node_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

json Description(const json& resilience) {
  json members = json::array();
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    members.push_back({{"name", kNames[i]},
                       {"roles", {"frontend", "backend"}},
                       {"rack", absl::StrCat("r", i)},
                       {"power", absl::StrCat("p", i)}});
  }
  return json{{"members", members},
              {"primary", kNames[0]},
              {"backup_primaries", {kNames[1], kNames[2]}},
              {"resilience", resilience}};
}

class Array {
 public:
  Array(const std::string& root, const json& resilience)
      : root_(root), net_(MemoryNetwork::Create(7)), description_(Description(resilience)) {
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    // Secondaries first: they then follow the primary from its first message.
    for (std::size_t i = kNames.size(); i-- > 0;) Open(kNames[i]);
    for (std::size_t i = kNames.size(); i-- > 0;) {
      if (absl::Status s = nodes_[kNames[i]]->CreateArray(description_.dump()); !s.ok()) {
        Fail("create_array", s);
      }
    }
  }
  ~Array() {
    for (auto& [name, node] : nodes_) {
      if (node) node->Close().IgnoreError();
    }
    nodes_.clear();
    std::filesystem::remove_all(root_);
  }
  Node& Open(const std::string& name) {
    NodeOptions o;
    o.name = name;
    o.data_dir = root_ + "/" + name;
    o.attach = AttachTo(net_);
    auto node = Node::Open(std::move(o));
    if (!node.ok()) Fail("open " + name, node.status());
    nodes_[name] = *std::move(node);
    return *nodes_[name];
  }
  void Close(const std::string& name) {
    if (absl::Status s = nodes_[name]->Close(); !s.ok()) Fail("close", s);
    nodes_[name].reset();
  }
  Node& operator[](const std::string& name) { return *nodes_[name]; }

 private:
  std::string root_;
  std::shared_ptr<MemoryNetwork> net_;
  json description_;
  std::map<std::string, std::unique_ptr<Node>> nodes_;
};

std::string Value(int i) { return json{{"n", i}, {"text", "value of a typical size"}}.dump(); }

void SequentialWrites(const std::string& root, int count) {
  Array array(root, json{{"monitor_interval_s", 1}});
  Node& primary = array[kNames[0]];
  std::vector<double> ms;
  for (int i = 0; i < count; ++i) {
    const auto start = Clock::now();
    auto position = primary.Put("global_configuration", absl::StrCat("k", i), Value(i));
    ms.push_back(Ms(Clock::now() - start));
    if (!position.ok()) Fail("put", position.status());
  }
  std::printf(
      "sequential durable write, 3 members, array mode: p50 %.3f ms  p99 %.3f ms  (%d writes)\n",
      Percentile(ms, 0.5), Percentile(ms, 0.99), count);
}

void Throughput(const std::string& root, int writers, int seconds) {
  Array array(root, json{{"monitor_interval_s", 1}});
  Node& primary = array[kNames[0]];
  std::atomic<bool> stop{false};
  std::atomic<long> done{0};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        auto position = primary.Put("sessions", absl::StrCat("w", w, "-", i), Value(i));
        if (!position.ok()) Fail("put", position.status());
        done.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (std::thread& t : threads) t.join();
  const double elapsed = Ms(Clock::now() - start) / 1000.0;
  std::printf("throughput, %d writers in flight, 3 members, array mode: %.0f writes/s\n", writers,
              static_cast<double>(done.load()) / elapsed);
}

void CatchUp(const std::string& root, int entries) {
  Array array(root, json{{"monitor_interval_s", 0.05}});
  array.Close(kNames[2]);
  Node& primary = array[kNames[0]];
  std::vector<std::thread> threads;
  std::atomic<int> next{0};
  for (int w = 0; w < 64; ++w) {
    threads.emplace_back([&] {
      for (int i = next++; i < entries; i = next++) {
        auto position = primary.Put("local_repository", absl::StrCat("k", i), Value(i));
        if (!position.ok()) Fail("put", position.status());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const auto start = Clock::now();
  array.Open(kNames[2]);
  auto synced = primary.WaitSynced(absl::Seconds(30));
  if (!synced.ok()) Fail("wait_synced", synced.status());
  std::printf("member catching up %d entries (open to synced): %.1f ms\n", entries,
              Ms(Clock::now() - start));
}

void Failover(const std::string& root, int rounds) {
  // As an operator would: the array forms with failover off, then config edit turns it on at
  // 20 ms x 3 probes (find-new-primary 20 ms x 3).
  constexpr const char* kEdit =
      R"({"array-failoverenabled": true, "array-monitortime": 0.02, "array-maxmonitors": 3,
          "array-resubmitfindprimarywait": 0.02, "array-resubmitfindprimarymax": 3,
          "array-primaryreturnaction": "none"})";
  std::vector<double> ms;
  for (int round = 0; round < rounds; ++round) {
    Array array(absl::StrCat(root, "-", round), json{{"monitor_interval_s", 0.02}});
    Node& primary = array[kNames[0]];
    if (auto synced = primary.WaitSynced(absl::Seconds(10)); !synced.ok()) {
      Fail("wait_synced", synced.status());
    }
    if (absl::Status s = primary.ConfigEdit(kEdit); !s.ok()) Fail("config edit", s);
    // Every member runs with failover on before the primary goes.
    for (const std::string& name : kNames) {
      for (;;) {
        auto status = array[name].Status();
        if (!status.ok()) Fail("status", status.status());
        if (json::parse(*status)["resilience"]["failover_enabled"] == true) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    if (auto p = primary.Put("global_configuration", "k", "1"); !p.ok()) Fail("put", p.status());
    const auto start = Clock::now();
    array.Close(kNames[0]);
    Node& next = array[kNames[1]];
    for (;;) {
      if (next.Put("global_configuration", "k", "2").ok()) break;
      if (Clock::now() - start > std::chrono::seconds(10)) {
        Fail("failover", absl::DeadlineExceededError("no new primary within 10 s"));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ms.push_back(Ms(Clock::now() - start));
  }
  std::printf(
      "failover at 20 ms x 3 probes, close to first accepted write: p50 %.1f ms  max %.1f ms  "
      "(%d rounds)\n",
      Percentile(ms, 0.5), *std::max_element(ms.begin(), ms.end()), rounds);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 10;
  std::string dir = (std::filesystem::temp_directory_path() / "arraykit-node-bench").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--rounds") {
      rounds = std::atoi(argv[i + 1]);
    } else if (flag == "--dir") {
      dir = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: node_bench [--rounds N] [--dir DIR]\n");
      return 2;
    }
  }
  SequentialWrites(dir + "/seq", 2000);
  Throughput(dir + "/tput", 64, 3);
  CatchUp(dir + "/catchup", 10000);
  Failover(dir + "/failover", rounds);
  std::filesystem::remove_all(dir);
  return 0;
}
