#include "core/sim/simulator.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/failover/types.h"
#include "core/model/array_json.h"
#include "core/ops/config_edit.h"
#include "core/ops/join.h"
#include "core/status.h"

namespace arraykit::sim {
namespace {

using failover::Formation;
using failover::MemberMachine;
using failover::Role;
using nlohmann::json;

std::int64_t ToMicros(absl::Duration d) { return absl::ToInt64Microseconds(d); }

// "writer@epoch.index": the write an entry is, or was merged from.
std::string Origin(const replication::Entry& e) {
  return e.origin.empty() ? absl::StrCat(e.writer, "@", e.epoch, ".", e.index) : e.origin;
}

json PositionJson(const failover::LogPosition& p) {
  return json{{"epoch", p.epoch}, {"index", p.index}};
}

// Secret values never leave the repository (DESIGN §7).
json ValueJson(const std::string& category, const std::string& value) {
  if (category == replication::kSecretCategory) return "(secret)";
  if (value.empty()) return nullptr;
  return json::parse(value, nullptr, false);
}

// The simulator models no certificates (docs/failover.md, "Scenario document"): the CA pin of a
// join always holds — this fingerprint stands for the one the joiner presents and the one the
// operator confirmed — and the CSR, certificate and CA certificate the join checks want present
// are this marker.
constexpr char kSimulatedFingerprint[] =
    "0000000000000000000000000000000000000000000000000000000000000000";
constexpr char kSimulatedPem[] = "(not modelled by the simulator)";

json FormationJson(const Formation& f) {
  return json{
      {"primary", f.primary}, {"members", f.members}, {"backup_primaries", f.backup_primaries}};
}

}  // namespace

// ---- Rng
// ------------------------------------------------------------------------------------------

std::uint64_t Rng::Next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double Rng::NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

std::uint64_t Rng::Below(std::uint64_t bound) { return Next() % bound; }

// ---- Simulator
// ------------------------------------------------------------------------------------

Simulator::Simulator(Scenario scenario, SimOptions options)
    : scenario_(std::move(scenario)),
      options_(options),
      rng_(scenario_.seed),
      network_(scenario_.network) {
  const Formation formation = failover::FormationFromArray(scenario_.array);
  for (const model::Member& member : scenario_.array.members) {
    Slot slot;
    slot.name = member.name;
    slot.disk.formation = formation;
    // Every member starts in the configured array (lineage 0), following its primary.
    slot.following = formation.primary;
    slot.following_version = formation.version;
    if (auto it = scenario_.clocks.find(member.name); it != scenario_.clocks.end()) {
      slot.clock = it->second;
    }
    index_[member.name] = slots_.size();
    slots_.push_back(std::move(slot));
  }
  // Standalone members start as a node's first start makes them, each in an array (lineage) of
  // its own, following itself.
  for (const model::Member& member : scenario_.standalone) {
    Slot slot;
    slot.name = member.name;
    slot.disk = failover::StandaloneHardState(member);
    slot.lineage = ++next_lineage_;
    slot.following = member.name;
    slot.following_version = slot.disk.formation.version;
    if (auto it = scenario_.clocks.find(member.name); it != scenario_.clocks.end()) {
      slot.clock = it->second;
    }
    index_[member.name] = slots_.size();
    slots_.push_back(std::move(slot));
  }
}

const MemberMachine* Simulator::machine(std::size_t index) const {
  const Slot& slot = slots_[index];
  return slot.machine.has_value() ? &*slot.machine : nullptr;
}

const replication::Replicator* Simulator::replicator(std::size_t index) const {
  const Slot& slot = slots_[index];
  return slot.replicator.has_value() ? &*slot.replicator : nullptr;
}

std::size_t Simulator::IndexOf(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? slots_.size() : it->second;
}

// A member's clock: offset + virtual time × (1 + drift).
failover::Clock Simulator::ClockOf(const Slot& slot, std::int64_t vt_us) const {
  const std::int64_t local =
      ToMicros(slot.clock.offset) + vt_us + vt_us * slot.clock.drift_ppm / 1000000;
  const absl::Duration mono = absl::Microseconds(local);
  return failover::Clock{mono, scenario_.start_clock + mono};
}

// The first virtual time at which the member's clock reads at least `mono`.
std::int64_t Simulator::VirtualFor(const Slot& slot, absl::Duration mono) const {
  if (mono == absl::InfiniteDuration()) return INT64_MAX;
  const std::int64_t target = ToMicros(mono);
  const std::int64_t offset = ToMicros(slot.clock.offset);
  const std::int64_t drift = slot.clock.drift_ppm;
  if (drift == 0) return target - offset;
  const std::int64_t x = target - offset;
  std::int64_t vt = x - x * drift / (1000000 + drift);
  auto local = [&](std::int64_t v) { return offset + v + v * drift / 1000000; };
  while (local(vt) < target) ++vt;
  while (local(vt - 1) >= target) --vt;
  return vt;
}

bool Simulator::Connected(std::size_t a, std::size_t b) const {
  return slots_[a].group == slots_[b].group;
}

void Simulator::RecordTimeline(const std::string& member, std::string event, std::string reason) {
  if (!options_.record_timeline) return;
  if (timeline_.size() >= kMaxTimelineEntries) {
    timeline_truncated_ = true;
    return;
  }
  timeline_.push_back(json{{"at_s", static_cast<double>(now_us_) / 1e6},
                           {"member", member},
                           {"event", std::move(event)},
                           {"reason", std::move(reason)}});
}

void Simulator::Tick(std::size_t i) {
  Slot& slot = slots_[i];
  ++steps_;
  const failover::Clock clock = ClockOf(slot, now_us_);
  slot.machine->Tick(clock);
  slot.replicator->Tick(clock.mono);
  slot.ticked_us = now_us_;
}

// A host's write: the member's replicator judges it (not primary, bad input) or accepts it.
absl::Status Simulator::Write(std::size_t i, const ScenarioEvent& event) {
  WriteRecord record;
  record.at_us = now_us_;
  record.member = event.member;
  record.spec = event.write;
  const std::uint64_t request = writes_.size() + 1;
  Slot& slot = slots_[i];
  if (!slot.up) {
    record.reason = "down";
    record.message = absl::StrCat(slot.name, " is down");
    writes_.push_back(std::move(record));
    return absl::OkStatus();
  }
  Tick(i);
  // The replicator judges the write with the view of this instant (a lease may just have run
  // out).
  if (absl::Status status = Drain(i); !status.ok()) return status;
  record.lineage = slot.lineage;
  writes_.push_back(std::move(record));
  replication::Replicator& r = *slot.replicator;
  const std::uint64_t before = r.last_position().index;
  const replication::Wait wait =
      event.write.wait_all ? replication::Wait::kAll : replication::Wait::kPrimary;
  if (event.write.erase) {
    r.Delete(request, event.write.category, event.write.key, wait);
  } else {
    r.Write(request, event.write.category, event.write.key, event.write.value, wait);
  }
  // Accepted: the replicator appended the write (the Ready holds it).
  for (const replication::Entry& e : r.GetReady().append) {
    if (e.writer != slot.name || e.key != event.write.key || e.category != event.write.category ||
        e.index <= before || !e.origin.empty() ||
        (e.kind != replication::EntryKind::kPut && e.kind != replication::EntryKind::kDelete)) {
      continue;
    }
    WriteRecord& accepted = writes_[request - 1];
    accepted.outcome = "accepted";
    accepted.position = e.position();
    if (options_.check_invariants &&
        (!slot.machine->writable() || slot.machine->role() != Role::kPrimary)) {
      return absl::InternalError(absl::StrCat(
          "invariant violated at t=", static_cast<double>(now_us_) / 1e6, " s: ", slot.name,
          " accepted a write but is not a writable primary"));
    }
  }
  return Drain(i);
}

const model::Member* Simulator::DescriptionOf(const std::string& name) const {
  return FindMember(scenario_, name);
}

void Simulator::RecordJoinRefused(const std::string& member, const absl::Status& why) {
  const std::size_t before = timeline_.size();
  RecordTimeline(member, "join_refused", std::string(why.message()));
  if (timeline_.size() > before) timeline_.back()["code"] = ReasonOf(why);
}

// The join protocol of lib/node (docs/operations-core.md "Join", steps 1-7) at one instant: the
// same checks (ops::CheckJoinRequest, the joiner's own, ops::CheckJoin with the placement of the
// grown array, ops::CheckJoinAdmit), minus the token and the certificates, then AddMember on the
// primary and JoinArray on the joiner, whose repository is emptied so that it takes the
// primary's. The joiner must be up and reachable from the primary at that instant.
absl::Status Simulator::Join(const ScenarioEvent& event) {
  const std::size_t p = IndexOf(event.member);
  const std::size_t j = IndexOf(event.target);
  Slot& primary = slots_[p];
  Slot& joiner = slots_[j];
  if (!primary.up) {
    RecordJoinRefused(primary.name, MakeError(absl::StatusCode::kUnavailable, "down",
                                              absl::StrCat("join refused: ", primary.name,
                                                           " is down")));
    return absl::OkStatus();
  }
  Tick(p);
  MemberMachine& machine = *primary.machine;
  const ops::JoinRequest request{joiner.name, kSimulatedFingerprint, ""};
  std::vector<model::Member> descriptions;
  for (const std::string& name : machine.hard_state().formation.members) {
    if (const model::Member* member = DescriptionOf(name); member != nullptr) {
      descriptions.push_back(*member);
    }
  }
  const model::Member* own = DescriptionOf(primary.name);
  const ops::PrimaryView view = ops::ViewOfPrimary(machine, std::move(descriptions),
                                                   own == nullptr ? "" : own->version);
  absl::Status checked = ops::CheckJoinRequest(view, request);
  if (checked.ok() && !machine.writable()) {
    checked = MakeError(ErrorCode::kNotPrimary,
                        absl::StrCat("join refused: ", primary.name,
                                     " leads its array but is not writable (quorum mode: it "
                                     "holds no majority of leases)"));
  }
  if (checked.ok() && (!joiner.up || !Connected(p, j))) {
    checked = MakeError(absl::StatusCode::kUnavailable, "not_contactable",
                        absl::StrCat("join refused: ", joiner.name, " cannot be reached from ",
                                     primary.name,
                                     joiner.up ? " (the network is partitioned between them)"
                                               : " (it is down)"));
  }
  if (!checked.ok()) {
    RecordJoinRefused(primary.name, checked);
    return Drain(p);
  }
  // The joiner answers the hello: ops::CheckJoinHello's checks of its own state (its version
  // and clock CheckJoin compares again below).
  Tick(j);
  MemberMachine& joining = *joiner.machine;
  const model::Member* joiner_description = DescriptionOf(joiner.name);
  const ops::JoinerView joiner_view = ops::ViewOfJoiner(
      joining, joiner_description == nullptr ? model::Member{} : *joiner_description);
  const absl::Time primary_clock = ClockOf(primary, now_us_).wall;
  const absl::Time joiner_clock = ClockOf(joiner, now_us_).wall;
  absl::Status answer;
  if (joiner_view.formation.members.size() != 1) {
    answer = MakeError(
        absl::StatusCode::kFailedPrecondition, "joiner_not_standalone",
        absl::StrCat("join refused: ", joiner.name, " is not standalone: its array has ",
                     joiner_view.formation.members.size(), " members (",
                     absl::StrJoin(joiner_view.formation.members, ", "),
                     "); detach it or run clean on it first"));
  } else if (!joiner_view.busy_reason.empty()) {
    answer = MakeError(ErrorCode::kBusy, absl::StrCat("join refused: ", joiner_view.busy_reason));
  }
  if (!answer.ok()) RecordJoinRefused(joiner.name, answer);
  const ops::JoinReply reply =
      answer.ok() ? ops::AcceptJoinHello(joiner_view, joiner_clock, kSimulatedPem)
                  : ops::RefuseJoinHello(joiner_view, joiner_clock, answer);
  absl::StatusOr<ops::JoinDecision> decision =
      ops::CheckJoin(view, request, kSimulatedFingerprint, reply, primary_clock);
  absl::Status outcome = decision.status();
  // Step 5's plan: trust_ca and issue_certificate are the PKI's (not modelled); add_member.
  if (outcome.ok()) outcome = machine.AddMember(joiner.name, decision->voter, reply.epoch);
  if (outcome.ok()) {
    // Steps 6-7: the admission, as the joiner checks it and adopts it.
    const ops::JoinHello hello = ops::MakeJoinHello(view, request, primary_clock, kSimulatedPem);
    const ops::JoinAdmit admit = ops::MakeJoinAdmit(machine, request, kSimulatedPem, kSimulatedPem);
    outcome = ops::CheckJoinAdmit(joiner_view, hello, admit);
    if (outcome.ok()) outcome = joining.JoinArray(admit.formation, admit.epoch);
    // Refused at admission (the checks above make it unexpected): add_member is undone, as the
    // node undoes it.
    if (!outcome.ok()) machine.RemoveMember(joiner.name).IgnoreError();
  }
  if (!outcome.ok()) {
    RecordJoinRefused(primary.name, outcome);
    if (absl::Status status = Drain(p); !status.ok()) return status;
    return Drain(j);
  }
  // The primary first: the formation it now holds is recorded in its lineage, which the joiner
  // then enters (Drain).
  if (absl::Status status = Drain(p); !status.ok()) return status;
  // The standalone repository is not the array's (lib/node ResetReplicator): writes still
  // waiting for acknowledgement are dropped with it, and the primary sends its repository to the
  // empty log.
  const std::string why = absl::StrCat(joiner.name, " joined ", primary.name, "'s array");
  for (WriteRecord& w : writes_) {
    if (w.member != joiner.name || w.outcome != "accepted") continue;
    w.outcome = "failed";
    w.reason = "not_primary";
    w.message = absl::StrCat(why, "; this write was not acknowledged and is dropped with the "
                                  "standalone repository");
  }
  joiner.store = replication::Durable{};
  joiner.history.clear();
  joiner.replicator.emplace(joiner.name, joiner.store);
  joiner.view = replication::View{};
  joiner.replicator->Tick(ClockOf(joiner, now_us_).mono);
  if (absl::Status status = Drain(j); !status.ok()) return status;
  const std::size_t before = timeline_.size();
  RecordTimeline(primary.name, "join_completed", absl::StrCat(joiner.name, " joined the array"));
  if (timeline_.size() > before) timeline_.back()["epoch"] = machine.epoch();
  return absl::OkStatus();
}

absl::Status Simulator::Enqueue(std::size_t from, const std::string& to,
                                failover::Message message,
                                std::optional<replication::Message> replication) {
  const std::size_t dest = IndexOf(to);
  if (dest >= slots_.size() || !Connected(from, dest)) return absl::OkStatus();
  if (network_.loss > 0 && rng_.NextDouble() < network_.loss) return absl::OkStatus();
  std::int64_t delay = ToMicros(network_.delay);
  if (network_.jitter > absl::ZeroDuration()) {
    delay += static_cast<std::int64_t>(
        rng_.Below(static_cast<std::uint64_t>(ToMicros(network_.jitter)) + 1));
  }
  if (in_flight_.size() >= kMaxInFlightMessages) {
    return absl::ResourceExhaustedError(
        absl::StrCat("simulation: more than ", kMaxInFlightMessages,
                     " messages in flight at t=", static_cast<double>(now_us_) / 1e6, " s"));
  }
  std::size_t parcel = parcels_.size();
  if (free_parcels_.empty()) {
    parcels_.push_back(Parcel{std::move(message), std::move(replication)});
  } else {
    parcel = free_parcels_.back();
    free_parcels_.pop_back();
    parcels_[parcel] = Parcel{std::move(message), std::move(replication)};
  }
  in_flight_.push_back(InFlight{now_us_ + delay, seq_++, from, dest, parcel});
  std::push_heap(in_flight_.begin(), in_flight_.end(), std::greater<>());
  return absl::OkStatus();
}

absl::Status Simulator::DrainMachine(std::size_t i) {
  Slot& slot = slots_[i];
  MemberMachine& machine = *slot.machine;
  if (!machine.HasReady()) return absl::OkStatus();
  failover::Ready& ready = machine.GetReady();
  if (ready.persist.has_value()) {  // persist before act
    slot.disk = std::move(*ready.persist);
    if (!original_.has_value() && slot.disk.original.has_value()) {
      original_ = slot.disk.original;
    }
  }
  for (failover::Message& message : ready.messages) {
    const std::string to = message.to;
    if (absl::Status status = Enqueue(i, to, std::move(message), std::nullopt); !status.ok()) {
      return status;
    }
  }
  for (const failover::TimelineEntry& entry : ready.events) {
    // A finished clean starts a new array (the members it redirects join it).
    if (entry.event == "cleaned" || entry.event == "detached") slot.lineage = ++next_lineage_;
  }
  for (const failover::TimelineEntry& entry : ready.events) {
    if (!options_.record_timeline) break;
    RecordTimeline(entry.member, entry.event, entry.reason);
    if (timeline_truncated_) break;
    json& last = timeline_.back();
    last["epoch"] = entry.epoch;
    if (!entry.code.empty()) last["code"] = entry.code;
  }
  machine.Advance();
  return absl::OkStatus();
}

// The simulator is the replicator's store and network: persist, send, then complete.
absl::Status Simulator::DrainReplicator(std::size_t i) {
  Slot& slot = slots_[i];
  replication::Replicator& r = *slot.replicator;
  if (!r.HasReady()) return absl::OkStatus();
  replication::Ready& ready = r.GetReady();
  NoteOverwrites(slot, ready);
  replication::PersistReady(ready, slot.store);
  if (ready.snapshot.has_value()) {
    // The snapshot carries its sender's history (the member its reply goes to).
    for (const replication::Message& m : ready.messages) {
      if (m.type != replication::MessageType::kSnapshotReply) continue;
      if (const std::size_t j = IndexOf(m.to); j < slots_.size()) slot.history = slots_[j].history;
    }
  }
  for (const replication::Entry& e : ready.apply) {
    slot.history.insert(Origin(e));
    if (!e.origin.empty()) slot.history.insert(e.origin);
  }
  for (replication::Message& message : ready.messages) {
    const std::string to = message.to;
    if (absl::Status status = Enqueue(i, to, failover::Message{}, std::move(message));
        !status.ok()) {
      return status;
    }
  }
  for (const replication::Completion& c : ready.completions) {
    if (c.request == 0 || c.request > writes_.size()) continue;
    WriteRecord& w = writes_[c.request - 1];
    if (c.status.ok()) {
      w.outcome = "acknowledged";
      w.position = c.position;
      w.lineage = slot.lineage;  // the array that acknowledged it
    } else {
      w.outcome = w.position.has_value() ? "failed" : "refused";
      w.reason = ReasonOf(c.status);
      w.message = std::string(c.status.message());
    }
  }
  for (const replication::Entry& e : ready.rolled_back) rolled_back_.emplace_back(slot.name, e);
  for (const failover::TimelineEntry& entry : ready.events) {
    if (!options_.record_timeline) break;
    RecordTimeline(entry.member, entry.event, entry.reason);
    if (timeline_truncated_) break;
    timeline_.back()["epoch"] = entry.epoch;
  }
  r.Advance();
  return absl::OkStatus();
}

// A host's write (no origin: not a merge's decision) applied over a key's record replaces, in
// one array's linear history, the write that record holds.
void Simulator::NoteOverwrites(const Slot& slot, const replication::Ready& ready) {
  const replication::Repository& before =
      ready.snapshot.has_value() ? (*ready.snapshot)->repository : slot.store.repository;
  std::map<replication::Key, std::string> current;  // records this Ready's applies replaced
  for (const replication::Entry& e : ready.apply) {
    if (e.kind != replication::EntryKind::kPut && e.kind != replication::EntryKind::kDelete) {
      continue;
    }
    const replication::Key key{e.category, e.key};
    auto it = current.find(key);
    if (it == current.end()) {
      auto record = before.records.find(key);
      if (record == before.records.end()) {
        it = current.emplace(key, std::string()).first;
      } else {
        it = current.emplace(key, replication::OriginOf(record->second)).first;
      }
    }
    const std::string origin = Origin(e);
    if (e.origin.empty() && !it->second.empty() && it->second != origin) {
      overwritten_by_[it->second].insert(origin);
    }
    it->second = origin;
  }
}

// True when `origin` was overwritten by a host's write, directly or through a chain of them,
// that `history` holds.
bool Simulator::OverwrittenWithin(const std::string& origin,
                                  const std::set<std::string>& history) const {
  std::vector<std::string> unvisited{origin};
  std::set<std::string> visited{origin};
  while (!unvisited.empty()) {
    const std::string next = std::move(unvisited.back());
    unvisited.pop_back();
    auto it = overwritten_by_.find(next);
    if (it == overwritten_by_.end()) continue;
    for (const std::string& later : it->second) {
      if (history.contains(later)) return true;
      if (visited.insert(later).second) unvisited.push_back(later);
    }
  }
  return false;
}

absl::Status Simulator::Drain(std::size_t i) {
  Slot& slot = slots_[i];
  MemberMachine& machine = *slot.machine;
  // The machine and the replicator feed each other (the view one way, the log position the
  // other) until both are quiet.
  for (int round = 0;; ++round) {
    if (round > 16) {
      return absl::InternalError(absl::StrCat("simulation: ", slot.name,
                                              "'s machine and replicator do not settle at t=",
                                              static_cast<double>(now_us_) / 1e6, " s"));
    }
    if (absl::Status status = DrainMachine(i); !status.ok()) return status;
    // SetView with an unchanged view does nothing: compare in place, copy only a change.
    if (!replication::ViewMatches(machine, slot.view)) {
      replication::FillView(machine, slot.view);
      slot.replicator->SetView(slot.view);
    }
    if (absl::Status status = DrainReplicator(i); !status.ok()) return status;
    machine.LogChanged(slot.replicator->last_position());
    if (!machine.HasReady() && !slot.replicator->HasReady()) break;
  }
  // A member that takes a formation from another primary (joins, follows a redirect, learns a
  // change) belongs to the array that formation was made in from then on: the lineage its
  // primary had when it held that formation. The primary may have cleaned itself into a new
  // array since (a reply sent before the clean, a formation persisted before a crash); its new
  // lineage is not the follower's. A formation its primary has not held yet (it learns it from
  // another member) is in the primary's current lineage.
  const Formation& formation = machine.hard_state().formation;
  if (formation.primary == slot.name) {
    lineage_of_formation_.insert_or_assign(std::make_pair(slot.name, formation.version),
                                           slot.lineage);
  }
  if (formation.primary != slot.following || formation.version != slot.following_version) {
    slot.following = formation.primary;
    slot.following_version = formation.version;
    if (formation.primary != slot.name) {
      auto made_in =
          lineage_of_formation_.find(std::make_pair(formation.primary, formation.version));
      slot.lineage = made_in != lineage_of_formation_.end()
                         ? made_in->second
                         : slots_[IndexOf(formation.primary)].lineage;
    }
  }
  slot.wake_us = std::max(
      VirtualFor(slot, std::min(machine.NextWakeup(), slot.replicator->NextWakeup())), now_us_);
  if (options_.check_invariants) return CheckInvariants(i);
  return absl::OkStatus();
}

absl::Status Simulator::ApplyEvent(const ScenarioEvent& event) {
  switch (event.kind) {
    case EventKind::kCrash: {
      Slot& slot = slots_[IndexOf(event.member)];
      if (!slot.up) return absl::OkStatus();
      slot.up = false;
      slot.machine.reset();
      slot.replicator.reset();  // its store survives
      slot.was_writable = false;
      RecordTimeline(slot.name, "crashed", absl::StrCat("scenario: ", slot.name, " crashed"));
      return absl::OkStatus();
    }
    case EventKind::kRestart: {
      const std::size_t i = IndexOf(event.member);
      Slot& slot = slots_[i];
      if (slot.up) return absl::OkStatus();
      slot.up = true;
      RecordTimeline(slot.name, "restarted",
                     absl::StrCat("scenario: ", slot.name, " restarted from its persisted state"));
      // The persisted state is host-supplied: validated, never trusted.
      absl::StatusOr<MemberMachine> machine =
          MemberMachine::Create(slot.name, slot.disk, ClockOf(slot, now_us_));
      if (!machine.ok()) return machine.status();
      slot.machine.emplace(*std::move(machine));
      if (absl::Status status = replication::ValidateDurable(slot.store); !status.ok()) {
        return status;
      }
      slot.replicator.emplace(slot.name, slot.store);
      slot.view = replication::View{};  // the new replicator's
      slot.replicator->Tick(ClockOf(slot, now_us_).mono);
      slot.ticked_us = now_us_;
      return Drain(i);
    }
    case EventKind::kPartition: {
      for (Slot& slot : slots_) slot.group = static_cast<int>(event.groups.size()) + 1;
      std::vector<std::string> sides;
      for (std::size_t g = 0; g < event.groups.size(); ++g) {
        for (const std::string& name : event.groups[g]) {
          slots_[IndexOf(name)].group = static_cast<int>(g) + 1;
        }
        sides.push_back(absl::StrCat("{", absl::StrJoin(event.groups[g], ", "), "}"));
      }
      std::vector<std::string> rest;
      for (const Slot& slot : slots_) {
        if (slot.group == static_cast<int>(event.groups.size()) + 1) rest.push_back(slot.name);
      }
      if (!rest.empty()) sides.push_back(absl::StrCat("{", absl::StrJoin(rest, ", "), "}"));
      RecordTimeline(
          "", "partition",
          absl::StrCat("scenario: network partitioned into ", absl::StrJoin(sides, " | ")));
      return absl::OkStatus();
    }
    case EventKind::kHeal:
      for (Slot& slot : slots_) slot.group = 0;
      RecordTimeline("", "heal", "scenario: network healed; every member reaches every other");
      return absl::OkStatus();
    case EventKind::kNetwork:
      network_ = event.network;
      RecordTimeline("", "network",
                     absl::StrCat("scenario: message delay ", absl::FormatDuration(network_.delay),
                                  ", jitter ", absl::FormatDuration(network_.jitter), ", loss ",
                                  network_.loss));
      return absl::OkStatus();
    case EventKind::kWrite:
      return Write(IndexOf(event.member), event);
    case EventKind::kJoin:
      return Join(event);
    case EventKind::kClean:
    case EventKind::kChange: {
      const std::size_t i = IndexOf(event.member);
      Slot& slot = slots_[i];
      if (!slot.up) {
        RecordTimeline(slot.name,
                       event.kind == EventKind::kClean ? "clean_refused" : "change_refused",
                       absl::StrCat(slot.name, " is down"));
        return absl::OkStatus();
      }
      Tick(i);
      if (event.kind == EventKind::kClean) {
        // A refusal is recorded in the timeline by the machine or below.
        if (absl::Status status = slot.machine->Clean(event.contact_members); !status.ok()) {
          RecordTimeline(slot.name, "clean_refused", std::string(status.message()));
        }
      } else {
        failover::FormationChange change;
        change.backup_primaries = event.backup_primaries;
        if (event.resilience.has_value()) {
          absl::StatusOr<model::Resilience> parsed =
              model::ResilienceFromJson(*event.resilience, "change.resilience",
                                        slot.machine->hard_state().formation.resilience);
          if (!parsed.ok()) return parsed.status();
          change.resilience = *parsed;
        }
        slot.machine->ProposeChange(change).IgnoreError();  // recorded in the timeline
      }
      return Drain(i);
    }
    case EventKind::kMakePrimary:
    case EventKind::kDetach:
    case EventKind::kConfigEdit: {
      const std::size_t i = IndexOf(event.member);
      Slot& slot = slots_[i];
      if (!slot.up) {
        RecordTimeline(slot.name, "change_refused", absl::StrCat(slot.name, " is down"));
        return absl::OkStatus();
      }
      Tick(i);
      MemberMachine& machine = *slot.machine;
      // Refusals are recorded in the timeline by the machine.
      if (event.kind == EventKind::kMakePrimary) {
        machine.MakePrimary(event.target).IgnoreError();
      } else if (event.kind == EventKind::kDetach) {
        machine.RemoveMember(event.target).IgnoreError();
      } else {
        absl::StatusOr<ops::ConfigEdit> edit =
            ops::ConfigEditFromJson(*event.config_edit, machine.hard_state().formation.resilience);
        if (!edit.ok()) return edit.status();
        machine.ProposeChange(edit->ToChange()).IgnoreError();
      }
      return Drain(i);
    }
  }
  return absl::OkStatus();
}

absl::Status Simulator::ProcessInstant() {
  for (std::size_t steps = 0;; ++steps) {
    if (steps_ > options_.max_steps) {
      return MakeError(
          absl::StatusCode::kResourceExhausted, "step_limit",
          absl::StrCat("simulation: more than ", options_.max_steps,
                       " steps (ticks and message deliveries) by t=",
                       static_cast<double>(now_us_) / 1e6,
                       " s; raise max_steps, shorten until_s or lengthen the monitor and "
                       "find-primary intervals"));
    }
    if (steps > kMaxStepsPerInstant) {
      return absl::InternalError(
          absl::StrCat("simulation: no progress past t=", static_cast<double>(now_us_) / 1e6,
                       " s (more than ", kMaxStepsPerInstant, " steps in one instant)"));
    }
    bool progressed = false;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      Slot& slot = slots_[i];
      if (!slot.up || slot.wake_us > now_us_) continue;
      Tick(i);
      if (absl::Status status = Drain(i); !status.ok()) return status;
      if (slot.wake_us <= now_us_) slot.wake_us = now_us_ + 1;  // due again only later
      progressed = true;
    }
    while (!in_flight_.empty() && in_flight_.front().at_us <= now_us_) {
      std::pop_heap(in_flight_.begin(), in_flight_.end(), std::greater<>());
      const InFlight item = in_flight_.back();
      in_flight_.pop_back();
      Parcel parcel = std::move(parcels_[item.parcel]);
      free_parcels_.push_back(item.parcel);
      Slot& slot = slots_[item.to];
      if (!slot.up || !Connected(item.from, item.to)) continue;
      if (slot.ticked_us != now_us_) Tick(item.to);
      if (parcel.replication.has_value()) {
        slot.replicator->Step(*parcel.replication);
      } else {
        slot.machine->Step(parcel.message);
        ++delivered_;  // failover messages (the network tests count them)
      }
      ++steps_;
      if (absl::Status status = Drain(item.to); !status.ok()) return status;
      progressed = true;
    }
    if (!progressed) return absl::OkStatus();
  }
}

