// MemoryNetwork: each fault and connectivity property, observed through real delivery.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/pki/pki.h"
#include "core/status.h"
#include "node/memory_network.h"

namespace arraykit::node {
namespace {

using namespace std::chrono_literals;

// Collects what one member receives; tests wait on conditions, never on sleeps.
class Inbox {
 public:
  Receiver receiver() {
    return [this](Envelope e) {
      std::lock_guard lock(mu_);
      got_.push_back(std::move(e));
      cv_.notify_all();
    };
  }
  // Waits until at least `n` envelopes arrived (or `timeout`); returns the count.
  std::size_t WaitFor(std::size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return got_.size() >= n; });
    return got_.size();
  }
  std::vector<Envelope> got() {
    std::lock_guard lock(mu_);
    return got_;
  }
  std::vector<std::uint64_t> ids() {
    std::vector<std::uint64_t> out;
    for (const auto& e : got()) out.push_back(std::get<failover::Message>(e.payload).id);
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Envelope> got_;
};

failover::Message Probe(std::uint64_t id, std::string claimed_from = "") {
  failover::Message m;
  m.type = failover::MessageType::kProbe;
  m.id = id;
  m.from = std::move(claimed_from);
  return m;
}

// Waits until every queued message was delivered or dropped.
void Drain(MemoryNetwork& net) { REQUIRE(net.WaitIdle(absl::Seconds(10))); }

TEST_CASE("the sender's name comes from the link, not from the message body") {
  auto net = MemoryNetwork::Create();
  Inbox b;
  auto ta = net->Attach("a.example.com", [](Envelope) {}).value();
  auto tb = net->Attach("b.example.com", b.receiver()).value();
  ta->Send("b.example.com", Probe(1, "mallory.example.com"));
  REQUIRE(b.WaitFor(1) == 1);
  Envelope e = b.got()[0];
  CHECK(e.from == "a.example.com");
  CHECK(e.to == "b.example.com");
  CHECK(std::get<failover::Message>(e.payload).from == "mallory.example.com");  // untouched body
}

TEST_CASE("both payload kinds travel") {
  auto net = MemoryNetwork::Create();
  Inbox b;
  auto ta = net->Attach("a", [](Envelope) {}).value();
  auto tb = net->Attach("b", b.receiver()).value();
  replication::Message r;
  r.type = replication::MessageType::kAppend;
  r.commit_index = 7;
  ta->Send("b", r);
  REQUIRE(b.WaitFor(1) == 1);
  REQUIRE(std::holds_alternative<replication::Message>(b.got()[0].payload));
  CHECK(std::get<replication::Message>(b.got()[0].payload).commit_index == 7);
}

TEST_CASE("names are matched case-insensitively with the trailing dot ignored") {
  auto net = MemoryNetwork::Create();
  Inbox b;
  auto ta = net->Attach("a.example.com", [](Envelope) {}).value();
  auto tb = net->Attach("B.Example.com.", b.receiver()).value();
  ta->Send("b.example.com", Probe(1));
  CHECK(b.WaitFor(1) == 1);
}

TEST_CASE("a link without jitter or reordering is FIFO") {
  auto net = MemoryNetwork::Create();
  REQUIRE(net->SetDefaultLink({.delay = absl::Microseconds(200)}).ok());
  Inbox b;
  auto ta = net->Attach("a", [](Envelope) {}).value();
  auto tb = net->Attach("b", b.receiver()).value();
  for (std::uint64_t i = 0; i < 500; ++i) ta->Send("b", Probe(i));
  REQUIRE(b.WaitFor(500) == 500);
  std::vector<std::uint64_t> ids = b.ids();
  CHECK(std::is_sorted(ids.begin(), ids.end()));
}

TEST_CASE("a message is not delivered before its link's delay") {
  auto net = MemoryNetwork::Create();
  REQUIRE(net->SetLink("a", "b", {.delay = absl::Milliseconds(30)}).ok());
  Inbox b, a;
  auto ta = net->Attach("a", a.receiver()).value();
  auto tb = net->Attach("b", b.receiver()).value();
  auto start = std::chrono::steady_clock::now();
  ta->Send("b", Probe(1));
  REQUIRE(b.WaitFor(1) == 1);
  CHECK(std::chrono::steady_clock::now() - start >= 30ms);
  // The reverse link keeps the default (no delay): the per-link setting is directional.
  start = std::chrono::steady_clock::now();
  tb->Send("a", Probe(2));
  REQUIRE(a.WaitFor(1) == 1);
  CHECK(std::chrono::steady_clock::now() - start < 30ms);
}

TEST_CASE("Send never blocks, even with a long delay") {
  auto net = MemoryNetwork::Create();
  REQUIRE(net->SetDefaultLink({.delay = absl::Seconds(10)}).ok());
  auto ta = net->Attach("a", [](Envelope) {}).value();
  auto tb = net->Attach("b", [](Envelope) {}).value();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) ta->Send("b", Probe(i));
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  CHECK(net->counters().delivered == 0);
}

