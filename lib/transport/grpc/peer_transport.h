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
// Each connected pair shares one bidirectional stream (a stream either side dialed carries
// frames both ways; two for a while when both dialed at once); sends are queued per peer
// (bounded; drops counted) and never block; a lost stream is redialed with backoff; an
// unreachable peer costs nothing but its own queue. docs/transport.md "Links and mutual TLS".
#ifndef ARRAYKIT_TRANSPORT_GRPC_PEER_TRANSPORT_H_
#define ARRAYKIT_TRANSPORT_GRPC_PEER_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "node/node.h"

namespace arraykit::grpc_transport {

struct PeerOptions {
  std::string listen;                        // "127.0.0.2:5427" (the seed's port 5427)
  std::map<std::string, std::string> peers;  // peer DNS name -> "host:port"
  std::size_t max_queued = 4096;  // frames queued per peer; beyond it the oldest are dropped
  // Redial backoff after a failed connection: doubles from min up to max, so a restarted
  // member is found again within about reconnect_max.
  absl::Duration reconnect_min = absl::Milliseconds(20);
  absl::Duration reconnect_max = absl::Milliseconds(100);
  // The longest a connection attempt (TCP connect + TLS handshake) may take.
  absl::Duration handshake_timeout = absl::Seconds(5);
  // HTTP/2 keepalive pings on idle connections: a peer that does not answer one within
  // keepalive_timeout is taken as gone and its stream closed (then redialed).
  absl::Duration keepalive_time = absl::Seconds(2);
  absl::Duration keepalive_timeout = absl::Seconds(2);
  // Bind client sockets to the listen address's IP, so packet filters see this member's own
  // address as the source of its connections (end-to-end partition tests). Ignored when the
  // listen host is a wildcard or a name.
  bool bind_client_to_listen_ip = true;
  // Open links are checked again at every Secure and at this interval, so a certificate that
  // expires while its link is open ends the link.
  absl::Duration recheck_interval = absl::Seconds(10);
  // When a Secure no longer admits a peer because it left the members, its frames are refused
  // at once, but this member's own frames to it still go out for this long (the primary's "you
  // were detached" is sent after the Secure that removed the member): on the open stream, or
  // on one this member dials if none was open. Then the stream is closed. It covers a
  // listener's identity reload (1 s) after a member that just joined is detached.
  absl::Duration farewell = absl::Seconds(2);
  // The wall clock certificates are checked against (validity); empty: absl::Now. Tests move it.
  std::function<absl::Time()> wall_clock;
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
  std::uint64_t dropped = 0;   // outbound frames lost: queue full, broken stream, unencodable
  std::uint64_t rejected = 0;  // inbound frames refused: malformed, addressed to another
                               // member, or not allowed on a join contact's link
  std::uint64_t refused = 0;   // handshakes refused by this member's checks (either side)
  std::string last_refusal;    // e.g. "untrusted_issuer: ..." ("" : none)
  std::size_t queued = 0;
  std::size_t streams = 0;     // open streams of any kind (member, join contact, pinned)
  // The connected stream's other end: "ipv4:127.0.0.2:41234" for one the peer dialed (its
  // source address), the peer's host:port for one this member dialed ("" : none).
  std::string remote;
};

// The attach function for NodeOptions::attach. The transport it makes has no listener until the
// first Secure that carries a certificate (the node's first call, at open); Secure then starts
// the listener, and a later Secure with another certificate replaces it (no files: the
// identity stays in memory). Refusals of Attach: the options' (ValidatePeerOptions).
node::AttachFn AttachGrpc(PeerOptions options);

}  // namespace arraykit::grpc_transport

#endif  // ARRAYKIT_TRANSPORT_GRPC_PEER_TRANSPORT_H_