absl::Status Simulator::RunUntil(std::int64_t until_us) {
  if (!started_) {
    started_ = true;
    now_us_ = 0;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      Slot& slot = slots_[i];
      absl::StatusOr<MemberMachine> machine =
          MemberMachine::Create(slot.name, slot.disk, ClockOf(slot, 0));
      if (!machine.ok()) return machine.status();
      slot.machine.emplace(*std::move(machine));
      slot.replicator.emplace(slot.name, slot.store);
      slot.view = replication::View{};
      slot.ticked_us = -1;
      slot.wake_us = 0;
    }
  }
  const std::vector<ScenarioEvent>& events = scenario_.events;
  while (true) {
    std::int64_t next = INT64_MAX;
    if (next_event_ < events.size()) next = events[next_event_].at_us;
    if (!in_flight_.empty()) next = std::min(next, in_flight_.front().at_us);
    for (const Slot& slot : slots_) {
      if (slot.up) next = std::min(next, slot.wake_us);
    }
    if (next > until_us) break;
    now_us_ = std::max(now_us_, next);
    while (next_event_ < events.size() && events[next_event_].at_us <= now_us_) {
      if (absl::Status status = ApplyEvent(events[next_event_++]); !status.ok()) return status;
    }
    if (absl::Status status = ProcessInstant(); !status.ok()) return status;
    if (options_.check_invariants) {
      if (absl::Status status = CheckClaims(); !status.ok()) return status;
    }
  }
  now_us_ = std::max(now_us_, until_us);
  return absl::OkStatus();
}

