// The node part of the C ABI (arraykit/node.h), through the shared library only.
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "arraykit/arraykit.h"
#include "arraykit/arraykit.hpp"
#include "nlohmann/json.hpp"

namespace {

using nlohmann::json;

const char* kA = "a.example.com";
const char* kB = "b.example.com";

std::string Dir(const std::string& what) {
  static std::atomic<int> n{0};
  return (std::filesystem::temp_directory_path() /
          ("arraykit-capi-node-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + "-" +
           what))
      .string();
}

std::string Take(char* s) {
  std::string out = s == nullptr ? "" : s;
  ak_free(s);
  return out;
}

struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<json> events;
  static void Fn(void* user, const char* event) {
    auto* r = static_cast<Recorder*>(user);
    std::lock_guard lock(r->mu);
    r->events.push_back(json::parse(event));
    r->cv.notify_all();
  }
};

TEST_CASE("ak_node: open, put, get, delete, status, events, close") {
  ak_network* net = nullptr;
  REQUIRE(ak_network_new(&net, 1) == AK_OK);
  Recorder rec;
  ak_node_options opts;
  REQUIRE(ak_node_options_init(&opts, AK_NODE_OPTIONS_VERSION) == AK_OK);
  std::string dir = Dir("basic");
  opts.name = kA;
  opts.data_dir = dir.c_str();
  opts.member_json = R"({"roles": ["frontend", "backend"]})";
  opts.network = net;
  opts.on_event = &Recorder::Fn;
  opts.user = &rec;
  ak_node* node = nullptr;
  REQUIRE(ak_node_open(&node, &opts) == AK_OK);
  ak_network_free(net);  // the node keeps the network alive

  char* pos = nullptr;
  REQUIRE(ak_node_put(&pos, node, "sessions", "k", R"({"v": 1})", nullptr) == AK_OK);
  CHECK(json::parse(Take(pos)).contains("index"));
  REQUIRE(ak_node_put(nullptr, node, "sessions", "k2", "2", R"({"wait": "all"})") == AK_OK);
  char* value = nullptr;
  REQUIRE(ak_node_get(&value, node, "sessions", "k") == AK_OK);
  CHECK(json::parse(Take(value)) == json{{"v", 1}});
  CHECK(ak_node_get(&value, node, "sessions", "nope") == AK_NOT_FOUND);
  CHECK(value == nullptr);
  CHECK(std::string(ak_last_error_reason()) == "not_found");
  REQUIRE(ak_node_delete(nullptr, node, "sessions", "k", nullptr) == AK_OK);
  CHECK(ak_node_get(&value, node, "sessions", "k") == AK_NOT_FOUND);

  CHECK(ak_node_put(nullptr, node, "sessions", "k", "1", R"({"wiat": "all"})") ==
        AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "unknown_field");
  CHECK(ak_node_put(nullptr, node, "sessions", "k", "{bad", nullptr) == AK_INVALID_ARGUMENT);

  char* status = nullptr;
  REQUIRE(ak_node_status(&status, node) == AK_OK);
  json st = json::parse(Take(status));
  CHECK(st["role"] == "primary");
  CHECK(st["writable"] == true);

  char* synced = nullptr;
  REQUIRE(ak_node_wait_synced(&synced, node, 5000) == AK_OK);
  CHECK(json::parse(Take(synced))["index"] == st["log"]["index"]);

  REQUIRE(ak_node_create_array(node, json{{"members", {{{"name", kA}, {"roles", {"frontend", "backend"}}}}},
                                          {"primary", kA}}
                                         .dump()
                                         .c_str()) == AK_OK);
  {
    std::unique_lock lock(rec.mu);
    REQUIRE(rec.cv.wait_for(lock, std::chrono::seconds(10), [&] { return !rec.events.empty(); }));
    CHECK(rec.events[0]["event"] == "array_created");
    for (const char* field : {"event", "member", "reason", "epoch", "at"}) {
      CHECK(rec.events[0].contains(field));
    }
  }
  char* events = nullptr;
  REQUIRE(ak_node_events(&events, node) == AK_OK);
  json ev = json::parse(Take(events));
  REQUIRE(ev.is_array());
  CHECK_FALSE(ev.empty());

  REQUIRE(ak_node_close(node) == AK_OK);
  CHECK(ak_node_close(nullptr) == AK_OK);
}

