#include "transport/grpc/peer_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "arraykit/v1/peer.grpc.pb.h"
#include "core/model/array.h"
#include "core/pki/pki.h"
#include "core/pki/truststore.h"
#include "core/pki/verify.h"
#include "core/status.h"
#include "grpc/grpc_security_constants.h"
#include "grpc/support/sync.h"
#include "grpcpp/channel.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/version_info.h"
#include "nlohmann/json.hpp"
#include "node/memory_network.h"
#include "transport/grpc/convert.h"

// gRPC 1.51 has no channel argument for a client's source address. Its socket mutator
// (GRPC_ARG_SOCKET_MUTATOR, set with ChannelArguments::SetSocketMutator) sees every client socket
// before connect(), so it can bind() it; the struct is defined only in gRPC's internal header
// src/core/lib/iomgr/socket_mutator.h, whose 1.51 layout is repeated here exactly. Older
// releases had another vtable, so any other version stops the build here rather than letting
// gRPC call through a wrong layout.
#if GRPC_CPP_VERSION_MAJOR != 1 || GRPC_CPP_VERSION_MINOR != 51
#error "grpc_socket_mutator's layout below is gRPC 1.51's: compare it with this version's src/core/lib/iomgr/socket_mutator.h, then widen this check"
#endif
typedef enum {
  GRPC_FD_CLIENT_CONNECTION_USAGE,
  GRPC_FD_SERVER_LISTENER_USAGE,
  GRPC_FD_SERVER_CONNECTION_USAGE,
} grpc_fd_usage;
typedef struct {
  int fd;
  grpc_fd_usage usage;
} grpc_mutate_socket_info;
struct grpc_socket_mutator_vtable {
  bool (*mutate_fd)(int fd, grpc_socket_mutator* mutator);
  int (*compare)(grpc_socket_mutator* a, grpc_socket_mutator* b);
  void (*destroy)(grpc_socket_mutator* mutator);
  bool (*mutate_fd_2)(const grpc_mutate_socket_info* info, grpc_socket_mutator* mutator);
};
struct grpc_socket_mutator {
  const grpc_socket_mutator_vtable* vtable;
  gpr_refcount refcount;
};

namespace arraykit::grpc_transport {
namespace {

using node::CanonicalName;
using node::Envelope;
using node::LinkError;
using node::LinkSecurity;
using node::Payload;

// ---- addresses ------------------------------------------------------------------------------

struct HostPort {
  std::string host;  // without brackets
  int port = 0;
};

std::optional<HostPort> SplitHostPort(const std::string& address) {
  std::size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return std::nullopt;
  }
  HostPort out;
  out.host = address.substr(0, colon);
  if (out.host.front() == '[') {
    if (out.host.size() < 3 || out.host.back() != ']') return std::nullopt;
    out.host = out.host.substr(1, out.host.size() - 2);
  } else if (out.host.find(':') != std::string::npos) {
    return std::nullopt;  // an IPv6 literal needs brackets
  }
  std::string port = address.substr(colon + 1);
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port, &out.port) || out.port > 65535) {
    return std::nullopt;
  }
  return out;
}

// ---- the client socket binder ----------------------------------------------------------------

struct SourceBinder {
  grpc_socket_mutator base;  // first: gRPC holds a pointer to it
  in_addr ip;
};

