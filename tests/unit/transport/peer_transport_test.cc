// The gRPC peer transport with mutual TLS (lib/transport/grpc/peer_transport.h): real
// certificates from lib/core/pki, real sockets on 127.0.0.2-127.0.0.4.
#include "transport/grpc/peer_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "arraykit/v1/peer.grpc.pb.h"
#include "core/pki/pki.h"
#include "core/status.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "nlohmann/json.hpp"
#include "pki/test_util.h"
#include "transport/grpc/convert.h"

namespace arraykit::grpc_transport {
namespace {

using pki::testing::Issued;
using pki::testing::IssuePeer;
using pki::testing::MakeCa;
using pki::testing::TempDir;

constexpr const char* kA = "a.example.com";
constexpr const char* kB = "b.example.com";
constexpr const char* kC = "c.example.com";

// A port that is free on `ip` now (the kernel's pick for port 0).
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

// What a member's receiver got.
class Inbox {
 public:
  void Add(node::Envelope e) {
    std::lock_guard lock(mu_);
    envelopes_.push_back(std::move(e));
    cv_.notify_all();
  }
  // Waits for an envelope matching `match`; returns it (nullopt on timeout).
  std::optional<node::Envelope> WaitFor(const std::function<bool(const node::Envelope&)>& match,
                                        absl::Duration timeout = absl::Seconds(10)) {
    std::unique_lock lock(mu_);
    std::optional<node::Envelope> found;
    cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] {
      for (const auto& e : envelopes_) {
        if (match(e)) {
          found = e;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return envelopes_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<node::Envelope> envelopes_;
};

// One member: its address, its directory and transport.
struct Member {
  std::string name;
  std::string address;
  TempDir dir;
  std::shared_ptr<Inbox> inbox = std::make_shared<Inbox>();
  std::unique_ptr<node::Transport> transport;
};

std::unique_ptr<Member> MakeMember(const std::string& name, const std::string& ip) {
  auto m = std::make_unique<Member>();
  m->name = name;
  m->address = ip + ":" + std::to_string(FreePort(ip));
  return m;
}

// Attaches `m` with an address book of `peers`.
void Attach(Member& m, const std::vector<const Member*>& peers,
            const std::function<void(PeerOptions&)>& adjust = {}) {
  PeerOptions options;
  options.listen = m.address;
  for (const Member* p : peers) options.peers[p->name] = p->address;
  if (adjust) adjust(options);
  auto inbox = m.inbox;
  auto transport = AttachGrpc(options)(m.name, [inbox](node::Envelope e) { inbox->Add(e); }, "");
  INFO(transport.status().ToString());
  REQUIRE(transport.ok());
  m.transport = *std::move(transport);
}

node::LinkSecurity Security(const pki::CertificateAuthority& ca, const Issued& issued,
                            std::vector<std::string> members, bool standalone = false) {
  node::LinkSecurity s;
  s.certificate_pem = issued.certificate_pem;
  s.key_pem = issued.key_pem.Clone();
  s.presented_ca_pem = ca.certificate_pem();
  s.trusted_ca_pems = {ca.certificate_pem()};
  s.members = std::move(members);
  s.standalone = standalone;
  return s;
}

void Secure(Member& m, const node::LinkSecurity& security) {
  absl::Status s = m.transport->Secure(security);
  INFO(s.ToString());
  REQUIRE(s.ok());
}

failover::Message Probe(std::uint64_t id) {
  failover::Message m;
  m.type = failover::MessageType::kProbe;
  m.from = "mallory.example.com";  // the body's claim; the link's name wins
  m.epoch = 3;
  m.id = id;
  return m;
}

replication::Message Append(std::uint64_t commit) {
  replication::Message m;
  m.type = replication::MessageType::kAppend;
  m.epoch = 3;
  m.commit_index = commit;
  return m;
}

bool IsProbe(const node::Envelope& e, std::uint64_t id) {
  auto* m = std::get_if<failover::Message>(&e.payload);
  return m != nullptr && m->type == failover::MessageType::kProbe && m->id == id;
}

nlohmann::json Row(const Member& m, const std::string& peer) {
  nlohmann::json links = nlohmann::json::parse(m.transport->LinksJson());
  for (const auto& row : links) {
    if (row["peer"] == peer) return row;
  }
  return nlohmann::json::object();
}

// Waits until LinksJson's row for `peer` satisfies `check`.
bool WaitRow(const Member& m, const std::string& peer,
             const std::function<bool(const nlohmann::json&)>& check,
             absl::Duration timeout = absl::Seconds(10)) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    nlohmann::json row = Row(m, peer);
    if (!row.empty() && check(row)) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

bool RefusedWith(const nlohmann::json& row, const std::string& reason) {
  return row.value("refused", 0) > 0 &&
         row.value("last_refusal", std::string()).rfind(reason + ":", 0) == 0;
}

// Two members of one array, secured and attached to each other.
struct Pair {
  absl::Time now = absl::Now();
  pki::CertificateAuthority ca = MakeCa(now, "arraykit array CA a.example.com");
  Issued a_cert = IssuePeer(ca, kA, now);
  Issued b_cert = IssuePeer(ca, kB, now);
  std::unique_ptr<Member> a = MakeMember(kA, "127.0.0.2");
  std::unique_ptr<Member> b = MakeMember(kB, "127.0.0.3");
  Pair() {
    Attach(*a, {b.get()});
    Attach(*b, {a.get()});
    Secure(*a, Security(ca, a_cert, {kB}));
    Secure(*b, Security(ca, b_cert, {kA}));
  }
};

TEST_CASE("two members exchange failover and replication messages both ways",
          "[transport][grpc]") {
  Pair p;
  p.a->transport->Send(kB, Probe(1));
  auto got = p.b->inbox->WaitFor([](const node::Envelope& e) { return IsProbe(e, 1); });
  REQUIRE(got.has_value());
  CHECK(got->from == kA);  // the verified certificate's name, not the body's
  CHECK(got->to == kB);
  CHECK(std::get<failover::Message>(got->payload).epoch == 3);

  p.b->transport->Send(kA, Append(42));
  auto back = p.a->inbox->WaitFor([](const node::Envelope& e) {
    auto* m = std::get_if<replication::Message>(&e.payload);
    return m != nullptr && m->commit_index == 42;
  });
  REQUIRE(back.has_value());
  CHECK(back->from == kB);

  // b counts its frame sent once its write returned (possibly after a received it).
  CHECK(WaitRow(*p.b, kA, [](const nlohmann::json& r) { return r["sent"] == 1; }));
  nlohmann::json row = Row(*p.b, kA);
  CHECK(row["received"] == 1);
  CHECK(row["connected"] == true);
  CHECK(row["dropped"] == 0);
  CHECK(row["rejected"] == 0);
}

TEST_CASE("with two streams to a peer, a member's frames go on the first, in order",
          "[transport][grpc]") {
  Pair p;
  // A stream to b opened by hand with a's certificate: b's first member stream to a.
  ::grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = p.ca.certificate_pem();
  tls.pem_private_key = std::string(p.a_cert.key_pem.view());
  tls.pem_cert_chain = p.a_cert.certificate_pem + p.ca.certificate_pem();
  ::grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(kB);
  auto channel =
      ::grpc::CreateCustomChannel(p.b->address, ::grpc::SslCredentials(tls), args);
  auto stub = v1::Peer::NewStub(channel);
  ::grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto raw = stub->Exchange(&context);
  REQUIRE(WaitRow(*p.b, kA, [](const nlohmann::json& r) { return r["streams"] == 1; }));
  // a's own stream to b is the second.
  p.a->transport->Send(kB, Probe(1));
  REQUIRE(p.b->inbox->WaitFor([](const node::Envelope& e) { return IsProbe(e, 1); }));
  REQUIRE(WaitRow(*p.b, kA, [](const nlohmann::json& r) { return r["streams"] == 2; }));

  // Frames split over both streams would overtake each other: all go on the first.
  constexpr std::uint64_t kFrames = 200;
  for (std::uint64_t id = 1; id <= kFrames; ++id) p.b->transport->Send(kA, Probe(id));
  std::vector<std::uint64_t> ids;
  v1::PeerFrame frame;
  while (ids.size() < kFrames && raw->Read(&frame)) {
    auto payload = DecodeFrame(frame);
    REQUIRE(payload.ok());
    ids.push_back(std::get<failover::Message>(*payload).id);
  }
  std::vector<std::uint64_t> in_order(kFrames);
  std::iota(in_order.begin(), in_order.end(), 1);
  CHECK(ids == in_order);
  CHECK(p.a->inbox->size() == 0);
  context.TryCancel();
  raw->Finish();
}

TEST_CASE("a frame beyond gRPC's default 4 MB message limit passes both ways",
          "[transport][grpc]") {
  Pair p;
  replication::Message big = Append(7);
  for (std::uint64_t i = 1; i <= 6; ++i) {
    replication::Entry e;
    e.index = i;
    e.epoch = 3;
    e.writer = kA;
    e.category = "sessions";
    e.key = "k" + std::to_string(i);
    e.value = "\"" + std::string(replication::kMaxValueBytes - 16, 'x') + "\"";
    big.entries.push_back(std::move(e));
  }
  auto is_big = [](const node::Envelope& e) {
    auto* m = std::get_if<replication::Message>(&e.payload);
    return m != nullptr && m->commit_index == 7 && m->entries.size() == 6 &&
           m->entries[5].value.size() == replication::kMaxValueBytes - 14;
  };
  p.a->transport->Send(kB, big);
  CHECK(p.b->inbox->WaitFor(is_big));
  p.b->transport->Send(kA, big);
  CHECK(p.a->inbox->WaitFor(is_big));
}

TEST_CASE("client sockets are bound to the member's own address", "[transport][grpc]") {
  Pair p;
  p.a->transport->Send(kB, Probe(1));
  REQUIRE(p.b->inbox->WaitFor([](const node::Envelope& e) { return IsProbe(e, 1); }));
  // b never sent anything, so the only stream is the one a dialed.
  std::string remote = Row(*p.b, kA)["remote"];
  CHECK(remote.rfind("ipv4:127.0.0.2:", 0) == 0);
}

TEST_CASE("a restarted member is found again", "[transport][grpc]") {
  Pair p;
  p.a->transport->Send(kB, Probe(1));
  REQUIRE(p.b->inbox->WaitFor([](const node::Envelope& e) { return IsProbe(e, 1); }));
  p.b->transport->Close();
  p.b->transport.reset();
  p.b->inbox = std::make_shared<Inbox>();
  Attach(*p.b, {p.a.get()});
  Secure(*p.b, Security(p.ca, p.b_cert, {kA}));
  absl::Time restarted = absl::Now();
  // a keeps sending, as the failover machine's probes do; one gets through within the backoff.
  std::optional<node::Envelope> got;
  for (std::uint64_t id = 2; id < 100 && !got.has_value(); ++id) {
    p.a->transport->Send(kB, Probe(id));
    got = p.b->inbox->WaitFor([](const node::Envelope& e) { return e.from == kA; },
                              absl::Milliseconds(50));
  }
  REQUIRE(got.has_value());
  CHECK(absl::Now() - restarted < absl::Seconds(2));
}

TEST_CASE("a certificate naming no member is refused at the handshake", "[transport][grpc]") {
  absl::Time now = absl::Now();
  pki::CertificateAuthority ca = MakeCa(now);
  Issued a_cert = IssuePeer(ca, kA, now);
  Issued b_cert = IssuePeer(ca, kB, now);
  auto a = MakeMember(kA, "127.0.0.2");
  auto b = MakeMember(kB, "127.0.0.3");
  Attach(*a, {b.get()});
  Attach(*b, {a.get()});

  SECTION("by the server: the client is not a member") {
    Secure(*a, Security(ca, a_cert, {kB}));
    Secure(*b, Security(ca, b_cert, {kC}));  // b's array does not hold a
    a->transport->Send(kB, Probe(1));
    CHECK(WaitRow(*b, kA, [](const nlohmann::json& r) { return RefusedWith(r, "name_mismatch"); }));
    CHECK_FALSE(b->inbox->WaitFor([](const node::Envelope&) { return true; },
                                  absl::Milliseconds(300)));
  }
  SECTION("by the client: the server dialed presents another member's name") {
    Issued c_cert = IssuePeer(ca, kC, now);
    Secure(*a, Security(ca, a_cert, {kB, kC}));
    Secure(*b, Security(ca, c_cert, {kA}));  // b's listener presents c's certificate
    a->transport->Send(kB, Probe(1));
    CHECK(WaitRow(*a, kB, [](const nlohmann::json& r) { return RefusedWith(r, "name_mismatch"); }));
    CHECK_FALSE(b->inbox->WaitFor([](const node::Envelope&) { return true; },
                                  absl::Milliseconds(300)));
  }
  SECTION("by the client: a peer that is not a member is not dialed") {
    Secure(*a, Security(ca, a_cert, {kC}));  // a's array does not hold b
    Secure(*b, Security(ca, b_cert, {kA}));
    a->transport->Send(kB, Probe(1));
    CHECK_FALSE(b->inbox->WaitFor([](const node::Envelope&) { return true; },
                                  absl::Milliseconds(300)));
    nlohmann::json row = Row(*a, kB);
    CHECK(row["queued"] == 1);
    CHECK(row["connected"] == false);
    CHECK(row["refused"] == 0);
  }
}

TEST_CASE("a foreign CA's certificate with the same subject is refused", "[transport][grpc]") {
  absl::Time now = absl::Now();
  pki::CertificateAuthority ca = MakeCa(now, "arraykit array CA");
  pki::CertificateAuthority foreign = MakeCa(now, "arraykit array CA");  // same subject
  Issued a_cert = IssuePeer(foreign, kA, now);
  Issued b_cert = IssuePeer(ca, kB, now);
  auto a = MakeMember(kA, "127.0.0.2");
  auto b = MakeMember(kB, "127.0.0.3");
  Attach(*a, {b.get()});
  Attach(*b, {a.get()});
  node::LinkSecurity a_security = Security(foreign, a_cert, {kB});
  a_security.trusted_ca_pems = {ca.certificate_pem()};  // a accepts b; b must refuse a
  Secure(*a, a_security);
  Secure(*b, Security(ca, b_cert, {kA}));
  a->transport->Send(kB, Probe(1));
  CHECK(WaitRow(*b, kA, [](const nlohmann::json& r) { return RefusedWith(r, "untrusted_issuer"); }));
  CHECK_FALSE(b->inbox->WaitFor([](const node::Envelope&) { return true; },
                                absl::Milliseconds(300)));
}

TEST_CASE("an expired certificate is refused", "[transport][grpc]") {
  absl::Time now = absl::Now();
  pki::CertificateAuthority ca = MakeCa(now);
  Issued a_cert = IssuePeer(ca, kA, now, pki::KeyType::kEcdsaP256, absl::Hours(24));
  Issued b_cert = IssuePeer(ca, kB, now);
  auto a = MakeMember(kA, "127.0.0.2");
  auto b = MakeMember(kB, "127.0.0.3");
  Attach(*a, {b.get()});
  // b's clock is two days ahead: a's one-day certificate has expired for it.
  Attach(*b, {a.get()},
         [](PeerOptions& o) { o.wall_clock = [] { return absl::Now() + absl::Hours(48); }; });
  Secure(*a, Security(ca, a_cert, {kB}));
  Secure(*b, Security(ca, b_cert, {kA}));
  a->transport->Send(kB, Probe(1));
  CHECK(WaitRow(*b, kA, [](const nlohmann::json& r) { return RefusedWith(r, "expired"); }));
  CHECK_FALSE(b->inbox->WaitFor([](const node::Envelope&) { return true; },
                                absl::Milliseconds(300)));
}

TEST_CASE("a link whose certificate expires while open is closed", "[transport][grpc]") {
  absl::Time now = absl::Now();
  pki::CertificateAuthority ca = MakeCa(now);
  Issued a_cert = IssuePeer(ca, kA, now, pki::KeyType::kEcdsaP256, absl::Hours(24));
  Issued b_cert = IssuePeer(ca, kB, now);
  auto a = MakeMember(kA, "127.0.0.2");
  auto b = MakeMember(kB, "127.0.0.3");
  auto skew = std::make_shared<std::atomic<std::int64_t>>(0);  // hours ahead on b
  Attach(*a, {b.get()});
  Attach(*b, {a.get()}, [skew](PeerOptions& o) {
    o.recheck_interval = absl::Milliseconds(50);
    o.wall_clock = [skew] { return absl::Now() + absl::Hours(skew->load()); };
  });
  Secure(*a, Security(ca, a_cert, {kB}));
  Secure(*b, Security(ca, b_cert, {kA}));
  a->transport->Send(kB, Probe(1));
  REQUIRE(b->inbox->WaitFor([](const node::Envelope& e) { return IsProbe(e, 1); }));
  REQUIRE(Row(*b, kA)["connected"] == true);
  skew->store(48);  // a's one-day certificate has expired for b
  CHECK(WaitRow(*b, kA, [](const nlohmann::json& r) { return r["connected"] == false; }));
  std::uint64_t id = 2;
  CHECK(WaitRow(*b, kA, [&](const nlohmann::json& r) {
    a->transport->Send(kB, Probe(id++));
    return RefusedWith(r, "expired");
  }));
}

TEST_CASE("revoking or detaching a member closes its link and refuses it from then on",
          "[transport][grpc]") {
  Pair p;
  p.a->transport->Send(kB, Probe(1));
  REQUIRE(p.b->inbox->WaitFor([](const node::Envelope& e) { return IsProbe(e, 1); }));
  REQUIRE(Row(*p.b, kA)["connected"] == true);

  node::LinkSecurity b_security = Security(p.ca, p.b_cert, {kA});
  std::string reason;
  SECTION("revoked") {
    auto info = pki::InspectCertificate(p.a_cert.certificate_pem);
    REQUIRE(info.ok());
    b_security.revoked_serials = {info->serial_hex};
    reason = "revoked";
  }
  SECTION("detached") {
    b_security.members = {kC};
    reason = "name_mismatch";
  }
  Secure(*p.b, b_security);
  // The open stream is closed at once; a's redials are refused.
  CHECK(WaitRow(*p.b, kA, [](const nlohmann::json& r) { return r["connected"] == false; }));
  // a keeps sending, as the machines do (the first frames may still go to the stream b just
  // closed, before a noticed): its redials are refused.
  std::uint64_t id = 2;
  CHECK(WaitRow(*p.b, kA, [&](const nlohmann::json& r) {
    p.a->transport->Send(kB, Probe(id++));
    return RefusedWith(r, reason);
  }));
  CHECK_FALSE(p.b->inbox->WaitFor([](const node::Envelope& e) { return !IsProbe(e, 1); },
                                  absl::Milliseconds(300)));
}

TEST_CASE("a member detached before any link to it opened still gets the farewell",
          "[transport][grpc]") {
  Pair p;  // secured as members of each other; nothing sent yet, so no stream
  Secure(*p.a, Security(p.ca, p.a_cert, {kC}));  // a detaches b
  p.a->transport->Send(kB, Probe(1));             // "you were detached"
  REQUIRE(p.b->inbox->WaitFor([](const node::Envelope& e) { return IsProbe(e, 1); }));
  // Nothing of b's is taken on the farewell stream, and a refuses b's own dials.
  p.b->transport->Send(kA, Probe(2));
  CHECK_FALSE(p.a->inbox->WaitFor([](const node::Envelope&) { return true; },
                                  absl::Milliseconds(300)));
  // The farewell ends after PeerOptions::farewell (2 s): a neither dials b nor keeps a stream.
  CHECK(WaitRow(*p.a, kB, [](const nlohmann::json& r) {
    return r["streams"] == 0 && r["connected"] == false;
  }));
  p.a->transport->Send(kB, Probe(3));
  CHECK_FALSE(p.b->inbox->WaitFor([](const node::Envelope& e) { return IsProbe(e, 3); },
                                  absl::Milliseconds(500)));
}

// A primary P of its own array and a standalone joiner J with a CA of its own.
struct Join {
  absl::Time now = absl::Now();
  pki::CertificateAuthority array_ca = MakeCa(now, "array CA of a.example.com");
  pki::CertificateAuthority joiner_ca = MakeCa(now, "own CA of b.example.com");
  Issued p_cert = IssuePeer(array_ca, kA, now);
  Issued j_cert = IssuePeer(joiner_ca, kB, now);
  std::unique_ptr<Member> p = MakeMember(kA, "127.0.0.2");
  std::unique_ptr<Member> j = MakeMember(kB, "127.0.0.3");
  Join() {
    Attach(*p, {j.get()});
    Attach(*j, {});  // the joiner has no address for the primary: it answers on P's stream
    Secure(*p, Security(array_ca, p_cert, {}, /*standalone=*/true));
    Secure(*j, Security(joiner_ca, j_cert, {}, /*standalone=*/true));
  }
};

ops::JoinHello Hello() {
  ops::JoinHello hello;
  hello.primary = kA;
  hello.joiner = kB;
  hello.token = "token";
  hello.version = "1.0.0";
  hello.clock = absl::Now();
  hello.epoch = 1;
  return hello;
}

TEST_CASE("a pinned send reaches a target presenting the pinned CA, and the reply comes back",
          "[transport][grpc]") {
  Join t;
  t.p->transport->SendPinned(kB, t.joiner_ca.fingerprint(), Hello());
  auto hello = t.j->inbox->WaitFor([](const node::Envelope& e) {
    return std::holds_alternative<ops::JoinHello>(e.payload);
  });
  REQUIRE(hello.has_value());
  CHECK(hello->from == kA);  // the join contact's certificate name

  ops::JoinReply reply;
  reply.joiner = kB;
  reply.member.name = kB;
  reply.clock = absl::Now();
  reply.standalone = true;
  t.j->transport->Send(kA, reply);
  auto answer = t.p->inbox->WaitFor([](const node::Envelope& e) {
    return std::holds_alternative<ops::JoinReply>(e.payload);
  });
  REQUIRE(answer.has_value());
  CHECK(answer->from == kB);

  // From a join contact only the join's requests pass: a failover message is dropped.
  t.p->transport->SendPinned(kB, t.joiner_ca.fingerprint(), Probe(7));
  CHECK(WaitRow(*t.j, kA, [](const nlohmann::json& r) { return r["rejected"] == 1; }));
  CHECK_FALSE(t.j->inbox->WaitFor([](const node::Envelope& e) { return IsProbe(e, 7); },
                                  absl::Milliseconds(200)));
  nlohmann::json contact = Row(*t.j, kA);
  CHECK(contact["streams"] == 1);
  CHECK(contact["connected"] == false);  // a join contact's stream is no member link
  // And a member that is not standalone admits no join contact: the stream is closed.
  node::LinkSecurity in_array = Security(t.joiner_ca, t.j_cert, {kC});
  Secure(*t.j, in_array);
  CHECK(WaitRow(*t.j, kA, [](const nlohmann::json& r) { return r["streams"] == 0; }));
  CHECK(WaitRow(*t.p, kB, [](const nlohmann::json& r) { return r["streams"] == 0; }));
}

TEST_CASE("a pinned send to another CA or an unreachable target reports a LinkError",
          "[transport][grpc]") {
  Join t;
  SECTION("fingerprint mismatch") {
    t.p->transport->SendPinned(kB, t.array_ca.fingerprint(), Hello());
    auto error = t.p->inbox->WaitFor([](const node::Envelope& e) {
      return std::holds_alternative<node::LinkError>(e.payload);
    });
    REQUIRE(error.has_value());
    CHECK(error->from == kB);
    const auto& link_error = std::get<node::LinkError>(error->payload);
    CHECK(link_error.reason == "fingerprint_mismatch");
    CHECK(link_error.presented_ca_fingerprint == t.joiner_ca.fingerprint());
    CHECK(RefusedWith(Row(*t.p, kB), "fingerprint_mismatch"));
    CHECK(t.j->inbox->size() == 0);
  }
  SECTION("not contactable") {
    t.j->transport->Close();
    t.p->transport->SendPinned(kB, t.joiner_ca.fingerprint(), Hello());
    auto error = t.p->inbox->WaitFor([](const node::Envelope& e) {
      return std::holds_alternative<node::LinkError>(e.payload);
    });
    REQUIRE(error.has_value());
    CHECK(std::get<node::LinkError>(error->payload).reason == "not_contactable");
  }
  SECTION("a target in an array refuses the contact") {
    Secure(*t.j, Security(t.joiner_ca, t.j_cert, {kC}));  // b is in an array with c now
    t.p->transport->SendPinned(kB, t.joiner_ca.fingerprint(), Hello());
    auto error = t.p->inbox->WaitFor([](const node::Envelope& e) {
      return std::holds_alternative<node::LinkError>(e.payload);
    });
    REQUIRE(error.has_value());
    CHECK(std::get<node::LinkError>(error->payload).reason == "contact_refused");
    CHECK(t.j->inbox->size() == 0);
  }
}

TEST_CASE("a new certificate from a new CA applies without a restart", "[transport][grpc]") {
  Pair p;
  p.a->transport->Send(kB, Probe(1));
  REQUIRE(p.b->inbox->WaitFor([](const node::Envelope& e) { return IsProbe(e, 1); }));

  // The rollover: both trust old and new CA, then take certificates of the new one.
  pki::CertificateAuthority next = MakeCa(absl::Now(), "next array CA");
  Issued a_next = IssuePeer(next, kA, absl::Now());
  Issued b_next = IssuePeer(next, kB, absl::Now());
  node::LinkSecurity a_security = Security(next, a_next, {kB});
  node::LinkSecurity b_security = Security(next, b_next, {kA});
  a_security.trusted_ca_pems = {p.ca.certificate_pem(), next.certificate_pem()};
  b_security.trusted_ca_pems = a_security.trusted_ca_pems;
  Secure(*p.a, a_security);
  Secure(*p.b, b_security);
  absl::SleepFor(absl::Milliseconds(2200));  // gRPC's file watcher rereads every second
  // Both retire the old CA: the old link closes, and a new one must use the new certificates
  // on both sides (b's listener took its new one from the files, without a restart).
  a_security.trusted_ca_pems = {next.certificate_pem()};
  b_security.trusted_ca_pems = {next.certificate_pem()};
  Secure(*p.a, a_security);
  Secure(*p.b, b_security);
  REQUIRE(WaitRow(*p.b, kA, [](const nlohmann::json& r) { return r["connected"] == false; }));
  std::optional<node::Envelope> got;
  for (std::uint64_t id = 2; id < 100 && !got.has_value(); ++id) {
    p.a->transport->Send(kB, Probe(id));
    got = p.b->inbox->WaitFor([](const node::Envelope& e) { return !IsProbe(e, 1); },
                              absl::Milliseconds(50));
  }
  CHECK(got.has_value());
  CHECK(Row(*p.b, kA).value("refused", 0) == 0);
  CHECK(Row(*p.a, kB).value("refused", 0) == 0);
}

TEST_CASE("sends to an unreachable member are bounded by its queue", "[transport][grpc]") {
  absl::Time now = absl::Now();
  pki::CertificateAuthority ca = MakeCa(now);
  Issued a_cert = IssuePeer(ca, kA, now);
  auto a = MakeMember(kA, "127.0.0.2");
  auto gone = MakeMember(kC, "127.0.0.4");  // never attached: nothing listens there
  Attach(*a, {gone.get()}, [](PeerOptions& o) { o.max_queued = 5; });
  Secure(*a, Security(ca, a_cert, {kC}));
  auto started = std::chrono::steady_clock::now();
  for (std::uint64_t id = 0; id < 20; ++id) a->transport->Send(kC, Probe(id));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(100));
  nlohmann::json row = Row(*a, kC);
  CHECK(row["queued"] == 5);
  CHECK(row["dropped"] == 15);
  CHECK(row["connected"] == false);
}

TEST_CASE("Close is prompt with streams open, and the receiver is not called after it",
          "[transport][grpc]") {
  Pair p;
  p.a->transport->Send(kB, Probe(1));
  p.b->transport->Send(kA, Probe(2));
  REQUIRE(p.b->inbox->WaitFor([](const node::Envelope& e) { return IsProbe(e, 1); }));
  REQUIRE(p.a->inbox->WaitFor([](const node::Envelope& e) { return IsProbe(e, 2); }));
  auto started = std::chrono::steady_clock::now();
  p.a->transport->Close();
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));
  std::size_t before = p.a->inbox->size();
  p.b->transport->Send(kA, Probe(3));
  absl::SleepFor(absl::Milliseconds(200));
  CHECK(p.a->inbox->size() == before);
  started = std::chrono::steady_clock::now();
  p.b->transport->Close();
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));
}

