#include "node/resource_scheduler.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/model/array_json.h"
#include "core/model/json_reader.h"
#include "core/status.h"
#include "nlohmann/json.hpp"

namespace arraykit::node {
namespace {

namespace ji = model::json_internal;
using nlohmann::json;

constexpr std::size_t kMaxPathBytes = 4096;

// A field error of this document: `invalid_value` unless the reader gave a reason.
absl::Status Invalid(absl::Status status) {
  if (status.ok()) return status;
  if (ReasonOf(status) != "invalid_argument") return status;
  return WithReason(std::move(status), "invalid_value");
}

absl::StatusOr<std::string> ReadPath(const json& object, std::string_view field) {
  const std::string path = absl::StrCat("resources.", ji::AbslView(field));
  const json* value = ji::Find(object, field);
  if (value == nullptr) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_value",
                     absl::StrCat(path, ": required"));
  }
  auto text = ji::ReadString(*value, path, kMaxPathBytes, /*allow_empty=*/false);
  if (!text.ok()) return Invalid(text.status());
  return text;
}

// An IANA name ("Europe/Berlin", "Etc/GMT+1", "UTC"), never a path: the zone database reads
// files by name.
bool IsZoneName(std::string_view name) {
  if (name.front() == '/' || name.find("..") != std::string_view::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' ||
           c == '-' || c == '+';
  });
}

std::string Names(const std::vector<std::string>& names) {
  return names.empty() ? "" : absl::StrCat(": ", absl::StrJoin(names, ", "));
}

}  // namespace

absl::StatusOr<ResourceConfig> ResourceConfigFromJson(std::string_view options_json,
                                                      const std::string& data_dir) {
  auto doc = model::ParseJsonDocument(options_json, "resources");
  if (!doc.ok()) return doc.status();
  if (absl::Status s = ji::ExpectObjectWith(*doc, "resources",
                                            {"directory", "sync_at", "zone", "state_file"});
      !s.ok()) {
    return Invalid(s);
  }
  ResourceConfig config;
  auto directory = ReadPath(*doc, "directory");
  if (!directory.ok()) return directory.status();
  config.directory = *std::move(directory);

  const json* sync_at = ji::Find(*doc, "sync_at");
  if (sync_at == nullptr) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_time",
                     "resources.sync_at: required, a local time \"HH:MM\"");
  }
  if (!sync_at->is_string()) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_time",
                     absl::StrCat("resources.sync_at: must be a local time \"HH:MM\", got ",
                                  ji::Describe(*sync_at)));
  }
  auto at = resources::ParseDailyTime(sync_at->get_ref<const std::string&>(),
                                      "resources.sync_at");
  if (!at.ok()) return at.status();
  config.sync_at = *at;

  config.zone = absl::LocalTimeZone();
  if (const json* zone = ji::Find(*doc, "zone"); zone != nullptr) {
    auto name = ji::ReadString(*zone, "resources.zone", 256, /*allow_empty=*/false);
    if (!name.ok()) return Invalid(name.status());
    if (!IsZoneName(*name) || !absl::LoadTimeZone(*name, &config.zone)) {
      return MakeError(absl::StatusCode::kInvalidArgument, "invalid_value",
                       absl::StrCat("resources.zone: ", ji::Quoted(*name),
                                    " is not a known IANA time zone"));
    }
    config.zone_name = *std::move(name);
  }

  if (ji::Find(*doc, "state_file") != nullptr) {
    auto state_file = ReadPath(*doc, "state_file");
    if (!state_file.ok()) return state_file.status();
    config.state_file = *std::move(state_file);
  } else {
    config.state_file = absl::StrCat(data_dir, "/resources-state.json");
  }
  return config;
}

// ---- ResourceScheduler ---------------------------------------------------------------------

ResourceScheduler::ResourceScheduler(Node& node, ResourceSchedulerOptions options,
                                     std::unique_ptr<ResourceSync> sync)
    : node_(node), options_(std::move(options)), sync_(std::move(sync)) {}

absl::StatusOr<std::unique_ptr<ResourceScheduler>> ResourceScheduler::Start(
    Node& node, ResourceSchedulerOptions options) {
  if (!options.post_event) return absl::InvalidArgumentError("post_event: required");
  if (!options.now) options.now = [] { return absl::Now(); };
  options.sync.on_event = options.post_event;
  auto sync = ResourceSync::Create(node, options.sync);
  if (!sync.ok()) return sync.status();
  std::unique_ptr<ResourceScheduler> scheduler(
      new ResourceScheduler(node, std::move(options), *std::move(sync)));
  scheduler->next_ = resources::NextSyncAt(scheduler->options_.now(), scheduler->options_.at,
                                           scheduler->options_.zone);
  scheduler->thread_ = std::thread([s = scheduler.get()] { s->Run(); });
  return scheduler;
}

ResourceScheduler::~ResourceScheduler() { Stop(); }

void ResourceScheduler::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

absl::Time ResourceScheduler::next_sync_at() const {
  std::lock_guard lock(mu_);
  return next_;
}

std::uint64_t ResourceScheduler::scheduled_runs() const {
  std::lock_guard lock(mu_);
  return runs_;
}

void ResourceScheduler::ClockChanged() {
  std::unique_lock lock(mu_);
  const std::uint64_t change = ++clock_changes_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return stop_ || clock_seen_ >= change; });
}