absl::Status Simulator::Run() { return RunUntil(scenario_.until_us); }

// ---- invariants
// -------------------------------------------------------------------------------------

absl::Status Simulator::CheckInvariants(std::size_t i) {
  Slot& slot = slots_[i];
  const MemberMachine& machine = *slot.machine;
  const failover::HardState& hard = machine.hard_state();
  auto violation = [this](std::string what) {
    return absl::InternalError(
        absl::StrCat("invariant violated at t=", static_cast<double>(now_us_) / 1e6, " s: ", what));
  };
  if (hard.epoch < slot.max_epoch || hard.voted_epoch < slot.max_voted_epoch) {
    return violation(
        absl::StrCat(slot.name, "'s epoch went back from ", slot.max_epoch, " to ", hard.epoch));
  }
  slot.max_epoch = hard.epoch;
  slot.max_voted_epoch = hard.voted_epoch;
  if (!hard.formation.Contains(slot.name)) {
    return violation(absl::StrCat(slot.name, " is not in its own formation"));
  }
  if (hard.formation.resilience.mode != model::ResilienceMode::kQuorum) return absl::OkStatus();
  const bool writable = machine.writable();
  const bool became_writable = writable && !slot.was_writable;
  slot.was_writable = writable;
  if (!writable) return absl::OkStatus();
  for (std::size_t j = 0; j < slots_.size(); ++j) {
    if (j == i || !slots_[j].up) continue;
    if (slots_[j].machine->writable() && slots_[j].lineage == slot.lineage) {
      return violation(absl::StrCat("two writable primaries at once: ", slot.name, " (epoch ",
                                    hard.epoch, ") and ", slots_[j].name, " (epoch ",
                                    slots_[j].machine->epoch(), ")"));
    }
  }
  auto [it, inserted] = writer_of_epoch_[slot.lineage].try_emplace(hard.epoch, slot.name);
  if (!inserted && it->second != slot.name) {
    return violation(absl::StrCat("two writable primaries in epoch ", hard.epoch, ": ", it->second,
                                  " and ", slot.name));
  }
  // A write acknowledged in quorum mode survives every later failover: a member that starts
  // accepting writes holds every write its array acknowledged.
  if (became_writable) {
    for (const WriteRecord& w : writes_) {
      if (w.outcome != "acknowledged" || w.lineage != slot.lineage || !w.position.has_value()) {
        continue;
      }
      if (!slot.replicator->Holds(*w.position)) {
        return violation(absl::StrCat(slot.name, " accepts writes (epoch ", hard.epoch,
                                      ") but lacks the acknowledged write (", w.position->epoch,
                                      ", ", w.position->index, ") of ", w.spec.category, "/",
                                      w.spec.key));
      }
    }
  }
  return absl::OkStatus();
}

