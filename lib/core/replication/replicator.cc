#include "core/replication/replicator.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/check.h"
#include "core/status.h"
#include "nlohmann/json.hpp"

namespace arraykit::replication {
namespace {

constexpr std::size_t kMaxNamedKeys = 10;  // keys an event names before "and N more"

std::string KeyName(const Entry& e) { return absl::StrCat(e.category, "/", e.key); }

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

View ViewOf(const failover::MemberMachine& machine) {
  View view;
  FillView(machine, view);
  return view;
}

bool ViewMatches(const failover::MemberMachine& machine, const View& view) {
  const failover::HardState& hard = machine.hard_state();
  if (view.epoch != hard.epoch || view.writable != machine.writable() ||
      view.primary_contact != machine.primary_contacts() ||
      view.voted_epoch != hard.voted_epoch ||
      view.quorum != (hard.formation.resilience.mode == model::ResilienceMode::kQuorum) ||
      view.monitor_interval != hard.formation.resilience.monitor_interval ||
      view.primary != hard.formation.primary || view.members != hard.formation.members ||
      view.voters != hard.formation.voters) {
    return false;
  }
  std::size_t contactable = 0;
  if (machine.role() == failover::Role::kPrimary) {
    for (const std::string& member : hard.formation.members) {
      if (Contains(hard.uncontactable, member)) continue;
      if (contactable >= view.contactable.size() || view.contactable[contactable] != member) {
        return false;
      }
      ++contactable;
    }
  }
  return contactable == view.contactable.size();
}

void FillView(const failover::MemberMachine& machine, View& view) {
  const failover::HardState& hard = machine.hard_state();
  view.primary = hard.formation.primary;
  view.epoch = hard.epoch;
  view.writable = machine.writable();
  view.quorum = hard.formation.resilience.mode == model::ResilienceMode::kQuorum;
  view.members = hard.formation.members;
  view.contactable.clear();
  if (machine.role() == failover::Role::kPrimary) {  // its ContactableMembers()
    for (const std::string& member : hard.formation.members) {
      if (!Contains(hard.uncontactable, member)) view.contactable.push_back(member);
    }
  }
  view.voters = hard.formation.voters;
  view.monitor_interval = hard.formation.resilience.monitor_interval;
  view.primary_contact = machine.primary_contacts();
  view.voted_epoch = hard.voted_epoch;
}

absl::Status ValidateDurable(const Durable& durable) {
  auto corrupt = [](std::string what) {
    return MakeError(absl::StatusCode::kInvalidArgument, "corrupt_state",
                     absl::StrCat("replication state: ", what));
  };
  std::uint64_t chain = durable.log_base_chain;
  for (std::size_t i = 0; i < durable.log.size(); ++i) {
    const Entry& e = durable.log[i];
    if (e.index != durable.log_base_index + 1 + i) {
      return corrupt(absl::StrCat("log[", i, "].index is ", e.index, ", expected ",
                                  durable.log_base_index + 1 + i, " (the log is contiguous)"));
    }
    if (e.chain != Chain(chain, e)) {
      return corrupt(absl::StrCat("log[", i, "].chain does not follow the previous entry's"));
    }
    chain = e.chain;
  }
  const std::uint64_t last = durable.log_base_index + durable.log.size();
  const Repository& repo = durable.repository;
  if (repo.applied_index < durable.log_base_index || repo.applied_index > last) {
    return corrupt(absl::StrCat("repository.applied_index ", repo.applied_index,
                                " is outside the log [", durable.log_base_index, ", ", last, "]"));
  }
  const std::uint64_t applied_chain =
      repo.applied_index == durable.log_base_index
          ? durable.log_base_chain
          : durable.log[repo.applied_index - durable.log_base_index - 1].chain;
  if (repo.applied_chain != applied_chain) {
    return corrupt("repository.applied_chain differs from the log's chain at applied_index");
  }
  return absl::OkStatus();
}

void PersistReady(const Ready& ready, Durable& durable) {
  if (ready.snapshot.has_value()) {
    const Repository& r = (*ready.snapshot)->repository;
    durable.repository = r;
    durable.log_base_index = r.applied_index;
    durable.log_base_chain = r.applied_chain;
    durable.log_base_epoch = r.applied_epoch;
    durable.log.clear();
  }
  if (ready.truncate_after.has_value()) {
    while (!durable.log.empty() && durable.log.back().index > *ready.truncate_after) {
      durable.log.pop_back();
    }
  }
  durable.log.insert(durable.log.end(), ready.append.begin(), ready.append.end());
  for (const Entry& e : ready.apply) durable.repository.Apply(e);
  if (ready.compact_through.has_value() && *ready.compact_through > durable.log_base_index) {
    const std::size_t n = *ready.compact_through - durable.log_base_index;
    AK_CHECK(n <= durable.log.size(), "compacting past the log's end");
    durable.log_base_chain = durable.log[n - 1].chain;
    durable.log_base_epoch = durable.log[n - 1].epoch;
    durable.log_base_index = *ready.compact_through;
    durable.log.erase(durable.log.begin(), durable.log.begin() + static_cast<std::ptrdiff_t>(n));
  }
}

Replicator::Replicator(std::string self, Durable durable, ReplicatorOptions options)
    : self_(std::move(self)), options_(options) {
  const absl::Status valid = ValidateDurable(durable);
  AK_CHECK(valid.ok(), valid.ToString());
  AK_CHECK(options_.max_batch_entries > 0 && options_.max_inflight > 0, "bad options");
  repo_ = std::move(durable.repository);
  base_index_ = durable.log_base_index;
  base_chain_ = durable.log_base_chain;
  base_epoch_ = durable.log_base_epoch;
  log_.assign(std::make_move_iterator(durable.log.begin()),
              std::make_move_iterator(durable.log.end()));
  persisted_index_ = last_index();
  commit_ = repo_.applied_index;
  for (const auto& [key, record] : repo_.records) {
    if (!record.origin.empty()) origins_.insert(record.origin);
  }
  for (const Conflict& c : repo_.conflicts) origins_.insert(c.lost_origin);
  for (const Entry& e : log_) NoteOrigins(e);
}

// ---- log ----------------------------------------------------------------------------------

const Entry& Replicator::At(std::uint64_t index) const {
  AK_CHECK(index > base_index_ && index <= last_index(), "entry ", index, " outside (",
           base_index_, ", ", last_index(), "]");
  return log_[index - base_index_ - 1];
}

std::uint64_t Replicator::ChainAt(std::uint64_t index) const {
  return index == base_index_ ? base_chain_ : At(index).chain;
}

std::uint64_t Replicator::EpochAt(std::uint64_t index) const {
  return index == base_index_ ? base_epoch_ : At(index).epoch;
}

std::optional<Entry> Replicator::EntryAt(std::uint64_t index) const {
  if (index <= base_index_ || index > last_index()) return std::nullopt;
  return At(index);
}

bool Replicator::Holds(const LogPosition& position) const {
  if (position.index <= base_index_) return true;
  if (position.index > last_index()) return false;
  return At(position.index).epoch == position.epoch;
}

const Repository& Replicator::repository() const { return repo_; }

LogPosition Replicator::last_position() const {
  const std::uint64_t index = std::max(std::min(persisted_index_, last_index()), base_index_);
  return LogPosition{EpochAt(index), index};
}

LogPosition Replicator::applied_position() const {
  return LogPosition{repo_.applied_epoch, repo_.applied_index};
}

std::vector<std::pair<std::string, std::uint64_t>> Replicator::progress() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  if (!leading_) return out;
  out.emplace_back(self_, last_index());
  for (const auto& [name, p] : progress_) out.emplace_back(name, p.match);
  return out;
}

void Replicator::NoteOrigins(const Entry& entry) {
  if (!entry.origin.empty()) origins_.insert(entry.origin);
}

void Replicator::AppendOwn(Entry entry) {
  entry.index = last_index() + 1;
  entry.chain = Chain(ChainAt(last_index()), entry);
  NoteOrigins(entry);
  log_.push_back(entry);
  ready_.append.push_back(std::move(entry));
  if (!view_.quorum) {  // array mode: durable on the primary is committed
    commit_ = last_index();
    ApplyThrough(commit_);
  }
}

void Replicator::ApplyThrough(std::uint64_t index) {
  index = std::min(index, last_index());
  while (repo_.applied_index < index) {
    const Entry& e = At(repo_.applied_index + 1);
    repo_.Apply(e);
    ready_.apply.push_back(e);
  }
  MaybeCompact();
}

void Replicator::MaybeCompact() {
  const std::uint64_t retain = options_.retain_entries;
  const std::uint64_t slack = std::max<std::uint64_t>(retain / 4, 1);
  if (repo_.applied_index < base_index_ + retain + slack) return;
  const std::uint64_t through = repo_.applied_index - retain;
  base_chain_ = ChainAt(through);
  base_epoch_ = EpochAt(through);
  log_.erase(log_.begin(), log_.begin() + static_cast<std::ptrdiff_t>(through - base_index_));
  base_index_ = through;
  ready_.compact_through = through;
}

void Replicator::Truncate(std::uint64_t after, const std::string& why) {
  AK_CHECK(after >= repo_.applied_index && after >= base_index_, "truncating after ", after,
           " below applied ", repo_.applied_index);
  if (after >= last_index()) return;
  std::vector<std::string> keys;
  std::size_t dropped = 0;
  const LogPosition first{At(after + 1).epoch, after + 1};
  for (std::uint64_t i = after + 1; i <= last_index(); ++i) {
    const Entry& e = At(i);
    if (e.kind == EntryKind::kBarrier) continue;
    ++dropped;
    if (keys.size() < kMaxNamedKeys) keys.push_back(KeyName(e));
    ready_.rolled_back.push_back(e);
  }
  const LogPosition last{EpochAt(last_index()), last_index()};
  log_.resize(after - base_index_);
  std::erase_if(ready_.append, [after](const Entry& e) { return e.index > after; });
  if (after < persisted_index_) {
    ready_.truncate_after = std::min(ready_.truncate_after.value_or(after), after);
  }
  if (dropped > 0) {
    Record("rolled_back",
           absl::StrCat(self_, " rolled back ", dropped, " write(s) (", first.epoch, ", ",
                        first.index, ")..(", last.epoch, ", ", last.index, ") ", why,
                        "; keys: ", absl::StrJoin(keys, ", "),
                        dropped > keys.size() ? absl::StrCat(" and ", dropped - keys.size(),
                                                             " more")
                                              : ""));
  }
}

// ---- view ---------------------------------------------------------------------------------

void Replicator::SetView(const View& view) {
  if (view == view_) return;
  const bool epoch_changed = view.epoch != view_.epoch;
  const bool contact_regained = view.primary_contact != view_.primary_contact;
  const std::string old_primary = view_.primary;
  const std::vector<std::string> old_contactable = view_.contactable;
  view_ = view;
  retry_interval_ = ComputeRetryInterval();
  if (view_.primary == self_) {
    if (!leading_) {
      BecomeLeader();
    } else if (epoch_changed) {
      leading_epoch_ = view_.epoch;
      // A new epoch without a new primary (a clean, a recovery): writes of the old epoch still
      // waiting for acknowledgement belonged to the old array; their outcome is unknown.
      FailPending(absl::StrCat("the array changed to epoch ", view_.epoch));
    }
  } else {
    if (leading_) {
      StepDown(view_.primary.empty() ? std::string("no primary is known")
                                     : absl::StrCat("the primary is ", view_.primary));
    }
    if (view_.primary != old_primary) divergent_.reset();
    // Contact with a primary (re)established: tell it where this log stands, so it resends
    // what is missing now rather than at its next retry.
    if (!view_.primary.empty() &&
        (hello_due_ || view_.primary != old_primary || epoch_changed || contact_regained)) {
      SendHello();
    }
  }
  if (!leading_) return;
  for (auto it = progress_.begin(); it != progress_.end();) {
    it = Contains(view_.members, it->first) ? std::next(it) : progress_.erase(it);
  }
  for (auto& [member, p] : progress_) {
    // A member back in contact, or any member after a new epoch, may have led an array of its
    // own meanwhile: ask where it stands again.
    if (epoch_changed || (Contains(view_.contactable, member) &&
                          !Contains(old_contactable, member))) {
      p.known = false;
      p.inflight = 0;
      p.awaiting_merge = false;
      p.sent_at = absl::InfiniteDuration() * -1;
      p.next = last_index() + 1;
    }
  }
  for (const std::string& member : view_.members) {
    if (member == self_ || progress_.contains(member)) continue;
    Progress p;
    p.next = last_index() + 1;
    progress_.emplace(member, p);
  }
  if (view_.quorum && view_.writable && EpochAt(last_index()) != view_.epoch) {
    // Entries of earlier epochs count as committed only through an entry of this one.
    Entry barrier;
    barrier.kind = EntryKind::kBarrier;
    barrier.epoch = view_.epoch;
    barrier.writer = self_;
    AppendOwn(std::move(barrier));
  }
  AdvanceCommit();
  CheckPending();
  SendAll();
}

void Replicator::BecomeLeader() {
  leading_ = true;
  leading_epoch_ = view_.epoch;
  progress_.clear();
  divergent_.reset();
  stream_from_.clear();
  if (!view_.quorum) {  // array mode: what this member holds durably is committed
    commit_ = last_index();
    ApplyThrough(commit_);
  }
}

void Replicator::StepDown(const std::string& why) {
  leading_ = false;
  progress_.clear();
  FailPending(why);
}

void Replicator::FailPending(const std::string& why) {
  for (const Pending& p : pending_) {
    const std::string what =
        p.synced ? std::string("wait-synced")
                 : absl::StrCat("the write at (", p.position.epoch, ", ", p.position.index, ")");
    ready_.completions.push_back(Completion{
        p.request,
        MakeError(ErrorCode::kNotPrimary,
                  absl::StrCat(self_, " could not acknowledge ", what, " (", why,
                               "); the outcome is unknown")),
        p.position});
  }
  pending_.clear();
}

// Unanswered appends are taken as lost after one retry interval per append in flight, counted
// from the last send or answer: a pipeline of full batches (a joiner's catch-up: 4 × ~0.5 MB)
// takes longer to transfer, apply and commit than one message, and resending it whole added a
// third to the catch-up's bytes. A loss that matters is rare: the stream is ordered, a
// reconnect says hello at once, and an append lost before others is found by theirs.
absl::Duration Replicator::LostAt(const Progress& p) const {
  const auto unanswered = static_cast<std::int64_t>(std::max<std::size_t>(p.inflight, 1));
  return std::max(p.sent_at, p.answered_at) + RetryInterval() * unanswered;
}

absl::Duration Replicator::ComputeRetryInterval() const {
  return std::min(std::max(options_.min_retry, view_.monitor_interval / 2),
                  std::max(view_.monitor_interval, options_.min_retry));
}

// ---- requests -------------------------------------------------------------------------------

void Replicator::Refuse(std::uint64_t request, absl::Status status) {
  ready_.completions.push_back(Completion{request, std::move(status), LogPosition{}});
}

absl::Status Replicator::CheckWrite(const std::string& category, const std::string& key) const {
  if (!leading_ || !view_.writable) {
    return MakeError(ErrorCode::kNotPrimary,
                     absl::StrCat(self_, " is not a writable primary; ",
                                  view_.primary.empty() || view_.primary == self_
                                      ? std::string("no writable primary is known")
                                      : absl::StrCat("the primary is ", view_.primary)));
  }
  bool known = false;
  for (const char* c : kCategories) known |= category == c;
  if (!known) {
    return MakeError(absl::StatusCode::kInvalidArgument, "unknown_category",
                     absl::StrCat("category \"", category, "\" is not one of the repository's (",
                                  absl::StrJoin(kCategories, ", "), ")"));
  }
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_key",
                     absl::StrCat("key must be 1 to ", kMaxKeyBytes, " bytes, got ", key.size()));
  }
  if (pending_.size() >= kMaxPendingRequests) {
    return MakeError(absl::StatusCode::kResourceExhausted, "too_many_pending",
                     absl::StrCat(kMaxPendingRequests,
                                  " requests already wait for acknowledgement; retry later"));
  }
  return absl::OkStatus();
}