TEST_CASE("loss drops messages with the link's probability") {
  auto net = MemoryNetwork::Create(42);
  REQUIRE(net->SetDefaultLink({.loss = 0.3}).ok());
  Inbox b;
  auto ta = net->Attach("a", [](Envelope) {}).value();
  auto tb = net->Attach("b", b.receiver()).value();
  for (int i = 0; i < 2000; ++i) ta->Send("b", Probe(i));
  Drain(*net);
  NetworkCounters c = net->counters();
  CHECK(c.lost > 450);
  CHECK(c.lost < 750);
  CHECK(b.got().size() == 2000 - c.lost);

  REQUIRE(net->SetDefaultLink({.loss = 1.0}).ok());
  ta->Send("b", Probe(9999));
  Drain(*net);
  CHECK(b.got().size() == 2000 - c.lost);
}

TEST_CASE("the same seed drops the same messages") {
  auto run = [](std::uint64_t seed) {
    auto net = MemoryNetwork::Create(seed);
    REQUIRE(net->SetDefaultLink({.loss = 0.5}).ok());
    Inbox b;
    auto ta = net->Attach("a", [](Envelope) {}).value();
    auto tb = net->Attach("b", b.receiver()).value();
    for (int i = 0; i < 300; ++i) ta->Send("b", Probe(i));
    Drain(*net);
    return b.ids();
  };
  CHECK(run(7) == run(7));
  CHECK(run(7) != run(8));
}

TEST_CASE("duplication delivers a message twice") {
  auto net = MemoryNetwork::Create();
  REQUIRE(net->SetDefaultLink({.duplicate = 1.0}).ok());
  Inbox b;
  auto ta = net->Attach("a", [](Envelope) {}).value();
  auto tb = net->Attach("b", b.receiver()).value();
  for (std::uint64_t i = 0; i < 50; ++i) ta->Send("b", Probe(i));
  REQUIRE(b.WaitFor(100) == 100);
  std::multiset<std::uint64_t> ids;
  for (auto id : b.ids()) ids.insert(id);
  for (std::uint64_t i = 0; i < 50; ++i) CHECK(ids.count(i) == 2);
}

TEST_CASE("reordering lets later messages overtake, and loses none") {
  auto net = MemoryNetwork::Create(3);
  REQUIRE(net->SetDefaultLink({.reorder = 0.3, .reorder_window = absl::Milliseconds(5)}).ok());
  Inbox b;
  auto ta = net->Attach("a", [](Envelope) {}).value();
  auto tb = net->Attach("b", b.receiver()).value();
  for (std::uint64_t i = 0; i < 300; ++i) ta->Send("b", Probe(i));
  REQUIRE(b.WaitFor(300) == 300);
  std::vector<std::uint64_t> ids = b.ids();
  CHECK_FALSE(std::is_sorted(ids.begin(), ids.end()));
  std::sort(ids.begin(), ids.end());
  for (std::uint64_t i = 0; i < 300; ++i) CHECK(ids[i] == i);
  CHECK(net->counters().reordered > 0);
}