bool BindClientSocket(const grpc_mutate_socket_info* info, grpc_socket_mutator* mutator) {
  if (info->usage != GRPC_FD_CLIENT_CONNECTION_USAGE) return true;
  const auto* self = reinterpret_cast<const SourceBinder*>(mutator);
  int domain = 0;
  socklen_t length = sizeof domain;
  if (getsockopt(info->fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) != 0) return false;
  if (domain == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr = self->ip;
    return bind(info->fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  }
  if (domain == AF_INET6) {  // gRPC's dual-stack sockets reach IPv4 peers v4-mapped
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr.s6_addr[10] = 0xff;
    a.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&a.sin6_addr.s6_addr[12], &self->ip, 4);
    return bind(info->fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  }
  return true;
}
bool BindClientSocketLegacy(int, grpc_socket_mutator*) { return true; }
int CompareBinders(grpc_socket_mutator* a, grpc_socket_mutator* b) {
  std::uint32_t x = reinterpret_cast<SourceBinder*>(a)->ip.s_addr;
  std::uint32_t y = reinterpret_cast<SourceBinder*>(b)->ip.s_addr;
  return x < y ? -1 : (x > y ? 1 : 0);
}
void DestroyBinder(grpc_socket_mutator* mutator) {
  delete reinterpret_cast<SourceBinder*>(mutator);
}
const grpc_socket_mutator_vtable kSourceBinderVtable = {BindClientSocketLegacy, CompareBinders,
                                                        DestroyBinder, BindClientSocket};

// A new binder with one reference, which ChannelArguments::SetSocketMutator takes over.
grpc_socket_mutator* NewSourceBinder(in_addr ip) {
  auto* binder = new SourceBinder;
  binder->base.vtable = &kSourceBinderVtable;
  gpr_ref_init(&binder->base.refcount, 1);
  binder->ip = ip;
  return &binder->base;
}

// ---- certificates ---------------------------------------------------------------------------

// The PEM certificates of a chain, one block each (the crypto library parses each).
std::vector<std::string> SplitPemChain(std::string_view chain) {
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  std::vector<std::string> out;
  std::size_t at = 0;
  while (out.size() < 8) {  // a member presents its leaf and one CA; more is not ours
    std::size_t begin = chain.find(kBegin, at);
    if (begin == std::string_view::npos) break;
    std::size_t end = chain.find(kEnd, begin);
    if (end == std::string_view::npos) break;
    end += kEnd.size();
    out.emplace_back(chain.substr(begin, end - begin));
    at = end;
  }
  return out;
}

// The names a certificate claims: its SAN dNSNames, else its subject's CN.
std::vector<std::string> CertificateNames(const pki::CertificateInfo& info) {
  std::vector<std::string> names;
  for (const std::string& n : info.dns_names) names.push_back(CanonicalName(n));
  if (names.empty()) {
    std::size_t cn = info.subject.find("CN=");
    if (cn != std::string::npos) {
      std::size_t end = info.subject.find(',', cn);
      names.push_back(CanonicalName(info.subject.substr(
          cn + 3, end == std::string::npos ? std::string::npos : end - cn - 3)));
    }
  }
  return names;
}

// What this member's links are checked against: LinkSecurity, parsed once.
struct TrustState {
  pki::Truststore truststore;
  std::set<std::string> members;  // canonical
  std::vector<std::string> revoked_serials;
  bool standalone = true;
  // Peers that left the members at a recent Secure, until their farewell ends: this member may
  // still dial them to deliver its last frames (the primary's "you were detached"), and
  // takes nothing from them.
  std::map<std::string, std::chrono::steady_clock::time_point> departing;
};

// kDeparting: a server this member dials only for its farewell (TrustState::departing).
enum class Admission { kRefused, kMember, kJoinContact, kDeparting };
struct Verdict {
  Admission admission = Admission::kRefused;
  std::string name;    // canonical; the certificate's name ("" when unreadable)
  std::string reason;  // when refused: a pki reason word
  std::string message;
};

Verdict Refuse(std::string name, const pki::VerificationResult& result) {
  return Verdict{Admission::kRefused, std::move(name),
                 std::string(pki::ToString(result.reason.value_or(pki::RejectReason::kMalformed))),
                 result.message};
}

// The server's check of a client: a current member by exact name, verified against the trusted
// CAs as a client; or, on a standalone member, a join contact (a certificate of a CA this member
// does not trust, consistent with a CA in the chain it presented).
Verdict CheckClient(const TrustState& state, std::string_view leaf, std::string_view chain,
                    absl::Time now) {
  auto info = pki::InspectCertificate(leaf);
  if (!info.ok()) {
    return Verdict{Admission::kRefused, "", "malformed", std::string(info.status().message())};
  }
  std::vector<std::string> names = CertificateNames(*info);
  if (names.empty()) {
    return Verdict{Admission::kRefused, "", "name_mismatch", "the certificate names no peer"};
  }
  std::optional<Verdict> refusal;
  for (const std::string& name : names) {
    if (!state.members.contains(name)) continue;
    pki::VerifyOptions options{name, pki::Role::kClient, now, state.revoked_serials};
    pki::VerificationResult result = pki::VerifyPeerCertificate(leaf, state.truststore, options);
    if (result.valid) return Verdict{Admission::kMember, name, "", ""};
    refusal = Refuse(name, result);
    break;
  }
  if (state.standalone &&
      (!refusal.has_value() || refusal->reason == "untrusted_issuer")) {
    // A join contact: it must not chain to this member's own CAs (those name members only),
    // and must verify against a CA it presented itself.
    pki::VerifyOptions options{names.front(), pki::Role::kClient, now, state.revoked_serials};
    pki::VerificationResult own = pki::VerifyPeerCertificate(leaf, state.truststore, options);
    if (own.valid) {
      return Verdict{Admission::kRefused, names.front(), "name_mismatch",
                     absl::StrCat(names.front(), " is not a member of this array")};
    }
    pki::Truststore presented;
    for (const std::string& pem : SplitPemChain(chain)) presented.Add(pem).IgnoreError();
    pki::VerificationResult result = pki::VerifyPeerCertificate(leaf, presented, options);
    if (result.valid) return Verdict{Admission::kJoinContact, names.front(), "", ""};
    return Refuse(names.front(), result);
  }
  if (refusal.has_value()) return *refusal;
  return Verdict{Admission::kRefused, names.front(), "name_mismatch",
                 absl::StrCat(names.front(), " is not a member of this array")};
}

// The client's check of the server it dialed: exactly the member `expected`.
Verdict CheckServer(const TrustState& state, const std::string& expected, std::string_view leaf,
                    absl::Time now) {
  Admission admission = Admission::kMember;
  if (!state.members.contains(expected)) {
    auto departing = state.departing.find(expected);
    if (departing == state.departing.end() ||
        std::chrono::steady_clock::now() >= departing->second) {
      return Verdict{Admission::kRefused, expected, "name_mismatch",
                     absl::StrCat(expected, " is not a member of this array")};
    }
    admission = Admission::kDeparting;
  }
  pki::VerifyOptions options{expected, pki::Role::kServer, now, state.revoked_serials};
  pki::VerificationResult result = pki::VerifyPeerCertificate(leaf, state.truststore, options);
  if (!result.valid) return Refuse(expected, result);
  return Verdict{admission, expected, "", ""};
}

// The pinned check (SendPinned): the server's chain holds the CA with the expected fingerprint
// and its leaf verifies against that CA with the name dialed.
struct PinVerdict {
  Verdict verdict;
  bool fingerprint_mismatch = false;
  std::string presented_fingerprint;  // of the CA the server presented ("" : none)
};
PinVerdict CheckPinned(const std::string& expected_fingerprint, const std::string& expected,
                       const std::vector<std::string>& revoked, std::string_view leaf,
                       std::string_view chain, absl::Time now) {
  PinVerdict out;
  std::optional<std::string> pinned;
  for (const std::string& pem : SplitPemChain(chain)) {
    auto info = pki::InspectCertificate(pem);
    if (!info.ok() || !info->is_ca) continue;
    if (out.presented_fingerprint.empty()) out.presented_fingerprint = info->fingerprint_sha256;
    if (!expected_fingerprint.empty() && info->fingerprint_sha256 == expected_fingerprint) {
      out.presented_fingerprint = info->fingerprint_sha256;
      pinned = pem;
      break;
    }
  }
  if (!pinned.has_value()) {
    out.fingerprint_mismatch = true;
    out.verdict = Verdict{Admission::kRefused, expected, "fingerprint_mismatch",
                          absl::StrCat(expected, " presented the CA \"",
                                       out.presented_fingerprint, "\", not the one pinned (",
                                       expected_fingerprint, ")")};
    return out;
  }
  pki::Truststore truststore;
  if (auto added = truststore.Add(*pinned); !added.ok()) {
    out.verdict = Verdict{Admission::kRefused, expected, "malformed",
                          std::string(added.status().message())};
    return out;
  }
  pki::VerifyOptions options{expected, pki::Role::kServer, now, revoked};
  pki::VerificationResult result = pki::VerifyPeerCertificate(leaf, truststore, options);
  out.verdict = result.valid ? Verdict{Admission::kMember, expected, "", ""}
                             : Refuse(expected, result);
  return out;
}

// ---- state shared with the verifiers gRPC owns (they may outlive the transport) -------------

// The row of LinksJson that counts refusals of clients with no usable name (or beyond a bound).
constexpr std::string_view kOtherPeers = "*";

class Shared {
 public:
  explicit Shared(std::function<absl::Time()> clock) : clock_(std::move(clock)) {}

  std::shared_ptr<const TrustState> state() const {
    std::lock_guard lock(mu_);
    return state_;
  }
  void set_state(std::shared_ptr<const TrustState> state) {
    std::lock_guard lock(mu_);
    state_ = std::move(state);
  }
  absl::Time Now() const { return clock_ ? clock_() : absl::Now(); }

  // A handshake this member refused, by the peer's name. Names beyond a bound (a hostile
  // client can present any) are counted under "*".
  void RecordRefusal(const std::string& peer, const Verdict& verdict) {
    std::lock_guard lock(mu_);
    bool counted_apart = !peer.empty() && (refusals_.contains(peer) || refusals_.size() < 64);
    Refusals& r = refusals_[counted_apart ? peer : std::string(kOtherPeers)];
    ++r.count;
    r.last = absl::StrCat(verdict.reason, ": ", verdict.message);
  }
  struct Refusals {
    std::uint64_t count = 0;
    std::string last;
  };
  std::map<std::string, Refusals> refusals() const {
    std::lock_guard lock(mu_);
    return refusals_;
  }

 private:
  std::function<absl::Time()> clock_;
  mutable std::mutex mu_;
  std::shared_ptr<const TrustState> state_ = std::make_shared<TrustState>();
  std::map<std::string, Refusals> refusals_;
};

// Serials compare as pki prints them: upper-case hex, colons and leading zeros ignored.
std::string SerialKey(std::string_view serial) {
  std::string out;
  for (char c : serial) {
    if (c == ':') continue;
    if (out.empty() && c == '0') continue;
    out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  return out;
}
bool Revoked(std::string_view leaf, const std::vector<std::string>& revoked) {
  auto info = pki::InspectCertificate(leaf);
  if (!info.ok()) return false;
  std::string key = SerialKey(info->serial_hex);
  return std::any_of(revoked.begin(), revoked.end(),
                     [&](const std::string& r) { return SerialKey(r) == key; });
}

::grpc::Status Unauthenticated(const Verdict& verdict) {
  return ::grpc::Status(::grpc::StatusCode::UNAUTHENTICATED,
                        absl::StrCat(verdict.reason, ": ", verdict.message));
}

std::string ToString(::grpc::string_ref ref) { return std::string(ref.data(), ref.size()); }

class ServerVerifier final : public ::grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit ServerVerifier(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  bool Verify(::grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(::grpc::Status)>, ::grpc::Status* sync_status) override {
    Verdict verdict = CheckClient(*shared_->state(), ToString(request->peer_cert()),
                                  ToString(request->peer_cert_full_chain()), shared_->Now());
    if (verdict.admission == Admission::kRefused) {
      shared_->RecordRefusal(verdict.name, verdict);
      *sync_status = Unauthenticated(verdict);
    } else {
      *sync_status = ::grpc::Status::OK;
    }
    return true;  // decided synchronously
  }
  void Cancel(::grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  std::shared_ptr<Shared> shared_;
};

// What one dial's verifier saw: the certificate it accepted, or why it refused.
struct DialRecord {
  std::mutex mu;
  std::string leaf;
  Admission admission = Admission::kRefused;
  bool fingerprint_mismatch = false;
  std::string presented_fingerprint;
};

class ClientVerifier final : public ::grpc::experimental::ExternalCertificateVerifier {
 public:
  // `pinned_fingerprint` empty: a member link, checked against LinkSecurity.
  ClientVerifier(std::shared_ptr<Shared> shared, std::string expected,
                 std::optional<std::string> pinned_fingerprint,
                 std::shared_ptr<DialRecord> record)
      : shared_(std::move(shared)),
        expected_(std::move(expected)),
        pinned_(std::move(pinned_fingerprint)),
        record_(std::move(record)) {}
  bool Verify(::grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(::grpc::Status)>, ::grpc::Status* sync_status) override {
    std::string leaf = ToString(request->peer_cert());
    std::shared_ptr<const TrustState> state = shared_->state();
    Verdict verdict;
    if (pinned_.has_value()) {
      PinVerdict pin = CheckPinned(*pinned_, expected_, state->revoked_serials, leaf,
                                   ToString(request->peer_cert_full_chain()), shared_->Now());
      std::lock_guard lock(record_->mu);
      record_->fingerprint_mismatch = pin.fingerprint_mismatch;
      record_->presented_fingerprint = pin.presented_fingerprint;
      verdict = std::move(pin.verdict);
    } else {
      verdict = CheckServer(*state, expected_, leaf, shared_->Now());
    }
    if (verdict.admission == Admission::kRefused) {
      shared_->RecordRefusal(expected_, verdict);
      *sync_status = Unauthenticated(verdict);
    } else {
      std::lock_guard lock(record_->mu);
      record_->leaf = leaf;
      record_->admission = verdict.admission;
      *sync_status = ::grpc::Status::OK;
    }
    return true;
  }
  void Cancel(::grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  std::shared_ptr<Shared> shared_;
  std::string expected_;
  std::optional<std::string> pinned_;
  std::shared_ptr<DialRecord> record_;
};

// ---- the transport --------------------------------------------------------------------------

using Frame = v1::PeerFrame;

bool IsJoinContactReply(const Frame& frame) {
  return frame.payload_case() == Frame::kJoinReply ||
         frame.payload_case() == Frame::kJoinAdmitted;
}
bool IsJoinContactRequest(const Payload& payload) {
  return std::holds_alternative<ops::JoinHello>(payload) ||
         std::holds_alternative<ops::JoinAdmit>(payload);
}

// One stream to a peer, either direction. Fields other than the constants are guarded by the
// transport's mutex.
struct Stream {
  enum class Kind { kOutbound, kInbound, kPinned };
  Kind kind = Kind::kOutbound;
  std::string peer;           // canonical
  std::string peer_leaf;      // the certificate verified at the handshake
  std::string peer_chain;     // what the peer presented with it (inbound)
  std::string pinned_fingerprint;
  std::string remote;         // gRPC's peer address ("ipv4:127.0.0.2:41234") or the target
  bool join_only = false;     // an inbound join contact: only the join's frames pass
  bool done = false;
  // The peer is no longer admitted: its frames are rejected, this member's still go out until
  // the deadline, then the stream is closed.
  bool draining = false;
  std::chrono::steady_clock::time_point drain_deadline;
  std::deque<Frame> pinned_queue;  // a pinned stream's own frames
  std::uint64_t received = 0;
  std::function<void()> cancel;
  std::function<bool(const Frame&)> write;
  std::condition_variable wake;  // its writer (with mu_): a frame it may take, or a change
};
using StreamPtr = std::shared_ptr<Stream>;

// A stream that carries member traffic (not a pinned one, not a join contact) and is open.
bool IsMemberStream(const Stream& s) {
  return s.kind != Stream::Kind::kPinned && !s.join_only && !s.done;
}

struct Link {
  std::deque<Frame> queue;
  std::vector<StreamPtr> streams;
  LinkCounters counters;
  // Wakes this peer's dialer (with mu_); only while the peer has no member stream.
  std::condition_variable wake;
  bool dialer = false;

  // The one stream this member's frames to the peer go on: the first member stream opened.
  // With two open (both sides dialed at once), frames taken by both would overtake each other
  // and every overtaken append cost the replication a resend.
  Stream* carrier() const {
    for (const StreamPtr& s : streams) {
      if (IsMemberStream(*s)) return s.get();
    }
    return nullptr;
  }
};

class PeerTransport final : public node::Transport, public v1::Peer::Service {
 public:
  PeerTransport(PeerOptions options, std::string self, node::Receiver receiver)
      : options_(std::move(options)),
        self_(std::move(self)),
        canonical_self_(CanonicalName(self_)),
        receiver_(std::move(receiver)),
        shared_(std::make_shared<Shared>(options_.wall_clock)) {
    for (const auto& [name, address] : options_.peers) {
      addresses_[CanonicalName(name)] = address;
    }
    auto listen = SplitHostPort(options_.listen);
    in_addr ip{};
    if (options_.bind_client_to_listen_ip && listen.has_value() &&
        inet_pton(AF_INET, listen->host.c_str(), &ip) == 1 && ip.s_addr != INADDR_ANY) {
      source_ip_ = ip;
    }
    rechecker_ = std::thread([this] {
      while (Pause(options_.recheck_interval)) RecheckStreams(*shared_->state());
    });
  }
  ~PeerTransport() override { Close(); }

  const std::string& self() const override { return self_; }

  void Send(const std::string& to, Payload payload) override {
    std::string peer = CanonicalName(to);
    auto frame = EncodeFrame(to, payload);
    std::lock_guard lock(mu_);
    if (closed_) return;
    Link& link = links_[peer];
    if (!frame.ok()) {
      ++link.counters.dropped;
      return;
    }
    if (link.queue.size() >= options_.max_queued) {
      link.queue.pop_front();
      ++link.counters.dropped;
    }
    link.queue.push_back(*std::move(frame));
    StartDialerLocked(peer, link);
    // Only a writer that may take the frame is woken: the carrier, or a join contact for its
    // join's reply; with neither, the dialer.
    Stream* carrier = link.carrier();
    if (carrier != nullptr) carrier->wake.notify_one();
    if (IsJoinContactReply(link.queue.back())) {
      for (const StreamPtr& st : link.streams) {
        if (st->join_only) st->wake.notify_one();
      }
    }
    if (carrier == nullptr) link.wake.notify_all();
  }

  void SendPinned(const std::string& to, const std::string& expected_ca_fingerprint,
                  Payload payload) override {
    std::string peer = CanonicalName(to);
    auto frame = EncodeFrame(to, payload);
    auto expected = pki::NormalizeFingerprint(expected_ca_fingerprint);
    std::lock_guard lock(mu_);
    if (closed_) return;
    Link& link = links_[peer];
    if (!frame.ok()) {
      ++link.counters.dropped;
      return;
    }
    // A live pinned stream to the same CA carries it without a new handshake.
    for (const StreamPtr& s : link.streams) {
      if (s->kind == Stream::Kind::kPinned && !s->done && expected.ok() &&
          s->pinned_fingerprint == *expected) {
        s->pinned_queue.push_back(*std::move(frame));
        s->wake.notify_one();
        return;
      }
    }
    ReapFinishedLocked();
    auto done = std::make_shared<bool>(false);
    std::string fingerprint = expected.ok() ? *expected : std::string();
    helpers_.push_back(Helper{
        std::thread([this, peer, fingerprint, f = *std::move(frame), done]() mutable {
          RunPinned(peer, fingerprint, std::move(f));
          std::lock_guard lock(mu_);
          *done = true;
        }),
        done});
  }

  absl::Status Secure(const LinkSecurity& security) override {
    auto state = std::make_shared<TrustState>();
    if (!security.presented_ca_pem.empty()) {
      if (auto info = pki::InspectCertificate(security.presented_ca_pem); !info.ok()) {
        return MakeError(absl::StatusCode::kInvalidArgument, "malformed",
                         absl::StrCat("presented_ca_pem: ", info.status().message()));
      }
    }
    if (!security.certificate_pem.empty()) {
      if (auto info = pki::InspectCertificate(security.certificate_pem); !info.ok()) {
        return MakeError(absl::StatusCode::kInvalidArgument, "malformed",
                         absl::StrCat("certificate_pem: ", info.status().message()));
      }
      if (security.key_pem.empty()) {
        return MakeError(absl::StatusCode::kInvalidArgument, "malformed",
                         "key_pem: required with certificate_pem");
      }
    }
    for (std::size_t i = 0; i < security.trusted_ca_pems.size(); ++i) {
      if (auto added = state->truststore.Add(security.trusted_ca_pems[i]); !added.ok()) {
        return MakeError(absl::StatusCode::kInvalidArgument, "malformed",
                         absl::StrCat("trusted_ca_pems[", i, "]: ", added.status().message()));
      }
    }
    for (const std::string& m : security.members) state->members.insert(CanonicalName(m));
    state->members.erase(canonical_self_);
    state->revoked_serials = security.revoked_serials;
    state->standalone = security.standalone;

    std::lock_guard secure_lock(secure_mu_);
    {
      std::lock_guard lock(mu_);
      if (closed_) {
        return absl::FailedPreconditionError("the transport is closed");
      }
    }
    const auto now = std::chrono::steady_clock::now();
    std::shared_ptr<const TrustState> previous = shared_->state();
    for (const auto& [peer, until] : previous->departing) {
      if (now < until && !state->members.contains(peer)) state->departing.emplace(peer, until);
    }
    for (const std::string& peer : previous->members) {
      if (!state->members.contains(peer)) {
        state->departing[peer] = now + absl::ToChronoNanoseconds(options_.farewell);
      }
    }
    shared_->set_state(state);
    ReapRetiredServers();
    if (!security.certificate_pem.empty()) {
      if (absl::Status s = ApplyIdentity(IdentityOf(security)); !s.ok()) return s;
    }
    RecheckStreams(*state);
    return absl::OkStatus();
  }

  std::string LinksJson() const override {
    std::map<std::string, LinkCounters> rows;
    {
      std::lock_guard lock(mu_);
      for (const auto& [peer, link] : links_) {
        LinkCounters c = link.counters;
        c.peer = peer;
        c.queued = link.queue.size();
        for (const StreamPtr& s : link.streams) {
          if (!s->done) ++c.streams;
          if (s->kind != Stream::Kind::kPinned && !s->join_only && !s->done && !s->draining) {
            c.connected = true;
            c.remote = s->remote;
          }
          c.queued += s->pinned_queue.size();
        }
        rows[peer] = std::move(c);
      }
    }
    for (const auto& [peer, refusals] : shared_->refusals()) {
      LinkCounters& c = rows[peer];
      c.peer = peer;
      c.refused = refusals.count;
      c.last_refusal = refusals.last;
    }
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [peer, c] : rows) {
      out.push_back({{"peer", c.peer},
                     {"connected", c.connected},
                     {"sent", c.sent},
                     {"received", c.received},
                     {"dropped", c.dropped},
                     {"rejected", c.rejected},
                     {"refused", c.refused},
                     {"last_refusal", c.last_refusal},
                     {"queued", c.queued},
                     {"streams", c.streams},
                     {"remote", c.remote}});
    }
    return out.dump();
  }

  void Close() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      for (auto& [peer, link] : links_) {
        for (const StreamPtr& s : link.streams) s->cancel();
      }
      for (auto& [peer, thread] : dialers_) threads.push_back(std::move(thread));
      threads.push_back(std::move(rechecker_));
      for (Helper& h : helpers_) threads.push_back(std::move(h.thread));
      helpers_.clear();
      WakeAllLocked();
    }
    {
      std::lock_guard secure_lock(secure_mu_);
      if (server_) server_->Shutdown(std::chrono::system_clock::now());
      // Retired listeners end their streams (cancelled above) and return.
      for (RetiredServer& r : retired_) threads.push_back(std::move(r.thread));
      retired_.clear();
    }
    for (std::thread& t : threads) t.join();
    std::lock_guard lock(deliver_mu_);  // a delivery in progress has returned
    delivering_closed_ = true;
  }

  // ---- arraykit.v1.Peer ----------------------------------------------------------------------

  ::grpc::Status Exchange(::grpc::ServerContext* context,
                          ::grpc::ServerReaderWriter<Frame, Frame>* stream) override {
    std::string leaf, chain;
    if (auto auth = context->auth_context()) {
      auto certs = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
      if (!certs.empty()) leaf = ToString(certs.front());
      auto chains = auth->FindPropertyValues(GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME);
      if (!chains.empty()) chain = ToString(chains.front());
    }
    // Membership may have changed since the handshake: checked again.
    Verdict verdict = CheckClient(*shared_->state(), leaf, chain, shared_->Now());
    if (verdict.admission == Admission::kRefused) {
      shared_->RecordRefusal(verdict.name, verdict);
      return Unauthenticated(verdict);
    }
    auto s = std::make_shared<Stream>();
    s->kind = Stream::Kind::kInbound;
    s->peer = verdict.name;
    s->peer_leaf = std::move(leaf);
    s->peer_chain = std::move(chain);
    s->join_only = verdict.admission == Admission::kJoinContact;
    s->remote = context->peer();
    s->cancel = [context] { context->TryCancel(); };
    s->write = [stream](const Frame& f) { return stream->Write(f); };
    if (!Register(s)) return ::grpc::Status(::grpc::StatusCode::UNAVAILABLE, "closing");
    std::thread writer([this, s] { WriteLoop(s); });
    Frame frame;
    while (stream->Read(&frame)) HandleInbound(*s, frame);
    Unregister(s);
    writer.join();
    return ::grpc::Status::OK;
  }

 private:
  struct Helper {
    std::thread thread;
    std::shared_ptr<bool> done;
  };

  // ---- identity and server ---------------------------------------------------------------------

  // The identity this member presents (leaf + the CA it presents, pinned senders check it)
  // and the roots, from LinkSecurity.
  struct Identity {
    std::string key, chain, roots;
  };
  static Identity IdentityOf(const LinkSecurity& security) {
    Identity id;
    id.chain = security.certificate_pem;
    if (!id.chain.empty() && id.chain.back() != '\n') id.chain.push_back('\n');
    id.chain += security.presented_ca_pem;
    for (const std::string& pem : security.trusted_ca_pems) {
      id.roots += pem;
      if (!id.roots.empty() && id.roots.back() != '\n') id.roots.push_back('\n');
    }
    if (id.roots.empty()) id.roots = security.presented_ca_pem;
    if (id.roots.empty()) id.roots = security.certificate_pem;
    id.key = std::string(security.key_pem.view());
    return id;
  }

  static std::shared_ptr<::grpc::experimental::CertificateProviderInterface> Provider(
      const Identity& id) {
    std::vector<::grpc::experimental::IdentityKeyCertPair> pairs = {{id.key, id.chain}};
    return std::make_shared<::grpc::experimental::StaticDataCertificateProvider>(id.roots,
                                                                                 pairs);
  }

  // Connections this member dials present a new identity at once (each dial makes its own
  // channel). The listener's credentials are fixed when it starts, so a new identity starts a
  // new listener on the same address (SO_REUSEPORT) and retires the old one: it accepts no
  // more connections, its open streams go on for `farewell`, then it is shut down.
  // Needs secure_mu_.
  absl::Status ApplyIdentity(const Identity& id) {
    {
      std::lock_guard lock(mu_);
      client_provider_ = Provider(id);
      WakeAllLocked();
    }
    const std::string summary = absl::StrCat(id.key, id.chain);
    if (server_ && summary == server_identity_) return absl::OkStatus();
    auto started = StartServer(id);
    if (!started.ok()) return started.status();
    if (server_) {
      auto done = std::make_shared<std::atomic<bool>>(false);
      auto deadline = std::chrono::system_clock::now() +
                      absl::ToChronoNanoseconds(options_.farewell);
      retired_.push_back(RetiredServer{
          std::thread([old = std::shared_ptr<::grpc::Server>(std::move(server_)), deadline,
                       done] {
            old->Shutdown(deadline);
            *done = true;
          }),
          done});
    }
    server_ = *std::move(started);
    server_identity_ = summary;
    return absl::OkStatus();
  }

  // Joins the retired listeners whose shutdown finished. Needs secure_mu_.
  void ReapRetiredServers() {
    for (auto it = retired_.begin(); it != retired_.end();) {
      if (*it->done) {
        it->thread.join();
        it = retired_.erase(it);
      } else {
        ++it;
      }
    }
  }

  absl::StatusOr<std::unique_ptr<::grpc::Server>> StartServer(const Identity& id) {
    ::grpc::experimental::TlsServerCredentialsOptions tls(Provider(id));
    tls.watch_identity_key_cert_pairs();
    tls.watch_root_certs();
    // gRPC's own chain check is replaced by the verifier (join contacts chain to no trusted CA);
    // the TLS handshake still proves the client holds its certificate's key.
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
    tls.set_certificate_verifier(
        ::grpc::experimental::ExternalCertificateVerifier::Create<ServerVerifier>(shared_));
    tls.set_check_call_host(false);
    ::grpc::ServerBuilder builder;
    // A listener that replaces another binds the port the first one got (listen may say 0).
    std::string address = options_.listen;
    if (bound_port_ != 0) {
      auto hp = SplitHostPort(options_.listen);
      address = hp->host.find(':') != std::string::npos
                    ? absl::StrCat("[", hp->host, "]:", bound_port_)
                    : absl::StrCat(hp->host, ":", bound_port_);
    }
    int port = 0;
    builder.AddListeningPort(address, ::grpc::experimental::TlsServerCredentials(tls), &port);
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 1);
    builder.RegisterService(this);
    // A snapshot carries a member's whole repository in one frame: no 4 MB cap.
    builder.SetMaxReceiveMessageSize(-1);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(options_.keepalive_time));
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                               Millis(options_.keepalive_timeout));
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                               Millis(options_.keepalive_time) / 2);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    std::unique_ptr<::grpc::Server> server = builder.BuildAndStart();
    if (!server || port == 0) {
      return MakeError(absl::StatusCode::kUnavailable, "listen_failed",
                       absl::StrCat("listen: cannot listen on ", address,
                                    " (address in use, or not an address of this host)"));
    }
    bound_port_ = port;
    return server;
  }

  static int Millis(absl::Duration d) {
    return static_cast<int>(std::min<std::int64_t>(absl::ToInt64Milliseconds(d), 1 << 30));
  }

  // Closes the streams whose peer is no longer admitted, and the join contacts once this member
  // is in an array: the primary cannot verify this member on such a stream (it dialed the
  // member's old identity, pinned), so member traffic goes on a stream this member dials with
  // its new certificate, which the primary admits at once.
  void RecheckStreams(const TrustState& state) {
    absl::Time now = shared_->Now();
    std::lock_guard lock(mu_);
    for (auto& [peer, link] : links_) {
      for (const StreamPtr& s : link.streams) {
        if (s->draining) {
          // Its farewell ends at its deadline, unless the peer is a member again: then it is
          // closed so that a stream checked with the current certificates replaces it.
          if (state.members.contains(s->peer)) s->cancel();
          continue;
        }
        bool keep = true;
        if (s->kind == Stream::Kind::kOutbound) {
          keep = CheckServer(state, s->peer, s->peer_leaf, now).admission == Admission::kMember;
        } else if (s->kind == Stream::Kind::kInbound) {
          Verdict v = CheckClient(state, s->peer_leaf, s->peer_chain, now);
          // A join contact ends with the join: this member is in an array now.
          keep = s->join_only ? state.standalone && v.admission != Admission::kRefused &&
                                    v.name == s->peer
                              : v.admission == Admission::kMember && v.name == s->peer;
        } else {
          // A pinned link was authenticated by the pin: only a revocation ends it.
          keep = !Revoked(s->peer_leaf, state.revoked_serials);
        }
        if (keep) continue;
        // A join contact of a member that joined: its last join reply (JoinAdmitted) still
        // goes out on it during `farewell`.
        const bool joined = s->join_only && !state.standalone;
        if (!joined && (s->kind == Stream::Kind::kPinned || s->join_only ||
                        state.members.contains(s->peer))) {
          // A member whose stream was verified with a certificate no longer good (a CA
          // retired, a serial revoked after a reissue) redials at once with its current one.
          s->cancel();
        } else {
          // A peer that left: nothing more is taken from it at once; what this member still
          // sends it for `farewell` goes out (the primary's word that it was detached), then
          // the stream is closed.
          s->draining = true;
          s->drain_deadline =
              std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(options_.farewell);
        }
      }
    }
    WakeAllLocked();
  }

  // ---- streams ---------------------------------------------------------------------------------

  bool Register(const StreamPtr& s) {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    links_[s->peer].streams.push_back(s);
    WakeAllLocked();
    return true;
  }

  void Unregister(const StreamPtr& s) {
    std::lock_guard lock(mu_);
    s->done = true;
    s->cancel();
    Link& link = links_[s->peer];
    link.streams.erase(std::remove(link.streams.begin(), link.streams.end(), s),
                       link.streams.end());
    s->wake.notify_all();  // its writer returns
    // A pinned stream's frames that were never written are lost with it.
    link.counters.dropped += s->pinned_queue.size();
    s->pinned_queue.clear();
    WakeAllLocked();
  }

  // The next frame `s` may write, taken from its queue; nullopt when none. Needs mu_.
  std::optional<Frame> TakeFrameLocked(Stream& s, Link& link) {
    if (s.kind == Stream::Kind::kPinned) {
      if (s.pinned_queue.empty()) return std::nullopt;
      Frame f = std::move(s.pinned_queue.front());
      s.pinned_queue.pop_front();
      return f;
    }
    if (!s.join_only && link.carrier() != &s) return std::nullopt;
    for (auto it = link.queue.begin(); it != link.queue.end(); ++it) {
      if (s.join_only && !IsJoinContactReply(*it)) continue;
      // A join reply to a peer that left goes on the new join contact, not the old stream.
      if (s.draining && !s.join_only && IsJoinContactReply(*it)) continue;
      Frame f = std::move(*it);
      link.queue.erase(it);
      return f;
    }
    return std::nullopt;
  }

  void WriteLoop(const StreamPtr& s) {
    std::unique_lock lock(mu_);
    while (true) {
      std::optional<Frame> frame;
      while (true) {
        if (s->done || closed_) return;
        if (s->draining && std::chrono::steady_clock::now() >= s->drain_deadline) {
          s->cancel();  // the farewell is over
          return;
        }
        frame = TakeFrameLocked(*s, links_[s->peer]);
        if (frame.has_value()) break;
        if (s->draining) {
          s->wake.wait_until(lock, s->drain_deadline);
        } else {
          s->wake.wait(lock);
        }
      }
      lock.unlock();
      bool ok = s->write(*frame);
      lock.lock();
      Link& link = links_[s->peer];
      if (ok) {
        ++link.counters.sent;
      } else {
        ++link.counters.dropped;
        s->cancel();
        return;
      }
    }
  }

  void HandleInbound(Stream& s, const Frame& frame) {
    auto reject = [&] {
      std::lock_guard lock(mu_);
      ++links_[s.peer].counters.rejected;
    };
    if (CanonicalName(frame.to()) != canonical_self_) return reject();
    auto payload = DecodeFrame(frame);
    if (!payload.ok()) return reject();
    {
      std::lock_guard lock(mu_);
      if (s.draining || (s.join_only && !IsJoinContactRequest(*payload))) {
        ++links_[s.peer].counters.rejected;
        return;
      }
      ++links_[s.peer].counters.received;
      ++s.received;
    }
    Deliver(Envelope{s.peer, self_, *std::move(payload)});
  }

  void Deliver(Envelope envelope) {
    std::lock_guard lock(deliver_mu_);
    if (delivering_closed_) return;
    {
      std::lock_guard state_lock(mu_);
      if (closed_) return;
    }
    receiver_(std::move(envelope));
  }

  // ---- dialing ---------------------------------------------------------------------------------

  void StartDialerLocked(const std::string& peer, Link& link) {
    if (link.dialer || !addresses_.contains(peer)) return;
    link.dialer = true;
    dialers_[peer] = std::thread([this, peer] { RunDialer(peer); });
  }

  // A fresh channel for one connection attempt (its own subchannel, so the attempt and its
  // verifier's record are this dial's alone).
  std::shared_ptr<::grpc::Channel> MakeChannel(
      const std::string& peer, const std::string& address,
      std::shared_ptr<::grpc::experimental::CertificateVerifier> verifier) {
    ::grpc::experimental::TlsChannelCredentialsOptions tls;
    {
      std::lock_guard lock(mu_);
      tls.set_certificate_provider(client_provider_);
    }
    tls.watch_identity_key_cert_pairs();
    tls.watch_root_certs();
    tls.set_verify_server_certs(false);  // the verifier checks the chain, name and revocation
    tls.set_certificate_verifier(std::move(verifier));
    tls.set_check_call_host(false);
    ::grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(-1);
    args.SetSslTargetNameOverride(peer);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, Millis(options_.reconnect_min));
    // gRPC 1.51 also takes MIN_RECONNECT_BACKOFF as the shortest a connection attempt (TCP
    // connect + TLS handshake) may last: the handshake timeout, not the redial interval.
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, Millis(options_.handshake_timeout));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, Millis(options_.reconnect_max));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(options_.keepalive_time));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Millis(options_.keepalive_timeout));
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    if (source_ip_.has_value()) args.SetSocketMutator(NewSourceBinder(*source_ip_));
    return ::grpc::CreateCustomChannel(address, ::grpc::experimental::TlsCredentials(tls), args);
  }

  // Waits until the channel is connected (true), or its attempt failed, timed out or the
  // transport closed (false).
  bool WaitConnected(::grpc::Channel& channel) {
    absl::Time deadline = absl::Now() + options_.handshake_timeout;
    grpc_connectivity_state state = channel.GetState(true);
    while (true) {
      if (state == GRPC_CHANNEL_READY) return true;
      if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) return false;
      {
        std::lock_guard lock(mu_);
        if (closed_) return false;
      }
      absl::Time now = absl::Now();
      if (now >= deadline) return false;
      absl::Time step = std::min(deadline, now + absl::Milliseconds(50));
      if (channel.WaitForStateChange(state, absl::ToChronoTime(step))) {
        state = channel.GetState(true);
      }
    }
  }

  // A current member, or one whose farewell is not over (a Secure wakes the dialers).
  bool Dialable(const std::string& peer) const {
    std::shared_ptr<const TrustState> state = shared_->state();
    if (state->members.contains(peer)) return true;
    auto departing = state->departing.find(peer);
    return departing != state->departing.end() &&
           std::chrono::steady_clock::now() < departing->second;
  }

  // Every waiter: the writers (their streams' wakes), the dialers (their links') and Pause
  // (changed_). With mu_.
  void WakeAllLocked() {
    changed_.notify_all();
    for (auto& [peer, link] : links_) {
      link.wake.notify_all();
      for (const StreamPtr& s : link.streams) s->wake.notify_all();
    }
  }

  // Sleeps `d` unless the transport closes first; false when closed.
  bool Pause(absl::Duration d) {
    std::unique_lock lock(mu_);
    return !changed_.wait_for(lock, absl::ToChronoNanoseconds(d), [&] { return closed_; });
  }

  // The dialer of one peer: while there is something to send and no member stream to the peer,
  // dial it; run the stream; redial with backoff.
  void RunDialer(const std::string& peer) {
    const std::string address = addresses_.at(peer);
    absl::Duration backoff = options_.reconnect_min;
    while (true) {
      {
        std::unique_lock lock(mu_);
        links_[peer].wake.wait(lock, [&] {
          if (closed_) return true;
          const Link& link = links_[peer];
          return !link.queue.empty() && client_provider_ != nullptr && Dialable(peer) &&
                 link.carrier() == nullptr;
        });
        if (closed_) return;
      }
      auto record = std::make_shared<DialRecord>();
      auto channel = MakeChannel(
          peer, address,
          ::grpc::experimental::ExternalCertificateVerifier::Create<ClientVerifier>(
              shared_, peer, std::nullopt, record));
      bool productive = false;
      if (WaitConnected(*channel)) {
        auto s = std::make_shared<Stream>();
        s->kind = Stream::Kind::kOutbound;
        s->peer = peer;
        s->remote = address;
        Admission admission;
        {
          std::lock_guard lock(record->mu);
          s->peer_leaf = record->leaf;
          admission = record->admission;
        }
        if (admission == Admission::kDeparting) {
          // Dialed for the farewell only: this member's last frames go out, none come in.
          auto departing = shared_->state()->departing;
          auto until = departing.find(peer);
          if (until == departing.end()) continue;
          s->draining = true;
          s->drain_deadline = until->second;
        }
        absl::Time started = absl::Now();
        RunClientStream(channel, s);
        productive = s->received > 0 || absl::Now() - started > options_.reconnect_max;
      }
      if (productive) backoff = options_.reconnect_min;
      if (!Pause(backoff)) return;
      if (!productive) backoff = std::min(backoff * 2, options_.reconnect_max);
    }
  }

  // Runs an outbound stream on a connected channel until it ends.
  void RunClientStream(const std::shared_ptr<::grpc::Channel>& channel, const StreamPtr& s) {
    auto stub = v1::Peer::NewStub(channel);
    ::grpc::ClientContext context;
    std::unique_ptr<::grpc::ClientReaderWriter<Frame, Frame>> stream = stub->Exchange(&context);
    s->cancel = [&context] { context.TryCancel(); };
    s->write = [&stream](const Frame& f) { return stream->Write(f); };
    if (!Register(s)) {
      context.TryCancel();
      stream->Finish();
      return;
    }
    std::thread writer([this, s] { WriteLoop(s); });
    Frame frame;
    while (stream->Read(&frame)) HandleInbound(*s, frame);
    Unregister(s);
    writer.join();
    stream->Finish();
  }

  void RunPinned(const std::string& peer, const std::string& fingerprint, Frame frame) {
    LinkError error{"not_contactable", ""};
    auto address = addresses_.find(peer);
    bool sent = false;
    if (address != addresses_.end() && HasIdentity()) {
      auto record = std::make_shared<DialRecord>();
      auto channel = MakeChannel(
          peer, address->second,
          ::grpc::experimental::ExternalCertificateVerifier::Create<ClientVerifier>(
              shared_, peer, fingerprint, record));
      if (WaitConnected(*channel)) {
        auto s = std::make_shared<Stream>();
        s->kind = Stream::Kind::kPinned;
        s->peer = peer;
        s->pinned_fingerprint = fingerprint;
        s->pinned_queue.push_back(std::move(frame));
        {
          std::lock_guard lock(record->mu);
          s->peer_leaf = record->leaf;
        }
        RunClientStream(channel, s);
        // Nothing came back: the target took the handshake from its side, then refused this
        // member's certificate (TLS 1.3 tells the client only by closing).
        if (s->received > 0) {
          sent = true;
        } else {
          error = LinkError{"contact_refused", ""};
        }
      } else {
        std::lock_guard lock(record->mu);
        if (record->fingerprint_mismatch) {
          error = LinkError{"fingerprint_mismatch", record->presented_fingerprint};
        } else if (!record->leaf.empty()) {
          // The target's certificate was the expected one, yet the connection never came up:
          // the target refused this member's certificate.
          error = LinkError{"contact_refused", ""};
        }
      }
    }
    if (!sent) {
      {
        std::lock_guard lock(mu_);
        ++links_[peer].counters.dropped;
      }
      Deliver(Envelope{peer, self_, std::move(error)});
    }
  }

  bool HasIdentity() {
    std::lock_guard lock(mu_);
    return client_provider_ != nullptr;
  }

  // Joins the pinned senders that finished. Needs mu_ (their last step takes it, so a done
  // flag seen here means the thread is about to return).
  void ReapFinishedLocked() {
    for (auto it = helpers_.begin(); it != helpers_.end();) {
      if (*it->done) {
        it->thread.join();  // it released mu_ for good and is returning
        it = helpers_.erase(it);
      } else {
        ++it;
      }
    }
  }

  const PeerOptions options_;
  const std::string self_;
  const std::string canonical_self_;
  const node::Receiver receiver_;
  const std::shared_ptr<Shared> shared_;
  std::map<std::string, std::string> addresses_;  // canonical name -> host:port
  std::optional<in_addr> source_ip_;

  std::mutex secure_mu_;  // Secure and the listeners' lifetime
  std::unique_ptr<::grpc::Server> server_;  // the listener presenting the current identity
  std::string server_identity_;             // its key and chain
  int bound_port_ = 0;
  struct RetiredServer {
    std::thread thread;  // shuts the listener down after the farewell
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<RetiredServer> retired_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  bool closed_ = false;
  // The identity and roots of the connections this member dials ("" until the first Secure
  // with a certificate).
  std::shared_ptr<::grpc::experimental::CertificateProviderInterface> client_provider_;
  std::map<std::string, Link> links_;  // canonical peer name -> link
  std::map<std::string, std::thread> dialers_;
  std::thread rechecker_;
  std::vector<Helper> helpers_;

  std::mutex deliver_mu_;  // one receiver call at a time
  bool delivering_closed_ = false;
};

}  // namespace

