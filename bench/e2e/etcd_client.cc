// etcd_client: the bench's client of etcd (bench/e2e/run drives it), a gRPC client of etcd's v3
// API over mutual TLS, as etcd's own clients are (clientv3 is gRPC; the JSON gateway would add a
// translation step inside etcd). One process, one HTTP/2 connection per endpoint shared by every
// writer thread, the loops of client_loops.h (the same as the arraykit client's).
//
//   etcd_client --tls-ca F --tls-cert F --tls-key F --endpoint IP:PORT[,IP:PORT...] MODE [options]
//   modes:
//     status                          each endpoint's member id, leader and revisions
//     seq --count N --value-bytes B --prefix P
//     concurrent --writers W (--count N | --seconds S) --value-bytes B --prefix P [--conns C]
//     failover --kill PID --key K [--give-up-s S]   (the endpoints: the surviving members)
//     join --peer-url URL --new-endpoint IP:PORT --key K --log FILE -- ETCD ARGS...
//          MemberAdd, then starts the new member (ETCD ARGS), then polls it until it serves the
//          revision at which K was last written; prints the new member's pid
//     remove --id ID
// Prints one JSON document on stdout. Exit 0, or 1 with a message on stderr.
#include <fcntl.h>
#include <spawn.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client_loops.h"
#include "etcd_rpc.grpc.pb.h"
#include "grpcpp/grpcpp.h"

extern char** environ;

namespace {

using e2e::Clock;
using e2e::json;
using e2e::Ms;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "etcd_client: %s\n", message.c_str());
  std::exit(1);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Tls {
  std::string ca, cert, key;
};

// A channel of its own (its own connection) to one member. A short reconnect backoff, so a
// member that comes up (a joiner) is seen within a few milliseconds; gRPC's minimum backoff is
// also each connection attempt's timeout, so it stays long enough for a TLS handshake.
std::shared_ptr<grpc::Channel> Connect(const Tls& tls, const std::string& endpoint) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls.ca;
  ssl.pem_cert_chain = tls.cert;
  ssl.pem_private_key = tls.key;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 5);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 50);
  return grpc::CreateCustomChannel(endpoint, grpc::SslCredentials(ssl), args);
}

std::string Describe(const grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message();
}

// A put through `kv`, with a deadline per call.
e2e::PutFn MakePut(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds deadline) {
  auto stub = std::shared_ptr<etcdserverpb::KV::Stub>(etcdserverpb::KV::NewStub(channel));
  return [stub, deadline](const std::string& key, const std::string& value, std::string* error) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    etcdserverpb::PutRequest request;
    request.set_key(key);
    request.set_value(value);
    etcdserverpb::PutResponse response;
    grpc::Status s = stub->Put(&ctx, request, &response);
    if (!s.ok()) *error = Describe(s);
    return s.ok();
  };
}

// Waits (up to 20 s) until the channel is connected: the loops start on a warm connection.
void WaitConnected(const std::shared_ptr<grpc::Channel>& channel) {
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(20))) {
    Die("cannot connect");
  }
}

json StatusOf(const std::shared_ptr<grpc::Channel>& channel, std::string* error) {
  auto stub = etcdserverpb::Maintenance::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  etcdserverpb::StatusResponse r;
  grpc::Status s = stub->Status(&ctx, etcdserverpb::StatusRequest(), &r);
  if (!s.ok()) {
    *error = Describe(s);
    return nullptr;
  }
  return json{{"member_id", std::to_string(r.header().member_id())},
              {"leader", std::to_string(r.leader())},
              {"revision", r.header().revision()},
              {"raft_index", r.raftindex()},
              {"raft_applied_index", r.raftappliedindex()},
              {"raft_term", r.raftterm()},
              {"db_size", r.dbsize()}};
}

// The revision at which `key` was last written (a linearizable read), 0 when absent.
long long ModRevision(const std::shared_ptr<grpc::Channel>& channel, const std::string& key,
                      bool serializable, std::string* error) {
  auto stub = etcdserverpb::KV::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  etcdserverpb::RangeRequest request;
  request.set_key(key);
  request.set_serializable(serializable);
  etcdserverpb::RangeResponse response;
  grpc::Status s = stub->Range(&ctx, request, &response);
  if (!s.ok()) {
    *error = Describe(s);
    return -1;
  }
  return response.kvs_size() == 0 ? 0 : response.kvs(0).mod_revision();
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) Die("cannot start " + argv[0]);
  return pid;
}

