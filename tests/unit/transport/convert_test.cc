// The conversions of lib/transport/grpc/convert.h: every payload kind round-trips through the
// wire bytes with every field set, decoding refuses bad frames naming the field, and arraykit's
// status crosses a real gRPC call (an in-process server on a Unix socket) intact.
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/time/time.h"
#include "arraykit/v1/admin.grpc.pb.h"
#include "core/status.h"
#include "grpcpp/grpcpp.h"
#include "transport/grpc/convert.h"

namespace {

namespace v1 = arraykit::v1;
namespace failover = arraykit::failover;
namespace replication = arraykit::replication;
namespace model = arraykit::model;
namespace ops = arraykit::ops;
namespace node = arraykit::node;
using arraykit::ErrorCode;
using arraykit::GetErrorCode;
using arraykit::MakeError;
using arraykit::ReasonOf;
using arraykit::grpc_transport::DecodeFrame;
using arraykit::grpc_transport::EncodeFrame;
using arraykit::grpc_transport::FromGrpcStatus;
using arraykit::grpc_transport::ToGrpcStatus;
using arraykit::grpc_transport::WaitFromProto;
using arraykit::grpc_transport::WaitToProto;

// ---- fully populated values (no field at its default) -------------------------------------------

model::Resilience FullResilience() {
  model::Resilience r;
  r.failover_enabled = true;
  r.monitor_interval = absl::Microseconds(1500);  // sub-millisecond precision must survive
  r.monitor_attempts = 3;
  r.find_primary_interval = absl::Milliseconds(250);
  r.find_primary_attempts = 7;
  r.primary_return_action = model::PrimaryReturnAction::kAcceptSecondary;
  r.mode = model::ResilienceMode::kQuorum;
  r.failback_window = model::FailbackWindow{22 * 60 + 30, 5 * 60};
  return r;
}

failover::Formation FullFormation() {
  failover::Formation f;
  f.primary = "a.example.com";
  f.members = {"a.example.com", "b.example.com", "c.example.com"};
  f.backup_primaries = {"c.example.com", "b.example.com"};
  f.voters = {"a.example.com", "c.example.com"};
  f.resilience = FullResilience();
  f.version = 42;
  return f;
}

model::Member FullMember() {
  model::Member m;
  m.name = "d.example.com";
  m.roles = {true, true};
  m.rack = "rack-7";
  m.power = "feed-b";
  m.address = "127.0.0.4";
  m.address_static = false;
  m.version = "1.0.0";
  return m;
}

failover::Message FullFailover() {
  failover::Message m;
  m.type = failover::MessageType::kRecoveryProbeAck;
  m.to = "b.example.com";
  m.epoch = 9;
  m.id = 77;
  m.ok = true;
  m.version = 5;
  m.original_primary = "a.example.com";
  m.subject = "c.example.com";
  m.reason = "c.example.com unreachable for 3 s";
  m.voted_epoch = 10;
  m.follows_epoch = 11;
  m.log = {8, 1234};
  m.members = {"a.example.com", "b.example.com"};
  m.formation = std::make_shared<const failover::Formation>(FullFormation());
  return m;
}

replication::Entry MakeEntry(std::uint64_t index, replication::EntryKind kind, std::string key) {
  replication::Entry e;
  e.index = index;
  e.epoch = 3;
  e.chain = 0xdeadbeef00000000ULL + index;
  e.kind = kind;
  e.writer = "a.example.com";
  e.category = "sessions";
  e.key = std::move(key);
  e.value = R"({"user":"ana","n":1})";
  e.origin = "c.example.com@2.17";
  return e;
}

replication::Snapshot FullSnapshot() {
  replication::Snapshot s;
  replication::Record live{R"("v1")", false, 10, 2, "a.example.com", "b.example.com@1.4"};
  replication::Record tombstone{"", true, 11, 3, "b.example.com", ""};
  s.repository.records[{"sessions", "k1"}] = live;
  s.repository.records[{"password_cache", std::string("bin\xff\x00key", 8)}] = tombstone;
  s.repository.conflicts.push_back(replication::Conflict{12, "user_preferences", "theme",
                                                         R"("dark")", R"("light")", "c.example.com",
                                                         "c.example.com@2.9"});
  s.repository.applied_index = 12;
  s.repository.applied_chain = 0x1234567890abcdefULL;
  s.repository.applied_epoch = 3;
  return s;
}

replication::Message FullReplication() {
  replication::Message m;
  m.type = replication::MessageType::kCatchUpReply;
  m.to = "c.example.com";
  m.epoch = 4;
  m.id = 99;
  m.ok = true;
  m.reason = "behind by 3";
  m.prev_index = 7;
  m.prev_chain = 0xfeed;
  m.commit_index = 9;
  m.entries = {MakeEntry(8, replication::EntryKind::kPut, "k1"),
               MakeEntry(9, replication::EntryKind::kDelete, std::string("\xff\xfe", 2)),
               MakeEntry(10, replication::EntryKind::kConflict, "k3"),
               MakeEntry(11, replication::EntryKind::kBarrier, "")};
  m.entries[3].category = "";
  m.entries[3].value = "";
  m.match_index = 6;
  m.last_index = 11;
  m.applied_index = 9;
  m.last_epoch = 4;
  m.probes = {{11, 0xaa}, {10, 0xbb}, {8, 0xcc}};
  m.snapshot = std::make_shared<const replication::Snapshot>(FullSnapshot());
  m.voted_epoch = 4;
  return m;
}

ops::JoinHello FullHello() {
  return ops::JoinHello{"a.example.com",
                        "d.example.com",
                        "tok-123",
                        "1.0.0",
                        absl::FromUnixMillis(1764590000123),
                        6,
                        "-----BEGIN CERTIFICATE-----\n"};
}

ops::JoinReply FullReply() {
  ops::JoinReply r;
  r.joiner = "d.example.com";
  r.status = ops::WireStatus{1001, "clock_skew", "clocks differ by 75 s"};
  r.member = FullMember();
  r.clock = absl::FromUnixMillis(1764590000456);
  r.standalone = true;
  r.epoch = 11;
  r.csr_pem = "-----BEGIN CERTIFICATE REQUEST-----\n";
  return r;
}

ops::JoinAdmit FullAdmit() {
  return ops::JoinAdmit{"a.example.com",
                        "d.example.com",
                        FullFormation(),
                        12,
                        "-----BEGIN CERTIFICATE-----\nleaf",
                        "-----BEGIN CERTIFICATE-----\nca"};
}

// ---- comparisons where the core has no operator==
// -------------------------------------------------

void RequireEqual(const failover::Message& a, const failover::Message& b) {
  CHECK(a.type == b.type);
  CHECK(a.to == b.to);
  CHECK(a.epoch == b.epoch);
  CHECK(a.id == b.id);
  CHECK(a.ok == b.ok);
  CHECK(a.version == b.version);
  CHECK(a.original_primary == b.original_primary);
  CHECK(a.subject == b.subject);
  CHECK(a.reason == b.reason);
  CHECK(a.voted_epoch == b.voted_epoch);
  CHECK(a.follows_epoch == b.follows_epoch);
  CHECK(a.log == b.log);
  CHECK(a.members == b.members);
  REQUIRE((a.formation == nullptr) == (b.formation == nullptr));
  if (a.formation != nullptr) CHECK(*a.formation == *b.formation);
}

void RequireEqual(const replication::Message& a, const replication::Message& b) {
  CHECK(a.type == b.type);
  CHECK(a.to == b.to);
  CHECK(a.epoch == b.epoch);
  CHECK(a.id == b.id);
  CHECK(a.ok == b.ok);
  CHECK(a.reason == b.reason);
  CHECK(a.prev_index == b.prev_index);
  CHECK(a.prev_chain == b.prev_chain);
  CHECK(a.commit_index == b.commit_index);
  CHECK(a.entries == b.entries);
  CHECK(a.match_index == b.match_index);
  CHECK(a.last_index == b.last_index);
  CHECK(a.applied_index == b.applied_index);
  CHECK(a.last_epoch == b.last_epoch);
  CHECK(a.probes == b.probes);
  REQUIRE((a.snapshot == nullptr) == (b.snapshot == nullptr));
  if (a.snapshot != nullptr) CHECK(a.snapshot->repository == b.snapshot->repository);
  CHECK(a.voted_epoch == b.voted_epoch);
}

// Through the bytes: encode, serialize, parse, decode.
node::Payload RoundTrip(const node::Payload& payload, const std::string& to = "b.example.com") {
  absl::StatusOr<v1::PeerFrame> frame = EncodeFrame(to, payload);
  REQUIRE(frame.ok());
  CHECK(frame->to() == to);
  const std::string bytes = frame->SerializeAsString();
  v1::PeerFrame parsed;
  REQUIRE(parsed.ParseFromString(bytes));
  absl::StatusOr<node::Payload> decoded = DecodeFrame(parsed);
  INFO(decoded.status().ToString());
  REQUIRE(decoded.ok());
  REQUIRE(decoded->index() == payload.index());
  return *std::move(decoded);
}

// A frame of `payload` changed by `edit`, then decoded: must be refused naming `path`.
void RequireRefused(const node::Payload& payload, const std::function<void(v1::PeerFrame&)>& edit,
                    const std::string& path) {
  absl::StatusOr<v1::PeerFrame> frame = EncodeFrame("b.example.com", payload);
  REQUIRE(frame.ok());
  edit(*frame);
  v1::PeerFrame parsed;
  REQUIRE(parsed.ParseFromString(frame->SerializeAsString()));
  absl::StatusOr<node::Payload> decoded = DecodeFrame(parsed);
  INFO("path " << path << ": " << decoded.status().ToString());
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ReasonOf(decoded.status()) == "malformed_message");
  CHECK(std::string(decoded.status().message()).rfind(path + ": ", 0) == 0);
}

