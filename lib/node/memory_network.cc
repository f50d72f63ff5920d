#include "node/memory_network.h"

#include <algorithm>
#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/pki/pki.h"
#include "core/status.h"

namespace arraykit::node {

std::string CanonicalName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

absl::Status ValidateLinkOptions(const LinkOptions& o) {
  auto probability = [](double p, const char* field) -> absl::Status {
    if (!(p >= 0 && p <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": a probability in [0, 1], got ", p));
    }
    return absl::OkStatus();
  };
  if (auto s = probability(o.loss, "loss"); !s.ok()) return s;
  if (auto s = probability(o.duplicate, "duplicate"); !s.ok()) return s;
  if (auto s = probability(o.reorder, "reorder"); !s.ok()) return s;
  if (o.delay < absl::ZeroDuration() || o.jitter < absl::ZeroDuration() ||
      o.reorder_window < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("delay, jitter and reorder_window must not be negative");
  }
  if (o.reorder > 0 && o.reorder_window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("reorder_window: must be positive when reorder > 0");
  }
  return absl::OkStatus();
}

// One member's attachment. Holds the network alive; closing detaches the name.
class MemoryNetwork::Endpoint final : public Transport {
 public:
  Endpoint(std::shared_ptr<MemoryNetwork> network, std::uint64_t id, std::string self)
      : network_(std::move(network)), id_(id), self_(std::move(self)) {}
  ~Endpoint() override { Close(); }

  const std::string& self() const override { return self_; }
  void Send(const std::string& to, Payload payload) override {
    network_->SendFrom(id_, self_, to, std::move(payload));
  }
  void SendPinned(const std::string& to, const std::string& expected_ca_fingerprint,
                  Payload payload) override {
    network_->SendPinnedFrom(id_, self_, to, expected_ca_fingerprint, std::move(payload));
  }
  absl::Status Secure(const LinkSecurity& security) override {
    return network_->PresentCa(id_, self_, security.presented_ca_pem);
  }
  void Close() override {
    std::call_once(closed_, [this] { network_->Detach(id_, self_); });
  }

 private:
  std::shared_ptr<MemoryNetwork> network_;
  std::uint64_t id_;
  std::string self_;
  std::once_flag closed_;
};

std::shared_ptr<MemoryNetwork> MemoryNetwork::Create(std::uint64_t seed) {
  return std::shared_ptr<MemoryNetwork>(new MemoryNetwork(seed));
}

MemoryNetwork::MemoryNetwork(std::uint64_t seed) : random_(seed) {
  thread_ = std::thread([this] { Run(); });
}

MemoryNetwork::~MemoryNetwork() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

namespace {
// The fingerprint of the CA a member presents ("" for none).
absl::StatusOr<std::string> PresentedFingerprint(const std::string& ca_pem) {
  if (ca_pem.empty()) return std::string();
  auto fingerprint = pki::Fingerprint(ca_pem);
  if (!fingerprint.ok()) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          "presented CA certificate: ", fingerprint.status().message())),
                      "malformed");
  }
  return *fingerprint;
}
}  // namespace

absl::StatusOr<std::unique_ptr<Transport>> MemoryNetwork::Attach(
    const std::string& name, Receiver receiver, const std::string& presented_ca_pem) {
  if (name.empty()) return absl::InvalidArgumentError("name: a member name is required");
  if (!receiver) return absl::InvalidArgumentError("receiver: required");
  auto fingerprint = PresentedFingerprint(presented_ca_pem);
  if (!fingerprint.ok()) return fingerprint.status();
  std::uint64_t id;
  {
    std::lock_guard lock(mu_);
    std::string key = CanonicalName(name);
    if (attached_.contains(key)) {
      return WithReason(absl::AlreadyExistsError(absl::StrCat(
                            name, " is already attached to this network (close it first)")),
                        "already_attached");
    }
    id = next_endpoint_++;
    attached_[key] =
        Attachment{id, std::make_shared<Receiver>(std::move(receiver)), *std::move(fingerprint)};
  }
  // The network is only ever owned through shared_ptr (Create), so this is safe.
  return std::unique_ptr<Transport>(new Endpoint(shared_from_this(), id, name));
}