absl::Status ValidatePeerOptions(const PeerOptions& options) {
  auto invalid = [](std::string message) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_value", message);
  };
  if (!SplitHostPort(options.listen).has_value()) {
    return invalid(absl::StrCat("listen: \"", options.listen,
                                "\" is not host:port (e.g. 127.0.0.2:5427)"));
  }
  for (const auto& [name, address] : options.peers) {
    if (std::string problem = model::PeerNameProblem(name); !problem.empty()) {
      return MakeError(absl::StatusCode::kInvalidArgument, "name_not_fqdn",
                       absl::StrCat("peers: \"", name,
                                    "\" is not a fully qualified peer DNS name: ", problem));
    }
    auto hp = SplitHostPort(address);
    if (!hp.has_value() || hp->port == 0) {
      return invalid(absl::StrCat("peers.", name, ": \"", address,
                                  "\" is not host:port with a port (e.g. 127.0.0.3:5427)"));
    }
  }
  if (options.max_queued == 0) return invalid("max_queued: must be at least 1");
  if (options.reconnect_min <= absl::ZeroDuration() ||
      options.reconnect_max < options.reconnect_min) {
    return invalid("reconnect_min, reconnect_max: 0 < reconnect_min <= reconnect_max");
  }
  if (options.handshake_timeout <= absl::ZeroDuration()) {
    return invalid("handshake_timeout: must be positive");
  }
  if (options.recheck_interval <= absl::ZeroDuration()) {
    return invalid("recheck_interval: must be positive");
  }
  if (options.farewell < absl::ZeroDuration()) return invalid("farewell: must not be negative");
  if (options.keepalive_time <= absl::ZeroDuration() ||
      options.keepalive_timeout <= absl::ZeroDuration()) {
    return invalid("keepalive_time, keepalive_timeout: must be positive");
  }
  return absl::OkStatus();
}

node::AttachFn AttachGrpc(PeerOptions options) {
  return [options = std::move(options)](
             const std::string& name, node::Receiver receiver,
             const std::string& presented_ca_pem)
             -> absl::StatusOr<std::unique_ptr<node::Transport>> {
    if (absl::Status s = ValidatePeerOptions(options); !s.ok()) return s;
    auto self = model::NormalizePeerName(name, "name");
    if (!self.ok()) return self.status();
    if (!receiver) return absl::InvalidArgumentError("receiver: required");
    if (!presented_ca_pem.empty()) {
      if (auto info = pki::InspectCertificate(presented_ca_pem); !info.ok()) {
        return MakeError(absl::StatusCode::kInvalidArgument, "malformed",
                         absl::StrCat("presented CA certificate: ", info.status().message()));
      }
    }
    return std::unique_ptr<node::Transport>(
        new PeerTransport(options, name, std::move(receiver)));
  };
}

}  // namespace arraykit::grpc_transport