TEST_CASE("ak_node: a secondary refuses writes with AK_ENOTPRIMARY naming the primary") {
  arraykit::Network net(3);
  json description{{"members",
                    {{{"name", kA}, {"roles", {"frontend", "backend"}}},
                     {{"name", kB}, {"roles", {"frontend"}}}}},
                   {"primary", kA},
                   {"backup_primaries", {kB}},
                   // a 50 ms monitor interval: the primary retries an unanswered member quickly
                   {"resilience", {{"monitor_interval_s", 0.05}}}};
  arraykit::Node a(kA, Dir("a"), net, R"({"roles": ["frontend", "backend"]})");
  arraykit::Node b(kB, Dir("b"), net, R"({"roles": ["frontend"]})");
  b.create_array(description.dump());  // the secondary first: it follows a from the start
  a.create_array(description.dump());
  a.put("sessions", "k", "1", R"({"wait": "all"})");
  CHECK(b.get("sessions", "k") == "1");
  try {
    b.put("sessions", "k", "2");
    FAIL("a secondary accepted a write");
  } catch (const arraykit::Error& e) {
    CHECK(e.code() == AK_ENOTPRIMARY);
    CHECK(e.reason() == "not_primary");
    CHECK(std::string(e.what()).find(kA) != std::string::npos);
  }
  try {
    b.create_array(description.dump());
    FAIL("created twice");
  } catch (const arraykit::Error& e) {
    CHECK(e.code() == AK_ALREADY_EXISTS);
    CHECK(e.reason() == "already_in_array");
  }
  net.isolate(kB);
  a.put("sessions", "k", "3");
  try {
    a.wait_synced(200);
    FAIL("synced with an isolated member");
  } catch (const arraykit::Error& e) {
    CHECK(e.code() == AK_DEADLINE_EXCEEDED);
  }
  net.heal();
  CHECK(json::parse(a.wait_synced(10000)).contains("index"));
  CHECK(b.get("sessions", "k") == "3");
}

TEST_CASE("ak_node: bad options are refused") {
  ak_network* net = nullptr;
  REQUIRE(ak_network_new(&net, 1) == AK_OK);
  ak_node* node = nullptr;
  ak_node_options opts = AK_NODE_OPTIONS_INIT;
  CHECK(ak_node_open(&node, &opts) == AK_INVALID_ARGUMENT);  // no name
  std::string dir = Dir("bad");
  opts.name = kA;
  opts.data_dir = dir.c_str();
  CHECK(ak_node_open(&node, &opts) == AK_INVALID_ARGUMENT);  // no network
  opts.network = net;
  opts.version = AK_NODE_OPTIONS_VERSION + 1;
  CHECK(ak_node_open(&node, &opts) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "unsupported_version");
  opts.version = AK_NODE_OPTIONS_VERSION;
  opts.member_json = R"({"roles": [], "rack": "r1", "powr": "p"})";
  CHECK(ak_node_open(&node, &opts) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "unknown_field");
  CHECK(node == nullptr);
  opts.member_json = nullptr;
  REQUIRE(ak_node_open(&node, &opts) == AK_OK);
  ak_node* again = nullptr;
  CHECK(ak_node_open(&again, &opts) == AK_FAILED_PRECONDITION);
  CHECK(std::string(ak_last_error_reason()) == "busy");
  CHECK(ak_node_wait_synced(nullptr, node, 0) == AK_INVALID_ARGUMENT);
  CHECK(ak_node_get(nullptr, node, "sessions", "k") == AK_INVALID_ARGUMENT);
  REQUIRE(ak_node_close(node) == AK_OK);

  CHECK(ak_network_set_link(net, R"({"loss": 0.1, "delay_ms": 1})") == AK_OK);
  CHECK(ak_network_set_link(net, R"({"from": "a", "to": "b", "jitter_ms": 2})") == AK_OK);
  CHECK(ak_network_set_link(net, R"({"los": 0.1})") == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "unknown_field");
  CHECK(ak_network_set_link(net, R"({"loss": 2})") == AK_INVALID_ARGUMENT);
  CHECK(ak_network_set_link(net, R"({"from": "a"})") == AK_INVALID_ARGUMENT);
  CHECK(ak_network_partition(net, R"([["a", "b"], ["c"]])") == AK_OK);
  CHECK(ak_network_partition(net, R"([["a", 1]])") == AK_INVALID_ARGUMENT);
  CHECK(ak_network_partition(net, R"({"a": 1})") == AK_INVALID_ARGUMENT);
  CHECK(ak_network_isolate(net, "c") == AK_OK);
  CHECK(ak_network_heal(net) == AK_OK);
  CHECK(ak_network_heal(nullptr) == AK_INVALID_ARGUMENT);
  ak_network_free(net);
  ak_network_free(nullptr);
  ak_node_options init;
  CHECK(ak_node_options_init(&init, 0) == AK_INVALID_ARGUMENT);
}

