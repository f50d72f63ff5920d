#include "core/sim/random_scenario.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/sim/scenario.h"
#include "core/sim/simulator.h"

namespace arraykit::sim {
namespace {

using nlohmann::json;

int Between(Rng& rng, int lo, int hi) {
  return lo + static_cast<int>(rng.Below(static_cast<std::uint64_t>(hi - lo + 1)));
}

template <typename T>
void Shuffle(Rng& rng, std::vector<T>& items) {
  for (std::size_t i = items.size(); i > 1; --i) {
    std::swap(items[i - 1], items[rng.Below(i)]);
  }
}

// Members' clocks are off by at most this much, and drift at most this fast.
constexpr int kMaxOffsetS = 100;
constexpr int kMaxDriftPpm = 500;

struct Generated {
  json scenario;
  bool accept = false;
};

Generated Generate(std::uint64_t seed, const RandomOptions& options) {
  Rng rng(seed * 0x2545f4914f6cdd1dULL + 1);
  const int n = Between(rng, options.min_members, options.max_members);
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back(absl::StrCat("m", i, ".example.com"));
  // One to five voters (back-ends). Placement asks for an odd count, but the simulator accepts
  // any, and even counts keep the majority arithmetic honest: with 2 or 4 voters a split into
  // halves must leave no writable primary, which the two-writable-primaries invariant checks.
  std::vector<std::string> shuffled = names;
  Shuffle(rng, shuffled);
  const int voters = 1 + static_cast<int>(rng.Below(static_cast<std::uint64_t>(std::min(n, 5))));
  json members = json::array();
  for (const std::string& name : names) {
    const bool backend =
        std::find(shuffled.begin(), shuffled.begin() + voters, name) != shuffled.begin() + voters;
    members.push_back(
        json{{"name", name}, {"roles", backend ? json{"frontend", "backend"} : json{"frontend"}}});
  }
  const std::string primary = names[rng.Below(names.size())];
  std::vector<std::string> backups;
  for (const std::string& name : names) {
    if (name != primary) backups.push_back(name);
  }
  Shuffle(rng, backups);
  if (rng.Below(10) == 0 && n > 2) {
    backups.clear();
  } else if (rng.Below(3) == 0) {
    backups.resize(1 + rng.Below(backups.size()));
  }
  const int monitor = Between(rng, 2, 30);
  // At least two: with one attempt the grace period equals the probe period and any message
  // delay makes the primary's uncontactable marks flap (docs/failover.md §10).
  const int monitor_attempts = Between(rng, 2, 5);
  const int find = Between(rng, 2, 30);
  const int find_attempts = Between(rng, 1, 3);
  const std::uint64_t action_roll = rng.Below(10);
  const char* action = action_roll < 7 ? "accept" : action_roll < 9 ? "acceptsecondary" : "none";
  const bool quorum = rng.Below(2) == 0;
  const double grace = monitor * monitor_attempts;
  const double timeout = find * find_attempts;

  json clocks = json::object();
  for (const std::string& name : names) {
    if (rng.Below(2) == 0) continue;
    clocks[name] = json{{"offset_s", Between(rng, -kMaxOffsetS, kMaxOffsetS)},
                        {"drift_ppm", Between(rng, -kMaxDriftPpm, kMaxDriftPpm)}};
  }
  auto random_network = [&rng]() {
    return json{{"delay_s", static_cast<double>(rng.Below(500)) / 1000},
                {"jitter_s", static_cast<double>(rng.Below(1000)) / 1000},
                {"loss", rng.Below(3) == 0 ? static_cast<double>(rng.Below(50)) / 1000 : 0.0}};
  };

  // Faults until the horizon, then everything heals.
  const double horizon = grace * Between(rng, 2, 8) + timeout * Between(rng, 0, 3);
  const int faults = Between(rng, options.min_faults, options.max_faults);
  std::vector<double> times;
  for (int i = 0; i < faults; ++i) {
    times.push_back(static_cast<double>(rng.Below(static_cast<std::uint64_t>(horizon * 10))) / 10);
  }
  std::sort(times.begin(), times.end());
  json events = json::array();
  std::vector<bool> down(names.size(), false);
  bool cleaned = false;
  for (double at : times) {
    const std::uint64_t kind = rng.Below(10);
    const std::size_t who = rng.Below(names.size());
    if (kind < 3) {
      if (down[who]) {
        events.push_back(json{{"at_s", at}, {"restart", names[who]}});
      } else {
        events.push_back(json{{"at_s", at}, {"crash", names[who]}});
      }
      down[who] = !down[who];
    } else if (kind < 4) {
      if (down[who]) {
        events.push_back(json{{"at_s", at}, {"restart", names[who]}});
        down[who] = false;
      }
    } else if (kind < 7) {
      std::vector<std::string> order = names;
      Shuffle(rng, order);
      const int groups = Between(rng, 2, std::min(3, n));
      json partition = json::array();
      for (int g = 0; g < groups; ++g) partition.push_back(json::array());
      for (std::size_t i = 0; i < order.size(); ++i) {
        // The first `groups` members seed one group each, so no group is empty.
        const std::size_t g = i < static_cast<std::size_t>(groups)
                                  ? i
                                  : rng.Below(static_cast<std::uint64_t>(groups));
        partition[g].push_back(order[i]);
      }
      events.push_back(json{{"at_s", at}, {"partition", partition}});
    } else if (kind < 9) {
      events.push_back(json{{"at_s", at}, {"heal", true}});
    } else {
      const std::uint64_t sub = rng.Below(10);
      if (sub < 5) {
        events.push_back(json{{"at_s", at}, {"network", random_network()}});
      } else if (sub < 9 || !options.operator_clean) {
        // An operator reorders the backup list on some member: applied when it reaches the
        // primary outside a failover, refused (busy / not primary) otherwise.
        std::vector<std::string> list = backups;
        Shuffle(rng, list);
        events.push_back(json{
            {"at_s", at}, {"change", json{{"member", names[who]}, {"backup_primaries", list}}}});
      } else {
        events.push_back(
            json{{"at_s", at}, {"clean", names[who]}, {"contact_members", rng.Below(2) == 0}});
        cleaned = true;
      }
    }
  }
  events.push_back(json{{"at_s", horizon}, {"heal", true}});
  events.push_back(json{{"at_s", horizon}, {"network", json{{"delay_s", 0.01}}}});
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (down[i]) events.push_back(json{{"at_s", horizon}, {"restart", names[i]}});
  }
  // Long enough after the horizon for any walk, election, lease and recovery to finish.
  const double settle = 4 * (grace + n * timeout) + 10 * monitor + 2 * grace;

