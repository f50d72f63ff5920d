// The deterministic simulator: a virtual clock and a virtual network running the members' real
// failover state machines (core/failover/member_machine.h) and, next to each, its replicator
// (core/replication/replicator.h). The simulator plays each member's store: what a Ready
// persisted survives a crash, nothing else does.
//
// Discrete-event: virtual time jumps to the next scenario event, message delivery or member
// wakeup. Within one instant the order is fixed — scenario events, then due member ticks in
// member order, then messages in send order — so a scenario (and a seed) replays exactly.
// Randomness (jitter, loss) comes from a seeded SplitMix64 owned by the simulator.
#ifndef ARRAYKIT_CORE_SIM_SIMULATOR_H_
#define ARRAYKIT_CORE_SIM_SIMULATOR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "core/failover/member_machine.h"
#include "core/replication/replicator.h"
#include "core/sim/scenario.h"
#include "nlohmann/json.hpp"

namespace arraykit::sim {

inline constexpr std::size_t kMaxInFlightMessages = 100000;
inline constexpr std::size_t kMaxStepsPerInstant = 100000;
inline constexpr std::size_t kMaxTimelineEntries = 100000;
// Ticks plus deliveries in one run (~10 s of CPU): a scenario with tiny intervals and a huge
// until_s is refused instead of running for hours.
inline constexpr std::uint64_t kMaxTotalSteps = 20000000;

// A small seeded PRNG (SplitMix64): the simulator's only source of randomness.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next();
  double NextDouble();                       // [0, 1)
  std::uint64_t Below(std::uint64_t bound);  // [0, bound), bound > 0
 private:
  std::uint64_t state_;
};

struct SimOptions {
  bool record_timeline = true;
  // The run's step bound: ticks plus message deliveries (1..kMaxTotalSteps). A run that needs
  // more is refused with RESOURCE_EXHAUSTED, reason `step_limit`.
  std::uint64_t max_steps = kMaxTotalSteps;
  // Check the invariants of docs/failover.md after every step; a violation stops the run with
  // INTERNAL naming the virtual time and the rule.
  bool check_invariants = false;
};

class Simulator {
 public:
  Simulator(Scenario scenario, SimOptions options);

  // Runs to the scenario's until_s (or stops at the first invariant violation / limit).
  absl::Status Run();
  // Runs up to virtual time `until_us` (inclusive); may be called repeatedly.
  absl::Status RunUntil(std::int64_t until_us);

  // The result document of DESIGN.md §3 (plus `members`, `down` and
  // `original_formation_restored`).
  nlohmann::json Result() const;

  // Checks, at a quiet moment, that every live member belongs to exactly one array: it is a
  // primary, or a secondary its primary lists as contactable, and no member is claimed as
  // contactable by two primaries. With `expect_original`, also that the original formation is
  // back (original primary leads every member, nothing repaired).
  absl::Status CheckSettled(bool expect_original) const;
  // Checks, at a quiet moment after CheckSettled, the replicated repositories
  // (docs/replication.md, "Invariants"): every member a primary claims holds the primary's
  // digest; with `expect_original` (one array again), every write a member accepted is in the
  // primary's history (kept, merged or a conflict record) — in quorum mode every acknowledged
  // one.
  absl::Status CheckReplicated(bool expect_original) const;
  // Quorum mode liveness, at a quiet moment after CheckSettled with every member up and
  // connected: a primary whose members include a majority of its voters is writable, and some
  // array is writable.
  absl::Status CheckQuorumLive() const;

  std::int64_t now_us() const { return now_us_; }
  // Failover messages delivered (replication messages are not counted).
  std::uint64_t messages_delivered() const { return delivered_; }
  const failover::MemberMachine* machine(std::size_t index) const;
  const replication::Replicator* replicator(std::size_t index) const;
  std::size_t member_count() const { return slots_.size(); }
  // The array a member belongs to for the quorum invariants (0: the configured one; a finished
  // clean or detach starts a new one, which the members that take its formation join; each
  // standalone member starts in one of its own and enters its primary's with a join).
  int lineage(std::size_t index) const { return slots_[index].lineage; }

