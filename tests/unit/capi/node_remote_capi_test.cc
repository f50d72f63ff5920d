// ak_node_connect, ak_node_serve_admin and ak_node_list (arraykit/node.h), through the shared
// library only: a member served in this process, reached through its admin socket.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "arraykit/arraykit.h"
#include "arraykit/arraykit.hpp"
#include "nlohmann/json.hpp"

namespace {

using nlohmann::json;

std::string Dir(const std::string& what) {
  static std::atomic<int> n{0};
  std::string dir = (std::filesystem::temp_directory_path() /
                     ("arraykit-capi-remote-" + std::to_string(::getpid()) + "-" +
                      std::to_string(n++) + "-" + what))
                        .string();
  std::filesystem::create_directories(dir);
  return dir + "/a";  // the member creates its data directory (mode 0700)
}

std::string Take(char* s) {
  std::string out = s == nullptr ? "" : s;
  ak_free(s);
  return out;
}

struct Local {
  ak_network* net = nullptr;
  ak_node* node = nullptr;
  std::string dir;
  explicit Local(const std::string& what) : dir(Dir(what)) {
    REQUIRE(ak_network_new(&net, 1) == AK_OK);
    ak_node_options opts;
    REQUIRE(ak_node_options_init(&opts, AK_NODE_OPTIONS_VERSION) == AK_OK);
    opts.name = "a.example.com";
    opts.data_dir = dir.c_str();
    opts.network = net;
    REQUIRE(ak_node_open(&node, &opts) == AK_OK);
  }
  ~Local() {
    ak_node_close(node);
    ak_network_free(net);
    std::error_code ignored;
    std::filesystem::remove_all(std::filesystem::path(dir).parent_path(), ignored);
  }
};

TEST_CASE("ak_node_connect: every call goes to the served member") {
  Local local("calls");
  REQUIRE(ak_node_serve_admin(local.node, nullptr) == AK_OK);
  const std::string socket = local.dir + "/admin.sock";
  struct stat st;
  REQUIRE(lstat(socket.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);

  ak_node* remote = nullptr;
  REQUIRE(ak_node_connect(&remote, local.dir.c_str()) == AK_OK);
  char* position = nullptr;
  REQUIRE(ak_node_put(&position, remote, "sessions", "s1", "{\"n\": 1}", nullptr) == AK_OK);
  CHECK(json::parse(Take(position)).contains("index"));
  char* value = nullptr;
  REQUIRE(ak_node_get(&value, local.node, "sessions", "s1") == AK_OK);  // written on the member
  CHECK(json::parse(Take(value)) == json{{"n", 1}});
  char* entries = nullptr;
  REQUIRE(ak_node_list(&entries, remote, "sessions") == AK_OK);
  CHECK(json::parse(Take(entries)) == json{{"s1", {{"n", 1}}}});
  REQUIRE(ak_node_list(&entries, local.node, "nonsense") == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "unknown_category");
  char* status = nullptr;
  REQUIRE(ak_node_status(&status, remote) == AK_OK);
  CHECK(json::parse(Take(status))["name"] == "a.example.com");
  char* events = nullptr;
  REQUIRE(ak_node_events(&events, remote) == AK_OK);
  CHECK(json::parse(Take(events)).is_array());
  char* missing = nullptr;
  CHECK(ak_node_get(&missing, remote, "sessions", "none") == AK_NOT_FOUND);
  CHECK(std::string(ak_last_error_reason()) == "not_found");

  // Calls only the hosting process can make.
  CHECK(ak_node_configure_resources(remote, "{\"directory\": \"/tmp\", \"sync_at\": \"03:00\"}") ==
        AK_FAILED_PRECONDITION);
  CHECK(std::string(ak_last_error_reason()) == "remote_node");
  char* report = nullptr;
  CHECK(ak_node_sync_resources(&report, remote) == AK_FAILED_PRECONDITION);
  CHECK(std::string(ak_last_error_reason()) == "remote_node");
  CHECK(ak_node_serve_admin(remote, nullptr) == AK_FAILED_PRECONDITION);
  CHECK(std::string(ak_last_error_reason()) == "remote_node");

  // Closing the remote handle leaves the member running and serving.
  REQUIRE(ak_node_close(remote) == AK_OK);
  REQUIRE(ak_node_status(&status, local.node) == AK_OK);
  ak_free(status);
  REQUIRE(ak_node_connect(&remote, socket.c_str()) == AK_OK);  // the socket's path works too
  REQUIRE(ak_node_close(remote) == AK_OK);
}

TEST_CASE("ak_node_serve_admin: one server per member; the close stops it") {
  Local local("serve");
  const std::string socket = local.dir + "/other.sock";
  REQUIRE(ak_node_serve_admin(local.node, socket.c_str()) == AK_OK);
  CHECK(ak_node_serve_admin(local.node, nullptr) == AK_ALREADY_EXISTS);
  CHECK(std::string(ak_last_error_reason()) == "already_serving");
  CHECK(ak_node_serve_admin(local.node, "") == AK_INVALID_ARGUMENT);

  ak_node* remote = nullptr;
  REQUIRE(ak_node_connect(&remote, socket.c_str()) == AK_OK);
  REQUIRE(ak_node_close(local.node) == AK_OK);
  local.node = nullptr;
  struct stat st;
  CHECK(lstat(socket.c_str(), &st) != 0);  // the socket went with the member
  char* status = nullptr;
  CHECK(ak_node_status(&status, remote) == AK_UNAVAILABLE);
  CHECK(std::string(ak_last_error_reason()) == "not_contactable");
  REQUIRE(ak_node_close(remote) == AK_OK);

  ak_node* none = nullptr;
  CHECK(ak_node_connect(&none, local.dir.c_str()) == AK_UNAVAILABLE);
  CHECK(none == nullptr);
  CHECK(std::string(ak_last_error_reason()) == "not_contactable");
  CHECK(
      std::string(ak_last_error()).find("no arrayd is listening on " + local.dir + "/admin.sock") !=
      std::string::npos);
}

TEST_CASE("arraykit::Node::connect and serve_admin in the C++ wrapper") {
  arraykit::Network network(3);
  const std::string dir = Dir("wrapper");
  arraykit::Node local("a.example.com", dir, network);
  local.serve_admin();
  arraykit::Node remote = arraykit::Node::connect(dir);
  remote.put("sessions", "k", "\"v\"");
  CHECK(local.get("sessions", "k") == "\"v\"");
  CHECK(json::parse(remote.list("sessions")) == json{{"k", "v"}});
  try {
    remote.configure_resources("{}");
    FAIL("a remote handle configured resources");
  } catch (const arraykit::Error& e) {
    CHECK(e.reason() == "remote_node");
  }
  remote.close();
  local.close();
  CHECK_THROWS_AS(arraykit::Node::connect(dir), arraykit::Error);
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
}

}  // namespace
