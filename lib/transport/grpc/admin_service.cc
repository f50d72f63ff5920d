#include "transport/grpc/admin_service.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "node/node.h"
#include "transport/grpc/convert.h"

namespace arraykit::grpc_transport {
namespace {

constexpr mode_t kSocketMode = 0600;
// Calls still running when the server stops get this long to finish before they are cancelled.
constexpr absl::Duration kStopGrace = absl::Seconds(2);
constexpr int kIdleCallThreads = 64;

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return MakeError(absl::StatusCode::kInvalidArgument, "invalid_value",
                   absl::StrCat(field, ": ", rule));
}

::grpc::Status Answer(const absl::Status& status, ::grpc::ServerContextBase* context) {
  return ToGrpcStatus(status, context);
}

::grpc::Status Answer(const absl::StatusOr<std::string>& result, v1::Document* response,
                      ::grpc::ServerContextBase* context) {
  if (result.ok()) response->set_json(*result);
  return ToGrpcStatus(result.status(), context);
}

// The answer of a write handed to the member: finishes the call (once: the member answers
// once). gRPC keeps the context and response until then; the server's Shutdown waits for it.
node::AnswerFn FinishWith(::grpc::ServerUnaryReactor* reactor,
                          ::grpc::CallbackServerContext* context, v1::Document* response) {
  return [reactor, context, response](absl::StatusOr<std::string> result) {
    reactor->Finish(Answer(result, response, context));
  };
}

std::string ErrnoText(int error) { return std::strerror(error); }

// What is at `path` before the server binds it: nothing, a stale socket (removed here), or a
// refusal.
absl::Status ClearSocketPath(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return MakeError(absl::StatusCode::kFailedPrecondition, "not_a_socket",
                     absl::StrCat(path, ": cannot inspect it: ", ErrnoText(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return MakeError(absl::StatusCode::kFailedPrecondition, "not_a_socket",
                     absl::StrCat(path, " exists and is not a socket; refusing to replace it"));
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", ErrnoText(errno)));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  int connected = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  int error = errno;
  close(fd);
  if (connected == 0) {
    return MakeError(absl::StatusCode::kAlreadyExists, "socket_in_use",
                     absl::StrCat(path, ": another process serves the admin API on it"));
  }
  if (error != ECONNREFUSED) {
    return MakeError(absl::StatusCode::kFailedPrecondition, "not_a_socket",
                     absl::StrCat(path, ": cannot tell whether it is in use: ", ErrnoText(error)));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return MakeError(absl::StatusCode::kFailedPrecondition, "not_a_socket",
                     absl::StrCat(path, ": cannot remove the stale socket: ", ErrnoText(errno)));
  }
  return absl::OkStatus();
}

// Restores the process's umask when it goes out of scope.
class UmaskScope {
 public:
  explicit UmaskScope(mode_t mask) : previous_(umask(mask)) {}
  ~UmaskScope() { umask(previous_); }
  UmaskScope(const UmaskScope&) = delete;
  UmaskScope& operator=(const UmaskScope&) = delete;

 private:
  mode_t previous_;
};

}  // namespace

// ---- handlers ------------------------------------------------------------------------------

::grpc::Status AdminService::CreateArray(::grpc::ServerContext* context,
                                         const v1::Document* request, v1::Empty*) {
  return Answer(ops_->CreateArray(request->json()), context);
}

::grpc::ServerUnaryReactor* AdminService::Put(::grpc::CallbackServerContext* context,
                                              const v1::PutRequest* request,
                                              v1::Document* response) {
  // DefaultReactor makes the reactor: called once per call.
  ::grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  node::AnswerFn done = FinishWith(reactor, context, response);
  auto wait = WaitFromProto(request->wait(), "wait");
  if (!wait.ok()) {
    done(wait.status());
  } else {
    ops_->PutAsync(request->category(), request->key(), request->value_json(), *wait,
                   std::move(done));
  }
  return reactor;
}

::grpc::ServerUnaryReactor* AdminService::Delete(::grpc::CallbackServerContext* context,
                                                 const v1::KeyRequest* request,
                                                 v1::Document* response) {
  // DefaultReactor makes the reactor: called once per call.
  ::grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  node::AnswerFn done = FinishWith(reactor, context, response);
  auto wait = WaitFromProto(request->wait(), "wait");
  if (!wait.ok()) {
    done(wait.status());
  } else {
    ops_->DeleteAsync(request->category(), request->key(), *wait, std::move(done));
  }
  return reactor;
}

::grpc::Status AdminService::Get(::grpc::ServerContext* context, const v1::KeyRequest* request,
                                 v1::Document* response) {
  if (!request->wait().empty()) {
    return Answer(Invalid("wait", "only Put and Delete take a wait word"), context);
  }
  return Answer(ops_->Get(request->category(), request->key()), response, context);
}

::grpc::Status AdminService::List(::grpc::ServerContext* context,
                                  const v1::CategoryRequest* request, v1::Document* response) {
  return Answer(ops_->List(request->category()), response, context);
}

::grpc::Status AdminService::WaitSynced(::grpc::ServerContext* context,
                                        const v1::WaitSyncedRequest* request,
                                        v1::Document* response) {
  if (request->timeout_ms() == 0) {
    return Answer(Invalid("timeout_ms", "must be positive"), context);
  }
  return Answer(ops_->WaitSynced(absl::Milliseconds(request->timeout_ms())), response, context);
}

::grpc::Status AdminService::Detach(::grpc::ServerContext* context, const v1::Name* request,
                                    v1::Empty*) {
  return Answer(ops_->Detach(request->name()), context);
}

::grpc::Status AdminService::MakePrimary(::grpc::ServerContext* context, const v1::Name* request,
                                         v1::Empty*) {
  return Answer(ops_->MakePrimary(request->name()), context);
}

::grpc::Status AdminService::BackupPrimaries(::grpc::ServerContext* context, const v1::Empty*,
                                             v1::Document* response) {
  return Answer(ops_->BackupPrimaries(), response, context);
}

::grpc::Status AdminService::AddBackupPrimary(::grpc::ServerContext* context,
                                              const v1::BackupPrimaryRequest* request, v1::Empty*) {
  return Answer(ops_->AddBackupPrimary(request->name(), request->position()), context);
}

::grpc::Status AdminService::EditBackupPrimary(::grpc::ServerContext* context,
                                               const v1::BackupPrimaryRequest* request,
                                               v1::Empty*) {
  return Answer(ops_->EditBackupPrimary(request->name(), request->position()), context);
}

::grpc::Status AdminService::RemoveBackupPrimary(::grpc::ServerContext* context,
                                                 const v1::Name* request, v1::Empty*) {
  return Answer(ops_->RemoveBackupPrimary(request->name()), context);
}

::grpc::Status AdminService::Clean(::grpc::ServerContext* context, const v1::CleanRequest* request,
                                   v1::Empty*) {
  return Answer(ops_->Clean(request->contact_members()), context);
}

::grpc::Status AdminService::ConfigEdit(::grpc::ServerContext* context, const v1::Document* request,
                                        v1::Empty*) {
  return Answer(ops_->ConfigEdit(request->json()), context);
}

::grpc::Status AdminService::JoinToken(::grpc::ServerContext* context,
                                       const v1::JoinTokenRequest* request, v1::Text* response) {
  // 0: the C ABI's default TTL.
  absl::Duration ttl = request->ttl_s() == 0 ? absl::Seconds(600) : absl::Seconds(request->ttl_s());
  auto token = ops_->JoinToken(ttl);
  if (token.ok()) response->set_text(*token);
  return Answer(token.status(), context);
}

::grpc::Status AdminService::CaFingerprint(::grpc::ServerContext* context, const v1::Empty*,
                                           v1::Text* response) {
  auto fingerprint = ops_->CaFingerprint();
  if (fingerprint.ok()) response->set_text(*fingerprint);
  return Answer(fingerprint.status(), context);
}

::grpc::Status AdminService::Join(::grpc::ServerContext* context, const v1::JoinRequest* request,
                                  v1::Document* response) {
  if (request->timeout_ms() > 3600u * 1000u) {
    return Answer(Invalid("timeout_ms", "at most 3600000 (one hour)"), context);
  }
  absl::Duration timeout = request->timeout_ms() == 0 ? node::kDefaultJoinTimeout
                                                      : absl::Milliseconds(request->timeout_ms());
  return Answer(ops_->Join(request->joiner(), request->fingerprint(), request->token(), timeout),
                response, context);
}

::grpc::Status AdminService::Status(::grpc::ServerContext* context, const v1::Empty*,
                                    v1::Document* response) {
  return Answer(ops_->Status(), response, context);
}

::grpc::Status AdminService::Events(::grpc::ServerContext* context, const v1::Empty*,
                                    v1::Document* response) {
  auto events = ops_->Events();
  if (!events.ok()) return Answer(events.status(), context);
  std::string text = "[";
  for (std::size_t i = 0; i < events->size(); ++i) {
    if (i > 0) text += ",";
    text += (*events)[i];
  }
  text += "]";
  response->set_json(std::move(text));
  return Answer(absl::OkStatus(), context);
}

// ---- server --------------------------------------------------------------------------------

std::string AdminSocketOf(const std::string& data_dir) {
  if (!data_dir.empty() && data_dir.back() == '/') return data_dir + "admin.sock";
  return data_dir + "/admin.sock";
}

AdminServer::AdminServer(std::string socket_path, std::unique_ptr<AdminService> service)
    : socket_path_(std::move(socket_path)), service_(std::move(service)) {}

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(node::Operations* operations,
                                                                const std::string& socket_path) {
  if (operations == nullptr) return absl::InvalidArgumentError("operations must not be null");
  if (socket_path.empty()) return Invalid("socket_path", "must not be empty");
  if (socket_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Invalid("socket_path", absl::StrCat("at most ", sizeof(sockaddr_un{}.sun_path) - 1,
                                               " bytes (a Unix socket address), got ",
                                               socket_path.size(), ": ", socket_path));
  }
  if (absl::Status s = ClearSocketPath(socket_path); !s.ok()) return s;

  std::unique_ptr<AdminServer> server(
      new AdminServer(socket_path, std::make_unique<AdminService>(operations)));
  ::grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort("unix:" + socket_path, ::grpc::InsecureServerCredentials(), &bound);
  builder.RegisterService(server->service_.get());
  // A sync server's thread that finishes a call and finds more than MAX_POLLERS threads
  // waiting for calls exits, and the next call starts a new one: with many callers in flight
  // (64 writers, each call held until its write is durable) that was a thread created and
  // destroyed per call. Idle threads up to this many stay.
  builder.SetSyncServerOption(::grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              kIdleCallThreads);
  {
    // gRPC binds the socket with the process's umask: no access for group and others from the
    // moment the file exists; the chmod below makes the mode exact whatever the umask was.
    UmaskScope mask(0177);
    server->server_ = builder.BuildAndStart();
  }
  if (server->server_ == nullptr || bound == 0) {
    return MakeError(absl::StatusCode::kUnavailable, "listen_failed",
                     absl::StrCat("cannot serve the admin API on ", socket_path));
  }
  if (chmod(socket_path.c_str(), kSocketMode) != 0) {
    int error = errno;
    server->Stop();
    return MakeError(absl::StatusCode::kUnavailable, "listen_failed",
                     absl::StrCat(socket_path, ": cannot set mode 0600: ", ErrnoText(error)));
  }
  struct stat st;
  if (lstat(socket_path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode) ||
      (st.st_mode & 0777) != kSocketMode) {
    server->Stop();
    return MakeError(absl::StatusCode::kUnavailable, "listen_failed",
                     absl::StrCat(socket_path, ": the socket is not mode 0600 after its start"));
  }
  return server;
}

void AdminServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(kStopGrace));
    server_->Wait();
  }
  struct stat st;
  if (lstat(socket_path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(socket_path_.c_str());
}

AdminServer::~AdminServer() { Stop(); }

}  // namespace arraykit::grpc_transport
