// arrayctl [--node NODE] array ... | security join-token | status | config edit | repo ...
// Commands against a live member: its admin socket (DATA_DIR/admin.sock, or the socket's path)
// through ak_node_connect, so every call is the C ABI's ak_node_* call on that member.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "arrayctl/cli.h"
#include "arrayctl/commands.h"
#include "arraykit/arraykit.hpp"

namespace arrayctl {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

std::optional<std::string>& NodeArgument() {
  static std::optional<std::string> node;
  return node;
}

std::string NodePath() {
  if (NodeArgument().has_value()) {
    if (NodeArgument()->empty()) throw UsageError("--node: a data directory or socket is needed");
    return *NodeArgument();
  }
  const char* env = std::getenv("ARRAYKIT_NODE");
  if (env != nullptr && *env != '\0') return env;
  throw UsageError(
      "which member? give --node DATA_DIR_OR_SOCKET or set ARRAYKIT_NODE (an arrayd data "
      "directory or its admin socket)");
}

// The exit code of a library failure: 3 when the member cannot be reached, 2 for input the
// member refused as malformed, 1 for any other refusal or failure.
[[noreturn]] void Fail(const arraykit::Error& e, const std::string& node_path) {
  int exit = kExitRefused;
  if (e.code() == AK_INVALID_ARGUMENT) exit = kExitBadInput;
  if (e.code() == AK_UNAVAILABLE && e.reason() == "not_contactable") {
    // The member's own refusal (a peer it cannot reach) or no member at all? Ask again.
    ak_node* probe = nullptr;
    if (ak_node_connect(&probe, node_path.c_str()) != AK_OK) {
      exit = kExitUnreachable;
    } else {
      ak_node_close(probe);
    }
  }
  throw MemberError(exit, e.code(), e.reason().empty() ? "unknown" : e.reason(), e.what());
}

// Connects to the member and runs `body` on it; library failures become MemberError.
template <typename Body>
int WithMember(Body body) {
  const std::string path = NodePath();
  std::optional<arraykit::Node> node;
  try {
    node.emplace(arraykit::Node::connect(path));
  } catch (const arraykit::Error& e) {
    throw MemberError(e.code() == AK_INVALID_ARGUMENT ? kExitBadInput : kExitUnreachable, e.code(),
                      e.reason().empty() ? "unknown" : e.reason(), e.what());
  }
  try {
    return body(*node);
  } catch (const arraykit::Error& e) {
    Fail(e, path);
  }
}

void PrintJson(const json& doc) { std::cout << doc.dump(2) << "\n"; }

unsigned int PositiveNumber(const std::optional<std::string>& text, const std::string& flag,
                            unsigned int fallback, unsigned long max) {
  if (!text.has_value()) return fallback;
  std::size_t used = 0;
  unsigned long value = 0;
  try {
    value = std::stoul(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text->size() || value == 0 || value > max || (*text)[0] == '-') {
    throw UsageError(flag + ": a whole number from 1 to " + std::to_string(max) + ", got '" +
                     *text + "'");
  }
  return static_cast<unsigned int>(value);
}

std::string PositionText(const json& position) {
  return "epoch " + position.value("epoch", json(0)).dump() + ", index " +
         position.value("index", json(0)).dump();
}

// ---- array -------------------------------------------------------------------------------

int ArrayCreate(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {});
  const std::string description = ReadInput(args.OnePositional("ARRAY.json"));
  return WithMember([&](arraykit::Node& node) {
    node.create_array(description);
    json status = json::parse(node.status());
    if (args.Has("--json")) {
      PrintJson(json{{"created", true},
                     {"primary", status["primary"]},
                     {"members", status["members"].size()},
                     {"epoch", status["epoch"]}});
    } else {
      std::cout << "array created: primary " << status["primary"].get<std::string>() << ", "
                << status["members"].size() << " members, epoch " << status["epoch"] << "\n";
    }
    return kExitOk;
  });
}

int ArrayJoin(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {"--secondary", "--fingerprint", "--token", "--timeout"});
  args.ExactPositionals(0, "");
  auto secondary = args.Value("--secondary");
  auto fingerprint = args.Value("--fingerprint");
  auto token = args.Value("--token");
  if (!secondary) throw UsageError("--secondary NAME is required (the joining member)");
  if (!fingerprint) {
    throw UsageError(
        "--fingerprint SHA256 is required (security join-token on the joiner "
        "prints it)");
  }
  if (!token) throw UsageError("--token T is required (security join-token on the joiner)");
  const unsigned int timeout = PositiveNumber(args.Value("--timeout"), "--timeout", 30, 3600);
  return WithMember([&](arraykit::Node& node) {
    json result = json::parse(
        node.join(*secondary, *fingerprint, *token, json{{"timeout_s", timeout}}.dump()));
    if (args.Has("--json")) {
      PrintJson(result);
      return kExitOk;
    }
    std::cout << "joined " << result.value("joined", "") << " (epoch " << result["epoch"]
              << "); members: " << Join(result["members"], ", ") << "\n";
    for (const json& w : result.value("warnings", json::array())) {
      std::cout << "warning: " << w.value("code", "") << ": " << w.value("message", "") << "\n";
    }
    return kExitOk;
  });
}