struct Args {
  std::map<std::string, std::string> flags;
  std::vector<std::string> rest;  // after "--"
  std::string Get(const std::string& name, const std::string& fallback = "") const {
    auto it = flags.find(name);
    if (it != flags.end()) return it->second;
    if (fallback.empty()) Die("--" + name + " is required");
    return fallback;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Die("usage: see the comment at the top of bench/e2e/etcd_client.cc");
  Args args;
  std::string mode;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (++i; i < argc; ++i) args.rest.push_back(argv[i]);
      break;
    }
    if (a.rfind("--", 0) == 0) {
      if (i + 1 >= argc) Die(a + " needs a value");
      args.flags[a.substr(2)] = argv[++i];
    } else if (mode.empty()) {
      mode = a;
    } else {
      Die("unexpected argument " + a);
    }
  }
  Tls tls{ReadFile(args.Get("tls-ca")), ReadFile(args.Get("tls-cert")), ReadFile(args.Get("tls-key"))};
  std::vector<std::string> endpoints;
  {
    std::stringstream list(args.Get("endpoint"));
    for (std::string e; std::getline(list, e, ',');) endpoints.push_back(e);
  }
  const std::size_t value_bytes = std::stoul(args.Get("value-bytes", "370"));
  const std::string prefix = args.Get("prefix", "bench/");
  json out;

  if (mode == "status") {
    out = json::array();
    for (const std::string& endpoint : endpoints) {
      std::string error;
      auto channel = Connect(tls, endpoint);
      json s = StatusOf(channel, &error);
      if (s.is_null()) s = json{{"error", error}};
      s["endpoint"] = endpoint;
      out.push_back(s);
    }
  } else if (mode == "seq") {
    auto channel = Connect(tls, endpoints.at(0));
    WaitConnected(channel);
    out = e2e::Sequential(MakePut(channel, std::chrono::seconds(10)),
                          std::stol(args.Get("count")), value_bytes, prefix);
  } else if (mode == "concurrent") {
    // --conns C: C connections (channels) shared round-robin by the writers (1).
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    const int conns = std::stoi(args.Get("conns", "1"));
    for (int c = 0; c < conns; ++c) {
      channels.push_back(Connect(tls, endpoints.at(0)));
      WaitConnected(channels.back());
    }
    out = e2e::Concurrent(
        [&](int w) {
          return MakePut(channels[static_cast<std::size_t>(w) % channels.size()],
                         std::chrono::seconds(10));
        },
        std::stoi(args.Get("writers")), std::stol(args.Get("count", "0")),
        std::stod(args.Get("seconds", "0")), value_bytes, prefix);
    out["conns"] = conns;
  } else if (mode == "failover") {
    // --endpoint: the surviving members; attempts go to each in turn, overlapping
    // (client_loops.h), each with a deadline of 2 s.
    std::vector<e2e::PutFn> targets;
    for (const std::string& endpoint : endpoints) {
      auto channel = Connect(tls, endpoint);
      WaitConnected(channel);
      targets.push_back(MakePut(channel, std::chrono::seconds(2)));
      std::string error;
      if (!targets.back()(args.Get("key"), "warm", &error)) Die("warm-up put: " + error);
    }
    out = e2e::Failover(static_cast<pid_t>(std::stol(args.Get("kill"))),
                        e2e::RoundRobin(targets), args.Get("key"),
                        std::stod(args.Get("give-up-s", "20")));
  } else if (mode == "join") {
    if (args.rest.empty()) Die("join: the new member's command follows --");
    auto existing = Connect(tls, endpoints.at(0));
    WaitConnected(existing);
    std::string error;
    const long long target = ModRevision(existing, args.Get("key"), false, &error);
    if (target <= 0) Die("join: " + args.Get("key") + " not found: " + error);
    auto joiner = Connect(tls, args.Get("new-endpoint"));
    auto cluster = etcdserverpb::Cluster::NewStub(existing);
    etcdserverpb::MemberAddRequest add;
    add.add_peerurls(args.Get("peer-url"));
    etcdserverpb::MemberAddResponse added;
    // etcd refuses a member add ("unhealthy cluster") until the leader has been connected to
    // every member for 5 s (its strict reconfiguration check), and right after a member's
    // removal it may answer "member not found": such refusals are immediate and retried; the
    // time runs from the attempt etcd accepted.
    Clock::time_point start;
    long refused = 0;
    for (;;) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      start = Clock::now();
      grpc::Status s = cluster->MemberAdd(&ctx, add, &added);
      if (s.ok()) break;
      const bool transient = s.error_message().find("unhealthy cluster") != std::string::npos ||
                             s.error_message().find("member not found") != std::string::npos;
      if (!transient || ++refused > 200) {
        Die("member add: " + Describe(s));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const auto member_added = Clock::now();
    const pid_t pid = Spawn(args.rest, args.Get("log"));
    const auto spawned = Clock::now();
    // Polled every millisecond: a serializable read answers from the joiner's own store.
    double first_answer_ms = -1;
    long polls = 0;
    for (;;) {
      ++polls;
      // Until the joiner answers, each poll dials it afresh (a channel's reconnect state
      // would hold a refused dial against it).
      if (first_answer_ms < 0) joiner = Connect(tls, args.Get("new-endpoint"));
      const long long seen = ModRevision(joiner, args.Get("key"), true, &error);
      if (seen >= 0 && first_answer_ms < 0) first_answer_ms = Ms(Clock::now() - start);
      if (seen >= target) break;
      if (Clock::now() - start > std::chrono::seconds(60)) {
        Die("join: not caught up in 60 s (last answer: " +
            (seen < 0 ? error : "revision " + std::to_string(seen)) + ")");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const double done_ms = Ms(Clock::now() - start);
    out = json{{"ms", done_ms},
               {"member_add_ms", Ms(member_added - start)},
               {"spawned_ms", Ms(spawned - start)},
               {"first_answer_ms", first_answer_ms},
               {"polls", polls},
               {"member_add_refused", refused},
               {"target_revision", target},
               {"member_id", std::to_string(added.member().id())},
               {"pid", pid}};
  } else if (mode == "remove") {
    auto channel = Connect(tls, endpoints.at(0));
    auto cluster = etcdserverpb::Cluster::NewStub(channel);
    etcdserverpb::MemberRemoveRequest request;
    request.set_id(std::stoull(args.Get("id")));
    etcdserverpb::MemberRemoveResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status s = cluster->MemberRemove(&ctx, request, &response);
    if (!s.ok()) Die("member remove: " + Describe(s));
    out = json{{"members", response.members_size()}};
  } else {
    Die("unknown mode \"" + mode + "\"");
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