// Every member is in exactly one array: claimed as a contactable member by at most one primary,
// except for a bounded window. Array mode is the seed's protocol, not consensus: an old primary
// notices a member that left only when that member has been silent for its grace period (at
// monitor-interval granularity, plus message delays), and a recovery hand-over whose reply was
// lost is retried after one find-new-primary timeout. A double claim lasting longer than both
// together is a bug.
absl::Status Simulator::CheckClaims() {
  double_claim_since_.resize(slots_.size(), -1);
  int primaries = 0;
  for (const Slot& slot : slots_) primaries += slot.up && slot.machine->role() == Role::kPrimary;
  if (primaries < 2) {  // a formation lists a member once: nobody is claimed twice
    std::fill(double_claim_since_.begin(), double_claim_since_.end(), -1);
    return absl::OkStatus();
  }
  const model::Resilience& r = scenario_.array.resilience;
  const absl::Duration span = 2 * (r.GracePeriod() + r.FindNewPrimaryTimeout() +
                                   r.monitor_interval + network_.delay + network_.jitter);
  const std::int64_t window =
      ToMicros(span) + ToMicros(span) * 2 * failover::kMaxClockDriftPpm / 1000000 + 1000000;
  // Members a primary claims: its formation's members it has not marked uncontactable (its
  // ContactableMembers(), counted without building the list).
  claims_.assign(slots_.size(), 0);
  for (const Slot& slot : slots_) {
    if (!slot.up || slot.machine->role() != Role::kPrimary) continue;
    const failover::HardState& hard = slot.machine->hard_state();
    for (const std::string& member : hard.formation.members) {
      if (std::find(hard.uncontactable.begin(), hard.uncontactable.end(), member) !=
          hard.uncontactable.end()) {
        continue;
      }
      if (const std::size_t j = IndexOf(member); j < slots_.size()) ++claims_[j];
    }
  }
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const Slot& slot = slots_[i];
    if (claims_[i] < 2) {
      double_claim_since_[i] = -1;
      continue;
    }
    if (double_claim_since_[i] < 0) double_claim_since_[i] = now_us_;
    if (now_us_ - double_claim_since_[i] > window) {
      return absl::InternalError(absl::StrCat(
          "invariant violated at t=", static_cast<double>(now_us_) / 1e6, " s: ", slot.name,
          " has been in ", claims_[i], " arrays at once since t=",
          static_cast<double>(double_claim_since_[i]) / 1e6,
          " s (longer than the detection window of ", static_cast<double>(window) / 1e6, " s)"));
    }
  }
  return absl::OkStatus();
}