int ArrayDetach(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {});
  const std::string name = args.OnePositional("NAME (the member to detach)");
  return WithMember([&](arraykit::Node& node) {
    node.detach(name);
    if (args.Has("--json")) {
      PrintJson(json{{"detached", name}});
    } else {
      std::cout << "detached " << name << " (it is standalone now)\n";
    }
    return kExitOk;
  });
}

int ArrayMakePrimary(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {});
  const std::string name = args.OnePositional("NAME (the new primary)");
  return WithMember([&](arraykit::Node& node) {
    node.make_primary(name);
    json status = json::parse(node.status());
    if (args.Has("--json")) {
      PrintJson(json{{"primary", status["primary"]}, {"epoch", status["epoch"]}});
    } else {
      std::cout << "primary is now " << status["primary"].get<std::string>() << " (epoch "
                << status["epoch"] << ")\n";
    }
    return kExitOk;
  });
}

void PrintBackupList(const json& list, bool as_json) {
  if (as_json) {
    PrintJson(json{{"backup_primaries", list}});
    return;
  }
  if (list.empty()) {
    std::cout << "no backup primaries\n";
    return;
  }
  Table table({"POSITION", "MEMBER"});
  for (std::size_t i = 0; i < list.size(); ++i) {
    table.Add({std::to_string(i + 1), list[i].get<std::string>()});
  }
  table.Print(std::cout);
}

int ArrayListBackups(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {});
  args.ExactPositionals(0, "");
  return WithMember([&](arraykit::Node& node) {
    PrintBackupList(json::parse(node.backup_primaries()), args.Has("--json"));
    return kExitOk;
  });
}

int ArrayAddBackup(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {"--position"});
  const std::string name = args.OnePositional("NAME");
  const unsigned int position =
      args.Value("--position") ? PositiveNumber(args.Value("--position"), "--position", 0, 1000)
                               : 0;
  return WithMember([&](arraykit::Node& node) {
    node.add_backup_primary(name, position);
    PrintBackupList(json::parse(node.backup_primaries()), args.Has("--json"));
    return kExitOk;
  });
}

int ArrayEditBackup(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {"--position"});
  const std::string name = args.OnePositional("NAME");
  if (!args.Value("--position")) throw UsageError("--position K is required (from 1)");
  const unsigned int position = PositiveNumber(args.Value("--position"), "--position", 0, 1000);
  return WithMember([&](arraykit::Node& node) {
    node.edit_backup_primary(name, position);
    PrintBackupList(json::parse(node.backup_primaries()), args.Has("--json"));
    return kExitOk;
  });
}

int ArrayRemoveBackup(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {});
  const std::string name = args.OnePositional("NAME");
  return WithMember([&](arraykit::Node& node) {
    node.remove_backup_primary(name);
    PrintBackupList(json::parse(node.backup_primaries()), args.Has("--json"));
    return kExitOk;
  });
}

int ArrayClean(const std::vector<std::string>& argv) {
  Args args(argv, {"--json", "--contactmembers"}, {});
  args.ExactPositionals(0, "");
  const bool contact = args.Has("--contactmembers");
  return WithMember([&](arraykit::Node& node) {
    node.clean(contact);
    json status = json::parse(node.status());
    if (args.Has("--json")) {
      PrintJson(json{{"cleaned", true},
                     {"contact_members", contact},
                     {"primary", status["primary"]},
                     {"members", status["members"].size()}});
    } else {
      std::cout << "cleaned" << (contact ? " (with the contactable members)" : "") << ": primary "
                << status["primary"].get<std::string>() << ", " << status["members"].size()
                << " members\n";
    }
    return kExitOk;
  });
}

