// arrayd: one array member as a daemon (DESIGN.md §10, docs/operations.md).
//
//   arrayd --config FILE      runs the member until SIGTERM or SIGINT
//   arrayd --config FILE --check   validates the configuration and exits
//
// The configuration (strict JSON; an unknown field is an error):
//   {"name": "a.example.com",              this member's peer DNS name
//    "data_dir": "/var/lib/arrayd",        its store, keys and admin socket (created 0700)
//    "listen": "127.0.0.2:5427",           where it serves its peers (mutual TLS)
//    "peers": {"b.example.com": "127.0.0.3:5427", ...},   the address book
//    "member": {"roles": ["frontend", "backend"], "rack": "r1", ...},  DESIGN §3 fields
//    "log": "stderr" | "syslog",           default stderr
//    "call_timeout_ms": 10000,             how long an admin call waits for the member
//    "clock_offset_ms": 0}                 tests only: shifts the member's wall clock
// arrayctl talks to it through DATA_DIR/admin.sock (mode 0600). It uses only the public C ABI.
//
// Exit codes: 0 stopped cleanly (or --check passed), 1 the member failed to start or stopped
// with an error, 2 bad command line or configuration.
#include <signal.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "arraykit/arraykit.h"
#include "nlohmann/json.hpp"

namespace {

using nlohmann::json;

struct Config {
  std::string name;
  std::string data_dir;
  std::string listen;
  std::string peers_json;   // "" : no peers
  std::string member_json;  // "" : the stored fields
  bool syslog = false;
  unsigned int call_timeout_ms = 0;
  long long clock_offset_ms = 0;
};

// A configuration problem: the field and the rule, as every arraykit input error names them.
struct ConfigError {
  std::string message;
};

bool g_syslog = false;
std::string g_name = "arrayd";

// One readable line per event: "2026-12-01T13:05:00Z arrayd[a.example.com] promoted: ...".
void Log(int priority, const std::string& line) {
  if (g_syslog) {
    syslog(priority, "%s", line.c_str());
    return;
  }
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::fprintf(stderr, "%s arrayd[%s] %s\n", stamp, g_name.c_str(), line.c_str());
  std::fflush(stderr);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError{std::string("cannot be read: ") + std::strerror(errno)};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string RequireString(const json& doc, const char* field, bool required) {
  auto it = doc.find(field);
  if (it == doc.end()) {
    if (required) throw ConfigError{std::string(field) + ": required"};
    return "";
  }
  if (!it->is_string() || it->get<std::string>().empty()) {
    throw ConfigError{std::string(field) + ": must be a non-empty string"};
  }
  return it->get<std::string>();
}

Config ParseConfig(const std::string& text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) throw ConfigError{"the configuration is not valid JSON"};
  if (!doc.is_object()) throw ConfigError{"the configuration must be a JSON object"};
  static const std::set<std::string> kKnown = {"name",  "data_dir", "listen",
                                               "peers", "member",   "log",
                                               "call_timeout_ms", "clock_offset_ms"};
  for (const auto& item : doc.items()) {
    if (!kKnown.contains(item.key())) {
      std::string known;
      for (const std::string& k : kKnown) known += (known.empty() ? "" : ", ") + k;
      throw ConfigError{item.key() + ": unknown field (known: " + known + ")"};
    }
  }
  Config config;
  config.name = RequireString(doc, "name", true);
  config.data_dir = RequireString(doc, "data_dir", true);
  config.listen = RequireString(doc, "listen", true);
  if (auto it = doc.find("peers"); it != doc.end()) {
    if (!it->is_object()) throw ConfigError{"peers: must be an object {\"NAME\": \"IP:PORT\"}"};
    config.peers_json = it->dump();  // the library checks names and addresses
  }
  if (auto it = doc.find("member"); it != doc.end()) {
    if (!it->is_object()) throw ConfigError{"member: must be an object (DESIGN §3 fields)"};
    config.member_json = it->dump();  // strict in the library
  }
  const std::string log = RequireString(doc, "log", false);
  if (!log.empty() && log != "stderr" && log != "syslog") {
    throw ConfigError{"log: must be \"stderr\" or \"syslog\""};
  }
  config.syslog = log == "syslog";
  if (auto it = doc.find("call_timeout_ms"); it != doc.end()) {
    if (!it->is_number_unsigned() || it->get<unsigned long long>() == 0 ||
        it->get<unsigned long long>() > 3600 * 1000) {
      throw ConfigError{"call_timeout_ms: must be an integer from 1 to 3600000"};
    }
    config.call_timeout_ms = it->get<unsigned int>();
  }
  if (auto it = doc.find("clock_offset_ms"); it != doc.end()) {
    if (!it->is_number_integer()) throw ConfigError{"clock_offset_ms: must be an integer"};
    config.clock_offset_ms = it->get<long long>();
  }
  return config;
}

void OnEvent(void*, const char* event_json) {
  json event = json::parse(event_json, nullptr, /*allow_exceptions=*/false);
  if (!event.is_object()) {
    Log(LOG_INFO, event_json);
    return;
  }
  std::string line = event.value("event", std::string("event"));
  if (event.contains("member") && event["member"].is_string()) {
    line += " " + event["member"].get<std::string>();
  }
  if (event.contains("epoch") && event["epoch"].is_number()) {
    line += " (epoch " + std::to_string(event["epoch"].get<unsigned long long>()) + ")";
  }
  if (event.contains("reason") && event["reason"].is_string()) {
    line += ": " + event["reason"].get<std::string>();
  }
  if (event.contains("code") && event["code"].is_string()) {
    line += " [" + event["code"].get<std::string>() + "]";
  }
  Log(LOG_NOTICE, line);
}

void OnLibraryLog(void*, ak_log_level level, const char* message) {
  Log(level >= AK_LOG_WARNING ? LOG_WARNING : LOG_INFO, message);
}

int Failed(const char* what, ak_status status) {
  Log(LOG_ERR, std::string(what) + ": " + ak_last_error_reason() + ": " + ak_last_error() + " (" +
                   ak_strerror(status) + ")");
  return 1;
}

int Usage(const char* message) {
  std::fprintf(stderr,
               "%s%sarrayd: runs one array member as a daemon\n"
               "usage: arrayd --config FILE [--check]\n"
               "  --config FILE  the member's configuration (JSON, see docs/operations.md)\n"
               "  --check        validate the configuration and exit (0 valid, 2 invalid)\n"
               "Admin: arrayctl --node DATA_DIR status. Stops cleanly on SIGTERM or SIGINT.\n",
               message, *message ? "\n" : "");
  return *message ? 2 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return Usage("");
    if (arg == "--check") {
      check_only = true;
    } else if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else {
      return Usage(("arrayd: unknown argument \"" + arg + "\"").c_str());
    }
  }
  if (config_path.empty()) return Usage("arrayd: --config FILE is required");