TEST_CASE("jitter reorders too") {
  auto net = MemoryNetwork::Create(5);
  REQUIRE(net->SetDefaultLink({.jitter = absl::Milliseconds(3)}).ok());
  Inbox b;
  auto ta = net->Attach("a", [](Envelope) {}).value();
  auto tb = net->Attach("b", b.receiver()).value();
  for (std::uint64_t i = 0; i < 300; ++i) ta->Send("b", Probe(i));
  REQUIRE(b.WaitFor(300) == 300);
  std::vector<std::uint64_t> ids = b.ids();
  CHECK_FALSE(std::is_sorted(ids.begin(), ids.end()));
}

TEST_CASE("a partition cuts the groups apart and heal joins them") {
  auto net = MemoryNetwork::Create();
  Inbox a, b, c;
  auto ta = net->Attach("a", a.receiver()).value();
  auto tb = net->Attach("b", b.receiver()).value();
  auto tc = net->Attach("c", c.receiver()).value();
  net->Partition({{"a", "b"}, {"c"}});
  CHECK(net->Connected("a", "b"));
  CHECK_FALSE(net->Connected("a", "c"));
  ta->Send("b", Probe(1));
  ta->Send("c", Probe(2));
  tc->Send("a", Probe(3));
  REQUIRE(b.WaitFor(1) == 1);
  Drain(*net);
  CHECK(c.got().empty());
  CHECK(a.got().empty());
  CHECK(net->counters().partitioned == 2);

  net->Heal();
  ta->Send("c", Probe(4));
  REQUIRE(c.WaitFor(1) == 1);
  CHECK(c.ids() == std::vector<std::uint64_t>{4});
}

TEST_CASE("members named in no group of a partition form one group") {
  auto net = MemoryNetwork::Create();
  net->Partition({{"a"}});
  CHECK(net->Connected("b", "c"));
  CHECK_FALSE(net->Connected("a", "b"));
}

TEST_CASE("a partition cuts messages already in flight") {
  auto net = MemoryNetwork::Create();
  REQUIRE(net->SetDefaultLink({.delay = absl::Milliseconds(50)}).ok());
  Inbox b;
  auto ta = net->Attach("a", [](Envelope) {}).value();
  auto tb = net->Attach("b", b.receiver()).value();
  ta->Send("b", Probe(1));
  net->Partition({{"a"}, {"b"}});
  Drain(*net);
  CHECK(b.got().empty());
  CHECK(net->counters().partitioned == 1);
}

TEST_CASE("an isolated member neither sends nor receives; the others still talk") {
  auto net = MemoryNetwork::Create();
  Inbox a, b, c;
  auto ta = net->Attach("a", a.receiver()).value();
  auto tb = net->Attach("b", b.receiver()).value();
  auto tc = net->Attach("c", c.receiver()).value();
  net->Isolate("c");
  tc->Send("a", Probe(1));
  ta->Send("c", Probe(2));
  ta->Send("b", Probe(3));
  REQUIRE(b.WaitFor(1) == 1);
  Drain(*net);
  CHECK(a.got().empty());
  CHECK(c.got().empty());
  net->Heal();
  tc->Send("a", Probe(4));
  CHECK(a.WaitFor(1) == 1);
}

TEST_CASE("a closed member receives nothing and sends nothing") {
  auto net = MemoryNetwork::Create();
  Inbox b;
  auto ta = net->Attach("a", [](Envelope) {}).value();
  auto tb = net->Attach("b", b.receiver()).value();
  tb->Close();
  CHECK_FALSE(net->Attached("b"));
  ta->Send("b", Probe(1));
  tb->Send("a", Probe(2));
  Drain(*net);
  CHECK(b.got().empty());
  CHECK(net->counters().unattached == 2);
  CHECK(net->counters().delivered == 0);
}

