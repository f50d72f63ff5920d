// C ABI: the node and the in-memory network (translation only; the runtime is lib/node).
#include <cstddef>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "arraykit/arraykit.h"
#include "capi/guard.h"
#include "core/status.h"
#include "core/model/array_json.h"
#include "core/model/json_reader.h"
#include "node/memory_network.h"
#include "node/node.h"
#include "node/operations.h"
#ifdef ARRAYKIT_WITH_GRPC
#include "transport/grpc/admin_client.h"
#include "transport/grpc/admin_service.h"
#include "transport/grpc/peer_transport.h"
#endif

struct ak_network {
  std::shared_ptr<arraykit::node::MemoryNetwork> network;
};

// A member running in this process (`local`, optionally serving the Admin API), or one running
// elsewhere reached over its admin socket (ak_node_connect). Every host call goes through `ops`.
struct ak_node {
  ak_node(std::unique_ptr<arraykit::node::Node> node, std::string data_dir = "")
      : local(node.get()), ops(std::move(node)), data_dir(std::move(data_dir)) {}
  explicit ak_node(std::unique_ptr<arraykit::node::Operations> remote)
      : ops(std::move(remote)) {}

  arraykit::node::Node* local = nullptr;  // null for a remote member
  std::unique_ptr<arraykit::node::Operations> ops;
  std::string data_dir;  // a local member's
#ifdef ARRAYKIT_WITH_GRPC
  std::unique_ptr<arraykit::grpc_transport::AdminServer> admin;  // ak_node_serve_admin
#endif
};

