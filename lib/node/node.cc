#include "node/node.h"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <variant>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/check.h"
#include "core/failover/member_machine.h"
#include "core/model/array_json.h"
#include "core/model/json_reader.h"
#include "core/ops/config_edit.h"
#include "core/ops/join.h"
#include "core/ops/join_token.h"
#include "core/pki/pki.h"
#include "core/placement/placement.h"
#include "core/replication/replicator.h"
#include "core/status.h"
#include "nlohmann/json.hpp"
#include "node/commit_worker.h"
#include "node/credentials.h"
#include "node/resource_scheduler.h"
#include "node/sqlite_storage.h"

namespace arraykit::node {
namespace {

using nlohmann::json;
namespace ji = model::json_internal;

// Iterations of Ready handling in one wake-up before the loop checks its inbox again.
constexpr int kMaxReadyRounds = 16;
// Inbound envelopes and host requests queued at once; beyond, inbound messages are dropped (the
// machines retry) and host calls are refused (RESOURCE_EXHAUSTED).
constexpr std::size_t kMaxInbox = 1 << 16;
constexpr absl::Duration kMinRetick = absl::Milliseconds(1);
// Loop iterations held by the store thread: the one committing and the next, ready to commit
// as soon as it returns (the loop's wake-up is then off the commit path).
constexpr std::size_t kCommitsHeld = 2;
// Log entries in a batch the loop commits itself when the store thread is idle.
constexpr std::size_t kInlineEntries = 1;

absl::Duration MonotonicNow() {
  return absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

std::chrono::steady_clock::time_point SteadyAt(absl::Duration mono) {
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          absl::ToChronoNanoseconds(mono)));
}

// A write's answer: its position as {"epoch":E,"index":I}.
std::string PositionText(const failover::LogPosition& p) {
  return absl::StrCat("{\"epoch\":", p.epoch, ",\"index\":", p.index, "}");
}

json PositionJson(const failover::LogPosition& p) {
  return json{{"epoch", p.epoch}, {"index", p.index}};
}

json FormationJson(const failover::Formation& f) {
  return json{{"primary", f.primary},
              {"members", f.members},
              {"backup_primaries", f.backup_primaries}};
}

// A copy of `status` that shares no reference-counted storage with it. The loop thread builds
// and drops statuses; the host thread gets its own (Abseil's reference counts live in a
// library ThreadSanitizer does not see into, so a shared one would look like a race).
absl::Status DeepCopy(const absl::Status& status) {
  absl::Status copy(status.code(), std::string(status.message()));
  status.ForEachPayload([&copy](absl::string_view url, const absl::Cord& payload) {
    copy.SetPayload(url, absl::Cord(std::string(payload)));
  });
  return copy;
}

// One host call waiting for the loop's answer: a blocked host thread (Wait) or, for a call
// made with an AnswerFn, that function, run by whoever finishes the call.
class Call {
 public:
  Call() = default;
  explicit Call(AnswerFn answer) : answer_(std::move(answer)) {}
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
  // A call dropped unfinished (a path that forgot it) still answers: whoever waits on an
  // AnswerFn (a gRPC call, a server's shutdown) must not wait for ever.
  ~Call() {
    if (!done_ && answer_) answer_(absl::InternalError("the member dropped the call unanswered"));
  }

  // The first Finish counts. Notifies after unlocking, so the woken host thread does not block
  // on mu_ again. The one finishing holds a shared_ptr to the call, so it outlives the notify.
  void Finish(absl::Status status, std::string result = "") {
    {
      std::lock_guard lock(mu_);
      if (done_) return;
      done_ = true;
      if (!answer_) {
        status_ = std::move(status);
        result_ = std::move(result);
      }
    }
    if (answer_) {
      // Only the first Finish gets here: answer_ is no longer shared.
      AnswerFn answer = std::move(answer_);
      if (status.ok()) {
        answer(std::move(result));
      } else {
        answer(DeepCopy(status));
      }
      return;
    }
    cv_.notify_all();
  }
  absl::StatusOr<std::string> Wait(absl::Duration timeout, std::string_view what) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return done_; })) {
      return absl::DeadlineExceededError(absl::StrCat(
          std::string(what), ": no answer within ", absl::FormatDuration(timeout)));
    }
    if (!status_.ok()) return DeepCopy(status_);
    return std::string(result_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  absl::Status status_;
  std::string result_;
  AnswerFn answer_;
};

struct Request {
  enum Kind { kCreate, kPut, kDelete, kGet, kWaitSynced, kStatus, kOperation, kTask, kList };
  explicit Request(Kind k) : kind(k) {}
  Kind kind;
  // kOperation: runs on the loop thread against the failover machine.
  std::function<absl::StatusOr<std::string>(failover::MemberMachine&)> operation;
  // kTask: runs on the loop thread; finishes the call now or later (a join).
  std::function<void(const std::shared_ptr<Call>&)> task;
  std::string category, key, value;  // kCreate: value = the description
  replication::Wait wait = replication::Wait::kPrimary;
  std::shared_ptr<Call> call;
};

absl::StatusOr<model::Member> ParseMember(const std::string& name, std::string_view text) {
  json doc = json::object();
  if (!text.empty()) {
    auto parsed = model::ParseJsonDocument(text, "member");
    if (!parsed.ok()) return parsed.status();
    doc = *std::move(parsed);
  }
  if (auto s = ji::ExpectObject(doc, "member"); !s.ok()) return s;
  if (auto it = doc.find("name"); it != doc.end()) {
    if (!it->is_string() || CanonicalName(it->get<std::string>()) != CanonicalName(name)) {
      return WithReason(
          absl::InvalidArgumentError(absl::StrCat("member.name: must be the node's name ", name,
                                                  ", got ", ji::Describe(*it))),
          "name_mismatch");
    }
  } else {
    doc["name"] = name;
  }
  return model::MemberFromJson(doc, "member");
}

// The member's fields under the node's own spelling of its name (member_json may name it in
// another letter case).
model::Member SelfNamed(model::Member member, const std::string& name) {
  member.name = name;
  return member;
}

// Keys beginning with this are the node's own in every category (members' descriptions).
constexpr absl::string_view kReservedKeyPrefix = "arraykit.";
// Where the primary keeps each member's DESIGN §3 description, replicated with the repository
// so that any later primary can check placement for a join.
constexpr const char* kDescriptionCategory = "global_configuration";
std::string DescriptionKey(const std::string& name) {
  return absl::StrCat(kReservedKeyPrefix, "member/", CanonicalName(name));
}
// The serial and expiry of the certificate the primary issued to a member (for revocation).
std::string CertificateKey(const std::string& name) {
  return absl::StrCat(kReservedKeyPrefix, "certificate/", CanonicalName(name));
}
// A revoked certificate serial: {"member", "revoked_at"}.
constexpr absl::string_view kRevokedKeyPrefix = "arraykit.revoked/";

// The CA rollover's records (docs/node.md "CA rollover"): the array's next CA while the rollover
// runs, and its current CA once one was activated: {"fingerprint", "certificate", "created_by"}.
constexpr const char* kNextCaKey = "arraykit.ca/next";
constexpr const char* kCurrentCaKey = "arraykit.ca/current";
// A member asks again for its certificate when no answer came within this.
constexpr absl::Duration kCsrRetry = absl::Milliseconds(500);
// How often an idle loop looks whether a certificate reached its renewal date.
constexpr absl::Duration kRenewalCheck = absl::Minutes(1);
// How long every member is given to install a new certificate (it arrives by replication; the
// gRPC transport then serves it at once) before the CA that issued it is the one presented.
constexpr absl::Duration kIdentityReload = absl::Seconds(2);
// A renewal the member's own CA refused (an event says why) is tried again after this.
constexpr absl::Duration kRenewalRetry = absl::Minutes(10);

struct CaRecord {
  std::string fingerprint;
  std::string certificate_pem;
  std::string created_by;
};

std::optional<CaRecord> ParseCaRecord(const std::string& value) {
  json doc = json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("fingerprint") || !doc["fingerprint"].is_string() ||
      !doc.contains("certificate") || !doc["certificate"].is_string()) {
    return std::nullopt;
  }
  CaRecord out;
  out.fingerprint = doc["fingerprint"].get<std::string>();
  out.certificate_pem = doc["certificate"].get<std::string>();
  if (doc.contains("created_by") && doc["created_by"].is_string()) {
    out.created_by = doc["created_by"].get<std::string>();
  }
  return out;
}

// The CA that issued the certificate the primary recorded for `name` ("" when none is named).
std::string IssuingCaOf(const replication::Repository& repository, const std::string& name) {
  auto it = repository.records.find(replication::Key{kDescriptionCategory, CertificateKey(name)});
  if (it == repository.records.end() || it->second.deleted) return "";
  json doc = json::parse(it->second.value, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("ca") || !doc["ca"].is_string()) return "";
  return doc["ca"].get<std::string>();
}

// The serials the array revoked (replicated: every member lists them).
json RevokedSerials(const replication::Repository& repository) {
  json out = json::array();
  auto it = repository.records.lower_bound(
      replication::Key{kDescriptionCategory, std::string(kRevokedKeyPrefix)});
  for (; it != repository.records.end() && it->first.first == kDescriptionCategory &&
         absl::StartsWith(it->first.second, kRevokedKeyPrefix);
       ++it) {
    if (!it->second.deleted) out.push_back(it->first.second.substr(kRevokedKeyPrefix.size()));
  }
  return out;
}

// The newest conflict records (writes that lost a merge after a split), newest first; values
// as the JSON they were written as.
json ConflictRecords(const replication::Repository& repository) {
  constexpr std::size_t kMaxListed = 100;
  auto value = [](const std::string& text) {
    if (text.empty()) return json();  // a delete
    json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
    return parsed.is_discarded() ? json(text) : parsed;
  };
  json out = json::array();
  for (auto it = repository.conflicts.rbegin();
       it != repository.conflicts.rend() && out.size() < kMaxListed; ++it) {
    out.push_back(json{{"index", it->index},
                       {"category", it->category},
                       {"key", it->key},
                       {"kept_value", value(it->kept_value)},
                       {"lost_value", value(it->lost_value)},
                       {"lost_writer", it->lost_writer},
                       {"lost_origin", it->lost_origin}});
  }
  return out;
}

absl::Status CheckHostKey(std::string_view key) {
  if (absl::StartsWith(absl::string_view(key.data(), key.size()), kReservedKeyPrefix)) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          "key: keys beginning with \"", kReservedKeyPrefix,
                          "\" are the node's own (members' descriptions); got \"",
                          ji::Printable(key), "\"")),
                      "reserved_key");
  }
  return absl::OkStatus();
}

}  // namespace

AttachFn AttachTo(std::shared_ptr<MemoryNetwork> network) {
  return [network](const std::string& name, Receiver receiver,
                   const std::string& presented_ca_pem) {
    return network->Attach(name, std::move(receiver), presented_ca_pem);
  };
}

absl::StatusOr<replication::Wait> WaitFromOptionsJson(std::string_view options_json) {
  if (options_json.empty()) return replication::Wait::kPrimary;
  auto doc = model::ParseJsonDocument(options_json, "write options");
  if (!doc.ok()) return doc.status();
  if (auto s = ji::ExpectObjectWith(*doc, "options", {"wait"}); !s.ok()) return s;
  auto it = doc->find("wait");
  if (it == doc->end()) return replication::Wait::kPrimary;
  auto word = ji::ReadString(*it, "options.wait", 16, false);
  if (!word.ok()) return word.status();
  if (*word == "primary") return replication::Wait::kPrimary;
  if (*word == "all") return replication::Wait::kAll;
  return WithReason(absl::InvalidArgumentError(absl::StrCat(
                        "options.wait: \"primary\" or \"all\", got \"", ji::Printable(*word),
                        "\"")),
                    "invalid_value");
}

absl::StatusOr<absl::Duration> JoinTimeoutFromOptionsJson(std::string_view options_json) {
  if (options_json.empty()) return kDefaultJoinTimeout;
  auto doc = model::ParseJsonDocument(options_json, "join options");
  if (!doc.ok()) return doc.status();
  if (auto s = ji::ExpectObjectWith(*doc, "options", {"timeout_s"}); !s.ok()) return s;
  auto it = doc->find("timeout_s");
  if (it == doc->end()) return kDefaultJoinTimeout;
  auto seconds = ji::ReadNumber(*it, "options.timeout_s", 0, 3600);
  if (!seconds.ok()) return seconds.status();
  if (*seconds <= 0) {
    return WithReason(absl::InvalidArgumentError("options.timeout_s: must be positive"),
                      "invalid_value");
  }
  return absl::Milliseconds(static_cast<std::int64_t>(*seconds * 1000));
}

// ---- Impl --------------------------------------------------------------------------------------

class Node::Impl {
 public:
  explicit Impl(NodeOptions options) : options_(std::move(options)) {}
  ~Impl() { Close().IgnoreError(); }

  absl::Status Start();
  absl::Status Close();
  absl::StatusOr<std::string> Submit(Request request, absl::Duration timeout,
                                     std::string_view what);
  // Submit without blocking: `answer` gets the call's answer, or DEADLINE_EXCEEDED once the
  // call timeout passed without one (the loop keeps the deadlines).
  void SubmitAsync(Request request, std::string_view what, AnswerFn answer);
  std::vector<std::string> TakeEvents();
  absl::StatusOr<std::string> Operate(
      std::function<absl::StatusOr<std::string>(failover::MemberMachine&)> operation,
      std::string_view what);
  const std::string& name() const { return options_.name; }
  // The wall clock (NodeOptions::wall_clock): certificate validity, tokens, the failback
  // window, event times. The machines' intervals run on the monotonic clock.
  absl::Time WallNow() const { return options_.wall_clock ? options_.wall_clock() : absl::Now(); }
  failover::Clock Now() const { return failover::Clock{MonotonicNow(), WallNow()}; }
  absl::Duration call_timeout() const { return options_.call_timeout; }
  const std::string& data_dir() const { return options_.data_dir; }
  bool OnDispatcher() const { return std::this_thread::get_id() == dispatcher_id_; }
  void PostEventJson(std::string text);  // an event made elsewhere (resource files)