absl::Status Simulator::CheckSettled(bool expect_original) const {
  auto fail = [this](std::string what) {
    return absl::InternalError(
        absl::StrCat("not settled at t=", static_cast<double>(now_us_) / 1e6, " s: ", what));
  };
  absl::flat_hash_map<std::string, std::string> claimed;  // member -> primary claiming it
  for (const Slot& slot : slots_) {
    if (!slot.up || slot.machine->role() != Role::kPrimary) continue;
    for (const std::string& member : slot.machine->ContactableMembers()) {
      auto [it, inserted] = claimed.try_emplace(member, slot.name);
      if (!inserted) {
        return fail(
            absl::StrCat(member, " is in two arrays: ", it->second, "'s and ", slot.name, "'s"));
      }
    }
  }
  for (const Slot& slot : slots_) {
    if (!slot.up) continue;
    const MemberMachine& m = *slot.machine;
    if (m.role() == Role::kSearching) return fail(absl::StrCat(slot.name, " is still searching"));
    auto it = claimed.find(slot.name);
    if (it == claimed.end()) return fail(absl::StrCat(slot.name, " is in no array"));
    if (m.role() == Role::kSecondary && it->second != m.hard_state().formation.primary) {
      return fail(absl::StrCat(slot.name, " follows ", m.hard_state().formation.primary,
                               " but is listed by ", it->second));
    }
  }
  if (!expect_original) return absl::OkStatus();
  const std::string& primary = scenario_.array.primary;
  const Slot& leader = slots_[IndexOf(primary)];
  if (!leader.up || leader.machine->role() != Role::kPrimary) {
    return fail(absl::StrCat("the original primary ", primary, " does not lead"));
  }
  for (const Slot& slot : slots_) {
    if (claimed.at(slot.name) != primary) {
      return fail(absl::StrCat(slot.name, " is not back in ", primary, "'s array"));
    }
    if (slot.machine->hard_state().original.has_value() && slot.name == primary) {
      return fail(absl::StrCat(primary, " still reports a repaired array"));
    }
  }
  return absl::OkStatus();
}