TEST_CASE("the listener speaks TLS 1.2 with ECDHE + AEAD or TLS 1.3 only", "[transport][grpc]") {
  Pair p;
  pki::testing::WriteFile(p.a->dir.File("a.pem"), p.a_cert.certificate_pem);
  pki::testing::WriteFile(p.a->dir.File("a.key"), std::string(p.a_cert.key_pem.view()));
  std::string client = "timeout 10 openssl s_client -connect " + p.b->address +
                       " -servername b.example.com -alpn h2 -cert " + p.a->dir.File("a.pem") +
                       " -key " + p.a->dir.File("a.key") + " </dev/null";
  int code = 0;
  std::string tls13 = pki::testing::Run(client + " -tls1_3", &code);
  INFO(tls13);
  CHECK(tls13.find("TLSv1.3") != std::string::npos);
  std::string tls12 = pki::testing::Run(client + " -tls1_2", &code);
  INFO(tls12);
  CHECK(tls12.find("New, TLSv1.2, Cipher is ECDHE-ECDSA-AES") != std::string::npos);
  CHECK(tls12.find("-GCM-SHA") != std::string::npos);
  std::string legacy = pki::testing::Run(client + " -tls1_2 -cipher AES128-SHA", &code);
  INFO(legacy);
  CHECK(code != 0);
  CHECK(legacy.find("Cipher is AES128-SHA") == std::string::npos);
  std::string old_version = pki::testing::Run(client + " -tls1_1", &code);
  INFO(old_version);
  CHECK(code != 0);
}