int ArrayWaitSynced(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {"--timeout"});
  args.ExactPositionals(0, "");
  const unsigned int timeout = PositiveNumber(args.Value("--timeout"), "--timeout", 30, 3600);
  return WithMember([&](arraykit::Node& node) {
    json position = json::parse(node.wait_synced(timeout * 1000));
    if (args.Has("--json")) {
      PrintJson(position);
    } else {
      std::cout << "synchronized at " << PositionText(position) << "\n";
    }
    return kExitOk;
  });
}

// ---- security join-token ----------------------------------------------------------------

int JoinToken(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {"--ttl"});
  args.ExactPositionals(0, "");
  const unsigned int ttl = PositiveNumber(args.Value("--ttl"), "--ttl", 600, 86400);
  return WithMember([&](arraykit::Node& node) {
    const std::string token = node.join_token(ttl);
    const std::string fingerprint = node.ca_fingerprint();
    const std::string name = json::parse(node.status()).value("name", "NAME");
    if (args.Has("--json")) {
      PrintJson(json{
          {"token", token}, {"ca_fingerprint", fingerprint}, {"ttl_s", ttl}, {"member", name}});
    } else {
      std::cout << "join token (valid " << ttl << " s, once): " << token << "\n"
                << "CA fingerprint to confirm: " << fingerprint << "\n"
                << "on the primary: arrayctl array join --secondary " << name << " --fingerprint "
                << fingerprint << " --token " << token << "\n";
    }
    return kExitOk;
  });
}

// ---- status --------------------------------------------------------------------------------

