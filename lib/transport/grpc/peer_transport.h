// The gRPC peer transport (DESIGN.md §10): the node's Transport over arraykit.v1.Peer with
// mutual TLS, for members in separate processes.
//
// One process runs one member: AttachGrpc gives the node an attach function; the transport it
// makes listens on `listen` and dials peers by the address book. Every listener and client
// presents the member's peer certificate (LinkSecurity); a connection is admitted only when the
// peer's certificate chains to a trusted CA, names a current member exactly (the member dialed,
// on a client link), is valid and not revoked — checked at the handshake by a certificate
// verifier. The sender of every inbound frame is that verified name. A standalone member also
// admits a primary's first contact of a join (only JoinHello and JoinAdmit pass from it), and a
// pinned send (the join) checks the target's CA fingerprint before anything is sent.
//
// Each connected pair shares one bidirectional stream (whichever side dialed first); sends are
// queued per peer (bounded; drops counted) and never block; a lost stream is redialed with
// backoff; an unreachable peer costs nothing but its own queue.
#ifndef ARRAYKIT_TRANSPORT_GRPC_PEER_TRANSPORT_H_
#define ARRAYKIT_TRANSPORT_GRPC_PEER_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "node/node.h"

namespace arraykit::grpc_transport {

struct PeerOptions {
  std::string listen;                        // "127.0.0.2:5427" (the seed's port 5427)
  std::map<std::string, std::string> peers;  // peer DNS name -> "host:port"
  // Identity files for gRPC's reloading certificate provider (key 0600) live here; created
  // 0700 when missing. Usually DATA_DIR/tls.
  std::string tls_dir;
  std::size_t max_queued = 4096;  // frames queued per peer; beyond it the oldest are dropped
  absl::Duration reconnect_min = absl::Milliseconds(20);
  absl::Duration reconnect_max = absl::Seconds(1);
  absl::Duration handshake_timeout = absl::Seconds(5);
};

// Refuses an empty or malformed listen address, a peer name that is not a DNS name, an address
// without a port, a queue of 0. INVALID_ARGUMENT naming the field.
absl::Status ValidatePeerOptions(const PeerOptions& options);

// Per-peer counters, shown in the node's status ("links").
struct LinkCounters {
  std::string peer;
  bool connected = false;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t dropped = 0;   // queue full, or refused by the peer's checks
  std::uint64_t refused = 0;   // handshakes refused (either side), with the last reason
  std::string last_refusal;    // e.g. "untrusted_issuer: ..." ("" : none)
  std::size_t queued = 0;
};

node::AttachFn AttachGrpc(PeerOptions options);

}  // namespace arraykit::grpc_transport

#endif  // ARRAYKIT_TRANSPORT_GRPC_PEER_TRANSPORT_H_