TEST_CASE("Secure refuses what is not a certificate, naming the field", "[transport][grpc]") {
  absl::Time now = absl::Now();
  pki::CertificateAuthority ca = MakeCa(now);
  Issued a_cert = IssuePeer(ca, kA, now);
  auto a = MakeMember(kA, "127.0.0.2");
  Attach(*a, {});
  node::LinkSecurity s = Security(ca, a_cert, {kB});
  s.presented_ca_pem = "not a certificate";
  absl::Status status = a->transport->Secure(s);
  CHECK(ReasonOf(status) == "malformed");
  CHECK(status.message().find("presented_ca_pem") != std::string::npos);
  s = Security(ca, a_cert, {kB});
  s.trusted_ca_pems.push_back(a_cert.certificate_pem);  // a peer certificate is no CA
  status = a->transport->Secure(s);
  CHECK(ReasonOf(status) == "malformed");
  CHECK(status.message().find("trusted_ca_pems[1]") != std::string::npos);
  s = Security(ca, a_cert, {kB});
  s.key_pem = pki::SecretString();
  CHECK(a->transport->Secure(s).message().find("key_pem") != std::string::npos);
  // Nothing was started: the first valid Secure starts the listener.
  Secure(*a, Security(ca, a_cert, {kB}));
  a->transport->Close();
  CHECK(a->transport->Secure(Security(ca, a_cert, {kB})).code() ==
        absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("peer options are checked", "[transport][grpc]") {
  PeerOptions o;
  o.listen = "127.0.0.2:5427";
  CHECK(ValidatePeerOptions(o).ok());
  PeerOptions bad = o;
  bad.listen = "127.0.0.2";
  CHECK(ValidatePeerOptions(bad).code() == absl::StatusCode::kInvalidArgument);
  bad = o;
  bad.peers["b"] = "127.0.0.3:5427";
  CHECK(ReasonOf(ValidatePeerOptions(bad)) == "name_not_fqdn");
  bad = o;
  bad.peers[kB] = "127.0.0.3";
  CHECK(ValidatePeerOptions(bad).message().find("peers.b.example.com") != std::string::npos);
  bad = o;
  bad.max_queued = 0;
  CHECK(ValidatePeerOptions(bad).message().find("max_queued") != std::string::npos);
  bad = o;
  bad.reconnect_max = absl::Milliseconds(1);
  CHECK(ReasonOf(ValidatePeerOptions(bad)) == "invalid_value");
}

}  // namespace
}  // namespace arraykit::grpc_transport