std::string Text(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// The formation to draw: the current one from the status document, or the original one.
struct Formation {
  std::string primary;
  std::vector<std::string> members;
  std::vector<std::string> backups;
  std::set<std::string> uncontactable;
};

Formation CurrentFormation(const json& status) {
  Formation f;
  f.primary = status.value("primary", "");
  for (const json& m : status["members"]) {
    f.members.push_back(m["name"]);
    if (!m.value("contactable", true)) f.uncontactable.insert(m["name"].get<std::string>());
  }
  for (const json& b : status["backup_primaries"]) f.backups.push_back(b);
  for (const json& u : status.value("uncontactable", json::array())) f.uncontactable.insert(u);
  return f;
}

Formation OriginalFormation(const json& original) {
  Formation f;
  f.primary = original.value("primary", "");
  for (const json& m : original.value("members", json::array())) f.members.push_back(m);
  for (const json& b : original.value("backup_primaries", json::array())) f.backups.push_back(b);
  return f;
}

std::string BackupLabel(const Formation& f, const std::string& member) {
  for (std::size_t i = 0; i < f.backups.size(); ++i) {
    if (f.backups[i] == member) return "backup " + std::to_string(i + 1);
  }
  return "";
}

// A Mermaid or Graphviz identifier for a member name.
std::string NodeId(const std::string& name) {
  std::string id = "m_";
  for (char c : name) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return id;
}

std::string Mermaid(const Formation& f) {
  std::ostringstream out;
  out << "graph TD\n";
  for (const std::string& m : f.members) {
    std::string label = m;
    if (m == f.primary) {
      label += "<br/>primary";
    } else {
      label += "<br/>secondary";
      if (std::string b = BackupLabel(f, m); !b.empty()) label += ", " + b;
    }
    if (f.uncontactable.count(m)) label += "<br/>uncontactable";
    out << "  " << NodeId(m) << "[\"" << label << "\"]\n";
  }
  for (const std::string& m : f.members) {
    if (m == f.primary) continue;
    out << "  " << NodeId(f.primary) << (f.uncontactable.count(m) ? " -.-x " : " --> ") << NodeId(m)
        << "\n";
  }
  for (std::size_t i = 1; i < f.backups.size(); ++i) {
    out << "  " << NodeId(f.backups[i - 1]) << " -. \"then\" .-> " << NodeId(f.backups[i]) << "\n";
  }
  out << "  classDef primary stroke-width:3px\n  classDef uncontactable stroke-dasharray: 5 5\n";
  if (!f.primary.empty()) out << "  class " << NodeId(f.primary) << " primary\n";
  for (const std::string& u : f.uncontactable) out << "  class " << NodeId(u) << " uncontactable\n";
  return out.str();
}

std::string Dot(const Formation& f) {
  std::ostringstream out;
  out << "digraph array {\n  rankdir=TB;\n  node [shape=box];\n";
  for (const std::string& m : f.members) {
    std::string label = m + (m == f.primary ? "\\nprimary" : "\\nsecondary");
    if (std::string b = BackupLabel(f, m); !b.empty()) label += ", " + b;
    if (f.uncontactable.count(m)) label += "\\nuncontactable";
    out << "  " << NodeId(m) << " [label=\"" << label << "\"";
    if (m == f.primary) out << ", penwidth=3";
    if (f.uncontactable.count(m)) out << ", style=dashed";
    out << "];\n";
  }
  for (const std::string& m : f.members) {
    if (m == f.primary) continue;
    out << "  " << NodeId(f.primary) << " -> " << NodeId(m)
        << (f.uncontactable.count(m) ? " [style=dashed]" : "") << ";\n";
  }
  for (std::size_t i = 1; i < f.backups.size(); ++i) {
    out << "  " << NodeId(f.backups[i - 1]) << " -> " << NodeId(f.backups[i])
        << " [style=dotted, label=\"then\"];\n";
  }
  out << "}\n";
  return out.str();
}

std::string StatusTable(const json& status) {
  std::ostringstream out;
  out << "member    " << Text(status["name"]) << " (" << Text(status["role"]) << ", stage "
      << Text(status["stage"]) << ")\n"
      << "primary   " << Text(status["primary"]) << "\n"
      << "epoch     " << Text(status["epoch"]) << "    mode " << Text(status["mode"])
      << "    writable " << (status.value("writable", false) ? "yes" : "no") << "    repaired "
      << (status.value("repaired", false) ? "yes" : "no") << "\n"
      << "log       " << PositionText(status.value("log", json::object())) << "    conflicts "
      << Text(status["conflicts"]) << "\n";
  if (status.value("manual_recovery_required", false)) {
    out << "manual recovery required: run arrayctl array clean (docs/operations.md)\n";
  }
  out << "\n";
  const Formation f = CurrentFormation(status);
  Table members({"MEMBER", "ROLE", "BACKUP", "CONTACTABLE", "APPLIED", "LAG"});
  for (const json& m : status["members"]) {
    const std::string name = m["name"];
    std::string backup = BackupLabel(f, name);
    // A planned member has not joined yet: neither reached nor counted as lost.
    const std::string contactable = m.value("planned", false)           ? "planned"
                                    : f.uncontactable.count(name) ? "no"
                                                                  : "yes";
    members.Add({name, Text(m["role"]), backup.empty() ? "-" : backup.substr(7), contactable,
                 Text(m.value("applied_index", json())), Text(m.value("lag", json()))});
  }
  members.Print(out);
  const json certificates = status.value("certificates", json());
  if (certificates.is_array() && !certificates.empty()) {
    out << "\n";
    Table certs({"CERTIFICATE", "ROLE", "EXPIRES", "RENEWAL"});
    for (const json& c : certificates) {
      std::string name = Text(c["name"]);
      // "ca:AB:CD:...": the CA's fingerprint, shortened (status --json has it whole).
      if (name.rfind("ca:", 0) == 0 && name.size() > 3 + 11) name = name.substr(0, 3 + 11) + "...";
      certs.Add({name, Text(c["role"]), Text(c["expires_at"]), Text(c["renewal_at"])});
    }
    certs.Print(out);
  }
  return out.str();
}

std::string OriginalTable(const json& original) {
  std::ostringstream out;
  if (original.is_null()) {
    out << "no failover recorded: the original formation is the current one\n";
    return out.str();
  }
  const Formation f = OriginalFormation(original);
  out << "original formation (recorded at the first failover)\nprimary   " << f.primary << "\n\n";
  Table members({"MEMBER", "ROLE", "BACKUP"});
  for (const std::string& m : f.members) {
    std::string backup = BackupLabel(f, m);
    members.Add(
        {m, m == f.primary ? "primary" : "secondary", backup.empty() ? "-" : backup.substr(7)});
  }
  members.Print(out);
  return out.str();
}

std::string Render(const json& status, bool original, const std::string& format, bool as_json) {
  if (as_json) {
    if (original) return json{{"original_formation", status["original_formation"]}}.dump(2) + "\n";
    return status.dump(2) + "\n";
  }
  if (original) {
    const json& o = status["original_formation"];
    if (format == "table" || o.is_null()) return OriginalTable(o);
    return format == "mermaid" ? Mermaid(OriginalFormation(o)) : Dot(OriginalFormation(o));
  }
  if (format == "mermaid") return Mermaid(CurrentFormation(status));
  if (format == "dot") return Dot(CurrentFormation(status));
  return StatusTable(status);
}

std::atomic<bool> g_interrupted{false};
extern "C" void OnInterrupt(int) { g_interrupted = true; }

std::string EventLine(const json& e) {
  std::string line = Text(e.value("at", json())) + "  " + Text(e.value("event", json()));
  if (e.contains("member")) line += "  " + Text(e["member"]);
  if (e.contains("reason") && !Text(e["reason"]).empty()) line += "  " + Text(e["reason"]);
  if (e.contains("code")) line += "  (" + Text(e["code"]) + ")";
  return line;
}

int Status(const std::vector<std::string>& argv) {
  Args args(argv, {"--json", "--originalstate", "--watch"}, {"--format"});
  args.ExactPositionals(0, "");
  const std::string format = args.Value("--format").value_or("table");
  if (format != "table" && format != "mermaid" && format != "dot") {
    throw UsageError("--format: table, mermaid or dot, got '" + format + "'");
  }
  const bool as_json = args.Has("--json");
  const bool original = args.Has("--originalstate");
  return WithMember([&](arraykit::Node& node) {
    if (!args.Has("--watch")) {
      std::cout << Render(json::parse(node.status()), original, format, as_json);
      return kExitOk;
    }
    // --watch: redraw every second with the events since the last one, until interrupted.
    struct sigaction action {};
    action.sa_handler = OnInterrupt;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    const bool terminal = isatty(STDOUT_FILENO) == 1;
    std::vector<std::string> recent;  // the last events, oldest first
    node.events();                    // only the events from now on
    while (!g_interrupted) {
      json status = json::parse(node.status());
      json events = json::parse(node.events());
      for (const json& e : events) {
        if (as_json) {
          std::cout << ojson{{"event", e}}.dump() << "\n";
        }
        recent.push_back(EventLine(e));
      }
      if (recent.size() > 10) recent.erase(recent.begin(), recent.end() - 10);
      if (as_json) {
        std::cout << json{{"status", status}}.dump() << "\n";
      } else {
        if (terminal) std::cout << "\x1b[H\x1b[2J";
        std::cout << Render(status, original, format, false);
        if (!recent.empty()) {
          std::cout << "\nevents:\n";
          for (const std::string& line : recent) std::cout << "  " << line << "\n";
        }
        if (!terminal) std::cout << "----\n";
      }
      std::cout.flush();
      for (int i = 0; i < 10 && !g_interrupted; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    return kExitOk;
  });
}

// ---- config edit ----------------------------------------------------------------------------

// {"--array-monitortime", "60", "--array-failoverenabled=1"} as the document ak_node_config_edit
// takes; the names are passed on as given (the member refuses unknown and repeated ones, naming
// the nearest attribute), so the text keeps repeats rather than folding them.
std::string ConfigEditDocument(const std::vector<std::string>& argv, bool& as_json) {
  std::string doc = "{";
  std::size_t count = 0;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "--json") {
      as_json = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() < 3) {
      throw UsageError("unexpected argument '" + arg + "' (attributes are --array-NAME VALUE)");
    }
    std::string name = arg.substr(2);
    std::string value;
    if (std::size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < argv.size()) {
      value = argv[++i];
    } else {
      throw UsageError(arg + " needs a value");
    }
    doc += (count++ == 0 ? "" : ", ") + json(name).dump() + ": " + json(value).dump();
  }
  if (count == 0) {
    throw UsageError("no attribute given (e.g. --array-monitortime 60; see docs/arrayctl.md)");
  }
  return doc + "}";
}

int ConfigEdit(const std::vector<std::string>& argv) {
  bool as_json = false;
  const std::string edit = ConfigEditDocument(argv, as_json);
  return WithMember([&](arraykit::Node& node) {
    node.config_edit(edit);
    json resilience = json::parse(node.status())["resilience"];
    if (as_json) {
      PrintJson(json{{"resilience", resilience}});
    } else {
      std::cout << "configuration changed; the array's settings are now:\n";
      Table table({"SETTING", "VALUE"});
      for (auto it = resilience.begin(); it != resilience.end(); ++it) {
        table.Add({it.key(), Text(it.value())});
      }
      table.Print(std::cout);
    }
    return kExitOk;
  });
}

// ---- repo ------------------------------------------------------------------------------------

std::string WaitOptions(const Args& args) {
  auto wait = args.Value("--wait");
  if (!wait) return "";
  if (*wait != "primary" && *wait != "all") {
    throw UsageError("--wait: primary or all, got '" + *wait + "'");
  }
  return json{{"wait", *wait}}.dump();
}

int RepoPut(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {"--wait"});
  auto words = args.ExactPositionals(3, "CATEGORY KEY VALUE");
  std::string value = words[2];
  if (!value.empty() && value[0] == '@') value = ReadInput(value.substr(1));
  const std::string options = WaitOptions(args);
  return WithMember([&](arraykit::Node& node) {
    json position = json::parse(node.put(words[0], words[1], value, options));
    if (args.Has("--json")) {
      PrintJson(position);
    } else {
      std::cout << "put " << words[0] << "/" << words[1] << " at " << PositionText(position)
                << "\n";
    }
    return kExitOk;
  });
}