  json resilience{{"failover_enabled", true},
                  {"monitor_interval_s", monitor},
                  {"monitor_attempts", monitor_attempts},
                  {"find_primary_interval_s", find},
                  {"find_primary_attempts", find_attempts},
                  {"primary_return_action", action},
                  {"mode", quorum ? "quorum" : "array"}};
  // Host writes (docs/replication.md): drawn from their own generator, so a seed's faults are
  // the same with or without them. Most go to the configured primary (refused when it is not
  // a writable primary any more), some to any member, a few with bad input; the last ones come
  // after the horizon, once everything healed.
  Rng wrng(seed * 0x9e3779b97f4a7c15ULL + 7);
  const char* categories[] = {"global_configuration", "sessions", "password_cache",
                              "user_preferences", "no_such_category"};
  const int write_count = Between(wrng, 0, 12);
  std::vector<std::pair<double, json>> writes;
  for (int w = 0; w < write_count; ++w) {
    const bool late = wrng.Below(4) == 0;
    const double at = late ? horizon + static_cast<double>(wrng.Below(
                                           static_cast<std::uint64_t>(settle * 5))) / 10
                           : static_cast<double>(wrng.Below(static_cast<std::uint64_t>(horizon * 10))) / 10;
    const std::string member = wrng.Below(3) == 0 ? names[wrng.Below(names.size())] : primary;
    json write{{"member", member},
               {"category", categories[wrng.Below(wrng.Below(10) == 0 ? 5 : 4)]},
               {"key", absl::StrCat("k", wrng.Below(6))}};
    if (wrng.Below(8) == 0) {
      write["delete"] = true;
    } else {
      write["value"] = json{{"n", w}, {"seed", seed}};
    }
    if (wrng.Below(3) == 0) write["wait"] = "all";
    writes.emplace_back(at, std::move(write));
  }
  for (auto& [at, write] : writes) events.push_back(json{{"at_s", at}, {"write", write}});
  std::stable_sort(events.begin(), events.end(), [](const json& a, const json& b) {
    return a.at("at_s").get<double>() < b.at("at_s").get<double>();
  });

