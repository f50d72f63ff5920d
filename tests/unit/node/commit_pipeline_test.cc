// The node's store thread (lib/node/commit_worker.h): batches commit in order, nothing of an
// iteration leaves before its commit returned (but a quorum primary's appends), a failed commit
// stops the member, and a write
// costs one commit (the HardState's log position rides in the same transaction).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "nlohmann/json.hpp"
#include "node/commit_worker.h"
#include "node/node.h"
#include "node/node_test_util.h"
#include "node/sqlite_storage.h"

namespace arraykit::node {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

using test::kA;
using test::kB;
using test::kC;

// What a test does to one member's store: count its commits, hold a commit until released,
// fail the next commit.
struct StoreHooks {
  std::atomic<int> commits{0};
  std::atomic<bool> fail_next{false};
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false;    // commits wait while set
  int holding = 0;      // commits waiting now
  void Hold() {
    std::lock_guard lock(mu);
    hold = true;
  }
  void Release() {
    {
      std::lock_guard lock(mu);
      hold = false;
      gate = -1;
    }
    cv.notify_all();
  }
  // A gate: while gate >= 0, the commits after the first `gate` ones (counted from the gate's
  // setting) wait.
  int gate = -1;
  int gated = 0;  // commits that reached the gate
  void SetGate(int passes) {
    {
      std::lock_guard lock(mu);
      if (gate < 0) gated = 0;
      gate = passes;
    }
    cv.notify_all();
  }
  void PassGate() {
    std::unique_lock lock(mu);
    if (gate < 0) return;
    const int mine = ++gated;
    cv.notify_all();
    cv.wait(lock, [&] { return gate < 0 || mine <= gate; });
  }
  // In the test: waits until `n` commits reached the gate.
  bool WaitGated(int n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return gated >= n; });
  }
  // In a commit: waits while commits are held.
  void WaitWhileHeld() {
    std::unique_lock lock(mu);
    if (!hold) return;
    ++holding;
    cv.notify_all();
    cv.wait(lock, [&] { return !hold; });
    --holding;
  }
  // In the test: waits until a commit is held.
  bool WaitHolding(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return holding > 0; });
  }
};

class HookedStorage final : public Storage {
 public:
  HookedStorage(std::unique_ptr<Storage> inner, std::shared_ptr<StoreHooks> hooks)
      : inner_(std::move(inner)), hooks_(std::move(hooks)) {}
  absl::StatusOr<std::optional<Identity>> LoadIdentity() override {
    return inner_->LoadIdentity();
  }
  absl::StatusOr<std::optional<failover::HardState>> LoadHardState() override {
    return inner_->LoadHardState();
  }
  absl::StatusOr<replication::Durable> LoadReplication() override {
    return inner_->LoadReplication();
  }
  absl::StatusOr<std::vector<CertificateStatus>> LoadCertificates() override {
    return inner_->LoadCertificates();
  }
  absl::StatusOr<std::optional<pki::SecretString>> LoadSecret(const std::string& name) override {
    return inner_->LoadSecret(name);
  }
  absl::StatusOr<std::vector<std::string>> SecretNames() override { return inner_->SecretNames(); }
  absl::Status Commit(const Batch& batch) override {
    hooks_->WaitWhileHeld();
    hooks_->PassGate();
    if (hooks_->fail_next.exchange(false)) {
      return absl::InternalError("the disk is full");
    }
    ++hooks_->commits;
    return inner_->Commit(batch);
  }

 private:
  std::unique_ptr<Storage> inner_;
  std::shared_ptr<StoreHooks> hooks_;
};

std::string DataDir(const std::string& test, const std::string& member) {
  return test::TempDataDir("pipeline-test", test, member);
}

std::string MemberJson(int rack) {
  return json{{"roles", {"frontend", "backend"}},
              {"rack", absl::StrCat("r", rack)},
              {"power", absl::StrCat("p", rack)}}
      .dump();
}

// Three members, a primary, failover off; every member's store hooked.
struct Array {
  std::shared_ptr<MemoryNetwork> net = MemoryNetwork::Create(5);
  std::map<std::string, std::shared_ptr<StoreHooks>> hooks;
  std::map<std::string, std::unique_ptr<Node>> nodes;
  std::vector<std::string> dirs;