void Replicator::Write(std::uint64_t request, std::string category, std::string key,
                       std::string value, Wait wait) {
  if (absl::Status status = CheckWrite(category, key); !status.ok()) {
    return Refuse(request, std::move(status));
  }
  nlohmann::json parsed = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return Refuse(request, MakeError(absl::StatusCode::kInvalidArgument, "invalid_json",
                                     absl::StrCat("value of ", category, "/", key,
                                                  " is not valid JSON text")));
  }
  std::string compact = parsed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (compact.size() > kMaxValueBytes) {
    return Refuse(request,
                  MakeError(absl::StatusCode::kInvalidArgument, "too_large",
                            absl::StrCat("value of ", category, "/", key, " is ", compact.size(),
                                         " bytes as compact JSON; the limit is ", kMaxValueBytes)));
  }
  Entry entry;
  entry.kind = EntryKind::kPut;
  entry.category = std::move(category);
  entry.key = std::move(key);
  entry.value = std::move(compact);
  Submit(request, std::move(entry), wait);
}

void Replicator::Delete(std::uint64_t request, std::string category, std::string key,
                        Wait wait) {
  if (absl::Status status = CheckWrite(category, key); !status.ok()) {
    return Refuse(request, std::move(status));
  }
  Entry entry;
  entry.kind = EntryKind::kDelete;
  entry.category = std::move(category);
  entry.key = std::move(key);
  Submit(request, std::move(entry), wait);
}

