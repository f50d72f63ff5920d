// Join on the node: credentials at the first start, the join protocol over the transport with
// the CA pin, and every refusal reachable through the node (nothing written on either side).
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "core/pki/pki.h"
#include "core/status.h"
#include "nlohmann/json.hpp"
#include "node/node.h"
#include "node/node_test_util.h"
#include "node/sqlite_storage.h"

namespace arraykit::node {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

using test::kA;
using test::kB;
using test::kC;
using test::kD;

std::string DataDir(const std::string& test, const std::string& member) {
  return test::TempDataDir("join-test", test, member);
}

// The primary a is the one back-end; joiners are front-ends on their own racks.
using test::Backend;
using test::Frontend;

using test::Eventually;

// What each committed batch held, written by the node's store thread.
struct CommitLog {
  std::mutex mu;
  std::vector<std::string> batches;
  std::vector<std::string> Snapshot() {
    std::lock_guard lock(mu);
    return batches;
  }
};

// Records every batch the node commits (to check what the first transaction holds).
class RecordingStorage final : public Storage {
 public:
  RecordingStorage(std::unique_ptr<Storage> inner, CommitLog* log)
      : inner_(std::move(inner)), log_(log) {}
  absl::StatusOr<std::optional<Identity>> LoadIdentity() override { return inner_->LoadIdentity(); }
  absl::StatusOr<std::optional<failover::HardState>> LoadHardState() override {
    return inner_->LoadHardState();
  }
  absl::StatusOr<replication::Durable> LoadReplication() override {
    return inner_->LoadReplication();
  }
  absl::StatusOr<std::vector<CertificateStatus>> LoadCertificates() override {
    return inner_->LoadCertificates();
  }
  absl::StatusOr<std::optional<pki::SecretString>> LoadSecret(const std::string& name) override {
    return inner_->LoadSecret(name);
  }
  absl::StatusOr<std::vector<std::string>> SecretNames() override {
    return inner_->SecretNames();
  }
  absl::Status Commit(const Batch& batch) override {
    std::string what;
    if (batch.identity) what += "identity ";
    if (batch.hard_state) what += "hard_state ";
    if (batch.credentials) {
      for (const auto& [name, value] : batch.credentials->put_secrets) what += "secret:" + name + " ";
      for (const auto& c : batch.credentials->put_certificates) what += "cert:" + c.role + " ";
      for (const auto& name : batch.credentials->delete_secrets) what += "-secret:" + name + " ";
      if (batch.credentials->reset_repository) what += "reset ";
    }
    {
      std::lock_guard lock(log_->mu);
      log_->batches.push_back(what);
    }
    return inner_->Commit(batch);
  }

 private:
  std::unique_ptr<Storage> inner_;
  CommitLog* log_;
};

struct Members {
  std::shared_ptr<MemoryNetwork> net = MemoryNetwork::Create(5);
  std::string test;
  std::map<std::string, std::string> dirs;
  std::map<std::string, std::unique_ptr<Node>> nodes;
  std::map<std::string, std::vector<std::string>> events;
  std::mutex events_mu;