int RepoGet(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {});
  auto words = args.ExactPositionals(2, "CATEGORY KEY");
  return WithMember([&](arraykit::Node& node) {
    json value = json::parse(node.get(words[0], words[1]));
    std::cout << (args.Has("--json") ? value.dump(2) : value.dump()) << "\n";
    return kExitOk;
  });
}

int RepoDelete(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {"--wait"});
  auto words = args.ExactPositionals(2, "CATEGORY KEY");
  const std::string options = WaitOptions(args);
  return WithMember([&](arraykit::Node& node) {
    json position = json::parse(node.remove(words[0], words[1], options));
    if (args.Has("--json")) {
      PrintJson(position);
    } else {
      std::cout << "deleted " << words[0] << "/" << words[1] << " at " << PositionText(position)
                << "\n";
    }
    return kExitOk;
  });
}

int RepoList(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {});
  const std::string category = args.OnePositional("CATEGORY");
  return WithMember([&](arraykit::Node& node) {
    json entries = json::parse(node.list(category));
    if (args.Has("--json")) {
      PrintJson(entries);
      return kExitOk;
    }
    if (entries.empty()) {
      std::cout << "no keys in " << category << "\n";
      return kExitOk;
    }
    Table table({"KEY", "VALUE"});
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      table.Add({it.key(), it.value().dump()});
    }
    table.Print(std::cout);
    return kExitOk;
  });
}

