// The new primary's CA rollover on the node (pki::PlanNewPrimary, docs/node.md "CA rollover"):
// a member that becomes primary without its array's CA key creates a CA, every member gets a
// certificate of it through a CSR, it becomes current and the previous CA is dropped everywhere.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
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
  return test::TempDataDir("rollover-test", test, member);
}

using test::Backend;
using test::Frontend;

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 15s) {
  return test::Eventually(condition, timeout, 5ms);
}

struct Members {
  std::shared_ptr<MemoryNetwork> net = MemoryNetwork::Create(7);
  std::string test;
  std::map<std::string, std::string> dirs;
  std::map<std::string, std::string> descriptions;
  std::map<std::string, std::unique_ptr<Node>> nodes;
  std::vector<std::string> events;  // every member's, "name event-json"
  std::mutex events_mu;
  // Every member's wall clock runs this far ahead of the real one (certificate renewal).
  std::shared_ptr<std::atomic<std::int64_t>> clock_ahead_s =
      std::make_shared<std::atomic<std::int64_t>>(0);

  explicit Members(std::string t) : test(std::move(t)) {}
  ~Members() {
    for (auto& [name, node] : nodes) {
      if (node) node->Close().IgnoreError();
    }
    for (auto& [name, dir] : dirs) std::filesystem::remove_all(dir);
  }
  Node& Open(const std::string& name, const std::string& member = "") {
    if (!dirs.contains(name)) dirs[name] = DataDir(test, name);
    if (!member.empty()) descriptions[name] = member;
    NodeOptions o;
    o.name = name;
    o.data_dir = dirs[name];
    o.member_json = descriptions[name];
    o.attach = AttachTo(net);
    o.wall_clock = [ahead = clock_ahead_s] { return absl::Now() + absl::Seconds(ahead->load()); };
    o.on_event = [this, name](const std::string& e) {
      std::lock_guard lock(events_mu);
      events.push_back(name + " " + e);
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
  // The events named `event` posted by `member`.
  std::vector<json> EventsOf(const std::string& member, const std::string& event) {
    std::lock_guard lock(events_mu);
    std::vector<json> out;
    for (const std::string& e : events) {
      if (e.rfind(member + " ", 0) != 0) continue;
      json doc = json::parse(e.substr(member.size() + 1));
      if (doc["event"] == event) out.push_back(doc);
    }
    return out;
  }
  bool AnyEventHas(const std::string& text) {
    std::lock_guard lock(events_mu);
    for (const std::string& e : events) {
      if (e.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

json StatusOf(Node& node) {
  auto s = node.Status();
  REQUIRE(s.ok());
  return json::parse(*s);
}

absl::StatusOr<std::string> Join(Node& primary, Node& joiner) {
  auto token = joiner.JoinToken(absl::Minutes(10));
  REQUIRE(token.ok());
  auto fingerprint = joiner.CaFingerprint();
  REQUIRE(fingerprint.ok());
  return primary.Join(joiner.name(), *fingerprint, *token, absl::Seconds(10));
}

std::string OwnArray() {
  json a = json::parse(Backend(1));
  a["name"] = kA;
  json doc;
  doc["members"] = json::array({a});
  doc["primary"] = kA;
  doc["resilience"] = json{{"monitor_interval_s", 0.05}};
  return doc.dump();
}

// a creates its array; b and c join it. Answers the array's CA fingerprint (a's).
std::string FormByJoin(Members& m) {
  Node& a = m.Open(kA, Backend(1));
  REQUIRE(a.CreateArray(OwnArray()).ok());
  Node& b = m.Open(kB, Frontend(2));
  Node& c = m.Open(kC, Frontend(3));
  REQUIRE(Join(a, b).ok());
  REQUIRE(Join(a, c).ok());
  const std::string fp = a.CaFingerprint().value();
  REQUIRE(Eventually([&] {
    return StatusOf(b)["ca_fingerprint"] == fp && StatusOf(c)["ca_fingerprint"] == fp;
  }));
  return fp;
}

std::set<std::string> TrustedCas(const json& status) {
  std::set<std::string> out;
  for (const json& t : status["trusted_cas"]) out.insert(t["fingerprint"].get<std::string>());
  return out;
}

// Every open member presents `fp`, trusts only it, and names it current; no rollover runs.
bool RolledOverTo(Members& m, const std::vector<std::string>& names, const std::string& fp) {
  for (const std::string& name : names) {
    json st = StatusOf(m[name]);
    if (st["ca_fingerprint"] != fp || st["ca_current"] != fp || !st["ca_rollover"].is_null() ||
        TrustedCas(st) != std::set<std::string>{fp}) {
      return false;
    }
  }
  return true;
}

// What the closed member's store holds: secret names and certificate names.
std::pair<std::set<std::string>, std::set<std::string>> StoreOf(const std::string& dir) {
  auto storage = OpenSqliteStorage(dir);
  REQUIRE(storage.ok());
  auto secrets = (*storage)->SecretNames();
  REQUIRE(secrets.ok());
  auto certificates = (*storage)->LoadCertificates();
  REQUIRE(certificates.ok());
  std::set<std::string> names;
  for (const CertificateStatus& c : *certificates) names.insert(c.name);
  return {std::set<std::string>(secrets->begin(), secrets->end()), names};
}

void CheckNoKeyMaterial(Members& m, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    CHECK(StatusOf(m[name]).dump().find("PRIVATE KEY") == std::string::npos);
  }
  CHECK_FALSE(m.AnyEventHas("PRIVATE KEY"));
}

TEST_CASE("make_primary: the new primary's CA reissues every member and replaces the old CA") {
  Members m("make-primary");
  const std::string old_fp = FormByJoin(m);
  absl::Status transfer;
  REQUIRE(Eventually([&] { return (transfer = m[kA].MakePrimary(kB)).ok(); }));
  REQUIRE(Eventually([&] { return StatusOf(m[kB])["role"] == "primary"; }));

  // b created a CA; every member got a certificate of it; it became current.
  REQUIRE(Eventually([&] { return m.EventsOf(kB, "ca_created").size() == 1; }));
  bool done = Eventually([&] {
    std::string fp = m[kB].CaFingerprint().value();
    return fp != old_fp && RolledOverTo(m, {kA, kB, kC}, fp);
  });
  if (!done) {
    for (const std::string& name : {kA, kB, kC}) WARN(StatusOf(m[name]).dump());
  }
  REQUIRE(done);
  const std::string fp = m[kB].CaFingerprint().value();
  CHECK(m.EventsOf(kB, "ca_created").size() == 1);  // one CA, not one per iteration
  CHECK(m.EventsOf(kB, "certificate_issued").size() >= 3);  // (again if a record was slow)
  CHECK(Eventually([&] { return m.EventsOf(kB, "ca_activated").size() == 1; }));
  for (const std::string& name : {kA, kB, kC}) {
    INFO(name);
    // The dispatcher delivers events after the status shows the rollover done.
    REQUIRE(Eventually([&] { return m.EventsOf(name, "ca_retired").size() == 1; }));
    CHECK(m.EventsOf(name, "ca_retired")[0]["reason"].get<std::string>().find(old_fp) !=
          std::string::npos);
  }
  // a held the old CA's key: it deleted it.
  CHECK(m.EventsOf(kA, "ca_retired")[0]["reason"].get<std::string>().find("deleted its key") !=
        std::string::npos);
  json sb = StatusOf(m[kB]);
  CHECK(sb["holds_ca_key"] == true);
  CHECK(StatusOf(m[kA])["holds_ca_key"] == false);
  CheckNoKeyMaterial(m, {kA, kB, kC});

  // A fourth member joins through b, which holds the array's CA now.
  Node& d = m.Open(kD, Frontend(4));
  auto joined = Join(m[kB], d);
  INFO(joined.status().ToString());
  REQUIRE(joined.ok());
  CHECK(StatusOf(d)["ca_fingerprint"] == fp);

  // The stores: no key of the old CA anywhere; each member trusts only the new CA.
  for (const std::string& name : {kA, kB, kC}) m.Close(name);
  for (const std::string& name : {kA, kB, kC}) {
    INFO(name);
    auto [secrets, certificates] = StoreOf(m.dirs[name]);
    CHECK_FALSE(secrets.contains("ca_key:" + old_fp));
    CHECK_FALSE(certificates.contains("ca:" + old_fp));
    CHECK(certificates.contains("ca:" + fp));
    CHECK(secrets.contains("ca_key:" + fp) == (name == kB));
  }
}

TEST_CASE("a member closed during the rollover gets its certificate when it reopens") {
  Members m("closed");
  const std::string old_fp = FormByJoin(m);
  REQUIRE(m[kA].WaitSynced(absl::Seconds(5)).ok());
  m.Close(kC);
  // (make_primary waits until synchronized: until a stops counting c as contactable.)
  absl::Status transfer;
  REQUIRE(Eventually([&] { return (transfer = m[kA].MakePrimary(kB)).ok(); }, 60s));
  REQUIRE(Eventually([&] {
    json r = StatusOf(m[kB])["ca_rollover"];
    return r.is_object() && r["pending"] == json::array({kB, kC});
  }));
  const std::string next = StatusOf(m[kB])["ca_rollover"]["next"];
  CHECK(next != old_fp);
  // While the rollover waits for c, no member joins (its certificate would be of a CA not yet
  // trusted by all), and the old CA stays trusted.
  Node& d = m.Open(kD, Frontend(4));
  CHECK(ReasonOf(Join(m[kB], d).status()) == "busy");
  CHECK(TrustedCas(StatusOf(m[kA])) == std::set<std::string>{old_fp, next});

  // The primary restarts mid-rollover: it keeps its next CA (no second one).
  m.Close(kB);
  m.Open(kB);
  REQUIRE(Eventually([&] {
    json st = StatusOf(m[kB]);
    return st["role"] == "primary" && st["writable"] == true;
  }));
  CHECK(StatusOf(m[kB])["ca_rollover"]["next"] == next);

  m.Open(kC);
  REQUIRE(Eventually([&] { return RolledOverTo(m, {kA, kB, kC}, next); }));
  CHECK(m.EventsOf(kB, "ca_created").size() == 1);
  // b reissued itself after c: presenting the next CA earlier would have kept c out (it learns
  // that CA from its primary only).
  auto first_to = [&](const std::string& name) {
    const auto issued = m.EventsOf(kB, "certificate_issued");
    for (std::size_t i = 0; i < issued.size(); ++i) {
      if (issued[i]["reason"].get<std::string>().ends_with(" to " + name)) return i;
    }
    return issued.size();
  };
  CHECK(first_to(kA) < first_to(kC));
  CHECK(first_to(kC) < first_to(kB));
  CHECK(StatusOf(m[kC])["ca_fingerprint"] == next);
  REQUIRE(Join(m[kB], d).ok());
  CheckNoKeyMaterial(m, {kA, kB, kC, kD});
}

TEST_CASE("the primary refuses a CSR for another name than the sender's and stores nothing") {
  Members m("csr");
  FormByJoin(m);
  REQUIRE(m[kA].WaitSynced(absl::Seconds(5)).ok());
  m.Close(kC);
  REQUIRE(Eventually([&] { return m[kA].MakePrimary(kB).ok(); }, 60s));
  // a is reissued; b, the primary, is reissued last (c, away, would refuse its certificate of
  // the next CA). The event of a's certificate is delivered after the status shows it (the
  // dispatcher runs apart).
  REQUIRE(Eventually([&] {
    json r = StatusOf(m[kB])["ca_rollover"];
    return r.is_object() && r["pending"] == json::array({kB, kC}) &&
           m.EventsOf(kB, "certificate_issued").size() == 1;
  }));
  const std::string next = StatusOf(m[kB])["ca_rollover"]["next"];
  const std::size_t issued = m.EventsOf(kB, "certificate_issued").size();

  // Someone attached as c asks for a certificate naming a.
  std::mutex mu;
  std::vector<CsrReply> replies;
  auto fake = m.net->Attach(
      kC,
      [&](Envelope e) {
        if (auto* r = std::get_if<CsrReply>(&e.payload)) {
          std::lock_guard lock(mu);
          replies.push_back(*r);
        }
      },
      "");
  REQUIRE(fake.ok());
  auto for_a = pki::CreateKeyAndCsr(pki::KeyType::kEcdsaP256, kA);
  REQUIRE(for_a.ok());
  (*fake)->Send(kB, CsrRequest{for_a->csr_pem, next});
  // A CSR for c, but for a CA that is not the array's next one; and one to a non-primary.
  auto for_c = pki::CreateKeyAndCsr(pki::KeyType::kEcdsaP256, kC);
  REQUIRE(for_c.ok());
  (*fake)->Send(kB, CsrRequest{for_c->csr_pem, std::string(95, 'A')});
  (*fake)->Send(kA, CsrRequest{for_c->csr_pem, next});
  (*fake)->Send(kB, CsrRequest{"not a CSR", next});
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return replies.size() == 4;
  }));
  std::multiset<std::string> reasons;
  for (const CsrReply& r : replies) {
    CHECK(r.certificate_pem.empty());
    reasons.insert(r.status.reason);
  }
  CHECK(reasons == std::multiset<std::string>{"name_mismatch", "no_ca_key", "not_primary",
                                              "malformed"});
  // Nothing was issued or recorded: c is still pending.
  std::this_thread::sleep_for(100ms);
  CHECK(m.EventsOf(kB, "certificate_issued").size() == issued);
  CHECK(StatusOf(m[kB])["ca_rollover"]["pending"] == json::array({kB, kC}));
  (*fake)->Close();
  fake->reset();

  m.Open(kC);
  bool done = Eventually([&] { return RolledOverTo(m, {kA, kB, kC}, next); });
  if (!done) {
    for (const std::string& name : {kA, kB, kC}) WARN(StatusOf(m[name]).dump());
  }
  REQUIRE(done);
}

// Failover on at 50 ms x 3 with `return_action`, a closed: b becomes the writable primary.
void FailOverToB(Members& m, const std::string& return_action) {
  absl::Status backup = m[kA].AddBackupPrimary(kB);
  INFO(backup.ToString());
  REQUIRE((backup.ok() || ReasonOf(backup) == "already_listed"));
  json edit = json::parse(R"({"array-failoverenabled": true, "array-monitortime": 0.05,
                              "array-maxmonitors": 3, "array-resubmitfindprimarywait": 0.05,
                              "array-resubmitfindprimarymax": 3})");
  edit["array-primaryreturnaction"] = return_action;
  REQUIRE(m[kA].ConfigEdit(edit.dump()).ok());
  REQUIRE(Eventually([&] {
    return StatusOf(m[kB])["resilience"]["failover_enabled"] == true &&
           StatusOf(m[kC])["resilience"]["failover_enabled"] == true;
  }));
  REQUIRE(m[kA].WaitSynced(absl::Seconds(5)).ok());
  m.Close(kA);
  REQUIRE(Eventually([&] {
    json st = StatusOf(m[kB]);
    return st["role"] == "primary" && st["writable"] == true;
  }));
}

TEST_CASE("a failover promotion rolls the CA over") {
  Members m("failover");
  const std::string old_fp = FormByJoin(m);
  FailOverToB(m, "none");
  // The promotion repaired the formation without a: b created a CA, c got its certificate
  // of it, and it became the array's CA.
  bool done = Eventually([&] {
    std::string fp = m[kB].CaFingerprint().value();
    return fp != old_fp && RolledOverTo(m, {kB, kC}, fp);
  });
  if (!done) {
    for (const std::string& name : {kB, kC}) WARN(StatusOf(m[name]).dump());
  }
  REQUIRE(done);
  const std::string fp = m[kB].CaFingerprint().value();
  CHECK(m.EventsOf(kB, "ca_created").size() == 1);
  CHECK(Eventually([&] { return m.EventsOf(kB, "ca_activated").size() == 1; }));
  CHECK(Eventually([&] { return m.EventsOf(kC, "ca_retired").size() == 1; }));
  // b holds the array's CA key now (joins wait for the failover machine's recovery stage).
  CHECK(StatusOf(m[kB])["holds_ca_key"] == true);
  CHECK(StatusOf(m[kC])["ca_fingerprint"] == fp);
  CheckNoKeyMaterial(m, {kB, kC});
}

TEST_CASE("a repaired array keeps the original CA's certificates until its original primary is back") {
  // Over mutual TLS the returning original primary trusts only the original CA: the members
  // keep presenting certificates of it while the recovery (accept) is pending.
  Members m("awaits-original");
  const std::string old_fp = FormByJoin(m);
  FailOverToB(m, "accept");
  REQUIRE(StatusOf(m[kB])["repaired"] == true);
  // b made the next CA and c trusts it, but nobody is reissued while a may return.
  REQUIRE(Eventually([&] { return TrustedCas(StatusOf(m[kC])).size() == 2; }));
  std::this_thread::sleep_for(300ms);  // many CSR retry periods
  for (const std::string& name : {kB, kC}) {
    json st = StatusOf(m[name]);
    CHECK(st["ca_fingerprint"] == old_fp);
    CHECK(TrustedCas(st).contains(old_fp));
  }
  CHECK(m.EventsOf(kB, "certificate_issued").empty());

  // a returns: the original formation is recreated and the array rolls over to a new CA of a.
  m.Open(kA);
  REQUIRE(Eventually([&] {
    json sa = StatusOf(m[kA]);
    return sa["role"] == "primary" && sa["writable"] == true && StatusOf(m[kB])["primary"] == kA &&
           StatusOf(m[kC])["primary"] == kA;
  }));
  bool done = Eventually([&] {
    std::string fp = m[kA].CaFingerprint().value();
    return RolledOverTo(m, {kA, kB, kC}, fp);
  });
  if (!done) {
    for (const std::string& name : {kA, kB, kC}) WARN(StatusOf(m[name]).dump());
    std::lock_guard lock(m.events_mu);
    for (const std::string& e : m.events) std::fprintf(stderr, "EV %s\n", e.substr(0, 400).c_str());
  }
  REQUIRE(done);
}

// ---- renewal at two thirds of the lifetime (DESIGN §6; docs/node.md "Certificate renewal") -----

// The expiry of the member's peer certificate, as status shows it.
std::string PeerExpiry(Node& node) {
  const json status = StatusOf(node);
  for (const json& c : status["certificates"]) {
    if (c["name"] == "peer") return c["expires_at"].get<std::string>();
  }
  return "";
}

constexpr std::int64_t kDay = 24 * 3600;

TEST_CASE("peer certificates are renewed by the array's CA at two thirds of their lifetime") {
  Members m("renew-peer");
  const std::string fp = FormByJoin(m);
  std::map<std::string, std::string> expiry;
  for (const std::string& name : {kA, kB, kC}) expiry[name] = PeerExpiry(m[name]);
  // Peer certificates live 90 days: 61 days on, every one is past its renewal date.
  m.clock_ahead_s->store(61 * kDay);
  bool renewed = Eventually([&] {
    for (const std::string& name : {kA, kB, kC}) {
      if (m.EventsOf(name, "certificate_renewed").empty()) return false;
    }
    return true;
  });
  if (!renewed) {
    for (const std::string& name : {kA, kB, kC}) WARN(StatusOf(m[name]).dump());
  }
  REQUIRE(renewed);
  // The primary signed each member's CSR with the array's CA, which did not change.
  std::this_thread::sleep_for(300ms);
  for (const std::string& name : {kA, kB, kC}) {
    INFO(name);
    CHECK(m.EventsOf(name, "certificate_renewed").size() == 1);  // once, not per iteration
    json st = StatusOf(m[name]);
    CHECK(st["ca_fingerprint"] == fp);
    CHECK(st["ca_rollover"].is_null());
    CHECK(PeerExpiry(m[name]) > expiry[name]);  // RFC 3339 in UTC compares as text
  }
  CHECK(m.EventsOf(kA, "certificate_issued").size() >= 3);
  CHECK(m.EventsOf(kA, "ca_created").empty());
  // The array still replicates.
  REQUIRE(m[kA].Put("sessions", "after-renewal", "1", replication::Wait::kAll).ok());
  CHECK(m[kC].Get("sessions", "after-renewal").value() == "1");
  CheckNoKeyMaterial(m, {kA, kB, kC});
  // A restart keeps the renewed certificate.
  const std::string renewed_b = PeerExpiry(m[kB]);
  m.Close(kB);
  CHECK(PeerExpiry(m.Open(kB)) == renewed_b);
}

TEST_CASE("a CA at two thirds of its lifetime is rolled over to a new one") {
  Members m("renew-ca");
  const std::string old_fp = FormByJoin(m);
  // The array's CA lives 5 years: 41 months on it is past its renewal date (and the peer
  // certificates long expired: the rollover reissues them).
  m.clock_ahead_s->store(41 * 30 * kDay);
  bool done = Eventually([&] {
    std::string fp = m[kA].CaFingerprint().value();
    return fp != old_fp && RolledOverTo(m, {kA, kB, kC}, fp);
  });
  if (!done) {
    for (const std::string& name : {kA, kB, kC}) WARN(StatusOf(m[name]).dump());
  }
  REQUIRE(done);
  std::this_thread::sleep_for(300ms);
  REQUIRE(m.EventsOf(kA, "ca_created").size() == 1);  // the new CA is not due: one rollover
  CHECK(m.EventsOf(kA, "ca_created")[0]["reason"].get<std::string>().find("renewal date") !=
        std::string::npos);
  CHECK(StatusOf(m[kA])["holds_ca_key"] == true);
  for (const std::string& name : {kB, kC}) CHECK(m.EventsOf(name, "ca_retired").size() == 1);
  CheckNoKeyMaterial(m, {kA, kB, kC});
}

TEST_CASE("a standalone member renews its certificate, and its CA by making a new one") {
  Members m("renew-standalone");
  Node& a = m.Open(kA, Backend(1));
  const std::string fp = a.CaFingerprint().value();
  const std::string expiry = PeerExpiry(a);
  m.clock_ahead_s->store(61 * kDay);
  REQUIRE(Eventually([&] { return PeerExpiry(a) > expiry; }));
  CHECK(a.CaFingerprint().value() == fp);
  CHECK(m.EventsOf(kA, "certificate_renewed").size() == 1);

  m.clock_ahead_s->store(41 * 30 * kDay);
  REQUIRE(Eventually([&] { return a.CaFingerprint().value() != fp; }));
  REQUIRE(m.EventsOf(kA, "own_ca_created").size() == 1);
  CHECK(m.EventsOf(kA, "own_ca_created")[0]["reason"].get<std::string>().find("renewal date") !=
        std::string::npos);
  json st = StatusOf(a);
  CHECK(st["holds_ca_key"] == true);
  CHECK(TrustedCas(st) == std::set<std::string>{a.CaFingerprint().value()});
  // Still writable, and a member can join it with its new fingerprint.
  REQUIRE(a.Put("sessions", "k", "1", replication::Wait::kPrimary).ok());
  m.Close(kA);
  auto [secrets, certificates] = StoreOf(m.dirs[kA]);
  CHECK_FALSE(secrets.contains("ca_key:" + fp));
  CHECK_FALSE(certificates.contains("ca:" + fp));
}

}  // namespace
}  // namespace arraykit::node