  explicit Array(const std::string& test, const std::vector<std::string>& names = {kA, kB, kC}) {
    int rack = 1;
    for (const std::string& name : names) {
      auto h = std::make_shared<StoreHooks>();
      hooks[name] = h;
      NodeOptions o;
      o.name = name;
      o.data_dir = DataDir(test, name);
      dirs.push_back(o.data_dir);
      o.member_json = MemberJson(rack++);
      o.attach = AttachTo(net);
      o.open_storage = [h](const std::string& dir) -> absl::StatusOr<std::unique_ptr<Storage>> {
        auto inner = OpenSqliteStorage(dir);
        if (!inner.ok()) return inner.status();
        return std::unique_ptr<Storage>(new HookedStorage(*std::move(inner), h));
      };
      auto node = Node::Open(std::move(o));
      REQUIRE(node.ok());
      nodes[name] = *std::move(node);
    }
  }
  ~Array() {
    for (auto& [name, h] : hooks) h->Release();
    for (auto& [name, node] : nodes) node->Close().IgnoreError();
    nodes.clear();
    std::error_code ignored;
    for (const std::string& dir : dirs) std::filesystem::remove_all(dir, ignored);
  }
  // The configured array of the three, `kA` primary; returns once both secondaries hold a
  // write of the primary.
  void Form(double monitor_interval_s = 0.05, const std::string& mode = "array") {
    json members = json::array();
    int rack = 1;
    for (const std::string& name : {kA, kB, kC}) {
      json m = json::parse(MemberJson(rack++));
      m["name"] = name;
      members.push_back(m);
    }
    json description{{"members", members},
                     {"primary", kA},
                     {"backup_primaries", {kB, kC}},
                     {"resilience", {{"monitor_interval_s", monitor_interval_s}, {"mode", mode}}}};
    for (const std::string& name : {kC, kB, kA}) {
      REQUIRE(nodes[name]->CreateArray(description.dump()).ok());
    }
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!(*this)[kA].Put("sessions", "formed", "1", replication::Wait::kAll).ok()) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(5ms);
    }
  }
  Node& operator[](const std::string& name) { return *nodes[name]; }
};

bool Has(Node& node, const std::string& key) { return node.Get("sessions", key).ok(); }

// ---- the worker alone ----------------------------------------------------------------------

// A job that records when it was released or abandoned, in a shared log.
class LoggedJob final : public CommitWorker::Job {
 public:
  LoggedJob(std::string name, std::vector<std::string>* log, std::mutex* mu, bool persist)
      : name_(std::move(name)), log_(log), mu_(mu) {
    if (persist) batch_.hard_state = failover::HardState{};
  }
  const Batch& batch() const override { return batch_; }
  void Release() override {
    std::lock_guard lock(*mu_);
    log_->push_back("released " + name_);
  }
  void Abandon(const absl::Status& why) override {
    std::lock_guard lock(*mu_);
    log_->push_back("abandoned " + name_ + ": " + std::string(why.message()));
  }
  // Takes a later job unless its name says "solo" (as an iteration refuses what must not share
  // a transaction); the two are then released as one.
  bool Absorb(CommitWorker::Job& later) override {
    auto& job = static_cast<LoggedJob&>(later);
    if (job.name_.find("solo") != std::string::npos) return false;
    name_ += "+" + job.name_;
    job.name_.clear();
    return true;
  }

 private:
  std::string name_;
  std::vector<std::string>* log_;
  std::mutex* mu_;
  Batch batch_;
};

