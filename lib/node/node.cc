#include "node/node.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <variant>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/check.h"
#include "core/failover/member_machine.h"
#include "core/model/array_json.h"
#include "core/model/json_reader.h"
#include "core/ops/config_edit.h"
#include "core/placement/placement.h"
#include "core/replication/replicator.h"
#include "core/status.h"
#include "nlohmann/json.hpp"
#include "node/commit_worker.h"
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

failover::Clock Now() {
  return failover::Clock{
      absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch()), absl::Now()};
}

std::chrono::steady_clock::time_point SteadyAt(absl::Duration mono) {
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          absl::ToChronoNanoseconds(mono)));
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

// One host call waiting for the loop's answer.
class Call {
 public:
  void Finish(absl::Status status, std::string result = "") {
    std::lock_guard lock(mu_);
    if (done_) return;
    done_ = true;
    status_ = std::move(status);
    result_ = std::move(result);
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
};

struct Request {
  enum Kind { kCreate, kPut, kDelete, kGet, kWaitSynced, kStatus, kOperation, kList };
  explicit Request(Kind k) : kind(k) {}
  Kind kind;
  // kOperation: runs on the loop thread against the failover machine.
  std::function<absl::StatusOr<std::string>(failover::MemberMachine&)> operation;
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

failover::HardState StandaloneState(const std::string& self, const model::Member& member) {
  failover::HardState state;
  state.formation.primary = self;
  state.formation.members = {self};
  if (member.roles.backend) state.formation.voters = {self};
  state.formation.version = 1;
  return state;
}

}  // namespace

AttachFn AttachTo(std::shared_ptr<MemoryNetwork> network) {
  return [network](const std::string& name, Receiver receiver) {
    return network->Attach(name, std::move(receiver));
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
  return absl::InvalidArgumentError(absl::StrCat(
      "options.wait: \"primary\" or \"all\", got \"", ji::Printable(*word), "\""));
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
  std::vector<std::string> TakeEvents();
  absl::StatusOr<std::string> Operate(
      std::function<absl::StatusOr<std::string>(failover::MemberMachine&)> operation,
      std::string_view what);
  const std::string& name() const { return options_.name; }
  absl::Duration call_timeout() const { return options_.call_timeout; }
  const std::string& data_dir() const { return options_.data_dir; }
  bool OnDispatcher() const { return std::this_thread::get_id() == dispatcher_id_; }
  void PostEventJson(std::string text);  // an event made elsewhere (resource files)

 private:
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

  NodeOptions options_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Transport> transport_;
  // Loop-owned state (only the loop thread touches it once Start returned).
  std::optional<failover::MemberMachine> machine_;
  std::optional<replication::Replicator> replicator_;
  Identity identity_;
  std::optional<Identity> identity_to_persist_;
  std::optional<failover::HardState> hard_state_to_persist_;
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
    state = StandaloneState(options_.name, *member);
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

  auto transport = options_.attach(options_.name, [this](Envelope e) { Receive(std::move(e)); });
  if (!transport.ok()) return transport.status();
  transport_ = *std::move(transport);

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

absl::StatusOr<std::string> Node::Impl::Submit(Request request, absl::Duration timeout,
                                               std::string_view what) {
  auto call = std::make_shared<Call>();
  request.call = call;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || closed_) {
      return absl::FailedPreconditionError(absl::StrCat(options_.name, " is closed"));
    }
    if (!failed_.ok()) return DeepCopy(failed_);
    if (requests_.size() >= kMaxInbox) {
      return WithReason(absl::ResourceExhaustedError("too many host calls in flight"),
                        "too_many_pending");
    }
    requests_.push_back(std::move(request));
  }
  wake_.notify_one();
  return call->Wait(timeout, what);
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
  bool more_ready = false;
  while (true) {
    {
      std::unique_lock lock(mu_);
      auto ready = [&] {
        return stopping_ || !inbound_.empty() || !requests_.empty() || more_ready ||
               commit_done_;
      };
      absl::Duration next = std::min(machine_->NextWakeup(), replicator_->NextWakeup());
      // A machine asking again for a time it was already ticked at is ticked again at most
      // every millisecond: the loop never spins.
      if (next <= last_tick_) next = last_tick_ + kMinRetick;
      if (next == absl::InfiniteDuration()) {
        wake_.wait(lock, ready);
      } else {
        wake_.wait_until(lock, SteadyAt(next), ready);
      }
      if (stopping_) break;
      commit_done_ = false;
      inbound.swap(inbound_);
      requests.swap(requests_);
    }
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
    more_ready = HandleReady();
  }
  // A last round: what was stepped is persisted, sent and reported before the loop ends.
  Settle();
  committer_.reset();
}

void Node::Impl::Deliver(Envelope& envelope) {
  // The transport names the sender; the body's `from` is never trusted.
  if (auto* m = std::get_if<failover::Message>(&envelope.payload)) {
    m->from = envelope.from;
    m->to = options_.name;
    machine_->Step(*m);
    replicator_->SetView(replication::ViewOf(*machine_));
  } else if (auto* r = std::get_if<replication::Message>(&envelope.payload)) {
    r->from = envelope.from;
    r->to = options_.name;
    replicator_->Step(*r);
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
    case Request::kOperation: {
      absl::StatusOr<std::string> result = r.operation(*machine_);
      replicator_->SetView(replication::ViewOf(*machine_));
      if (result.ok()) {
        r.call->Finish(absl::OkStatus(), *std::move(result));
      } else {
        r.call->Finish(result.status());
      }
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
  const model::Member* self = array->Find(options_.name);
  if (self == nullptr) {
    r.call->Finish(WithReason(
        absl::InvalidArgumentError(absl::StrCat("members: ", options_.name,
                                                " (this member) is not in the description")),
        "not_a_member"));
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
  replicator_->SetView(replication::ViewOf(*machine_));
  machine_->LogChanged(replicator_->last_position());
  failover::TimelineEntry entry;
  entry.member = options_.name;
  entry.event = "array_created";
  entry.epoch = state.epoch;
  entry.reason = absl::StrCat("array of ", state.formation.members.size(),
                              " members configured with primary ", state.formation.primary);
  PostEvent(entry, absl::Now());
  r.call->Finish(absl::OkStatus());
}

// One loop iteration's output, handed to the store thread: its batch, then what may leave only
// once the batch is durable (in the order the single-threaded loop released it).
class Node::Impl::Iteration final : public CommitWorker::Job {
 public:
  explicit Iteration(Impl* node) : node_(node) {}
  const Batch& batch() const override { return persist; }
  void Release() override {
    for (failover::Message& m : failover_messages) {
      std::string to = m.to;
      node_->transport_->Send(to, std::move(m));
    }
    for (replication::Message& m : replication.messages) {
      std::string to = m.to;
      node_->transport_->Send(to, std::move(m));
    }
    absl::Time at = absl::Now();
    for (auto& [call, completion] : completions) {
      const failover::LogPosition& p = completion.position;
      call->Finish(std::move(completion.status),
                   absl::StrCat("{\"epoch\":", p.epoch, ",\"index\":", p.index, "}"));
    }
    for (const auto& e : replication.events) node_->PostEvent(e, at);
    for (const auto& e : failover_events) node_->PostEvent(e, at);
  }
  void Abandon(const absl::Status& why) override {
    for (auto& [call, completion] : completions) call->Finish(why);
  }

  Batch persist;
  replication::Ready replication;  // moved out of the replicator; persist.replication points here
  std::vector<failover::Message> failover_messages;
  std::vector<failover::TimelineEntry> failover_events;
  std::vector<std::pair<std::shared_ptr<Call>, replication::Completion>> completions;

 private:
  Impl* node_;
};

bool Node::Impl::HandleReady() {
  for (int round = 0; round < kMaxReadyRounds; ++round) {
    // While the store thread holds all it may, the machines gather the next iterations' output,
    // handed over as one larger batch when a commit returns and wakes the loop.
    if (!committer_->has_room()) return false;
    bool machine_ready = machine_->HasReady();
    bool replicator_ready = replicator_->HasReady();
    if (!machine_ready && !replicator_ready && !identity_to_persist_ && !hard_state_to_persist_) {
      return false;
    }
    auto it = std::make_unique<Iteration>(this);
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
    replicator_->SetView(replication::ViewOf(*machine_));
    if (committer_->idle() && !it->replication.snapshot.has_value() &&
        it->replication.append.size() <= kInlineEntries) {
      // Nothing in flight and a small batch (a lone write, a follower's next entry, a
      // heartbeat): the loop commits it itself, without the hand-over to the store thread and
      // back. Larger batches go to the store thread, so the loop steps on during their flush.
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
  return committer_->has_room() && (machine_->HasReady() || replicator_->HasReady());
}

// Makes everything stepped so far durable and released: no batch in flight, nothing ready.
void Node::Impl::Settle() {
  for (int pass = 0; pass < kMaxReadyRounds && failed_.ok(); ++pass) {
    committer_->WaitIdle();
    CollectStoreFailure();
    if (!failed_.ok()) return;
    HandleReady();
    if (committer_->idle() && !machine_->HasReady() && !replicator_->HasReady() &&
        !identity_to_persist_ && !hard_state_to_persist_) {
      return;
    }
  }
  if (failed_.ok()) committer_->WaitIdle();
  CollectStoreFailure();
}

// A failed commit stops the member: its job's calls get the member's failure, nothing of it or
// after it leaves.
void Node::Impl::CollectStoreFailure() {
  if (!failed_.ok()) return;
  absl::Status failure = committer_->failure();
  if (failure.ok()) return;
  Fail(failure);
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
  failover::TimelineEntry entry;
  entry.member = options_.name;
  entry.event = "store_failed";
  entry.epoch = machine_->epoch();
  entry.reason = std::string(status.message());
  PostEvent(entry, absl::Now());
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
  for (const std::string& name : h.formation.members) {
    json member{{"name", name},
                {"role", name == h.formation.primary ? "primary" : "secondary"},
                {"contactable", std::find(h.uncontactable.begin(), h.uncontactable.end(), name) ==
                                    h.uncontactable.end()}};
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
  auto stored = storage_->LoadCertificates();
  if (stored.ok()) {
    for (const CertificateStatus& c : *stored) {
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
      {"certificates", stored.ok() ? certificates : json()},
  };
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

absl::StatusOr<std::string> Node::Put(std::string_view category, std::string_view key,
                                      std::string_view value_json, replication::Wait wait) {
  auto value = model::ParseJsonDocument(value_json, "value");
  if (!value.ok()) return value.status();
  Request r(Request::kPut);
  r.category = std::string(category);
  r.key = std::string(key);
  r.value = value->dump(-1, ' ', false, json::error_handler_t::strict);
  r.wait = wait;
  return impl_->Submit(std::move(r), impl_->call_timeout(), "put");
}

absl::StatusOr<std::string> Node::Delete(std::string_view category, std::string_view key,
                                         replication::Wait wait) {
  Request r(Request::kDelete);
  r.category = std::string(category);
  r.key = std::string(key);
  r.wait = wait;
  return impl_->Submit(std::move(r), impl_->call_timeout(), "delete");
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
  return impl_
      ->Operate([n = std::string(name)](failover::MemberMachine& m) {
        return Done(m.RemoveMember(n));
      }, "detach")
      .status();
}

absl::Status Node::MakePrimary(std::string_view name) {
  return impl_
      ->Operate([n = std::string(name)](failover::MemberMachine& m) {
        return Done(m.MakePrimary(n));
      }, "make_primary")
      .status();
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
