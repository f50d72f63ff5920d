// The daily resource-file sync of a running member (lib/node/resource_scheduler): the options
// document, the scheduler driven by a fake wall clock (no real waits), its stop, a failure
// retried the next day, and Node::ConfigureResources / SyncResources through the node's events.
#include "node/resource_scheduler.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/time/time.h"
#include "core/model/json_reader.h"
#include "core/status.h"
#include "nlohmann/json.hpp"
#include "node/node.h"

namespace arraykit::node {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kA = "a.example.com";

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "arraykit-scheduler-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string ReasonOfConfig(const std::string& text) {
  auto config = ResourceConfigFromJson(text, "/data");
  return config.ok() ? "ok" : ReasonOf(config.status());
}

TEST_CASE("the options document is strict") {
  auto config = ResourceConfigFromJson(R"({"directory": "/srv/res", "sync_at": "03:30"})", "/d");
  REQUIRE(config.ok());
  CHECK(config->directory == "/srv/res");
  CHECK(config->sync_at == resources::DailyTime{3, 30});
  CHECK(config->state_file == "/d/resources-state.json");
  CHECK(config->zone_name.empty());

  config = ResourceConfigFromJson(
      R"({"directory": "r", "sync_at": "23:59", "zone": "Europe/Berlin", "state_file": "s"})",
      "/d");
  REQUIRE(config.ok());
  CHECK(config->state_file == "s");
  CHECK(config->zone_name == "Europe/Berlin");
  CHECK(config->zone.name() == "Europe/Berlin");

  CHECK(ReasonOfConfig(R"({"directory": "r", "sync_at": "03:30", "synch_at": "x"})") ==
        "unknown_field");
  auto unknown = ResourceConfigFromJson(R"({"directory": "r", "sync_at": "03:30", "zon": 1})", "");
  CHECK(std::string(unknown.status().message()).find("zone") != std::string::npos);
  CHECK(ReasonOfConfig(R"({"sync_at": "03:30"})") == "invalid_value");
  CHECK(ReasonOfConfig(R"({"directory": "", "sync_at": "03:30"})") == "invalid_value");
  CHECK(ReasonOfConfig(R"({"directory": 7, "sync_at": "03:30"})") == "invalid_value");
  CHECK(ReasonOfConfig(R"({"directory": "r"})") == "invalid_time");
  CHECK(ReasonOfConfig(R"({"directory": "r", "sync_at": "24:00"})") == "invalid_time");
  CHECK(ReasonOfConfig(R"({"directory": "r", "sync_at": "3:30"})") == "invalid_time");
  CHECK(ReasonOfConfig(R"({"directory": "r", "sync_at": 330})") == "invalid_time");
  CHECK(ReasonOfConfig(R"({"directory": "r", "sync_at": "03:30", "zone": "Mars/Olympus"})") ==
        "invalid_value");
  CHECK(ReasonOfConfig(R"({"directory": "r", "sync_at": "03:30", "zone": "/etc/localtime"})") ==
        "invalid_value");
  CHECK(ReasonOfConfig(R"({"directory": "r", "sync_at": "03:30", "zone": "../zoneinfo/UTC"})") ==
        "invalid_value");
  CHECK(ResourceConfigFromJson(R"({"directory": "r", "sync_at": "03:30", "zone": "Etc/GMT+1"})",
                               "")
            .ok());
  CHECK(ReasonOfConfig(R"({"directory": "r", "sync_at": "03:30", "zone": ""})") ==
        "invalid_value");
  CHECK(ReasonOfConfig(R"({"directory": "r", "sync_at": "03:30", "state_file": ""})") ==
        "invalid_value");
  CHECK(ReasonOfConfig(R"({"directory": "r", "directory": "s", "sync_at": "03:30"})") ==
        "duplicate_key");
  CHECK(ReasonOfConfig(R"(["r"])") == "invalid_value");
  CHECK(ReasonOfConfig("{") == "invalid_json");
}

// A standalone member (the writable primary of a one-member array), its scheduler on a fake
// clock, and the events it posted.
struct Fixture {
  TempDir tmp;
  std::shared_ptr<MemoryNetwork> net = MemoryNetwork::Create(1);
  std::unique_ptr<Node> node;
  std::mutex mu;
  std::condition_variable cv;
  absl::Time now;  // the fake wall clock (guarded by mu)
  std::vector<json> events;
  std::unique_ptr<ResourceScheduler> scheduler;

