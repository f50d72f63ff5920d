// libFuzzer target: arbitrary bytes as a Peer frame (arraykit.v1.PeerFrame) and as the Admin
// requests, through the conversions of lib/transport/grpc/convert.h. A frame either decodes, and
// then encodes again to a frame that decodes to the same payload (the encoding is a fixed
// point), or is refused as INVALID_ARGUMENT with a reason word and a message. Wait words either
// map both ways or are refused with a reason. Nothing may crash, throw or abort.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "arraykit/v1/admin.pb.h"
#include "arraykit/v1/peer.pb.h"
#include "core/status.h"
#include "google/protobuf/stubs/logging.h"
#include "transport/grpc/convert.h"

namespace {

namespace v1 = arraykit::v1;
using arraykit::grpc_transport::DecodeFrame;
using arraykit::grpc_transport::EncodeFrame;
using arraykit::grpc_transport::WaitFromProto;
using arraykit::grpc_transport::WaitToProto;

void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

void CheckRefusal(const absl::Status& status) {
  Require(status.code() == absl::StatusCode::kInvalidArgument, "a refusal is INVALID_ARGUMENT");
  Require(!status.message().empty(), "a refusal says why");
  Require(!arraykit::ReasonOf(status).empty(), "a refusal carries a reason word");
}

void FuzzFrame(const std::uint8_t* data, std::size_t size) {
  v1::PeerFrame frame;
  if (!frame.ParseFromArray(data, static_cast<int>(size))) return;
  absl::StatusOr<arraykit::node::Payload> decoded = DecodeFrame(frame);
  if (!decoded.ok()) return CheckRefusal(decoded.status());
  absl::StatusOr<v1::PeerFrame> encoded = EncodeFrame(frame.to(), *decoded);
  Require(encoded.ok(), "a decoded payload encodes");
  v1::PeerFrame parsed;
  Require(parsed.ParseFromString(encoded->SerializeAsString()), "an encoded frame parses");
  absl::StatusOr<arraykit::node::Payload> again = DecodeFrame(parsed);
  Require(again.ok(), "an encoded frame decodes");
  Require(again->index() == decoded->index(), "the payload keeps its kind");
  absl::StatusOr<v1::PeerFrame> reencoded = EncodeFrame(parsed.to(), *again);
  Require(reencoded.ok(), "a decoded payload encodes again");
  Require(reencoded->SerializeAsString() == encoded->SerializeAsString(),
          "encoding is a fixed point: the payload survived unchanged");
}

void FuzzWait(const std::string& wait) {
  absl::StatusOr<arraykit::replication::Wait> parsed = WaitFromProto(wait, "wait");
  if (!parsed.ok()) return CheckRefusal(parsed.status());
  absl::StatusOr<arraykit::replication::Wait> back = WaitFromProto(WaitToProto(*parsed), "wait");
  Require(back.ok() && *back == *parsed, "a wait word maps both ways");
}

void FuzzAdmin(const std::uint8_t* data, std::size_t size) {
  const int length = static_cast<int>(size);
  if (v1::PutRequest put; put.ParseFromArray(data, length)) FuzzWait(put.wait());
  if (v1::KeyRequest key; key.ParseFromArray(data, length)) FuzzWait(key.wait());
  // The other requests carry no words to convert: parsing them must not crash.
  v1::JoinRequest join;
  (void)join.ParseFromArray(data, length);
  v1::BackupPrimaryRequest backup;
  (void)backup.ParseFromArray(data, length);
  v1::WaitSyncedRequest synced;
  (void)synced.ParseFromArray(data, length);
  v1::Document document;
  (void)document.ParseFromArray(data, length);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Proto3 strings that are not UTF-8 make the parser log an error: expected here, not news.
  static google::protobuf::LogSilencer* const silencer = new google::protobuf::LogSilencer();
  (void)silencer;
  if (size > (std::size_t{1} << 24)) return 0;
  FuzzFrame(data, size);
  FuzzAdmin(data, size);
  return 0;
}
