// e2e_client: the bench's client of arraykit (bench/e2e/run drives it). It holds handles on
// running arrayd members through the public C ABI only (ak_node_connect: every ak_node_* call
// goes over the member's admin socket, gRPC on a Unix socket) and runs the loops of
// client_loops.h, the same as the etcd client's.
//
//   e2e_client --node DATA_DIR MODE [options]
//   modes:
//     status                      the member's status document
//     seq --count N --value-bytes B --prefix P
//     reads --count N             ak_node_get of one key, one at a time (the client path alone)
//     concurrent --writers W (--count N | --seconds S) --value-bytes B --prefix P
//                [--handles H]    H handles (connections) shared round-robin by the writers (1)
//     failover --kill PID --key K [--give-up-s S]   (--node DIR,DIR: the surviving members)
//     join --joiner DATA_DIR      (--node is the primary) token and fingerprint made on the
//                                 joiner first, then from ak_node_join until the joiner's status
//                                 shows the primary's last position applied (polled every 0.5 ms)
//     detach --name NAME          (on the primary)
//     config-edit --edit JSON
// Writes are ak_node_put(category "global_configuration", key, "\"PAYLOAD\"", NULL): the
// default wait, durable on the primary (quorum mode: on a majority of voters).
// Prints one JSON document on stdout. Exit 0, or 1 with the reason word and message on stderr.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "arraykit/arraykit.h"
#include "client_loops.h"

namespace {

using e2e::Clock;
using e2e::json;
using e2e::Ms;

constexpr const char* kCategory = "global_configuration";

std::string LastError(ak_status s) {
  return std::string(ak_last_error_reason()) + ": " + ak_last_error() + " (" + ak_strerror(s) +
         ")";
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "e2e_client: %s\n", message.c_str());
  std::exit(1);
}

// A handle on a running member; closed (the member keeps running) with the handle.
std::shared_ptr<ak_node> Connect(const std::string& path) {
  ak_node* node = nullptr;
  if (ak_status s = ak_node_connect(&node, path.c_str()); s != AK_OK) {
    Die("connect " + path + ": " + LastError(s));
  }
  return std::shared_ptr<ak_node>(node, [](ak_node* n) { ak_node_close(n); });
}

// Takes an ak_free'd string out of the library.
std::string Take(char* text) {
  std::string out = text == nullptr ? "" : text;
  ak_free(text);
  return out;
}

json Status(const std::shared_ptr<ak_node>& node) {
  char* text = nullptr;
  if (ak_status s = ak_node_status(&text, node.get()); s != AK_OK) Die("status: " + LastError(s));
  return json::parse(Take(text));
}

e2e::PutFn MakePut(std::shared_ptr<ak_node> node) {
  return [node](const std::string& key, const std::string& value, std::string* error) {
    const std::string value_json = "\"" + value + "\"";  // the payload is plain characters
    const ak_status s =
        ak_node_put(nullptr, node.get(), kCategory, key.c_str(), value_json.c_str(), nullptr);
    if (s != AK_OK) *error = LastError(s);
    return s == AK_OK;
  };
}

// (epoch, index) of a position document, for comparisons.
std::pair<long long, long long> Position(const json& p) {
  if (!p.is_object()) return {0, 0};
  return {p.value("epoch", 0LL), p.value("index", 0LL)};
}

struct Args {
  std::map<std::string, std::string> flags;
  std::string Get(const std::string& name, const std::string& fallback = "") const {
    auto it = flags.find(name);
    if (it != flags.end()) return it->second;
    if (fallback.empty()) Die("--" + name + " is required");
    return fallback;
  }
};

}  // namespace