absl::Status Simulator::CheckQuorumLive() const {
  if (scenario_.array.resilience.mode != model::ResilienceMode::kQuorum) return absl::OkStatus();
  std::vector<std::string> arrays;
  bool any_writable = false;
  for (const Slot& slot : slots_) {
    if (!slot.up || slot.machine->role() != Role::kPrimary) continue;
    const MemberMachine& primary = *slot.machine;
    const failover::Formation& formation = primary.hard_state().formation;
    const std::vector<std::string> members = primary.ContactableMembers();
    std::size_t held = 0;
    for (const std::string& voter : formation.voters) {
      const bool member = voter == slot.name ||
                          std::find(members.begin(), members.end(), voter) != members.end();
      if (member && slots_[IndexOf(voter)].up) ++held;
    }
    any_writable = any_writable || primary.writable();
    arrays.push_back(absl::StrCat(slot.name, " (", held, " of ", formation.voters.size(),
                                  " voters, ", primary.writable() ? "writable" : "not writable",
                                  ")"));
    if (held >= formation.voters.size() / 2 + 1 && !primary.writable()) {
      return absl::InternalError(absl::StrCat(
          "not live at t=", static_cast<double>(now_us_) / 1e6, " s: ", slot.name,
          " holds ", held, " of its ", formation.voters.size(), " voters but is not writable"));
    }
  }
  // Outcomes the product leaves to the operator: a split it cannot recreate automatically
  // (manual recovery required), or arrays that stay apart under primary return action none.
  bool manual = false;
  for (const Slot& slot : slots_) {
    manual = manual || (slot.up && slot.machine->hard_state().manual_recovery_required);
  }
  const bool kept_apart = arrays.size() > 1 && scenario_.array.resilience.primary_return_action ==
                                                   model::PrimaryReturnAction::kNone;
  if (!any_writable && !manual && !kept_apart) {
    return absl::InternalError(absl::StrCat("not live at t=", static_cast<double>(now_us_) / 1e6,
                                            " s: no array is writable: ",
                                            absl::StrJoin(arrays, ", ")));
  }
  return absl::OkStatus();
}