  Config config;
  try {
    config = ParseConfig(ReadFile(config_path));
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "arrayd: %s: %s\n", config_path.c_str(), e.message.c_str());
    return 2;
  }
  g_name = config.name;
  g_syslog = config.syslog;
  if (g_syslog) openlog("arrayd", LOG_PID, LOG_DAEMON);
  if (ak_abi_version() != AK_ABI_VERSION) {
    Log(LOG_ERR, "libarraykit's ABI version does not match the one arrayd was built for");
    return 1;
  }

  // gRPC's own log reports every refused TLS handshake at ERROR level; arraykit counts and
  // explains them in status ("links"). GRPC_VERBOSITY=ERROR in the environment shows them.
  setenv("GRPC_VERBOSITY", "NONE", /*overwrite=*/0);

  // The signals are taken by sigwait below: blocked before any library thread starts, so
  // every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (mkdir(config.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    Log(LOG_ERR, "data_dir " + config.data_dir + ": cannot be created: " + std::strerror(errno));
    return 1;
  }

  ak_host_hooks hooks = AK_HOST_HOOKS_INIT;
  hooks.log = &OnLibraryLog;
  hooks.log_level = AK_LOG_INFO;
  ak_set_host_hooks(&hooks);

  ak_node_options opts = AK_NODE_OPTIONS_INIT;
  opts.name = config.name.c_str();
  opts.data_dir = config.data_dir.c_str();
  opts.member_json = config.member_json.empty() ? nullptr : config.member_json.c_str();
  opts.listen = config.listen.c_str();
  opts.peers_json = config.peers_json.empty() ? nullptr : config.peers_json.c_str();
  opts.on_event = &OnEvent;
  opts.call_timeout_ms = config.call_timeout_ms;
  opts.clock_offset_ms = config.clock_offset_ms;
  if (check_only) {
    // The library's own checks of member and peers need a node: --check stops at the shape.
    std::printf("%s: valid\n", config_path.c_str());
    return 0;
  }
  ak_node* node = nullptr;
  if (ak_status s = ak_node_open(&node, &opts); s != AK_OK) {
    Failed("start", s);
    return s == AK_INVALID_ARGUMENT ? 2 : 1;  // the configuration's member or peers
  }
  if (ak_status s = ak_node_serve_admin(node, nullptr); s != AK_OK) {
    Failed("admin socket", s);
    ak_node_close(node);
    return 1;
  }
  Log(LOG_NOTICE, "started: peers on " + config.listen + ", admin on " + config.data_dir +
                      "/admin.sock");

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) != 0) {
  }
  Log(LOG_NOTICE, std::string("stopping (") + (signal_number == SIGTERM ? "SIGTERM" : "SIGINT") +
                      ")");
  if (ak_status s = ak_node_close(node); s != AK_OK) return Failed("stop", s);
  Log(LOG_NOTICE, "stopped");
  return 0;
}
