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
//   - Pinning (the join, DESIGN §10): every member presents a CA certificate (the CA its own
//     certificate chains to; over gRPC, the chain in its TLS handshake). SendPinned delivers
//     only when the target presents the CA with the expected fingerprint; otherwise nothing
//     reaches the target and the sender's own receiver gets a LinkError envelope (`from` = the
//     target) saying what the target presented. Over gRPC: a client channel whose certificate
//     verifier accepts the server's chain only when its root CA has that fingerprint.
#ifndef ARRAYKIT_NODE_TRANSPORT_H_
#define ARRAYKIT_NODE_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "absl/status/status.h"

#include "core/failover/types.h"
#include "core/ops/join.h"
#include "core/replication/types.h"

namespace arraykit::node {

// A pinned send that did not happen (SendPinned), reported to the sender by its own transport.
struct LinkError {
  // "fingerprint_mismatch": the target presented another CA (presented_ca_fingerprint, ""
  // when it presented none); "not_contactable": the target cannot be reached now.
  std::string reason;
  std::string presented_ca_fingerprint;
};

// The CA rollover of a new primary (docs/node.md "CA rollover"): a member that trusts the
// array's next CA asks its primary for a certificate of that CA. The key stays on the member;
// the primary signs only for the member the transport names as the sender.
struct CsrRequest {  // member -> primary
  std::string csr_pem;
  std::string ca_fingerprint;  // the next CA the member asks to sign
};
struct CsrReply {  // primary -> member
  std::string ca_fingerprint;   // as in the request
  std::string certificate_pem;  // when status.code == 0
  ops::WireStatus status;       // else why the primary refused
};

// Everything members send each other: the failover and replication messages, the join
// protocol's (lib/core/ops/join.h), the transport's own LinkError and the CA rollover's CSR
// exchange. New kinds are added as further alternatives; a receiver that does not know a kind
// ignores it.
using Payload = std::variant<failover::Message, replication::Message, ops::JoinHello,
                             ops::JoinReply, ops::JoinAdmit, ops::JoinAdmitted, LinkError,
                             CsrRequest, CsrReply>;

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
  // As Send, but only to a target presenting the CA whose SHA-256 fingerprint is
  // `expected_ca_fingerprint` (pki::NormalizeFingerprint's form). When the target presents
  // another CA, or cannot be reached, the payload is dropped and the sender's receiver gets
  // Envelope{from: to, payload: LinkError}. Never blocks.
  virtual void SendPinned(const std::string& to, const std::string& expected_ca_fingerprint,
                          Payload payload) = 0;
  // The CA certificate (PEM) this member presents from now on ("" : none); it changes when the
  // member joins an array. INVALID_ARGUMENT (`malformed`) when it is not one certificate.
  virtual absl::Status PresentCa(const std::string& ca_certificate_pem) = 0;
  // Stops delivery to this member's receiver; when Close returns, the receiver is not running
  // and will not be called again. Idempotent; the destructor closes.
  virtual void Close() = 0;
};

}  // namespace arraykit::node

#endif  // ARRAYKIT_NODE_TRANSPORT_H_