void Replicator::Submit(std::uint64_t request, Entry entry, Wait wait) {
  entry.epoch = view_.epoch;
  entry.writer = self_;
  AppendOwn(std::move(entry));
  const LogPosition position{view_.epoch, last_index()};
  if (!view_.quorum && wait == Wait::kPrimary) {
    // Durable before ack: the host persists this Ready's append before delivering completions.
    ready_.completions.push_back(Completion{request, absl::OkStatus(), position});
  } else {
    pending_.push_back(Pending{request, position, wait, false});
  }
  AdvanceCommit();
  CheckPending();
  SendAll();
}

void Replicator::WaitSynced(std::uint64_t request) {
  if (!leading_) {
    return Refuse(request,
                  MakeError(ErrorCode::kNotPrimary,
                            absl::StrCat(self_, " is not the primary; ",
                                         view_.primary.empty()
                                             ? std::string("no primary is known")
                                             : absl::StrCat("the primary is ", view_.primary))));
  }
  if (pending_.size() >= kMaxPendingRequests) {
    return Refuse(request, MakeError(absl::StatusCode::kResourceExhausted, "too_many_pending",
                                     "too many requests wait for acknowledgement; retry later"));
  }
  pending_.push_back(
      Pending{request, LogPosition{EpochAt(last_index()), last_index()}, Wait::kAll, true});
  CheckPending();
  SendAll();
}

