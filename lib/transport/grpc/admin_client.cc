#include "transport/grpc/admin_client.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "nlohmann/json.hpp"
#include "transport/grpc/convert.h"

namespace arraykit::grpc_transport {
namespace {

absl::Status NotListening(const std::string& socket_path, absl::string_view why) {
  return MakeError(absl::StatusCode::kUnavailable, "not_contactable",
                   absl::StrCat("no arrayd is listening on ", socket_path, ": ", why));
}

// A plain connect() to the socket first: its errno says precisely why nothing answers.
absl::Status ProbeSocket(const std::string& socket_path) {
  if (socket_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_value",
                     absl::StrCat("node: a socket path has at most ",
                                  sizeof(sockaddr_un{}.sun_path) - 1, " bytes: ", socket_path));
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());
  int connected = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  int error = errno;
  close(fd);
  if (connected == 0) return absl::OkStatus();
  switch (error) {
    case ENOENT:
      return NotListening(socket_path, "no such socket (is the member running?)");
    case ECONNREFUSED:
      return NotListening(socket_path, "connection refused (a socket left by a stopped member)");
    case ENOTSOCK:
      return NotListening(socket_path, "not a socket");
    default:
      return NotListening(socket_path, std::strerror(error));
  }
}

std::chrono::system_clock::time_point DeadlineAfter(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

}  // namespace

std::string ResolveAdminSocket(const std::string& node_path) {
  struct stat st;
  if (stat(node_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    if (!node_path.empty() && node_path.back() == '/') return node_path + "admin.sock";
    return node_path + "/admin.sock";
  }
  return node_path;
}

AdminClient::AdminClient(std::string socket_path, AdminClientOptions options,
                         std::shared_ptr<::grpc::Channel> channel)
    : socket_path_(std::move(socket_path)),
      options_(options),
      channel_(std::move(channel)),
      stub_(v1::Admin::NewStub(channel_)) {}

absl::StatusOr<std::unique_ptr<AdminClient>> AdminClient::Connect(const std::string& node_path,
                                                                  AdminClientOptions options) {
  if (node_path.empty()) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_value",
                     "node: a data directory or an admin socket path is needed");
  }
  std::string socket_path = ResolveAdminSocket(node_path);
  if (absl::Status s = ProbeSocket(socket_path); !s.ok()) return s;
  ::grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // A member restarted under the operator's feet is found again quickly.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  auto channel = ::grpc::CreateCustomChannel("unix:" + socket_path,
                                             ::grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(DeadlineAfter(options.connect_timeout))) {
    return NotListening(socket_path, absl::StrCat("no answer within ",
                                                  absl::FormatDuration(options.connect_timeout)));
  }
  return std::unique_ptr<AdminClient>(new AdminClient(socket_path, options, std::move(channel)));
}

void AdminClient::SetDeadline(::grpc::ClientContext& context, absl::Duration wait) const {
  context.set_deadline(DeadlineAfter(wait + kDeadlineMargin));
}

absl::Status AdminClient::Finish(const ::grpc::Status& status,
                                 const ::grpc::ClientContext& context) const {
  if (status.ok()) return absl::OkStatus();
  const auto& trailers = context.GetServerTrailingMetadata();
  bool from_member = trailers.find("arraykit-code") != trailers.end();
  if (!from_member && status.error_code() == ::grpc::StatusCode::UNAVAILABLE) {
    return NotListening(socket_path_, status.error_message());
  }
  return FromGrpcStatus(status, context);
}

namespace {

absl::StatusOr<std::string> JsonOf(absl::StatusOr<v1::Document> answer) {
  if (!answer.ok()) return answer.status();
  return std::move(*answer->mutable_json());
}

absl::StatusOr<std::string> TextOf(absl::StatusOr<v1::Text> answer) {
  if (!answer.ok()) return answer.status();
  return std::move(*answer->mutable_text());
}

absl::Status StatusOf(const absl::StatusOr<v1::Empty>& answer) { return answer.status(); }

v1::Name NameRequest(std::string_view name) {
  v1::Name request;
  request.set_name(std::string(name));
  return request;
}

v1::Document DocumentRequest(std::string_view json) {
  v1::Document request;
  request.set_json(std::string(json));
  return request;
}

// A backup list position travels as uint32; a larger one is beyond any list.
absl::StatusOr<v1::BackupPrimaryRequest> BackupRequest(std::string_view name,
                                                       std::size_t position) {
  if (position > UINT32_MAX) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_position",
                     absl::StrCat("position: ", position, " is beyond any backup list"));
  }
  v1::BackupPrimaryRequest request;
  request.set_name(std::string(name));
  request.set_position(static_cast<std::uint32_t>(position));
  return request;
}

}  // namespace

absl::Status AdminClient::CreateArray(std::string_view description_json) {
  return StatusOf(Call(&v1::Admin::Stub::CreateArray, DocumentRequest(description_json)));
}

absl::StatusOr<std::string> AdminClient::Put(std::string_view category, std::string_view key,
                                             std::string_view value_json, replication::Wait wait) {
  v1::PutRequest request;
  request.set_category(std::string(category));
  request.set_key(std::string(key));
  request.set_value_json(std::string(value_json));
  request.set_wait(WaitToProto(wait));
  return JsonOf(Call(&v1::Admin::Stub::Put, request));
}