TEST_CASE("failover messages round-trip with every field and their formation") {
  const failover::Message sent = FullFailover();
  const node::Payload got = RoundTrip(sent, sent.to);
  RequireEqual(std::get<failover::Message>(got), sent);
  CHECK(std::get<failover::Message>(got).from.empty());  // the transport sets the sender

  failover::Message bare;  // no formation attached stays none; defaults stay defaults
  bare.type = failover::MessageType::kPrimaryTransfer;
  RequireEqual(std::get<failover::Message>(RoundTrip(bare, "")), bare);
}

TEST_CASE("every failover message type and replication type travels as its word") {
  for (int i = 0; i <= static_cast<int>(failover::MessageType::kPrimaryTransfer); ++i) {
    failover::Message m;
    m.type = static_cast<failover::MessageType>(i);
    CHECK(failover::ParseMessageType(failover::ToString(m.type)) == m.type);
    CHECK(std::get<failover::Message>(RoundTrip(m)).type == m.type);
  }
  for (int i = 0; i <= static_cast<int>(replication::MessageType::kHello); ++i) {
    replication::Message m;
    m.type = static_cast<replication::MessageType>(i);
    CHECK(replication::ParseMessageType(replication::ToString(m.type)) == m.type);
    CHECK(std::get<replication::Message>(RoundTrip(m)).type == m.type);
  }
  for (int i = 0; i <= static_cast<int>(replication::EntryKind::kBarrier); ++i) {
    const auto kind = static_cast<replication::EntryKind>(i);
    CHECK(replication::ParseEntryKind(replication::ToString(kind)) == kind);
  }
  CHECK_FALSE(failover::ParseMessageType("Probe").has_value());
  CHECK_FALSE(replication::ParseMessageType("unknown").has_value());
  CHECK_FALSE(replication::ParseEntryKind("").has_value());
}

