// The role planner: from an inventory of appliances to an array description with roles, a
// primary and a backup primaries order, plus the reasons for each decision.
#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/model/array_json.h"
#include "core/model/json_reader.h"
#include "core/placement/placement.h"

namespace arraykit::placement {
namespace {

using model::Member;
using model::json_internal::Describe;
using model::json_internal::ExpectObject;
using model::json_internal::FieldError;
using model::json_internal::Find;
using model::json_internal::IndexPath;
using model::json_internal::Quoted;
using model::json_internal::ReadBool;
using model::json_internal::ReadInteger;
using model::json_internal::ReadNumber;
using model::json_internal::ReadString;
using model::json_internal::RejectUnknownFields;
using nlohmann::json;

// An appliance of an inventory: a member without roles (they are the planner's output), plus
// its capacity and the roles it is forced to take or refuse.
constexpr std::array<std::string_view, 9> kApplianceFields = {
    "name",    "rack",     "power",    "address", "address_static",
    "version", "capacity", "frontend", "backend"};

constexpr double kMaxCapacity = 1e6;

std::string FormatCapacity(double capacity) { return absl::StrFormat("%g", capacity); }

// Where a member stands while back-ends are chosen one at a time.
struct Candidate {
  const InventoryItem* item;
  std::size_t index;  // in the inventory, for error paths
  std::string key;    // normalized name: the final tie-break
};

// Greedy choice of the next back-end among `pool`: a rack not used yet, then a power source not
// used yet, then higher capacity, then name. An empty rack/power is unknown and never counts as
// a new failure domain, because the spread it would promise cannot be checked.
const Candidate* BestNext(const std::vector<const Candidate*>& pool,
                          const std::set<std::string>& racks, const std::set<std::string>& powers) {
  const Candidate* best = nullptr;
  auto score = [&](const Candidate* c) {
    const Member& m = c->item->member;
    return std::make_pair(!m.rack.empty() && !racks.contains(m.rack),
                          !m.power.empty() && !powers.contains(m.power));
  };
  for (const Candidate* c : pool) {
    if (best == nullptr) {
      best = c;
      continue;
    }
    const auto cs = score(c);
    const auto bs = score(best);
    if (cs != bs) {
      if (cs > bs) best = c;
      continue;
    }
    if (c->item->capacity != best->item->capacity) {
      if (c->item->capacity > best->item->capacity) best = c;
      continue;
    }
    if (c->key < best->key) best = c;
  }
  return best;
}

std::string DomainNote(const InventoryItem& item, const std::set<std::string>& racks,
                       const std::set<std::string>& powers) {
  const Member& m = item.member;
  const auto note = [](const char* what, const std::string& value,
                       const std::set<std::string>& used) {
    if (value.empty()) return absl::StrCat(what, " unknown");
    return absl::StrCat(what, " ", value, used.contains(value) ? " (shared)" : " (new)");
  };
  return absl::StrCat(note("rack", m.rack, racks), ", ", note("power", m.power, powers),
                      ", capacity ", FormatCapacity(item.capacity));
}

}  // namespace

absl::StatusOr<Inventory> InventoryFromJson(const json& doc) {
  if (absl::Status status = ExpectObject(doc, "inventory"); !status.ok()) return status;
  if (absl::Status status =
          RejectUnknownFields(doc, "", {"members", "backends", "primary", "resilience"});
      !status.ok()) {
    return status;
  }
  Inventory inventory;
  const json* members = Find(doc, "members");
  if (members == nullptr) {
    return FieldError("members", "required field is missing (an array of appliance objects)");
  }
  if (!members->is_array()) {
    return FieldError(
        "members", absl::StrCat("must be an array of appliance objects, got ", Describe(*members)));
  }
  if (members->empty()) return FieldError("members", "must list at least one appliance");
  if (members->size() > model::kMaxMembers) {
    return FieldError("members", absl::StrCat("at most ", model::kMaxMembers,
                                              " appliances are accepted, got ", members->size()));
  }
  for (std::size_t i = 0; i < members->size(); ++i) {
    const std::string path = IndexPath("members", i);
    const json& entry = (*members)[i];
    if (entry.is_object() && entry.contains("roles")) {
      // A role list here would be silently replaced by the plan: refuse it and say what works.
      return FieldError(path + ".roles",
                        "roles are the planner's output; force a role on or off with "
                        "\"frontend\": true|false or \"backend\": true|false");
    }
    absl::StatusOr<Member> member = model::MemberFromJson(entry, path, kApplianceFields);
    if (!member.ok()) return member.status();
    InventoryItem item;
    item.member = *std::move(member);
    if (const json* capacity = Find(entry, "capacity"); capacity != nullptr) {
      absl::StatusOr<double> parsed = ReadNumber(*capacity, path + ".capacity", 0, kMaxCapacity);
      if (!parsed.ok()) return parsed.status();
      item.capacity = *parsed;
    }
    for (auto [key, slot] :
         {std::pair<std::string_view, std::optional<bool>*>{"frontend", &item.frontend},
          std::pair<std::string_view, std::optional<bool>*>{"backend", &item.backend}}) {
      const json* value = Find(entry, key);
      if (value == nullptr) continue;
      absl::StatusOr<bool> parsed =
          ReadBool(*value, absl::StrCat(path, ".", model::json_internal::AbslView(key)));
      if (!parsed.ok()) return parsed.status();
      *slot = *parsed;
    }
    inventory.items.push_back(std::move(item));
  }
  if (const json* backends = Find(doc, "backends"); backends != nullptr) {
    absl::StatusOr<std::int64_t> count = ReadInteger(*backends, "backends", 1, 3);
    if (!count.ok()) return count.status();
    inventory.backends = static_cast<int>(*count);
  }
  if (const json* primary = Find(doc, "primary"); primary != nullptr) {
    absl::StatusOr<std::string> name =
        ReadString(*primary, "primary", model::kMaxNameLength, false);
    if (!name.ok()) return name.status();
    inventory.primary = *std::move(name);
  }
  if (const json* resilience = Find(doc, "resilience"); resilience != nullptr) {
    absl::StatusOr<model::Resilience> parsed = model::ResilienceFromJson(*resilience, "resilience");
    if (!parsed.ok()) return parsed.status();
    inventory.resilience = *parsed;
  }
  return inventory;
}

absl::StatusOr<Plan> PlanInventory(const Inventory& inventory) {
  const std::size_t size = inventory.items.size();
  if (size == 0) return FieldError("members", "must list at least one appliance");
  if (size > model::kMaxMembers) {
    return FieldError("members", absl::StrCat("at most ", model::kMaxMembers,
                                              " appliances are accepted, got ", size));
  }
  Plan plan;

  std::vector<Candidate> candidates;
  for (std::size_t i = 0; i < size; ++i) {
    const InventoryItem& item = inventory.items[i];
    if (!(item.capacity >= 0 && item.capacity <= kMaxCapacity)) {
      return FieldError(
          IndexPath("members", i) + ".capacity",
          absl::StrFormat("must be a number from 0 to %g, got %g", kMaxCapacity, item.capacity));
    }
    for (const Candidate& other : candidates) {
      if (model::SameName(other.item->member.name, item.member.name)) {
        return FieldError(
            IndexPath("members", i) + ".name",
            absl::StrCat(Quoted(item.member.name), " duplicates members[", other.index, "].name"));
      }
    }
    candidates.push_back(Candidate{&item, i, model::NormalizeName(item.member.name)});
  }

  // How many back-ends.
  std::size_t forced_on = 0;
  std::size_t allowed = 0;
  std::vector<std::string> forced_on_names;
  for (const Candidate& c : candidates) {
    if (c.item->backend.value_or(true)) ++allowed;
    if (c.item->backend.value_or(false)) {
      ++forced_on;
      forced_on_names.push_back(c.item->member.name);
    }
  }
  std::size_t target = 0;
  if (inventory.backends.has_value()) {
    if (*inventory.backends != 1 && *inventory.backends != 3) {
      return FieldError("backends", absl::StrCat("must be 1 or 3, got ", *inventory.backends));
    }
    target = static_cast<std::size_t>(*inventory.backends);
    if (target > size) {
      return FieldError("backends", absl::StrCat(target, " back-ends need at least ", target,
                                                 " appliances; the inventory has ", size));
    }
    plan.rationale.push_back(absl::StrCat("back-ends: ", target, " (given by \"backends\")"));
  } else if (size >= 3) {
    target = 3;
    plan.rationale.push_back(
        absl::StrCat("back-ends: 3 (", size,
                     " appliances; an array has 1 or 3 back-ends, and 3 "
                     "keep the back-end service running when one member fails)"));
  } else if (size == 1 && allowed == 0) {
    target = 0;  // a standalone member may go without; backend_count exempts it
    plan.rationale.push_back("back-ends: none (the only appliance has backend: false)");
  } else {
    target = 1;
    plan.rationale.push_back(absl::StrCat("back-ends: 1 (", size,
                                          size == 1 ? " appliance" : " appliances",
                                          "; three back-ends need three appliances)"));
  }
  if (forced_on > target) {
    return FieldError(
        "members", absl::StrCat(forced_on, " appliances have backend: true (",
                                absl::StrJoin(forced_on_names, ", "), ") but the plan has ", target,
                                " back-end(s); an array has 1 or 3 back-ends"));
  }
  if (allowed < target) {
    return FieldError(inventory.backends.has_value() ? "backends" : "members",
                      absl::StrCat(target, " back-ends are needed but only ", allowed,
                                   " appliance(s) may have the back-end role (the others have "
                                   "backend: false)"));
  }
  const bool any_frontend =
      std::any_of(candidates.begin(), candidates.end(),
                  [](const Candidate& c) { return c.item->frontend.value_or(true); });
  if (!any_frontend) {
    return FieldError("members",
                      "every appliance has frontend: false; an array needs at least "
                      "one front-end");
  }

  // Choose back-ends: forced ones first, then a given primary, then the best of the rest.
  const Candidate* given_primary = nullptr;
  if (inventory.primary.has_value()) {
    for (const Candidate& c : candidates) {
      if (model::SameName(c.item->member.name, *inventory.primary)) given_primary = &c;
    }
    if (given_primary == nullptr) {
      return FieldError("primary", absl::StrCat("must name an appliance of the inventory, got ",
                                                Quoted(*inventory.primary)));
    }
  }
  std::vector<const Candidate*> backends;
  std::set<std::string> racks;
  std::set<std::string> powers;
  std::set<const Candidate*> chosen;
  auto choose_from = [&](std::vector<const Candidate*> pool, const char* reason) {
    while (backends.size() < target && !pool.empty()) {
      const Candidate* next = BestNext(pool, racks, powers);
      const Member& m = next->item->member;
      const std::string note = DomainNote(*next->item, racks, powers);
      plan.rationale.push_back(absl::StrCat("back-end #", backends.size() + 1, ": ", m.name, " (",
                                            reason, "; ", note, ")"));
      backends.push_back(next);
      chosen.insert(next);
      if (!m.rack.empty()) racks.insert(m.rack);
      if (!m.power.empty()) powers.insert(m.power);
      pool.erase(std::find(pool.begin(), pool.end(), next));
    }
  };
  {
    std::vector<const Candidate*> forced;
    for (const Candidate& c : candidates) {
      if (c.item->backend.value_or(false)) forced.push_back(&c);
    }
    choose_from(std::move(forced), "backend: true");
  }
  if (given_primary != nullptr && given_primary->item->backend.value_or(true) &&
      !chosen.contains(given_primary)) {
    choose_from({given_primary}, "the given primary");
  }
  {
    std::vector<const Candidate*> rest;
    for (const Candidate& c : candidates) {
      if (c.item->backend.value_or(true) && !chosen.contains(&c)) rest.push_back(&c);
    }
    choose_from(std::move(rest), "best spread");
  }

  // The others, by capacity then name: the tail of the backup primaries order.
  std::vector<const Candidate*> others;
  for (const Candidate& c : candidates) {
    if (!chosen.contains(&c)) others.push_back(&c);
  }
  std::sort(others.begin(), others.end(), [](const Candidate* a, const Candidate* b) {
    if (a->item->capacity != b->item->capacity) return a->item->capacity > b->item->capacity;
    return a->key < b->key;
  });

  const Candidate* primary = given_primary;
  if (primary != nullptr) {
    plan.rationale.push_back(
        absl::StrCat("primary: ", primary->item->member.name, " (given by \"primary\")",
                     chosen.contains(primary) ? "" : "; it is not a back-end"));
  } else if (!backends.empty()) {
    primary = backends.front();
    plan.rationale.push_back(
        absl::StrCat("primary: ", primary->item->member.name, " (the best-ranked back-end)"));
  } else {
    primary = others.front();
    plan.rationale.push_back(absl::StrCat("primary: ", primary->item->member.name,
                                          " (no back-end; highest capacity, then name)"));
  }

  std::vector<const Candidate*> order;  // backup primaries, highest priority first
  std::vector<std::string> backup_backends;
  std::vector<std::string> backup_others;
  for (const Candidate* c : backends) {
    if (c == primary) continue;
    order.push_back(c);
    backup_backends.push_back(c->item->member.name);
  }
  for (const Candidate* c : others) {
    if (c == primary) continue;
    order.push_back(c);
    backup_others.push_back(c->item->member.name);
  }
  if (order.empty()) {
    plan.rationale.push_back("backup primaries: none (a standalone member)");
  } else {
    std::string line = "backup primaries: ";
    if (!backup_backends.empty()) {
      absl::StrAppend(&line, absl::StrJoin(backup_backends, ", "),
                      " (the other back-ends, in rank order)");
    }
    if (!backup_others.empty()) {
      absl::StrAppend(&line, backup_backends.empty() ? "" : ", then ",
                      absl::StrJoin(backup_others, ", "),
                      " (the other members, by capacity, then name)");
    }
    plan.rationale.push_back(std::move(line));
  }

  std::vector<std::string> no_frontend;
  auto add_member = [&](const Candidate* c) {
    Member member = c->item->member;
    member.roles.backend = chosen.contains(c);
    member.roles.frontend = c->item->frontend.value_or(true);
    if (!member.roles.frontend) no_frontend.push_back(member.name);
    plan.array.members.push_back(std::move(member));
  };
  // Members listed in priority order (primary, then the backup order), so the array reads the
  // same whatever order the inventory listed them in.
  add_member(primary);
  for (const Candidate* c : order) {
    add_member(c);
    plan.array.backup_primaries.push_back(c->item->member.name);
  }
  plan.array.primary = primary->item->member.name;
  plan.array.resilience = inventory.resilience;
  plan.rationale.push_back(
      no_frontend.empty()
          ? std::string("front-ends: every member (front-ends carry user traffic; more serve "
                        "more users)")
          : absl::StrCat("front-ends: every member except ", absl::StrJoin(no_frontend, ", "),
                         " (frontend: false)"));
  plan.findings = Check(plan.array);
  return plan;
}

}  // namespace arraykit::placement