// Records the order of commits in the same log as the releases.
class LoggingStorage final : public Storage {
 public:
  LoggingStorage(std::vector<std::string>* log, std::mutex* mu, std::shared_ptr<StoreHooks> h)
      : log_(log), mu_(mu), hooks_(std::move(h)) {}
  absl::StatusOr<std::optional<Identity>> LoadIdentity() override {
    return std::optional<Identity>();
  }
  absl::StatusOr<std::optional<failover::HardState>> LoadHardState() override {
    return std::optional<failover::HardState>();
  }
  absl::StatusOr<replication::Durable> LoadReplication() override {
    return replication::Durable{};
  }
  absl::StatusOr<std::vector<CertificateStatus>> LoadCertificates() override {
    return std::vector<CertificateStatus>{};
  }
  absl::StatusOr<std::optional<pki::SecretString>> LoadSecret(const std::string&) override {
    return std::optional<pki::SecretString>();
  }
  absl::StatusOr<std::vector<std::string>> SecretNames() override {
    return std::vector<std::string>{};
  }
  absl::Status Commit(const Batch&) override {
    hooks_->WaitWhileHeld();
    const bool fail = hooks_->fail_next.exchange(false);
    std::lock_guard lock(*mu_);
    log_->push_back(fail ? "commit failed" : "commit");
    if (fail) return absl::InternalError("the disk is full");
    return absl::OkStatus();
  }

 private:
  std::vector<std::string>* log_;
  std::mutex* mu_;
  std::shared_ptr<StoreHooks> hooks_;
};

TEST_CASE("commit worker: jobs commit and release in order, at most `capacity` held") {
  std::mutex mu;
  std::vector<std::string> log;
  auto hooks = std::make_shared<StoreHooks>();
  LoggingStorage storage(&log, &mu, hooks);
  std::atomic<int> done{0};
  CommitWorker worker(&storage, 2, [&] { ++done; });
  CHECK(worker.idle());
  CHECK(worker.has_room());

  hooks->Hold();
  worker.Submit(std::make_unique<LoggedJob>("1", &log, &mu, true));
  REQUIRE(hooks->WaitHolding());
  worker.Submit(std::make_unique<LoggedJob>("2", &log, &mu, false));  // nothing to persist
  CHECK_FALSE(worker.idle());
  CHECK_FALSE(worker.has_room());  // one committing, one queued
  {
    std::lock_guard lock(mu);
    CHECK(log.empty());  // nothing released while its commit is held
  }
  hooks->Release();
  worker.WaitIdle();
  worker.Submit(std::make_unique<LoggedJob>("3", &log, &mu, true));
  worker.WaitIdle();
  CHECK(worker.failure().ok());
  std::lock_guard lock(mu);
  CHECK(log == std::vector<std::string>{"commit", "released 1", "released 2", "commit",
                                        "released 3"});
}

TEST_CASE("commit worker: a job queued behind a commit absorbs later ones until it starts") {
  std::mutex mu;
  std::vector<std::string> log;
  auto hooks = std::make_shared<StoreHooks>();
  LoggingStorage storage(&log, &mu, hooks);
  CommitWorker worker(&storage, 2, nullptr);

  hooks->Hold();
  worker.Submit(std::make_unique<LoggedJob>("1", &log, &mu, true));
  REQUIRE(hooks->WaitHolding());
  LoggedJob alone("2", &log, &mu, true);
  CHECK_FALSE(worker.Merge(alone));  // only the committing job is held: nothing to join
  worker.Submit(std::make_unique<LoggedJob>("2", &log, &mu, true));
  LoggedJob third("3", &log, &mu, true), fourth("4", &log, &mu, false);
  CHECK(worker.Merge(third));  // joins the queued job, not the one committing
  CHECK(worker.Merge(fourth));
  LoggedJob solo("5 solo", &log, &mu, true);
  CHECK_FALSE(worker.Merge(solo));  // the queued job refuses it
  hooks->Release();
  worker.WaitIdle();
  LoggedJob late("6", &log, &mu, true);
  CHECK_FALSE(worker.Merge(late));  // nothing queued any more
  std::lock_guard lock(mu);
  // Two transactions: the queued job committed once with what it absorbed, released in order.
  CHECK(log == std::vector<std::string>{"commit", "released 1", "commit", "released 2+3+4"});
}

