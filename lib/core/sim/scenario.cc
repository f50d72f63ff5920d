#include "core/sim/scenario.h"

#include <cmath>
#include <initializer_list>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/failover/member_machine.h"
#include "core/model/array_json.h"
#include "core/model/json_reader.h"
#include "core/ops/config_edit.h"
#include "core/status.h"

namespace arraykit::sim {
namespace {

using model::json_internal::Describe;
using model::json_internal::Printable;
using nlohmann::json;

// Keys of a scenario beyond the array description. `expect` and `checkpoints` carry the outcome a
// scenario file promises (docs/failover.md, "Scenario documents"): the simulator does not read
// them, the scenario runners of the tests compare them with the result.
constexpr std::string_view kScenarioKeys[] = {"events",  "until_s",     "start_clock",
                                              "network", "clocks",      "seed",
                                              "expect",  "description", "checkpoints",
                                              "standalone"};
constexpr std::string_view kEventKinds[] = {"crash",   "restart",    "partition", "heal",
                                            "network", "clean",      "change",    "make_primary",
                                            "detach",  "config_edit", "write",    "join"};

absl::Status Error(absl::string_view where, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", rule));
}

absl::StatusOr<double> Number(const json& value, absl::string_view where, absl::string_view field,
                              double min, double max) {
  if (!value.is_number()) {
    return Error(where, absl::StrCat(field, " must be a number, got ", Describe(value)));
  }
  const double v = value.get<double>();
  if (!std::isfinite(v) || v < min || v > max) {
    return Error(where, absl::StrCat(field, " must be between ", min, " and ", max, ", got ",
                                     Describe(value)));
  }
  return v;
}

absl::Duration Seconds(double s) { return absl::Microseconds(std::llround(s * 1e6)); }

// The declared name of member `value` (names compare case-insensitively): one of the array's
// members or of the standalone ones.
absl::StatusOr<std::string> MemberName(const Scenario& scenario, const json& value,
                                       absl::string_view where, absl::string_view field) {
  if (!value.is_string()) {
    return Error(where, absl::StrCat(field, " must be a member name, got ", Describe(value)));
  }
  const model::Member* member = FindMember(scenario, value.get<std::string>());
  if (member == nullptr) {
    return Error(where, absl::StrCat(field, " names unknown member ", Describe(value)));
  }
  return member->name;
}

absl::StatusOr<NetworkSpec> NetworkFromJson(const json& value, absl::string_view where,
                                            NetworkSpec base) {
  if (!value.is_object()) {
    return Error(where, absl::StrCat("network must be an object, got ", Describe(value)));
  }
  if (absl::Status status = model::json_internal::RejectUnknownFields(
          value, absl::StrCat(where, where == "network" ? "" : ".network"),
          {"delay_s", "jitter_s", "loss"});
      !status.ok()) {
    return status;
  }
  for (const auto& [key, field] : value.items()) {
    if (key == "delay_s" || key == "jitter_s") {
      absl::StatusOr<double> s = Number(field, where, key, 0, kMaxDelaySeconds);
      if (!s.ok()) return s.status();
      (key == "delay_s" ? base.delay : base.jitter) = Seconds(*s);
    } else if (key == "loss") {
      absl::StatusOr<double> p = Number(field, where, key, 0, 0.99);
      if (!p.ok()) return p.status();
      base.loss = *p;
    }
  }
  return base;
}

absl::Status ParseEvent(const json& value, std::size_t index, const Scenario& scenario,
                        std::int64_t previous_us, ScenarioEvent& event) {
  const std::string where = absl::StrCat("events[", index, "]");
  if (!value.is_object())
    return Error(where, absl::StrCat("must be an object, got ", Describe(value)));
  if (absl::Status status = model::json_internal::RejectUnknownFields(
          value, where,
          {"at_s", "note", "contact_members", "crash", "restart", "partition", "heal", "network",
           "clean", "change", "make_primary", "detach", "config_edit", "on", "write", "join"});
      !status.ok()) {
    return status;
  }
  auto at = value.find("at_s");
  if (at == value.end()) return Error(where, "at_s is missing");
  absl::StatusOr<double> at_s = Number(*at, where, "at_s", -INFINITY, INFINITY);
  if (!at_s.ok()) return at_s.status();
  if (*at_s < 0) return Error(where, absl::StrCat("at_s must not be negative, got ", *at_s));
  if (*at_s > static_cast<double>(scenario.until_us) / 1e6) {
    return Error(where, absl::StrCat("at_s ", *at_s, " is after until_s ",
                                     static_cast<double>(scenario.until_us) / 1e6));
  }
  event.at_us = std::llround(*at_s * 1e6);
  if (event.at_us < previous_us) {
    return Error(
        where, absl::StrCat("events out of order: at_s ", *at_s, " is before the previous event's ",
                            static_cast<double>(previous_us) / 1e6));
  }
  std::string kind;
  for (const auto& [key, field] : value.items()) {
    bool is_kind = false;
    for (std::string_view k : kEventKinds) is_kind |= key == k;
    if (is_kind) {
      if (!kind.empty()) {
        return Error(where, absl::StrCat("has two event kinds, \"", kind, "\" and \"", key,
                                         "\" (one per event)"));
      }
      kind = key;
    }
  }
  if (kind.empty()) {
    return Error(where,
                 "no event kind (one of crash, restart, partition, heal, network, clean, "
                 "change, make_primary, detach, config_edit, write, join)");
  }
  const bool operation =
      kind == "make_primary" || kind == "detach" || kind == "config_edit" || kind == "join";
  if (value.contains("on") && !operation) {
    return Error(where, "on only goes with make_primary, detach, config_edit and join");
  }
  if (value.contains("contact_members") && kind != "clean") {
    return Error(where, "contact_members only goes with clean");
  }
  const json& body = value.at(kind);
  if (kind == "crash" || kind == "restart" || kind == "clean") {
    event.kind = kind == "crash"     ? EventKind::kCrash
                 : kind == "restart" ? EventKind::kRestart
                                     : EventKind::kClean;
    absl::StatusOr<std::string> name = MemberName(scenario, body, where, kind);
    if (!name.ok()) return name.status();
    event.member = *name;
    if (auto cm = value.find("contact_members"); cm != value.end()) {
      if (!cm->is_boolean()) {
        return Error(where,
                     absl::StrCat("contact_members must be true or false, got ", Describe(*cm)));
      }
      event.contact_members = cm->get<bool>();
    }
  } else if (kind == "heal") {
    event.kind = EventKind::kHeal;
    if (body != json(true)) return Error(where, "heal must be true");
  } else if (kind == "network") {
    event.kind = EventKind::kNetwork;
    absl::StatusOr<NetworkSpec> spec = NetworkFromJson(body, where, NetworkSpec{});
    if (!spec.ok()) return spec.status();
    event.network = *spec;
  } else if (kind == "partition") {
    event.kind = EventKind::kPartition;
    if (!body.is_array() || body.empty() || body.size() > kMaxSimMembers) {
      return Error(where, absl::StrCat("partition must be a non-empty array of groups of member "
                                       "names, got ",
                                       Describe(body)));
    }
    std::vector<std::string> seen;
    for (std::size_t g = 0; g < body.size(); ++g) {
      const json& group = body[g];
      const std::string field = absl::StrCat("partition[", g, "]");
      if (!group.is_array() || group.empty() || group.size() > kMaxSimMembers) {
        return Error(where, absl::StrCat(field, " must be a non-empty array of member names, got ",
                                         Describe(group)));
      }
      std::vector<std::string> names;
      for (const json& item : group) {
        absl::StatusOr<std::string> name = MemberName(scenario, item, where, field);
        if (!name.ok()) return name.status();
        for (const std::string& s : seen) {
          if (s == *name) {
            return Error(where, absl::StrCat("partition names ", *name, " twice"));
          }
        }
        seen.push_back(*name);
        names.push_back(*name);
      }
      event.groups.push_back(std::move(names));
    }
  } else if (operation) {
    event.kind = kind == "make_primary" ? EventKind::kMakePrimary
                 : kind == "detach"     ? EventKind::kDetach
                 : kind == "join"       ? EventKind::kJoin
                                        : EventKind::kConfigEdit;
    event.member = scenario.array.primary;
    if (auto on = value.find("on"); on != value.end()) {
      absl::StatusOr<std::string> name = MemberName(scenario, *on, where, "on");
      if (!name.ok()) return name.status();
      event.member = *name;
    }
    if (event.kind == EventKind::kConfigEdit) {
      absl::StatusOr<ops::ConfigEdit> edit =
          ops::ConfigEditFromJson(body, scenario.array.resilience);
      if (!edit.ok()) {
        return WithReason(Error(where, absl::StrCat("config_edit: ", edit.status().message())),
                          ReasonOf(edit.status()));
      }
      event.config_edit = body;
    } else {
      // A join may name any member: one of the array's may have been detached by then.
      absl::StatusOr<std::string> name = MemberName(scenario, body, where, kind);
      if (!name.ok()) return name.status();
      event.target = *name;
    }
  } else if (kind == "write") {
    event.kind = EventKind::kWrite;
    if (!body.is_object()) {
      return Error(where, absl::StrCat("write must be an object, got ", Describe(body)));
    }
    if (absl::Status status = model::json_internal::RejectUnknownFields(
            body, absl::StrCat(where, ".write"),
            {"member", "category", "key", "value", "delete", "wait"});
        !status.ok()) {
      return status;
    }
    auto member = body.find("member");
    if (member == body.end()) return Error(where, "write.member is missing");
    absl::StatusOr<std::string> name = MemberName(scenario, *member, where, "write.member");
    if (!name.ok()) return name.status();
    event.member = *name;
    // Category, key and value are the replicator's to judge (a bad one is a refused write in
    // the result); only their JSON types are checked here.
    for (const char* field : {"category", "key"}) {
      auto it = body.find(field);
      if (it == body.end() || !it->is_string()) {
        return Error(where, absl::StrCat("write.", field, " must be a string, got ",
                                         it == body.end() ? std::string("nothing")
                                                          : Describe(*it)));
      }
    }
    event.write.category = body.at("category").get<std::string>();
    event.write.key = body.at("key").get<std::string>();
    auto erase = body.find("delete");
    if (erase != body.end()) {
      if (!erase->is_boolean()) {
        return Error(where, absl::StrCat("write.delete must be true or false, got ",
                                         Describe(*erase)));
      }
      event.write.erase = erase->get<bool>();
    }
    auto value = body.find("value");
    if (event.write.erase == (value != body.end())) {
      return Error(where, "write needs exactly one of value and \"delete\": true");
    }
    if (value != body.end()) {
      event.write.value =
          value->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    if (auto wait = body.find("wait"); wait != body.end()) {
      if (*wait != json("primary") && *wait != json("all")) {
        return Error(where,
                     absl::StrCat("write.wait must be \"primary\" or \"all\", got ",
                                  Describe(*wait)));
      }
      event.write.wait_all = *wait == json("all");
    }
  } else {  // change
    event.kind = EventKind::kChange;
    if (!body.is_object()) {
      return Error(where, absl::StrCat("change must be an object, got ", Describe(body)));
    }
    if (absl::Status status = model::json_internal::RejectUnknownFields(
            body, absl::StrCat(where, ".change"), {"member", "backup_primaries", "resilience"});
        !status.ok()) {
      return status;
    }
    auto member = body.find("member");
    if (member == body.end()) return Error(where, "change.member is missing");
    absl::StatusOr<std::string> name = MemberName(scenario, *member, where, "change.member");
    if (!name.ok()) return name.status();
    event.member = *name;
    for (const auto& [key, field] : body.items()) {
      if (key == "member") continue;
      if (key == "backup_primaries") {
        if (!field.is_array() || field.size() > kMaxSimMembers) {
          return Error(where, absl::StrCat("change.backup_primaries must be an array of member "
                                           "names, got ",
                                           Describe(field)));
        }
        std::vector<std::string> list;
        for (std::size_t i = 0; i < field.size(); ++i) {
          absl::StatusOr<std::string> entry = MemberName(
              scenario, field[i], where, absl::StrCat("change.backup_primaries[", i, "]"));
          if (!entry.ok()) return entry.status();
          list.push_back(*entry);
        }
        event.backup_primaries = std::move(list);
      } else if (key == "resilience") {
        absl::StatusOr<model::Resilience> parsed = model::ResilienceFromJson(
            field, absl::StrCat(where, ".change.resilience"), scenario.array.resilience);
        if (!parsed.ok()) return parsed.status();
        event.resilience = field;
      }
    }
    if (!event.backup_primaries.has_value() && !event.resilience.has_value()) {
      return Error(where, "change must carry backup_primaries and/or resilience");
    }
  }
  return absl::OkStatus();
}

// Rules the simulator needs beyond parsing (placement reports the rest as findings).
absl::Status CheckArray(const model::Array& array) {
  if (array.members.size() > kMaxSimMembers) {
    return Error("members", absl::StrCat("the simulator runs at most ", kMaxSimMembers,
                                         " members, got ", array.members.size()));
  }
  for (std::size_t i = 0; i < array.members.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (model::SameName(array.members[i].name, array.members[j].name)) {
        return Error(absl::StrCat("members[", i, "].name"),
                     absl::StrCat("duplicate peer DNS name ", array.members[i].name));
      }
    }
  }
  for (std::size_t i = 0; i < array.backup_primaries.size(); ++i) {
    const std::string where = absl::StrCat("backup_primaries[", i, "]");
    const model::Member* member = array.Find(array.backup_primaries[i]);
    if (member == nullptr) {
      return Error(where, absl::StrCat("unknown member ", array.backup_primaries[i]));
    }
    if (model::SameName(member->name, array.primary)) {
      return Error(where, "is the primary; the list holds secondaries");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (model::SameName(array.backup_primaries[j], member->name)) {
        return Error(where, absl::StrCat(member->name, " is listed twice"));
      }
    }
  }
  if (array.resilience.mode == model::ResilienceMode::kQuorum && array.BackendCount() == 0) {
    return Error("resilience.mode", "quorum mode needs back-end members (the voters)");
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view ToString(EventKind kind) {
  switch (kind) {
    case EventKind::kCrash:
      return "crash";
    case EventKind::kRestart:
      return "restart";
    case EventKind::kPartition:
      return "partition";
    case EventKind::kHeal:
      return "heal";
    case EventKind::kNetwork:
      return "network";
    case EventKind::kClean:
      return "clean";
    case EventKind::kChange:
      return "change";
    case EventKind::kMakePrimary:
      return "make_primary";
    case EventKind::kDetach:
      return "detach";
    case EventKind::kConfigEdit:
      return "config_edit";
    case EventKind::kWrite:
      return "write";
    case EventKind::kJoin:
      return "join";
  }
  return "unknown";
}

namespace {

// The `standalone` members: DESIGN §3 member descriptions (strict), named apart from the array's
// members and from each other, all together within the simulator's member limit.
absl::Status ReadStandalone(const json& value, Scenario& scenario) {
  if (!value.is_array()) {
    return Error("standalone",
                 absl::StrCat("must be an array of member descriptions, got ", Describe(value)));
  }
  if (scenario.array.members.size() + value.size() > kMaxSimMembers) {
    return Error("standalone", absl::StrCat("the simulator runs at most ", kMaxSimMembers,
                                            " members; the array has ",
                                            scenario.array.members.size(), " and standalone ",
                                            value.size()));
  }
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string where = absl::StrCat("standalone[", i, "]");
    absl::StatusOr<model::Member> member = model::MemberFromJson(value[i], where);
    if (!member.ok()) return member.status();
    if (const model::Member* other = FindMember(scenario, member->name); other != nullptr) {
      const bool in_array = scenario.array.Find(member->name) != nullptr;
      return Error(absl::StrCat(where, ".name"),
                   absl::StrCat("duplicate peer DNS name ", member->name, " (",
                                in_array ? "a member of the array" : "an earlier standalone member",
                                " is named ", other->name, ")"));
    }
    scenario.standalone.push_back(*std::move(member));
  }
  return absl::OkStatus();
}

}  // namespace

const model::Member* FindMember(const Scenario& scenario, std::string_view name) {
  if (const model::Member* member = scenario.array.Find(name); member != nullptr) return member;
  for (const model::Member& member : scenario.standalone) {
    if (model::SameName(member.name, name)) return &member;
  }
  return nullptr;
}

absl::StatusOr<Scenario> ScenarioFromJson(const json& doc) {
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("scenario: must be a JSON object, got ", Describe(doc)));
  }
  if (absl::Status status =
          model::json_internal::RejectUnknownFields(
          doc, "scenario",
          {// the array description's fields
           "members", "primary", "backup_primaries", "resilience",
           // the scenario's (kScenarioKeys)
           "events", "until_s", "start_clock", "network", "clocks", "seed", "expect",
           "description", "checkpoints", "standalone"});
      !status.ok()) {
    return status;
  }
  for (const auto& [key, type, check] :
       {std::tuple<const char*, const char*, bool (json::*)() const noexcept>{
            "expect", "an object", &json::is_object},
        {"checkpoints", "an array", &json::is_array},
        {"description", "a string", &json::is_string}}) {
    if (auto it = doc.find(key); it != doc.end() && !((*it).*check)()) {
      return Error(key, absl::StrCat("must be ", type, ", got ", Describe(*it)));
    }
  }
  Scenario scenario;
  json description = doc;
  for (std::string_view key : kScenarioKeys) description.erase(std::string(key));
  absl::StatusOr<model::Array> array = model::ArrayFromJson(description, "");
  if (!array.ok()) return array.status();
  if (absl::Status status = CheckArray(*array); !status.ok()) return status;
  scenario.array = *std::move(array);
  // Names in backup lists are written as the members list declares them.
  for (std::string& name : scenario.array.backup_primaries) {
    name = scenario.array.Find(name)->name;
  }
  scenario.array.primary = scenario.array.Find(scenario.array.primary)->name;
  if (auto it = doc.find("standalone"); it != doc.end()) {
    if (absl::Status status = ReadStandalone(*it, scenario); !status.ok()) return status;
  }