absl::Status Simulator::CheckReplicated(bool expect_original) const {
  auto fail = [this](std::string what) {
    return absl::InternalError(absl::StrCat("replication not converged at t=",
                                            static_cast<double>(now_us_) / 1e6, " s: ", what));
  };
  for (const Slot& slot : slots_) {
    // A primary that may not write (quorum mode without leases) cannot commit: its members
    // wait for it.
    if (!slot.up || !slot.machine->writable()) continue;
    const replication::Replicator& primary = *slot.replicator;
    // At the settled end a writable primary has committed, and every member it can contact
    // holds its digest. Quorum mode: it commits through an entry of its epoch, which needs a
    // majority of voters that follow it (a voter lends its lease only to the primary it
    // follows); writable without such a commit is a primary that can never acknowledge.
    if (slot.machine->hard_state().formation.resilience.mode == model::ResilienceMode::kQuorum &&
        primary.applied_position().epoch != slot.machine->hard_state().epoch) {
      return fail(absl::StrCat(slot.name, " is writable in epoch ",
                               slot.machine->hard_state().epoch,
                               " but has not committed an entry of it (applied ",
                               primary.applied_position().epoch, ".",
                               primary.applied_position().index, ")"));
    }
    for (const std::string& member : slot.machine->ContactableMembers()) {
      const Slot& other = slots_[IndexOf(member)];
      if (!other.up) continue;
      if (other.replicator->repository().Digest() != primary.repository().Digest()) {
        return fail(absl::StrCat(member, " holds digest ",
                                 other.replicator->repository().Digest(), " at ",
                                 other.replicator->applied_position().index, ", its primary ",
                                 slot.name, " ", primary.repository().Digest(), " at ",
                                 primary.applied_position().index));
      }
    }
  }
  // No write is lost silently: a write a member accepted (array mode) or acknowledged
  // (quorum mode: unacknowledged ones may be rolled back) is in the history of the primary of
  // the array that member's lineage ended in: kept, merged or recorded as a conflict.
  if (!expect_original) return absl::OkStatus();
  for (const WriteRecord& w : writes_) {
    if (!w.position.has_value()) continue;
    const bool quorum = scenario_.array.resilience.mode == model::ResilienceMode::kQuorum;
    if (quorum && w.outcome != "acknowledged") continue;
    const std::string origin =
        absl::StrCat(w.member, "@", w.position->epoch, ".", w.position->index);
    for (const Slot& slot : slots_) {
      if (!slot.up || slot.machine->role() != Role::kPrimary || slot.lineage != w.lineage ||
          (quorum && !slot.machine->writable())) {
        continue;
      }
      // Kept: its origin is in the primary's history, or its effect stands (its very value, or
      // the key deleted): a merge skips a divergent write whose effect the primary already has;
      // or a host's later write of the key, made where this one stood, is in that history (a
      // merge carries the newer write, not the history it replaced).
      const auto& records = slot.replicator->repository().records;
      const auto record = records.find(replication::Key{w.spec.category, w.spec.key});
      const bool value_stands =
          record == records.end()
              ? w.spec.erase
              : (w.spec.erase ? record->second.deleted
                              : !record->second.deleted && record->second.value == w.spec.value);
      if (!slot.history.contains(origin) && !value_stands &&
          !OverwrittenWithin(origin, slot.history)) {
        return fail(absl::StrCat("the write ", origin, " (", w.spec.category, "/", w.spec.key,
                                 ") is neither kept nor a conflict record on ", slot.name));
      }
    }
  }
  return absl::OkStatus();
}

