// arraykit.MemoryNetwork and arraykit.Node — dicts in, dicts out; blocking calls release the
// GIL; the event callback takes it.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>

#include "bindings.h"

namespace py = pybind11;

namespace arraykit::python {
namespace {

template <typename Call>
void CallVoid(Call&& call) {
  try {
    py::gil_scoped_release release;
    call();
  } catch (const arraykit::Error& e) {
    Raise(e);
  }
}

// The Python object: the C++ node plus the network it was opened on (kept alive with it).
class PyNode {
 public:
  PyNode(const std::string& data_dir, const std::string& name, arraykit::Network& network,
         const py::object& member, const py::object& on_event, double call_timeout_s) {
    std::string member_json = member.is_none() ? std::string() : ToJsonText(member, "member");
    arraykit::Node::EventHandler handler;
    if (!on_event.is_none()) {
      // Owned by the C++ node; destroyed with it (under the GIL, see close()/~PyNode).
      auto callable = std::make_shared<py::object>(on_event);
      handler = [callable](const std::string& event) {
        py::gil_scoped_acquire gil;
        try {
          (*callable)(FromJsonText(event));
        } catch (py::error_already_set& e) {
          e.discard_as_unraisable("arraykit.Node on_event callback");
        }
      };
    }
    if (call_timeout_s <= 0 || call_timeout_s > 86400) {
      throw py::value_error("call_timeout_s: must be in (0, 86400]");
    }
    auto timeout_ms = static_cast<unsigned int>(call_timeout_s * 1000);
    try {
      py::gil_scoped_release release;
      node_ = std::make_unique<arraykit::Node>(name, data_dir, network, member_json,
                                               std::move(handler), timeout_ms);
    } catch (const arraykit::Error& e) {
      Raise(e);
    }
  }
  // A member running elsewhere, reached over its admin socket (Node.connect).
  explicit PyNode(std::unique_ptr<arraykit::Node> remote) : node_(std::move(remote)) {}
  static std::unique_ptr<PyNode> Connect(const std::string& node_path) {
    std::unique_ptr<arraykit::Node> remote;
    CallVoid([&] {
      remote = std::make_unique<arraykit::Node>(arraykit::Node::connect(node_path));
    });
    return std::make_unique<PyNode>(std::move(remote));
  }
  ~PyNode() {
    // The dispatcher may be waiting for the GIL to run a callback: close without it.
    if (node_) {
      py::gil_scoped_release release;
      try {
        node_->close();
      } catch (const arraykit::Error&) {
        // Closed from its own callback: the handle cannot be closed there; nothing to report.
      }
    }
  }

  arraykit::Node& node() {
    if (!node_) {
      throw arraykit::Error(AK_FAILED_PRECONDITION, "the node is closed", "failed_precondition");
    }
    return *node_;
  }
  void Close() {
    if (!node_) return;
    CallVoid([&] { node_->close(); });
    node_.reset();
  }

