// libFuzzer target: arbitrary bytes as an Admin request, handed to the AdminService handler it
// selects (lib/transport/grpc/admin_service.h) in front of a live standalone member (a node on
// an in-memory network with its store in a temporary directory). The first byte picks the RPC;
// the rest is decoded as that RPC's request message (bytes that do not decode are dropped, as
// gRPC would drop them). Timeouts in the request are capped at 20 ms so an input costs little.
//
// Invariants: nothing crashes, throws or aborts; a refused call has a message and a reason word
// (the member's, or the handler's own INVALID_ARGUMENT naming the field) and leaves the
// member's log where it was (a refusal writes nothing; a call that ran out of time excepted).
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "arraykit/v1/admin.pb.h"
#include "core/status.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/server_context.h"
#include "grpcpp/test/default_reactor_test_peer.h"
#include "nlohmann/json.hpp"
#include "node/memory_network.h"
#include "node/node.h"
#include "transport/grpc/admin_service.h"

namespace {

namespace v1 = arraykit::v1;
using arraykit::node::Node;
using arraykit::node::Operations;
using nlohmann::json;

void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

// Passes every call to the member and remembers the status of the last one, so the target can
// tell the member's refusals from the handler's own.
class Recording final : public Operations {
 public:
  explicit Recording(Node* node) : node_(node) {}
  absl::Status last;

  absl::Status CreateArray(std::string_view d) override { return Keep(node_->CreateArray(d)); }
  absl::StatusOr<std::string> Put(std::string_view c, std::string_view k, std::string_view v,
                                  arraykit::replication::Wait w) override {
    return Keep(node_->Put(c, k, v, w));
  }
  absl::StatusOr<std::string> Delete(std::string_view c, std::string_view k,
                                     arraykit::replication::Wait w) override {
    return Keep(node_->Delete(c, k, w));
  }
  absl::StatusOr<std::string> Get(std::string_view c, std::string_view k) override {
    return Keep(node_->Get(c, k));
  }
  absl::StatusOr<std::string> List(std::string_view c) override { return Keep(node_->List(c)); }
  absl::StatusOr<std::string> WaitSynced(absl::Duration t) override {
    return Keep(node_->WaitSynced(t));
  }
  absl::Status Detach(std::string_view n) override { return Keep(node_->Detach(n)); }
  absl::Status MakePrimary(std::string_view n) override { return Keep(node_->MakePrimary(n)); }
  absl::StatusOr<std::string> BackupPrimaries() override { return Keep(node_->BackupPrimaries()); }
  absl::Status AddBackupPrimary(std::string_view n, std::size_t p) override {
    return Keep(node_->AddBackupPrimary(n, p));
  }
  absl::Status EditBackupPrimary(std::string_view n, std::size_t p) override {
    return Keep(node_->EditBackupPrimary(n, p));
  }
  absl::Status RemoveBackupPrimary(std::string_view n) override {
    return Keep(node_->RemoveBackupPrimary(n));
  }
  absl::Status Clean(bool c) override { return Keep(node_->Clean(c)); }
  absl::Status ConfigEdit(std::string_view e) override { return Keep(node_->ConfigEdit(e)); }
  absl::StatusOr<std::string> JoinToken(absl::Duration t) override {
    return Keep(node_->JoinToken(t));
  }
  absl::StatusOr<std::string> CaFingerprint() override { return Keep(node_->CaFingerprint()); }
  absl::StatusOr<std::string> Join(std::string_view j, std::string_view f, std::string_view t,
                                   absl::Duration d) override {
    return Keep(node_->Join(j, f, t, d));
  }
  absl::StatusOr<std::string> Status() override { return Keep(node_->Status()); }
  absl::StatusOr<std::vector<std::string>> Events() override { return node_->Events(); }

 private:
  absl::Status Keep(absl::Status s) {
    last = s;
    return s;
  }
  absl::StatusOr<std::string> Keep(absl::StatusOr<std::string> s) {
    last = s.status();
    return s;
  }
  Node* node_;
};

struct Member {
  std::shared_ptr<arraykit::node::MemoryNetwork> network = arraykit::node::MemoryNetwork::Create(1);
  std::unique_ptr<Node> node;
  std::unique_ptr<Recording> ops;
  std::unique_ptr<arraykit::grpc_transport::AdminService> service;