int main(int argc, char** argv) {
  Args args;
  std::string mode;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      if (i + 1 >= argc) Die(a + " needs a value");
      args.flags[a.substr(2)] = argv[++i];
    } else if (mode.empty()) {
      mode = a;
    } else {
      Die("unexpected argument " + a);
    }
  }
  if (mode.empty()) Die("usage: see the comment at the top of bench/e2e/e2e_client.cc");
  const std::string path = args.Get("node");
  const std::size_t value_bytes = std::stoul(args.Get("value-bytes", "370"));
  const std::string prefix = args.Get("prefix", "bench/");
  json out;

  if (mode == "status") {
    out = Status(Connect(path));
  } else if (mode == "seq") {
    auto node = Connect(path);
    Status(node);  // the connection is up before the first timed write
    out = e2e::Sequential(MakePut(node), std::stol(args.Get("count")), value_bytes, prefix);
  } else if (mode == "reads") {
    // The client path alone: ak_node_get of one key, one at a time (the admin socket's round
    // trip and the member's loop, no store commit and no peer).
    auto node = Connect(path);
    std::string error;
    if (!MakePut(node)(prefix + "read", e2e::Payload(value_bytes, 0), &error)) Die(error);
    const std::string key = prefix + "read";
    out = e2e::Sequential(
        [&](const std::string&, const std::string&, std::string* failure) {
          char* value = nullptr;
          const ak_status s = ak_node_get(&value, node.get(), kCategory, key.c_str());
          ak_free(value);
          if (s != AK_OK) *failure = LastError(s);
          return s == AK_OK;
        },
        std::stol(args.Get("count")), value_bytes, prefix);
  } else if (mode == "concurrent") {
    std::vector<std::shared_ptr<ak_node>> handles;
    const int handle_count = std::stoi(args.Get("handles", "1"));
    for (int h = 0; h < handle_count; ++h) {
      handles.push_back(Connect(path));
      Status(handles.back());
    }
    out = e2e::Concurrent(
        [&](int w) { return MakePut(handles[static_cast<std::size_t>(w) % handles.size()]); },
        std::stoi(args.Get("writers")), std::stol(args.Get("count", "0")),
        std::stod(args.Get("seconds", "0")), value_bytes, prefix);
    out["handles"] = handle_count;
  } else if (mode == "failover") {
    // --node: the surviving members, comma-separated; attempts go to each in turn.
    std::vector<e2e::PutFn> targets;
    for (std::size_t at = 0; at <= path.size();) {
      const std::size_t comma = std::min(path.find(',', at), path.size());
      auto node = Connect(path.substr(at, comma - at));
      Status(node);
      targets.push_back(MakePut(node));
      at = comma + 1;
    }
    out = e2e::Failover(static_cast<pid_t>(std::stol(args.Get("kill"))),
                        e2e::RoundRobin(targets), args.Get("key"),
                        std::stod(args.Get("give-up-s", "20")));
  } else if (mode == "join") {
    auto primary = Connect(path);
    auto joiner = Connect(args.Get("joiner"));
    const json joiner_status = Status(joiner);
    const std::string joiner_name = joiner_status.at("name").get<std::string>();
    char* token = nullptr;
    if (ak_status s = ak_node_join_token(&token, joiner.get(), 600); s != AK_OK) {
      Die("join-token: " + LastError(s));
    }
    const std::string token_text = Take(token);
    char* fingerprint = nullptr;
    if (ak_status s = ak_node_ca_fingerprint(&fingerprint, joiner.get()); s != AK_OK) {
      Die("fingerprint: " + LastError(s));
    }
    const std::string fingerprint_text = Take(fingerprint);
    const auto before = Position(Status(primary)["log"]);
    const auto start = Clock::now();
    char* result = nullptr;
    if (ak_status s = ak_node_join(&result, primary.get(), joiner_name.c_str(),
                                   fingerprint_text.c_str(), token_text.c_str(),
                                   R"({"timeout_s": 60})");
        s != AK_OK) {
      Die("join: " + LastError(s));
    }
    Take(result);
    const auto joined = Clock::now();
    // The primary's last position once the join returned: the entries, the members'
    // descriptions and the join's own entries.
    const auto last = Position(Status(primary)["log"]);
    const auto last_read = Clock::now();
    long polls = 0;
    for (;;) {
      ++polls;
      if (Position(Status(joiner)["applied"]) >= last) break;
      if (Clock::now() - start > std::chrono::seconds(60)) Die("join: not caught up in 60 s");
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    out = json{{"ms", Ms(Clock::now() - start)},
               {"join_returned_ms", Ms(joined - start)},
               {"last_read_ms", Ms(last_read - start)},
               {"polls", polls},
               {"entries_before", before.second},
               {"last_index", last.second},
               {"joiner", joiner_name}};
  } else if (mode == "detach") {
    auto primary = Connect(path);
    if (ak_status s = ak_node_detach(primary.get(), args.Get("name").c_str()); s != AK_OK) {
      Die("detach: " + LastError(s));
    }
    out = json{{"detached", args.Get("name")}};
  } else if (mode == "config-edit") {
    auto node = Connect(path);
    if (ak_status s = ak_node_config_edit(node.get(), args.Get("edit").c_str()); s != AK_OK) {
      Die("config edit: " + LastError(s));
    }
    out = json{{"edited", json::parse(args.Get("edit"))}};
  } else {
    Die("unknown mode \"" + mode + "\"");
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