 private:
  struct Slot {
    std::string name;
    bool up = true;
    failover::HardState disk;
    std::optional<failover::MemberMachine> machine;
    replication::Durable store;  // the replicator's persisted state
    std::optional<replication::Replicator> replicator;
    replication::View view;  // the view the replicator holds (the last SetView)
    // Origins ("writer@epoch.index") of every write this member's repository has taken in,
    // applied or inherited with a snapshot: the history the no-silent-loss invariant reads.
    std::set<std::string> history;
    bool was_writable = false;
    std::int64_t wake_us = 0;
    std::int64_t ticked_us = -1;
    int group = 0;
    ClockSpec clock;
    std::uint64_t max_epoch = 0;
    std::uint64_t max_voted_epoch = 0;
    // Which array the member belongs to for the quorum invariants: a finished `clean` starts a
    // new one
    // (an operator's choice, not a split brain); a member that takes a formation from another
    // primary takes that primary's.
    int lineage = 0;
    std::string following;
    std::uint64_t following_version = 0;
  };
  // A message on its way. The heap orders small keys; the (large) messages stay put in
  // `parcels_` until delivered, so reordering the heap never copies a message.
  struct Parcel {
    failover::Message message;
    std::optional<replication::Message> replication;  // a replication message instead
  };
  struct InFlight {
    std::int64_t at_us;
    std::uint64_t seq;
    std::size_t from;
    std::size_t to;
    std::size_t parcel;  // index into parcels_
    bool operator>(const InFlight& o) const {
      return at_us != o.at_us ? at_us > o.at_us : seq > o.seq;
    }
  };

  failover::Clock ClockOf(const Slot& slot, std::int64_t vt_us) const;
  std::int64_t VirtualFor(const Slot& slot, absl::Duration mono) const;
  void Tick(std::size_t i);
  struct WriteRecord {
    std::int64_t at_us = 0;
    std::string member;
    WriteSpec spec;
    std::string outcome = "refused";  // refused, accepted, acknowledged, failed
    std::string reason;
    std::string message;
    std::optional<failover::LogPosition> position;
    int lineage = 0;
  };
  absl::Status Write(std::size_t i, const ScenarioEvent& event);
  // The join operation (docs/failover.md, "Scenario document"): checked as the node checks it,
  // then AddMember on the primary and JoinArray on the joiner, which takes the primary's
  // repository. A refusal changes neither side and is recorded as `join_refused`.
  absl::Status Join(const ScenarioEvent& event);
  void RecordJoinRefused(const std::string& member, const absl::Status& why);
  // The description a member was declared with (the array's or a standalone one).
  const model::Member* DescriptionOf(const std::string& name) const;
  absl::Status DrainMachine(std::size_t i);
  absl::Status DrainReplicator(std::size_t i);
  absl::Status Drain(std::size_t i);
  void NoteOverwrites(const Slot& slot, const replication::Ready& ready);
  bool OverwrittenWithin(const std::string& origin, const std::set<std::string>& history) const;
  absl::Status Enqueue(std::size_t from, const std::string& to, failover::Message message,
                       std::optional<replication::Message> replication);
  absl::Status ApplyEvent(const ScenarioEvent& event);
  absl::Status ProcessInstant();
  absl::Status CheckInvariants(std::size_t i);
  absl::Status CheckClaims();
  void RecordTimeline(const std::string& member, std::string event, std::string reason);
  bool Connected(std::size_t a, std::size_t b) const;
  std::size_t IndexOf(const std::string& name) const;

  Scenario scenario_;
  SimOptions options_;
  Rng rng_;
  std::vector<Slot> slots_;
  absl::flat_hash_map<std::string, std::size_t> index_;
  std::vector<InFlight> in_flight_;  // a min-heap on (at_us, seq) (std::greater)
  std::vector<Parcel> parcels_;      // the messages in flight, by InFlight::parcel
  std::vector<std::size_t> free_parcels_;
  std::uint64_t seq_ = 0;
  std::size_t next_event_ = 0;
  std::int64_t now_us_ = 0;
  bool started_ = false;
  NetworkSpec network_;
  std::uint64_t delivered_ = 0;
  std::uint64_t steps_ = 0;
  nlohmann::json timeline_ = nlohmann::json::array();
  bool timeline_truncated_ = false;
  std::optional<failover::Formation> original_;
  // Quorum invariants, per array (lineage).
  int next_lineage_ = 0;
  absl::flat_hash_map<int, absl::flat_hash_map<std::uint64_t, std::string>> writer_of_epoch_;
  // The lineage each primary had while it held a formation, by (primary, formation version).
  absl::flat_hash_map<std::pair<std::string, std::uint64_t>, int> lineage_of_formation_;
  // Writes asked for in the scenario (by request id - 1), the entries rolled back.
  std::vector<WriteRecord> writes_;
  std::vector<std::pair<std::string, replication::Entry>> rolled_back_;
  // Origin -> the host writes applied over it (on any member): a write replaced in its own
  // array's history is not lost when a later merge carries only the newer write.
  std::map<std::string, std::set<std::string>> overwritten_by_;
  // Array mode is not consensus: a member that left may still be listed by its old primary
  // until that primary's grace period runs out. Since when each member has been claimed by
  // more than one primary (absent = by at most one).
  // By slot; -1: claimed by at most one primary.
  std::vector<std::int64_t> double_claim_since_;
  std::vector<int> claims_;  // CheckClaims' per-slot count (kept to reuse its storage)
};

}  // namespace arraykit::sim

#endif  // ARRAYKIT_CORE_SIM_SIMULATOR_H_