int RepoConflicts(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {});
  args.ExactPositionals(0, "");
  return WithMember([&](arraykit::Node& node) {
    json status = json::parse(node.status());
    const json count = status.value("conflicts", json(0));
    const json records = status.value("conflict_records", json::array());
    if (args.Has("--json")) {
      PrintJson(json{{"conflicts", count},
                     {"records", records},
                     {"applied", status.value("applied", json())}});
      return kExitOk;
    }
    std::cout << count.dump() << " conflict record" << (count == 1 ? "" : "s")
              << " (writes that lost a merge after a split)\n";
    if (records.empty()) return kExitOk;
    Table table({"INDEX", "CATEGORY", "KEY", "KEPT VALUE", "LOST VALUE", "LOST WRITER"});
    for (const json& c : records) {
      auto shown = [](const json& v) { return v.is_null() ? std::string("(deleted)") : v.dump(); };
      table.Add({Text(c["index"]), Text(c["category"]), Text(c["key"]), shown(c["kept_value"]),
                 shown(c["lost_value"]), Text(c["lost_writer"])});
    }
    table.Print(std::cout);
    if (records.size() < count.get<std::size_t>()) {
      std::cout << "(the newest " << records.size() << " shown)\n";
    }
    return kExitOk;
  });
}

}  // namespace

void SetNodeArgument(std::string node) { NodeArgument() = std::move(node); }