 private:
  // Queues a host call for the loop, or says why the member takes none (closed, stopped by a
  // store failure, too many in flight). Under mu_.
  absl::Status EnqueueLocked(Request& request);
  // The calls made with an AnswerFn whose deadline passed by `now` (monotonic), with what each
  // was; drops the finished ones from the deadline list. Under mu_.
  std::vector<std::pair<std::shared_ptr<Call>, std::string>> TakeOverdueLocked(
      absl::Duration now);
  void Receive(Envelope envelope);
  void Loop();
  void Wake();
  void Execute(Request& request);
  void CreateArray(Request& request);
  json StatusJson();
  void Deliver(Envelope& envelope);
  bool HandleReady();
  void Fail(const absl::Status& status);
  void PostEvent(const failover::TimelineEntry& entry, absl::Time at);
  void Dispatch();
  // The store thread (lib/node/commit_worker.h), used by Loop and HandleReady: it commits and
  // releases up to kCommitsHeld iterations while the loop steps the next.
  class Iteration;
  void Settle();
  void CollectStoreFailure();
  std::unique_ptr<Iteration> held_;  // built while the store thread was full (HandleReady)
  void AbandonHeld(const absl::Status& why);
  void ReleaseEarly(Iteration& it);
  struct Vote {
    std::uint64_t epoch = 0;
    std::uint64_t voted_epoch = 0;
    std::string voted_for;
  };
  std::optional<Vote> last_vote_;  // of the last HardState stepped (HandleReady)

 public:
  // Join (loop thread). Primary side.
  // `deadline`: when the host call stops waiting (taken before the call is queued, so the
  // loop's view of it never ends after the caller's).
  void StartJoin(ops::JoinRequest request, absl::Time deadline,
                 const std::shared_ptr<Call>& call);
  void IssueJoinToken(absl::Duration ttl, const std::shared_ptr<Call>& call);
  void ReportCaFingerprint(const std::shared_ptr<Call>& call);
  // Detach with the PKI leave plan (remove_member, then revoke_certificate).
  void DetachMember(const std::string& name, const std::shared_ptr<Call>& call);
  // make_primary, refused with `not_synchronized` while the target lags the primary's log.
  void TransferPrimary(const std::string& name, const std::shared_ptr<Call>& call);

 private:
  void OnJoinReply(const std::string& from, ops::JoinReply& reply);
  void OnJoinAdmitted(const std::string& from, const ops::JoinAdmitted& admitted);
  void OnLinkError(const std::string& from, const LinkError& error);
  void FinishJoin(absl::Status status, std::string result = "");
  ops::PrimaryView PrimaryViewNow() const;
  // Formation members that have not joined: no certificate issued to them and never heard from
  // as members (members of a configured array, which issues none, speak soon after they start).
  std::vector<std::string> PlannedMembers() const;
  // Joiner side.
  void OnJoinHello(const std::string& from, ops::JoinHello& hello);
  void OnJoinAdmit(const std::string& from, ops::JoinAdmit& admit);
  void RefuseAdmit(const std::string& to, const absl::Status& why);
  void ResetReplicator(const std::string& why);
  // A standalone member holds a CA of its own: one that became standalone without one (detached,
  // cleaned) wipes the array's credentials and makes a fresh key, CA and certificate.
  void TakeOwnCaIfStandalone();
  void TakeOwnCa(const std::string& why);  // a fresh key, CA and certificate replace them all
  void AddCredentialChange(CredentialChange change);
  // The node's own repository entries (reserved keys), written without a waiting host call.
  void WriteInternal(std::string key, std::string value_json);
  void DeleteInternal(std::string key);
  // Members' descriptions: this member's, the replicated ones, the configured ones.
  std::optional<model::Member> DescriptionOf(const std::string& name) const;
  void WriteDescriptions(const std::vector<model::Member>& members);
  void PostJoinEvent(std::string_view event, const std::string& reason, const absl::Status& why);
  // The CA rollover of a new primary (pki::PlanNewPrimary, docs/node.md "CA rollover"), driven
  // by the replicated records: run on the loop after each iteration's messages and requests.
  void ReconcileCa();
  // Gives the transport what its links are checked against (LinkSecurity) when any of it
  // changed: the certificate, the trusted CAs, the members, the revoked serials.
  absl::Status SecureLinks();
  const pki::CertificateAuthority* HeldCa(const std::string& fingerprint) const;
  void CreateNextCa(const std::string& why);
  void PublishNextCa();
  void TrustRecordedCa(const CaRecord& record);
  void RequestCertificate(const CaRecord& ca);
  // issue_certificate for the primary itself (a rollover's next CA, or a renewal by its CA).
  absl::Status IssueOwnCertificate(const CaRecord& ca);
  // Renewal at two thirds of the lifetime (DESIGN §6): the peer certificate through a CSR to
  // the CA that issued it; a CA through a rollover (multi-member) or a fresh CA (standalone).
  void RenewCertificates(const std::optional<CaRecord>& next);
  absl::Time PeerRenewalAt();
  absl::Time CaRenewalAt(const pki::CertificateAuthority& ca);
  CaRecord PresentedCa() const;
  void ActivateNextCa(const CaRecord& next);
  void UntrustPreviousCas(const CaRecord& current, const std::optional<CaRecord>& next);
  // Signs `csr_pem` for `member` with the held CA `ca_fingerprint` and records the issued
  // serial: the array's next CA during a rollover, else its current CA (a renewal).
  absl::StatusOr<std::string> SignMemberCsr(const std::string& member,
                                              const std::string& csr_pem,
                                              const std::string& ca_fingerprint);
  absl::Status InstallReissued(const CaRecord& ca, pki::SecretString key,
                               const std::string& certificate_pem);
  void OnCsrRequest(const std::string& from, const CsrRequest& request);
  void OnCsrReply(const std::string& from, const CsrReply& reply);
  void PostCaEvent(std::string_view event, const std::string& reason);
  json RolloverJson() const;
  // The CA record under `key` (kNextCaKey, kCurrentCaKey) as applied here; parsed once per
  // write of it, since the loop reads it every iteration.
  std::optional<CaRecord> CaRecordOf(const char* key) const;
  bool IsWritablePrimary() const;
  // An array that is repaired and whose original primary may still return (DESIGN
  // §5.1 recovery, `accept` or `acceptsecondary`): its CA rollover stops after trust_ca, so the
  // members keep presenting certificates of the original CA, which the returning members trust
  // (over mutual TLS they could not be contacted otherwise).
  bool AwaitsOriginalPrimary() const;
  // The members a rollover's next CA must have reissued before it is activated.
  std::vector<std::string> RolloverMembers() const;
  // The rollover members without a certificate of `next` (as the applied records say).
  std::vector<std::string> PendingReissue(const CaRecord& next) const;
  // What HandleReady adds to the iteration: the credentials to persist with its batch, and the
  // messages to send once it committed (JoinAdmit after add_member, JoinAdmitted after the
  // joiner's transaction).
  bool HasJoinWork() const {
    return credentials_to_persist_.has_value() || !after_commit_.empty() ||
           !answers_after_commit_.empty();
  }

  NodeOptions options_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Transport> transport_;
  // Loop-owned state (only the loop thread touches it once Start returned).
  std::optional<failover::MemberMachine> machine_;
  std::optional<replication::Replicator> replicator_;
  Identity identity_;
  std::optional<Identity> identity_to_persist_;
  std::optional<failover::HardState> hard_state_to_persist_;
  model::Member self_member_;
  Credentials credentials_;
  std::optional<CredentialChange> credentials_to_persist_;
  struct Outgoing {
    std::string to;
    std::string pinned_ca_fingerprint;  // "" : not pinned
    Payload payload;
  };
  std::vector<Outgoing> after_commit_;
  // Host calls (operations, create) answered once the next batch is durable.
  std::vector<std::pair<std::shared_ptr<Call>, absl::StatusOr<std::string>>> answers_after_commit_;
  std::vector<model::Member> configured_;                      // the last CreateArray's members
  std::set<std::string> heard_;  // canonical names failover messages came from (PlannedMembers)
  ops::JoinTokens join_tokens_;  // in memory only: a restart invalidates outstanding tokens
  struct PendingJoin {           // primary: the join under way
    ops::JoinRequest request;
    std::string fingerprint;  // normalized
    std::shared_ptr<Call> call;
    absl::Time deadline;
    bool admitted = false;  // add_member done, JoinAdmit sent
    std::vector<placement::Finding> findings;
  };
  std::optional<PendingJoin> join_;
  struct PendingHello {  // joiner: the hello it accepted, and the key its CSR was made with
    ops::JoinHello hello;
    absl::Time arrived;
    pki::SecretString key;
  };
  std::optional<PendingHello> hello_;
  // CA rollover state (loop thread). The fingerprints of the CA certificates the store trusts;
  // the CA keys held besides credentials_.authority (a created next CA, a previous one until
  // it is retired); the CSR this member sent for the next CA (its key stays here); the records
  // this primary wrote that may not be applied yet.
  std::map<std::string, std::string> trusted_cas_;  // fingerprint -> CA certificate PEM
  std::map<std::string, pki::CertificateAuthority> held_cas_;
  struct PendingCsr {
    std::string ca_fingerprint;
    std::string primary;
    pki::SecretString key;
    absl::Duration sent_at;
    bool answered = false;  // its certificate is installed
  };
  std::optional<PendingCsr> csr_;
  std::string created_next_;      // the next CA this primary created
  std::string secured_;           // what SecureLinks last gave the transport, as one string
  std::string activated_;         // the CA this primary marked current
  // When the primary writes a rollover record again if it was not applied by then.
  absl::Duration publish_at_ = -absl::InfiniteDuration();
  absl::Duration own_issue_at_ = -absl::InfiniteDuration();
  absl::Duration activate_at_ = -absl::InfiniteDuration();
  // The next CA becomes current no sooner than kIdentityReload after its last certificate was
  // issued: a member's listener serves a new certificate only once the transport reloaded it,
  // and peers that untrust the old CA at activation must not meet the old one.
  absl::Duration activate_not_before_ = -absl::InfiniteDuration();
  // Renewal: the renewal dates read from the certificates (the peer certificate's for the PEM
  // it was read from; CAs' by fingerprint), and when a failed renewal is tried again.
  std::string peer_renewal_of_;
  absl::Time peer_renewal_at_;
  std::map<std::string, absl::Time> ca_renewal_at_;
  struct ParsedCaRecord {
    std::string origin;  // of the repository record it was parsed from
    std::optional<CaRecord> record;
  };
  mutable std::map<std::string, ParsedCaRecord> ca_records_;
  absl::Duration renew_again_at_ = -absl::InfiniteDuration();
  std::map<std::uint64_t, std::shared_ptr<Call>> pending_;  // replicator request id -> call
  std::uint64_t next_request_ = 1;
  absl::Status failed_;  // a store failure stops the member
  absl::Duration last_tick_ = -absl::InfiniteDuration();
  std::unique_ptr<CommitWorker> committer_;  // lives while Loop runs

  // Inbox (guarded by mu_).
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Envelope> inbound_;
  std::deque<Request> requests_;
  // Calls answered through an AnswerFn, by deadline: every one has the same timeout, so
  // submission order is deadline order. A finished call is dropped when it reaches the front.
  struct AsyncDeadline {
    absl::Duration at;  // monotonic
    std::weak_ptr<Call> call;
    std::string what;
  };
  std::deque<AsyncDeadline> async_deadlines_;
  bool commit_done_ = false;  // the store thread finished a job since the loop last looked
  bool stopping_ = false;
  bool closed_ = false;
  std::thread loop_;

  // Dispatcher (guarded by events_mu_).
  std::mutex events_mu_;
  std::condition_variable events_cv_;
  std::deque<std::string> to_dispatch_;
  std::deque<std::string> kept_;
  bool dispatcher_stop_ = false;
  std::thread dispatcher_;
  std::thread::id dispatcher_id_;

  std::mutex close_mu_;
};

absl::Status Node::Impl::Start() {
  if (options_.name.empty()) return absl::InvalidArgumentError("name: required");
  std::string why;
  if (!placement::IsFullyQualifiedName(options_.name, &why)) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat("name: ", why)), "name_not_fqdn");
  }
  if (options_.data_dir.empty()) return absl::InvalidArgumentError("data_dir: required");
  if (!options_.attach) return absl::InvalidArgumentError("network: required");
  if (options_.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("call_timeout: must be positive");
  }
  OpenStorageFn open = options_.open_storage ? options_.open_storage : OpenSqliteStorage;
  if (!options_.open_storage) {
    // The store creates the data directory, not its parents: name the field when they are
    // missing rather than report an I/O error.
    std::string dir = options_.data_dir;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    std::error_code error;
    std::filesystem::path parent = std::filesystem::path(dir).parent_path();
    if (parent.empty()) parent = ".";
    if (!std::filesystem::is_directory(parent, error)) {
      return WithReason(absl::NotFoundError(absl::StrCat(
                            "data_dir: the parent directory ", parent.string(), " of ",
                            options_.data_dir, " does not exist (create it first)")),
                        "not_found");
    }
  }
  auto storage = open(options_.data_dir);
  if (!storage.ok()) return storage.status();
  storage_ = *std::move(storage);

  auto stored_identity = storage_->LoadIdentity();
  if (!stored_identity.ok()) return stored_identity.status();
  std::string member_text = options_.member_json;
  if (stored_identity->has_value()) {
    const Identity& id = **stored_identity;
    if (CanonicalName(id.name) != CanonicalName(options_.name)) {
      return WithReason(absl::FailedPreconditionError(absl::StrCat(
                            "data_dir ", options_.data_dir, " holds member ", id.name,
                            ", not ", options_.name)),
                        "name_mismatch");
    }
    if (member_text.empty()) member_text = id.member_json;
  }
  auto member = ParseMember(options_.name, member_text);
  if (!member.ok()) return member.status();
  self_member_ = *member;
  identity_ = Identity{options_.name, model::ToJson(*member).dump()};
  if (!stored_identity->has_value() || **stored_identity != identity_) {
    identity_to_persist_ = identity_;
  }

  auto hard = storage_->LoadHardState();
  if (!hard.ok()) return hard.status();
  failover::Clock now = Now();
  failover::HardState state;
  if (hard->has_value()) {
    state = **hard;
  } else {
    state = failover::StandaloneHardState(SelfNamed(*member, options_.name));
    hard_state_to_persist_ = state;
  }
  auto machine = failover::MemberMachine::Create(options_.name, state, now);
  if (!machine.ok()) return machine.status();
  machine_.emplace(*std::move(machine));

  auto durable = storage_->LoadReplication();
  if (!durable.ok()) return durable.status();
  if (auto s = replication::ValidateDurable(*durable); !s.ok()) return s;
  replicator_.emplace(options_.name, *std::move(durable));
  replicator_->SetView(replication::ViewOf(*machine_));
  machine_->LogChanged(replicator_->last_position());

  // Keys and certificates: loaded, or made at the first start and persisted in the same first
  // transaction as the identity.
  auto credentials = LoadCredentials(*storage_);
  if (!credentials.ok()) return credentials.status();
  if (credentials->has_value()) {
    credentials_ = std::move(**credentials);
  } else {
    auto made = MakeStandaloneCredentials(options_.name, WallNow());
    if (!made.ok()) return made.status();
    credentials_ = std::move(made->credentials);
    credentials_to_persist_ = std::move(made->change);
  }

  // The trusted CAs, and the keys of CAs held besides the presented one (a rollover under way).
  auto stored_certificates = storage_->LoadCertificates();
  if (!stored_certificates.ok()) return stored_certificates.status();
  for (const CertificateStatus& c : *stored_certificates) {
    if (!absl::StartsWith(c.name, kCaCertificatePrefix)) continue;
    std::string fingerprint = c.name.substr(std::string_view(kCaCertificatePrefix).size());
    auto pem = pki::CertificateAsPem(c.der);
    if (!pem.ok()) return pem.status();
    trusted_cas_[fingerprint] = *pem;
    if (fingerprint == credentials_.ca_fingerprint) continue;
    auto key = storage_->LoadSecret(kCaKeySecretPrefix + fingerprint);
    if (!key.ok()) return key.status();
    if (!key->has_value()) continue;
    auto authority = pki::CertificateAuthority::Load(*pem, (*key)->view());
    if (!authority.ok()) {
      return MakeError(absl::StatusCode::kDataLoss, "corrupt_state",
                       absl::StrCat("the store's credentials: the key of CA ", fingerprint,
                                    " does not belong to its certificate"));
    }
    held_cas_.emplace(fingerprint, *std::move(authority));
  }
  if (!credentials_.ca_fingerprint.empty()) {
    trusted_cas_[credentials_.ca_fingerprint] = credentials_.ca_certificate_pem;
  }

  TakeOwnCaIfStandalone();  // it became standalone but stopped before its new CA was written

  auto transport = options_.attach(
      options_.name, [this](Envelope e) { Receive(std::move(e)); },
      credentials_.ca_certificate_pem);
  if (!transport.ok()) return transport.status();
  transport_ = *std::move(transport);
  if (absl::Status s = SecureLinks(); !s.ok()) return s;

  dispatcher_ = std::thread([this] { Dispatch(); });
  dispatcher_id_ = dispatcher_.get_id();
  loop_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