  explicit Fixture(absl::Time start) : now(start) {
    NodeOptions o;
    o.name = kA;
    o.data_dir = tmp.Sub("data");
    o.attach = AttachTo(net);
    auto opened = Node::Open(std::move(o));
    REQUIRE(opened.ok());
    node = *std::move(opened);
  }
  ~Fixture() {
    scheduler.reset();
    node->Close().IgnoreError();
  }
  std::string dir() const { return tmp.Sub("resources"); }
  void Start(resources::DailyTime at, const std::string& zone) {
    ResourceSchedulerOptions o;
    o.sync.directory = dir();
    o.sync.state_file = tmp.Sub("data/resources-state.json");
    o.at = at;
    REQUIRE(absl::LoadTimeZone(zone, &o.zone));
    o.now = [this] {
      std::lock_guard lock(mu);
      return now;
    };
    o.post_event = [this](std::string e) {
      std::lock_guard lock(mu);
      events.push_back(json::parse(e));
      cv.notify_all();
    };
    auto s = ResourceScheduler::Start(*node, std::move(o));
    REQUIRE(s.ok());
    scheduler = *std::move(s);
  }
  void SetClock(absl::Time t) {
    {
      std::lock_guard lock(mu);
      now = t;
    }
    scheduler->ClockChanged();
  }
  std::vector<json> Events() {
    std::lock_guard lock(mu);
    return events;
  }
  // Waits (at most 10 s real time) until `count` events were posted.
  std::vector<json> WaitForEvents(std::size_t count) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return events.size() >= count; });
    return events;
  }
};

absl::Time Utc(int y, int mo, int d, int h, int mi, int s) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

TEST_CASE("the scheduler syncs at the configured local time, and not before") {
  // 03:30 in Berlin on 2026-12-01 (CET, UTC+1) is 02:30 UTC.
  Fixture f(Utc(2026, 12, 1, 1, 0, 0));
  f.Start({3, 30}, "Europe/Berlin");
  const absl::Time instant = Utc(2026, 12, 1, 2, 30, 0);
  CHECK(f.scheduler->next_sync_at() == instant);
  WriteFile(f.dir() + "/login.sh", "echo hello\n");

  f.SetClock(instant - absl::Seconds(1));
  CHECK(f.scheduler->scheduled_runs() == 0);
  CHECK(f.Events().empty());

  f.SetClock(instant);
  auto events = f.WaitForEvents(1);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["event"] == "resources_synced");
  CHECK(events[0]["member"] == kA);
  CHECK(events[0]["trigger"] == "scheduled");
  CHECK(events[0]["scheduled"] == model::json_internal::FormatRfc3339(instant));
  CHECK(events[0]["role"] == "primary");
  CHECK(events[0]["put"] == 1);
  CHECK(events[0]["deleted"] == 0);
  CHECK(events[0]["reason"].get<std::string>().find("login.sh") != std::string::npos);
  CHECK(json::parse(*f.node->List("resource_files")).contains("login.sh"));

  // Done for today: tomorrow at 03:30, and the same instant again does not sync twice.
  f.SetClock(instant + absl::Seconds(1));
  CHECK(f.scheduler->scheduled_runs() == 1);
  CHECK(f.scheduler->next_sync_at() == instant + absl::Hours(24));
  CHECK(f.Events().size() == 1);

  // The next day, a changed file moves and an unchanged one does not.
  WriteFile(f.dir() + "/login.sh", "echo changed\n");
  f.SetClock(instant + absl::Hours(24));
  events = f.WaitForEvents(2);
  REQUIRE(events.size() == 2);
  CHECK(events[1]["put"] == 1);
  CHECK(f.scheduler->scheduled_runs() == 2);
}

TEST_CASE("a daylight-saving change moves the UTC instant of the daily sync") {
  // 2027-03-28: Berlin goes from CET (UTC+1) to CEST (UTC+2); 03:30 local is 01:30 UTC.
  Fixture f(Utc(2027, 3, 27, 3, 0, 0));
  f.Start({3, 30}, "Europe/Berlin");
  CHECK(f.scheduler->next_sync_at() == Utc(2027, 3, 28, 1, 30, 0));
  f.SetClock(Utc(2027, 3, 28, 1, 30, 0));
  REQUIRE(f.WaitForEvents(1).size() == 1);
  CHECK(f.scheduler->next_sync_at() == Utc(2027, 3, 29, 1, 30, 0));
}

TEST_CASE("a failed sync is reported with its reason and retried at the next instant only") {
  Fixture f(Utc(2026, 12, 1, 0, 0, 0));
  f.Start({6, 0}, "UTC");
  const absl::Time instant = Utc(2026, 12, 1, 6, 0, 0);
  // The resource directory is replaced by a file: the scan fails.
  fs::remove_all(f.dir());
  WriteFile(f.dir(), "not a directory");

  f.SetClock(instant);
  auto events = f.WaitForEvents(1);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["event"] == "resources_sync_failed");
  CHECK(events[0]["code"] == "io_error");
  CHECK(events[0]["next"] == model::json_internal::FormatRfc3339(instant + absl::Hours(24)));
  CHECK(events[0]["reason"].get<std::string>().find(f.dir()) != std::string::npos);
  CHECK(f.scheduler->next_sync_at() == instant + absl::Hours(24));

  // No retry before the next day's instant, however often the thread looks.
  for (int hour = 1; hour < 24; hour += 6) f.SetClock(instant + absl::Hours(hour));
  CHECK(f.scheduler->scheduled_runs() == 1);
  CHECK(f.Events().size() == 1);

  fs::remove(f.dir());
  WriteFile(f.dir() + "/motd", "hi");
  f.SetClock(instant + absl::Hours(24));
  events = f.WaitForEvents(2);
  REQUIRE(events.size() == 2);
  CHECK(events[1]["event"] == "resources_synced");
  CHECK(events[1]["put"] == 1);
}

