// The replicator of one member (DESIGN.md §7 rules 1-4 and 6), pure and deterministic, driven
// like the failover machine: Tick(now) when time passes, Step(message) for every replication
// message, host requests (Write, WaitSynced), SetView after every step of the member's failover
// machine; then drain GetReady() — persist, send, complete/notify — and Advance().
//
// The host tells the failover machine the replicator's log position after each Ready
// (MemberMachine::LogChanged(last_position())), so quorum votes compare the real log.
#ifndef ARRAYKIT_CORE_REPLICATION_REPLICATOR_H_
#define ARRAYKIT_CORE_REPLICATION_REPLICATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/failover/member_machine.h"
#include "core/replication/types.h"

namespace arraykit::replication {

// What a member loads from its store at start: the repository as applied, and the log entries
// after the last compaction (index order, contiguous, ending at the last durable entry).
struct Durable {
  Repository repository;
  std::uint64_t log_base_index = 0;  // entries through this index were compacted away
  std::uint64_t log_base_chain = 0;
  std::uint64_t log_base_epoch = 0;
  std::vector<Entry> log;
};

struct ReplicatorOptions {
  std::size_t max_batch_entries = 1024;  // entries per kAppend
  std::size_t max_inflight = 4;          // unanswered kAppend per member (pipelining)
  std::size_t retain_entries = 20000;    // log kept after compaction (for catch-up)
  absl::Duration min_retry = absl::Milliseconds(5);
};

View ViewOf(const failover::MemberMachine& machine);

class Replicator {
 public:
  Replicator(std::string self, Durable durable, ReplicatorOptions options = {});

  void SetView(const View& view);
  void Tick(absl::Duration mono);
  void Step(const Message& message);

  // Host requests. The answer comes later as a Completion with `request` (or at once in the
  // next Ready for a refusal: not_primary naming the primary, invalid_argument, ...).
  void Write(std::uint64_t request, std::string category, std::string key, std::string value,
             Wait wait);
  void Delete(std::uint64_t request, std::string category, std::string key, Wait wait);
  void WaitSynced(std::uint64_t request);

  bool HasReady() const;
  Ready& GetReady();
  void Advance();
  absl::Duration NextWakeup() const;

  const Repository& repository() const;
  LogPosition last_position() const;  // last durable log entry
  LogPosition applied_position() const;
  // Primary: each member's matched index (itself included).
  std::vector<std::pair<std::string, std::uint64_t>> progress() const;
};

}  // namespace arraykit::replication

#endif  // ARRAYKIT_CORE_REPLICATION_REPLICATOR_H_