absl::Status Node::Impl::Close() {
  if (std::this_thread::get_id() == dispatcher_id_) {
    return WithReason(absl::FailedPreconditionError(
                          "a node cannot be closed from its own event callback"),
                      "in_callback");
  }
  std::lock_guard close_lock(close_mu_);
  {
    std::lock_guard lock(mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
  }
  // No more inbound messages: Close returns once no receiver call runs.
  if (transport_) transport_->Close();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (loop_.joinable()) loop_.join();
  // Calls the loop never answered.
  {
    std::lock_guard lock(mu_);
    for (Request& r : requests_) r.call->Finish(absl::CancelledError("the node was closed"));
    requests_.clear();
  }
  for (auto& [id, call] : pending_) call->Finish(absl::CancelledError("the node was closed"));
  pending_.clear();
  for (auto& [call, answer] : answers_after_commit_) {
    call->Finish(absl::CancelledError("the node was closed"));
  }
  answers_after_commit_.clear();
  {
    std::lock_guard lock(events_mu_);
    dispatcher_stop_ = true;
  }
  events_cv_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  transport_.reset();
  storage_.reset();
  return absl::OkStatus();
}

void Node::Impl::Receive(Envelope envelope) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || inbound_.size() >= kMaxInbox) return;
    inbound_.push_back(std::move(envelope));
  }
  wake_.notify_one();
}

absl::Status Node::Impl::EnqueueLocked(Request& request) {
  if (stopping_ || closed_) {
    return absl::FailedPreconditionError(absl::StrCat(options_.name, " is closed"));
  }
  if (!failed_.ok()) return DeepCopy(failed_);
  if (requests_.size() >= kMaxInbox) {
    return WithReason(absl::ResourceExhaustedError("too many host calls in flight"),
                      "too_many_pending");
  }
  requests_.push_back(std::move(request));
  return absl::OkStatus();
}

absl::StatusOr<std::string> Node::Impl::Submit(Request request, absl::Duration timeout,
                                               std::string_view what) {
  auto call = std::make_shared<Call>();
  request.call = call;
  {
    std::lock_guard lock(mu_);
    if (absl::Status s = EnqueueLocked(request); !s.ok()) return s;
  }
  wake_.notify_one();
  return call->Wait(timeout, what);
}

void Node::Impl::SubmitAsync(Request request, std::string_view what, AnswerFn answer) {
  auto call = std::make_shared<Call>(std::move(answer));
  request.call = call;
  absl::Status queued;
  {
    std::lock_guard lock(mu_);
    queued = EnqueueLocked(request);
    if (queued.ok()) {
      async_deadlines_.push_back(
          {MonotonicNow() + options_.call_timeout, call, std::string(what)});
    }
  }
  if (!queued.ok()) {
    call->Finish(std::move(queued));
    return;
  }
  wake_.notify_one();
}

std::vector<std::pair<std::shared_ptr<Call>, std::string>> Node::Impl::TakeOverdueLocked(
    absl::Duration now) {
  std::vector<std::pair<std::shared_ptr<Call>, std::string>> overdue;
  while (!async_deadlines_.empty()) {
    AsyncDeadline& front = async_deadlines_.front();
    std::shared_ptr<Call> call = front.call.lock();
    if (call != nullptr && front.at > now) break;
    if (call != nullptr) overdue.emplace_back(std::move(call), std::move(front.what));
    async_deadlines_.pop_front();
  }
  return overdue;
}

void Node::Impl::Loop() {
  committer_ = std::make_unique<CommitWorker>(storage_.get(), kCommitsHeld, [this] {
    {
      std::lock_guard lock(mu_);
      commit_done_ = true;
    }
    wake_.notify_one();
  });
  std::deque<Envelope> inbound;
  std::deque<Request> requests;
  std::vector<std::pair<std::shared_ptr<Call>, std::string>> overdue;
  bool more_ready = false;
  while (true) {
    {
      std::unique_lock lock(mu_);
      auto ready = [&] {
        return stopping_ || !inbound_.empty() || !requests_.empty() || more_ready ||
               commit_done_;
      };
      absl::Duration next = std::min(machine_->NextWakeup(), replicator_->NextWakeup());
      if (csr_.has_value()) next = std::min(next, csr_->sent_at + kCsrRetry);
      next = std::min(next, last_tick_ + kRenewalCheck);  // certificates due (wall clock)
      if (activate_not_before_ > last_tick_) next = std::min(next, activate_not_before_);
      // A machine asking again for a time it was already ticked at is ticked again at most
      // every millisecond: the loop never spins.
      if (next <= last_tick_) next = last_tick_ + kMinRetick;
      if (!async_deadlines_.empty()) next = std::min(next, async_deadlines_.front().at);
      if (next == absl::InfiniteDuration()) {
        wake_.wait(lock, ready);
      } else {
        wake_.wait_until(lock, SteadyAt(next), ready);
      }
      if (stopping_) break;
      commit_done_ = false;
      inbound.swap(inbound_);
      requests.swap(requests_);
      overdue = TakeOverdueLocked(MonotonicNow());
    }
    for (auto& [call, what] : overdue) {
      call->Finish(absl::DeadlineExceededError(absl::StrCat(
          what, ": no answer within ", absl::FormatDuration(options_.call_timeout))));
    }
    overdue.clear();
    CollectStoreFailure();
    if (!failed_.ok()) {
      for (Request& r : requests) r.call->Finish(failed_);
      requests.clear();
      inbound.clear();
      more_ready = false;
      continue;
    }
    failover::Clock now = Now();
    last_tick_ = now.mono;
    machine_->SetPlanned(PlannedMembers());
    machine_->Tick(now);
    replicator_->SetView(replication::ViewOf(*machine_));
    replicator_->Tick(now.mono);
    for (Envelope& e : inbound) Deliver(e);
    inbound.clear();
    for (Request& r : requests) {
      // Writes are answered through the replicator's completions, released after their commit.
      // Any other call (get, status, operations) runs once everything stepped before it is
      // durable and released, and never beside a commit (status reads the store).
      if (r.kind != Request::kPut && r.kind != Request::kDelete &&
          r.kind != Request::kWaitSynced) {
        Settle();
        if (!failed_.ok()) {
          r.call->Finish(failed_);
          continue;
        }
      }
      Execute(r);
    }
    requests.clear();
    ReconcileCa();
    if (absl::Status s = SecureLinks(); !s.ok()) Fail(s);
    more_ready = HandleReady();
  }
  // A last round: what was stepped is persisted, sent and reported before the loop ends.
  Settle();
  committer_.reset();
  AbandonHeld(absl::CancelledError("the node was closed"));
}

void Node::Impl::Deliver(Envelope& envelope) {
  // The transport names the sender; the body's `from` is never trusted.
  if (auto* m = std::get_if<failover::Message>(&envelope.payload)) {
    if (heard_.size() < 64) heard_.insert(CanonicalName(envelope.from));
    m->from = envelope.from;
    m->to = options_.name;
    machine_->Step(*m);
    replicator_->SetView(replication::ViewOf(*machine_));
    TakeOwnCaIfStandalone();  // detached
  } else if (auto* r = std::get_if<replication::Message>(&envelope.payload)) {
    r->from = envelope.from;
    r->to = options_.name;
    replicator_->Step(*r);
  } else if (auto* hello = std::get_if<ops::JoinHello>(&envelope.payload)) {
    OnJoinHello(envelope.from, *hello);
  } else if (auto* reply = std::get_if<ops::JoinReply>(&envelope.payload)) {
    OnJoinReply(envelope.from, *reply);
  } else if (auto* admit = std::get_if<ops::JoinAdmit>(&envelope.payload)) {
    OnJoinAdmit(envelope.from, *admit);
  } else if (auto* admitted = std::get_if<ops::JoinAdmitted>(&envelope.payload)) {
    OnJoinAdmitted(envelope.from, *admitted);
  } else if (auto* error = std::get_if<LinkError>(&envelope.payload)) {
    OnLinkError(envelope.from, *error);
  } else if (auto* csr = std::get_if<CsrRequest>(&envelope.payload)) {
    OnCsrRequest(envelope.from, *csr);
  } else if (auto* issued = std::get_if<CsrReply>(&envelope.payload)) {
    OnCsrReply(envelope.from, *issued);
  }
}

void Node::Impl::Execute(Request& r) {
  switch (r.kind) {
    case Request::kCreate:
      CreateArray(r);
      return;
    case Request::kPut:
    case Request::kDelete: {
      std::uint64_t id = next_request_++;
      pending_[id] = r.call;
      if (r.kind == Request::kPut) {
        replicator_->Write(id, std::move(r.category), std::move(r.key), std::move(r.value),
                           r.wait);
      } else {
        replicator_->Delete(id, std::move(r.category), std::move(r.key), r.wait);
      }
      return;
    }
    case Request::kWaitSynced: {
      std::uint64_t id = next_request_++;
      pending_[id] = r.call;
      replicator_->WaitSynced(id);
      return;
    }
    case Request::kGet: {
      const auto& records = replicator_->repository().records;
      auto it = records.find(replication::Key{r.category, r.key});
      if (it == records.end() || it->second.deleted) {
        r.call->Finish(absl::NotFoundError(absl::StrCat(
            ji::Printable(r.category), "/", ji::Printable(r.key), ": no value on ",
            options_.name)));
      } else {
        r.call->Finish(absl::OkStatus(), it->second.value);
      }
      return;
    }
    case Request::kStatus:
      r.call->Finish(absl::OkStatus(), StatusJson().dump());
      return;
    case Request::kList: {
      // Values are compact JSON already: the object is assembled, not re-parsed.
      const auto& records = replicator_->repository().records;
      std::string out = "{";
      for (auto it = records.lower_bound(replication::Key{r.category, ""});
           it != records.end() && it->first.first == r.category; ++it) {
        if (it->second.deleted) continue;
        if (out.size() > 1) out += ',';
        out += json(it->first.second).dump(-1, ' ', false, json::error_handler_t::replace);
        out += ':';
        out += it->second.value;
      }
      r.call->Finish(absl::OkStatus(), out + "}");
      return;
    }
    case Request::kTask:
      r.task(r.call);
      return;
    case Request::kOperation: {
      absl::StatusOr<std::string> result = r.operation(*machine_);
      replicator_->SetView(replication::ViewOf(*machine_));
      TakeOwnCaIfStandalone();  // clean
      // Answered once what the operation changed is durable (with the next batch).
      answers_after_commit_.emplace_back(r.call, std::move(result));
      return;
    }
  }
}

void Node::Impl::CreateArray(Request& r) {
  auto array = model::ArrayFromJsonText(r.value);
  if (!array.ok()) {
    r.call->Finish(array.status());
    return;
  }
  model::Member* self = array->Find(options_.name);
  if (self == nullptr) {
    r.call->Finish(WithReason(
        absl::InvalidArgumentError(absl::StrCat("members: ", options_.name,
                                                " (this member) is not in the description")),
        "not_a_member"));
    return;
  }
  // The version is the one this member runs: a description may leave it out, not change it.
  if (self->version.empty()) {
    self->version = self_member_.version;
  } else if (self->version != self_member_.version) {
    r.call->Finish(MakeError(ErrorCode::kVersionMismatch,
                             absl::StrCat("members: ", options_.name, " has version \"",
                                          self->version, "\" in the description but runs \"",
                                          self_member_.version, "\"")));
    return;
  }
  std::vector<placement::Finding> findings = placement::Check(*array);
  if (placement::HasErrors(findings)) {
    std::vector<std::string> errors;
    for (const auto& f : findings) {
      if (f.severity == placement::Severity::kError) errors.push_back(f.code + ": " + f.message);
    }
    r.call->Finish(WithReason(absl::FailedPreconditionError(absl::StrCat(
                                  "the array breaks placement rules: ",
                                  absl::StrJoin(errors, "; "))),
                              "placement_errors"));
    return;
  }
  const failover::HardState& current = machine_->hard_state();
  if (current.formation.members.size() > 1) {
    r.call->Finish(WithReason(
        absl::AlreadyExistsError(absl::StrCat(options_.name, " already belongs to the array of ",
                                              current.formation.primary, " (",
                                              current.formation.members.size(), " members)")),
        "already_in_array"));
    return;
  }
  failover::HardState state;
  state.formation = failover::FormationFromArray(*array);
  // The names as this member knows itself, so messages and views match the network's.
  state.epoch = current.epoch;
  state.log = current.log;
  auto machine = failover::MemberMachine::Create(options_.name, state, Now());
  if (!machine.ok()) {
    r.call->Finish(machine.status());
    return;
  }
  machine_.emplace(*std::move(machine));
  hard_state_to_persist_ = state;
  identity_.member_json = model::ToJson(*self).dump();
  identity_to_persist_ = identity_;
  self_member_ = *self;
  configured_ = array->members;
  replicator_->SetView(replication::ViewOf(*machine_));
  machine_->LogChanged(replicator_->last_position());
  // The primary records the members' descriptions in the repository (a later join checks
  // placement with them); if it cannot write yet, a join writes them.
  if (state.formation.primary == options_.name) WriteDescriptions(array->members);
  failover::TimelineEntry entry;
  entry.member = options_.name;
  entry.event = "array_created";
  entry.epoch = state.epoch;
  entry.reason = absl::StrCat("array of ", state.formation.members.size(),
                              " members configured with primary ", state.formation.primary);
  PostEvent(entry, WallNow());
  answers_after_commit_.emplace_back(r.call, std::string());
}