TEST_CASE("the scheduler stops at once, without waiting for its next instant") {
  Fixture f(absl::Now());
  ResourceSchedulerOptions o;
  o.sync.directory = f.dir();
  o.sync.state_file = f.tmp.Sub("state.json");
  o.at = {3, 30};
  o.zone = absl::UTCTimeZone();
  o.post_event = [](std::string) {};
  auto s = ResourceScheduler::Start(*f.node, std::move(o));  // the real clock
  REQUIRE(s.ok());
  (*s)->ClockChanged();  // the thread is waiting for 03:30 now
  const auto started = std::chrono::steady_clock::now();
  (*s)->Stop();
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(500));
  (*s)->Stop();  // idempotent
  (*s)->ClockChanged();  // returns once stopped
  CHECK((*s)->scheduled_runs() == 0);
}

TEST_CASE("a scheduler needs an event sink and a usable directory") {
  Fixture f(absl::Now());
  ResourceSchedulerOptions o;
  o.sync.directory = f.dir();
  o.sync.state_file = f.tmp.Sub("state.json");
  CHECK(ResourceScheduler::Start(*f.node, o).status().code() ==
        absl::StatusCode::kInvalidArgument);
  o.post_event = [](std::string) {};
  WriteFile(f.dir(), "a file");
  CHECK(ReasonOf(ResourceScheduler::Start(*f.node, o).status()) == "io_error");
}

// ---- through Node ------------------------------------------------------------------------------

TEST_CASE("Node::ConfigureResources and SyncResources post through the node's events") {
  TempDir tmp;
  auto net = MemoryNetwork::Create(1);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<json> delivered;
  NodeOptions o;
  o.name = kA;
  o.data_dir = tmp.Sub("data");
  o.attach = AttachTo(net);
  o.on_event = [&](const std::string& e) {
    std::lock_guard lock(mu);
    delivered.push_back(json::parse(e));
    cv.notify_all();
  };
  auto opened = Node::Open(std::move(o));
  REQUIRE(opened.ok());
  Node& node = **opened;
  node.TakeEvents();

  auto refused = node.SyncResources();
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(ReasonOf(refused.status()) == "not_configured");
  CHECK(ReasonOf(node.ConfigureResources(R"({"directory": "x", "sync_at": "03:30", "at": 1})")) ==
        "unknown_field");
  CHECK(ReasonOf(node.ConfigureResources(R"({"directory": "x", "sync_at": "3h"})")) ==
        "invalid_time");
  CHECK(ReasonOf(node.SyncResources().status()) == "not_configured");  // nothing started

  const std::string dir = tmp.Sub("resources");
  json options{{"directory", dir}, {"sync_at", "03:30"}, {"zone", "Europe/Berlin"}};
  REQUIRE(node.ConfigureResources(options.dump()).ok());
  WriteFile(dir + "/login.sh", "echo hi\n");
  auto report = node.SyncResources();
  REQUIRE(report.ok());
  const json r = json::parse(*report);
  CHECK(r["role"] == "primary");
  CHECK(r["put"] == json{"login.sh"});

  auto kept = node.TakeEvents();
  REQUIRE(kept.size() == 1);
  const json e = json::parse(kept[0]);
  CHECK(e["event"] == "resources_synced");
  CHECK(e["trigger"] == "manual");
  CHECK(!e.contains("scheduled"));
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return !delivered.empty(); });
    REQUIRE(delivered.size() == 1);
    CHECK(delivered[0]["event"] == "resources_synced");
  }

  // Reconfiguring replaces the scheduler; a bad document leaves the running one.
  CHECK(ReasonOf(node.ConfigureResources(R"({"directory": "", "sync_at": "03:30"})")) ==
        "invalid_value");
  REQUIRE(node.SyncResources().ok());
  options["directory"] = tmp.Sub("other");
  REQUIRE(node.ConfigureResources(options.dump()).ok());
  const json second = json::parse(*node.SyncResources());
  CHECK(second["deleted"] == json{"login.sh"});  // the other directory is empty

  REQUIRE(node.Close().ok());
  CHECK(node.SyncResources().status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(node.ConfigureResources(options.dump()).code() == absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace arraykit::node
