// The transport seam (DESIGN.md §10): how the members of an array exchange the core's messages.
//
// A node owns one Transport, obtained by attaching its member name to a network (the in-memory
// MemoryNetwork below, or the gRPC adapter later). Three promises hold for every implementation:
//   - Send never blocks: it queues the envelope and returns; a message to a member that cannot
//     be reached is dropped (the machines' own retries and timeouts cover losses).
//   - Inbound envelopes reach the Receiver given at attach time, on a thread of the transport;
//     the receiver only posts them into the node's loop and returns.
//   - The sender's identity is the transport's: `Envelope::from` is the name the link is bound
//     to (the attached name here, the verified peer certificate's name over gRPC), never a name
//     read from the message body. The node overwrites the body's `from` with it.
#ifndef ARRAYKIT_NODE_TRANSPORT_H_
#define ARRAYKIT_NODE_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "core/failover/types.h"
#include "core/replication/types.h"

namespace arraykit::node {

// Everything members send each other. New kinds (join handshake, CSR signing) are added as
// further alternatives; a receiver that does not know a kind ignores it.
using Payload = std::variant<failover::Message, replication::Message>;

struct Envelope {
  std::string from;  // set by the transport from the link, never by the sender
  std::string to;
  Payload payload;
};

// Called on a transport thread for each inbound envelope. Must not block.
using Receiver = std::function<void(Envelope)>;

class Transport {
 public:
  virtual ~Transport() = default;
  // The member name this transport sends as.
  virtual const std::string& self() const = 0;
  // Queues `payload` for member `to`; never blocks. Dropped if `to` is unreachable.
  virtual void Send(const std::string& to, Payload payload) = 0;
  // Stops delivery to this member's receiver; when Close returns, the receiver is not running
  // and will not be called again. Idempotent; the destructor closes.
  virtual void Close() = 0;
};

}  // namespace arraykit::node

#endif  // ARRAYKIT_NODE_TRANSPORT_H_