namespace arraykit::capi {
namespace {

namespace ji = model::json_internal;
using nlohmann::json;

absl::Status RequireHandle(const void* handle, const char* name) {
  if (handle == nullptr) return absl::InvalidArgumentError(absl::StrCat(name, " must not be NULL"));
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> Milliseconds(const json& doc, std::string_view field) {
  auto it = doc.find(std::string(field));
  if (it == doc.end()) return absl::ZeroDuration();
  auto ms = ji::ReadNumber(*it, ji::FieldPath("link", field), 0, 3600 * 1000);
  if (!ms.ok()) return ms.status();
  return absl::Microseconds(static_cast<std::int64_t>(*ms * 1000));
}

// The bytes of ak_node_options a caller of `version` owns.
std::size_t NodeOptionsSize(unsigned int version) {
  return version >= 2 ? sizeof(ak_node_options) : offsetof(ak_node_options, listen);
}

// ak_node_open's peers_json: peer DNS name (canonical) -> address.
absl::StatusOr<std::map<std::string, std::string>> ParseAddressBook(const std::string& self,
                                                                    const char* peers_json) {
  std::map<std::string, std::string> book;
  if (peers_json == nullptr) return book;
  auto doc = model::ParseJsonDocument(peers_json, "peers");
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) {
    return arraykit::WithReason(
        absl::InvalidArgumentError("peers: must be an object {\"peer DNS name\": \"IP:PORT\"}"),
        "invalid_value");
  }
  for (const auto& [peer_name, address] : doc->items()) {
    const std::string path = absl::StrCat("peers.", peer_name);
    auto normalized = model::NormalizePeerName(peer_name, path);
    if (!normalized.ok()) return normalized.status();
    if (!address.is_string()) {
      return arraykit::WithReason(absl::InvalidArgumentError(absl::StrCat(
                                      path, ": must be a string \"IP:PORT\" or \"HOST:PORT\"")),
                                  "invalid_value");
    }
    if (node::CanonicalName(*normalized) == node::CanonicalName(self)) {
      return arraykit::WithReason(absl::InvalidArgumentError(absl::StrCat(
                                      path, ": names this member itself (its address is "
                                            "opts.listen)")),
                                  "invalid_value");
    }
    book[node::CanonicalName(*normalized)] = address.get<std::string>();
  }
  return book;
}

// The gRPC peer transport for ak_node_open's version-2 fields.
absl::StatusOr<node::AttachFn> GrpcAttach(const std::string& name, const std::string& listen,
                                          const char* peers_json, absl::Duration clock_offset) {
  auto book = ParseAddressBook(name, peers_json);
  if (!book.ok()) return book.status();
#ifndef ARRAYKIT_WITH_GRPC
  (void)listen, (void)clock_offset;
  return arraykit::WithReason(
      absl::UnimplementedError("opts.listen: this build of arraykit has no gRPC transport "
                               "(configured with ARRAYKIT_BUILD_GRPC=OFF)"),
      "built_without_grpc");
#else
  grpc_transport::PeerOptions peer;
  peer.listen = listen;
  peer.peers = *std::move(book);
  if (clock_offset != absl::ZeroDuration()) {
    peer.wall_clock = [clock_offset] { return absl::Now() + clock_offset; };
  }
  if (absl::Status s = grpc_transport::ValidatePeerOptions(peer); !s.ok()) return s;
  return grpc_transport::AttachGrpc(std::move(peer));
#endif
}

absl::StatusOr<double> Probability(const json& doc, std::string_view field) {
  auto it = doc.find(std::string(field));
  if (it == doc.end()) return 0.0;
  return ji::ReadNumber(*it, ji::FieldPath("link", field), 0, 1);
}

absl::Status SetLink(node::MemoryNetwork& network, std::string_view text) {
  auto doc = model::ParseJsonDocument(text, "link");
  if (!doc.ok()) return doc.status();
  if (auto s = ji::ExpectObjectWith(*doc, "link",
                                    {"from", "to", "delay_ms", "jitter_ms", "loss", "duplicate",
                                     "reorder", "reorder_window_ms"});
      !s.ok()) {
    return s;
  }
  node::LinkOptions link;
  auto delay = Milliseconds(*doc, "delay_ms");
  auto jitter = Milliseconds(*doc, "jitter_ms");
  auto loss = Probability(*doc, "loss");
  auto duplicate = Probability(*doc, "duplicate");
  auto reorder = Probability(*doc, "reorder");
  for (const absl::Status& s : {delay.status(), jitter.status(), loss.status(),
                                duplicate.status(), reorder.status()}) {
    if (!s.ok()) return s;
  }
  link.delay = *delay;
  link.jitter = *jitter;
  link.loss = *loss;
  link.duplicate = *duplicate;
  link.reorder = *reorder;
  if (doc->contains("reorder_window_ms")) {
    auto window = Milliseconds(*doc, "reorder_window_ms");
    if (!window.ok()) return window.status();
    link.reorder_window = *window;
  }
  bool from = doc->contains("from"), to = doc->contains("to");
  if (from != to) {
    return absl::InvalidArgumentError("link: give both \"from\" and \"to\", or neither");
  }
  if (!from) return network.SetDefaultLink(link);
  auto a = ji::ReadString((*doc)["from"], "link.from", 253, false);
  if (!a.ok()) return a.status();
  auto b = ji::ReadString((*doc)["to"], "link.to", 253, false);
  if (!b.ok()) return b.status();
  return network.SetLink(*a, *b, link);
}

absl::StatusOr<std::vector<std::vector<std::string>>> Groups(std::string_view text) {
  auto doc = model::ParseJsonDocument(text, "partition");
  if (!doc.ok()) return doc.status();
  if (auto s = ji::ExpectArray(*doc, "groups", 64); !s.ok()) return s;
  std::vector<std::vector<std::string>> groups;
  for (std::size_t g = 0; g < doc->size(); ++g) {
    std::string path = ji::IndexPath("groups", g);
    if (auto s = ji::ExpectArray((*doc)[g], path, 64); !s.ok()) return s;
    std::vector<std::string>& group = groups.emplace_back();
    for (std::size_t i = 0; i < (*doc)[g].size(); ++i) {
      auto name = ji::ReadString((*doc)[g][i], ji::IndexPath(path, i), 253, false);
      if (!name.ok()) return name.status();
      group.push_back(*std::move(name));
    }
  }
  return groups;
}

absl::StatusOr<replication::Wait> WaitOf(const char* options_json) {
  if (options_json == nullptr) return replication::Wait::kPrimary;
  if (*options_json == '\0') return absl::InvalidArgumentError("options_json: empty document");
  return node::WaitFromOptionsJson(options_json);
}

// Calls that only make sense in the process hosting the member.
absl::Status RequireLocal(const ak_node& node, absl::string_view call) {
  if (node.local != nullptr) return absl::OkStatus();
  return MakeError(absl::StatusCode::kFailedPrecondition, "remote_node",
                   absl::StrCat(call, ": only the process hosting the member can do this; this "
                                      "handle reaches a member running elsewhere"));
}

// Stops a local member (its admin server after it: calls in progress finish first) or lets go
// of a remote one, which keeps running.
absl::Status CloseMember(ak_node& node) {
  if (node.local != nullptr) {
    if (absl::Status s = node.local->Close(); !s.ok()) return s;
  }
#ifdef ARRAYKIT_WITH_GRPC
  if (node.admin != nullptr) node.admin->Stop();
#endif
  return absl::OkStatus();
}

absl::Status ReturnOptional(char** out, const absl::StatusOr<std::string>& result) {
  if (!result.ok()) return result.status();
  if (out == nullptr) return absl::OkStatus();
  return ReturnString(out, *result);
}

}  // namespace
}  // namespace arraykit::capi

