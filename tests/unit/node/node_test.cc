// The node with real threads: members of one array in one process over MemoryNetwork.
// Every wait is a condition (an event, an acknowledged write, wait-synced), never a sleep.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
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
#include "node/node.h"
#include "node/node_test_util.h"

namespace arraykit::node {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

using test::kA;
using test::kB;
using test::kC;

std::string MemberJson(int rack) {
  return json{{"roles", {"frontend", "backend"}},
              {"rack", absl::StrCat("r", rack)},
              {"power", absl::StrCat("p", rack)}}
      .dump();
}

// Failover off; 50 ms monitor interval (the replicator retries an unanswered member at a fifth
// of it, so a restarted member is caught up at once rather than after the default 12 s).
json Description(const std::string& primary,
                 json resilience = json{{"monitor_interval_s", 0.05}}) {
  json members = json::array();
  int rack = 1;
  for (const std::string& name : {kA, kB, kC}) {
    json m = json::parse(MemberJson(rack++));
    m["name"] = name;
    members.push_back(m);
  }
  json backups = json::array();
  for (const std::string& name : {kA, kB, kC}) {
    if (name != primary) backups.push_back(name);
  }
  return json{{"members", members},
              {"primary", primary},
              {"backup_primaries", backups},
              {"resilience", resilience}};
}

// Collects one member's events and lets a test wait for one.
class Events {
 public:
  std::function<void(const std::string&)> callback() {
    return [this](const std::string& text) {
      std::lock_guard lock(mu_);
      events_.push_back(json::parse(text));
      cv_.notify_all();
    };
  }
  bool WaitFor(const std::string& event, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const json& e : events_) {
        if (e["event"] == event) return true;
      }
      return false;
    });
  }
  std::vector<json> all() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<json> events_;
};

std::string DataDir(const std::string& test, const std::string& member) {
  return test::TempDataDir("node-test", test, member);
}

struct Cluster {
  std::shared_ptr<MemoryNetwork> net = MemoryNetwork::Create(11);
  std::map<std::string, std::string> dirs;
  std::map<std::string, std::unique_ptr<Events>> events;
  std::map<std::string, std::unique_ptr<Node>> nodes;

  explicit Cluster(const std::string& test) {
    int rack = 1;
    for (const std::string& name : {kA, kB, kC}) {
      dirs[name] = DataDir(test, name);
      (void)rack;
    }
  }
  ~Cluster() {
    for (auto& [name, node] : nodes) {
      if (node) node->Close().IgnoreError();
    }
  }
  Node& Open(const std::string& name, absl::Duration call_timeout = absl::Seconds(10)) {
    int rack = name == kA ? 1 : name == kB ? 2 : 3;
    events[name] = std::make_unique<Events>();
    NodeOptions o;
    o.name = name;
    o.data_dir = dirs[name];
    o.member_json = MemberJson(rack);
    o.attach = AttachTo(net);
    o.on_event = events[name]->callback();
    o.call_timeout = call_timeout;
    auto node = Node::Open(std::move(o));
    REQUIRE(node.ok());
    nodes[name] = *std::move(node);
    return *nodes[name];
  }
  // The secondaries first: they then follow the primary from its first message.
  void Create(const json& description) {
    std::vector<std::string> order;
    for (const std::string& name : {kA, kB, kC}) {
      if (name != description["primary"]) order.push_back(name);
    }
    order.push_back(description["primary"]);
    for (const std::string& name : order) {
      if (!nodes[name]) Open(name);
      REQUIRE(nodes[name]->CreateArray(description.dump()).ok());
    }
  }
  void Close(const std::string& name) {
    REQUIRE(nodes[name]->Close().ok());
    nodes[name].reset();
  }
  Node& operator[](const std::string& name) { return *nodes[name]; }
  // Every open member's status and events, for a failure message.
  std::string Dump() {
    std::string out;
    for (auto& [name, node] : nodes) {
      if (!node) continue;
      auto st = node->Status();
      out += name + ": " + (st.ok() ? *st : st.status().ToString()) + "\n  events: " +
             json(events[name]->all()).dump() + "\n";
    }
    return out;
  }
};