absl::Status MemoryNetwork::SetDefaultLink(const LinkOptions& options) {
  if (auto s = ValidateLinkOptions(options); !s.ok()) return s;
  std::lock_guard lock(mu_);
  default_link_ = options;
  return absl::OkStatus();
}

absl::Status MemoryNetwork::SetLink(const std::string& from, const std::string& to,
                                    const LinkOptions& options) {
  if (auto s = ValidateLinkOptions(options); !s.ok()) return s;
  std::lock_guard lock(mu_);
  links_[{CanonicalName(from), CanonicalName(to)}] = options;
  return absl::OkStatus();
}

void MemoryNetwork::Partition(const std::vector<std::vector<std::string>>& groups) {
  std::lock_guard lock(mu_);
  group_.clear();
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (const auto& name : groups[g]) group_[CanonicalName(name)] = static_cast<int>(g);
  }
  partitioned_ = true;
}

void MemoryNetwork::Isolate(const std::string& name) {
  std::lock_guard lock(mu_);
  isolated_.insert(CanonicalName(name));
}

void MemoryNetwork::Heal() {
  std::lock_guard lock(mu_);
  group_.clear();
  partitioned_ = false;
  isolated_.clear();
}

bool MemoryNetwork::Connected(const std::string& a, const std::string& b) const {
  std::lock_guard lock(mu_);
  return ConnectedLocked(CanonicalName(a), CanonicalName(b));
}

bool MemoryNetwork::Attached(const std::string& name) const {
  std::lock_guard lock(mu_);
  return attached_.contains(CanonicalName(name));
}

NetworkCounters MemoryNetwork::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

bool MemoryNetwork::WaitIdle(absl::Duration timeout) const {
  std::unique_lock lock(mu_);
  return delivered_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                             [&] { return queue_.empty() && delivering_ == 0; });
}

bool MemoryNetwork::ConnectedLocked(const std::string& a, const std::string& b) const {
  if (a == b) return true;
  if (isolated_.contains(a) || isolated_.contains(b)) return false;
  if (!partitioned_) return true;
  auto group = [this](const std::string& n) {
    auto it = group_.find(n);
    return it == group_.end() ? -1 : it->second;  // -1: the group of the unnamed members
  };
  return group(a) == group(b);
}

const LinkOptions& MemoryNetwork::LinkLocked(const std::string& from,
                                             const std::string& to) const {
  auto it = links_.find({from, to});
  return it == links_.end() ? default_link_ : it->second;
}

double MemoryNetwork::UniformLocked() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(random_);
}

std::chrono::steady_clock::duration MemoryNetwork::DelayLocked(const LinkOptions& link) {
  absl::Duration d = link.delay;
  if (link.jitter > absl::ZeroDuration()) d += link.jitter * UniformLocked();
  if (link.reorder > 0 && UniformLocked() < link.reorder) {
    d += link.reorder_window * UniformLocked();
    ++counters_.reordered;
  }
  return absl::ToChronoNanoseconds(d);
}

void MemoryNetwork::SendFrom(std::uint64_t endpoint, const std::string& from,
                             const std::string& to, Payload payload) {
  {
    std::lock_guard lock(mu_);
    ++counters_.sent;
    std::string a = CanonicalName(from), b = CanonicalName(to);
    auto self = attached_.find(a);
    if (self == attached_.end() || self->second.id != endpoint) {
      ++counters_.unattached;  // a closed transport sends nothing
      return;
    }
    if (!ConnectedLocked(a, b)) {
      ++counters_.partitioned;
      return;
    }
    QueueLocked(from, to, std::move(payload));
  }
  wake_.notify_one();
}