namespace capi = arraykit::capi;
namespace node = arraykit::node;

extern "C" {

AK_API ak_status ak_network_new(ak_network** out, unsigned long long seed) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (out == nullptr) return absl::InvalidArgumentError("out must not be NULL");
    *out = nullptr;
    *out = new ak_network{node::MemoryNetwork::Create(seed)};
    return absl::OkStatus();
  });
}

AK_API void ak_network_free(ak_network* network) { delete network; }

AK_API ak_status ak_network_set_link(ak_network* network, const char* link_json) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::RequireHandle(network, "network"); !s.ok()) return s;
    if (auto s = capi::RequireInput(link_json, "link_json"); !s.ok()) return s;
    return capi::SetLink(*network->network, link_json);
  });
}

AK_API ak_status ak_network_partition(ak_network* network, const char* groups_json) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::RequireHandle(network, "network"); !s.ok()) return s;
    if (auto s = capi::RequireInput(groups_json, "groups_json"); !s.ok()) return s;
    auto groups = capi::Groups(groups_json);
    if (!groups.ok()) return groups.status();
    network->network->Partition(*groups);
    return absl::OkStatus();
  });
}

AK_API ak_status ak_network_isolate(ak_network* network, const char* name) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::RequireHandle(network, "network"); !s.ok()) return s;
    if (auto s = capi::RequireInput(name, "name"); !s.ok()) return s;
    network->network->Isolate(name);
    return absl::OkStatus();
  });
}

AK_API ak_status ak_network_heal(ak_network* network) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::RequireHandle(network, "network"); !s.ok()) return s;
    network->network->Heal();
    return absl::OkStatus();
  });
}

AK_API ak_status ak_node_options_init(ak_node_options* opts, unsigned int version) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (opts == nullptr) return absl::InvalidArgumentError("opts must not be NULL");
    if (absl::Status s = capi::CheckOptionsVersion(version, AK_NODE_OPTIONS_VERSION, "version",
                                                   "ak_node_options");
        !s.ok()) {
      return s;
    }
    // A caller of an older version has the shorter struct: only its part is written.
    ak_node_options defaults = AK_NODE_OPTIONS_INIT;
    defaults.version = version;
    std::memcpy(opts, &defaults, capi::NodeOptionsSize(version));
    return absl::OkStatus();
  });
}

