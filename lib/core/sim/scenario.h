// Scenario documents for the simulator (DESIGN.md §3): an array description plus the events to
// inject, the run length and the wall clock at t = 0.
//
// Extensions beyond DESIGN §3 (all optional): `standalone` (members that start outside the array,
// each a one-member array of its own), `network` (delay, jitter, loss), `clocks` (per member
// offset and drift), `seed` (for jitter and loss), and the operator event kinds `clean`,
// `change` and the array operations. Documented in docs/failover.md.
#ifndef ARRAYKIT_CORE_SIM_SCENARIO_H_
#define ARRAYKIT_CORE_SIM_SCENARIO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/model/array.h"
#include "nlohmann/json.hpp"

namespace arraykit::sim {

inline constexpr std::size_t kMaxSimMembers = 32;
inline constexpr std::size_t kMaxEvents = 10000;
inline constexpr double kMaxUntilSeconds = 1e8;  // about three years of virtual time
inline constexpr double kDefaultUntilSeconds = 3600;
inline constexpr double kMaxDelaySeconds = 3600;
inline constexpr double kMaxClockOffsetSeconds = 86400;

struct NetworkSpec {
  absl::Duration delay = absl::ZeroDuration();   // every message takes this long...
  absl::Duration jitter = absl::ZeroDuration();  // ...plus up to this much more (seeded)
  double loss = 0;                               // probability a message is dropped
};

struct ClockSpec {
  absl::Duration offset = absl::ZeroDuration();  // member clock minus virtual time at t = 0
  std::int64_t drift_ppm = 0;                    // rate error, |drift| <= kMaxClockDriftPpm
};

enum class EventKind {
  kCrash,
  kRestart,
  kPartition,
  kHeal,
  kNetwork,
  kClean,
  kChange,
  // Array operations (docs/operations-core.md), run on `member` (the event's "on", default
  // the configured primary).
  kMakePrimary,  // make_primary `target`
  kDetach,       // detach `target`
  kConfigEdit,   // config edit `config_edit` (seed attribute names)
  kWrite,        // a host's write request on `member` (`write`)
  kJoin,         // join standalone member `target` to `member`'s array
};

// A host's write request on one member (docs/replication.md, "Simulator"): the value is any
// JSON; `delete` removes the key instead.
struct WriteSpec {
  std::string category;
  std::string key;
  std::string value;  // compact JSON text ("" for a delete)
  bool erase = false;
  bool wait_all = false;
};

struct ScenarioEvent {
  std::int64_t at_us = 0;  // virtual time, microseconds
  EventKind kind = EventKind::kHeal;
  std::string member;                            // crash, restart, clean, change
  std::vector<std::vector<std::string>> groups;  // partition (unnamed members form one more group)
  bool contact_members = false;                  // clean --contactmembers
  NetworkSpec network;                           // network
  std::optional<std::vector<std::string>> backup_primaries;  // change
  std::optional<nlohmann::json> resilience;                  // change (validated, applied later)
  std::string target;                                        // make_primary, detach, join
  std::optional<nlohmann::json> config_edit;  // config_edit (validated, applied later)
  WriteSpec write;                                           // write (member: the one asked)
};

struct Scenario {
  model::Array array;
  // Members that start outside the array, each standalone (a one-member array of its own, as a
  // node's first start makes it) until a `join` brings it in. Names differ from the array's.
  std::vector<model::Member> standalone;
  std::vector<ScenarioEvent> events;  // in time order
  std::int64_t until_us = 0;
  absl::Time start_clock = absl::UnixEpoch();
  NetworkSpec network;
  absl::flat_hash_map<std::string, ClockSpec> clocks;  // by member name
  std::uint64_t seed = 1;
};

// The description of a member of the scenario (the array's or a standalone one), by name
// (case-insensitive); nullptr when there is none.
const model::Member* FindMember(const Scenario& scenario, std::string_view name);

// Parses and validates a scenario. Errors are INVALID_ARGUMENT naming the field or the event
// (`events[3]: ...`).
absl::StatusOr<Scenario> ScenarioFromJson(const nlohmann::json& doc);

std::string_view ToString(EventKind kind);

}  // namespace arraykit::sim

#endif  // ARRAYKIT_CORE_SIM_SCENARIO_H_
