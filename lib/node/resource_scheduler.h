// The daily resource-file sync of a running member (DESIGN.md §7 rule 5; docs/resources.md):
// a thread that sleeps until the next instant at which the configured zone's wall clock shows
// the configured "HH:MM" (core/resources NextSyncAt), runs ResourceSync::SyncNow, posts what it
// did as events, and sleeps again. A failed sync is posted with its reason and retried at the
// next day's instant, never sooner. A sync missed while the member was down is not caught up.
//
// ResourceConfigFromJson reads the host's options document; Node::ConfigureResources and
// Node::SyncResources (node.h) run a scheduler per node through Node::ResourceHost.
#ifndef ARRAYKIT_NODE_RESOURCE_SCHEDULER_H_
#define ARRAYKIT_NODE_RESOURCE_SCHEDULER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/resources/resources.h"
#include "node/node.h"
#include "node/resource_files.h"

namespace arraykit::node {

// The options document of Node::ConfigureResources, read.
struct ResourceConfig {
  std::string directory;
  resources::DailyTime sync_at;
  absl::TimeZone zone;     // the process's local zone unless "zone" names one
  std::string zone_name;   // as given; "" for the local zone
  std::string state_file;  // default: DATA_DIR/resources-state.json
};

// {"directory": "...", "sync_at": "HH:MM", "zone": "Europe/Berlin", "state_file": "..."}
// (zone and state_file optional). Strict: unknown fields INVALID_ARGUMENT `unknown_field`;
// a missing or empty directory, a value of the wrong type, an unknown zone `invalid_value`;
// sync_at not "HH:MM" `invalid_time`; plus ParseJsonDocument's reasons.
absl::StatusOr<ResourceConfig> ResourceConfigFromJson(std::string_view options_json,
                                                      const std::string& data_dir);

struct ResourceSchedulerOptions {
  ResourceSyncOptions sync;  // its on_event is replaced: events go to post_event
  resources::DailyTime at;
  absl::TimeZone zone;
  // The wall clock (empty: absl::Now). Tests drive a fake one and call ClockChanged.
  std::function<absl::Time()> now;
  // Where events go (required): the node's event path. Called on the scheduler's thread, or on
  // the caller's for SyncNow; never under the scheduler's lock.
  std::function<void(std::string)> post_event;
};

class ResourceScheduler {
 public:
  // Creates the ResourceSync (the directory is made when absent) and starts the thread.
  // `node` must outlive the scheduler.
  static absl::StatusOr<std::unique_ptr<ResourceScheduler>> Start(Node& node,
                                                                  ResourceSchedulerOptions options);
  ~ResourceScheduler();  // Stop()
  ResourceScheduler(const ResourceScheduler&) = delete;
  ResourceScheduler& operator=(const ResourceScheduler&) = delete;

  // Wakes the thread and joins it; a sync in progress finishes first. Idempotent.
  void Stop();

  // One synchronization now, outside the schedule (which it does not move): its events are
  // posted; a failure is returned, not posted.
  absl::StatusOr<ResourceSyncReport> SyncNow();

  // The instant of the next scheduled sync.
  absl::Time next_sync_at() const;
  // Scheduled syncs run so far (successful or not).
  std::uint64_t scheduled_runs() const;

  // The wall clock moved other than by time passing (a fake clock in tests, a host's clock
  // change): the thread looks at it again now. Returns once it has (after a sync in progress).
  // The thread also looks at least every kMaxWait on its own.
  void ClockChanged();

  static constexpr absl::Duration kMaxWait = absl::Minutes(1);

 private:
  ResourceScheduler(Node& node, ResourceSchedulerOptions options,
                    std::unique_ptr<ResourceSync> sync);
  void Run();
  void RunScheduled(absl::Time instant);
  void PostSynced(const ResourceSyncReport& report, std::string_view trigger, absl::Time instant);
  void PostFailed(const absl::Status& status, absl::Time instant);
  std::uint64_t Epoch();

  Node& node_;
  ResourceSchedulerOptions options_;
  std::unique_ptr<ResourceSync> sync_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  absl::Time next_;
  std::uint64_t runs_ = 0;
  std::uint64_t clock_changes_ = 0;  // ClockChanged calls
  std::uint64_t clock_seen_ = 0;     // the calls the thread has looked at the clock after
  std::thread thread_;
  std::mutex stop_mu_;  // one Stop at a time
};

// What a Node holds for its resource files: the scheduler ConfigureResources started, if any.
// Stop (from Node::Close, before the loop stops) is final.
class Node::ResourceHost {
 public:
  ResourceHost() = default;
  ~ResourceHost() { Stop(); }

  // Replaces the running scheduler (the old one is stopped first). Refused once stopped.
  absl::Status Configure(Node& node, std::string_view options_json, const std::string& data_dir,
                         std::function<void(std::string)> post_event);
  // FAILED_PRECONDITION `not_configured` before Configure.
  absl::StatusOr<std::string> SyncNow(const std::string& name);
  void Stop();

 private:
  std::mutex mu_;  // guards the fields, and orders Configure with Stop
  bool stopped_ = false;
  std::shared_ptr<ResourceScheduler> scheduler_;
};

}  // namespace arraykit::node

#endif  // ARRAYKIT_NODE_RESOURCE_SCHEDULER_H_