// ---- commit and acknowledgement --------------------------------------------------------------

void Replicator::AdvanceCommit() {
  if (!leading_) return;
  if (!view_.quorum) {
    commit_ = last_index();
    ApplyThrough(commit_);
    return;
  }
  // A voter that voted for a newer epoch counts for nothing: the candidate it elected may lack
  // what it took since (seed 559648).
  std::vector<std::uint64_t> matches;
  for (const std::string& voter : view_.voters) {
    if (voter == self_) {
      // persisted in this Ready, before any ack is delivered
      matches.push_back(view_.voted_epoch > view_.epoch ? 0 : last_index());
      continue;
    }
    auto it = progress_.find(voter);
    matches.push_back(it == progress_.end() || it->second.voted_epoch > view_.epoch
                          ? 0
                          : std::min(it->second.match, last_index()));
  }
  if (matches.empty()) return;
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const std::uint64_t majority = matches[matches.size() / 2];
  if (majority > commit_ && majority > base_index_ && EpochAt(majority) == view_.epoch) {
    commit_ = majority;
    ApplyThrough(commit_);
  }
}

void Replicator::CheckPending() {
  if (!leading_) return;
  auto all = [this](std::uint64_t index, bool applied) {
    for (const std::string& member : view_.contactable) {
      if (member == self_) {
        if ((applied ? repo_.applied_index : last_index()) < index) return false;
        continue;
      }
      auto it = progress_.find(member);
      if (it == progress_.end()) continue;
      if ((applied ? it->second.applied : it->second.match) < index) return false;
    }
    return true;
  };
  for (auto it = pending_.begin(); it != pending_.end();) {
    const Pending& p = *it;
    const std::uint64_t index = p.position.index;
    if (!p.synced && (index > last_index() ||
                      (index > base_index_ && At(index).epoch != p.position.epoch))) {
      ready_.completions.push_back(Completion{
          p.request,
          MakeError(ErrorCode::kNotPrimary,
                    absl::StrCat("the write at (", p.position.epoch, ", ", index,
                                 ") was replaced before it was acknowledged")),
          p.position});
      it = pending_.erase(it);
      continue;
    }
    bool done = false;
    if (p.synced) {
      done = commit_ >= index && all(index, /*applied=*/true);
    } else if (p.wait == Wait::kPrimary) {
      done = commit_ >= index;
    } else {
      done = commit_ >= index && all(index, /*applied=*/false);
    }
    if (!done) {
      ++it;
      continue;
    }
    ready_.completions.push_back(Completion{p.request, absl::OkStatus(), p.position});
    it = pending_.erase(it);
  }
}

// ---- sending --------------------------------------------------------------------------------

Message Replicator::NewMessage(MessageType type, const std::string& to) {
  Message m;
  m.type = type;
  m.from = self_;
  m.to = to;
  m.epoch = view_.epoch;
  m.id = next_id_++;
  m.voted_epoch = view_.voted_epoch;
  return m;
}

void Replicator::Send(Message message) { ready_.messages.push_back(std::move(message)); }

void Replicator::Record(std::string_view event, std::string reason) {
  ready_.events.push_back(failover::TimelineEntry{now_, self_, std::string(event),
                                                  std::move(reason), view_.epoch, ""});
}

void Replicator::SendAll() {
  // Quorum mode: only a primary holding leases from a majority replicates. A primary by other
  // means (a recovery) whose log lacks what a majority committed never gets those leases, and
  // must not overwrite its members' logs meanwhile.
  if (leading_ && view_.quorum && !view_.writable) return SendCatchUp();
  if (!leading_ || (view_.quorum && !view_.writable)) return;
  for (auto& [name, p] : progress_) SendTo(name, p);
}

