// MemoryNetwork: an in-process network for the transport seam (DESIGN.md §10), used by the node
// tests, the Python `arraykit.MemoryNetwork` and in-process examples.
//
// It has its own delivery thread and timer queue: Send computes when a message arrives (the
// link's delay, plus jitter, plus a reordering hold-back) and queues it; the delivery thread
// hands it to the receiver at that time. Faults are decided with one seeded generator, so a
// run that sends from one thread is reproducible from its seed.
//
// Faults, per directed link (a default for every link, overridable per pair):
//   delay + uniform jitter; loss probability; duplication probability (the copy takes its own
//   delay); reordering probability (a message held back by up to `reorder_window`, so later
//   ones overtake it). With no jitter and no reordering a link is FIFO.
// Connectivity, for the whole network:
//   Partition({{a,b},{c}}): members talk only within their group; members named in no group
//   form one further group together. Isolate(name): that member talks to no one. Heal(): both
//   undone. Connectivity is checked when a message is sent and again when it is delivered (a
//   partition cuts what is in flight, as a broken connection would).
// A member whose transport is closed (or never attached) receives nothing: its messages are
// dropped and counted.
// Pinning: each attachment presents a CA certificate (given at Attach, changed by
// Transport::Secure's presented_ca_pem); SendPinned compares its fingerprint with the expected one when the
// message is sent (the TLS handshake of a connection) and answers the sender with a LinkError
// on a mismatch or when the target is unreachable. LinkErrors are never lost or partitioned.
#ifndef ARRAYKIT_NODE_MEMORY_NETWORK_H_
#define ARRAYKIT_NODE_MEMORY_NETWORK_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "node/transport.h"

namespace arraykit::node {

struct LinkOptions {
  absl::Duration delay = absl::ZeroDuration();
  absl::Duration jitter = absl::ZeroDuration();  // extra delay, uniform in [0, jitter]
  double loss = 0;                               // probability a message is dropped
  double duplicate = 0;                          // probability a message arrives twice
  double reorder = 0;  // probability a message is held back (later ones overtake it)
  absl::Duration reorder_window = absl::Milliseconds(5);  // longest hold-back
};

// Refuses a probability outside [0, 1], a negative duration or a window of 0 with reordering.
absl::Status ValidateLinkOptions(const LinkOptions& options);

struct NetworkCounters {
  std::uint64_t sent = 0;               // Send calls
  std::uint64_t delivered = 0;          // receiver calls
  std::uint64_t lost = 0;               // dropped by the loss probability
  std::uint64_t partitioned = 0;        // dropped because the link was cut (send or delivery)
  std::uint64_t unattached = 0;         // dropped because the sender or receiver is closed
  std::uint64_t duplicated = 0;         // extra copies queued
  std::uint64_t reordered = 0;          // messages held back
};

class MemoryNetwork : public std::enable_shared_from_this<MemoryNetwork> {
 public:
  // At most this many messages in flight; further sends are dropped (counted as lost) rather
  // than letting a stalled receiver grow memory without bound.
  static constexpr std::size_t kMaxInFlight = 1 << 20;

  static std::shared_ptr<MemoryNetwork> Create(std::uint64_t seed = 1);
  ~MemoryNetwork();
  MemoryNetwork(const MemoryNetwork&) = delete;
  MemoryNetwork& operator=(const MemoryNetwork&) = delete;

  // Attaches member `name`; inbound envelopes go to `receiver` on the delivery thread. The member
  // presents `presented_ca_pem` ("" : no CA) to pinned senders.
  // ALREADY_EXISTS (reason `already_attached`) while another transport holds the name;
  // INVALID_ARGUMENT (`malformed`) when presented_ca_pem is not one certificate.
  absl::StatusOr<std::unique_ptr<Transport>> Attach(const std::string& name, Receiver receiver,
                                                    const std::string& presented_ca_pem = "");

  absl::Status SetDefaultLink(const LinkOptions& options);
  // The directed link from -> to (overrides the default for that pair).
  absl::Status SetLink(const std::string& from, const std::string& to, const LinkOptions& options);

  void Partition(const std::vector<std::vector<std::string>>& groups);
  void Isolate(const std::string& name);
  void Heal();
  bool Connected(const std::string& a, const std::string& b) const;
  bool Attached(const std::string& name) const;

  NetworkCounters counters() const;
  // Waits until nothing is in flight and no receiver runs (tests); false on timeout.
  bool WaitIdle(absl::Duration timeout) const;

 private:
  class Endpoint;
  // Delivery time, then send order: equal times keep the order of Send.
  using When = std::pair<std::chrono::steady_clock::time_point, std::uint64_t>;
  struct Attachment {
    std::uint64_t id = 0;
    std::shared_ptr<Receiver> receiver;
    std::string ca_fingerprint;  // of the CA it presents; "" for none
  };

  explicit MemoryNetwork(std::uint64_t seed);
  void Run();
  void SendFrom(std::uint64_t endpoint, const std::string& from, const std::string& to,
                Payload payload);
  void SendPinnedFrom(std::uint64_t endpoint, const std::string& from, const std::string& to,
                      const std::string& expected_fingerprint, Payload payload);
  absl::Status PresentCa(std::uint64_t endpoint, const std::string& name,
                         const std::string& ca_pem);
  // Queues a message on the from -> to link (faults applied). Needs mu_.
  void QueueLocked(const std::string& from, const std::string& to, Payload payload);
  void Detach(std::uint64_t endpoint, const std::string& name);
  bool ConnectedLocked(const std::string& a, const std::string& b) const;
  const LinkOptions& LinkLocked(const std::string& from, const std::string& to) const;
  double UniformLocked();
  std::chrono::steady_clock::duration DelayLocked(const LinkOptions& link);

  mutable std::mutex mu_;
  std::condition_variable wake_;       // the delivery thread: new message or stop
  mutable std::condition_variable delivered_;  // Detach, WaitIdle: a delivery or a drop finished
  bool stop_ = false;
  std::mt19937_64 random_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t next_endpoint_ = 1;
  std::uint64_t delivering_ = 0;  // endpoint whose receiver runs now (0: none)
  std::map<std::string, Attachment> attached_;  // canonical name -> attachment
  LinkOptions default_link_;
  std::map<std::pair<std::string, std::string>, LinkOptions> links_;
  std::map<std::string, int> group_;  // canonical name -> partition group (empty: no partition)
  bool partitioned_ = false;
  std::set<std::string> isolated_;
  std::map<When, Envelope> queue_;  // the timer queue
  NetworkCounters counters_;
  std::thread thread_;
};

// Peer DNS names compare case-insensitively with a trailing dot ignored (DESIGN §1).
std::string CanonicalName(std::string_view name);

}  // namespace arraykit::node

#endif  // ARRAYKIT_NODE_MEMORY_NETWORK_H_