 private:
  std::unique_ptr<arraykit::Node> node_;
};

std::string WaitOptions(const std::string& wait) { return "{\"wait\": \"" + wait + "\"}"; }

}  // namespace

void RegisterNode(py::module_& m) {
  py::class_<arraykit::Network>(m, "MemoryNetwork",
                                "An in-process network joining the members of one process: "
                                "link faults, partitions, isolation.")
      .def(py::init<unsigned long long>(), py::arg("seed") = 1)
      .def(
          "partition",
          [](arraykit::Network& net, const py::object& groups) {
            std::string text = ToJsonText(groups, "groups");
            CallVoid([&] { net.partition(text); });
          },
          py::arg("groups"),
          "Members talk only within their group: partition([['a', 'b'], ['c']]).")
      .def(
          "isolate",
          [](arraykit::Network& net, const std::string& name) {
            CallVoid([&] { net.isolate(name); });
          },
          py::arg("name"), "Cuts one member off from all others.")
      .def(
          "heal", [](arraykit::Network& net) { CallVoid([&] { net.heal(); }); },
          "Undoes every partition and isolation.")
      .def(
          "set_link",
          [](arraykit::Network& net, const py::object& link) {
            std::string text = ToJsonText(link, "link");
            CallVoid([&] { net.set_link(text); });
          },
          py::arg("link"),
          "Link faults: {'from', 'to', 'delay_ms', 'jitter_ms', 'loss', 'duplicate', 'reorder', "
          "'reorder_window_ms'}; without from/to, the default of every link.");

  py::class_<PyNode>(m, "Node",
                     "One array member running in this process (its store, failover machine, "
                     "replicator). Blocking calls release the GIL; on_event(event: dict) runs "
                     "on the node's dispatcher thread.")
      .def(py::init<const std::string&, const std::string&, arraykit::Network&,
                    const py::object&, const py::object&, double>(),
           py::arg("data_dir"), py::kw_only(), py::arg("name"), py::arg("network"),
           py::arg("member") = py::none(), py::arg("on_event") = py::none(),
           py::arg("call_timeout_s") = 10.0, py::keep_alive<1, 4>())
      .def(
          "create_array",
          [](PyNode& self, const py::object& description) {
            std::string text = ToJsonText(description, "description");
            arraykit::Node& node = self.node();
            CallVoid([&] { node.create_array(text); });
          },
          py::arg("description"),
          "This member becomes part of the configured array (DESIGN §3 description).")
      .def(
          "put",
          [](PyNode& self, const std::string& category, const std::string& key,
             const py::object& value, const std::string& wait) {
            std::string text = ToJsonText(value, "value");
            std::string options = WaitOptions(wait);
            arraykit::Node& node = self.node();
            return CallJson([&] { return node.put(category, key, text, options); });
          },
          py::arg("category"), py::arg("key"), py::arg("value"), py::kw_only(),
          py::arg("wait") = "primary",
          "Writes value at (category, key); returns the position {'epoch', 'index'} once "
          "acknowledged (wait='primary' or 'all'). NotPrimaryError on a secondary.")
      .def(
          "delete",
          [](PyNode& self, const std::string& category, const std::string& key,
             const std::string& wait) {
            std::string options = WaitOptions(wait);
            arraykit::Node& node = self.node();
            return CallJson([&] { return node.remove(category, key, options); });
          },
          py::arg("category"), py::arg("key"), py::kw_only(), py::arg("wait") = "primary")
      .def(
          "get",
          [](PyNode& self, const std::string& category, const std::string& key) {
            arraykit::Node& node = self.node();
            return CallJson([&] { return node.get(category, key); });
          },
          py::arg("category"), py::arg("key"),
          "This member's value at (category, key); NotFoundError when absent.")
      .def_static("connect", &PyNode::Connect, py::arg("node_path"),
                  "A member running elsewhere (arrayd, or a host serving its admin API), by its "
                  "data directory or admin socket: every call goes over the socket; close() "
                  "leaves the member running. UnavailableError (reason 'not_contactable') when "
                  "nothing listens there.")
      .def(
          "serve_admin",
          [](PyNode& self, const std::optional<std::string>& path) {
            arraykit::Node& node = self.node();
            CallVoid([&] { node.serve_admin(path.value_or(std::string())); });
          },
          py::arg("path") = py::none(),
          "Serves this member's admin API on a Unix socket (mode 0600; None: "
          "DATA_DIR/admin.sock) until close(), for arrayctl --node and Node.connect.")
      .def(
          "list",
          [](PyNode& self, const std::string& category) {
            arraykit::Node& node = self.node();
            return CallJson([&] { return node.list(category); });
          },
          py::arg("category"), "This member's applied entries of category: {key: value}.")
      .def(
          "wait_synced",
          [](PyNode& self, double timeout_s) {
            if (timeout_s <= 0 || timeout_s > 86400) {
              throw py::value_error("timeout_s: must be in (0, 86400]");
            }
            auto ms = static_cast<unsigned int>(timeout_s * 1000);
            arraykit::Node& node = self.node();
            return CallJson([&] { return node.wait_synced(ms == 0 ? 1 : ms); });
          },
          py::arg("timeout_s") = 5.0,
          "Waits until every contactable member applied the primary's last position; "
          "DeadlineExceededError after timeout_s.")
      .def(
          "detach",
          [](PyNode& self, const std::string& name) {
            arraykit::Node& node = self.node();
            CallVoid([&] { node.detach(name); });
          },
          py::arg("name"), "Detaches a member (it becomes standalone); on the primary.")
      .def(
          "make_primary",
          [](PyNode& self, const std::string& name) {
            arraykit::Node& node = self.node();
            CallVoid([&] { node.make_primary(name); });
          },
          py::arg("name"), "Makes another member the primary; on the primary.")
      .def(
          "backup_primaries",
          [](PyNode& self) {
            arraykit::Node& node = self.node();
            return CallJson([&] { return node.backup_primaries(); });
          },
          "The backup primaries list, highest priority first.")
      .def(
          "add_backup_primary",
          [](PyNode& self, const std::string& name, unsigned int position) {
            arraykit::Node& node = self.node();
            CallVoid([&] { node.add_backup_primary(name, position); });
          },
          py::arg("name"), py::kw_only(), py::arg("position") = 0,
          "Adds a member at position (from 1; 0 = the end).")
      .def(
          "edit_backup_primary",
          [](PyNode& self, const std::string& name, unsigned int position) {
            arraykit::Node& node = self.node();
            CallVoid([&] { node.edit_backup_primary(name, position); });
          },
          py::arg("name"), py::kw_only(), py::arg("position"))
      .def(
          "remove_backup_primary",
          [](PyNode& self, const std::string& name) {
            arraykit::Node& node = self.node();
            CallVoid([&] { node.remove_backup_primary(name); });
          },
          py::arg("name"))
      .def(
          "clean",
          [](PyNode& self, bool contact_members) {
            arraykit::Node& node = self.node();
            CallVoid([&] { node.clean(contact_members); });
          },
          py::kw_only(), py::arg("contact_members") = false,
          "clean [--contactmembers]: this member becomes standalone (or keeps the contactable "
          "members that agree).")
      .def(
          "config_edit",
          [](PyNode& self, const py::object& edit) {
            std::string text = ToJsonText(edit, "edit");
            arraykit::Node& node = self.node();
            CallVoid([&] { node.config_edit(text); });
          },
          py::arg("edit"),
          "config edit with the seed's attribute names: {'array-monitortime': 60, ...}.")
      .def(
          "join_token",
          [](PyNode& self, double ttl_s) {
            if (!(ttl_s >= 1 && ttl_s <= 86400)) {
              throw py::value_error("ttl_s: must be in [1, 86400]");
            }
            auto seconds = static_cast<unsigned int>(ttl_s);
            arraykit::Node& node = self.node();
            std::string token;
            CallVoid([&] { token = node.join_token(seconds); });
            return token;
          },
          py::kw_only(), py::arg("ttl_s") = 600.0,
          "On the standalone member that is to join: a one-time token (str). Kept in memory "
          "only: closing the node invalidates it.")
      .def(
          "ca_fingerprint",
          [](PyNode& self) {
            arraykit::Node& node = self.node();
            std::string fingerprint;
            CallVoid([&] { fingerprint = node.ca_fingerprint(); });
            return fingerprint;
          },
          "The SHA-256 fingerprint of the CA this member presents ('AB:CD:...').")
      .def(
          "join",
          [](PyNode& self, const std::string& name, const std::string& fingerprint,
             const std::string& token, double timeout_s) {
            if (!(timeout_s > 0 && timeout_s <= 3600)) {
              throw py::value_error("timeout_s: must be in (0, 3600]");
            }
            std::string options = "{\"timeout_s\": " + std::to_string(timeout_s) + "}";
            arraykit::Node& node = self.node();
            return CallJson([&] { return node.join(name, fingerprint, token, options); });
          },
          py::arg("name"), py::kw_only(), py::arg("fingerprint"), py::arg("token"),
          py::arg("timeout_s") = 30.0,
          "On the primary: admits the standalone member `name` whose CA has `fingerprint`, "
          "with the token made on it. Returns {'joined', 'epoch', 'members', 'warnings'}.")
      .def(
          "status",
          [](PyNode& self) {
            arraykit::Node& node = self.node();
            return CallJson([&] { return node.status(); });
          },
          "The status document (dict).")
      .def(
          "events",
          [](PyNode& self) {
            arraykit::Node& node = self.node();
            return CallJson([&] { return node.events(); });
          },
          "The events posted since the last call (list of dicts, oldest first).")
      .def("close", &PyNode::Close,
           "Stops the member (Node(same data_dir) restarts it); on a connected handle, lets "
           "go of it and leaves the member running.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyNode& self, const py::args&) { self.Close(); })
      .def(
          "configure_resources",
          [](PyNode& self, const std::string& directory, const std::string& sync_at,
             const std::optional<std::string>& zone, const std::optional<std::string>& state_file) {
            py::dict options;
            options["directory"] = directory;
            options["sync_at"] = sync_at;
            if (zone) options["zone"] = *zone;
            if (state_file) options["state_file"] = *state_file;
            std::string text = ToJsonText(options, "options");
            arraykit::Node& node = self.node();
            CallVoid([&] { node.configure_resources(text); });
          },
          py::arg("directory"), py::arg("sync_at"), py::arg("zone") = py::none(),
          py::arg("state_file") = py::none(),
          "Starts (or replaces) the daily resource-file sync at sync_at ('HH:MM', in zone or "
          "the local zone).")
      .def(
          "sync_resources",
          [](PyNode& self) {
            arraykit::Node& node = self.node();
            return CallJson([&] { return node.sync_resources(); });
          },
          "Runs one resource-file sync now; its report (dict).");
}

}  // namespace arraykit::python