void Replicator::SendTo(const std::string& member, Progress& p) {
  // Our log may have shrunk since (a catch-up rolled back our own uncommitted suffix).
  p.match = std::min(p.match, last_index());
  p.next = std::min(p.next, last_index() + 1);
  const bool due = now_ >= p.sent_at + RetryInterval();
  if (p.awaiting_merge) {
    if (!due) return;
    p.awaiting_merge = false;  // its kDivergent did not arrive: ask where it stands again
    p.known = false;
    p.inflight = 0;
  }
  if (p.inflight > 0 && now_ >= LostAt(p)) {  // unanswered: lost, resend from match
    p.inflight = 0;
    if (p.known && !p.needs_snapshot) p.next = p.match + 1;
  }
  if (!p.needs_snapshot && p.next <= base_index_) p.needs_snapshot = true;
  if (p.needs_snapshot) {
    if (p.inflight > 0) return;
    Message m = NewMessage(MessageType::kSnapshot, member);
    m.snapshot = std::make_shared<const Snapshot>(Snapshot{repo_});
    m.commit_index = commit_;
    m.last_index = last_index();
    Send(std::move(m));
    p.inflight = 1;
    p.sent_at = now_;
    return;
  }
  auto append = [&](std::uint64_t from, std::uint64_t through) {
    Message m = NewMessage(MessageType::kAppend, member);
    m.prev_index = from - 1;
    m.prev_chain = ChainAt(from - 1);
    m.commit_index = commit_;
    m.last_index = last_index();
    for (std::uint64_t i = from; i <= through; ++i) m.entries.push_back(At(i));
    Send(std::move(m));
    ++p.inflight;
    p.sent_at = now_;
    p.sent_commit = commit_;
  };
  if (!p.known) {  // where does it stand? an empty append at our end; the reply tells
    if (p.inflight == 0 && due) append(p.next, p.next - 1);
    return;
  }
  if (p.inflight == 0 && due && p.next > p.match + 1) p.next = p.match + 1;  // resend the rest
  bool sent = false;
  while (p.inflight < options_.max_inflight && p.next <= last_index()) {
    const std::uint64_t through =
        std::min<std::uint64_t>(last_index(), p.next + options_.max_batch_entries - 1);
    append(p.next, through);
    p.next = through + 1;
    sent = true;
  }
  if (!sent && p.inflight == 0 &&
      (p.sent_commit < commit_ || (p.applied < commit_ && due))) {
    append(p.next, p.next - 1);  // carries the commit index
  } else if (!sent && due && p.inflight == 0) {
    p.sent_at = now_;  // nothing to say now: look again one retry interval later
  }
}

void Replicator::Tick(absl::Duration mono) {
  if (mono > now_) now_ = mono;
  if (leading_) SendAll();
  if (divergent_.has_value() && !divergent_merged_ && now_ >= divergent_sent_ + RetryInterval()) {
    SendDivergent();
  }
}

absl::Duration Replicator::NextWakeup() const {
  absl::Duration next = absl::InfiniteDuration();
  const absl::Duration retry = RetryInterval();
  if (leading_ && (!view_.quorum || view_.writable)) {
    for (const auto& [name, p] : progress_) {
      if (p.inflight > 0 && !p.awaiting_merge) {
        next = std::min(next, LostAt(p));
      } else if (p.awaiting_merge || !p.known || p.needs_snapshot || p.applied < commit_ ||
                 p.match < last_index()) {
        next = std::min(next, p.sent_at + retry);
      }
    }
  }
  if (divergent_.has_value() && !divergent_merged_) {
    next = std::min(next, divergent_sent_ + retry);
  }
  if (leading_ && view_.quorum && !view_.writable) next = std::min(next, catch_up_sent_ + retry);
  return std::max(next, now_);
}

bool Replicator::HasReady() const { return !ready_.empty(); }

Ready& Replicator::GetReady() { return ready_; }

void Replicator::Advance() {
  ready_ = Ready{};
  persisted_index_ = last_index();
}

// ---- receiving ------------------------------------------------------------------------------

