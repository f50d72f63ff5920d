// The Admin API over a real Unix socket: members of one array on the in-memory network, each
// served by an AdminServer, driven through AdminClient (lib/transport/grpc/admin_*).
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "arraykit/v1/admin.grpc.pb.h"
#include "core/status.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "nlohmann/json.hpp"
#include "node/node.h"
#include "node/node_test_util.h"
#include "transport/grpc/admin_client.h"
#include "transport/grpc/admin_service.h"

namespace arraykit::grpc_transport {
namespace {

using nlohmann::json;
using node::test::kA;
using node::test::kB;
using node::test::kC;
using node::test::kD;

std::string MemberJson(int rack) {
  return json{{"roles", {"frontend", "backend"}},
              {"rack", absl::StrCat("r", rack)},
              {"power", absl::StrCat("p", rack)}}
      .dump();
}

std::string Description() {
  json members = json::array();
  int rack = 1;
  for (const std::string& name : {kA, kB, kC}) {
    json m = json::parse(MemberJson(rack++));
    m["name"] = name;
    members.push_back(m);
  }
  return json{{"members", members},
              {"primary", kA},
              {"backup_primaries", {kB, kC}},
              {"resilience", {{"monitor_interval_s", 0.05}}}}
      .dump();
}

// A directory of its own per test: the members' stores and their admin sockets.
std::string TempDir(const std::string& test) {
  std::string dir = node::test::TempDataDir("admin-test", test, "dir");
  std::filesystem::create_directories(dir);
  return dir;
}

// Members a, b, c (an array with primary a) and d (standalone), each served on DIR/NAME.sock.
struct Served {
  std::string dir;
  std::shared_ptr<node::MemoryNetwork> net = node::MemoryNetwork::Create(7);
  std::map<std::string, std::unique_ptr<node::Node>> nodes;
  std::map<std::string, std::unique_ptr<AdminServer>> servers;