AK_API ak_status ak_node_open(ak_node** out, const ak_node_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (out == nullptr) return absl::InvalidArgumentError("out must not be NULL");
    *out = nullptr;
    if (opts == nullptr) return absl::InvalidArgumentError("opts must not be NULL");
    if (absl::Status s = capi::CheckOptionsVersion(opts->version, AK_NODE_OPTIONS_VERSION,
                                                   "opts.version", "ak_node_options");
        !s.ok()) {
      return s;
    }
    if (auto s = capi::RequireInput(opts->name, "opts.name"); !s.ok()) return s;
    if (auto s = capi::RequireInput(opts->data_dir, "opts.data_dir"); !s.ok()) return s;
    const char* listen = opts->version >= 2 ? opts->listen : nullptr;
    const char* peers_json = opts->version >= 2 ? opts->peers_json : nullptr;
    const long long clock_offset_ms = opts->version >= 2 ? opts->clock_offset_ms : 0;
    if ((opts->network == nullptr) == (listen == nullptr)) {
      return absl::InvalidArgumentError(
          opts->version >= 2 ? "opts.network, opts.listen: exactly one is required (the in-memory "
                               "network, or an address to serve peers on over gRPC)"
                             : "opts.network: required");
    }
    if (listen == nullptr && peers_json != nullptr) {
      return absl::InvalidArgumentError(
          "opts.peers_json: only with opts.listen (the in-memory network needs no addresses)");
    }
    node::NodeOptions options;
    options.name = opts->name;
    options.data_dir = opts->data_dir;
    if (opts->member_json != nullptr) {
      options.member_json = opts->member_json;
      if (options.member_json.empty()) {
        return absl::InvalidArgumentError("opts.member_json: empty document (NULL for none)");
      }
    }
    if (listen != nullptr) {
      auto attach =
          capi::GrpcAttach(opts->name, listen, peers_json, absl::Milliseconds(clock_offset_ms));
      if (!attach.ok()) return attach.status();
      options.attach = *std::move(attach);
    } else {
      options.attach = node::AttachTo(opts->network->network);
    }
    if (clock_offset_ms != 0) {
      const absl::Duration offset = absl::Milliseconds(clock_offset_ms);
      options.wall_clock = [offset] { return absl::Now() + offset; };
    }
    if (opts->on_event != nullptr) {
      ak_event_fn fn = opts->on_event;
      void* user = opts->user;
      options.on_event = [fn, user](const std::string& event) { fn(user, event.c_str()); };
    }
    if (opts->call_timeout_ms != 0) {
      options.call_timeout = absl::Milliseconds(opts->call_timeout_ms);
    }
    auto opened = node::Node::Open(std::move(options));
    if (!opened.ok()) return opened.status();
    *out = new ak_node{*std::move(opened), opts->data_dir};
    return absl::OkStatus();
  });
}

AK_API ak_status ak_node_close(ak_node* node) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (node == nullptr) return absl::OkStatus();
    if (absl::Status s = capi::CloseMember(*node); !s.ok()) return s;
    delete node;
    return absl::OkStatus();
  });
}

AK_API ak_status ak_node_create_array(ak_node* node, const char* description_json) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireInput(description_json, "description_json"); !s.ok()) return s;
    return node->ops->CreateArray(description_json);
  });
}

AK_API ak_status ak_node_put(char** out_position, ak_node* node, const char* category,
                             const char* key, const char* value_json, const char* options_json) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (out_position != nullptr) *out_position = nullptr;
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireInput(category, "category"); !s.ok()) return s;
    if (auto s = capi::RequireInput(key, "key"); !s.ok()) return s;
    if (auto s = capi::RequireInput(value_json, "value_json"); !s.ok()) return s;
    auto wait = capi::WaitOf(options_json);
    if (!wait.ok()) return wait.status();
    return capi::ReturnOptional(out_position, node->ops->Put(category, key, value_json, *wait));
  });
}

AK_API ak_status ak_node_delete(char** out_position, ak_node* node, const char* category,
                                const char* key, const char* options_json) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (out_position != nullptr) *out_position = nullptr;
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireInput(category, "category"); !s.ok()) return s;
    if (auto s = capi::RequireInput(key, "key"); !s.ok()) return s;
    auto wait = capi::WaitOf(options_json);
    if (!wait.ok()) return wait.status();
    return capi::ReturnOptional(out_position, node->ops->Delete(category, key, *wait));
  });
}