// ---- result
// -----------------------------------------------------------------------------------------

json Simulator::Result() const {
  json arrays = json::array();
  json standalone = json::array();
  json down = json::array();
  json members = json::array();
  bool manual = false;
  auto ordered = [this](std::vector<std::string> names) {
    std::sort(names.begin(), names.end(), [this](const std::string& a, const std::string& b) {
      return IndexOf(a) < IndexOf(b);
    });
    return names;
  };
  for (const Slot& slot : slots_) {
    json entry{{"name", slot.name}, {"up", slot.up}};
    if (!slot.up) {
      down.push_back(slot.name);
      entry["role"] = "down";
      members.push_back(std::move(entry));
      continue;
    }
    const MemberMachine& m = *slot.machine;
    const failover::HardState& hard = m.hard_state();
    manual |= hard.manual_recovery_required;
    entry["role"] = std::string(failover::ToString(m.role()));
    entry["primary"] = hard.formation.primary;
    entry["epoch"] = hard.epoch;
    entry["writable"] = m.writable();
    const replication::Replicator& r = *slot.replicator;
    entry["last"] = PositionJson(r.last_position());
    entry["applied"] = PositionJson(r.applied_position());
    entry["digest"] = r.repository().Digest();
    entry["records"] = std::count_if(r.repository().records.begin(),
                                     r.repository().records.end(),
                                     [](const auto& kv) { return !kv.second.deleted; });
    members.push_back(std::move(entry));
    if (m.role() != Role::kPrimary) continue;
    if (hard.formation.members.size() == 1) {
      standalone.push_back(slot.name);
      continue;
    }
    arrays.push_back(json{{"primary", slot.name},
                          {"members", ordered(hard.formation.members)},
                          {"uncontactable", ordered(hard.uncontactable)},
                          {"repaired", hard.repaired},
                          {"epoch", hard.epoch},
                          {"writable", m.writable()}});
  }
  // Restored: the original primary is up and leads every original member, none of them
  // uncontactable, and its array is not marked repaired.
  bool restored = false;
  if (original_.has_value()) {
    const std::size_t p = IndexOf(original_->primary);
    if (p < slots_.size() && slots_[p].up && slots_[p].machine->role() == Role::kPrimary) {
      const failover::HardState& hard = slots_[p].machine->hard_state();
      restored = !hard.repaired && hard.uncontactable.empty();
      for (const std::string& member : original_->members) {
        restored = restored && hard.formation.Contains(member);
      }
    }
  }
  json result{{"arrays", std::move(arrays)},
              {"original_formation_restored", restored},
              {"standalone", std::move(standalone)},
              {"down", std::move(down)},
              {"original_formation", original_.has_value() ? FormationJson(*original_) : json()},
              {"manual_recovery_required", manual},
              {"members", std::move(members)},
              {"until_s", static_cast<double>(scenario_.until_us) / 1e6},
              {"timeline", timeline_}};
  if (timeline_truncated_) result["timeline_truncated"] = true;
  // Replication (docs/replication.md, "Simulator"): the writes asked for and what became of
  // them, the conflict records the members hold, the entries rolled back.
  json writes = json::array();
  for (const WriteRecord& w : writes_) {
    json item{{"at_s", static_cast<double>(w.at_us) / 1e6},
              {"member", w.member},
              {"category", w.spec.category},
              {"key", w.spec.key},
              {"wait", w.spec.wait_all ? "all" : "primary"},
              {"outcome", w.outcome}};
    if (w.spec.erase) item["delete"] = true;
    if (w.position.has_value()) item["position"] = PositionJson(*w.position);
    if (!w.reason.empty()) item["reason"] = w.reason;
    if (!w.message.empty()) item["message"] = w.message;
    writes.push_back(std::move(item));
  }
  json conflicts = json::array();
  std::set<std::string> seen;
  for (const Slot& slot : slots_) {
    if (!slot.up) continue;
    for (const replication::Conflict& c : slot.replicator->repository().conflicts) {
      if (!seen.insert(c.lost_origin).second) continue;
      conflicts.push_back(json{{"category", c.category},
                               {"key", c.key},
                               {"kept_value", ValueJson(c.category, c.kept_value)},
                               {"lost_value", ValueJson(c.category, c.lost_value)},
                               {"lost_writer", c.lost_writer},
                               {"lost_origin", c.lost_origin},
                               {"recorded_by", slot.name}});
    }
  }
  json rolled_back = json::array();
  for (const auto& [member, e] : rolled_back_) {
    rolled_back.push_back(json{{"member", member},
                               {"position", PositionJson(e.position())},
                               {"writer", e.writer},
                               {"category", e.category},
                               {"key", e.key}});
  }
  result["writes"] = std::move(writes);
  result["conflicts"] = std::move(conflicts);
  result["rolled_back"] = std::move(rolled_back);
  return result;
}

}  // namespace arraykit::sim