void RegisterNodeCommands(std::vector<Command>& commands) {
  const std::string node_line =
      "The member is --node DATA_DIR_OR_SOCKET (before or after the command), else\n"
      "$ARRAYKIT_NODE: an arrayd data directory (its admin.sock) or an admin socket.\n"
      "Exit 0 done; 1 the member refused (the reason word says why) or the operation failed;\n"
      "2 bad input; 3 the member cannot be reached.\n";
  commands.push_back({{"array", "create"},
                      "ARRAY.json [--json]",
                      "make the member part of the array ARRAY.json describes",
                      ArrayCreate,
                      "Give every member of the array the same description.\n" + node_line});
  commands.push_back(
      {{"array", "join"},
       "--secondary NAME --fingerprint SHA256 --token T [--timeout S] [--json]",
       "on the primary: admit the standalone member NAME",
       ArrayJoin,
       "FINGERPRINT and T come from `arrayctl security join-token` on the joiner.\n"
       "  --timeout S  how long to wait for the joiner (default 30, at most 3600)\n" +
           node_line});
  commands.push_back({{"array", "detach"},
                      "NAME [--json]",
                      "on the primary: make member NAME standalone",
                      ArrayDetach,
                      node_line});
  commands.push_back({{"array", "make_primary"},
                      "NAME [--json]",
                      "on the primary: hand the primary role to NAME",
                      ArrayMakePrimary,
                      node_line});
  commands.push_back({{"array", "list_backup_primaries"},
                      "[--json]",
                      "the backup primaries, highest priority first",
                      ArrayListBackups,
                      node_line});
  commands.push_back({{"array", "add_backup_primary"},
                      "NAME [--position K] [--json]",
                      "add NAME to the backup primaries (default: at the end)",
                      ArrayAddBackup,
                      node_line});
  commands.push_back({{"array", "edit_backup_primary"},
                      "NAME --position K [--json]",
                      "move NAME to position K (from 1)",
                      ArrayEditBackup,
                      node_line});
  commands.push_back({{"array", "remove_backup_primary"},
                      "NAME [--json]",
                      "remove NAME from the backup primaries",
                      ArrayRemoveBackup,
                      node_line});
  commands.push_back({{"array", "clean"},
                      "[--contactmembers] [--json]",
                      "manual recovery: the member becomes standalone (or stays with the "
                      "contactable members)",
                      ArrayClean,
                      node_line});
  commands.push_back({{"array", "wait-synced"},
                      "[--timeout S] [--json]",
                      "on the primary: wait until every contactable member applied its log",
                      ArrayWaitSynced,
                      "  --timeout S  default 30, at most 3600\n" + node_line});
  commands.push_back({{"security", "join-token"},
                      "[--ttl S] [--json]",
                      "on the joining member: a one-time join token and its CA fingerprint",
                      JoinToken,
                      "  --ttl S  validity in seconds (default 600, at most 86400)\n" + node_line});
  commands.push_back(
      {{"status"},
       "[--originalstate] [--json] [--format table|mermaid|dot] [--watch]",
       "the member's view of its array",
       Status,
       "  --format table    members with role, backup position, contactable, applied index\n"
       "                    and lag; primary, epoch, mode, writable, certificates' expiry\n"
       "  --format mermaid  the topology as a Mermaid graph (dot: Graphviz)\n"
       "  --originalstate   the original formation recorded at the first failover\n"
       "  --watch           redraw every second with the new events, until interrupted\n"
       "  --json            the status document (docs/node.md); with --watch one line per\n"
       "                    status or event\n" +
           node_line});
  commands.push_back({{"config", "edit"},
                      "--array-ATTRIBUTE VALUE ... [--json]",
                      "on the primary: change the array's resilience settings",
                      ConfigEdit,
                      "Attributes: --array-failoverenabled, --array-monitortime,\n"
                      "--array-maxmonitors, --array-resubmitfindprimarywait,\n"
                      "--array-resubmitfindprimarymax, --array-primaryreturnaction,\n"
                      "--array-mode, --array-failbackwindow (docs/operations-core.md).\n" +
                          node_line});
  commands.push_back({{"repo", "put"},
                      "CATEGORY KEY VALUE [--wait primary|all] [--json]",
                      "on the primary: write VALUE (inline JSON, or @FILE)",
                      RepoPut,
                      node_line});
  commands.push_back(
      {{"repo", "get"}, "CATEGORY KEY [--json]", "the member's applied value", RepoGet, node_line});
  commands.push_back({{"repo", "delete"},
                      "CATEGORY KEY [--wait primary|all] [--json]",
                      "on the primary: delete a key",
                      RepoDelete,
                      node_line});
  commands.push_back({{"repo", "list"},
                      "CATEGORY [--json]",
                      "the member's applied keys and values of CATEGORY",
                      RepoList,
                      node_line});
  commands.push_back({{"repo", "conflicts"},
                      "[--json]",
                      "the repository's conflict records (newest first, at most 100)",
                      RepoConflicts,
                      node_line});
}

}  // namespace arrayctl