// One loop iteration's output, handed to the store thread: its batch, then what may leave only
// once the batch is durable (in the order the single-threaded loop released it).
class Node::Impl::Iteration final : public CommitWorker::Job {
 public:
  explicit Iteration(Impl* node) : node_(node) {}
  const Batch& batch() const override { return persist; }
  void Release() override {
    for (Outgoing& out : after_commit) {
      if (out.pinned_ca_fingerprint.empty()) {
        node_->transport_->Send(out.to, std::move(out.payload));
      } else {
        node_->transport_->SendPinned(out.to, out.pinned_ca_fingerprint, std::move(out.payload));
      }
    }
    for (failover::Message& m : failover_messages) {
      std::string to = m.to;
      node_->transport_->Send(to, std::move(m));
    }
    for (replication::Message& m : replication.messages) {
      std::string to = m.to;
      node_->transport_->Send(to, std::move(m));
    }
    absl::Time at = node_->WallNow();
    for (auto& [call, completion] : completions) {
      call->Finish(std::move(completion.status), PositionText(completion.position));
    }
    for (auto& [call, answer] : answers) {
      if (answer.ok()) {
        call->Finish(absl::OkStatus(), *std::move(answer));
      } else {
        call->Finish(answer.status());
      }
    }
    for (const auto& e : replication.events) node_->PostEvent(e, at);
    for (const auto& e : failover_events) node_->PostEvent(e, at);
  }
  void Abandon(const absl::Status& why) override {
    for (auto& [call, completion] : completions) call->Finish(why);
    for (auto& [call, answer] : answers) call->Finish(why);
  }
  // A later iteration stepped while this one waited for the store thread: its appended and
  // applied entries, its HardState (which supersedes this one's), its replication messages and
  // its write answers go into this transaction and this release, after this one's. Only a
  // plain later iteration (nothing else to persist, send or report) is taken, and only into
  // one whose log is not replaced, so the store's operations and the release keep their order.
  bool Absorb(CommitWorker::Job& job) override {
    auto& later = static_cast<Iteration&>(job);
    const replication::Ready& r = later.replication;
    if (later.persist.identity.has_value() || later.persist.credentials.has_value() ||
        !later.after_commit.empty() || !later.answers.empty() ||
        !later.failover_messages.empty() || !later.failover_events.empty() ||
        r.snapshot.has_value() || r.truncate_after.has_value() || r.compact_through.has_value() ||
        !r.events.empty() || !r.rolled_back.empty() || persist.credentials.has_value() ||
        replication.snapshot.has_value()) {
      return false;
    }
    if (later.persist.hard_state.has_value()) persist.hard_state = std::move(later.persist.hard_state);
    auto move_all = [](auto& from, auto& to) {
      to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
      from.clear();
    };
    if (later.persist.replication != nullptr) {
      move_all(later.replication.append, replication.append);
      move_all(later.replication.apply, replication.apply);
      move_all(later.replication.messages, replication.messages);
      move_all(later.replication.completions, replication.completions);
      persist.replication = &replication;
    }
    move_all(later.completions, completions);
    return true;
  }

  Batch persist;
  replication::Ready replication;  // moved out of the replicator; persist.replication points here
  std::vector<failover::Message> failover_messages;
  std::vector<failover::TimelineEntry> failover_events;
  std::vector<std::pair<std::shared_ptr<Call>, replication::Completion>> completions;
  std::vector<Outgoing> after_commit;  // join messages that wait for this batch (sent first)
  std::vector<std::pair<std::shared_ptr<Call>, absl::StatusOr<std::string>>> answers;

 private:
  Impl* node_;
};

bool Node::Impl::HandleReady() {
  for (int round = 0; round < kMaxReadyRounds; ++round) {
    // An iteration the store thread could take neither as a job nor into its queued one waits
    // here for room; the machines gather what comes after it meanwhile.
    if (held_ != nullptr) {
      CollectStoreFailure();
      if (!failed_.ok()) {
        AbandonHeld(failed_);
        return false;
      }
      if (!committer_->has_room()) return false;
      committer_->Submit(std::move(held_));
      continue;
    }
    bool machine_ready = machine_->HasReady();
    bool replicator_ready = replicator_->HasReady();
    if (!machine_ready && !replicator_ready && !identity_to_persist_ && !hard_state_to_persist_ &&
        !HasJoinWork()) {
      return false;
    }
    auto it = std::make_unique<Iteration>(this);
    it->persist.credentials = std::exchange(credentials_to_persist_, std::nullopt);
    it->after_commit = std::exchange(after_commit_, {});
    it->answers = std::exchange(answers_after_commit_, {});
    if (replicator_ready) {
      it->replication = std::move(replicator_->GetReady());
      replicator_->Advance();
      it->persist.replication = &it->replication;
      for (replication::Completion& c : it->replication.completions) {
        auto p = pending_.find(c.request);
        if (p == pending_.end()) continue;
        it->completions.emplace_back(std::move(p->second), std::move(c));
        pending_.erase(p);
      }
    }
    // The machine learns the log position this batch makes durable now, so its HardState
    // records it in the same transaction (one commit per iteration, not a second for the
    // position). Nothing that depends on it leaves before the batch is durable.
    machine_->LogChanged(replicator_->last_position());
    std::optional<failover::HardState> hard_state;
    if (machine_->HasReady()) {
      failover::Ready& fr = machine_->GetReady();
      hard_state = std::move(fr.persist);
      it->failover_messages = std::move(fr.messages);
      it->failover_events = std::move(fr.events);
      machine_->Advance();
    }
    it->persist.identity = std::move(identity_to_persist_);
    identity_to_persist_.reset();
    it->persist.hard_state =
        hard_state.has_value() ? std::move(hard_state) : std::move(hard_state_to_persist_);
    hard_state_to_persist_.reset();
    // Whether this batch changes the epoch or a vote (compared with the batch before it, which
    // is durable whenever ReleaseEarly runs): then nothing of it may leave before its commit.
    bool vote_changed = false;
    if (it->persist.hard_state.has_value()) {
      const failover::HardState& h = *it->persist.hard_state;
      vote_changed = !last_vote_.has_value() || last_vote_->epoch != h.epoch ||
                     last_vote_->voted_epoch != h.voted_epoch ||
                     last_vote_->voted_for != h.voted_for;
      last_vote_ = Vote{h.epoch, h.voted_epoch, h.voted_for};
    }
    replicator_->SetView(replication::ViewOf(*machine_));
    // A failed worker is idle too: never commit past its failure (the member stops instead).
    CollectStoreFailure();
    if (!failed_.ok()) {
      it->Abandon(failed_);
      return false;
    }
    if (!committer_->has_room()) {
      // The store thread is committing and holds the next job: this iteration joins that job
      // (group commit: it commits as soon as the store thread is free, with everything stepped
      // until then), or waits here when it cannot.
      if (committer_->Merge(*it)) continue;
      if (!committer_->has_room()) {
        held_ = std::move(it);
        return false;
      }
    }
    if (committer_->idle() && !it->replication.snapshot.has_value() &&
        it->replication.append.size() <= kInlineEntries) {
      // Nothing in flight and a small batch (a lone write, a follower's next entry, a
      // heartbeat): the loop commits it itself, without the hand-over to the store thread and
      // back. Larger batches go to the store thread, so the loop steps on during their flush.
      if (!vote_changed) ReleaseEarly(*it);
      if (!it->persist.empty()) {
        if (absl::Status s = storage_->Commit(it->persist); !s.ok()) {
          Fail(s);
          it->Abandon(failed_);
          return false;
        }
      }
      it->Release();
      continue;
    }
    committer_->Submit(std::move(it));
  }
  return held_ != nullptr ? committer_->has_room()
                          : machine_->HasReady() || replicator_->HasReady();
}

// A batch the loop commits itself, every earlier one durable (the store thread idle), that
// changes neither the epoch nor a vote: two things of it need not wait for its commit. In
// quorum mode a primary's appends leave now, so the members write their copies while it writes
// its own (Raft's parallel leader write; their replies are stepped only after this commit, as
// the replicator counts the primary's own copy as durable). Not in array mode, where members
// apply what they receive at once: a write refused there for a failed commit must reach
// nobody. And a batch that appends nothing answers the writes it completes now: their entries
// are durable already (earlier batches, the members' replies); this batch records the applied
// position, which a restart rebuilds from the log.
void Node::Impl::ReleaseEarly(Iteration& it) {
  if (!it.failover_messages.empty() || !it.after_commit.empty()) return;  // they go first
  replication::Ready& r = it.replication;
  const bool quorum =
      machine_->hard_state().formation.resilience.mode == model::ResilienceMode::kQuorum;
  std::vector<replication::Message> later;
  for (replication::Message& m : r.messages) {
    if (quorum && m.type == replication::MessageType::kAppend) {
      std::string to = m.to;
      transport_->Send(to, std::move(m));
    } else {
      later.push_back(std::move(m));
    }
  }
  r.messages = std::move(later);
  if (r.append.empty() && !r.snapshot.has_value() && !r.truncate_after.has_value()) {
    for (auto& [call, completion] : it.completions) {
      call->Finish(std::move(completion.status), PositionText(completion.position));
    }
    it.completions.clear();
  }
}

void Node::Impl::AbandonHeld(const absl::Status& why) {
  if (held_ != nullptr) std::exchange(held_, nullptr)->Abandon(why);
}

// Makes everything stepped so far durable and released: no batch in flight, nothing ready.
void Node::Impl::Settle() {
  for (int pass = 0; pass < kMaxReadyRounds && failed_.ok(); ++pass) {
    committer_->WaitIdle();
    CollectStoreFailure();
    if (!failed_.ok()) return;
    HandleReady();
    if (committer_->idle() && held_ == nullptr && !machine_->HasReady() &&
        !replicator_->HasReady() && !identity_to_persist_ && !hard_state_to_persist_ &&
        !HasJoinWork()) {
      return;
    }
  }
  if (failed_.ok()) committer_->WaitIdle();
  CollectStoreFailure();
}

// A failed commit stops the member: its job's calls get the member's failure, nothing of it or
// after it leaves.
void Node::Impl::CollectStoreFailure() {
  absl::Status failure = committer_->failure();
  if (failure.ok()) return;
  if (failed_.ok()) Fail(failure);
  // Always: a job may join the failed ones after the member already stopped for another reason.
  for (auto& job : committer_->TakeFailedJobs()) job->Abandon(failed_);
}

void Node::Impl::Fail(const absl::Status& status) {
  // A store that cannot commit stops the member: nothing more is sent or acknowledged.
  {
    std::lock_guard lock(mu_);
    failed_ = WithReason(absl::DataLossError(absl::StrCat(
                             options_.name, " stopped: its store failed: ", status.message())),
                         "store_failed");
  }
  for (auto& [id, call] : pending_) call->Finish(failed_);
  pending_.clear();
  for (auto& [call, answer] : answers_after_commit_) call->Finish(failed_);
  answers_after_commit_.clear();
  AbandonHeld(failed_);
  failover::TimelineEntry entry;
  entry.member = options_.name;
  entry.event = "store_failed";
  entry.epoch = machine_->epoch();
  entry.reason = std::string(status.message());
  PostEvent(entry, WallNow());
}

void Node::Impl::PostEvent(const failover::TimelineEntry& e, absl::Time at) {
  json doc{{"event", e.event},
           {"member", e.member},
           {"reason", e.reason},
           {"epoch", e.epoch},
           {"at", ji::FormatRfc3339(at)}};
  if (!e.code.empty()) doc["code"] = e.code;
  std::string text = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  {
    std::lock_guard lock(events_mu_);
    kept_.push_back(text);  // TakeEvents sees it at once, before the callback ran
    if (kept_.size() > kMaxKeptEvents) kept_.pop_front();
    if (options_.on_event) to_dispatch_.push_back(std::move(text));
  }
  events_cv_.notify_one();
}

void Node::Impl::Dispatch() {
  std::unique_lock lock(events_mu_);
  while (true) {
    events_cv_.wait(lock, [&] { return dispatcher_stop_ || !to_dispatch_.empty(); });
    if (to_dispatch_.empty()) return;  // stopping, and everything was delivered
    std::string event = std::move(to_dispatch_.front());
    to_dispatch_.pop_front();
    lock.unlock();
    options_.on_event(event);
    lock.lock();
  }
}

std::vector<std::string> Node::Impl::TakeEvents() {
  std::lock_guard lock(events_mu_);
  std::vector<std::string> out(kept_.begin(), kept_.end());
  kept_.clear();
  return out;
}