  Generated out;
  // `clean` removes array state by design: the original formation need not come back then.
  out.accept = std::string(action) == "accept" && !cleaned;
  out.scenario = json{{"description", absl::StrCat("random scenario, seed ", seed,
                                                   "; faults until ", horizon, " s")},
                      {"members", members},
                      {"primary", primary},
                      {"backup_primaries", backups},
                      {"resilience", resilience},
                      {"clocks", clocks},
                      {"network", random_network()},
                      {"seed", seed},
                      {"events", events},
                      {"until_s", horizon + settle}};
  // Some `accept` runs get a failback window (drawn last, so the rest of a seed's scenario is
  // the same with or without it). The window opens only after the faults have settled: every
  // fault meets a failback that waits (DESIGN §5.1 rule 5), and the run goes on long enough
  // after the window opens for the failback to finish, so the original formation must be back.
  if (std::string(action) == "accept" && rng.Below(4) == 0) {
    // Clock offsets are at most kMaxOffsetS: three minutes of margin keep every member's wall
    // clock outside the window until the faults have settled.
    const int open_minute = static_cast<int>((horizon + settle) / 60) + 3;
    // The window opens on each member's own clock: a member whose clock is behind sees it open
    // up to kMaxOffsetS (plus its drift) later, and the failback it runs then needs the
    // settling time too (seed 106625: a repaired primary 93 s behind saw the window open after
    // the run had ended).
    const double latest_open = (open_minute * 60.0 + kMaxOffsetS) / (1.0 - kMaxDriftPpm / 1e6) + 1;
    const auto hhmm = [](int minute) {
      minute %= 24 * 60;
      return absl::StrCat(minute / 60 < 10 ? "0" : "", minute / 60, ":",
                          minute % 60 < 10 ? "0" : "", minute % 60);
    };
    out.scenario["resilience"]["failback_window"] =
        json{{"start", hhmm(open_minute)}, {"end", hhmm(open_minute + 60)}};
    out.scenario["start_clock"] = "2026-01-01T00:00:00Z";
    out.scenario["until_s"] = std::ceil(latest_open) + settle;
  }
  return out;
}

}  // namespace

json RandomScenario(std::uint64_t seed, const RandomOptions& options) {
  return Generate(seed, options).scenario;
}

absl::Status RunRandomSeed(std::uint64_t seed, const RandomOptions& options) {
  Generated generated = Generate(seed, options);
  absl::StatusOr<Scenario> scenario = ScenarioFromJson(generated.scenario);
  auto failed = [seed](const absl::Status& status) {
    return absl::Status(
        status.code(),
        absl::StrCat("seed ", seed, ": ", status.message(), " (replay: scripts/soak 1 ", seed,
                     ", or sim_soak --seed ", seed, " --print for the scenario and its timeline)"));
  };
  if (!scenario.ok()) return failed(scenario.status());
  Simulator simulator(*std::move(scenario),
                      SimOptions{.record_timeline = false, .check_invariants = true});
  if (absl::Status status = simulator.Run(); !status.ok()) return failed(status);
  if (absl::Status status = simulator.CheckSettled(generated.accept); !status.ok()) {
    return failed(status);
  }
  if (absl::Status status = simulator.CheckReplicated(generated.accept); !status.ok()) {
    return failed(status);
  }
  if (options.check_liveness) {
    if (absl::Status status = simulator.CheckQuorumLive(); !status.ok()) return failed(status);
  }
  return absl::OkStatus();
}

}  // namespace arraykit::sim