void MemoryNetwork::QueueLocked(const std::string& from, const std::string& to,
                                Payload payload) {
  const LinkOptions& link = LinkLocked(CanonicalName(from), CanonicalName(to));
  if ((link.loss > 0 && UniformLocked() < link.loss) || queue_.size() >= kMaxInFlight) {
    ++counters_.lost;
    return;
  }
  auto now = std::chrono::steady_clock::now();
  bool twice = link.duplicate > 0 && UniformLocked() < link.duplicate;
  if (twice) {
    ++counters_.duplicated;
    queue_.emplace(When{now + DelayLocked(link), next_seq_++}, Envelope{from, to, payload});
  }
  queue_.emplace(When{now + DelayLocked(link), next_seq_++},
                 Envelope{from, to, std::move(payload)});
}

void MemoryNetwork::SendPinnedFrom(std::uint64_t endpoint, const std::string& from,
                                   const std::string& to, const std::string& expected_fingerprint,
                                   Payload payload) {
  auto expected = pki::NormalizeFingerprint(expected_fingerprint);
  {
    std::lock_guard lock(mu_);
    ++counters_.sent;
    std::string a = CanonicalName(from), b = CanonicalName(to);
    auto self = attached_.find(a);
    if (self == attached_.end() || self->second.id != endpoint) {
      ++counters_.unattached;
      return;
    }
    auto target = attached_.find(b);
    LinkError error;
    if (target == attached_.end() || !ConnectedLocked(a, b)) {
      error.reason = "not_contactable";
    } else if (!expected.ok() || target->second.ca_fingerprint != *expected) {
      error.reason = "fingerprint_mismatch";
      error.presented_ca_fingerprint = target->second.ca_fingerprint;
    }
    if (error.reason.empty()) {
      QueueLocked(from, to, std::move(payload));
    } else {
      // The sender learns it at once, as a failed handshake would tell it.
      queue_.emplace(When{std::chrono::steady_clock::now(), next_seq_++},
                     Envelope{to, from, std::move(error)});
    }
  }
  wake_.notify_one();
}

absl::Status MemoryNetwork::PresentCa(std::uint64_t endpoint, const std::string& name,
                                      const std::string& ca_pem) {
  auto fingerprint = PresentedFingerprint(ca_pem);
  if (!fingerprint.ok()) return fingerprint.status();
  std::lock_guard lock(mu_);
  auto it = attached_.find(CanonicalName(name));
  if (it != attached_.end() && it->second.id == endpoint) {
    it->second.ca_fingerprint = *std::move(fingerprint);
  }
  return absl::OkStatus();
}

void MemoryNetwork::Detach(std::uint64_t endpoint, const std::string& name) {
  std::unique_lock lock(mu_);
  auto it = attached_.find(CanonicalName(name));
  if (it != attached_.end() && it->second.id == endpoint) attached_.erase(it);
  // A receiver may be running for this endpoint right now; wait for it to return (unless the
  // receiver itself is closing its transport, on the delivery thread).
  if (std::this_thread::get_id() != thread_.get_id()) {
    delivered_.wait(lock, [&] { return delivering_ != endpoint; });
  }
}

void MemoryNetwork::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (queue_.empty()) {
      wake_.wait(lock);
      continue;
    }
    auto first = queue_.begin();
    if (first->first.first > std::chrono::steady_clock::now()) {
      wake_.wait_until(lock, first->first.first);
      continue;
    }
    Envelope envelope = std::move(queue_.extract(first).mapped());
    std::string a = CanonicalName(envelope.from), b = CanonicalName(envelope.to);
    auto target = attached_.find(b);
    if (target == attached_.end()) {
      ++counters_.unattached;
      delivered_.notify_all();
      continue;
    }
    // A LinkError is the sender's own transport speaking: no link to cut.
    if (!std::holds_alternative<LinkError>(envelope.payload) && !ConnectedLocked(a, b)) {
      ++counters_.partitioned;
      delivered_.notify_all();
      continue;
    }
    ++counters_.delivered;
    delivering_ = target->second.id;
    std::shared_ptr<Receiver> receiver = target->second.receiver;
    lock.unlock();
    (*receiver)(std::move(envelope));
    receiver.reset();
    lock.lock();
    delivering_ = 0;
    delivered_.notify_all();
  }
}

}  // namespace arraykit::node