json Node::Impl::StatusJson() {
  const failover::MemberMachine& m = *machine_;
  const failover::HardState& h = m.hard_state();
  const replication::Replicator& r = *replicator_;
  bool primary = m.role() == failover::Role::kPrimary;
  json members = json::array();
  std::map<std::string, std::uint64_t> matched;
  if (primary) {
    for (const auto& [name, index] : r.progress()) matched[CanonicalName(name)] = index;
  }
  std::uint64_t last = r.last_position().index;
  const std::vector<std::string> planned = PlannedMembers();
  for (const std::string& name : h.formation.members) {
    json member{{"name", name},
                {"role", name == h.formation.primary ? "primary" : "secondary"},
                {"contactable", std::find(h.uncontactable.begin(), h.uncontactable.end(), name) ==
                                    h.uncontactable.end()},
                {"planned", std::find(planned.begin(), planned.end(), name) != planned.end()}};
    if (primary) {
      auto it = matched.find(CanonicalName(name));
      if (it != matched.end()) {
        member["applied_index"] = it->second;
        member["lag"] = last >= it->second ? last - it->second : 0;
      } else {
        member["applied_index"] = nullptr;
        member["lag"] = nullptr;
      }
    }
    members.push_back(std::move(member));
  }
  json certificates = json::array();
  json trusted = json::array();  // the trusted CAs: fingerprint, expiry, renewal
  auto stored = storage_->LoadCertificates();
  if (stored.ok()) {
    for (const CertificateStatus& c : *stored) {
      if (absl::StartsWith(c.name, kCaCertificatePrefix)) {
        trusted.push_back(
            json{{"fingerprint", c.name.substr(std::string_view(kCaCertificatePrefix).size())},
                 {"expires_at", ji::FormatRfc3339(c.not_after)},
                 {"renewal_at", ji::FormatRfc3339(c.renewal_at)}});
      }
      certificates.push_back(json{{"name", c.name},
                                  {"role", c.role},
                                  {"not_before", ji::FormatRfc3339(c.not_before)},
                                  {"expires_at", ji::FormatRfc3339(c.not_after)},
                                  {"renewal_at", ji::FormatRfc3339(c.renewal_at)}});
    }
  }
  return json{
      {"name", options_.name},
      {"role", failover::ToString(m.role())},
      {"stage", failover::ToString(m.stage())},
      {"primary", h.formation.primary},
      {"members", std::move(members)},
      {"backup_primaries", h.formation.backup_primaries},
      {"uncontactable", h.uncontactable},
      {"epoch", h.epoch},
      {"repaired", h.repaired},
      {"manual_recovery_required", h.manual_recovery_required},
      {"original_formation", h.original ? FormationJson(*h.original) : json()},
      {"writable", m.writable()},
      {"mode", h.formation.resilience.mode == model::ResilienceMode::kQuorum ? "quorum" : "array"},
      {"resilience", model::ToJson(h.formation.resilience)},
      {"log", PositionJson(r.last_position())},
      {"applied", PositionJson(r.applied_position())},
      {"conflicts", r.repository().conflicts.size()},
      {"conflict_records", ConflictRecords(r.repository())},
      {"certificates", stored.ok() ? certificates : json()},
      {"ca_fingerprint", credentials_.ca_fingerprint},
      {"revoked_serials", RevokedSerials(r.repository())},
      {"links", json::parse(transport_->LinksJson(), nullptr, /*allow_exceptions=*/false)},
      {"holds_ca_key", credentials_.authority.has_value()},
      {"ca_current", CaRecordOf(kCurrentCaKey).value_or(PresentedCa()).fingerprint},
      {"trusted_cas", std::move(trusted)},
      {"ca_rollover", RolloverJson()},
  };
}

// ---- join (docs/node.md "Join"; lib/core/ops/join.h steps 0-7) ---------------------------------

void Node::Impl::PostJoinEvent(std::string_view event, const std::string& reason,
                               const absl::Status& why) {
  failover::TimelineEntry entry;
  entry.member = options_.name;
  entry.event = std::string(event);
  entry.epoch = machine_->epoch();
  entry.reason = reason;
  if (!why.ok()) entry.code = ReasonOf(why);
  PostEvent(entry, WallNow());
}

std::optional<model::Member> Node::Impl::DescriptionOf(const std::string& name) const {
  if (CanonicalName(name) == CanonicalName(options_.name)) return self_member_;
  const auto& records = replicator_->repository().records;
  auto it = records.find(replication::Key{kDescriptionCategory, DescriptionKey(name)});
  if (it != records.end() && !it->second.deleted) {
    json doc = json::parse(it->second.value, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_discarded()) {
      auto member = model::MemberFromJson(doc, "member");
      if (member.ok()) return *std::move(member);
    }
  }
  for (const model::Member& m : configured_) {
    if (CanonicalName(m.name) == CanonicalName(name)) return m;
  }
  return std::nullopt;
}

void Node::Impl::WriteDescriptions(const std::vector<model::Member>& members) {
  const auto& records = replicator_->repository().records;
  for (const model::Member& m : members) {
    std::string value = model::ToJson(m).dump();
    std::string key = DescriptionKey(m.name);
    auto it = records.find(replication::Key{kDescriptionCategory, key});
    if (it != records.end() && !it->second.deleted && it->second.value == value) continue;
    // No host call waits for it: the completion finds no pending call and is dropped.
    replicator_->Write(next_request_++, kDescriptionCategory, std::move(key), std::move(value),
                       replication::Wait::kPrimary);
  }
}

ops::PrimaryView Node::Impl::PrimaryViewNow() const {
  std::vector<model::Member> members;
  for (const std::string& name : machine_->hard_state().formation.members) {
    if (auto m = DescriptionOf(name); m.has_value()) members.push_back(*std::move(m));
  }
  ops::PrimaryView view = ops::ViewOfPrimary(*machine_, std::move(members), self_member_.version);
  view.planned = PlannedMembers();
  return view;
}

std::vector<std::string> Node::Impl::PlannedMembers() const {
  std::vector<std::string> planned;
  const auto& records = replicator_->repository().records;
  for (const std::string& name : machine_->hard_state().formation.members) {
    const std::string canonical = CanonicalName(name);
    if (canonical == CanonicalName(options_.name) || heard_.contains(canonical)) continue;
    auto issued = records.find(replication::Key{kDescriptionCategory, CertificateKey(name)});
    if (issued == records.end() || issued->second.deleted) planned.push_back(name);
  }
  return planned;
}

void Node::Impl::IssueJoinToken(absl::Duration ttl, const std::shared_ptr<Call>& call) {
  unsigned char random[32];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    call->Finish(absl::InternalError("the crypto library's RNG failed"));
    return;
  }
  auto token = join_tokens_.Issue(
      std::string_view(reinterpret_cast<const char*>(random), sizeof(random)), WallNow(), ttl);
  OPENSSL_cleanse(random, sizeof(random));
  if (!token.ok()) {
    call->Finish(token.status());
    return;
  }
  call->Finish(absl::OkStatus(), *std::move(token));
}

void Node::Impl::ReportCaFingerprint(const std::shared_ptr<Call>& call) {
  call->Finish(absl::OkStatus(), credentials_.ca_fingerprint);
}

void Node::Impl::StartJoin(ops::JoinRequest request, absl::Time deadline,
                           const std::shared_ptr<Call>& call) {
  const absl::Time now = WallNow();
  // The host call's deadline is on the real clock.
  if (join_.has_value() && absl::Now() >= join_->deadline) join_.reset();  // its caller gave up
  ops::PrimaryView view = PrimaryViewNow();
  if (join_.has_value()) {
    view.busy_reason = absl::StrCat("the join of ", join_->request.joiner, " is under way");
  } else if (auto next = CaRecordOf(kNextCaKey); next.has_value()) {
    view.busy_reason = absl::StrCat("the CA rollover to ", next->fingerprint,
                                    " is under way (a member joins once it is activated)");
  }
  absl::Status checked = ops::CheckJoinRequest(view, request);
  if (checked.ok() && !credentials_.authority.has_value()) {
    checked = MakeError(absl::StatusCode::kFailedPrecondition, "no_ca_key",
                        absl::StrCat("join refused: ", options_.name,
                                     " does not hold its array's CA key (it became primary "
                                     "without a CA rollover), so it cannot sign the joiner's "
                                     "certificate"));
  }
  if (!checked.ok()) {
    PostJoinEvent("join_refused", std::string(checked.message()), checked);
    call->Finish(checked);
    return;
  }
  PendingJoin pending;
  pending.fingerprint = *pki::NormalizeFingerprint(request.confirmed_fingerprint);
  pending.request = std::move(request);
  pending.call = call;
  pending.deadline = deadline;
  // Step 2-3: the hello goes only to a member presenting the confirmed CA (the pin).
  ops::JoinHello hello = ops::MakeJoinHello(view, pending.request, now,
                                            credentials_.authority->certificate_pem());
  std::string to = pending.request.joiner;
  std::string fingerprint = pending.fingerprint;
  join_ = std::move(pending);
  transport_->SendPinned(to, fingerprint, std::move(hello));
}

void Node::Impl::FinishJoin(absl::Status status, std::string result) {
  if (!join_.has_value()) return;
  if (status.ok()) {
    PostJoinEvent("join_completed", absl::StrCat(join_->request.joiner, " joined the array"),
                  status);
  } else {
    PostJoinEvent("join_refused", std::string(status.message()), status);
  }
  join_->call->Finish(std::move(status), std::move(result));
  join_.reset();
}

void Node::Impl::OnLinkError(const std::string& from, const LinkError& error) {
  if (!join_.has_value() || CanonicalName(from) != CanonicalName(join_->request.joiner)) return;
  if (error.reason == "fingerprint_mismatch") {
    absl::Status pin = ops::CheckPin(join_->request, error.presented_ca_fingerprint);
    if (pin.ok()) pin = absl::InternalError("the transport refused a matching CA fingerprint");
    if (join_->admitted) {
      // The admission did not reach the joiner: the formation change is undone.
      machine_->RemoveMember(join_->request.joiner).IgnoreError();
      replicator_->SetView(replication::ViewOf(*machine_));
    }
    FinishJoin(pin);
    return;
  }
  std::string undone;
  if (join_->admitted) {
    machine_->RemoveMember(join_->request.joiner).IgnoreError();
    replicator_->SetView(replication::ViewOf(*machine_));
    undone = "; it was removed from the formation again";
  }
  if (error.reason == "contact_refused") {
    FinishJoin(MakeError(
        absl::StatusCode::kFailedPrecondition, "joiner_not_standalone",
        absl::StrCat("join refused: ", join_->request.joiner, " presented the expected CA but "
                     "refused ", options_.name, "'s certificate: it is in an array (a member "
                     "admits only its array's members; detach it or run array clean on it "
                     "first), or it does not accept this certificate (its status, links, "
                     "last_refusal says why)", undone)));
    return;
  }
  FinishJoin(MakeError(absl::StatusCode::kUnavailable, "not_contactable",
                       absl::StrCat("join refused: ", join_->request.joiner,
                                    " cannot be reached", undone)));
}

void Node::Impl::OnJoinReply(const std::string& from, ops::JoinReply& reply) {
  if (!join_.has_value() || join_->admitted ||
      CanonicalName(from) != CanonicalName(join_->request.joiner)) {
    return;  // not the answer to the join under way
  }
  const absl::Time now = WallNow();
  if (absl::Now() >= join_->deadline) {
    join_.reset();  // its caller already gave up: nothing is written
    return;
  }
  ops::PrimaryView view = PrimaryViewNow();
  // The pin held (the hello was delivered), so the joiner presented the confirmed CA.
  absl::StatusOr<ops::JoinDecision> decision =
      ops::CheckJoin(view, join_->request, join_->fingerprint, reply, now);
  if (!decision.ok()) {
    FinishJoin(decision.status());
    return;
  }
  // Step 5: the PKI join plan, in order. Nothing is written before add_member, its last step.
  std::string certificate;
  std::string issued_serial;
  absl::Time issued_until;
  for (const pki::RotationStep& step : decision->plan.steps) {
    switch (step.kind) {
      case pki::StepKind::kTrustCa:
        break;  // the joiner installs the CA carried by JoinAdmit
      case pki::StepKind::kIssueCertificate: {
        pki::PeerCertificateOptions options;
        for (const model::Member& m : decision->result.members) {
          options.member_names.push_back(m.name);
        }
        options.expected_name = join_->request.joiner;
        auto issued = credentials_.authority->IssuePeerCertificate(reply.csr_pem, options, now);
        if (!issued.ok()) {
          FinishJoin(issued.status());
          return;
        }
        certificate = std::move(issued->pem);
        issued_serial = issued->info.serial_hex;
        issued_until = issued->info.not_after;
        break;
      }
      case pki::StepKind::kAddMember: {
        if (certificate.empty()) {
          FinishJoin(absl::InternalError("join plan: add_member before issue_certificate"));
          return;
        }
        absl::Status added =
            decision->planned
                ? machine_->AdmitPlanned(join_->request.joiner, reply.epoch)
                : machine_->AddMember(join_->request.joiner, decision->voter, reply.epoch);
        if (!added.ok()) {
          FinishJoin(added);
          return;
        }
        break;
      }
      default:
        FinishJoin(absl::InternalError(absl::StrCat("join plan: unexpected step ",
                                                    std::string(pki::ToString(step.kind)))));
        return;
    }
  }
  replicator_->SetView(replication::ViewOf(*machine_));
  // The members' descriptions (the joiner's and any not yet recorded) go into the repository,
  // in the same transaction as the new formation.
  WriteDescriptions(decision->result.members);
  WriteInternal(CertificateKey(join_->request.joiner),
                json{{"serial", issued_serial}, {"not_after", ji::FormatRfc3339(issued_until)}}
                    .dump());
  join_->admitted = true;
  join_->findings = decision->findings;
  // Step 6: sent once the new formation is durable (Iteration::Release, pinned again).
  after_commit_.push_back(
      Outgoing{join_->request.joiner, join_->fingerprint,
               ops::MakeJoinAdmit(*machine_, join_->request, std::move(certificate),
                                  credentials_.authority->certificate_pem())});
}

void Node::Impl::OnJoinAdmitted(const std::string& from, const ops::JoinAdmitted& admitted) {
  if (!join_.has_value() || !join_->admitted ||
      CanonicalName(from) != CanonicalName(join_->request.joiner)) {
    return;
  }
  absl::Status status = ops::FromWire(admitted.status);
  if (!status.ok()) {
    // The joiner refused its admission and wrote nothing: undo add_member.
    machine_->RemoveMember(join_->request.joiner).IgnoreError();
    replicator_->SetView(replication::ViewOf(*machine_));
    FinishJoin(status);
    return;
  }
  json warnings = json::array();
  for (const placement::Finding& f : join_->findings) {
    if (f.severity != placement::Severity::kError) {
      warnings.push_back(json{{"code", f.code}, {"message", f.message}});
    }
  }
  const failover::HardState& h = machine_->hard_state();
  json result{{"joined", join_->request.joiner},
              {"epoch", h.epoch},
              {"members", h.formation.members},
              {"warnings", std::move(warnings)}};
  FinishJoin(absl::OkStatus(), result.dump());
}

void Node::Impl::OnJoinHello(const std::string& from, ops::JoinHello& hello) {
  hello.primary = from;  // the transport names the sender
  const absl::Time now = WallNow();
  const ops::JoinerView view = ops::ViewOfJoiner(*machine_, self_member_);
  absl::Status checked = ops::CheckJoinHello(view, hello, now, join_tokens_);
  ops::JoinReply reply;
  if (checked.ok()) {
    // Step 4: a fresh key and a CSR; the key stays here, nothing is written yet.
    auto request = pki::CreateKeyAndCsr(pki::KeyType::kEcdsaP256, options_.name);
    if (request.ok()) {
      reply = ops::AcceptJoinHello(view, now, request->csr_pem);
      hello_ = PendingHello{hello, now, std::move(request->private_key_pem)};
    } else {
      checked = request.status();
    }
  }
  if (!checked.ok()) {
    PostJoinEvent("join_refused", std::string(checked.message()), checked);
    reply = ops::RefuseJoinHello(view, now, checked);
  }
  transport_->Send(from, std::move(reply));
}