void Replicator::Step(const Message& m) {
  if (leading_ && m.voted_epoch > 0) {  // never forgotten while leading: replies may reorder
    auto it = progress_.find(m.from);
    if (it != progress_.end()) {
      it->second.voted_epoch = std::max(it->second.voted_epoch, m.voted_epoch);
    }
  }
  switch (m.type) {
    case MessageType::kAppend:
      return OnAppend(m);
    case MessageType::kAppendReply:
      return OnAppendReply(m);
    case MessageType::kSnapshot:
      return OnSnapshot(m);
    case MessageType::kSnapshotReply:
      return OnSnapshotReply(m);
    case MessageType::kDivergent:
      return OnDivergent(m);
    case MessageType::kDivergentReply:
      return OnDivergentReply(m);
    case MessageType::kCatchUp:
      return OnCatchUp(m);
    case MessageType::kCatchUpReply:
      return OnCatchUpReply(m);
    case MessageType::kHello:
      return OnHello(m);
  }
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> Replicator::Probes() const {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> probes;
  std::uint64_t distance = 0;
  for (std::uint64_t index = last_index(); index > base_index_;) {
    probes.emplace_back(index, ChainAt(index));
    distance = distance == 0 ? 1 : distance * 2;
    index = index - base_index_ > distance ? index - distance : base_index_;
  }
  probes.emplace_back(base_index_, base_chain_);
  return probes;
}

void Replicator::ReplyToAppend(const Message& m, bool ok, std::string reason,
                               std::uint64_t match) {
  Message reply = NewMessage(m.type == MessageType::kSnapshot ? MessageType::kSnapshotReply
                                                              : MessageType::kAppendReply,
                             m.from);
  reply.id = m.id;
  reply.ok = ok;
  reply.match_index = match;
  reply.last_index = last_index();
  reply.applied_index = repo_.applied_index;
  if (!ok && reason == "mismatch") reply.probes = Probes();
  reply.reason = std::move(reason);
  Send(std::move(reply));  // after this Ready's append: persist before send
}

// The primary's log only grows within an epoch: an append or snapshot that knew less than one
// already received is a reordered or duplicated one (dropped; the primary retries).
bool Replicator::IsStale(const Message& m) {
  if (m.from != stream_from_ || m.epoch != stream_epoch_) {
    stream_from_ = m.from;
    stream_epoch_ = m.epoch;
    stream_last_ = 0;
  }
  if (m.last_index < stream_last_) return true;
  stream_last_ = m.last_index;
  return false;
}

// A follower accepts the stream of its primary only, never from an epoch below its own.
void Replicator::OnAppend(const Message& m) {
  if (m.epoch < view_.epoch) return ReplyToAppend(m, false, "stale_epoch", 0);
  if (leading_ || m.from != view_.primary) return ReplyToAppend(m, false, "not_my_primary", 0);
  if (IsStale(m)) return;
  if (divergent_.has_value()) {
    // The primary streams to us again although it confirmed our merge: it lost what it meant to
    // send next (it restarted: its per-member state is not durable) and now waits for our
    // report. Report again; merging is idempotent (origins already held are skipped).
    if (divergent_merged_) {
      divergent_merged_ = false;
      SendDivergent();
    }
    return ReplyToAppend(m, false, "divergent", 0);
  }
  if (m.prev_index > last_index() || m.prev_index < base_index_ ||
      ChainAt(m.prev_index) != m.prev_chain) {
    return ReplyToAppend(m, false, "mismatch", 0);
  }
  std::uint64_t matched = m.prev_index;
  for (const Entry& e : m.entries) {
    if (e.index != matched + 1) return;  // malformed: not contiguous
    if (e.index <= last_index()) {
      if (ChainAt(e.index) == e.chain) {
        matched = e.index;
        continue;
      }
      if (!ResolveForeignSuffix(m, e.index)) return;
    }
    if (e.chain != Chain(ChainAt(last_index()), e)) return;  // malformed: chain broken
    NoteOrigins(e);
    log_.push_back(e);
    ready_.append.push_back(e);
    matched = e.index;
  }
  // An append that reaches the primary's end: what this member holds beyond is not the
  // primary's.
  if (m.prev_index + m.entries.size() == m.last_index && last_index() > m.last_index) {
    if (!ResolveForeignSuffix(m, m.last_index + 1)) return;
  }
  if (m.commit_index > commit_) commit_ = std::min(m.commit_index, matched);
  ApplyThrough(commit_);
  ReplyToAppend(m, true, "", matched);
}

// This member's entries from `from` on are not its primary's. Quorum mode: they were never
// committed (commit needs a majority, which the new primary's election saw): roll them back.
// Array mode: they are writes of a split array's other side: hand them to the primary to merge.
bool Replicator::ResolveForeignSuffix(const Message& m, std::uint64_t from) {
  if (view_.quorum) {
    if (from <= repo_.applied_index) {  // applied entries are committed: resynchronize
      ReplyToAppend(m, false, "needs_snapshot", 0);
      return false;
    }
    Truncate(from - 1, absl::StrCat("that its primary ", m.from, " does not have"));
    return true;
  }
  Message d = NewMessage(MessageType::kDivergent, m.from);
  d.prev_index = from - 1;
  d.prev_chain = ChainAt(from - 1);
  d.last_index = last_index();
  for (std::uint64_t i = from; i <= last_index(); ++i) {
    if (At(i).kind != EntryKind::kBarrier) d.entries.push_back(At(i));
  }
  Record("divergent",
         absl::StrCat(self_, " holds ", d.entries.size(), " write(s) after index ", from - 1,
                      " that its primary ", m.from, " does not have; asking it to merge them"));
  divergent_ = std::move(d);
  divergent_merged_ = false;
  SendDivergent();
  ReplyToAppend(m, false, "divergent", 0);
  return false;
}

void Replicator::SendDivergent() {
  Message d = *divergent_;
  d.id = next_id_++;
  d.epoch = view_.epoch;
  divergent_sent_ = now_;
  Send(std::move(d));
}

void Replicator::SendHello() {
  hello_due_ = false;
  Message hello = NewMessage(MessageType::kHello, view_.primary);
  hello.last_index = last_index();
  hello.applied_index = repo_.applied_index;
  hello.probes = Probes();
  Send(std::move(hello));  // after this Ready's persist: the samples are durable
}

// A member (re)established contact: whatever was in flight to it is likely lost (it restarted,
// or messages were dropped while it was cut off). Its samples say where it stands, as a
// mismatch reply's do; the stream resumes from there at once.
void Replicator::OnHello(const Message& m) {
  if (!leading_ || m.epoch > view_.epoch) return;
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& p = it->second;
  p.applied = std::max(p.applied, m.applied_index);
  // Our own question is on its way (the empty append to a member whose position we do not
  // know, or a snapshot) and not overdue: its answer comes; answering twice would send twice.
  if (p.inflight > 0 && (!p.known || p.needs_snapshot) && now_ < p.sent_at + RetryInterval()) {
    return;
  }
  std::optional<std::uint64_t> common;
  for (const auto& [index, chain] : m.probes) {
    if (index >= base_index_ && index <= last_index() && ChainAt(index) == chain) {
      if (!common || index > *common) common = index;
    }
  }
  p.known = true;
  p.inflight = 0;
  p.awaiting_merge = false;
  p.sent_at = absl::InfiniteDuration() * -1;
  if (!common.has_value()) {
    p.needs_snapshot = true;
  } else if (m.last_index > *common) {
    // It holds entries we do not (a split's other side, or an uncommitted suffix): the empty
    // append at our end asks it again, and its answer rolls them back or reports them.
    p.known = false;
    p.next = last_index() + 1;
  } else {
    p.match = *common;
    p.next = *common + 1;
  }
  AdvanceCommit();
  CheckPending();
  SendAll();
}

void Replicator::OnAppendReply(const Message& m) {
  if (!leading_ || m.epoch > view_.epoch) return;
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& p = it->second;
  if (p.inflight > 0) --p.inflight;
  p.answered_at = now_;
  p.applied = std::max(p.applied, m.applied_index);
  if (m.ok) {
    p.known = true;
    if (m.last_index < p.match) {  // it holds less than we thought (replaced its log): trust it
      p.match = m.match_index;
      p.next = p.match + 1;
    }
    p.match = std::max(p.match, m.match_index);
    p.next = std::max(p.next, p.match + 1);
  } else if (m.reason == "mismatch") {
    // The highest of its samples our log agrees with is a common prefix.
    std::optional<std::uint64_t> common;
    for (const auto& [index, chain] : m.probes) {
      if (index >= base_index_ && index <= last_index() && ChainAt(index) == chain) {
        if (!common || index > *common) common = index;
      }
    }
    p.known = true;
    p.inflight = 0;
    if (common.has_value()) {  // its samples describe its log now: trust them
      p.match = *common;
      p.next = *common + 1;
    } else {
      p.needs_snapshot = true;
    }
  } else if (m.reason == "divergent") {
    p.awaiting_merge = true;
    p.inflight = 0;
  } else if (m.reason == "needs_snapshot") {
    p.needs_snapshot = true;
    p.inflight = 0;
  } else {  // stale_epoch, not_my_primary: it does not follow us (yet); ask again later
    p.known = false;
    p.inflight = 0;
    p.sent_at = now_;
  }
  AdvanceCommit();
  CheckPending();
  SendAll();
}

void Replicator::OnSnapshot(const Message& m) {
  if (m.snapshot == nullptr) return;
  if (m.epoch < view_.epoch) return ReplyToAppend(m, false, "stale_epoch", 0);
  if (leading_ || m.from != view_.primary) return ReplyToAppend(m, false, "not_my_primary", 0);
  if (IsStale(m)) return;
  // Our divergent writes first: a snapshot replaces them only once the primary merged them.
  if (divergent_.has_value() && !divergent_merged_) {
    return ReplyToAppend(m, false, "divergent", 0);
  }
  const Repository& r = m.snapshot->repository;
  if (!divergent_.has_value() && r.applied_index >= base_index_ &&
      r.applied_index <= last_index() && ChainAt(r.applied_index) == r.applied_chain &&
      repo_.applied_index <= r.applied_index) {
    // Our log already holds the snapshot's last entry: keep it and what follows. Not when we
    // applied beyond it: the primary sends a snapshot to such a follower because what it
    // applied there is not the primary's (ResolveForeignSuffix), and keeping it would ask for
    // the snapshot again at the next append, for ever (sim seed 125830).
    commit_ = std::max(commit_, r.applied_index);
    ApplyThrough(commit_);
    return ReplyToAppend(m, true, "", r.applied_index);
  }
  if (!view_.quorum && !divergent_.has_value()) {
    // Array mode: our log is not on the primary's history. Writes of ours the snapshot does
    // not hold go to the primary to merge first; its snapshot after the merge replaces ours.
    Message d = NewMessage(MessageType::kDivergent, m.from);
    d.prev_index = base_index_;
    d.prev_chain = base_chain_;
    d.last_index = last_index();
    for (const Entry& e : log_) {
      if (e.kind == EntryKind::kBarrier || InSnapshot(r, e)) continue;
      d.entries.push_back(e);
    }
    // What our repository holds from before our log (an earlier snapshot) and the snapshot
    // does not: values that differ, conflict records it lacks.
    for (const auto& [key, rec] : repo_.records) {
      if (rec.index > base_index_) continue;  // in the log, handled above
      auto it = r.records.find(key);
      if (it != r.records.end() && it->second.deleted == rec.deleted &&
          it->second.value == rec.value) {
        continue;
      }
      if (it == r.records.end() && rec.deleted) continue;
      Entry e;
      e.kind = rec.deleted ? EntryKind::kDelete : EntryKind::kPut;
      e.index = rec.index;
      e.epoch = rec.epoch;
      e.writer = rec.writer;
      e.category = key.first;
      e.key = key.second;
      e.value = rec.value;
      e.origin = rec.origin;
      d.entries.push_back(std::move(e));
    }
    for (const Conflict& c : repo_.conflicts) {
      if (c.index > base_index_) continue;
      bool held = false;
      for (const Conflict& other : r.conflicts) held |= other.lost_origin == c.lost_origin;
      if (held) continue;
      Entry e;
      e.kind = EntryKind::kConflict;
      e.index = c.index;
      e.writer = c.lost_writer;
      e.category = c.category;
      e.key = c.key;
      e.value = c.lost_value;
      e.origin = c.lost_origin;
      d.entries.push_back(std::move(e));
    }
    if (!d.entries.empty()) {
      Record("divergent",
             absl::StrCat(self_, " holds ", d.entries.size(), " write(s) its primary ", m.from,
                          "'s snapshot does not have; asking it to merge them"));
      divergent_ = std::move(d);
      divergent_merged_ = false;
      SendDivergent();
      return ReplyToAppend(m, false, "divergent", 0);
    }
  }
  // Entries beyond the snapshot on a history the primary does not share are not its.
  std::vector<Entry> dropped;
  for (const Entry& e : log_) {
    if (e.index > r.applied_index && e.kind != EntryKind::kBarrier) dropped.push_back(e);
  }
  if (view_.quorum && !dropped.empty()) {
    Record("rolled_back", absl::StrCat(self_, " rolled back ", dropped.size(),
                                       " write(s) its primary ", m.from,
                                       " does not have (replaced by its snapshot)"));
    for (Entry& e : dropped) ready_.rolled_back.push_back(std::move(e));
  }
  repo_ = r;
  base_index_ = r.applied_index;
  base_chain_ = r.applied_chain;
  base_epoch_ = r.applied_epoch;
  log_.clear();
  persisted_index_ = base_index_;
  commit_ = r.applied_index;
  divergent_.reset();
  origins_.clear();
  for (const auto& [key, record] : repo_.records) {
    if (!record.origin.empty()) origins_.insert(record.origin);
  }
  for (const Conflict& c : repo_.conflicts) origins_.insert(c.lost_origin);
  ready_.snapshot = m.snapshot;
  ready_.truncate_after.reset();
  ready_.append.clear();
  ready_.apply.clear();
  ready_.compact_through.reset();
  Record("snapshot_installed", absl::StrCat(self_, " installed ", m.from,
                                            "'s snapshot through index ", r.applied_index,
                                            " (digest ", repo_.Digest(), ")"));
  ReplyToAppend(m, true, "", r.applied_index);
}

// True when `snapshot` visibly holds the write `e` (its record still shows it, or it is a
// conflict record there).
bool Replicator::InSnapshot(const Repository& snapshot, const Entry& e) {
  const std::string origin =
      e.origin.empty() ? absl::StrCat(e.writer, "@", e.epoch, ".", e.index) : e.origin;
  auto it = snapshot.records.find(Key{e.category, e.key});
  if (it != snapshot.records.end()) {
    const ::arraykit::replication::Record& rec = it->second;
    if (rec.origin == origin || (rec.origin.empty() && rec.writer == e.writer &&
                                 rec.index == e.index)) {
      return true;
    }
  }
  for (const Conflict& c : snapshot.conflicts) {
    if (c.lost_origin == origin) return true;
  }
  return false;
}

void Replicator::OnSnapshotReply(const Message& m) {
  if (!leading_ || m.epoch > view_.epoch) return;
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& p = it->second;
  p.inflight = 0;
  p.applied = std::max(p.applied, m.applied_index);
  if (m.ok) {
    p.needs_snapshot = false;
    p.known = true;
    p.match = std::max(p.match, m.match_index);
    p.next = p.match + 1;
  } else if (m.reason == "divergent") {  // it waits for our merge of its writes first
    p.awaiting_merge = true;
    p.sent_at = now_;
  } else {
    p.known = false;
    p.sent_at = now_;
  }
  AdvanceCommit();
  CheckPending();
  SendAll();
}

void Replicator::SendCatchUp() {
  if (now_ < catch_up_sent_ + RetryInterval()) return;
  catch_up_sent_ = now_;
  for (const std::string& member : view_.members) {
    if (member == self_) continue;
    Message m = NewMessage(MessageType::kCatchUp, member);
    m.last_index = last_index();
    m.last_epoch = EpochAt(last_index());
    m.probes = Probes();
    Send(std::move(m));
  }
}

// Member side: answer only with a log strictly newer than the primary's, from the highest
// sample both logs share.
void Replicator::OnCatchUp(const Message& m) {
  if (leading_ || m.from != view_.primary || m.epoch < view_.epoch || !view_.quorum) return;
  if (LogPosition{EpochAt(last_index()), last_index()} <= LogPosition{m.last_epoch, m.last_index}) {
    return;
  }
  std::optional<std::uint64_t> common;
  for (const auto& [index, chain] : m.probes) {
    if (index >= base_index_ && index <= last_index() && ChainAt(index) == chain) {
      if (!common || index > *common) common = index;
    }
  }
  if (!common.has_value()) return;
  Message reply = NewMessage(MessageType::kCatchUpReply, m.from);
  reply.id = m.id;
  reply.ok = true;
  reply.prev_index = *common;
  reply.prev_chain = ChainAt(*common);
  reply.commit_index = commit_;
  for (std::uint64_t i = *common + 1; i <= last_index(); ++i) reply.entries.push_back(At(i));
  Send(std::move(reply));
}

// Primary side: take over a newer log (what a majority committed is in it: the member's log
// is at least as up to date as any such majority's), rolling back our own entries after the
// common prefix (never committed: a committed entry would be in the newer log too).
void Replicator::OnCatchUpReply(const Message& m) {
  if (!leading_ || !view_.quorum || view_.writable || m.entries.empty()) return;
  const Entry& last = m.entries.back();
  if (LogPosition{last.epoch, last.index} <= LogPosition{EpochAt(last_index()), last_index()}) {
    return;
  }
  // Its prefix is the highest of our samples it shares, maybe below what we applied (the
  // samples thin out backwards): what it sends from there that we share is skipped below.
  if (m.prev_index < base_index_ || m.prev_index > last_index() ||
      ChainAt(m.prev_index) != m.prev_chain) {
    return;
  }
  std::uint64_t chain = m.prev_chain;
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    const Entry& e = m.entries[i];
    if (e.index != m.prev_index + 1 + i || e.chain != Chain(chain, e)) return;  // malformed
    chain = e.chain;
  }
  std::uint64_t from = m.prev_index;
  for (const Entry& e : m.entries) {  // skip what we already share
    if (e.index > last_index() || ChainAt(e.index) != e.chain) break;
    from = e.index;
  }
  if (from < repo_.applied_index) return;  // it lacks what we applied: not a log to take
  Truncate(from, absl::StrCat("that ", m.from, "'s newer log does not have"));
  for (const Entry& e : m.entries) {
    if (e.index <= from) continue;
    NoteOrigins(e);
    log_.push_back(e);
    ready_.append.push_back(e);
  }
  commit_ = std::max(commit_, std::min(m.commit_index, last_index()));
  ApplyThrough(commit_);
  CheckPending();  // our own unacknowledged writes may be gone
  Record("caught_up", absl::StrCat(self_, " took over ", m.from, "'s newer log through (",
                                   last.epoch, ", ", last.index, ") before leading"));
}

void Replicator::OnDivergentReply(const Message& m) {
  if (m.from != view_.primary || !divergent_.has_value()) return;
  if (m.ok) {
    divergent_merged_ = true;  // the primary's next snapshot holds our writes
  } else if (m.reason == "quorum_mode") {
    divergent_.reset();  // nothing to merge in quorum mode: follow the stream
  }
}

}  // namespace arraykit::replication