AK_API ak_status ak_node_get(char** out_value_json, ak_node* node, const char* category,
                             const char* key) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::PrepareOut(out_value_json, "out_value_json"); !s.ok()) return s;
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireInput(category, "category"); !s.ok()) return s;
    if (auto s = capi::RequireInput(key, "key"); !s.ok()) return s;
    auto value = node->ops->Get(category, key);
    if (!value.ok()) return value.status();
    return capi::ReturnString(out_value_json, *value);
  });
}

AK_API ak_status ak_node_wait_synced(char** out_position, ak_node* node,
                                     unsigned int timeout_ms) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (out_position != nullptr) *out_position = nullptr;
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (timeout_ms == 0) return absl::InvalidArgumentError("timeout_ms: must be positive");
    return capi::ReturnOptional(out_position,
                                node->ops->WaitSynced(absl::Milliseconds(timeout_ms)));
  });
}

AK_API ak_status ak_node_detach(ak_node* node, const char* name) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireInput(name, "name"); !s.ok()) return s;
    return node->ops->Detach(name);
  });
}

AK_API ak_status ak_node_make_primary(ak_node* node, const char* name) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireInput(name, "name"); !s.ok()) return s;
    return node->ops->MakePrimary(name);
  });
}

AK_API ak_status ak_node_backup_primaries(char** out_list, ak_node* node) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::PrepareOut(out_list, "out_list"); !s.ok()) return s;
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    auto list = node->ops->BackupPrimaries();
    if (!list.ok()) return list.status();
    return capi::ReturnString(out_list, *list);
  });
}

AK_API ak_status ak_node_add_backup_primary(ak_node* node, const char* name,
                                            unsigned int position) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireInput(name, "name"); !s.ok()) return s;
    return node->ops->AddBackupPrimary(name, position);
  });
}

AK_API ak_status ak_node_edit_backup_primary(ak_node* node, const char* name,
                                             unsigned int position) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireInput(name, "name"); !s.ok()) return s;
    return node->ops->EditBackupPrimary(name, position);
  });
}

AK_API ak_status ak_node_remove_backup_primary(ak_node* node, const char* name) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireInput(name, "name"); !s.ok()) return s;
    return node->ops->RemoveBackupPrimary(name);
  });
}

AK_API ak_status ak_node_clean(ak_node* node, int contact_members) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (contact_members != 0 && contact_members != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("contact_members: 0 or 1, got ", contact_members));
    }
    return node->ops->Clean(contact_members == 1);
  });
}

AK_API ak_status ak_node_config_edit(ak_node* node, const char* edit_json) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireInput(edit_json, "edit_json"); !s.ok()) return s;
    return node->ops->ConfigEdit(edit_json);
  });
}

AK_API ak_status ak_node_join_token(char** out_token, ak_node* node, unsigned int ttl_s) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::PrepareOut(out_token, "out_token"); !s.ok()) return s;
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    absl::Duration ttl = ttl_s == 0 ? absl::Seconds(600) : absl::Seconds(ttl_s);
    auto token = node->ops->JoinToken(ttl);
    if (!token.ok()) return token.status();
    return capi::ReturnString(out_token, *token);
  });
}

AK_API ak_status ak_node_ca_fingerprint(char** out_fingerprint, ak_node* node) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::PrepareOut(out_fingerprint, "out_fingerprint"); !s.ok()) return s;
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    auto fingerprint = node->ops->CaFingerprint();
    if (!fingerprint.ok()) return fingerprint.status();
    return capi::ReturnString(out_fingerprint, *fingerprint);
  });
}

AK_API ak_status ak_node_join(char** out_result, ak_node* node, const char* joiner,
                              const char* fingerprint, const char* token,
                              const char* options_json) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (out_result != nullptr) *out_result = nullptr;
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireInput(joiner, "joiner"); !s.ok()) return s;
    if (auto s = capi::RequireInput(fingerprint, "fingerprint"); !s.ok()) return s;
    if (auto s = capi::RequireInput(token, "token"); !s.ok()) return s;
    if (options_json != nullptr && *options_json == '\0') {
      return absl::InvalidArgumentError("options_json: empty document (NULL for none)");
    }
    auto timeout = node::JoinTimeoutFromOptionsJson(options_json == nullptr ? "" : options_json);
    if (!timeout.ok()) return timeout.status();
    return capi::ReturnOptional(out_result,
                                node->ops->Join(joiner, fingerprint, token, *timeout));
  });
}