void Node::Impl::RefuseAdmit(const std::string& to, const absl::Status& why) {
  PostJoinEvent("join_refused", std::string(why.message()), why);
  transport_->Send(to, ops::JoinAdmitted{options_.name, ops::ToWire(why)});
}

void Node::Impl::OnJoinAdmit(const std::string& from, ops::JoinAdmit& admit) {
  const absl::Time now = WallNow();
  if (!hello_.has_value()) {
    RefuseAdmit(from, MakeError(absl::StatusCode::kFailedPrecondition, "no_join_pending",
                                absl::StrCat("join refused: ", options_.name,
                                             " accepted no join hello from ", from)));
    return;
  }
  if (CanonicalName(from) != CanonicalName(hello_->hello.primary)) {
    RefuseAdmit(from, MakeError(absl::StatusCode::kPermissionDenied, "name_mismatch",
                                absl::StrCat("join refused: the admission comes from ", from,
                                             ", the hello came from ",
                                             hello_->hello.primary)));
    return;
  }
  admit.primary = from;
  PendingHello pending = std::move(*hello_);
  hello_.reset();  // one admission per hello, whatever its outcome
  const ops::JoinerView view = ops::ViewOfJoiner(*machine_, self_member_);
  absl::Status checked = ops::CheckJoinAdmit(view, pending.hello, admit);
  if (checked.ok() && admit.ca_certificate_pem != pending.hello.ca_certificate_pem) {
    checked = absl::InvalidArgumentError(
        "join refused: the admission carries another CA than the hello");
  }
  absl::StatusOr<NewCredentials> adopted = absl::UnknownError("not reached");
  if (checked.ok()) {
    adopted = AdoptArrayCredentials(credentials_, options_.name, admit.ca_certificate_pem,
                                    std::move(pending.key), admit.certificate_pem, now);
    if (!adopted.ok()) checked = adopted.status();
  }
  // The token is used up only if the join happens: consumed on a copy first.
  ops::JoinTokens tokens = join_tokens_;
  if (checked.ok()) checked = tokens.Consume(pending.hello.token, pending.arrived);
  if (checked.ok()) checked = machine_->JoinArray(admit.formation, admit.epoch);
  if (!checked.ok()) {
    RefuseAdmit(from, checked);
    return;
  }
  // Admitted: one transaction (this iteration's batch) holds the new formation (the machine's
  // HardState), the array's CA, the new key and certificate, the retired CA and the emptied
  // repository; JoinAdmitted leaves after it committed.
  // The machine starts again from the joined HardState: a standalone machine keeps timing its
  // monitoring with its own array's interval (60 s by default) until that tick comes, while the
  // array's may be 50 ms. Its Ready (the HardState and the joined_array event) goes with it:
  // the HardState is persisted from here, the event posted below.
  const failover::HardState joined = machine_->hard_state();
  auto restarted = failover::MemberMachine::Create(options_.name, joined, Now());
  if (!restarted.ok()) {
    Fail(restarted.status());
    return;
  }
  machine_.emplace(*std::move(restarted));
  hard_state_to_persist_ = joined;
  PostJoinEvent("joined_array",
                absl::StrCat(options_.name, " joined ", from, "'s array as a secondary (epoch ",
                             joined.epoch, ", ", joined.formation.members.size(), " members)"),
                absl::OkStatus());
  join_tokens_ = std::move(tokens);
  credentials_ = std::move(adopted->credentials);
  credentials_to_persist_ = std::move(adopted->change);
  // It trusts the array's CA only; its own CA was retired with its key.
  trusted_cas_ = {{credentials_.ca_fingerprint, credentials_.ca_certificate_pem}};
  held_cas_.clear();
  csr_.reset();
  if (absl::Status s = SecureLinks(); !s.ok()) {
    Fail(s);
    return;
  }
  ResetReplicator(absl::StrCat(options_.name, " joined ", from, "'s array"));
  after_commit_.push_back(Outgoing{from, "", ops::JoinAdmitted{options_.name, ops::WireStatus{}}});
}

void Node::Impl::ResetReplicator(const std::string& why) {
  // The standalone repository is not the array's: writes still waiting for acknowledgement are
  // dropped with it, and the primary sends the array's repository to the empty log.
  for (auto& [id, call] : pending_) {
    call->Finish(MakeError(ErrorCode::kNotPrimary,
                           absl::StrCat(why, "; this write was not acknowledged and is dropped "
                                             "with the standalone repository")));
  }
  pending_.clear();
  replicator_.emplace(options_.name, replication::Durable{});
  replicator_->SetView(replication::ViewOf(*machine_));
  machine_->LogChanged(replicator_->last_position());
}

// ---- leaving, make_primary and standalone credentials (docs/node.md "Detach and make_primary") --

void Node::Impl::WriteInternal(std::string key, std::string value_json) {
  // No host call waits for it: the completion finds no pending call and is dropped.
  replicator_->Write(next_request_++, kDescriptionCategory, std::move(key), std::move(value_json),
                     replication::Wait::kPrimary);
}

void Node::Impl::DeleteInternal(std::string key) {
  const auto& records = replicator_->repository().records;
  auto it = records.find(replication::Key{kDescriptionCategory, key});
  if (it == records.end() || it->second.deleted) return;
  replicator_->Delete(next_request_++, kDescriptionCategory, std::move(key),
                      replication::Wait::kPrimary);
}

void Node::Impl::AddCredentialChange(CredentialChange change) {
  if (!credentials_to_persist_.has_value()) {
    credentials_to_persist_ = std::move(change);
    return;
  }
  CredentialChange& into = *credentials_to_persist_;
  for (auto& secret : change.put_secrets) into.put_secrets.push_back(std::move(secret));
  for (auto& name : change.delete_secrets) into.delete_secrets.push_back(std::move(name));
  for (auto& cert : change.put_certificates) into.put_certificates.push_back(std::move(cert));
  for (auto& name : change.delete_certificates) into.delete_certificates.push_back(std::move(name));
  into.reset_repository = into.reset_repository || change.reset_repository;
}

void Node::Impl::TakeOwnCaIfStandalone() {
  // Standalone by leaving (detached, cleaned): not a member promoted alone in a repaired array,
  // whose members are on their way to it (or whose original primary may return) and still
  // present the array's certificates.
  const failover::HardState& h = machine_->hard_state();
  if (h.formation.members.size() != 1 || h.repaired || h.original.has_value() ||
      credentials_.authority.has_value()) {
    return;
  }
  TakeOwnCa(absl::StrCat(options_.name,
                         " is standalone: the array's key, certificate and CA are wiped; a "
                         "new key and a CA of its own replace them"));
}

void Node::Impl::TakeOwnCa(const std::string& why) {
  auto made = MakeStandaloneCredentials(options_.name, WallNow());
  if (!made.ok()) {
    Fail(made.status());
    return;
  }
  CredentialChange change = std::move(made->change);
  std::set<std::string> old;
  for (const auto& [fingerprint, pem] : trusted_cas_) old.insert(fingerprint);
  if (!credentials_.ca_fingerprint.empty()) old.insert(credentials_.ca_fingerprint);
  for (const std::string& fingerprint : old) {
    if (fingerprint == made->credentials.ca_fingerprint) continue;
    // The array's CAs are no longer trusted; a key of one (a rollover's) goes with it.
    change.delete_certificates.push_back(kCaCertificatePrefix + fingerprint);
    change.delete_secrets.push_back(kCaKeySecretPrefix + fingerprint);
  }
  AddCredentialChange(std::move(change));
  credentials_ = std::move(made->credentials);
  trusted_cas_ = {{credentials_.ca_fingerprint, credentials_.ca_certificate_pem}};
  held_cas_.clear();
  csr_.reset();
  if (transport_) {
    if (absl::Status s = SecureLinks(); !s.ok()) {
      Fail(s);
      return;
    }
  }
  failover::TimelineEntry entry;
  entry.member = options_.name;
  entry.event = "own_ca_created";
  entry.epoch = machine_->epoch();
  entry.reason = why;
  PostEvent(entry, WallNow());
}

void Node::Impl::DetachMember(const std::string& name, const std::shared_ptr<Call>& call) {
  // The leave plan when the array can be described (its steps, in order); the same two steps
  // otherwise (a configured array whose descriptions were never recorded).
  std::vector<pki::StepKind> steps = {pki::StepKind::kRemoveMember,
                                      pki::StepKind::kRevokeCertificate};
  if (auto array = ops::ArrayOf(PrimaryViewNow()); array.ok()) {
    if (auto plan = pki::PlanLeave(*array, name); plan.ok()) {
      steps.clear();
      for (const pki::RotationStep& step : plan->steps) steps.push_back(step.kind);
    }
  }
  for (pki::StepKind step : steps) {
    if (step == pki::StepKind::kRemoveMember) {
      absl::Status removed = machine_->RemoveMember(name);
      replicator_->SetView(replication::ViewOf(*machine_));
      if (!removed.ok()) {
        call->Finish(removed);
        return;
      }
    } else if (step == pki::StepKind::kRevokeCertificate) {
      // Recorded for the whole array in the repository: the serial the primary issued.
      const auto& records = replicator_->repository().records;
      auto it = records.find(replication::Key{kDescriptionCategory, CertificateKey(name)});
      if (it != records.end() && !it->second.deleted) {
        json issued = json::parse(it->second.value, nullptr, /*allow_exceptions=*/false);
        if (issued.is_object() && issued.contains("serial") && issued["serial"].is_string()) {
          WriteInternal(absl::StrCat(kRevokedKeyPrefix, issued["serial"].get<std::string>()),
                        json{{"member", name}, {"revoked_at", ji::FormatRfc3339(WallNow())}}
                            .dump());
        }
      }
      DeleteInternal(CertificateKey(name));
      DeleteInternal(DescriptionKey(name));
    }
  }
  call->Finish(absl::OkStatus());
}

void Node::Impl::TransferPrimary(const std::string& name, const std::shared_ptr<Call>& call) {
  const std::uint64_t last = replicator_->last_position().index;
  for (const auto& [member, matched] : replicator_->progress()) {
    if (CanonicalName(member) == CanonicalName(name) && matched < last) {
      call->Finish(MakeError(absl::StatusCode::kUnavailable, "not_synchronized",
                             absl::StrCat("make_primary refused: ", name, " holds the log through ",
                                          matched, ", the primary's ends at ", last,
                                          "; it must be synchronized first")));
      return;
    }
  }
  absl::Status transferred = machine_->MakePrimary(name);
  replicator_->SetView(replication::ViewOf(*machine_));
  call->Finish(transferred);
}

// ---- the new primary's CA rollover (docs/node.md "CA rollover"; pki::PlanNewPrimary) ----------

bool Node::Impl::IsWritablePrimary() const {
  return machine_->role() == failover::Role::kPrimary && machine_->writable();
}

const pki::CertificateAuthority* Node::Impl::HeldCa(const std::string& fingerprint) const {
  if (fingerprint.empty()) return nullptr;
  if (credentials_.authority.has_value() && credentials_.authority->fingerprint() == fingerprint) {
    return &*credentials_.authority;
  }
  auto it = held_cas_.find(fingerprint);
  return it == held_cas_.end() ? nullptr : &it->second;
}

void Node::Impl::PostCaEvent(std::string_view event, const std::string& reason) {
  failover::TimelineEntry entry;
  entry.member = options_.name;
  entry.event = std::string(event);
  entry.epoch = machine_->epoch();
  entry.reason = reason;
  PostEvent(entry, WallNow());
}

void Node::Impl::ReconcileCa() {
  if (!failed_.ok()) return;
  const failover::HardState& h = machine_->hard_state();
  // A standalone member holds a CA of its own (TakeOwnCaIfStandalone).
  if (h.formation.members.size() < 2) {
    RenewCertificates(std::nullopt);
    return;
  }
  const replication::Repository& repository = replicator_->repository();
  const std::optional<CaRecord> next = CaRecordOf(kNextCaKey);
  const std::optional<CaRecord> current = CaRecordOf(kCurrentCaKey);
  // trust_ca: the CAs the array names are trusted once this member applied their records.
  if (current.has_value()) TrustRecordedCa(*current);
  if (next.has_value()) TrustRecordedCa(*next);
  // A member still needs a certificate of the next CA until it holds one and the primary's
  // record of it is applied (a record the replicator refused is made again).
  const bool needs_certificate =
      next.has_value() && (credentials_.ca_fingerprint != next->fingerprint ||
                           IssuingCaOf(repository, options_.name) != next->fingerprint);
  const absl::Duration mono = Now().mono;
  if (IsWritablePrimary()) {
    // The array's current CA: the activated one, else the CA this member's certificate chains
    // to (an array formed by joins has no record until its first rollover). A primary holding
    // that CA's key records it, once: without the record a next CA that a failover abandoned
    // (a later primary replaced its record) would never count as a previous one, and each
    // failover before a rollover finished would leave one more CA trusted everywhere.
    if (!current.has_value() && !next.has_value() && mono >= publish_at_ &&
        HeldCa(credentials_.ca_fingerprint) != nullptr && !AwaitsOriginalPrimary() &&
        machine_->hard_state().formation.members.size() > 1) {
      const CaRecord own = PresentedCa();
      WriteInternal(kCurrentCaKey, json{{"fingerprint", own.fingerprint},
                                        {"certificate", own.certificate_pem},
                                        {"created_by", options_.name}}
                                       .dump());
      publish_at_ = mono + kCsrRetry;  // written again if the replicator refused it
    }
    const std::string current_ca = current ? current->fingerprint : credentials_.ca_fingerprint;
    const pki::CertificateAuthority* current_key = HeldCa(current_ca);
    const bool holds_next = next.has_value() && HeldCa(next->fingerprint) != nullptr;
    // A rollover is due when this primary lacks the current CA's key (a new primary), when
    // the next CA is one whose key it does not hold (an earlier primary's: replaced), or when
    // the current CA reached its renewal date.
    const bool ca_due = current_key != nullptr && WallNow() >= CaRenewalAt(*current_key);
    const bool roll_over = current_key == nullptr || next.has_value() || ca_due;
    // Records the replicator may still refuse right after a promotion are written again after
    // kCsrRetry when they did not arrive.
    if (!holds_next && roll_over) {
      if (HeldCa(created_next_) == nullptr) {
        CreateNextCa(ca_due ? "the array's CA reached its renewal date"
                            : "it is the primary without its array's CA key");  // create_ca
      } else if (mono >= publish_at_) {
        PublishNextCa();
      }
    } else if (holds_next && needs_certificate) {
      // issue_certificate for the primary itself, after every other member: a member that has
      // not applied the next record yet (it was away) refuses certificates of that CA, and only
      // its primary can send it the record. Its own renewal date does not wait.
      const std::vector<std::string> pending = PendingReissue(*next);
      const bool others_done = std::all_of(pending.begin(), pending.end(), [this](const auto& m) {
        return CanonicalName(m) == CanonicalName(options_.name);
      });
      if (mono >= own_issue_at_ && !AwaitsOriginalPrimary() &&
          (others_done || WallNow() >= PeerRenewalAt())) {
        own_issue_at_ = mono + kCsrRetry;
        if (absl::Status s = IssueOwnCertificate(*next); !s.ok()) Fail(s);
      }
    } else if (holds_next && mono >= activate_at_ && mono >= activate_not_before_) {
      ActivateNextCa(*next);  // once every member holds a certificate of the next CA
    } else if (!next.has_value()) {
      RenewCertificates(next);
    }
  } else if (needs_certificate && trusted_cas_.contains(next->fingerprint)) {
    if (!AwaitsOriginalPrimary()) RequestCertificate(*next);  // issue_certificate, retried
  } else if (!next.has_value()) {
    RenewCertificates(next);
  }
  // untrust_ca previous / retire_ca, once a CA was activated.
  if (current.has_value()) UntrustPreviousCas(*current, next);
}

