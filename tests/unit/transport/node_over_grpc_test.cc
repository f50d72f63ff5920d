// Nodes over the gRPC peer transport: an array created, a member joined with the CA pin over
// mutual TLS, writes replicated, and a detached member refused (the node's own flows, with real
// sockets on 127.0.0.5-127.0.0.7).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "node/node.h"
#include "transport/grpc/peer_transport.h"

namespace arraykit::grpc_transport {
namespace {

using nlohmann::json;

const std::string kA = "a.example.com";
const std::string kB = "b.example.com";

int FreePort(const std::string& ip) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  REQUIRE(inet_pton(AF_INET, ip.c_str(), &a.sin_addr) == 1);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t length = sizeof a;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

bool Eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

struct Cluster {
  std::filesystem::path root = std::filesystem::temp_directory_path() /
                               absl::StrCat("arraykit-grpc-node-", ::getpid(), "-",
                                            std::chrono::steady_clock::now()
                                                .time_since_epoch()
                                                .count());
  std::map<std::string, std::string> addresses = {
      {kA, absl::StrCat("127.0.0.5:", FreePort("127.0.0.5"))},
      {kB, absl::StrCat("127.0.0.6:", FreePort("127.0.0.6"))}};
  std::map<std::string, std::unique_ptr<node::Node>> nodes;

  Cluster() { std::filesystem::create_directories(root); }
  ~Cluster() {
    for (auto& [name, n] : nodes) {
      if (n) n->Close().IgnoreError();
    }
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }

  node::Node& Open(const std::string& name, const std::string& member_json) {
    PeerOptions peer;
    peer.listen = addresses.at(name);
    for (const auto& [other, address] : addresses) {
      if (other != name) peer.peers[other] = address;
    }
    std::string dir = (root / name).string();
    node::NodeOptions o;
    o.name = name;
    o.data_dir = dir;
    o.member_json = member_json;
    o.attach = AttachGrpc(peer);
    auto n = node::Node::Open(std::move(o));
    INFO(n.status().ToString());
    REQUIRE(n.ok());
    nodes[name] = *std::move(n);
    return *nodes[name];
  }
};

json StatusOf(node::Node& n) {
  auto s = n.Status();
  REQUIRE(s.ok());
  return json::parse(*s);
}

std::string Member(const std::string& roles, int rack) {
  return json{{"roles", json::parse(roles)}, {"rack", absl::StrCat("r", rack)}}.dump();
}

TEST_CASE("nodes over gRPC: create, join with the pin over mutual TLS, replicate",
          "[transport][grpc][node]") {
  Cluster c;
  node::Node& a = c.Open(kA, Member(R"(["frontend", "backend"])", 1));
  json array = {{"members", json::array({json{{"name", kA},
                                              {"roles", {"frontend", "backend"}},
                                              {"rack", "r1"}}})},
                {"primary", kA},
                {"resilience", {{"monitor_interval_s", 0.05}}}};
  REQUIRE(a.CreateArray(array.dump()).ok());
  REQUIRE(a.Put("sessions", "k1", "1").ok());

  node::Node& b = c.Open(kB, Member(R"(["frontend"])", 2));
  auto token = b.JoinToken(absl::Minutes(10));
  REQUIRE(token.ok());
  auto fingerprint = b.CaFingerprint();
  REQUIRE(fingerprint.ok());

  SECTION("the right fingerprint joins") {
    auto joined = a.Join(kB, *fingerprint, *token, absl::Seconds(20));
    INFO(joined.status().ToString());
    REQUIRE(joined.ok());
    CHECK(StatusOf(b)["primary"] == kA);
    REQUIRE(a.Put("sessions", "k2", "2").ok());
    CHECK(Eventually([&] { return b.Get("sessions", "k2").ok(); }));
    CHECK(b.Get("sessions", "k1").value() == "1");
    // The links in status: a's link to b is up and carried frames.
    CHECK(Eventually([&] {
      const json status = StatusOf(a);
      for (const json& link : status["links"]) {
        if (link["peer"] == kB && link["connected"] == true && link["received"] > 0) return true;
      }
      return false;
    }));
  }
  SECTION("a detached member's links close, and it can join again") {
    REQUIRE(a.Join(kB, *fingerprint, *token, absl::Seconds(20)).ok());
    REQUIRE(a.WaitSynced(absl::Seconds(10)).ok());
    REQUIRE(Eventually([&] { return a.Detach(kB).ok(); }));
    auto streams_to = [](node::Node& n, const std::string& peer) {
      const json status = StatusOf(n);
      for (const json& link : status["links"]) {
        if (link["peer"] == peer) return link["streams"].get<int>();
      }
      return 0;
    };
    CHECK(Eventually([&] { return streams_to(a, kB) == 0 && streams_to(b, kA) == 0; }));
    REQUIRE(Eventually([&] { return StatusOf(b)["holds_ca_key"] == true; }));
    auto again = b.JoinToken(absl::Minutes(10));
    REQUIRE(again.ok());
    auto joined = a.Join(kB, b.CaFingerprint().value(), *again, absl::Seconds(20));
    INFO(joined.status().ToString());
    CHECK(joined.ok());
  }
  SECTION("make_primary hands the array over, with the CA rollover over the links") {
    REQUIRE(a.Join(kB, *fingerprint, *token, absl::Seconds(20)).ok());
    REQUIRE(a.WaitSynced(absl::Seconds(10)).ok());
    const std::string old_ca = StatusOf(a)["ca_fingerprint"];
    auto handed = a.MakePrimary(kB);
    INFO(handed.ToString());
    REQUIRE(handed.ok());
    CHECK(Eventually([&] { return StatusOf(a)["primary"] == kB; }));
    CHECK(Eventually([&] { return b.Put("sessions", "from-b", "3").ok(); }));
    CHECK(Eventually([&] { return a.Get("sessions", "from-b").ok(); }));
    // The new primary's CA: a asks for a certificate of it over the links (CsrRequest), and
    // both present it once the rollover is done.
    CHECK(Eventually([&] {
      const json sa = StatusOf(a), sb = StatusOf(b);
      return sa["ca_fingerprint"] == sb["ca_fingerprint"] && sb["ca_fingerprint"] != old_ca;
    }, std::chrono::seconds(20)));
    CHECK(Eventually([&] { return b.Put("sessions", "after-rollover", "4").ok(); }));
    CHECK(Eventually([&] { return a.Get("sessions", "after-rollover").ok(); }));
  }
  SECTION("with 50 ms x 3 probes the new member keeps its primary right after the join") {
    // The joiner's listener serves its old certificate for up to a second after the join:
    // member traffic must go on the stream the joiner dials with its new one.
    REQUIRE(a.ConfigEdit(R"({"array-failoverenabled": true, "array-monitortime": 0.05,
                             "array-maxmonitors": 3, "array-resubmitfindprimarywait": 0.05,
                             "array-resubmitfindprimarymax": 3})")
                .ok());
    auto joined = a.Join(kB, *fingerprint, *token, absl::Seconds(20));
    INFO(joined.status().ToString());
    REQUIRE(joined.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const json sb = StatusOf(b);
    CHECK(sb["primary"] == kA);
    CHECK(sb["role"] == "secondary");
    CHECK(sb["epoch"] == 1);
    for (const json& m : StatusOf(a)["members"]) CHECK(m["contactable"] == true);
  }
  SECTION("a wrong fingerprint is refused before anything is sent") {
    auto joined = a.Join(kB, a.CaFingerprint().value(), *token, absl::Seconds(20));
    REQUIRE_FALSE(joined.ok());
    INFO(joined.status().ToString());
    CHECK(joined.status().message().find(*fingerprint) != std::string::npos);
    CHECK(StatusOf(b)["primary"] == kB);
  }
}

}  // namespace
}  // namespace arraykit::grpc_transport