  Member() {
    char base[] = "/tmp/arraykit-fuzz-admin-XXXXXX";
    Require(mkdtemp(base) != nullptr, "a temporary directory");
    arraykit::node::NodeOptions options;
    options.name = "a.example.com";
    options.data_dir = std::string(base) + "/a";
    options.attach = arraykit::node::AttachTo(network);
    options.call_timeout = absl::Milliseconds(200);
    auto opened = Node::Open(std::move(options));
    Require(opened.ok(), "the member opens");
    node = *std::move(opened);
    ops = std::make_unique<Recording>(node.get());
    service = std::make_unique<arraykit::grpc_transport::AdminService>(ops.get());
  }
};

Member& TheMember() {
  static Member* member = new Member();  // lives for the whole run
  return *member;
}

json LogPosition(Node& node) {
  auto status = node.Status();
  Require(status.ok(), "the member answers its status");
  return json::parse(*status)["log"];
}

template <typename Request>
bool Decode(Request& request, const std::uint8_t* data, std::size_t size) {
  return request.ParseFromArray(data, static_cast<int>(size));
}

// A callback-API handler's status. Recording's writes answer before they return (the
// Operations default), so the reactor is finished when `handler` returns.
::grpc::Status CallbackCall(const std::function<void(::grpc::CallbackServerContext*)>& handler) {
  ::grpc::CallbackServerContext context;
  ::grpc::testing::DefaultReactorTestPeer peer(&context);
  handler(&context);
  if (!peer.test_status_set()) std::abort();  // a write left unanswered
  return peer.test_status();
}

// Runs the handler `rpc` selects over the decoded request; false when the bytes do not decode.
bool Call(std::uint8_t rpc, const std::uint8_t* data, std::size_t size,
          arraykit::grpc_transport::AdminService& s, ::grpc::Status& out) {
  ::grpc::ServerContext context;
  v1::Empty empty;
  v1::Document document;
  v1::Text text;
  switch (rpc % 19) {
    case 0: {
      v1::Document r;
      if (!Decode(r, data, size)) return false;
      out = s.CreateArray(&context, &r, &empty);
      return true;
    }
    case 1: {
      v1::PutRequest r;
      if (!Decode(r, data, size)) return false;
      out = CallbackCall([&](::grpc::CallbackServerContext* c) { s.Put(c, &r, &document); });
      return true;
    }
    case 2: {
      v1::KeyRequest r;
      if (!Decode(r, data, size)) return false;
      out = CallbackCall([&](::grpc::CallbackServerContext* c) { s.Delete(c, &r, &document); });
      return true;
    }
    case 3: {
      v1::KeyRequest r;
      if (!Decode(r, data, size)) return false;
      out = s.Get(&context, &r, &document);
      return true;
    }
    case 4: {
      v1::CategoryRequest r;
      if (!Decode(r, data, size)) return false;
      out = s.List(&context, &r, &document);
      return true;
    }
    case 5: {
      v1::WaitSyncedRequest r;
      if (!Decode(r, data, size)) return false;
      if (r.timeout_ms() > 20) r.set_timeout_ms(20);
      out = s.WaitSynced(&context, &r, &document);
      return true;
    }
    case 6:
    case 7:
    case 11: {
      v1::Name r;
      if (!Decode(r, data, size)) return false;
      out = rpc % 19 == 6   ? s.Detach(&context, &r, &empty)
            : rpc % 19 == 7 ? s.MakePrimary(&context, &r, &empty)
                            : s.RemoveBackupPrimary(&context, &r, &empty);
      return true;
    }
    case 8: {
      v1::Empty r;
      if (!Decode(r, data, size)) return false;
      out = s.BackupPrimaries(&context, &r, &document);
      return true;
    }
    case 9:
    case 10: {
      v1::BackupPrimaryRequest r;
      if (!Decode(r, data, size)) return false;
      out = rpc % 19 == 9 ? s.AddBackupPrimary(&context, &r, &empty)
                          : s.EditBackupPrimary(&context, &r, &empty);
      return true;
    }
    case 12: {
      v1::CleanRequest r;
      if (!Decode(r, data, size)) return false;
      out = s.Clean(&context, &r, &empty);
      return true;
    }
    case 13: {
      v1::Document r;
      if (!Decode(r, data, size)) return false;
      out = s.ConfigEdit(&context, &r, &empty);
      return true;
    }
    case 14: {
      v1::JoinTokenRequest r;
      if (!Decode(r, data, size)) return false;
      out = s.JoinToken(&context, &r, &text);
      return true;
    }
    case 15: {
      v1::Empty r;
      if (!Decode(r, data, size)) return false;
      out = s.CaFingerprint(&context, &r, &text);
      return true;
    }
    case 16: {
      v1::JoinRequest r;
      if (!Decode(r, data, size)) return false;
      if (r.timeout_ms() == 0 || r.timeout_ms() > 20) r.set_timeout_ms(20);
      out = s.Join(&context, &r, &document);
      return true;
    }
    case 17: {
      v1::Empty r;
      if (!Decode(r, data, size)) return false;
      out = s.Status(&context, &r, &document);
      return true;
    }
    default: {
      v1::Empty r;
      if (!Decode(r, data, size)) return false;
      out = s.Events(&context, &r, &document);
      return true;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Proto3 strings that are not UTF-8 make the parser log an error: expected here, not news.
  static google::protobuf::LogSilencer* const silencer = new google::protobuf::LogSilencer();
  (void)silencer;
  if (size == 0 || size > (std::size_t{1} << 20)) return 0;
  Member& member = TheMember();
  const json before = LogPosition(*member.node);
  member.ops->last = absl::OkStatus();
  ::grpc::Status answer;
  if (!Call(data[0], data + 1, size - 1, *member.service, answer)) return 0;
  if (answer.ok()) return 0;
  Require(!answer.error_message().empty(), "a refusal says why");
  if (member.ops->last.ok()) {
    // The handler's own refusal, before any call on the member.
    Require(answer.error_code() == ::grpc::StatusCode::INVALID_ARGUMENT,
            "the handler refuses only malformed requests");
  } else {
    Require(!arraykit::ReasonOf(member.ops->last).empty(), "the member's refusal has a reason");
    Require(static_cast<int>(answer.error_code()) == static_cast<int>(member.ops->last.code()),
            "the gRPC status keeps the member's canonical code");
  }
  // (A call that ran out of time may have been carried out, as a timed-out host call may.)
  if (answer.error_code() != ::grpc::StatusCode::DEADLINE_EXCEEDED) {
    Require(LogPosition(*member.node) == before, "a refusal writes nothing");
  }
  return 0;
}
