// AdminClient: the host calls of a member running elsewhere (arrayd, or any host serving the
// Admin API), over its admin socket (docs/transport.md "Admin API"). Same calls and answers as
// node::Node; a refusal comes back with the member's code and reason (FromGrpcStatus).
#ifndef ARRAYKIT_TRANSPORT_GRPC_ADMIN_CLIENT_H_
#define ARRAYKIT_TRANSPORT_GRPC_ADMIN_CLIENT_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "arraykit/v1/admin.grpc.pb.h"
#include "grpcpp/channel.h"
#include "node/operations.h"

namespace arraykit::grpc_transport {

struct AdminClientOptions {
  // The member's call timeout (how long it lets a host call wait for its loop); every call's
  // deadline is this plus kDeadlineMargin. Join and WaitSynced: their own timeout plus the margin.
  absl::Duration call_timeout = absl::Seconds(10);
  // How long Connect waits for the socket to accept the connection.
  absl::Duration connect_timeout = absl::Seconds(5);
};

class AdminClient final : public node::Operations {
 public:
  static constexpr absl::Duration kDeadlineMargin = absl::Seconds(2);

  // Connects to the member serving the Admin API on `node_path`: a data directory (its
  // admin.sock) or the socket's path. UNAVAILABLE `not_contactable` ("no arrayd is listening
  // on PATH: ...") when nothing answers there; INVALID_ARGUMENT `invalid_value` for an empty
  // path.
  static absl::StatusOr<std::unique_ptr<AdminClient>> Connect(const std::string& node_path,
                                                              AdminClientOptions options = {});

  const std::string& socket_path() const { return socket_path_; }

  absl::Status CreateArray(std::string_view description_json) override;
  absl::StatusOr<std::string> Put(std::string_view category, std::string_view key,
                                  std::string_view value_json, replication::Wait wait) override;
  absl::StatusOr<std::string> Delete(std::string_view category, std::string_view key,
                                     replication::Wait wait) override;
  absl::StatusOr<std::string> Get(std::string_view category, std::string_view key) override;
  absl::StatusOr<std::string> List(std::string_view category) override;
  absl::StatusOr<std::string> WaitSynced(absl::Duration timeout) override;
  absl::Status Detach(std::string_view name) override;
  absl::Status MakePrimary(std::string_view name) override;
  absl::StatusOr<std::string> BackupPrimaries() override;
  absl::Status AddBackupPrimary(std::string_view name, std::size_t position) override;
  absl::Status EditBackupPrimary(std::string_view name, std::size_t position) override;
  absl::Status RemoveBackupPrimary(std::string_view name) override;
  absl::Status Clean(bool contact_members) override;
  absl::Status ConfigEdit(std::string_view edit_json) override;
  absl::StatusOr<std::string> JoinToken(absl::Duration ttl) override;
  absl::StatusOr<std::string> CaFingerprint() override;
  absl::StatusOr<std::string> Join(std::string_view joiner, std::string_view fingerprint,
                                   std::string_view token, absl::Duration timeout) override;
  absl::StatusOr<std::string> Status() override;
  absl::StatusOr<std::vector<std::string>> Events() override;

 private:
  AdminClient(std::string socket_path, AdminClientOptions options,
              std::shared_ptr<::grpc::Channel> channel);

  // The arraykit status of a finished call: the member's refusal as it sent it, or
  // `not_contactable` naming the socket when the call never reached a member.
  absl::Status Finish(const ::grpc::Status& status, const ::grpc::ClientContext& context) const;
  // The call's deadline: `wait` (how long the member may take) plus kDeadlineMargin.
  void SetDeadline(::grpc::ClientContext& context, absl::Duration wait) const;
  void SetDeadline(::grpc::ClientContext& context) const {
    SetDeadline(context, options_.call_timeout);
  }
  // One unary call of the Admin API with the deadline for `wait`: the member's answer, or the
  // status Finish restores.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(::grpc::Status (v1::Admin::Stub::*rpc)(::grpc::ClientContext*,
                                                                      const Request&, Response*),
                                const Request& request, absl::Duration wait) const {
    ::grpc::ClientContext context;
    SetDeadline(context, wait);
    Response response;
    if (absl::Status s = Finish((stub_.get()->*rpc)(&context, request, &response), context);
        !s.ok()) {
      return s;
    }
    return response;
  }
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(::grpc::Status (v1::Admin::Stub::*rpc)(::grpc::ClientContext*,
                                                                      const Request&, Response*),
                                const Request& request) const {
    return Call(rpc, request, options_.call_timeout);
  }

  std::string socket_path_;
  AdminClientOptions options_;
  std::shared_ptr<::grpc::Channel> channel_;
  std::unique_ptr<v1::Admin::Stub> stub_;
};

// The admin socket `node_path` names: `node_path` itself when it is not a directory, else
// node_path/admin.sock.
std::string ResolveAdminSocket(const std::string& node_path);

}  // namespace arraykit::grpc_transport

#endif  // ARRAYKIT_TRANSPORT_GRPC_ADMIN_CLIENT_H_