absl::StatusOr<std::string> AdminClient::Delete(std::string_view category, std::string_view key,
                                                replication::Wait wait) {
  v1::KeyRequest request;
  request.set_category(std::string(category));
  request.set_key(std::string(key));
  request.set_wait(WaitToProto(wait));
  return JsonOf(Call(&v1::Admin::Stub::Delete, request));
}

absl::StatusOr<std::string> AdminClient::Get(std::string_view category, std::string_view key) {
  v1::KeyRequest request;
  request.set_category(std::string(category));
  request.set_key(std::string(key));
  return JsonOf(Call(&v1::Admin::Stub::Get, request));
}

absl::StatusOr<std::string> AdminClient::List(std::string_view category) {
  v1::CategoryRequest request;
  request.set_category(std::string(category));
  return JsonOf(Call(&v1::Admin::Stub::List, request));
}

absl::StatusOr<std::string> AdminClient::WaitSynced(absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_value",
                     "timeout: must be positive");
  }
  v1::WaitSyncedRequest request;
  request.set_timeout_ms(static_cast<std::uint32_t>(
      std::min<std::int64_t>(absl::ToInt64Milliseconds(timeout), UINT32_MAX)));
  if (request.timeout_ms() == 0) request.set_timeout_ms(1);
  return JsonOf(Call(&v1::Admin::Stub::WaitSynced, request, timeout));
}

absl::Status AdminClient::Detach(std::string_view name) {
  return StatusOf(Call(&v1::Admin::Stub::Detach, NameRequest(name)));
}

absl::Status AdminClient::MakePrimary(std::string_view name) {
  return StatusOf(Call(&v1::Admin::Stub::MakePrimary, NameRequest(name)));
}

absl::StatusOr<std::string> AdminClient::BackupPrimaries() {
  return JsonOf(Call(&v1::Admin::Stub::BackupPrimaries, v1::Empty()));
}

absl::Status AdminClient::AddBackupPrimary(std::string_view name, std::size_t position) {
  auto request = BackupRequest(name, position);
  if (!request.ok()) return request.status();
  return StatusOf(Call(&v1::Admin::Stub::AddBackupPrimary, *request));
}

absl::Status AdminClient::EditBackupPrimary(std::string_view name, std::size_t position) {
  auto request = BackupRequest(name, position);
  if (!request.ok()) return request.status();
  return StatusOf(Call(&v1::Admin::Stub::EditBackupPrimary, *request));
}

absl::Status AdminClient::RemoveBackupPrimary(std::string_view name) {
  return StatusOf(Call(&v1::Admin::Stub::RemoveBackupPrimary, NameRequest(name)));
}

absl::Status AdminClient::Clean(bool contact_members) {
  v1::CleanRequest request;
  request.set_contact_members(contact_members);
  return StatusOf(Call(&v1::Admin::Stub::Clean, request));
}

absl::Status AdminClient::ConfigEdit(std::string_view edit_json) {
  return StatusOf(Call(&v1::Admin::Stub::ConfigEdit, DocumentRequest(edit_json)));
}

absl::StatusOr<std::string> AdminClient::JoinToken(absl::Duration ttl) {
  // The member checks the range (`invalid_ttl`); a TTL that does not fit the field is far
  // beyond it, so it travels as the largest value and is refused there.
  std::int64_t seconds = absl::ToInt64Seconds(ttl);
  if (seconds <= 0) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_ttl",
                     "ttl: must be at least one second");
  }
  v1::JoinTokenRequest request;
  request.set_ttl_s(static_cast<std::uint32_t>(std::min<std::int64_t>(seconds, UINT32_MAX)));
  return TextOf(Call(&v1::Admin::Stub::JoinToken, request));
}

absl::StatusOr<std::string> AdminClient::CaFingerprint() {
  return TextOf(Call(&v1::Admin::Stub::CaFingerprint, v1::Empty()));
}

absl::StatusOr<std::string> AdminClient::Join(std::string_view joiner, std::string_view fingerprint,
                                              std::string_view token, absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration() || timeout > absl::Hours(1)) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_value",
                     "timeout: in (0, 3600] seconds");
  }
  v1::JoinRequest request;
  request.set_joiner(std::string(joiner));
  request.set_fingerprint(std::string(fingerprint));
  request.set_token(std::string(token));
  request.set_timeout_ms(
      static_cast<std::uint32_t>(std::max<std::int64_t>(1, absl::ToInt64Milliseconds(timeout))));
  return JsonOf(Call(&v1::Admin::Stub::Join, request, timeout));
}

absl::StatusOr<std::string> AdminClient::Status() {
  return JsonOf(Call(&v1::Admin::Stub::Status, v1::Empty()));
}

absl::StatusOr<std::vector<std::string>> AdminClient::Events() {
  auto answer = JsonOf(Call(&v1::Admin::Stub::Events, v1::Empty()));
  if (!answer.ok()) return answer.status();
  auto events = nlohmann::json::parse(*answer, nullptr, /*allow_exceptions=*/false);
  if (!events.is_array()) {
    return MakeError(absl::StatusCode::kInternal, "malformed_message",
                     "Events: the member answered something other than a JSON array");
  }
  std::vector<std::string> out;
  out.reserve(events.size());
  for (const auto& event : events) out.push_back(event.dump());
  return out;
}

}  // namespace arraykit::grpc_transport