TEST_CASE("ak_node_options: version 1 callers keep their shorter struct; network xor listen") {
  // A version-1 caller's struct ends at call_timeout_ms: init must not write past it.
  struct V1WithCanary {
    unsigned int version;
    const char* name;
    const char* data_dir;
    const char* member_json;
    ak_network* network;
    ak_event_fn on_event;
    void* user;
    unsigned int call_timeout_ms;
    alignas(8) unsigned char canary[32];  // after the v1 struct's tail padding
  } v1;
  std::memset(&v1, 0xAB, sizeof v1);
  REQUIRE(ak_node_options_init(reinterpret_cast<ak_node_options*>(&v1), 1) == AK_OK);
  CHECK(v1.version == 1);
  CHECK(v1.network == nullptr);
  for (unsigned char c : v1.canary) CHECK(c == 0xAB);

  ak_node_options opts;
  REQUIRE(ak_node_options_init(&opts, AK_NODE_OPTIONS_VERSION) == AK_OK);
  CHECK(opts.listen == nullptr);
  CHECK(opts.peers_json == nullptr);
  CHECK(opts.clock_offset_ms == 0);
  ak_node* node = nullptr;
  const std::string dir = Dir("options-v2");
  opts.name = kA;
  opts.data_dir = dir.c_str();
  // Neither the in-memory network nor an address.
  CHECK(ak_node_open(&node, &opts) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("exactly one") != std::string::npos);
  // Both.
  arraykit::Network net(5);
  opts.network = net.get();
  opts.listen = "127.0.0.2:0";
  CHECK(ak_node_open(&node, &opts) == AK_INVALID_ARGUMENT);
  // Peers without an address of its own.
  opts.listen = nullptr;
  opts.peers_json = R"({"b.example.com": "127.0.0.3:5427"})";
  CHECK(ak_node_open(&node, &opts) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("opts.peers_json") != std::string::npos);
  // A malformed address book names the entry.
  opts.network = nullptr;
  opts.listen = "127.0.0.2:0";
  opts.peers_json = R"({"b": "127.0.0.3:5427"})";
  CHECK(ak_node_open(&node, &opts) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "name_not_fqdn");
  opts.peers_json = R"({"b.example.com": 5427})";
  CHECK(ak_node_open(&node, &opts) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("peers.b.example.com") != std::string::npos);
  opts.peers_json = R"({"a.example.com": "127.0.0.2:5427"})";
  CHECK(ak_node_open(&node, &opts) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("this member itself") != std::string::npos);
  CHECK(node == nullptr);
  // A version-1 caller's struct has no listen: network stays required.
  opts.version = 1;
  opts.listen = "127.0.0.2:0";
  opts.peers_json = nullptr;
  CHECK(ak_node_open(&node, &opts) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("opts.network: required") != std::string::npos);
}

TEST_CASE("ak_node_join: a token and a fingerprint on the joiner, join on the primary") {
  arraykit::Network net(4);
  json own{{"members", {{{"name", kA}, {"roles", {"frontend", "backend"}}}}},
           {"primary", kA},
           {"resilience", {{"monitor_interval_s", 0.05}}}};
  arraykit::Node a(kA, Dir("join-a"), net, R"({"roles": ["frontend", "backend"]})");
  arraykit::Node b(kB, Dir("join-b"), net, R"({"roles": ["frontend"]})");
  a.create_array(own.dump());
  const std::string token = b.join_token(60);
  CHECK(token.rfind("AKJT-", 0) == 0);
  const std::string b_fp = b.ca_fingerprint();
  const std::string a_fp = a.ca_fingerprint();
  CHECK(b_fp.size() == 95);

  // The C calls: bad input, then a refusal with its reason, then the join.
  char* out = nullptr;
  CHECK(ak_node_join_token(&out, a.get(), 86401) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "invalid_ttl");
  CHECK(out == nullptr);
  CHECK(ak_node_join(nullptr, a.get(), kB, b_fp.c_str(), token.c_str(), R"({"timeout": 1})") ==
        AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "unknown_field");
  CHECK(ak_node_join(nullptr, a.get(), kB, a_fp.c_str(), token.c_str(), nullptr) ==
        AK_EFINGERPRINT);
  CHECK(std::string(ak_last_error_reason()) == "fingerprint_mismatch");
  CHECK(ak_node_join(nullptr, a.get(), kB, b_fp.c_str(), "AKJT-NOPE", nullptr) ==
        AK_PERMISSION_DENIED);
  CHECK(std::string(ak_last_error_reason()) == "token_invalid");
  CHECK(ak_node_join(nullptr, a.get(), kB, nullptr, token.c_str(), nullptr) ==
        AK_INVALID_ARGUMENT);

  REQUIRE(ak_node_join(&out, a.get(), kB, b_fp.c_str(), token.c_str(),
                       R"({"timeout_s": 20})") == AK_OK);
  json result = json::parse(Take(out));
  CHECK(result["joined"] == kB);
  CHECK(result["members"] == json::array({kA, kB}));
  CHECK(b.ca_fingerprint() == a_fp);
  a.put("sessions", "k", "1", R"({"wait": "all"})");
  CHECK(b.get("sessions", "k") == "1");
  try {
    a.join(kB, b_fp, token);
    FAIL("joined twice");
  } catch (const arraykit::Error& e) {
    CHECK(e.code() == AK_ALREADY_EXISTS);
    CHECK(e.reason() == "name_taken");
  }
}