std::optional<CaRecord> Node::Impl::CaRecordOf(const char* key) const {
  const auto& records = replicator_->repository().records;
  auto it = records.find(replication::Key{kDescriptionCategory, key});
  if (it == records.end() || it->second.deleted) return std::nullopt;
  ParsedCaRecord& parsed = ca_records_[key];
  if (parsed.origin.empty() || parsed.origin != it->second.origin) {
    parsed = ParsedCaRecord{it->second.origin, ParseCaRecord(it->second.value)};
  }
  return parsed.record;
}

absl::Time Node::Impl::PeerRenewalAt() {
  if (peer_renewal_of_ != credentials_.peer_certificate_pem) {
    auto info = pki::InspectCertificate(credentials_.peer_certificate_pem);
    // A certificate that cannot be read (never the case for one the store accepted) is renewed.
    peer_renewal_at_ = info.ok() ? pki::RenewalTime(info->not_before, info->not_after)
                                 : absl::InfinitePast();
    peer_renewal_of_ = credentials_.peer_certificate_pem;
  }
  return peer_renewal_at_;
}

absl::Time Node::Impl::CaRenewalAt(const pki::CertificateAuthority& ca) {
  auto [it, added] = ca_renewal_at_.try_emplace(ca.fingerprint());
  if (added) {
    auto info = pki::InspectCertificate(ca.certificate_pem());
    it->second =
        info.ok() ? pki::RenewalTime(info->not_before, info->not_after) : absl::InfinitePast();
  }
  return it->second;
}

CaRecord Node::Impl::PresentedCa() const {
  return CaRecord{credentials_.ca_fingerprint, credentials_.ca_certificate_pem, ""};
}

void Node::Impl::RenewCertificates(const std::optional<CaRecord>& next) {
  if (next.has_value()) return;  // a rollover reissues every certificate anyway
  const absl::Time now = WallNow();
  const absl::Duration mono = Now().mono;
  const bool standalone = machine_->hard_state().formation.members.size() < 2;
  if (standalone && credentials_.authority.has_value() &&
      now >= CaRenewalAt(*credentials_.authority)) {
    // Nobody else trusts a standalone member's CA: a fresh one replaces it.
    TakeOwnCa(absl::StrCat("the CA of standalone ", options_.name,
                           " reached its renewal date: a new key and CA replace it"));
    return;
  }
  if (now < PeerRenewalAt() || mono < renew_again_at_) return;
  const CaRecord issuer = PresentedCa();
  if (HeldCa(issuer.fingerprint) != nullptr) {
    if (!standalone && !IsWritablePrimary()) return;  // it signs once it is writable again
    if (absl::Status s = IssueOwnCertificate(issuer); !s.ok()) {
      renew_again_at_ = mono + kRenewalRetry;
      PostCaEvent("certificate_renewal_failed",
                  absl::StrCat(options_.name, " could not renew its certificate with CA ",
                               issuer.fingerprint, " (tried again in 10 minutes): ",
                               s.message()));
    }
    return;
  }
  if (standalone) return;  // unreachable: a standalone member holds its CA (TakeOwnCa...)
  RequestCertificate(issuer);  // to the primary, which holds the array's CA; retried
}

absl::Status Node::Impl::SecureLinks() {
  if (!transport_) return absl::OkStatus();
  LinkSecurity security;
  security.certificate_pem = credentials_.peer_certificate_pem;
  security.key_pem = credentials_.peer_key_pem.Clone();
  security.presented_ca_pem = credentials_.ca_certificate_pem;
  std::string summary = absl::StrCat(security.certificate_pem, "|");
  for (const auto& [fingerprint, pem] : trusted_cas_) {
    security.trusted_ca_pems.push_back(pem);
    absl::StrAppend(&summary, fingerprint, ",");
  }
  // The members it admits: its formation's, and the original formation's while a recovery
  // may bring the original primary back.
  const failover::HardState& h = machine_->hard_state();
  std::set<std::string> members;
  for (const std::string& m : h.formation.members) members.insert(CanonicalName(m));
  if (h.original.has_value()) {
    for (const std::string& m : h.original->members) members.insert(CanonicalName(m));
  }
  members.erase(CanonicalName(options_.name));
  absl::StrAppend(&summary, "|");
  for (const std::string& m : members) {
    security.members.push_back(m);
    absl::StrAppend(&summary, m, ",");
  }
  absl::StrAppend(&summary, "|");
  for (const json& serial : RevokedSerials(replicator_->repository())) {
    security.revoked_serials.push_back(serial.get<std::string>());
    absl::StrAppend(&summary, security.revoked_serials.back(), ",");
  }
  security.standalone = h.formation.members.size() < 2;
  absl::StrAppend(&summary, "|", security.standalone ? "standalone" : "array");
  if (summary == secured_) return absl::OkStatus();
  if (absl::Status s = transport_->Secure(security); !s.ok()) return s;
  secured_ = std::move(summary);
  return absl::OkStatus();
}

void Node::Impl::TrustRecordedCa(const CaRecord& record) {
  if (trusted_cas_.contains(record.fingerprint)) return;
  auto change = TrustCa(record.fingerprint, record.certificate_pem);
  if (!change.ok()) return;  // a record that does not hold the CA it names is not trusted
  AddCredentialChange(*std::move(change));
  trusted_cas_[record.fingerprint] = record.certificate_pem;
}

void Node::Impl::CreateNextCa(const std::string& why) {
  auto made = MakeArrayCa(options_.name, WallNow());
  if (!made.ok()) {
    Fail(made.status());
    return;
  }
  const std::string fingerprint = made->authority.fingerprint();
  // The key and the trust go in this iteration's batch, with the record that publishes the CA.
  AddCredentialChange(std::move(made->change));
  trusted_cas_[fingerprint] = made->authority.certificate_pem();
  held_cas_.emplace(fingerprint, std::move(made->authority));
  created_next_ = fingerprint;
  PublishNextCa();
  PostCaEvent("ca_created", absl::StrCat(options_.name, ": ", why, "; it created CA ",
                                         fingerprint, " and every member is reissued by it"));
}

void Node::Impl::PublishNextCa() {
  const pki::CertificateAuthority* ca = HeldCa(created_next_);
  if (ca == nullptr) return;
  WriteInternal(kNextCaKey, json{{"fingerprint", created_next_},
                                 {"certificate", ca->certificate_pem()},
                                 {"created_by", options_.name}}
                                .dump());
  publish_at_ = Now().mono + kCsrRetry;
}

bool Node::Impl::AwaitsOriginalPrimary() const {
  const failover::HardState& h = machine_->hard_state();
  return h.original.has_value() && h.repaired && !h.manual_recovery_required &&
         !h.recovery_declined &&
         h.formation.resilience.primary_return_action != model::PrimaryReturnAction::kNone;
}

absl::StatusOr<std::string> Node::Impl::SignMemberCsr(const std::string& member,
                                                        const std::string& csr_pem,
                                                        const std::string& ca_fingerprint) {
  const bool standalone = machine_->hard_state().formation.members.size() < 2;
  if (!standalone && member != options_.name && AwaitsOriginalPrimary()) {
    return MakeError(absl::StatusCode::kFailedPrecondition, "busy",
                     absl::StrCat(options_.name, " issues no certificates while the array waits "
                                  "for its original primary ",
                                  machine_->hard_state().original->primary,
                                  " to return (recovery stage)"));
  }
  const std::optional<CaRecord> next = standalone ? std::nullopt : CaRecordOf(kNextCaKey);
  const std::optional<CaRecord> current = standalone ? std::nullopt : CaRecordOf(kCurrentCaKey);
  // During a rollover only the next CA signs; otherwise the current one (renewals).
  const std::string signer = next.has_value()      ? next->fingerprint
                             : current.has_value() ? current->fingerprint
                                                   : credentials_.ca_fingerprint;
  const pki::CertificateAuthority* ca = HeldCa(ca_fingerprint);
  if (ca_fingerprint != signer || ca == nullptr) {
    return MakeError(
        absl::StatusCode::kFailedPrecondition, "no_ca_key",
        absl::StrCat(options_.name, " does not hold the key of CA ", ca_fingerprint, " as the array's ",
                     next.has_value() ? "next" : "current", " CA"));
  }
  pki::PeerCertificateOptions options;
  options.member_names = machine_->hard_state().formation.members;
  options.expected_name = member;  // the sender as the transport names it
  auto issued = ca->IssuePeerCertificate(csr_pem, options, WallNow());
  if (!issued.ok()) return issued.status();
  WriteInternal(CertificateKey(member), json{{"serial", issued->info.serial_hex},
                                             {"not_after", ji::FormatRfc3339(issued->info.not_after)},
                                             {"ca", ca_fingerprint}}
                                            .dump());
  activate_not_before_ = Now().mono + kIdentityReload;
  PostCaEvent("certificate_issued",
              absl::StrCat("CA ", ca_fingerprint, " issued certificate ", issued->info.serial_hex,
                           " to ", member));
  return std::move(issued->pem);
}

absl::Status Node::Impl::InstallReissued(const CaRecord& ca, pki::SecretString key,
                                         const std::string& certificate_pem) {
  auto adopted = AdoptReissuedCertificate(options_.name, ca.certificate_pem, std::move(key),
                                          certificate_pem, WallNow());
  if (!adopted.ok()) return adopted.status();
  // A CA key this member held stays held (and stored) until that CA is retired.
  if (credentials_.authority.has_value()) {
    held_cas_.emplace(credentials_.ca_fingerprint, std::move(*credentials_.authority));
    credentials_.authority.reset();
  }
  Credentials reissued = std::move(adopted->credentials);
  if (auto it = held_cas_.find(reissued.ca_fingerprint); it != held_cas_.end()) {
    reissued.authority.emplace(std::move(it->second));
    held_cas_.erase(it);
  }
  const bool renewal = reissued.ca_fingerprint == credentials_.ca_fingerprint;
  credentials_ = std::move(reissued);
  AddCredentialChange(std::move(adopted->change));
  if (renewal) {
    auto info = pki::InspectCertificate(credentials_.peer_certificate_pem);
    PostCaEvent("certificate_renewed",
                absl::StrCat(options_.name, " renewed its certificate with CA ",
                             credentials_.ca_fingerprint, info.ok() ? "; it expires " : "",
                             info.ok() ? ji::FormatRfc3339(info->not_after) : ""));
  }
  return SecureLinks();
}

absl::Status Node::Impl::IssueOwnCertificate(const CaRecord& ca) {
  auto request = pki::CreateKeyAndCsr(pki::KeyType::kEcdsaP256, options_.name);
  if (!request.ok()) return request.status();
  auto certificate = SignMemberCsr(options_.name, request->csr_pem, ca.fingerprint);
  if (!certificate.ok()) return certificate.status();
  return InstallReissued(ca, std::move(request->private_key_pem), *certificate);
}

void Node::Impl::RequestCertificate(const CaRecord& next) {
  const std::string& primary = machine_->hard_state().formation.primary;
  if (primary.empty() || CanonicalName(primary) == CanonicalName(options_.name)) return;
  const absl::Duration now = Now().mono;
  const bool same = csr_.has_value() && csr_->ca_fingerprint == next.fingerprint &&
                    CanonicalName(csr_->primary) == CanonicalName(primary);
  if (same && now < csr_->sent_at + kCsrRetry) return;  // answered soon, or asked again then
  auto request = pki::CreateKeyAndCsr(pki::KeyType::kEcdsaP256, options_.name);
  if (!request.ok()) return;  // asked again at the next iteration
  // A fresh key per request: a late answer to an earlier one does not fit it and is dropped.
  csr_ = PendingCsr{next.fingerprint, primary, std::move(request->private_key_pem), now, false};
  // After this iteration's batch, which holds the trust of the next CA.
  after_commit_.push_back(
      Outgoing{primary, "", CsrRequest{std::move(request->csr_pem), next.fingerprint}});
}

void Node::Impl::OnCsrRequest(const std::string& from, const CsrRequest& request) {
  absl::StatusOr<std::string> certificate = absl::UnknownError("not reached");
  if (!IsWritablePrimary()) {
    certificate = MakeError(ErrorCode::kNotPrimary,
                            absl::StrCat(options_.name, " is not the writable primary"));
  } else {
    certificate = SignMemberCsr(from, request.csr_pem, request.ca_fingerprint);
  }
  if (!certificate.ok()) {
    // Refused at once; nothing was written.
    transport_->Send(from, CsrReply{request.ca_fingerprint, "", ops::ToWire(certificate.status())});
    return;
  }
  // The issued serial is recorded in this iteration's batch; the certificate leaves after it.
  after_commit_.push_back(
      Outgoing{from, "", CsrReply{request.ca_fingerprint, *std::move(certificate), {}}});
}

void Node::Impl::OnCsrReply(const std::string& from, const CsrReply& reply) {
  if (!csr_.has_value() || reply.ca_fingerprint != csr_->ca_fingerprint ||
      CanonicalName(from) != CanonicalName(csr_->primary)) {
    return;  // not the answer to this member's request
  }
  // A refusal, or a certificate that does not fit: the request is made again on its timer.
  if (!ops::FromWire(reply.status).ok()) return;
  // The rollover's next CA, or (a renewal) the CA this member's certificate chains to.
  const std::optional<CaRecord> next = CaRecordOf(kNextCaKey);
  std::optional<CaRecord> issuer;
  if (next.has_value() && next->fingerprint == reply.ca_fingerprint) {
    issuer = next;
  } else if (!next.has_value() && reply.ca_fingerprint == credentials_.ca_fingerprint) {
    issuer = PresentedCa();
  }
  if (!issuer.has_value()) return;
  if (csr_->answered) return;  // installed already; its record is on its way
  if (!InstallReissued(*issuer, csr_->key.Clone(), reply.certificate_pem).ok()) return;
  // Kept (without its key) until the retry time: asked again only if the primary's record of
  // this certificate does not arrive by then.
  csr_->answered = true;
  csr_->key = pki::SecretString();
}