TEST_CASE("replication messages round-trip: entries of every kind, probes, the snapshot") {
  const replication::Message sent = FullReplication();
  const node::Payload got = RoundTrip(sent, sent.to);
  const auto& message = std::get<replication::Message>(got);
  RequireEqual(message, sent);
  // Keys are any bytes (not UTF-8 here): they travel as proto bytes.
  CHECK(message.entries[1].key == std::string("\xff\xfe", 2));
  REQUIRE(message.snapshot != nullptr);
  CHECK(message.snapshot->repository.records.size() == 2);
  CHECK(message.snapshot->repository.Digest() == sent.snapshot->repository.Digest());

  replication::Message empty;  // no snapshot stays none
  RequireEqual(std::get<replication::Message>(RoundTrip(empty, empty.to)), empty);
}

TEST_CASE("join messages and the CSR exchange round-trip") {
  const ops::JoinHello hello = FullHello();
  const auto got_hello = std::get<ops::JoinHello>(RoundTrip(hello));
  CHECK(got_hello.primary == hello.primary);
  CHECK(got_hello.joiner == hello.joiner);
  CHECK(got_hello.token == hello.token);
  CHECK(got_hello.version == hello.version);
  CHECK(got_hello.clock == hello.clock);
  CHECK(got_hello.epoch == hello.epoch);
  CHECK(got_hello.ca_certificate_pem == hello.ca_certificate_pem);

  const ops::JoinReply reply = FullReply();
  const auto got_reply = std::get<ops::JoinReply>(RoundTrip(reply));
  CHECK(got_reply.joiner == reply.joiner);
  CHECK(got_reply.status == reply.status);
  CHECK(got_reply.member == reply.member);
  CHECK(got_reply.clock == reply.clock);
  CHECK(got_reply.standalone == reply.standalone);
  CHECK(got_reply.epoch == reply.epoch);
  CHECK(got_reply.csr_pem == reply.csr_pem);
  // The status keeps arraykit's code and reason through ops::FromWire.
  CHECK(GetErrorCode(ops::FromWire(got_reply.status)) == ErrorCode::kClockSkew);

  const ops::JoinAdmit admit = FullAdmit();
  const auto got_admit = std::get<ops::JoinAdmit>(RoundTrip(admit));
  CHECK(got_admit.primary == admit.primary);
  CHECK(got_admit.joiner == admit.joiner);
  CHECK(got_admit.formation == admit.formation);
  CHECK(got_admit.epoch == admit.epoch);
  CHECK(got_admit.certificate_pem == admit.certificate_pem);
  CHECK(got_admit.ca_certificate_pem == admit.ca_certificate_pem);

  const ops::JoinAdmitted admitted{"d.example.com", {9, "joiner_not_standalone", "has 2"}};
  const auto got_admitted = std::get<ops::JoinAdmitted>(RoundTrip(admitted));
  CHECK(got_admitted.joiner == admitted.joiner);
  CHECK(got_admitted.status == admitted.status);

  const node::CsrRequest csr{"-----BEGIN CERTIFICATE REQUEST-----\n", "AB:CD"};
  const auto got_csr = std::get<node::CsrRequest>(RoundTrip(csr));
  CHECK(got_csr.csr_pem == csr.csr_pem);
  CHECK(got_csr.ca_fingerprint == csr.ca_fingerprint);

  const node::CsrReply csr_reply{
      "AB:CD", "-----BEGIN CERTIFICATE-----\n", {1000, "not_primary", "b is primary"}};
  const auto got_csr_reply = std::get<node::CsrReply>(RoundTrip(csr_reply));
  CHECK(got_csr_reply.ca_fingerprint == csr_reply.ca_fingerprint);
  CHECK(got_csr_reply.certificate_pem == csr_reply.certificate_pem);
  CHECK(got_csr_reply.status == csr_reply.status);
}

