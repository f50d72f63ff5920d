// Resource-file sync on disk (lib/node/resource_files): the directory I/O, and ResourceSync
// through three in-process members of a configured array over a MemoryNetwork, each with its
// own resource directory.
#include "node/resource_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "nlohmann/json.hpp"
#include "node/node.h"

namespace arraykit::node {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kA = "a.example.com";
const std::string kB = "b.example.com";
const std::string kC = "c.example.com";

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "arraykit-resources-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every regular file under `root`: relative path -> content.
std::map<std::string, std::string> Tree(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) {
      out[e.path().lexically_relative(root).generic_string()] = ReadFile(e.path().string());
    }
  }
  return out;
}

int ModeOf(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

TEST_CASE("a scan hashes regular files and leaves out what is not synchronized") {
  TempDir tmp;
  const std::string root = tmp.Sub("res");
  CHECK(ScanResourceDirectory(root)->manifest.empty());  // absent: empty
  WriteFile(root + "/login.sh", "#!/bin/sh\n");
  WriteFile(root + "/dir/sub/profile", "p");
  WriteFile(root + "/big.bin", std::string(resources::kMaxFileBytes + 1, 'x'));
  WriteFile(root + "/.arraykit-tmp-123-4", "left by a crash");
  WriteFile(root + "/.arraykit-mine", "reserved");
  fs::create_symlink("/etc/hostname", root + "/link");
  auto scanned = ScanResourceDirectory(root);
  REQUIRE(scanned.ok());
  CHECK(scanned->manifest.size() == 2);
  CHECK(scanned->manifest.at("login.sh") == resources::InfoOf("#!/bin/sh\n"));
  CHECK(scanned->manifest.at("dir/sub/profile") == resources::InfoOf("p"));
  std::map<std::string, std::string> refused;
  for (const auto& r : scanned->refused) refused[r.path] = r.reason;
  CHECK(refused == std::map<std::string, std::string>{{"big.bin", "file_too_large"},
                                                      {".arraykit-mine", "reserved_name"},
                                                      {"link", "unsupported_file"}});
  CHECK(!fs::exists(root + "/.arraykit-tmp-123-4"));  // the interrupted write's leftover
}

TEST_CASE("files are written atomically with their mode and removed with empty parents") {
  TempDir tmp;
  const std::string root = tmp.Sub("res");
  fs::create_directories(root);
  REQUIRE(WriteFileAtomically(root, "a/b/c.txt", "one").ok());
  CHECK(ReadFile(root + "/a/b/c.txt") == "one");
  CHECK(ModeOf(root + "/a/b/c.txt") == 0644);
  REQUIRE(WriteFileAtomically(root, "a/b/c.txt", "two", 0600).ok());
  CHECK(ReadFile(root + "/a/b/c.txt") == "two");
  CHECK(ModeOf(root + "/a/b/c.txt") == 0600);
  CHECK(Tree(root).size() == 1);  // no temporary file left behind
  CHECK(ReasonOf(WriteFileAtomically(root, "../escape", "x")) == "parent_reference");
  CHECK(ReasonOf(WriteFileAtomically(root, "/abs", "x")) == "absolute_path");
  CHECK(ReasonOf(WriteFileAtomically(root, "big", std::string(resources::kMaxFileBytes + 1, 'x'))) ==
        "file_too_large");
  // A symlinked directory inside the resource directory is never written through.
  fs::create_directories(tmp.Sub("elsewhere"));
  fs::create_directory_symlink(tmp.Sub("elsewhere"), root + "/linked");
  CHECK(ReasonOf(WriteFileAtomically(root, "linked/x", "x")) == "unsupported_file");
  CHECK(fs::is_empty(tmp.Sub("elsewhere")));

  REQUIRE(WriteFileAtomically(root, "a/other.txt", "o").ok());
  REQUIRE(RemoveResourceFile(root, "a/b/c.txt").ok());
  CHECK(!fs::exists(root + "/a/b"));  // left empty: removed
  CHECK(fs::exists(root + "/a/other.txt"));
  REQUIRE(RemoveResourceFile(root, "a/other.txt").ok());
  CHECK(!fs::exists(root + "/a"));
  CHECK(fs::exists(root));  // never the root itself
  CHECK(RemoveResourceFile(root, "not/there").ok());
  CHECK(ReasonOf(RemoveResourceFile(root, "../x")) == "parent_reference");
}

// Three members of a configured array, each with its own resource directory.
struct Array {
  TempDir tmp;
  std::shared_ptr<MemoryNetwork> net = MemoryNetwork::Create(5);
  std::map<std::string, std::unique_ptr<Node>> nodes;
  std::map<std::string, std::unique_ptr<ResourceSync>> syncs;
  std::mutex events_mu;
  std::map<std::string, std::vector<json>> events;

  explicit Array(json resilience = json{{"monitor_interval_s", 0.05}}) {
    json members = json::array();
    int rack = 1;
    for (const std::string& name : {kA, kB, kC}) {
      members.push_back(json{{"name", name},
                             {"roles", {"frontend", "backend"}},
                             {"rack", absl::StrCat("r", rack)},
                             {"power", absl::StrCat("p", rack)}});
      ++rack;
    }
    const json description{{"members", members},
                           {"primary", kA},
                           {"backup_primaries", {kB, kC}},
                           {"resilience", resilience}};
    for (const std::string& name : {kB, kC, kA}) {  // the primary last
      NodeOptions o;
      o.name = name;
      o.data_dir = tmp.Sub(name + "-data");
      o.attach = AttachTo(net);
      auto node = Node::Open(std::move(o));
      REQUIRE(node.ok());
      REQUIRE((*node)->CreateArray(description.dump()).ok());
      nodes[name] = *std::move(node);
      ResourceSyncOptions r;
      r.directory = dir(name);
      r.state_file = tmp.Sub(name + "-data") + "/resource-manifest.json";
      r.on_event = [this, name](const std::string& e) {
        std::lock_guard lock(events_mu);
        events[name].push_back(json::parse(e));
      };
      auto sync = ResourceSync::Create(*nodes[name], std::move(r));
      REQUIRE(sync.ok());
      syncs[name] = *std::move(sync);
    }
    // A quorum primary is writable once a majority leased to it.
    for (int i = 0; i < 5000 && !json::parse(*nodes[kA]->Status())["writable"].get<bool>(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    REQUIRE(nodes[kA]->WaitSynced(absl::Seconds(10)).ok());
  }
  ~Array() {
    syncs.clear();
    for (auto& [name, node] : nodes) node->Close().IgnoreError();
  }
  std::string dir(const std::string& name) const { return tmp.Sub(name + "-resources"); }
  ResourceSyncReport Sync(const std::string& name) {
    auto report = syncs[name]->SyncNow();
    INFO(name << ": " << report.status().ToString());
    REQUIRE(report.ok());
    return *report;
  }
  // The primary publishes, every member applies it, then the secondaries sync.
  std::map<std::string, ResourceSyncReport> SyncAll() {
    std::map<std::string, ResourceSyncReport> out;
    out[kA] = Sync(kA);
    REQUIRE(nodes[kA]->WaitSynced(absl::Seconds(10)).ok());
    out[kB] = Sync(kB);
    out[kC] = Sync(kC);
    return out;
  }
};

using Paths = std::vector<std::string>;

TEST_CASE("files added, changed and deleted on the primary reach the secondaries") {
  Array array;
  WriteFile(array.dir(kA) + "/login.sh", "#!/bin/sh\necho login\n");
  WriteFile(array.dir(kA) + "/scripts/unix/start", "start");
  WriteFile(array.dir(kA) + "/binary.dat", std::string("\0\x01\xff\xfe", 4));
  auto first = array.SyncAll();
  CHECK(first[kA].role == "primary");
  CHECK(first[kA].put == Paths{"binary.dat", "login.sh", "scripts/unix/start"});
  CHECK(first[kB].role == "secondary");
  CHECK(first[kB].written == Paths{"binary.dat", "login.sh", "scripts/unix/start"});
  CHECK(first[kB].overwritten.empty());
  for (const std::string& name : {kB, kC}) {
    CHECK(Tree(array.dir(name)) == Tree(array.dir(kA)));
    CHECK(ModeOf(array.dir(name) + "/login.sh") == 0644);
  }
  // The repository holds the files as the documented values.
  auto listed = array.nodes[kB]->List("resource_files");
  REQUIRE(listed.ok());
  json listing = json::parse(*listed);
  CHECK(listing["login.sh"]["sha256"] == resources::Sha256Hex("#!/bin/sh\necho login\n"));
  CHECK(listing["login.sh"]["size"] == 21);

  // Nothing changed: nothing moves.
  auto idle = array.SyncAll();
  CHECK(idle[kA].put.empty());
  CHECK(idle[kA].deleted.empty());
  CHECK(idle[kA].unchanged == 3);
  CHECK(idle[kC].written.empty());
  CHECK(idle[kC].unchanged == 3);

  WriteFile(array.dir(kA) + "/login.sh", "#!/bin/sh\necho login v2\n");
  WriteFile(array.dir(kA) + "/new.txt", "new");
  fs::remove(array.dir(kA) + "/scripts/unix/start");
  auto second = array.SyncAll();
  CHECK(second[kA].put == Paths{"login.sh", "new.txt"});
  CHECK(second[kA].deleted == Paths{"scripts/unix/start"});
  CHECK(second[kA].unchanged == 1);
  for (const std::string& name : {kB, kC}) {
    CHECK(second[name].written == Paths{"login.sh", "new.txt"});
    CHECK(second[name].removed == Paths{"scripts/unix/start"});
    CHECK(second[name].overwritten.empty());  // the primary's changes are not local ones
    CHECK(Tree(array.dir(name)) == Tree(array.dir(kA)));
    CHECK(!fs::exists(array.dir(name) + "/scripts"));
  }
  std::lock_guard lock(array.events_mu);
  CHECK(array.events[kB].empty());
}

TEST_CASE("a local change on a secondary is overwritten and reported") {
  Array array;
  WriteFile(array.dir(kA) + "/login.sh", "original");
  WriteFile(array.dir(kA) + "/keep.txt", "keep");
  array.SyncAll();

  WriteFile(array.dir(kC) + "/login.sh", "edited on c");
  WriteFile(array.dir(kC) + "/stray.txt", "added on c");
  fs::remove(array.dir(kC) + "/keep.txt");
  auto reports = array.SyncAll();
  const ResourceSyncReport& c = reports[kC];
  CHECK(c.written == Paths{"keep.txt", "login.sh"});
  CHECK(c.removed == Paths{"stray.txt"});
  REQUIRE(c.overwritten.size() == 3);
  CHECK(c.overwritten[0].path == "keep.txt");
  CHECK(c.overwritten[0].change == resources::LocalChange::kDeleted);
  CHECK(c.overwritten[1].path == "login.sh");
  CHECK(c.overwritten[1].change == resources::LocalChange::kModified);
  CHECK(c.overwritten[1].local == resources::InfoOf("edited on c"));
  CHECK(c.overwritten[2].path == "stray.txt");
  CHECK(c.overwritten[2].change == resources::LocalChange::kAdded);
  CHECK(Tree(array.dir(kC)) == Tree(array.dir(kA)));
  CHECK(reports[kB].overwritten.empty());
  // The primary's directory is untouched by c's edits.
  CHECK(ReadFile(array.dir(kA) + "/login.sh") == "original");

  json report = json::parse(c.ToJson());
  CHECK(report["overwritten"][1] == json{{"path", "login.sh"}, {"change", "modified"}});
  std::lock_guard lock(array.events_mu);
  REQUIRE(array.events[kC].size() == 3);
  const json& e = array.events[kC][1];
  CHECK(e["event"] == "resource_overwritten");
  CHECK(e["member"] == kC);
  CHECK(e["path"] == "login.sh");
  CHECK(e["change"] == "modified");
  CHECK(e["reason"].get<std::string>().find("login.sh") != std::string::npos);
  CHECK(e["at"].get<std::string>().find('T') != std::string::npos);
  CHECK(array.events[kB].empty());
}

TEST_CASE("a file too large for one repository value is refused with its reason") {
  Array array;
  WriteFile(array.dir(kA) + "/small.txt", "s");
  WriteFile(array.dir(kA) + "/huge.iso", std::string(resources::kMaxFileBytes + 1, 'h'));
  auto reports = array.SyncAll();
  CHECK(reports[kA].put == Paths{"small.txt"});
  REQUIRE(reports[kA].refused.size() == 1);
  CHECK(reports[kA].refused[0].path == "huge.iso");
  CHECK(reports[kA].refused[0].reason == "file_too_large");
  CHECK(reports[kA].refused[0].message.find("huge.iso") != std::string::npos);
  CHECK(!fs::exists(array.dir(kB) + "/huge.iso"));
  CHECK(fs::exists(array.dir(kB) + "/small.txt"));
}

TEST_CASE("List gives a category's applied entries, and damaged entries are refused, then repaired") {
  Array array;
  Node& a = *array.nodes[kA];
  CHECK(*a.List("sessions") == "{}");
  REQUIRE(a.Put("sessions", "s1", R"({"user": "x"})").ok());
  REQUIRE(a.Put("sessions", "s2", "2").ok());
  REQUIRE(a.Put("sessions", "gone", "3").ok());
  REQUIRE(a.Delete("sessions", "gone").ok());
  REQUIRE(a.Put("user_preferences", "u", "4").ok());
  CHECK(json::parse(*a.List("sessions")) == json{{"s1", {{"user", "x"}}}, {"s2", 2}});
  CHECK(ReasonOf(a.List("no_such").status()) == "unknown_category");

  // A damaged entry (written around ResourceSync) is refused by the secondaries and replaced
  // by the primary's next sync.
  WriteFile(array.dir(kA) + "/f.txt", "real");
  json damaged = json::parse(resources::EncodeValue("real"));
  damaged["sha256"] = resources::Sha256Hex("forged");
  REQUIRE(a.Put("resource_files", "f.txt", damaged.dump()).ok());
  REQUIRE(a.Put("resource_files", "../evil", json::parse(resources::EncodeValue("e")).dump()).ok());
  REQUIRE(a.WaitSynced(absl::Seconds(10)).ok());
  WriteFile(array.dir(kB) + "/f.txt", "b's own");
  auto b = array.Sync(kB);
  REQUIRE(b.refused.size() == 2);
  CHECK(b.refused[0].reason == "parent_reference");
  CHECK(b.refused[1].reason == "corrupt_entry");
  CHECK(ReadFile(array.dir(kB) + "/f.txt") == "b's own");  // left alone
  CHECK(!fs::exists(array.dir(kB) + "/../evil"));
  auto primary = array.Sync(kA);
  CHECK(primary.put == Paths{"f.txt"});
  CHECK(primary.deleted == Paths{"../evil"});
  REQUIRE(a.WaitSynced(absl::Seconds(10)).ok());
  b = array.Sync(kB);
  CHECK(b.refused.empty());
  CHECK(ReadFile(array.dir(kB) + "/f.txt") == "real");
}

TEST_CASE("ResourceSync needs a directory and a state file") {
  Array array;
  CHECK(!ResourceSync::Create(*array.nodes[kA], ResourceSyncOptions{}).ok());
  ResourceSyncOptions no_state;
  no_state.directory = array.dir(kA);
  CHECK(!ResourceSync::Create(*array.nodes[kA], no_state).ok());
}

}  // namespace
}  // namespace arraykit::node

namespace arraykit::node {
namespace {

TEST_CASE("a primary that is not writable neither publishes nor takes files") {
  Array array(json{{"mode", "quorum"}, {"monitor_interval_s", 0.05}});
  WriteFile(array.dir(kA) + "/login.sh", "v1");
  REQUIRE(array.Sync(kA).put == Paths{"login.sh"});
  const std::string before = *array.nodes[kA]->List("resource_files");
  // Without its voters the quorum primary's leases run out: it stays primary, not writable.
  for (const std::string& name : {kB, kC}) {
    array.syncs.erase(name);
    REQUIRE(array.nodes[name]->Close().ok());
  }
  bool writable = true;
  for (int i = 0; i < 5000 && writable; ++i) {
    json st = json::parse(*array.nodes[kA]->Status());
    writable = st["writable"].get<bool>();
    if (writable) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE(!writable);
  WriteFile(array.dir(kA) + "/login.sh", "v2");
  WriteFile(array.dir(kA) + "/new.txt", "new");
  auto refused = array.syncs[kA]->SyncNow();
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(ReasonOf(refused.status()) == "not_writable");
  CHECK(*array.nodes[kA]->List("resource_files") == before);
  CHECK(ReadFile(array.dir(kA) + "/login.sh") == "v2");  // nor were its files replaced
  CHECK(fs::exists(array.dir(kA) + "/new.txt"));
}

}  // namespace
}  // namespace arraykit::node
