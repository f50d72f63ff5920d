// Conversions between the protos of arraykit.v1 and the core's types (DESIGN.md §10): the gRPC
// handlers only translate, and every translation lives here, with its own tests
// (tests/unit/transport/convert_test.cc).
//
// Decoding is strict, since frames come from the network: a frame that does not hold a known
// payload, an unknown message type, entry kind, role, category or resilience word, a value
// beyond the core's limits (key and value sizes, formation members, entries per message,
// resilience ranges), a required sub-message missing (a formation's resilience, a join reply's
// member, a status) is INVALID_ARGUMENT with reason `malformed_message` and a message naming the
// field ("replication.entries[3].kind: unknown kind \"puts\""). Decoding never throws and never
// aborts, whatever the bytes. Time travels as unix milliseconds (absl::Time is truncated to the
// millisecond), resilience intervals as microseconds (the model keeps whole microseconds).
#ifndef ARRAYKIT_TRANSPORT_GRPC_CONVERT_H_
#define ARRAYKIT_TRANSPORT_GRPC_CONVERT_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "arraykit/v1/admin.pb.h"
#include "arraykit/v1/peer.pb.h"
#include "core/replication/types.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "node/transport.h"

namespace arraykit::grpc_transport {

// Limits of decoding where the core has none of its own (far above what the core sends: a
// kAppend carries at most ReplicatorOptions::max_batch_entries, 1024 by default).
inline constexpr std::size_t kMaxFrameEntries = std::size_t{1} << 20;     // per message
inline constexpr std::size_t kMaxSnapshotRecords = std::size_t{1} << 22;  // tombstones too
inline constexpr std::size_t kMaxSnapshotConflicts = std::size_t{1} << 20;
inline constexpr std::size_t kMaxFrameProbes = 128;  // probes grow exponentially: ~64 at most
inline constexpr std::size_t kMaxFrameTextBytes = 64 * 1024;  // reasons, messages, origins
inline constexpr std::size_t kMaxFramePemBytes = 64 * 1024;   // a certificate, CA or CSR PEM

// ---- Peer frames ---------------------------------------------------------------------------

// `payload` for member `to` as a frame. A LinkError (the transport's own report, never sent)
// is INVALID_ARGUMENT.
absl::StatusOr<v1::PeerFrame> EncodeFrame(const std::string& to, const node::Payload& payload);

// The payload of a received frame (the sender is set by the transport from the link, so the
// `from` fields of the core's messages are left empty here).
absl::StatusOr<node::Payload> DecodeFrame(const v1::PeerFrame& frame);

// ---- status across gRPC --------------------------------------------------------------------
// arraykit's status travels as a gRPC status with the canonical code (arraykit's own codes
// map to their canonical one, as MakeError does) and the message, plus trailing metadata
// "arraykit-code" (the C ABI's number, decimal) and "arraykit-reason" (the reason word).

// Server side: the gRPC status to return, and the metadata put on `context`.
::grpc::Status ToGrpcStatus(const absl::Status& status, ::grpc::ServerContextBase* context);

// Client side: the arraykit status of a finished call (code and reason from the metadata when
// present; else from the gRPC code, e.g. UNAVAILABLE with reason `not_contactable` when the
// member cannot be reached, DEADLINE_EXCEEDED).
absl::Status FromGrpcStatus(const ::grpc::Status& status, const ::grpc::ClientContext& context);

// ---- Admin ---------------------------------------------------------------------------------

// "primary" (or "") and "all"; anything else is INVALID_ARGUMENT `invalid_value` naming `field`.
absl::StatusOr<replication::Wait> WaitFromProto(const std::string& wait, const std::string& field);
std::string WaitToProto(replication::Wait wait);

}  // namespace arraykit::grpc_transport

#endif  // ARRAYKIT_TRANSPORT_GRPC_CONVERT_H_