// REQUIRE(condition eventually holds), with every member's status and events when it does not.
#define REQUIRE_EVENTUALLY(cluster, condition, ...)                        \
  do {                                                                     \
    if (!Eventually([&] { return (condition); } __VA_OPT__(, ) __VA_ARGS__)) { \
      FAIL(#condition << "\n" << (cluster).Dump());                       \
    }                                                                      \
  } while (false)

json StatusOf(Node& node) {
  auto s = node.Status();
  REQUIRE(s.ok());
  return json::parse(*s);
}

// Polls `condition` (a status query) until it holds; for states no event announces.
using test::Eventually;

TEST_CASE("a first start is a standalone, writable primary; put, get and delete") {
  Cluster c("standalone");
  Node& a = c.Open(kA);
  json st = StatusOf(a);
  CHECK(st["role"] == "primary");
  CHECK(st["primary"] == kA);
  CHECK(st["writable"] == true);
  CHECK(st["members"].size() == 1);

  auto pos = a.Put("global_configuration", "motd", R"({"text": "hello"})");
  REQUIRE(pos.ok());
  json p = json::parse(*pos);
  CHECK(p["index"].get<std::uint64_t>() >= 1);
  auto got = a.Get("global_configuration", "motd");
  REQUIRE(got.ok());
  CHECK(json::parse(*got) == json{{"text", "hello"}});

  auto missing = a.Get("global_configuration", "nothing");
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);

  REQUIRE(a.Delete("global_configuration", "motd").ok());
  CHECK(a.Get("global_configuration", "motd").status().code() == absl::StatusCode::kNotFound);
}

// The answer of one PutAsync or DeleteAsync, and the thread that gave it.
struct AsyncAnswer {
  std::promise<absl::StatusOr<std::string>> promise;
  std::thread::id thread;
  AnswerFn Fn() {
    return [this](absl::StatusOr<std::string> answer) {
      thread = std::this_thread::get_id();
      promise.set_value(std::move(answer));
    };
  }
  absl::StatusOr<std::string> Get() {
    auto future = promise.get_future();
    REQUIRE(future.wait_for(30s) == std::future_status::ready);
    return future.get();
  }
};