TEST_CASE("ak_node: resource files are configured and synchronized, bad options refused") {
  ak_network* net = nullptr;
  REQUIRE(ak_network_new(&net, 1) == AK_OK);
  ak_node_options opts;
  REQUIRE(ak_node_options_init(&opts, AK_NODE_OPTIONS_VERSION) == AK_OK);
  std::string dir = Dir("resources");
  opts.name = kA;
  opts.data_dir = dir.c_str();
  opts.network = net;
  ak_node* node = nullptr;
  REQUIRE(ak_node_open(&node, &opts) == AK_OK);
  ak_network_free(net);

  char* report = nullptr;
  CHECK(ak_node_sync_resources(&report, node) == AK_FAILED_PRECONDITION);
  CHECK(report == nullptr);
  CHECK(std::string(ak_last_error_reason()) == "not_configured");

  const std::string resources = dir + "-files";
  struct Bad {
    std::string options;
    ak_status code;
    const char* reason;
  };
  const std::vector<Bad> bad = {
      {R"({"directory": "r", "sync_at": "03:30", "sync": 1})", AK_INVALID_ARGUMENT,
       "unknown_field"},
      {R"({"directory": "r", "sync_at": "3:30"})", AK_INVALID_ARGUMENT, "invalid_time"},
      {R"({"directory": "r", "sync_at": "12:60"})", AK_INVALID_ARGUMENT, "invalid_time"},
      {R"({"directory": "", "sync_at": "03:30"})", AK_INVALID_ARGUMENT, "invalid_value"},
      {R"({"sync_at": "03:30"})", AK_INVALID_ARGUMENT, "invalid_value"},
      {R"({"directory": "r", "sync_at": "03:30", "zone": "Nowhere/City"})", AK_INVALID_ARGUMENT,
       "invalid_value"},
      {R"({"directory": "r", "sync_at": "03:30", "sync_at": "04:00"})", AK_INVALID_ARGUMENT,
       "duplicate_key"},
      {"{nope", AK_INVALID_ARGUMENT, "invalid_json"},
  };
  for (const Bad& b : bad) {
    INFO(b.options);
    CHECK(ak_node_configure_resources(node, b.options.c_str()) == b.code);
    CHECK(std::string(ak_last_error_reason()) == b.reason);
  }
  CHECK(ak_node_configure_resources(node, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(ak_node_configure_resources(nullptr, "{}") == AK_INVALID_ARGUMENT);
  CHECK(ak_node_sync_resources(nullptr, node) == AK_INVALID_ARGUMENT);
  CHECK(ak_node_sync_resources(&report, node) == AK_FAILED_PRECONDITION);  // still none

  const json options{{"directory", resources}, {"sync_at", "04:15"}, {"zone", "UTC"}};
  REQUIRE(ak_node_configure_resources(node, options.dump().c_str()) == AK_OK);
  std::filesystem::create_directories(resources + "/scripts");
  { std::ofstream(resources + "/scripts/login.sh") << "echo hi\n"; }
  REQUIRE(ak_node_sync_resources(&report, node) == AK_OK);
  const json r = json::parse(Take(report));
  CHECK(r["role"] == "primary");
  CHECK(r["put"] == json{"scripts/login.sh"});
  char* value = nullptr;
  REQUIRE(ak_node_get(&value, node, "resource_files", "scripts/login.sh") == AK_OK);
  CHECK(json::parse(Take(value))["size"] == 8);
  char* events = nullptr;
  REQUIRE(ak_node_events(&events, node) == AK_OK);
  bool synced = false;
  for (const json& e : json::parse(Take(events))) {
    synced = synced || (e["event"] == "resources_synced" && e["put"] == 1);
  }
  CHECK(synced);

  REQUIRE(ak_node_close(node) == AK_OK);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(resources);
}

}  // namespace