  double until_s = kDefaultUntilSeconds;
  if (auto it = doc.find("until_s"); it != doc.end()) {
    absl::StatusOr<double> value = Number(*it, "until_s", "until_s", 0, kMaxUntilSeconds);
    if (!value.ok()) return value.status();
    until_s = *value;
  }
  scenario.until_us = std::llround(until_s * 1e6);

  if (auto it = doc.find("start_clock"); it != doc.end()) {
    absl::StatusOr<absl::Time> start = model::json_internal::ReadRfc3339(*it, "start_clock");
    if (!start.ok()) return start.status();
    scenario.start_clock = *start;
  }
  if (auto it = doc.find("seed"); it != doc.end()) {
    if (!it->is_number_unsigned()) {
      return Error("seed", absl::StrCat("must be a non-negative integer, got ", Describe(*it)));
    }
    scenario.seed = it->get<std::uint64_t>();
  }
  if (auto it = doc.find("network"); it != doc.end()) {
    absl::StatusOr<NetworkSpec> spec = NetworkFromJson(*it, "network", NetworkSpec{});
    if (!spec.ok()) return spec.status();
    scenario.network = *spec;
  }
  if (auto it = doc.find("clocks"); it != doc.end()) {
    if (!it->is_object()) {
      return Error("clocks",
                   absl::StrCat("must be an object keyed by member name, got ", Describe(*it)));
    }
    for (const auto& [key, spec] : it->items()) {
      const std::string where = absl::StrCat("clocks.", Printable(key));
      const model::Member* member = FindMember(scenario, key);
      if (member == nullptr) return Error(where, "names an unknown member");
      if (!spec.is_object()) return Error(where, "must be an object");
      if (absl::Status status =
              model::json_internal::RejectUnknownFields(spec, where, {"offset_s", "drift_ppm"});
          !status.ok()) {
        return status;
      }
      ClockSpec clock;
      for (const auto& [field, value] : spec.items()) {
        if (field == "offset_s") {
          absl::StatusOr<double> s =
              Number(value, where, field, -kMaxClockOffsetSeconds, kMaxClockOffsetSeconds);
          if (!s.ok()) return s.status();
          clock.offset = Seconds(*s);
        } else if (field == "drift_ppm") {
          const double bound = static_cast<double>(failover::kMaxClockDriftPpm);
          absl::StatusOr<double> ppm = Number(value, where, field, -bound, bound);
          if (!ppm.ok()) return ppm.status();
          clock.drift_ppm = std::llround(*ppm);
        }
      }
      scenario.clocks[member->name] = clock;
    }
  }
  if (auto it = doc.find("events"); it != doc.end()) {
    if (!it->is_array()) {
      return Error("events", absl::StrCat("must be an array, got ", Describe(*it)));
    }
    if (it->size() > kMaxEvents) {
      return Error("events", absl::StrCat("at most ", kMaxEvents, " events, got ", it->size()));
    }
    std::int64_t previous = 0;
    for (std::size_t i = 0; i < it->size(); ++i) {
      ScenarioEvent event;
      if (absl::Status status = ParseEvent((*it)[i], i, scenario, previous, event); !status.ok()) {
        return status;
      }
      previous = event.at_us;
      scenario.events.push_back(std::move(event));
    }
  }
  return scenario;
}

}  // namespace arraykit::sim