TEST_CASE("a name is attached once; after closing it can be attached again") {
  auto net = MemoryNetwork::Create();
  auto first = net->Attach("a", [](Envelope) {});
  REQUIRE(first.ok());
  auto second = net->Attach("A.", [](Envelope) {});
  REQUIRE(second.status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(ReasonOf(second.status()) == "already_attached");
  (*first)->Close();
  CHECK(net->Attach("a", [](Envelope) {}).ok());
}

TEST_CASE("Close waits for a running receiver and no call follows it") {
  auto net = MemoryNetwork::Create();
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  int calls_after_close = 0;
  bool closed = false;
  auto ta = net->Attach("a", [](Envelope) {}).value();
  auto tb = net->Attach("b", [&](Envelope) {
               std::unique_lock lock(mu);
               if (closed) ++calls_after_close;
               entered = true;
               cv.notify_all();
               cv.wait(lock, [&] { return release; });
             }).value();
  ta->Send("b", Probe(1));
  ta->Send("b", Probe(2));
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return entered; });
  }
  std::thread closer([&] {
    tb->Close();
    std::lock_guard lock(mu);
    closed = true;
  });
  {
    std::lock_guard lock(mu);
    release = true;
    cv.notify_all();
  }
  closer.join();
  Drain(*net);
  std::lock_guard lock(mu);
  CHECK(closed);
  CHECK(calls_after_close == 0);
}

TEST_CASE("link options are validated") {
  auto net = MemoryNetwork::Create();
  CHECK(net->SetDefaultLink({.loss = 1.5}).code() == absl::StatusCode::kInvalidArgument);
  CHECK(net->SetDefaultLink({.delay = absl::Milliseconds(-1)}).code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(net->SetLink("a", "b", {.reorder = 0.5, .reorder_window = absl::ZeroDuration()}).code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("a pinned send reaches only a member presenting the expected CA") {
  auto net = MemoryNetwork::Create();
  const absl::Time now = absl::Now();
  auto ca_b = pki::CertificateAuthority::Create(pki::CaOptions{}, now).value();
  auto ca_other = pki::CertificateAuthority::Create(pki::CaOptions{}, now).value();
  Inbox a, b;
  auto ta = net->Attach("a", a.receiver()).value();
  auto tb = net->Attach("b", b.receiver(), ca_b.certificate_pem()).value();
  CHECK_FALSE(net->Attach("c", [](Envelope) {}, "not a certificate").ok());

  // The expected CA, in lower case without colons: delivered.
  std::string fp;
  for (char ch : ca_b.fingerprint()) {
    if (ch != ':') fp += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  ta->SendPinned("b", fp, Probe(1));
  REQUIRE(b.WaitFor(1) == 1);

  // Another CA expected: b gets nothing; a learns what b presented.
  ta->SendPinned("b", ca_other.fingerprint(), Probe(2));
  REQUIRE(a.WaitFor(1) == 1);
  Envelope error = a.got()[0];
  CHECK(error.from == "b");
  REQUIRE(std::holds_alternative<LinkError>(error.payload));
  CHECK(std::get<LinkError>(error.payload).reason == "fingerprint_mismatch");
  CHECK(std::get<LinkError>(error.payload).presented_ca_fingerprint == ca_b.fingerprint());

  // b presents another CA from now on (it joined an array).
  node::LinkSecurity security;
  security.presented_ca_pem = ca_other.certificate_pem();
  REQUIRE(tb->Secure(security).ok());
  ta->SendPinned("b", ca_other.fingerprint(), Probe(3));
  REQUIRE(b.WaitFor(2) == 2);

  // Unreachable: a partition, or nobody attached, answers not_contactable (never cut itself).
  net->Isolate("b");
  ta->SendPinned("b", ca_other.fingerprint(), Probe(4));
  ta->SendPinned("nobody", ca_other.fingerprint(), Probe(5));
  REQUIRE(a.WaitFor(3) == 3);
  for (std::size_t i = 1; i < 3; ++i) {
    CHECK(std::get<LinkError>(a.got()[i].payload).reason == "not_contactable");
  }
  Drain(*net);
  CHECK(b.got().size() == 2);
}

}  // namespace
}  // namespace arraykit::node