  explicit Members(std::string t) : test(std::move(t)) {}
  ~Members() {
    for (auto& [name, node] : nodes) {
      if (node) node->Close().IgnoreError();
    }
  }
  Node& Open(const std::string& name, const std::string& member) {
    if (!dirs.contains(name)) dirs[name] = DataDir(test, name);
    NodeOptions o;
    o.name = name;
    o.data_dir = dirs[name];
    o.member_json = member;
    o.attach = AttachTo(net);
    o.on_event = [this, name](const std::string& e) {
      std::lock_guard lock(events_mu);
      events[name].push_back(e);
    };
    auto node = Node::Open(std::move(o));
    REQUIRE(node.ok());
    nodes[name] = *std::move(node);
    return *nodes[name];
  }
  Node& operator[](const std::string& name) { return *nodes[name]; }
  void Close(const std::string& name) {
    REQUIRE(nodes[name]->Close().ok());
    nodes[name].reset();
  }
  std::string AllEvents() {
    std::lock_guard lock(events_mu);
    std::string out;
    for (auto& [name, list] : events) {
      for (auto& e : list) out += e;
    }
    return out;
  }
};

json StatusOf(Node& node) {
  auto s = node.Status();
  REQUIRE(s.ok());
  return json::parse(*s);
}

std::vector<std::string> MemberNames(Node& node) {
  const json status = StatusOf(node);
  std::vector<std::string> names;
  for (const json& m : status["members"]) names.push_back(m["name"]);
  return names;
}

// Joins `joiner` into the array of `primary`.
absl::StatusOr<std::string> Join(Node& primary, Node& joiner,
                                 absl::Duration timeout = absl::Seconds(10)) {
  auto token = joiner.JoinToken(absl::Minutes(10));
  REQUIRE(token.ok());
  auto fingerprint = joiner.CaFingerprint();
  REQUIRE(fingerprint.ok());
  return primary.Join(joiner.name(), *fingerprint, *token, timeout);
}

// One monitor interval of 50 ms (failover off): the replicator retries at a fifth of it.
std::string OwnArray() {
  json a = json::parse(Backend(1));
  a["name"] = kA;
  json doc;
  doc["members"] = json::array({a});
  doc["primary"] = kA;
  doc["resilience"] = json{{"monitor_interval_s", 0.05}};
  return doc.dump();
}
const std::string kOwnArray = OwnArray();

TEST_CASE("a first start makes a key and a CA of its own and a certificate in its first transaction") {
  CommitLog commits;
  auto net = MemoryNetwork::Create();
  NodeOptions o;
  o.name = kA;
  o.data_dir = DataDir("credentials", "a");
  o.member_json = Backend(1);
  o.attach = AttachTo(net);
  o.open_storage = [&commits](const std::string& dir) -> absl::StatusOr<std::unique_ptr<Storage>> {
    auto inner = OpenSqliteStorage(dir);
    if (!inner.ok()) return inner.status();
    return std::unique_ptr<Storage>(new RecordingStorage(*std::move(inner), &commits));
  };
  std::vector<std::string> events;
  std::mutex events_mu;
  o.on_event = [&](const std::string& e) {
    std::lock_guard lock(events_mu);
    events.push_back(e);
  };
  NodeOptions again = o;
  auto a = Node::Open(std::move(o));
  REQUIRE(a.ok());
  auto fingerprint = (*a)->CaFingerprint();
  REQUIRE(fingerprint.ok());
  CHECK(pki::NormalizeFingerprint(*fingerprint).value() == *fingerprint);
  json st = StatusOf(**a);
  CHECK(st["ca_fingerprint"] == *fingerprint);
  CHECK(st["holds_ca_key"] == true);
  REQUIRE(st["certificates"].size() == 2);
  std::map<std::string, json> by_role;
  for (const json& c : st["certificates"]) by_role[c["role"]] = c;
  CHECK(by_role["ca"]["name"] == "ca:" + *fingerprint);
  CHECK(by_role["peer"]["name"] == "peer");
  for (const auto& [role, c] : by_role) {
    absl::Time not_before, expires, renewal;
    std::string err;
    REQUIRE(absl::ParseTime(absl::RFC3339_full, c["not_before"].get<std::string>(), &not_before,
                            &err));
    REQUIRE(absl::ParseTime(absl::RFC3339_full, c["expires_at"].get<std::string>(), &expires,
                            &err));
    REQUIRE(absl::ParseTime(absl::RFC3339_full, c["renewal_at"].get<std::string>(), &renewal,
                            &err));
    CHECK(not_before < renewal);
    CHECK(renewal < expires);
  }
  // The identity, the hard state, both keys and both certificates: one transaction, the first.
  // The loop commits it; status may answer first.
  REQUIRE(Eventually([&] { return !commits.Snapshot().empty(); }));
  CHECK(commits.Snapshot().front() ==
        "identity hard_state secret:peer_key secret:ca_key:" + *fingerprint + " cert:ca cert:peer ");
  REQUIRE((*a)->Close().ok());
  {
    std::lock_guard lock(events_mu);
    for (const std::string& e : events) CHECK(e.find("PRIVATE KEY") == std::string::npos);
  }
  CHECK(st.dump().find("PRIVATE KEY") == std::string::npos);

  // A restart loads them: the same CA, still holding its key; nothing new is written.
  {
    std::lock_guard lock(commits.mu);
    commits.batches.clear();
  }
  auto restarted = Node::Open(std::move(again));
  REQUIRE(restarted.ok());
  CHECK((*restarted)->CaFingerprint().value() == *fingerprint);
  CHECK(StatusOf(**restarted)["holds_ca_key"] == true);
  REQUIRE((*restarted)->Close().ok());
  for (const std::string& c : commits.Snapshot()) CHECK(c.find("secret:") == std::string::npos);
}

TEST_CASE("join: b and c join a and b's standalone repository is replaced by the array's") {
  Members m("join");
  Node& a = m.Open(kA, Backend(1));
  REQUIRE(a.CreateArray(kOwnArray).ok());
  REQUIRE(a.Put("sessions", "from-a", "1").ok());
  Node& b = m.Open(kB, Frontend(2));
  REQUIRE(b.Put("sessions", "b-only", "\"standalone\"").ok());
  REQUIRE(b.Put("sessions", "from-a", "\"b's value\"").ok());
  const std::string a_fp = a.CaFingerprint().value();
  const std::string b_fp = b.CaFingerprint().value();
  CHECK(a_fp != b_fp);

  auto joined = Join(a, b);
  REQUIRE(joined.ok());
  json result = json::parse(*joined);
  CHECK(result["joined"] == kB);
  CHECK(result["members"] == json::array({kA, kB}));

  // b now trusts and presents a's CA; its own CA is retired.
  json sb = StatusOf(b);
  CHECK(sb["primary"] == kA);
  CHECK(sb["ca_fingerprint"] == a_fp);
  CHECK(sb["holds_ca_key"] == false);
  std::vector<std::string> names;
  for (const json& c : sb["certificates"]) names.push_back(c["name"]);
  CHECK(names == std::vector<std::string>{"ca:" + a_fp, "peer"});

  // The repository b ends with is exactly a's: its standalone writes are gone, not merged.
  REQUIRE(a.Put("sessions", "after", "2").ok());
  REQUIRE(a.WaitSynced(absl::Seconds(10)).ok());
  REQUIRE(Eventually([&] { return b.Get("sessions", "after").ok(); }));
  CHECK(b.Get("sessions", "from-a").value() == "1");
  CHECK(b.Get("sessions", "b-only").status().code() == absl::StatusCode::kNotFound);
  CHECK(a.Get("sessions", "b-only").status().code() == absl::StatusCode::kNotFound);
  CHECK(StatusOf(b)["applied"] == StatusOf(a)["log"]);
  CHECK(StatusOf(a)["conflicts"] == 0);

  // c joins too; a write reaches both.
  Node& c = m.Open(kC, Frontend(3));
  REQUIRE(Join(a, c).ok());
  CHECK(MemberNames(a) == std::vector<std::string>{kA, kB, kC});
  REQUIRE(a.Put("sessions", "three", "3", replication::Wait::kAll).ok());
  CHECK(c.Get("sessions", "three").value() == "3");
  CHECK(b.Get("sessions", "three").value() == "3");

  // A restarted joiner is still a member with the array's credentials.
  m.Close(kB);
  Node& b2 = m.Open(kB, Frontend(2));
  json restarted = StatusOf(b2);
  CHECK(restarted["primary"] == kA);
  CHECK(restarted["ca_fingerprint"] == a_fp);
  // Its store holds the array's repository only.
  CHECK(b2.Get("sessions", "b-only").status().code() == absl::StatusCode::kNotFound);
  CHECK(b2.Get("sessions", "from-a").value() == "1");
  CHECK(b2.Get("sessions", "three").value() == "3");
  CHECK(m.AllEvents().find("PRIVATE KEY") == std::string::npos);
  CHECK(m.AllEvents().find("\"joined_array\"") != std::string::npos);
  CHECK(m.AllEvents().find("\"join_completed\"") != std::string::npos);
}

// Nothing written on either side: a has one member, b is standalone with its own CA.
void CheckNothingWritten(Node& a, Node& b, const std::string& b_fp) {
  CHECK(MemberNames(a) == std::vector<std::string>{kA});
  json sb = StatusOf(b);
  CHECK(sb["primary"] == kB);
  CHECK(sb["ca_fingerprint"] == b_fp);
  CHECK(sb["holds_ca_key"] == true);
}

TEST_CASE("join refusals before and at the pin") {
  Members m("pin");
  Node& a = m.Open(kA, Backend(1));
  REQUIRE(a.CreateArray(kOwnArray).ok());
  Node& b = m.Open(kB, Frontend(2));
  Node& c = m.Open(kC, Frontend(3));
  const std::string b_fp = b.CaFingerprint().value();
  const std::string token = b.JoinToken(absl::Minutes(5)).value();
  const absl::Duration t = absl::Seconds(10);

  // Another member's CA: the hello never reaches b.
  auto wrong = a.Join(kB, c.CaFingerprint().value(), token, t);
  CHECK(ReasonOf(wrong.status()) == "fingerprint_mismatch");
  CHECK(wrong.status().message().find(c.CaFingerprint().value()) != std::string::npos);
  CHECK(ReasonOf(a.Join(kB, "not a fingerprint", token, t).status()) == "invalid_fingerprint");
  CHECK(ReasonOf(a.Join("b", b_fp, token, t).status()) == "name_not_fqdn");
  CHECK(ReasonOf(a.Join(kA, a.CaFingerprint().value(), token, t).status()) == "name_taken");
  CHECK(ReasonOf(a.Join(kD, b_fp, token, t).status()) == "not_contactable");
  CHECK(ReasonOf(a.Join(kB, b_fp, token, absl::ZeroDuration()).status()) == "invalid_value");
  CheckNothingWritten(a, b, b_fp);
  // The token was not used by any of them.
  REQUIRE(a.Join(kB, b_fp, token, t).ok());
}

TEST_CASE("join refusals by the joiner: token and version and standalone") {
  Members m("joiner");
  Node& a = m.Open(kA, Backend(1));
  REQUIRE(a.CreateArray(kOwnArray).ok());
  Node& b = m.Open(kB, Frontend(2));
  const std::string b_fp = b.CaFingerprint().value();
  const absl::Duration t = absl::Seconds(10);

  CHECK(ReasonOf(a.Join(kB, b_fp, "AKJT-AAAAAAAAAAAAAAAAAAAAAAAAAA", t).status()) ==
        "token_invalid");
  CHECK(ReasonOf(a.Join(kB, b_fp, "hello", t).status()) == "token_invalid");
  CHECK(ReasonOf(b.JoinToken(absl::Hours(48)).status()) == "invalid_ttl");
  const std::string short_lived = b.JoinToken(absl::Seconds(1)).value();
  std::this_thread::sleep_for(1100ms);
  CHECK(ReasonOf(a.Join(kB, b_fp, short_lived, t).status()) == "token_expired");
  CheckNothingWritten(a, b, b_fp);

  // Another version on the joiner.
  Node& c = m.Open(kC, json{{"roles", {"frontend"}}, {"rack", "r3"}, {"version", "9.9.9"}}.dump());
  auto version = Join(a, c);
  CHECK(ReasonOf(version.status()) == "version_mismatch");
  CHECK(MemberNames(a) == std::vector<std::string>{kA});

  // A token is used once: after b joined and was detached, it is refused.
  const std::string token = b.JoinToken(absl::Minutes(5)).value();
  REQUIRE(a.Join(kB, b_fp, token, t).ok());
  // b is in an array now: another primary cannot take it.
  Node& d = m.Open(kD, Backend(4));
  auto taken = d.Join(kB, b.CaFingerprint().value(), b.JoinToken(absl::Minutes(5)).value(), t);
  CHECK(ReasonOf(taken.status()) == "joiner_not_standalone");
  CHECK(MemberNames(d) == std::vector<std::string>{kD});
  // A secondary cannot run join.
  CHECK(ReasonOf(Join(b, c).status()) == "not_primary");

  REQUIRE(Eventually([&] { return a.Detach(kB).ok(); }));
  REQUIRE(Eventually([&] { return StatusOf(b)["members"].size() == 1; }));
  CHECK(ReasonOf(a.Join(kB, b.CaFingerprint().value(), token, t).status()) == "token_invalid");
  CHECK(MemberNames(a) == std::vector<std::string>{kA});
}

TEST_CASE("join refusals on the primary: placement and array full and busy and timeout") {
  Members m("primary");
  Node& a = m.Open(kA, Backend(1));
  REQUIRE(a.CreateArray(kOwnArray).ok());
  const absl::Duration t = absl::Seconds(10);

  // A second back-end: a multi-member array needs 1 or 3.
  Node& b = m.Open(kB, Backend(2));
  auto placement = Join(a, b);
  CHECK(ReasonOf(placement.status()) == "placement_errors");
  CheckNothingWritten(a, b, b.CaFingerprint().value());
  m.Close(kB);
  std::filesystem::remove_all(m.dirs[kB]);
  Node& b2 = m.Open(kB, Frontend(2));

  // The joiner does not answer: the call times out, and nothing was written on a.
  m.net->SetLink(kB, kA, LinkOptions{.loss = 1.0}).IgnoreError();
  auto lost = Join(a, b2, absl::Milliseconds(300));
  CHECK(lost.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(MemberNames(a) == std::vector<std::string>{kA});
  m.net->SetLink(kB, kA, LinkOptions{}).IgnoreError();

  // One join at a time: a hello held up on its way keeps the first join under way.
  m.net->SetLink(kA, kB, LinkOptions{.delay = absl::Milliseconds(400)}).IgnoreError();
  absl::StatusOr<std::string> first = absl::UnknownError("not run");
  std::thread slow([&] { first = Join(a, b2); });
  // (Before the first join starts this is refused for its fingerprint; while it runs, busy.)
  CHECK(Eventually(
      [&] { return ReasonOf(a.Join(kC, std::string(95, 'A'), "x", t).status()) == "busy"; }));
  slow.join();
  REQUIRE(first.ok());
  CHECK(StatusOf(b2)["ca_fingerprint"] == a.CaFingerprint().value());
  m.net->SetLink(kA, kB, LinkOptions{}).IgnoreError();

  // b becomes primary without the CA key: it rolls the CA over (rollover_test.cc), refusing
  // joins (busy) until its new CA is the array's; then it admits c.
  Node& c = m.Open(kC, Frontend(3));
  absl::Status transfer;
  Eventually([&] { return (transfer = a.MakePrimary(kB)).ok(); });
  INFO(transfer.ToString());
  REQUIRE(transfer.ok());
  REQUIRE(Eventually([&] { return StatusOf(b2)["role"] == "primary"; }));
  // One token: a join refused as busy does not use it up.
  const std::string c_token = c.JoinToken(absl::Minutes(10)).value();
  const std::string c_fingerprint = c.CaFingerprint().value();
  CHECK(Eventually(
      [&] { return b2.Join(kC, c_fingerprint, c_token, absl::Seconds(10)).ok(); }));

  // Ten members: the array is full.
  json members = json::array();
  for (int i = 0; i < 10; ++i) {
    json member = json::parse(i == 0 ? Backend(1) : Frontend(i + 1));
    member["name"] = i == 0 ? kD : absl::StrCat("m", i, ".example.com");
    members.push_back(member);
  }
  Node& d = m.Open(kD, Backend(1));
  REQUIRE(d.CreateArray(json{{"members", members}, {"primary", kD}}.dump()).ok());
  CHECK(ReasonOf(Join(d, c).status()) == "array_full");
}

TEST_CASE("reserved keys and wait values and a data_dir without its parent are refused") {
  Members m("flaws");
  Node& a = m.Open(kA, Backend(1));
  CHECK(ReasonOf(a.Put("global_configuration", "arraykit.member/x", "1").status()) ==
        "reserved_key");
  CHECK(ReasonOf(a.Delete("sessions", "arraykit.anything").status()) == "reserved_key");
  CHECK(ReasonOf(WaitFromOptionsJson(R"({"wait": "al"})").status()) == "invalid_value");

  NodeOptions o;
  o.name = kB;
  o.data_dir = DataDir("flaws", "missing") + "/deeper/b";
  o.attach = AttachTo(m.net);
  auto opened = Node::Open(std::move(o));
  CHECK(opened.status().code() == absl::StatusCode::kNotFound);
  CHECK(opened.status().message().find("data_dir") != std::string::npos);
}

TEST_CASE("detach wipes the array's credentials on the detached member and revokes its serial") {
  Members m("detach");
  Node& a = m.Open(kA, Backend(1));
  REQUIRE(a.CreateArray(kOwnArray).ok());
  Node& b = m.Open(kB, Frontend(2));
  REQUIRE(Join(a, b).ok());
  const std::string a_fp = a.CaFingerprint().value();
  REQUIRE(b.CaFingerprint().value() == a_fp);
  CHECK(StatusOf(a)["revoked_serials"].empty());

  REQUIRE(Eventually([&] { return a.Detach(kB).ok(); }));
  CHECK(MemberNames(a) == std::vector<std::string>{kA});
  json revoked = StatusOf(a)["revoked_serials"];
  CHECK(revoked.size() == 1);
  // b became standalone: a new key, a CA of its own; the array's CA is no longer trusted.
  REQUIRE(Eventually([&] { return StatusOf(b)["holds_ca_key"] == true; }));
  json sb = StatusOf(b);
  CHECK(sb["members"].size() == 1);
  const std::string b_fp = sb["ca_fingerprint"];
  CHECK(b_fp != a_fp);
  std::vector<std::string> names;
  for (const json& c : sb["certificates"]) names.push_back(c["name"]);
  CHECK(names == std::vector<std::string>{"ca:" + b_fp, "peer"});
  // Events reach the callback on the dispatcher thread, after the state status shows.
  CHECK(Eventually([&] { return m.AllEvents().find("\"own_ca_created\"") != std::string::npos; }));

  // It stays so across a restart, and it can join again with its new CA.
  m.Close(kB);
  Node& b2 = m.Open(kB, Frontend(2));
  CHECK(b2.CaFingerprint().value() == b_fp);
  REQUIRE(Join(a, b2).ok());
  CHECK(b2.CaFingerprint().value() == a_fp);
}

TEST_CASE("make_primary hands over only once the target holds the primary's log") {
  Members m("handover");
  Node& a = m.Open(kA, Backend(1));
  REQUIRE(a.CreateArray(kOwnArray).ok());
  Node& b = m.Open(kB, Frontend(2));
  REQUIRE(Join(a, b).ok());
  REQUIRE(a.WaitSynced(absl::Seconds(10)).ok());
  // b hears of writes 150 ms late: the hand-over waits for them.
  REQUIRE(m.net->SetLink(kA, kB, LinkOptions{.delay = absl::Milliseconds(150)}).ok());
  for (int i = 0; i < 5; ++i) {
    REQUIRE(a.Put("sessions", absl::StrCat("late", i), "1").ok());
  }
  REQUIRE(a.MakePrimary(kB).ok());
  for (int i = 0; i < 5; ++i) CHECK(b.Get("sessions", absl::StrCat("late", i)).ok());
}

}  // namespace
}  // namespace arraykit::node