TEST_CASE("commit worker: nothing joins a queued job once a commit failed") {
  std::mutex mu;
  std::vector<std::string> log;
  auto hooks = std::make_shared<StoreHooks>();
  LoggingStorage storage(&log, &mu, hooks);
  CommitWorker worker(&storage, 2, nullptr);

  hooks->Hold();
  hooks->fail_next = true;
  worker.Submit(std::make_unique<LoggedJob>("1", &log, &mu, true));
  REQUIRE(hooks->WaitHolding());
  worker.Submit(std::make_unique<LoggedJob>("2", &log, &mu, true));
  hooks->Release();
  worker.WaitIdle();
  LoggedJob later("3", &log, &mu, true);
  CHECK_FALSE(worker.Merge(later));
  for (auto& job : worker.TakeFailedJobs()) job->Abandon(absl::DataLossError("stopped"));
  std::lock_guard lock(mu);
  CHECK(log == std::vector<std::string>{"commit failed", "abandoned 1: stopped",
                                        "abandoned 2: stopped"});
}

TEST_CASE("commit worker: a failed commit releases nothing of it or after it, for good") {
  std::mutex mu;
  std::vector<std::string> log;
  auto hooks = std::make_shared<StoreHooks>();
  LoggingStorage storage(&log, &mu, hooks);
  CommitWorker worker(&storage, 2, nullptr);

  hooks->Hold();
  hooks->fail_next = true;
  worker.Submit(std::make_unique<LoggedJob>("1", &log, &mu, true));
  REQUIRE(hooks->WaitHolding());
  worker.Submit(std::make_unique<LoggedJob>("2", &log, &mu, false));
  hooks->Release();
  worker.WaitIdle();
  CHECK(worker.failure().message() == "the disk is full");
  CHECK_FALSE(worker.has_room());
  CHECK_FALSE(worker.idle());  // the loop must not commit past the failure by itself
  std::vector<std::unique_ptr<CommitWorker::Job>> failed = worker.TakeFailedJobs();
  REQUIRE(failed.size() == 2);
  for (auto& job : failed) job->Abandon(absl::DataLossError("stopped"));
  CHECK(worker.TakeFailedJobs().empty());
  // A job handed over after the failure (the loop saw room just before it) is neither
  // committed nor released: it waits with the failed ones.
  worker.Submit(std::make_unique<LoggedJob>("3", &log, &mu, true));
  worker.WaitIdle();
  failed = worker.TakeFailedJobs();
  REQUIRE(failed.size() == 1);
  failed[0]->Abandon(absl::DataLossError("stopped"));
  std::lock_guard lock(mu);
  CHECK(log == std::vector<std::string>{"commit failed", "abandoned 1: stopped",
                                        "abandoned 2: stopped", "abandoned 3: stopped"});
}

// ---- the node ------------------------------------------------------------------------------

TEST_CASE("a write costs one store commit: the log position rides in the same transaction") {
  Array array("one-commit", {kA});  // a first start: a standalone, writable primary
  Node& a = array[kA];
  REQUIRE(a.Put("sessions", "warm", "1").ok());
  const int before = array.hooks[kA]->commits;
  constexpr int kWrites = 20;
  for (int i = 0; i < kWrites; ++i) REQUIRE(a.Put("sessions", absl::StrCat("k", i), "1").ok());
  // Sequential writes: one iteration each. Two commits per write (entries, then the failover
  // machine's new log position) would give 40.
  CHECK(array.hooks[kA]->commits - before <= kWrites + 1);
  // The log position the HardState records is the log's (status shows both).
  auto st = a.Status();
  REQUIRE(st.ok());
  CHECK(json::parse(*st)["log"]["index"] == kWrites + 1);
}

TEST_CASE("nothing of an iteration leaves before its commit returns; answers keep their order") {
  Array array("held");
  array.Form();
  Node& a = array[kA];
  array.hooks[kA]->Hold();
  auto first = std::async(std::launch::async, [&] { return a.Put("sessions", "first", "1"); });
  REQUIRE(array.hooks[kA]->WaitHolding());
  // Stepped while the first commit is held: queued or gathered, never ahead of it.
  auto second = std::async(std::launch::async, [&] { return a.Put("sessions", "second", "2"); });
  std::this_thread::sleep_for(50ms);
  CHECK(first.wait_for(0ms) == std::future_status::timeout);
  CHECK(second.wait_for(0ms) == std::future_status::timeout);
  CHECK_FALSE(Has(array[kB], "first"));  // the append leaves only after the commit
  CHECK_FALSE(Has(array[kC], "first"));
  array.hooks[kA]->Release();
  auto p1 = first.get();
  auto p2 = second.get();
  REQUIRE(p1.ok());
  REQUIRE(p2.ok());
  CHECK(json::parse(*p1)["index"].get<int>() < json::parse(*p2)["index"].get<int>());
  REQUIRE(a.WaitSynced(absl::Seconds(10)).ok());
  CHECK(Has(array[kB], "first"));
  CHECK(Has(array[kB], "second"));
}