AK_API ak_status ak_node_status(char** out_status, ak_node* node) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::PrepareOut(out_status, "out_status"); !s.ok()) return s;
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    auto status = node->ops->Status();
    if (!status.ok()) return status.status();
    return capi::ReturnString(out_status, *status);
  });
}

AK_API ak_status ak_node_events(char** out_events, ak_node* node) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::PrepareOut(out_events, "out_events"); !s.ok()) return s;
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    auto events = node->ops->Events();
    if (!events.ok()) return events.status();
    std::string text = "[";
    bool first = true;
    for (const std::string& event : *events) {
      if (!first) text += ",";
      first = false;
      text += event;
    }
    text += "]";
    return capi::ReturnString(out_events, text);
  });
}

AK_API ak_status ak_node_configure_resources(ak_node* node, const char* options_json) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireInput(options_json, "options_json"); !s.ok()) return s;
    if (auto s = capi::RequireLocal(*node, "ak_node_configure_resources"); !s.ok()) return s;
    return node->local->ConfigureResources(options_json);
  });
}

AK_API ak_status ak_node_sync_resources(char** out_report_json, ak_node* node) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::PrepareOut(out_report_json, "out_report_json"); !s.ok()) return s;
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireLocal(*node, "ak_node_sync_resources"); !s.ok()) return s;
    auto report = node->local->SyncResources();
    if (!report.ok()) return report.status();
    return capi::ReturnString(out_report_json, *report);
  });
}

AK_API ak_status ak_node_connect(ak_node** out, const char* node_path) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (out == nullptr) return absl::InvalidArgumentError("out must not be NULL");
    *out = nullptr;
    if (auto s = capi::RequireInput(node_path, "node_path"); !s.ok()) return s;
#ifdef ARRAYKIT_WITH_GRPC
    auto client = arraykit::grpc_transport::AdminClient::Connect(node_path);
    if (!client.ok()) return client.status();
    *out = new ak_node(std::unique_ptr<node::Operations>(*std::move(client)));
    return absl::OkStatus();
#else
    return arraykit::MakeError(absl::StatusCode::kUnimplemented, "built_without_grpc",
                               "ak_node_connect: this libarraykit was built without gRPC");
#endif
  });
}

AK_API ak_status ak_node_serve_admin(ak_node* node, const char* socket_path) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireLocal(*node, "ak_node_serve_admin"); !s.ok()) return s;
    if (socket_path != nullptr && *socket_path == '\0') {
      return absl::InvalidArgumentError("socket_path: empty (NULL for DATA_DIR/admin.sock)");
    }
#ifdef ARRAYKIT_WITH_GRPC
    if (node->admin != nullptr) {
      return arraykit::MakeError(
          absl::StatusCode::kAlreadyExists, "already_serving",
          absl::StrCat("this member already serves the Admin API on ",
                       node->admin->socket_path()));
    }
    std::string path = socket_path != nullptr
                           ? std::string(socket_path)
                           : arraykit::grpc_transport::AdminSocketOf(node->data_dir);
    auto server = arraykit::grpc_transport::AdminServer::Start(node->local, path);
    if (!server.ok()) return server.status();
    node->admin = *std::move(server);
    return absl::OkStatus();
#else
    return arraykit::MakeError(absl::StatusCode::kUnimplemented, "built_without_grpc",
                               "ak_node_serve_admin: this libarraykit was built without gRPC");
#endif
  });
}

AK_API ak_status ak_node_list(char** out_entries, ak_node* node, const char* category) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (auto s = capi::PrepareOut(out_entries, "out_entries"); !s.ok()) return s;
    if (auto s = capi::RequireHandle(node, "node"); !s.ok()) return s;
    if (auto s = capi::RequireInput(category, "category"); !s.ok()) return s;
    auto entries = node->ops->List(category);
    if (!entries.ok()) return entries.status();
    return capi::ReturnString(out_entries, *entries);
  });
}

}  // extern "C"