TEST_CASE("PutAsync and DeleteAsync answer once: the write's position, a refusal, the deadline") {
  Cluster c("async");
  c.Open(kA, absl::Milliseconds(300));
  c.Open(kB);
  c.Open(kC);
  // A grace period of 1.5 s: cut off below, the primary keeps its leases past every call's
  // 300 ms timeout, also on a loaded machine.
  c.Create(Description(kA, json{{"mode", "quorum"}, {"monitor_interval_s", 0.5}}));
  REQUIRE_EVENTUALLY(c, StatusOf(c[kA])["writable"] == true);

  AsyncAnswer put;
  c[kA].PutAsync("sessions", "s1", R"({"user": "u1"})", replication::Wait::kPrimary, put.Fn());
  auto position = put.Get();
  REQUIRE(position.ok());
  CHECK(json::parse(*position)["index"].get<std::uint64_t>() >= 1);
  CHECK(put.thread != std::this_thread::get_id());  // the member's thread answered
  CHECK(json::parse(*c[kA].Get("sessions", "s1")) == json{{"user", "u1"}});

  AsyncAnswer removed;
  c[kA].DeleteAsync("sessions", "s1", replication::Wait::kPrimary, removed.Fn());
  REQUIRE(removed.Get().ok());
  CHECK(c[kA].Get("sessions", "s1").status().code() == absl::StatusCode::kNotFound);

  // Refused before the loop: answered on the caller's thread, before the call returns.
  AsyncAnswer bad_value, bad_key;
  c[kA].PutAsync("sessions", "s2", "{not json", replication::Wait::kPrimary, bad_value.Fn());
  c[kA].DeleteAsync("sessions", "arraykit.member", replication::Wait::kPrimary, bad_key.Fn());
  CHECK(bad_value.thread == std::this_thread::get_id());
  CHECK(bad_value.Get().status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ReasonOf(bad_key.Get().status()) == "reserved_key");
  // Refused by the loop: a secondary names its primary.
  AsyncAnswer on_secondary;
  c[kB].PutAsync("sessions", "s3", "1", replication::Wait::kPrimary, on_secondary.Fn());
  CHECK(GetErrorCode(on_secondary.Get().status()) == ErrorCode::kNotPrimary);

  // Cut off from both voters, the primary cannot make a write durable on a majority: the call
  // ends at the member's call timeout (300 ms), as a blocking Put does.
  c.net->Isolate(kA);
  AsyncAnswer late;
  const auto start = std::chrono::steady_clock::now();
  c[kA].PutAsync("sessions", "s4", "4", replication::Wait::kPrimary, late.Fn());
  auto answer = late.Get();
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(answer.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(answer.status().message() == "put: no answer within 300ms");
  CHECK(took >= 300ms);
  auto blocking = c[kA].Put("sessions", "s5", "5");
  CHECK(blocking.status().code() == absl::StatusCode::kDeadlineExceeded);

  // A call the member holds when it closes is answered then.
  AsyncAnswer held;
  c[kA].PutAsync("sessions", "s6", "6", replication::Wait::kPrimary, held.Fn());
  c.Close(kA);
  CHECK(held.Get().status().code() == absl::StatusCode::kCancelled);
}

TEST_CASE("bad input is refused with its reason") {
  Cluster c("bad_input");
  Node& a = c.Open(kA);
  CHECK(a.Put("global_configuration", "k", "{not json").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(a.Put("no_such_category", "k", "1").status().code() ==
        absl::StatusCode::kInvalidArgument);

  auto wait = WaitFromOptionsJson(R"({"wiat": "all"})");
  CHECK(ReasonOf(wait.status()) == "unknown_field");
  CHECK(WaitFromOptionsJson(R"({"wait": "some"})").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(*WaitFromOptionsJson(R"({"wait": "all"})") == replication::Wait::kAll);
  CHECK(*WaitFromOptionsJson("") == replication::Wait::kPrimary);

  json not_me = Description(kB);
  not_me["members"].erase(0);  // a.example.com
  not_me["backup_primaries"] = json::array({kC});
  CHECK(ReasonOf(a.CreateArray(not_me.dump())) == "not_a_member");
  CHECK(ReasonOf(a.CreateArray(R"({"members": [], "primry": "x"})")) == "unknown_field");
  json two_backends = Description(kA);
  two_backends["members"][2]["roles"] = json::array({"frontend"});
  CHECK(ReasonOf(a.CreateArray(two_backends.dump())) == "placement_errors");
}

TEST_CASE("options are checked when a node opens") {
  auto net = MemoryNetwork::Create();
  auto open = [&](std::string name, std::string member, std::string dir) {
    NodeOptions o;
    o.name = std::move(name);
    o.data_dir = std::move(dir);
    o.member_json = std::move(member);
    o.attach = AttachTo(net);
    return Node::Open(std::move(o));
  };
  std::string dir = DataDir("open", "a");
  CHECK(ReasonOf(open(kA, R"({"roles": ["backend"], "rakc": "r1"})", dir).status()) ==
        "unknown_field");
  CHECK(ReasonOf(open(kA, R"({"name": "b.example.com"})", dir).status()) == "name_mismatch");
  CHECK(ReasonOf(open("a", "", dir).status()) == "name_not_fqdn");
  auto first = open(kA, "", dir);
  REQUIRE(first.ok());
  CHECK(ReasonOf(open(kA, "", dir).status()) == "busy");  // one node per directory
  REQUIRE((*first)->Close().ok());
  // The directory remembers whose it is.
  CHECK(ReasonOf(open(kB, "", dir).status()) == "name_mismatch");
  CHECK(open(kA, "", dir).ok());
}

TEST_CASE("a configured array of three replicates the primary's writes") {
  Cluster c("replicate");
  c.Create(Description(kA));
  json st = StatusOf(c[kB]);
  CHECK(st["role"] == "secondary");
  CHECK(st["primary"] == kA);

  auto refused = c[kB].Put("sessions", "s1", "1");
  CHECK(GetErrorCode(refused.status()) == ErrorCode::kNotPrimary);
  CHECK(refused.status().message().find(kA) != std::string_view::npos);

  for (int i = 0; i < 50; ++i) {
    REQUIRE(c[kA].Put("sessions", absl::StrCat("s", i), absl::StrCat(i)).ok());
  }
  auto last = c[kA].Put("sessions", "last", R"("x")", replication::Wait::kAll);
  REQUIRE(last.ok());
  for (const std::string& name : {kB, kC}) {
    for (int i = 0; i < 50; ++i) {
      auto v = c[name].Get("sessions", absl::StrCat("s", i));
      REQUIRE(v.ok());
      CHECK(*v == absl::StrCat(i));
    }
  }
  REQUIRE(c[kA].WaitSynced(absl::Seconds(5)).ok());
  json primary = StatusOf(c[kA]);
  for (const json& m : primary["members"]) {
    CHECK(m["lag"] == 0);
    CHECK(m["applied_index"] == primary["log"]["index"]);
  }
  CHECK(primary["conflicts"] == 0);
  CHECK(ReasonOf(c[kA].CreateArray(Description(kA).dump())) == "already_in_array");
}

TEST_CASE("a secondary restarted mid-stream catches up from its store") {
  Cluster c("restart");
  c.Create(Description(kA));
  for (int i = 0; i < 20; ++i) REQUIRE(c[kA].Put("sessions", absl::StrCat("k", i), "1").ok());
  REQUIRE(c[kA].WaitSynced(absl::Seconds(5)).ok());
  c.Close(kB);
  for (int i = 20; i < 40; ++i) REQUIRE(c[kA].Put("sessions", absl::StrCat("k", i), "2").ok());
  Node& b = c.Open(kB);  // no CreateArray: it restarts as the member it was
  CHECK(StatusOf(b)["primary"] == kA);
  REQUIRE(c[kA].WaitSynced(absl::Seconds(5)).ok());
  for (int i = 0; i < 40; ++i) CHECK(b.Get("sessions", absl::StrCat("k", i)).ok());

  // The primary restarts too, with its log and repository.
  json before = StatusOf(c[kA]);
  c.Close(kA);
  Node& a = c.Open(kA);
  json after = StatusOf(a);
  CHECK(after["role"] == "primary");
  CHECK(after["log"] == before["log"]);
  CHECK(a.Get("sessions", "k39").ok());
  REQUIRE(a.Put("sessions", "after_restart", "3", replication::Wait::kAll).ok());
  CHECK(c[kC].Get("sessions", "after_restart").ok());
}

TEST_CASE("replication survives loss, reordering and duplication") {
  Cluster c("lossy");
  REQUIRE(c.net->SetDefaultLink({.delay = absl::Microseconds(200),
                                 .jitter = absl::Milliseconds(1),
                                 .loss = 0.2,
                                 .duplicate = 0.2,
                                 .reorder = 0.3,
                                 .reorder_window = absl::Milliseconds(3)})
              .ok());
  c.Create(Description(kA));
  for (int i = 0; i < 200; ++i) {
    REQUIRE(c[kA].Put("user_preferences", absl::StrCat("u", i), absl::StrCat(i)).ok());
  }
  auto synced = c[kA].WaitSynced(absl::Seconds(30));
  REQUIRE(synced.ok());
  for (const std::string& name : {kB, kC}) {
    for (int i = 0; i < 200; ++i) {
      auto v = c[name].Get("user_preferences", absl::StrCat("u", i));
      REQUIRE(v.ok());
      CHECK(*v == absl::StrCat(i));
    }
  }
  NetworkCounters n = c.net->counters();
  CHECK(n.lost > 0);
  CHECK(n.duplicated > 0);
  CHECK(n.reordered > 0);
}

TEST_CASE("failover at 20 ms and 10 ms intervals when the primary is closed") {
  const int interval_ms = GENERATE(20, 10);
  INFO("monitor interval " << interval_ms << " ms");
  Cluster c(absl::StrCat("failover-", interval_ms));
  // The array forms with failover off; then config edit turns on 20 ms (10 ms) failover, so no
  // member fails over while the others are still being configured.
  c.Create(Description(kA));
  REQUIRE(c[kA].WaitSynced(absl::Seconds(5)).ok());
  const double interval_s = interval_ms / 1000.0;
  REQUIRE(c[kA]
              .ConfigEdit(json{{"array-failoverenabled", true},
                               {"array-monitortime", interval_s},
                               {"array-maxmonitors", 3},
                               {"array-resubmitfindprimarywait", interval_s},
                               {"array-resubmitfindprimarymax", 3},
                               {"array-primaryreturnaction", "none"}}
                              .dump())
              .ok());
  REQUIRE(Eventually([&] {
    for (const std::string& name : {kB, kC}) {
      if (StatusOf(c[name])["resilience"]["failover_enabled"] != true) return false;
    }
    return true;
  }));
  REQUIRE(Eventually([&] {
    return c[kA].Put("global_configuration", "before", "1", replication::Wait::kAll).ok();
  }));
  c.Close(kA);
  // b is first on the backup list: it takes over with what a acknowledged to all.
  REQUIRE_EVENTUALLY(c, StatusOf(c[kB])["role"] == "primary" &&
                            StatusOf(c[kB])["writable"] == true);
  json st = StatusOf(c[kB]);
  CHECK(st["epoch"].get<std::uint64_t>() >= 2);
  CHECK(st["repaired"] == true);
  CHECK(st["original_formation"]["primary"] == kA);
  CHECK(c[kB].Get("global_configuration", "before").ok());
  REQUIRE_EVENTUALLY(c, c[kB].Put("global_configuration", "after", "2").ok());
  // (Whether c follows b is the failover machine's business at these intervals: on a loaded
  // machine a 20 ms probe can miss and split c off; the simulator's scenarios cover it.)

  // The event documents carry the words of the simulator's timeline.
  REQUIRE(c.events[kB]->WaitFor("promoted"));
  bool seen = false;
  for (const json& e : c.events[kB]->all()) {
    if (e["event"] != "promoted") continue;
    seen = true;
    CHECK(e["member"] == kB);
    CHECK(e["reason"].get<std::string>().size() > 0);
    CHECK(e["epoch"].get<std::uint64_t>() >= 2);
    CHECK(e["at"].get<std::string>().find('T') != std::string::npos);
  }
  CHECK(seen);
}

// The writable primary among `names`, or "" when there is none.
std::string WritablePrimary(Cluster& c, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    json st = StatusOf(c[name]);
    if (st["role"] == "primary" && st["writable"] == true && st["members"].size() == 3) {
      return name;
    }
  }
  return "";
}

TEST_CASE("quorum mode: no acknowledged write is lost across a failover") {
  Cluster c("quorum");
  // 100 ms monitor interval × 5: quick, and robust on a loaded machine.
  // Formed with failover off (no member gives up on a primary still being configured), then
  // config edit turns it on.
  c.Create(Description(kA, json{{"mode", "quorum"}, {"monitor_interval_s", 0.1}}));
  std::string primary;
  REQUIRE_EVENTUALLY(c, !(primary = WritablePrimary(c, {kA, kB, kC})).empty());
  REQUIRE(c[primary]
              .ConfigEdit(R"({"array-failoverenabled": true, "array-maxmonitors": 5,
                              "array-resubmitfindprimarywait": 0.1,
                              "array-resubmitfindprimarymax": 3})")
              .ok());
  REQUIRE_EVENTUALLY(c, StatusOf(c[kA])["resilience"]["failover_enabled"] == true &&
                            StatusOf(c[kB])["resilience"]["failover_enabled"] == true &&
                            StatusOf(c[kC])["resilience"]["failover_enabled"] == true);

  // Writers on their own threads write to the primary; every acknowledged key is recorded.
  // The primary is closed while they write.
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::atomic<int> next{0};
  Node* target = c.nodes[primary].get();
  auto writer = [&] {
    while (true) {
      std::string key = absl::StrCat("w", next++);
      auto pos = target->Put("sessions", key, "1");
      std::lock_guard lock(mu);
      if (pos.ok()) {
        acknowledged.push_back(key);
      } else if (pos.status().code() == absl::StatusCode::kCancelled ||
                 pos.status().code() == absl::StatusCode::kFailedPrecondition) {
        return;  // the node closed under us
      }
    }
  };
  std::vector<std::thread> writers;
  for (int i = 0; i < 4; ++i) writers.emplace_back(writer);
  auto enough = [&] {
    std::lock_guard lock(mu);
    return acknowledged.size() >= 50;
  };
  bool wrote = Eventually(enough);
  // Closing the primary ends the writers (their calls return CANCELLED or the node is closed).
  REQUIRE(c.nodes[primary]->Close().ok());
  for (std::thread& t : writers) t.join();
  if (!wrote) FAIL("fewer than 50 writes acknowledged\n" << c.Dump());

  std::vector<std::string> rest;
  for (const std::string& name : {kA, kB, kC}) {
    if (name != primary) rest.push_back(name);
  }
  std::string next_primary;
  auto elected = [&] {
    for (const std::string& name : rest) {
      json st = StatusOf(c[name]);
      if (st["role"] == "primary" && st["writable"] == true) next_primary = name;
    }
    return !next_primary.empty();
  };
  REQUIRE_EVENTUALLY(c, elected(), 20s);
  std::string other = next_primary == rest[0] ? rest[1] : rest[0];
  REQUIRE_EVENTUALLY(c, StatusOf(c[other])["primary"] == next_primary);
  // A write of the new primary's own epoch commits everything before it (entries of an older
  // epoch count as committed only through one of the new epoch); then every write the old
  // primary acknowledged (a majority of voters had it durably) must be there.
  REQUIRE_EVENTUALLY(
      c, c[next_primary].Put("sessions", "after", "1", replication::Wait::kAll).ok());
  std::lock_guard lock(mu);
  INFO("acknowledged " << acknowledged.size() << ", new primary " << next_primary);
  for (const std::string& key : acknowledged) {
    INFO(key);
    CHECK(c[next_primary].Get("sessions", key).ok());
  }
  CHECK(Eventually([&] {
    for (const std::string& key : acknowledged) {
      if (!c[other].Get("sessions", key).ok()) return false;
    }
    return true;
  }));
}

TEST_CASE("backup list operations and config edit, with their refusals") {
  Cluster c("operations");
  c.Create(Description(kA));
  auto list = c[kA].BackupPrimaries();
  REQUIRE(list.ok());
  CHECK(json::parse(*list) == json{kB, kC});
  CHECK(ReasonOf(c[kA].AddBackupPrimary(kB)) == "already_listed");
  CHECK(ReasonOf(c[kA].AddBackupPrimary(kA)) == "is_primary");
  CHECK(ReasonOf(c[kA].EditBackupPrimary(kB, 7)) == "invalid_position");
  CHECK(ReasonOf(c[kA].RemoveBackupPrimary("x.example.com")) == "not_a_member");
  CHECK(GetErrorCode(c[kB].RemoveBackupPrimary(kC)) == ErrorCode::kNotPrimary);
  REQUIRE(c[kA].EditBackupPrimary(kC, 1).ok());
  CHECK(json::parse(*c[kA].BackupPrimaries()) == json{kC, kB});
  REQUIRE(c[kA].RemoveBackupPrimary(kB).ok());
  CHECK(ReasonOf(c[kA].RemoveBackupPrimary(kB)) == "not_listed");
  REQUIRE(c[kA].AddBackupPrimary(kB, 1).ok());
  CHECK(json::parse(*c[kA].BackupPrimaries()) == json{kB, kC});
  // Secondaries learn the change from their next probe (50 ms).
  CHECK(Eventually([&] { return json::parse(*c[kC].BackupPrimaries()) == json{kB, kC}; }));

  CHECK(ReasonOf(c[kA].ConfigEdit(R"({"array-monitortme": 1})")) == "unknown_field");
  CHECK(ReasonOf(c[kA].ConfigEdit(R"({"array-maxmonitors": 0})")) == "out_of_range");
  CHECK(GetErrorCode(c[kB].ConfigEdit(R"({"array-maxmonitors": 5})")) == ErrorCode::kNotPrimary);
  REQUIRE(c[kA].ConfigEdit(R"({"array-maxmonitors": 5, "array-primaryreturnaction": "none"})")
              .ok());
  CHECK(StatusOf(c[kA])["resilience"]["monitor_attempts"] == 5);
  CHECK(Eventually([&] {
    return StatusOf(c[kB])["resilience"]["primary_return_action"] == "none";
  }));
}

TEST_CASE("make_primary hands the array over; detach and clean make members standalone") {
  Cluster c("make_primary");
  c.Create(Description(kA));
  REQUIRE(c[kA].Put("sessions", "k", "1", replication::Wait::kAll).ok());
  CHECK(ReasonOf(c[kA].Detach(kA)) == "detach_primary");
  CHECK(ReasonOf(c[kA].MakePrimary(kA)) == "already_primary");
  REQUIRE(Eventually([&] { return c[kA].MakePrimary(kB).ok(); }));  // once b's probe was heard
  REQUIRE(Eventually([&] { return StatusOf(c[kB])["role"] == "primary"; }));
  CHECK(Eventually([&] { return StatusOf(c[kC])["primary"] == kB; }));
  CHECK(Eventually([&] { return StatusOf(c[kA])["primary"] == kB; }));
  REQUIRE(Eventually([&] { return c[kB].Put("sessions", "k2", "2", replication::Wait::kAll).ok(); }));
  CHECK(c[kA].Get("sessions", "k2").ok());

  REQUIRE(c[kB].Detach(kC).ok());
  CHECK(Eventually([&] {
    json st = StatusOf(c[kC]);
    return st["role"] == "primary" && st["members"].size() == 1;
  }));
  CHECK(StatusOf(c[kB])["members"].size() == 2);
  CHECK(c[kC].Put("sessions", "standalone", "3").ok());  // its own array now

  REQUIRE(c[kA].Clean(false).ok());
  json st = StatusOf(c[kA]);
  CHECK(st["role"] == "primary");
  CHECK(st["members"].size() == 1);
}

TEST_CASE("events are kept for TakeEvents and delivered to the callback") {
  Cluster c("events");
  c.Create(Description(kA));
  std::vector<std::string> taken = c[kA].TakeEvents();
  REQUIRE_FALSE(taken.empty());
  CHECK(json::parse(taken.front())["event"] == "array_created");
  CHECK(c[kA].TakeEvents().empty());
  CHECK(c.events[kA]->WaitFor("array_created"));
}

TEST_CASE("a node cannot be closed from its own callback; other calls work there") {
  auto net = MemoryNetwork::Create();
  std::mutex mu;
  std::condition_variable cv;
  absl::Status close_status = absl::OkStatus();
  bool status_ok = false, done = false;
  Node* self = nullptr;
  NodeOptions o;
  o.name = kA;
  o.data_dir = DataDir("callback", kA);
  o.attach = AttachTo(net);
  o.on_event = [&](const std::string&) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return self != nullptr; });
    if (done) return;
    Node* node = self;
    lock.unlock();
    absl::Status s = node->Close();
    bool ok = node->Status().ok();
    lock.lock();
    close_status = s;
    status_ok = ok;
    done = true;
    cv.notify_all();
  };
  auto node = Node::Open(std::move(o));
  REQUIRE(node.ok());
  {
    std::lock_guard lock(mu);
    self = node->get();
  }
  cv.notify_all();
  REQUIRE((*node)->CreateArray(json{{"members", {{{"name", kA}, {"roles", {"frontend", "backend"}}}}},
                                    {"primary", kA}}
                                   .dump())
              .ok());
  std::unique_lock lock(mu);
  REQUIRE(cv.wait_for(lock, 10s, [&] { return done; }));
  CHECK(ReasonOf(close_status) == "in_callback");
  CHECK(status_ok);
}

}  // namespace
}  // namespace arraykit::node