void ResourceScheduler::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    const std::uint64_t changes = clock_changes_;
    const absl::Time now = options_.now();
    if (now >= next_) {
      const absl::Time instant = next_;
      lock.unlock();
      RunScheduled(instant);
      lock.lock();
      ++runs_;
      // Strictly after both the instant and the clock: the next day's, even after a failure.
      next_ = resources::NextSyncAt(std::max(options_.now(), instant), options_.at, options_.zone);
      continue;
    }
    clock_seen_ = changes;
    cv_.notify_all();
    const absl::Duration wait = std::min(next_ - now, kMaxWait);
    cv_.wait_for(lock, absl::ToChronoNanoseconds(wait),
                 [&] { return stop_ || clock_changes_ != changes; });
  }
  clock_seen_ = clock_changes_;
  cv_.notify_all();
}

void ResourceScheduler::RunScheduled(absl::Time instant) {
  auto report = sync_->SyncNow();
  if (report.ok()) {
    PostSynced(*report, "scheduled", instant);
  } else {
    PostFailed(report.status(), instant);
  }
}

absl::StatusOr<ResourceSyncReport> ResourceScheduler::SyncNow() {
  auto report = sync_->SyncNow();
  if (report.ok()) PostSynced(*report, "manual", options_.now());
  return report;
}

std::uint64_t ResourceScheduler::Epoch() {
  auto status = node_.Status();
  if (!status.ok()) return 0;
  const json doc = json::parse(*status, nullptr, /*allow_exceptions=*/false);
  return doc.is_object() ? doc.value("epoch", std::uint64_t{0}) : 0;
}

void ResourceScheduler::PostSynced(const ResourceSyncReport& r, std::string_view trigger,
                                   absl::Time instant) {
  std::string what =
      r.role == "primary"
          ? absl::StrCat(r.put.size(), " put", Names(r.put), "; ", r.deleted.size(), " deleted",
                         Names(r.deleted))
          : absl::StrCat(r.written.size(), " written", Names(r.written), "; ", r.removed.size(),
                         " removed", Names(r.removed), "; ", r.overwritten.size(),
                         " local changes overwritten");
  json doc{{"event", "resources_synced"},
           {"member", node_.name()},
           {"reason", absl::StrCat("resource files synchronized as ", r.role, ": ", what, "; ",
                                   r.refused.size(), " refused; ", r.unchanged, " unchanged")},
           {"epoch", Epoch()},
           {"at", ji::FormatRfc3339(options_.now())},
           {"trigger", std::string(trigger)},
           {"role", r.role},
           {"put", r.put.size()},
           {"deleted", r.deleted.size()},
           {"written", r.written.size()},
           {"removed", r.removed.size()},
           {"overwritten", r.overwritten.size()},
           {"refused", r.refused.size()},
           {"unchanged", r.unchanged}};
  if (trigger == "scheduled") doc["scheduled"] = ji::FormatRfc3339(instant);
  options_.post_event(doc.dump(-1, ' ', false, json::error_handler_t::replace));
}

void ResourceScheduler::PostFailed(const absl::Status& status, absl::Time instant) {
  const absl::Time next =
      resources::NextSyncAt(std::max(options_.now(), instant), options_.at, options_.zone);
  json doc{{"event", "resources_sync_failed"},
           {"member", node_.name()},
           {"reason", absl::StrCat("resource files not synchronized: ", status.message(),
                                   "; retried at ", ji::FormatRfc3339(next))},
           {"epoch", Epoch()},
           {"at", ji::FormatRfc3339(options_.now())},
           {"code", ReasonOf(status)},
           {"trigger", "scheduled"},
           {"scheduled", ji::FormatRfc3339(instant)},
           {"next", ji::FormatRfc3339(next)}};
  options_.post_event(doc.dump(-1, ' ', false, json::error_handler_t::replace));
}

// ---- Node::ResourceHost --------------------------------------------------------------------

absl::Status Node::ResourceHost::Configure(Node& node, std::string_view options_json,
                                           const std::string& data_dir,
                                           std::function<void(std::string)> post_event) {
  auto config = ResourceConfigFromJson(options_json, data_dir);
  if (!config.ok()) return config.status();
  std::lock_guard lock(mu_);
  if (stopped_) {
    return absl::FailedPreconditionError(absl::StrCat(node.name(), " is closed"));
  }
  // The old scheduler stops first: two must never sync the same directory at once.
  if (scheduler_) {
    scheduler_->Stop();
    scheduler_.reset();
  }
  ResourceSchedulerOptions options;
  options.sync.directory = config->directory;
  options.sync.state_file = config->state_file;
  options.at = config->sync_at;
  options.zone = config->zone;
  options.post_event = std::move(post_event);
  auto scheduler = ResourceScheduler::Start(node, std::move(options));
  if (!scheduler.ok()) return scheduler.status();
  scheduler_ = *std::move(scheduler);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Node::ResourceHost::SyncNow(const std::string& name) {
  std::shared_ptr<ResourceScheduler> scheduler;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return absl::FailedPreconditionError(absl::StrCat(name, " is closed"));
    scheduler = scheduler_;
  }
  if (!scheduler) {
    return MakeError(absl::StatusCode::kFailedPrecondition, "not_configured",
                     absl::StrCat(name, ": resource-file sync is not configured "
                                        "(configure_resources first)"));
  }
  auto report = scheduler->SyncNow();
  if (!report.ok()) return report.status();
  return report->ToJson();
}

void Node::ResourceHost::Stop() {
  std::shared_ptr<ResourceScheduler> scheduler;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    scheduler = std::move(scheduler_);
  }
  if (scheduler) scheduler->Stop();
}

}  // namespace arraykit::node
