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
//     certificate chains to, LinkSecurity::presented_ca_pem; over gRPC, the chain in its TLS
//     handshake). SendPinned delivers
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
#include <vector>

#include "absl/status/status.h"

#include "core/failover/types.h"
#include "core/ops/join.h"
#include "core/pki/secret.h"
#include "core/replication/types.h"

namespace arraykit::node {

// A pinned send that did not happen (SendPinned), reported to the sender by its own transport.
struct LinkError {
  // "fingerprint_mismatch": the target presented another CA (presented_ca_fingerprint, ""
  // when it presented none); "not_contactable": the target cannot be reached now;
  // "contact_refused": the target's certificate matched, but it closed the connection without
  // answering (it refused this member's certificate: a member of an array admits only its
  // array's members).
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

// What a member's links are checked against (DESIGN.md §6, §10). Over gRPC every listener and
// client presents `certificate_pem` with `key_pem`; a peer is admitted when its certificate
// chains to one of `trusted_ca_pems`, names a member of `members` exactly (on a client link:
// the member dialed), is valid now and its serial is not in `revoked_serials`. A `standalone`
// member also admits the join protocol's first contact from a primary it does not know yet
// (only JoinHello and JoinAdmit pass from such a link; the join token authenticates them).
// The in-memory network uses presented_ca_pem only.
struct LinkSecurity {
  std::string certificate_pem;               // this member's peer certificate ("" : none yet)
  pki::SecretString key_pem;                 // its private key
  std::string presented_ca_pem;              // the CA its certificate chains to
  std::vector<std::string> trusted_ca_pems;  // every CA it trusts (two during a rollover)
  std::vector<std::string> members;          // the other members it admits, canonical names
  std::vector<std::string> revoked_serials;  // as pki prints serials (upper-case hex)
  bool standalone = true;
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
  // What this member's links are checked against from now on (LinkSecurity). The node gives
  // a new one whenever its certificate, trusted CAs, membership or revocations change; it
  // applies to new connections at once, and links to a peer no longer admitted are closed.
  // INVALID_ARGUMENT (`malformed`) when presented_ca_pem is not one certificate.
  virtual absl::Status Secure(const LinkSecurity& security) = 0;
  // The state of this member's links as a JSON array, for the node's status ("links"): one
  // object per peer {"peer", "connected", "sent", "received", "dropped", "queued", ...}.
  // Thread-safe. The in-memory network has no links of its own: "[]".
  virtual std::string LinksJson() const { return "[]"; }
  // Stops delivery to this member's receiver; when Close returns, the receiver is not running
  // and will not be called again. Idempotent; the destructor closes.
  virtual void Close() = 0;
};

}  // namespace arraykit::node

#endif  // ARRAYKIT_NODE_TRANSPORT_H_