std::vector<std::string> Node::Impl::RolloverMembers() const {
  const failover::HardState& h = machine_->hard_state();
  std::vector<std::string> members = h.formation.members;
  // A repaired array whose recovery may bring the original formation back waits for its
  // members too: retiring the CA they present would lock them out when they return.
  if (AwaitsOriginalPrimary()) {
    for (const std::string& m : h.original->members) {
      if (std::find(members.begin(), members.end(), m) == members.end()) members.push_back(m);
    }
  }
  return members;
}

std::vector<std::string> Node::Impl::PendingReissue(const CaRecord& next) const {
  const replication::Repository& repository = replicator_->repository();
  std::vector<std::string> pending;
  for (const std::string& member : RolloverMembers()) {
    if (IssuingCaOf(repository, member) != next.fingerprint) pending.push_back(member);
  }
  return pending;
}

void Node::Impl::ActivateNextCa(const CaRecord& next) {
  if (!PendingReissue(next).empty()) return;
  WriteInternal(kCurrentCaKey, json{{"fingerprint", next.fingerprint},
                                    {"certificate", next.certificate_pem},
                                    {"created_by", next.created_by}}
                                   .dump());
  DeleteInternal(kNextCaKey);
  activate_at_ = Now().mono + kCsrRetry;
  if (activated_ == next.fingerprint) return;  // written again: reported once
  activated_ = next.fingerprint;
  PostCaEvent("ca_activated", absl::StrCat("CA ", next.fingerprint,
                                           " is the array's CA: every member holds a "
                                           "certificate it issued"));
}

void Node::Impl::UntrustPreviousCas(const CaRecord& current, const std::optional<CaRecord>& next) {
  // While the recovery may bring the original formation back, its members may present a
  // certificate of a CA this array no longer names (one whose record the failover rolled back):
  // untrusting it would keep them out for good. A secondary knows only that it failed over
  // and that its primary has not finished the recovery (its original formation is kept).
  const failover::HardState& h = machine_->hard_state();
  if (AwaitsOriginalPrimary() ||
      (machine_->role() == failover::Role::kSecondary && h.original.has_value() &&
       h.formation.resilience.primary_return_action != model::PrimaryReturnAction::kNone)) {
    return;
  }
  // Nor a CA a member's certificate chains to, as the certificate records say: after
  // partitions in a row a member may still present one (the activation that should have
  // replaced it was rolled back); it is dropped once that member was reissued.
  std::set<std::string> presented;
  for (const std::string& member : RolloverMembers()) {
    presented.insert(IssuingCaOf(replicator_->repository(), member));
  }
  std::vector<std::string> previous;
  for (const auto& [fingerprint, pem] : trusted_cas_) {
    if (fingerprint == current.fingerprint || presented.contains(fingerprint)) continue;
    if (next.has_value() && fingerprint == next->fingerprint) continue;
    if (fingerprint == credentials_.ca_fingerprint) continue;  // its own chain stays
    // The next CA this primary just created, whose record is not applied yet (in quorum mode
    // it waits for a majority; the record it replaces may still be the applied one): not a
    // previous one. Once it is no longer the writable primary, that record will not come
    // (another primary's log replaced it): retired like the others.
    if (fingerprint == created_next_ && IsWritablePrimary()) continue;
    previous.push_back(fingerprint);
  }
  if (previous.empty()) return;
  CredentialChange change;
  for (const std::string& fingerprint : previous) {
    change.delete_certificates.push_back(kCaCertificatePrefix + fingerprint);
    change.delete_secrets.push_back(kCaKeySecretPrefix + fingerprint);
    const bool held = held_cas_.erase(fingerprint) > 0;
    trusted_cas_.erase(fingerprint);
    if (fingerprint == created_next_) created_next_.clear();
    PostCaEvent("ca_retired", absl::StrCat(options_.name, " no longer trusts CA ", fingerprint,
                                           held ? " and deleted its key" : ""));
  }
  AddCredentialChange(std::move(change));
}

json Node::Impl::RolloverJson() const {
  const std::optional<CaRecord> next = CaRecordOf(kNextCaKey);
  if (!next.has_value()) return json();
  return json{{"next", next->fingerprint},
              {"created_by", next->created_by},
              {"pending", PendingReissue(*next)}};
}

// ---- Node --------------------------------------------------------------------------------------

Node::Node(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)), resources_(std::make_unique<ResourceHost>()) {}
Node::~Node() {
  if (resources_) resources_->Stop();  // before the loop stops
  if (impl_) impl_->Close().IgnoreError();
}

absl::StatusOr<std::unique_ptr<Node>> Node::Open(NodeOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (absl::Status s = impl->Start(); !s.ok()) return s;
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

absl::Status Node::Close() {
  if (!impl_->OnDispatcher()) resources_->Stop();  // before the loop stops
  return impl_->Close();
}
const std::string& Node::name() const { return impl_->name(); }

absl::Status Node::CreateArray(std::string_view description_json) {
  Request r(Request::kCreate);
  r.value = std::string(description_json);
  return impl_->Submit(std::move(r), impl_->call_timeout(), "create array").status();
}

namespace {
absl::StatusOr<Request> PutRequest(std::string_view category, std::string_view key,
                                   std::string_view value_json, replication::Wait wait) {
  if (absl::Status s = CheckHostKey(key); !s.ok()) return s;
  auto value = model::ParseJsonDocument(value_json, "value");
  if (!value.ok()) return value.status();
  Request r(Request::kPut);
  r.category = std::string(category);
  r.key = std::string(key);
  r.value = value->dump(-1, ' ', false, json::error_handler_t::strict);
  r.wait = wait;
  return r;
}

absl::StatusOr<Request> DeleteRequest(std::string_view category, std::string_view key,
                                      replication::Wait wait) {
  if (absl::Status s = CheckHostKey(key); !s.ok()) return s;
  Request r(Request::kDelete);
  r.category = std::string(category);
  r.key = std::string(key);
  r.wait = wait;
  return r;
}
}  // namespace

absl::StatusOr<std::string> Node::Put(std::string_view category, std::string_view key,
                                      std::string_view value_json, replication::Wait wait) {
  auto r = PutRequest(category, key, value_json, wait);
  if (!r.ok()) return r.status();
  return impl_->Submit(*std::move(r), impl_->call_timeout(), "put");
}

void Node::PutAsync(std::string_view category, std::string_view key, std::string_view value_json,
                    replication::Wait wait, AnswerFn done) {
  auto r = PutRequest(category, key, value_json, wait);
  if (!r.ok()) return done(r.status());
  impl_->SubmitAsync(*std::move(r), "put", std::move(done));
}

absl::StatusOr<std::string> Node::Delete(std::string_view category, std::string_view key,
                                         replication::Wait wait) {
  auto r = DeleteRequest(category, key, wait);
  if (!r.ok()) return r.status();
  return impl_->Submit(*std::move(r), impl_->call_timeout(), "delete");
}

void Node::DeleteAsync(std::string_view category, std::string_view key, replication::Wait wait,
                       AnswerFn done) {
  auto r = DeleteRequest(category, key, wait);
  if (!r.ok()) return done(r.status());
  impl_->SubmitAsync(*std::move(r), "delete", std::move(done));
}

absl::StatusOr<std::string> Node::Get(std::string_view category, std::string_view key) {
  Request r(Request::kGet);
  r.category = std::string(category);
  r.key = std::string(key);
  return impl_->Submit(std::move(r), impl_->call_timeout(), "get");
}

absl::StatusOr<std::string> Node::WaitSynced(absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout: must be positive");
  }
  Request r(Request::kWaitSynced);
  return impl_->Submit(std::move(r), timeout, "wait until synchronized");
}

absl::StatusOr<std::string> Node::Impl::Operate(
    std::function<absl::StatusOr<std::string>(failover::MemberMachine&)> operation,
    std::string_view what) {
  Request r(Request::kOperation);
  r.operation = std::move(operation);
  return Submit(std::move(r), options_.call_timeout, what);
}

namespace {
absl::StatusOr<std::string> Done(absl::Status status) {
  if (!status.ok()) return status;
  return std::string();
}
}  // namespace

absl::Status Node::Detach(std::string_view name) {
  Request r(Request::kTask);
  Impl* impl = impl_.get();
  r.task = [impl, n = std::string(name)](const std::shared_ptr<Call>& call) {
    impl->DetachMember(n, call);
  };
  return impl_->Submit(std::move(r), impl_->call_timeout(), "detach").status();
}

absl::Status Node::MakePrimary(std::string_view name) {
  // The target is synchronized first (wait until synchronized), then handed the array; writes
  // accepted in between make the loop refuse with not_synchronized, and the wait starts again.
  const absl::Time deadline = absl::Now() + impl_->call_timeout();
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "make_primary: ", std::string(name), " was not synchronized within ",
          absl::FormatDuration(impl_->call_timeout())));
    }
    if (auto synced = WaitSynced(left); !synced.ok()) return synced.status();
    Request r(Request::kTask);
    Impl* impl = impl_.get();
    r.task = [impl, n = std::string(name)](const std::shared_ptr<Call>& call) {
      impl->TransferPrimary(n, call);
    };
    absl::Status done = impl_->Submit(std::move(r), impl_->call_timeout(), "make_primary").status();
    if (ReasonOf(done) != "not_synchronized") return done;
  }
}

absl::StatusOr<std::string> Node::BackupPrimaries() {
  return impl_->Operate(
      [](failover::MemberMachine& m) -> absl::StatusOr<std::string> {
        return json(m.BackupPrimaries()).dump();
      },
      "list_backup_primaries");
}

absl::Status Node::AddBackupPrimary(std::string_view name, std::size_t position) {
  return impl_
      ->Operate([n = std::string(name), position](failover::MemberMachine& m) {
        return Done(m.AddBackupPrimary(
            n, position == 0 ? std::nullopt : std::optional<std::size_t>(position)));
      }, "add_backup_primary")
      .status();
}

absl::Status Node::EditBackupPrimary(std::string_view name, std::size_t position) {
  return impl_
      ->Operate([n = std::string(name), position](failover::MemberMachine& m) {
        return Done(m.EditBackupPrimary(n, position));
      }, "edit_backup_primary")
      .status();
}

absl::Status Node::RemoveBackupPrimary(std::string_view name) {
  return impl_
      ->Operate([n = std::string(name)](failover::MemberMachine& m) {
        return Done(m.RemoveBackupPrimary(n));
      }, "remove_backup_primary")
      .status();
}

absl::Status Node::Clean(bool contact_members) {
  return impl_
      ->Operate([contact_members](failover::MemberMachine& m) {
        return Done(m.Clean(contact_members));
      }, "clean")
      .status();
}

absl::Status Node::ConfigEdit(std::string_view edit_json) {
  auto doc = model::ParseJsonDocument(edit_json, "config edit");
  if (!doc.ok()) return doc.status();
  return impl_
      ->Operate([doc = *std::move(doc)](failover::MemberMachine& m) {
        auto edit = ops::ConfigEditFromJson(doc, m.hard_state().formation.resilience);
        if (!edit.ok()) return Done(edit.status());
        return Done(m.ProposeChange(edit->ToChange()));
      }, "config edit")
      .status();
}

absl::StatusOr<std::string> Node::JoinToken(absl::Duration ttl) {
  Request r(Request::kTask);
  Impl* impl = impl_.get();
  r.task = [impl, ttl](const std::shared_ptr<Call>& call) { impl->IssueJoinToken(ttl, call); };
  return impl_->Submit(std::move(r), impl_->call_timeout(), "join token");
}

absl::StatusOr<std::string> Node::CaFingerprint() {
  Request r(Request::kTask);
  Impl* impl = impl_.get();
  r.task = [impl](const std::shared_ptr<Call>& call) { impl->ReportCaFingerprint(call); };
  return impl_->Submit(std::move(r), impl_->call_timeout(), "CA fingerprint");
}

absl::StatusOr<std::string> Node::Join(std::string_view joiner, std::string_view fingerprint,
                                       std::string_view token, absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) {
    return WithReason(absl::InvalidArgumentError("timeout: must be positive"), "invalid_value");
  }
  ops::JoinRequest request{std::string(joiner), std::string(fingerprint), std::string(token)};
  Request r(Request::kTask);
  Impl* impl = impl_.get();
  const absl::Time deadline = absl::Now() + timeout;
  r.task = [impl, request = std::move(request), deadline](const std::shared_ptr<Call>& call) {
    impl->StartJoin(request, deadline, call);
  };
  return impl_->Submit(std::move(r), timeout,
                       absl::StrCat("join of ", std::string(joiner),
                                    " (the joiner did not confirm in time; status on both "
                                    "members shows whether it joined, docs/node.md)"));
}

absl::StatusOr<std::string> Node::Status() {
  return impl_->Submit(Request(Request::kStatus), impl_->call_timeout(), "status");
}

std::vector<std::string> Node::TakeEvents() { return impl_->TakeEvents(); }

absl::StatusOr<std::string> Node::List(std::string_view category) {
  bool known = false;
  for (const char* c : replication::kCategories) known = known || category == c;
  if (!known) {
    return MakeError(absl::StatusCode::kInvalidArgument, "unknown_category",
                     absl::StrCat("category: \"", ji::Printable(category.substr(0, 64)),
                                  "\" is not a repository category"));
  }
  Request r(Request::kList);
  r.category = std::string(category);
  return impl_->Submit(std::move(r), impl_->call_timeout(), "list");
}

// ---- Resource files ----------------------------------------------------------------------------

void Node::Impl::PostEventJson(std::string text) {
  {
    std::lock_guard lock(events_mu_);
    kept_.push_back(text);
    if (kept_.size() > kMaxKeptEvents) kept_.pop_front();
    if (options_.on_event) to_dispatch_.push_back(std::move(text));
  }
  events_cv_.notify_one();
}

absl::Status Node::ConfigureResources(std::string_view options_json) {
  return resources_->Configure(*this, options_json, impl_->data_dir(),
                               [impl = impl_.get()](std::string event) {
                                 impl->PostEventJson(std::move(event));
                               });
}

absl::StatusOr<std::string> Node::SyncResources() { return resources_->SyncNow(name()); }

}  // namespace arraykit::node
