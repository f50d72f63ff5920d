// arraykit.v1.Admin served for one member (DESIGN.md §10, docs/transport.md "Admin API"): the
// handlers translate each request into one call on the member's node::Operations and its
// answer back; a refusal keeps arraykit's code and reason (ToGrpcStatus puts them in the
// trailing metadata). AdminServer serves it on a Unix socket, mode 0600.
#ifndef ARRAYKIT_TRANSPORT_GRPC_ADMIN_SERVICE_H_
#define ARRAYKIT_TRANSPORT_GRPC_ADMIN_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "arraykit/v1/admin.grpc.pb.h"
#include "grpcpp/server.h"
#include "node/operations.h"

namespace arraykit::grpc_transport {

// Put and Delete are served with gRPC's callback API: the handler hands the write to the member
// (Operations::PutAsync) and returns; the member answers from the thread that releases the
// write, so no thread waits per write in flight. The other calls are few and block a thread
// of the server while they run.
using AdminServiceBase =
    v1::Admin::WithCallbackMethod_Put<v1::Admin::WithCallbackMethod_Delete<v1::Admin::Service>>;

// The handlers. `operations` must outlive the service. Bad requests (an unknown wait word, a
// zero timeout) are INVALID_ARGUMENT with a reason word and the field's name.
class AdminService final : public AdminServiceBase {
 public:
  explicit AdminService(node::Operations* operations) : ops_(operations) {}

  ::grpc::Status CreateArray(::grpc::ServerContext* context, const v1::Document* request,
                             v1::Empty* response) override;
  ::grpc::ServerUnaryReactor* Put(::grpc::CallbackServerContext* context,
                                  const v1::PutRequest* request, v1::Document* response) override;
  ::grpc::ServerUnaryReactor* Delete(::grpc::CallbackServerContext* context,
                                     const v1::KeyRequest* request,
                                     v1::Document* response) override;
  ::grpc::Status Get(::grpc::ServerContext* context, const v1::KeyRequest* request,
                     v1::Document* response) override;
  ::grpc::Status List(::grpc::ServerContext* context, const v1::CategoryRequest* request,
                      v1::Document* response) override;
  ::grpc::Status WaitSynced(::grpc::ServerContext* context, const v1::WaitSyncedRequest* request,
                            v1::Document* response) override;
  ::grpc::Status Detach(::grpc::ServerContext* context, const v1::Name* request,
                        v1::Empty* response) override;
  ::grpc::Status MakePrimary(::grpc::ServerContext* context, const v1::Name* request,
                             v1::Empty* response) override;
  ::grpc::Status BackupPrimaries(::grpc::ServerContext* context, const v1::Empty* request,
                                 v1::Document* response) override;
  ::grpc::Status AddBackupPrimary(::grpc::ServerContext* context,
                                  const v1::BackupPrimaryRequest* request,
                                  v1::Empty* response) override;
  ::grpc::Status EditBackupPrimary(::grpc::ServerContext* context,
                                   const v1::BackupPrimaryRequest* request,
                                   v1::Empty* response) override;
  ::grpc::Status RemoveBackupPrimary(::grpc::ServerContext* context, const v1::Name* request,
                                     v1::Empty* response) override;
  ::grpc::Status Clean(::grpc::ServerContext* context, const v1::CleanRequest* request,
                       v1::Empty* response) override;
  ::grpc::Status ConfigEdit(::grpc::ServerContext* context, const v1::Document* request,
                            v1::Empty* response) override;
  ::grpc::Status JoinToken(::grpc::ServerContext* context, const v1::JoinTokenRequest* request,
                           v1::Text* response) override;
  ::grpc::Status CaFingerprint(::grpc::ServerContext* context, const v1::Empty* request,
                               v1::Text* response) override;
  ::grpc::Status Join(::grpc::ServerContext* context, const v1::JoinRequest* request,
                      v1::Document* response) override;
  ::grpc::Status Status(::grpc::ServerContext* context, const v1::Empty* request,
                        v1::Document* response) override;
  ::grpc::Status Events(::grpc::ServerContext* context, const v1::Empty* request,
                        v1::Document* response) override;

 private:
  node::Operations* ops_;
};

// Serves AdminService for `operations` on the Unix socket `socket_path` (a file path, not a
// "unix:" URI) until Stop or destruction. The socket is created mode 0600 (whoever can open
// it administers the member) and checked after the start. Refusals: INVALID_ARGUMENT
// `invalid_value` (empty path or longer than a socket address holds), FAILED_PRECONDITION
// `not_a_socket` (the path exists and is something else: it is left alone), ALREADY_EXISTS
// `socket_in_use` (a live server answers on it). A socket file nobody listens on (left by a
// killed process) is removed first.
class AdminServer {
 public:
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(node::Operations* operations,
                                                            const std::string& socket_path);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Stops accepting calls, waits for the calls in progress, removes the socket file.
  // Idempotent.
  void Stop();

  const std::string& socket_path() const { return socket_path_; }

 private:
  AdminServer(std::string socket_path, std::unique_ptr<AdminService> service);

  std::string socket_path_;
  std::unique_ptr<AdminService> service_;
  std::unique_ptr<::grpc::Server> server_;
  bool stopped_ = false;
};

// The admin socket of a data directory: DATA_DIR/admin.sock.
std::string AdminSocketOf(const std::string& data_dir);

}  // namespace arraykit::grpc_transport

#endif  // ARRAYKIT_TRANSPORT_GRPC_ADMIN_SERVICE_H_