TEST_CASE("times travel as unix milliseconds, intervals as microseconds") {
  ops::JoinHello hello = FullHello();
  hello.clock = absl::FromUnixMicros(1764590000123456);
  CHECK(std::get<ops::JoinHello>(RoundTrip(hello)).clock == absl::FromUnixMillis(1764590000123));
  hello.clock = absl::FromUnixMillis(-5);  // before 1970 keeps its sign
  CHECK(std::get<ops::JoinHello>(RoundTrip(hello)).clock == absl::FromUnixMillis(-5));

  ops::JoinAdmit admit = FullAdmit();
  admit.formation.resilience.monitor_interval = absl::Microseconds(1001);
  admit.formation.resilience.find_primary_interval = absl::Seconds(86400);
  admit.formation.resilience.failback_window.reset();
  CHECK(std::get<ops::JoinAdmit>(RoundTrip(admit)).formation == admit.formation);
}

TEST_CASE("a LinkError is never encoded") {
  const absl::StatusOr<v1::PeerFrame> frame =
      EncodeFrame("b.example.com", node::LinkError{"fingerprint_mismatch", "AB"});
  REQUIRE_FALSE(frame.ok());
  CHECK(frame.status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("decoding refuses bad frames naming the field") {
  const node::Payload failover_payload = FullFailover();
  const node::Payload replication_payload = FullReplication();
  const node::Payload reply_payload = FullReply();
  const node::Payload admit_payload = FullAdmit();

  RequireRefused(
      failover_payload, [](v1::PeerFrame& f) { f.clear_payload(); }, "payload");
  RequireRefused(
      failover_payload, [](v1::PeerFrame& f) { f.set_to(std::string(300, 'a')); }, "to");
  RequireRefused(
      failover_payload, [](v1::PeerFrame& f) { f.mutable_failover()->set_type("probes"); },
      "failover.type");
  RequireRefused(
      failover_payload,
      [](v1::PeerFrame& f) { f.mutable_failover()->set_reason(std::string(70000, 'r')); },
      "failover.reason");
  RequireRefused(
      failover_payload,
      [](v1::PeerFrame& f) {
        for (int i = 0; i < 40; ++i) f.mutable_failover()->add_members("x.example.com");
      },
      "failover.members");
  RequireRefused(
      failover_payload,
      [](v1::PeerFrame& f) {
        for (int i = 0; i < 30; ++i) {
          f.mutable_failover()->mutable_formation()->add_members("x.example.com");
        }
      },
      "failover.formation.members");
  RequireRefused(
      failover_payload,
      [](v1::PeerFrame& f) { f.mutable_failover()->mutable_formation()->clear_resilience(); },
      "failover.formation.resilience");

  const auto resilience = [](v1::PeerFrame& f) {
    return f.mutable_failover()->mutable_formation()->mutable_resilience();
  };
  RequireRefused(
      failover_payload, [&](v1::PeerFrame& f) { resilience(f)->set_monitor_interval_us(-1000); },
      "failover.formation.resilience.monitor_interval_us");
  RequireRefused(
      failover_payload, [&](v1::PeerFrame& f) { resilience(f)->set_find_primary_interval_us(0); },
      "failover.formation.resilience.find_primary_interval_us");
  RequireRefused(
      failover_payload,
      [&](v1::PeerFrame& f) { resilience(f)->set_find_primary_interval_us(86400000001); },
      "failover.formation.resilience.find_primary_interval_us");
  RequireRefused(
      failover_payload, [&](v1::PeerFrame& f) { resilience(f)->set_monitor_attempts(0); },
      "failover.formation.resilience.monitor_attempts");
  RequireRefused(
      failover_payload, [&](v1::PeerFrame& f) { resilience(f)->set_find_primary_attempts(1001); },
      "failover.formation.resilience.find_primary_attempts");
  RequireRefused(
      failover_payload,
      [&](v1::PeerFrame& f) { resilience(f)->set_primary_return_action("acept"); },
      "failover.formation.resilience.primary_return_action");
  RequireRefused(
      failover_payload, [&](v1::PeerFrame& f) { resilience(f)->set_mode("raft"); },
      "failover.formation.resilience.mode");
  RequireRefused(
      failover_payload,
      [&](v1::PeerFrame& f) { resilience(f)->mutable_failback_window()->set_end_minute(1440); },
      "failover.formation.resilience.failback_window.end_minute");
  RequireRefused(
      failover_payload,
      [&](v1::PeerFrame& f) { resilience(f)->mutable_failback_window()->set_start_minute(-1); },
      "failover.formation.resilience.failback_window.start_minute");

  const auto entry = [](v1::PeerFrame& f, int i) {
    return f.mutable_replication()->mutable_entries(i);
  };
  RequireRefused(
      replication_payload, [](v1::PeerFrame& f) { f.mutable_replication()->set_type("apend"); },
      "replication.type");
  RequireRefused(
      replication_payload, [&](v1::PeerFrame& f) { entry(f, 3)->set_kind("puts"); },
      "replication.entries[3].kind");
  RequireRefused(
      replication_payload,
      [&](v1::PeerFrame& f) {
        entry(f, 0)->set_key(std::string(replication::kMaxKeyBytes + 1, 'k'));
      },
      "replication.entries[0].key");
  RequireRefused(
      replication_payload,
      [&](v1::PeerFrame& f) {
        entry(f, 1)->set_value(std::string(replication::kMaxValueBytes + 1, '1'));
      },
      "replication.entries[1].value");
  RequireRefused(
      replication_payload, [&](v1::PeerFrame& f) { entry(f, 2)->set_category("secrets"); },
      "replication.entries[2].category");
  RequireRefused(
      replication_payload,
      [&](v1::PeerFrame& f) { entry(f, 0)->set_writer(std::string(255, 'w')); },
      "replication.entries[0].writer");
  RequireRefused(
      replication_payload,
      [](v1::PeerFrame& f) {
        for (int i = 0; i < 130; ++i) f.mutable_replication()->add_probes();
      },
      "replication.probes");
  RequireRefused(
      replication_payload,
      [](v1::PeerFrame& f) {
        v1::Snapshot* s = f.mutable_replication()->mutable_snapshot();
        *s->add_records() = s->records(0);  // the same (category, key) twice
      },
      "replication.snapshot.records[2].key");
  RequireRefused(
      replication_payload,
      [](v1::PeerFrame& f) {
        f.mutable_replication()->mutable_snapshot()->mutable_records(1)->set_category("x");
      },
      "replication.snapshot.records[1].category");
  RequireRefused(
      replication_payload,
      [](v1::PeerFrame& f) {
        f.mutable_replication()->mutable_snapshot()->mutable_conflicts(0)->set_lost_value(
            std::string(replication::kMaxValueBytes + 1, '2'));
      },
      "replication.snapshot.conflicts[0].lost_value");

  RequireRefused(
      reply_payload, [](v1::PeerFrame& f) { f.mutable_join_reply()->clear_member(); },
      "join_reply.member");
  RequireRefused(
      reply_payload, [](v1::PeerFrame& f) { f.mutable_join_reply()->clear_status(); },
      "join_reply.status");
  RequireRefused(
      reply_payload,
      [](v1::PeerFrame& f) { f.mutable_join_reply()->mutable_member()->set_roles(0, "middle"); },
      "join_reply.member.roles[0]");
  RequireRefused(
      reply_payload,
      [](v1::PeerFrame& f) { f.mutable_join_reply()->mutable_member()->set_roles(1, "frontend"); },
      "join_reply.member.roles[1]");
  RequireRefused(
      reply_payload,
      [](v1::PeerFrame& f) {
        f.mutable_join_reply()->mutable_member()->set_rack(std::string(257, 'r'));
      },
      "join_reply.member.rack");
  RequireRefused(
      reply_payload,
      [](v1::PeerFrame& f) { f.mutable_join_reply()->mutable_status()->set_code(77); },
      "join_reply.status.code");
  RequireRefused(
      reply_payload,
      [](v1::PeerFrame& f) { f.mutable_join_reply()->set_csr_pem(std::string(70000, 'c')); },
      "join_reply.csr_pem");
  RequireRefused(
      admit_payload, [](v1::PeerFrame& f) { f.mutable_join_admit()->clear_formation(); },
      "join_admit.formation");
  RequireRefused(
      node::Payload(ops::JoinAdmitted{"d.example.com", {}}),
      [](v1::PeerFrame& f) { f.mutable_join_admitted()->clear_status(); }, "join_admitted.status");
  RequireRefused(
      node::Payload(node::CsrReply{"AB", "pem", {}}),
      [](v1::PeerFrame& f) { f.mutable_csr_reply()->set_certificate_pem(std::string(70000, 'p')); },
      "csr_reply.certificate_pem");
  RequireRefused(
      node::Payload(FullHello()),
      [](v1::PeerFrame& f) { f.mutable_join_hello()->set_version(std::string(300, 'v')); },
      "join_hello.version");
}

TEST_CASE("the fuzz target's seed frames: valid ones decode, bad-* ones are refused") {
  std::size_t seen = 0;
  for (const auto& file : std::filesystem::directory_iterator(ARRAYKIT_PEER_FRAME_CORPUS)) {
    std::ifstream in(file.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    v1::PeerFrame frame;
    INFO(file.path().string());
    REQUIRE(frame.ParseFromString(bytes));
    const absl::StatusOr<node::Payload> decoded = DecodeFrame(frame);
    if (file.path().filename().string().rfind("bad-", 0) == 0) {
      CHECK(ReasonOf(decoded.status()) == "malformed_message");
    } else {
      CHECK(decoded.ok());
    }
    ++seen;
  }
  CHECK(seen >= 10);
}

TEST_CASE("admin wait words") {
  CHECK(WaitFromProto("", "wait").value() == replication::Wait::kPrimary);
  CHECK(WaitFromProto("primary", "wait").value() == replication::Wait::kPrimary);
  CHECK(WaitFromProto("all", "wait").value() == replication::Wait::kAll);
  for (replication::Wait wait : {replication::Wait::kPrimary, replication::Wait::kAll}) {
    CHECK(WaitFromProto(WaitToProto(wait), "wait").value() == wait);
  }
  const absl::StatusOr<replication::Wait> bad = WaitFromProto("ALL", "put.wait");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ReasonOf(bad.status()) == "invalid_value");
  CHECK(std::string(bad.status().message()).rfind("put.wait: ", 0) == 0);
}

// ---- status across a real gRPC call -------------------------------------------------------------

// Each Admin method used here answers with a fixed refusal through ToGrpcStatus.
class RefusingAdmin final : public v1::Admin::Service {
 public:
  ::grpc::Status Status(::grpc::ServerContext* context, const v1::Empty*, v1::Document*) override {
    return ToGrpcStatus(MakeError(ErrorCode::kNotPrimary, "b.example.com is the primary"), context);
  }
  ::grpc::Status Get(::grpc::ServerContext* context, const v1::KeyRequest*,
                     v1::Document*) override {
    return ToGrpcStatus(
        arraykit::MakeError(absl::StatusCode::kNotFound, "no_such_key", "sessions/k1: no such key"),
        context);
  }
  ::grpc::Status Detach(::grpc::ServerContext* context, const v1::Name*, v1::Empty*) override {
    return ToGrpcStatus(
        arraykit::WithReason(MakeError(ErrorCode::kBusy, "failover under way"), "recovery_running"),
        context);
  }
  ::grpc::Status CaFingerprint(::grpc::ServerContext* context, const v1::Empty*,
                               v1::Text*) override {
    return ToGrpcStatus(absl::OkStatus(), context);
  }
  ::grpc::Status Events(::grpc::ServerContext*, const v1::Empty*, v1::Document*) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return ::grpc::Status::OK;
  }
};

struct TempDirectory {
  TempDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ak-grpc-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

std::unique_ptr<::grpc::ClientContext> ContextWithDeadline(std::chrono::milliseconds timeout) {
  auto context = std::make_unique<::grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

TEST_CASE("arraykit's code and reason cross a gRPC call and are restored") {
  TempDirectory dir;
  const std::string address = "unix:" + dir.path + "/admin.sock";
  RefusingAdmin service;
  ::grpc::ServerBuilder builder;
  builder.AddListeningPort(address, ::grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<::grpc::Server> server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  auto stub =
      v1::Admin::NewStub(::grpc::CreateChannel(address, ::grpc::InsecureChannelCredentials()));

  {  // an arraykit code: 1000, not_primary, the message in the gRPC status
    auto context = ContextWithDeadline(std::chrono::seconds(10));
    v1::Document out;
    const ::grpc::Status status = stub->Status(context.get(), v1::Empty(), &out);
    CHECK(status.error_code() == ::grpc::StatusCode::FAILED_PRECONDITION);
    const auto& trailing = context->GetServerTrailingMetadata();
    REQUIRE(trailing.count("arraykit-code") == 1);
    CHECK(trailing.find("arraykit-code")->second == "1000");
    CHECK(trailing.find("arraykit-reason")->second == "not_primary");
    const absl::Status restored = FromGrpcStatus(status, *context);
    CHECK(GetErrorCode(restored) == ErrorCode::kNotPrimary);
    CHECK(restored.code() == absl::StatusCode::kFailedPrecondition);
    CHECK(ReasonOf(restored) == "not_primary");
    CHECK(restored.message() == "b.example.com is the primary");
  }
  {  // a canonical code with its own reason word
    auto context = ContextWithDeadline(std::chrono::seconds(10));
    v1::Document out;
    const absl::Status restored =
        FromGrpcStatus(stub->Get(context.get(), v1::KeyRequest(), &out), *context);
    CHECK(restored.code() == absl::StatusCode::kNotFound);
    CHECK_FALSE(GetErrorCode(restored).has_value());
    CHECK(ReasonOf(restored) == "no_such_key");
    CHECK(restored.message() == "sessions/k1: no such key");
  }
  {  // an arraykit code with a reason other than its word
    auto context = ContextWithDeadline(std::chrono::seconds(10));
    v1::Empty out;
    const absl::Status restored =
        FromGrpcStatus(stub->Detach(context.get(), v1::Name(), &out), *context);
    CHECK(GetErrorCode(restored) == ErrorCode::kBusy);
    CHECK(ReasonOf(restored) == "recovery_running");
  }
  {  // OK stays OK, with no metadata
    auto context = ContextWithDeadline(std::chrono::seconds(10));
    v1::Text out;
    const ::grpc::Status status = stub->CaFingerprint(context.get(), v1::Empty(), &out);
    CHECK(FromGrpcStatus(status, *context).ok());
    CHECK(context->GetServerTrailingMetadata().count("arraykit-code") == 0);
  }
  {  // a deadline that passes before the answer: gRPC's own status, no metadata
    auto context = ContextWithDeadline(std::chrono::milliseconds(50));
    v1::Document out;
    const absl::Status restored =
        FromGrpcStatus(stub->Events(context.get(), v1::Empty(), &out), *context);
    CHECK(restored.code() == absl::StatusCode::kDeadlineExceeded);
    CHECK(ReasonOf(restored) == "deadline_exceeded");
  }
  server->Shutdown();
}

TEST_CASE("a member nothing listens for is not_contactable") {
  TempDirectory dir;
  auto stub = v1::Admin::NewStub(::grpc::CreateChannel("unix:" + dir.path + "/nobody.sock",
                                                       ::grpc::InsecureChannelCredentials()));
  auto context = ContextWithDeadline(std::chrono::seconds(5));
  v1::Document out;
  const absl::Status restored =
      FromGrpcStatus(stub->Status(context.get(), v1::Empty(), &out), *context);
  CHECK(restored.code() == absl::StatusCode::kUnavailable);
  CHECK(ReasonOf(restored) == "not_contactable");
  CHECK_FALSE(restored.message().empty());
}

TEST_CASE("ToGrpcStatus without a context still maps the code and message") {
  const ::grpc::Status status =
      ToGrpcStatus(MakeError(ErrorCode::kFingerprintMismatch, "presented AB"), nullptr);
  CHECK(status.error_code() == ::grpc::StatusCode::PERMISSION_DENIED);
  CHECK(status.error_message() == "presented AB");
  CHECK(ToGrpcStatus(absl::OkStatus(), nullptr).ok());
}

}  // namespace