TEST_CASE("writes stepped while the store thread is full join the iteration queued behind it") {
  Array array("group-commit");
  array.Form(/*monitor_interval_s=*/5);  // no probes between the steps below
  Node& a = array[kA];
  StoreHooks& hooks = *array.hooks[kA];
  const int before = hooks.commits;
  auto put = [&](const std::string& key) {
    return std::async(std::launch::async, [&a, key] { return a.Put("sessions", key, "1"); });
  };
  hooks.SetGate(0);
  auto first = put("first");  // the loop commits a lone write itself: it waits at the gate
  REQUIRE(hooks.WaitGated(1));
  auto b = put("b"), c = put("c");  // queued for the loop meanwhile
  std::this_thread::sleep_for(50ms);
  hooks.SetGate(1);  // `first` commits; b and c are one iteration of two: the store thread's
  REQUIRE(hooks.WaitGated(2));
  auto d = put("d");  // queued behind b and c
  std::this_thread::sleep_for(50ms);
  auto e = put("e");  // the store thread is full: e joins d's iteration
  std::this_thread::sleep_for(50ms);
  hooks.SetGate(100);
  std::vector<int> index;
  for (auto* call : {&first, &b, &c, &d, &e}) {
    auto position = call->get();
    REQUIRE(position.ok());
    index.push_back(json::parse(*position)["index"].get<int>());
  }
  CHECK(index[0] < index[1]);
  CHECK(index[2] < index[3]);
  CHECK(index[3] < index[4]);
  // first; b and c; d and e: three transactions (e on its own would make a fourth).
  CHECK(hooks.commits - before == 3);
  REQUIRE(a.WaitSynced(absl::Seconds(10)).ok());
  for (const char* key : {"first", "b", "c", "d", "e"}) CHECK(Has(array[kC], key));
}

TEST_CASE("a failed commit stops the member: its writes and those behind it never leave") {
  Array array("failed");
  array.Form();
  Node& a = array[kA];
  array.hooks[kA]->Hold();
  array.hooks[kA]->fail_next = true;
  auto lost = std::async(std::launch::async, [&] { return a.Put("sessions", "lost", "1"); });
  REQUIRE(array.hooks[kA]->WaitHolding());
  auto behind = std::async(std::launch::async, [&] { return a.Put("sessions", "behind", "2"); });
  std::this_thread::sleep_for(50ms);
  array.hooks[kA]->Release();
  for (auto* call : {&lost, &behind}) {
    auto answer = call->get();
    REQUIRE_FALSE(answer.ok());
    CHECK(answer.status().code() == absl::StatusCode::kDataLoss);
    CHECK(ReasonOf(answer.status()) == "store_failed");
  }
  // Later calls are refused the same way, and nothing reached the secondaries.
  auto later = a.Put("sessions", "later", "3");
  REQUIRE_FALSE(later.ok());
  CHECK(ReasonOf(later.status()) == "store_failed");
  std::this_thread::sleep_for(100ms);
  for (const std::string& name : {kB, kC}) {
    CHECK_FALSE(Has(array[name], "lost"));
    CHECK_FALSE(Has(array[name], "behind"));
  }
  bool reported = false;
  for (const std::string& e : a.TakeEvents()) {
    if (json::parse(e)["event"] == "store_failed") reported = true;
  }
  CHECK(reported);
}