  explicit Served(const std::string& test) : dir(TempDir(test)) {
    int rack = 1;
    for (const std::string& name : {kA, kB, kC, kD}) {
      node::NodeOptions o;
      o.name = name;
      o.data_dir = dir + "/" + name;
      // d joins later as a front-end: an array has 1 or 3 back-ends.
      o.member_json = name == kD ? node::test::Frontend(rack++) : MemberJson(rack++);
      o.attach = node::AttachTo(net);
      auto opened = node::Node::Open(std::move(o));
      REQUIRE(opened.ok());
      nodes[name] = *std::move(opened);
    }
    for (const std::string& name : {kA, kB, kC})
      REQUIRE(nodes[name]->CreateArray(Description()).ok());
    for (const std::string& name : {kA, kB, kC, kD}) {
      auto server = AdminServer::Start(nodes[name].get(), Socket(name));
      REQUIRE(server.ok());
      servers[name] = *std::move(server);
    }
  }
  ~Served() {
    for (auto& [name, server] : servers) server->Stop();
    for (auto& [name, node] : nodes) node->Close().IgnoreError();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  std::string Socket(const std::string& name) const { return dir + "/" + name + ".sock"; }
  std::unique_ptr<AdminClient> Client(const std::string& name) const {
    auto client = AdminClient::Connect(Socket(name));
    REQUIRE(client.ok());
    return *std::move(client);
  }
};

json Parse(const absl::StatusOr<std::string>& text) {
  INFO(text.status().ToString());
  REQUIRE(text.ok());
  return json::parse(*text);
}

TEST_CASE("admin: every operation of a member over its socket", "[admin]") {
  Served s("every-op");
  auto a = s.Client(kA);
  auto b = s.Client(kB);
  auto c = s.Client(kC);

  json status = Parse(a->Status());
  CHECK(status["name"] == kA);
  CHECK(status["role"] == "primary");
  CHECK(status["members"].size() == 3);

  json position = Parse(a->Put("sessions", "s1", R"({"user": "ann"})", replication::Wait::kAll));
  CHECK(position["index"].get<int>() >= 1);
  CHECK(Parse(b->Get("sessions", "s1")) == json{{"user", "ann"}});
  CHECK(Parse(b->List("sessions")) == json{{"s1", {{"user", "ann"}}}});
  REQUIRE(a->WaitSynced(absl::Seconds(5)).ok());
  REQUIRE(a->Delete("sessions", "s1", replication::Wait::kAll).ok());
  absl::Status gone = b->Get("sessions", "s1").status();
  CHECK(gone.code() == absl::StatusCode::kNotFound);
  CHECK(ReasonOf(gone) == "not_found");

  CHECK(Parse(a->BackupPrimaries()) == json{kB, kC});
  REQUIRE(a->RemoveBackupPrimary(kC).ok());
  REQUIRE(a->AddBackupPrimary(kC, 1).ok());
  CHECK(Parse(a->BackupPrimaries()) == json{kC, kB});
  REQUIRE(a->EditBackupPrimary(kC, 2).ok());
  CHECK(Parse(a->BackupPrimaries()) == json{kB, kC});

  REQUIRE(a->ConfigEdit(R"({"array-monitortime": "0.1", "array-failoverenabled": 0})").ok());
  CHECK(Parse(a->Status())["resilience"]["monitor_interval_s"] == 0.1);

  // The standalone d joins with its token and fingerprint, read over its own socket.
  auto d = s.Client(kD);
  auto token = d->JoinToken(absl::Minutes(5));
  REQUIRE(token.ok());
  CHECK(token->rfind("AKJT-", 0) == 0);
  auto fingerprint = d->CaFingerprint();
  REQUIRE(fingerprint.ok());
  CHECK(*fingerprint == s.nodes[kD]->CaFingerprint().value());
  json joined = Parse(a->Join(kD, *fingerprint, *token, absl::Seconds(10)));
  CHECK(joined["joined"] == kD);
  CHECK(Parse(a->Status())["members"].size() == 4);

  REQUIRE(a->MakePrimary(kB).ok());
  // The hand-over reaches b as a message: wait until b sees itself as the writable primary.
  REQUIRE(node::test::Eventually([&] {
    json st = Parse(b->Status());
    return st["role"] == "primary" && st["writable"] == true;
  }));
  REQUIRE(b->Detach(kD).ok());
  CHECK(Parse(b->Status())["members"].size() == 3);
  REQUIRE(d->Clean(false).ok());

  auto events = a->Events();
  REQUIRE(events.ok());
  REQUIRE(!events->empty());
  bool join_completed = false;
  for (const std::string& e : *events)
    join_completed |= json::parse(e)["event"] == "join_completed";
  CHECK(join_completed);
  auto again = a->Events();  // taken: the next call answers only newer ones
  REQUIRE(again.ok());
  CHECK(again->size() < events->size());

  // create over the socket: a member already in a multi-member array refuses.
  absl::Status created = c->CreateArray(Description());
  CHECK(created.code() == absl::StatusCode::kAlreadyExists);
  CHECK(ReasonOf(created) == "already_in_array");
}

TEST_CASE("admin: refusals keep arraykit's code and reason", "[admin]") {
  Served s("refusals");
  auto b = s.Client(kB);
  absl::Status refused = b->Put("sessions", "s1", "1", replication::Wait::kPrimary).status();
  CHECK(GetErrorCode(refused) == ErrorCode::kNotPrimary);
  CHECK(ReasonOf(refused) == "not_primary");
  CHECK(absl::StrContains(refused.message(), kA));

  auto a = s.Client(kA);
  absl::Status typo = a->ConfigEdit(R"({"array-monitortme": 60})");
  CHECK(typo.code() == absl::StatusCode::kInvalidArgument);
  CHECK(ReasonOf(typo) == "unknown_field");
  CHECK(absl::StrContains(typo.message(), "array-monitortime"));

  CHECK(ReasonOf(a->Detach(kA)) == "detach_primary");
  CHECK(ReasonOf(a->AddBackupPrimary(kB, 0)) == "already_listed");
}

TEST_CASE("admin: a bad request is INVALID_ARGUMENT naming the field", "[admin]") {
  Served s("bad-request");
  auto channel =
      ::grpc::CreateChannel("unix:" + s.Socket(kA), ::grpc::InsecureChannelCredentials());
  auto stub = v1::Admin::NewStub(channel);

  ::grpc::ClientContext put_context;
  v1::PutRequest put;
  put.set_category("sessions");
  put.set_key("s1");
  put.set_value_json("1");
  put.set_wait("everyone");
  v1::Document answer;
  ::grpc::Status wrong = stub->Put(&put_context, put, &answer);
  CHECK(wrong.error_code() == ::grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(absl::StrContains(wrong.error_message(), "wait"));
  const auto& trailers = put_context.GetServerTrailingMetadata();
  auto reason = trailers.find("arraykit-reason");
  REQUIRE(reason != trailers.end());
  CHECK(std::string(reason->second.data(), reason->second.size()) == "invalid_value");
  CHECK(s.nodes[kA]->Get("sessions", "s1").status().code() == absl::StatusCode::kNotFound);

  ::grpc::ClientContext wait_context;
  v1::WaitSyncedRequest wait;  // timeout_ms 0
  ::grpc::Status zero = stub->WaitSynced(&wait_context, wait, &answer);
  CHECK(zero.error_code() == ::grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(absl::StrContains(zero.error_message(), "timeout_ms"));
}

TEST_CASE("admin: the socket is mode 0600 whatever the umask", "[admin]") {
  std::string dir = TempDir("mode");
  auto net = node::MemoryNetwork::Create(1);
  node::NodeOptions o;
  o.name = kA;
  o.data_dir = dir + "/a";
  o.attach = node::AttachTo(net);
  auto n = node::Node::Open(std::move(o));
  REQUIRE(n.ok());
  mode_t previous = umask(0);
  auto server = AdminServer::Start(n->get(), AdminSocketOf(dir));
  umask(previous);
  REQUIRE(server.ok());
  struct stat st;
  REQUIRE(lstat((dir + "/admin.sock").c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(umask(previous) == previous);  // the process's umask is restored

  // Connect takes the data directory as well as the socket.
  auto client = AdminClient::Connect(dir);
  REQUIRE(client.ok());
  CHECK(client->get()->socket_path() == dir + "/admin.sock");
  CHECK(Parse(client->get()->Status())["name"] == kA);

  (*server)->Stop();
  CHECK(lstat((dir + "/admin.sock").c_str(), &st) != 0);  // removed at the stop
  REQUIRE((*n)->Close().ok());
  std::filesystem::remove_all(dir);
}

// A socket file with nobody listening, as a killed process leaves it.
void LeaveStaleSocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  REQUIRE(bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
  close(fd);
}

TEST_CASE("admin: a stale socket is replaced, anything else at the path refused", "[admin]") {
  std::string dir = TempDir("stale");
  auto net = node::MemoryNetwork::Create(1);
  node::NodeOptions o;
  o.name = kA;
  o.data_dir = dir + "/a";
  o.attach = node::AttachTo(net);
  auto n = node::Node::Open(std::move(o));
  REQUIRE(n.ok());
  const std::string path = dir + "/admin.sock";

  LeaveStaleSocket(path);
  auto stale_client = AdminClient::Connect(path);
  REQUIRE(!stale_client.ok());
  CHECK(ReasonOf(stale_client.status()) == "not_contactable");

  auto server = AdminServer::Start(n->get(), path);
  REQUIRE(server.ok());
  auto client = AdminClient::Connect(path);
  REQUIRE(client.ok());
  CHECK(client->get()->Status().ok());

  // A second server on a live socket is refused and leaves the first one serving.
  auto second = AdminServer::Start(n->get(), path);
  REQUIRE(!second.ok());
  CHECK(second.status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(ReasonOf(second.status()) == "socket_in_use");
  CHECK(client->get()->Status().ok());
  (*server)->Stop();

  const std::string file = dir + "/not-a-socket";
  std::ofstream(file) << "keep me\n";
  auto refused = AdminServer::Start(n->get(), file);
  REQUIRE(!refused.ok());
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(ReasonOf(refused.status()) == "not_a_socket");
  std::ifstream kept(file);
  std::string line;
  std::getline(kept, line);
  CHECK(line == "keep me");

  REQUIRE((*n)->Close().ok());
  std::filesystem::remove_all(dir);
}

TEST_CASE("admin: a member that is not running is not_contactable, naming the socket", "[admin]") {
  std::string dir = TempDir("not-running");
  auto missing = AdminClient::Connect(dir);
  REQUIRE(!missing.ok());
  CHECK(missing.status().code() == absl::StatusCode::kUnavailable);
  CHECK(ReasonOf(missing.status()) == "not_contactable");
  CHECK(absl::StrContains(missing.status().message(),
                          absl::StrCat("no arrayd is listening on ", dir, "/admin.sock")));

  // A member that stops after the client connected: the next call says the same.
  auto net = node::MemoryNetwork::Create(1);
  node::NodeOptions o;
  o.name = kA;
  o.data_dir = dir + "/a";
  o.attach = node::AttachTo(net);
  auto n = node::Node::Open(std::move(o));
  REQUIRE(n.ok());
  auto server = AdminServer::Start(n->get(), AdminSocketOf(dir));
  REQUIRE(server.ok());
  auto client = AdminClient::Connect(dir);
  REQUIRE(client.ok());
  REQUIRE(client->get()->Status().ok());
  (*server)->Stop();
  absl::Status after = client->get()->Status().status();
  CHECK(after.code() == absl::StatusCode::kUnavailable);
  CHECK(ReasonOf(after) == "not_contactable");
  CHECK(absl::StrContains(after.message(), "no arrayd is listening on"));
  REQUIRE((*n)->Close().ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace arraykit::grpc_transport