// Quorum mode: the primary's append leaves while the primary commits it (Raft's parallel
// leader write), so a secondary holds the entry before the primary's commit returned; the
// write is answered only after it.
TEST_CASE("quorum mode: a primary's append leaves during its commit, the answer after it") {
  Array array("parallel", {kA, kB, kC});
  array.Form(0.05, "quorum");
  Node& a = array[kA];
  auto log_index = [](Node& node) {
    auto status = node.Status();
    REQUIRE(status.ok());
    return json::parse(*status)["log"]["index"].get<std::uint64_t>();
  };
  REQUIRE(a.WaitSynced(absl::Seconds(10)).ok());
  const std::uint64_t before = log_index(array[kB]);
  array.hooks[kA]->Hold();
  auto put = std::async(std::launch::async, [&] { return a.Put("sessions", "parallel", "1"); });
  REQUIRE(array.hooks[kA]->WaitHolding());
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (log_index(array[kB]) <= before) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(2ms);
  }
  CHECK(put.wait_for(50ms) == std::future_status::timeout);  // held with the primary's commit
  array.hooks[kA]->Release();
  auto answer = put.get();
  REQUIRE(answer.ok());
  CHECK(Has(a, "parallel"));
}

// Quorum mode: the batch that records a majority-acknowledged write as applied appends
// nothing; the write is answered before that batch's commit (its entry is durable already).
TEST_CASE("quorum mode: a write is answered before the commit that records it applied") {
  Array array("answered-early", {kA, kB, kC});
  array.Form(0.05, "quorum");
  Node& a = array[kA];
  REQUIRE(a.WaitSynced(absl::Seconds(10)).ok());
  array.hooks[kA]->SetGate(1);  // the write's own commit passes, the next one waits
  auto answer = a.Put("sessions", "early", "1");
  REQUIRE(answer.ok());
  CHECK(array.hooks[kA]->WaitGated(2));
  array.hooks[kA]->Release();
  CHECK(Has(a, "early"));
}

TEST_CASE("writers in flight when a commit fails: acknowledged writes replicate, refused never") {
  Array array("failed-under-load");
  array.Form();
  Node& a = array[kA];
  std::mutex mu;
  std::vector<std::string> acknowledged, refused;
  std::atomic<int> next{0};
  std::atomic<bool> stop{false};
  auto writer = [&] {
    while (!stop) {
      const std::string key = absl::StrCat("w", next++);
      auto answer = a.Put("sessions", key, "1");
      std::lock_guard lock(mu);
      if (answer.ok()) {
        acknowledged.push_back(key);
      } else {
        REQUIRE(ReasonOf(answer.status()) == "store_failed");
        refused.push_back(key);
        return;  // the member stopped
      }
    }
  };
  std::vector<std::thread> writers;
  for (int i = 0; i < 8; ++i) writers.emplace_back(writer);
  // Batches of several entries go through the store thread; then a commit fails.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu);
      if (acknowledged.size() >= 300) break;
    }
    std::this_thread::sleep_for(1ms);
  }
  array.hooks[kA]->fail_next = true;
  for (std::thread& t : writers) t.join();
  stop = true;
  std::lock_guard lock(mu);
  REQUIRE(acknowledged.size() >= 300);
  REQUIRE(refused.size() == 8);  // every writer ended on the failure
  // No refused write reached a secondary (its appends leave only after a commit that failed or
  // never ran).
  std::this_thread::sleep_for(100ms);
  for (const std::string& name : {kB, kC}) {
    for (const std::string& key : refused) {
      INFO(name << " " << key);
      CHECK_FALSE(Has(array[name], key));
    }
  }
  // The primary's store holds every acknowledged write (array mode: durable on the primary
  // before the answer) and none of the refused ones (nothing of a failed batch is written).
  REQUIRE(array.nodes[kA]->Close().ok());
  auto stored = OpenSqliteStorage(array.dirs[0]);
  REQUIRE(stored.ok());
  auto durable = (*stored)->LoadReplication();
  REQUIRE(durable.ok());
  const auto& records = durable->repository.records;
  for (const std::string& key : acknowledged) {
    INFO(key);
    CHECK(records.count({"sessions", key}) == 1);
  }
  for (const std::string& key : refused) {
    INFO(key);
    CHECK(records.count({"sessions", key}) == 0);
  }
}

}  // namespace
}  // namespace arraykit::node
