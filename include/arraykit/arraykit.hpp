// arraykit — header-only C++ wrapper over the C ABI.
//
// RAII for returned strings, exceptions instead of status codes. It uses only the C ABI, so a
// host compiled with any C++17 compiler can use it against any ABI-compatible libarraykit.
#ifndef ARRAYKIT_ARRAYKIT_HPP_
#define ARRAYKIT_ARRAYKIT_HPP_

#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "arraykit/arraykit.h"

namespace arraykit {

// A failed call: the C status code, the stable reason word and the library's message for it.
class Error : public std::runtime_error {
 public:
  Error(ak_status code, const std::string& message, std::string reason = std::string())
      : std::runtime_error(message), code_(code), reason_(std::move(reason)) {}
  ak_status code() const noexcept { return code_; }
  // The stable snake_case reason ("unknown_field", "name_mismatch", ...): branch on this.
  const std::string& reason() const noexcept { return reason_; }
  // The canonical description of code(), e.g. "invalid argument".
  const char* code_name() const noexcept { return ak_strerror(code_); }

 private:
  ak_status code_;
  std::string reason_;
};

namespace detail {

struct FreeDeleter {
  void operator()(char* p) const noexcept { ak_free(p); }
};
using OwnedString = std::unique_ptr<char, FreeDeleter>;

inline void Check(ak_status code) {
  if (code != AK_OK) throw Error(code, ak_last_error(), ak_last_error_reason());
}

// Calls a C function of the form f(char** out, args...) and returns the string it produced.
template <typename Fn, typename... Args>
std::string CallForString(Fn fn, Args&&... args) {
  char* raw = nullptr;
  ak_status code = fn(&raw, std::forward<Args>(args)...);
  OwnedString owned(raw);
  Check(code);
  return owned ? std::string(owned.get()) : std::string();
}

inline ak_json_options JsonOptions(int indent) {
  ak_json_options opts = AK_JSON_OPTIONS_INIT;
  opts.indent = indent;
  return opts;
}

}  // namespace detail

inline std::string version() { return ak_version_string(); }

// True when the loaded library implements the ABI this header was written for.
inline bool abi_compatible() { return ak_abi_version() == AK_ABI_VERSION; }

namespace placement {

// Each returns a JSON document (see include/arraykit/placement.h). indent < 0: one line.
// A refused document throws arraykit::Error; branch on reason() ("unknown_field", "not_found",
// ...), never on the message.
inline std::string check(const std::string& array_json, int indent = -1) {
  ak_json_options opts = detail::JsonOptions(indent);
  return detail::CallForString(ak_placement_check, array_json.c_str(), &opts);
}

inline std::string plan(const std::string& inventory_json, int indent = -1) {
  ak_json_options opts = detail::JsonOptions(indent);
  return detail::CallForString(ak_placement_plan, inventory_json.c_str(), &opts);
}

inline std::string plan_change(const std::string& array_json, const std::string& change_json,
                               int indent = -1) {
  ak_json_options opts = detail::JsonOptions(indent);
  return detail::CallForString(ak_placement_plan_change, array_json.c_str(),
                               change_json.c_str(), &opts);
}

}  // namespace placement

// The array's PKI (include/arraykit/pki.h). Documents are JSON text; indent < 0: one line.
namespace pki {

// A private key (PKCS#8 PEM) returned by the library. Move-only; destruction wipes and releases
// it with ak_free_secret(). Copying it into a std::string would leave copies nobody wipes, so
// read it through c_str() / size() where it is needed (e.g. to write the member's key file).
class SecretPem {
 public:
  SecretPem() noexcept = default;
  explicit SecretPem(char* owned) noexcept : data_(owned) {}
  SecretPem(SecretPem&& other) noexcept : data_(std::exchange(other.data_, nullptr)) {}
  SecretPem& operator=(SecretPem&& other) noexcept {
    if (this != &other) {
      reset();
      data_ = std::exchange(other.data_, nullptr);
    }
    return *this;
  }
  SecretPem(const SecretPem&) = delete;
  SecretPem& operator=(const SecretPem&) = delete;
  ~SecretPem() { reset(); }

  const char* c_str() const noexcept { return data_ != nullptr ? data_ : ""; }
  std::size_t size() const noexcept { return data_ != nullptr ? std::strlen(data_) : 0; }
  bool empty() const noexcept { return size() == 0; }
  // Wipes and releases the key now.
  void reset() noexcept {
    ak_free_secret(data_);
    data_ = nullptr;
  }

 private:
  char* data_ = nullptr;
};

// A result that comes with a new private key: the public part as JSON, the key on its own.
struct KeyedDocument {
  std::string json;  // ak_pki_ca_create: the CA certificate; ak_pki_request_create: the CSR
  SecretPem private_key_pem;
};

namespace detail {
template <typename Fn, typename... Args>
KeyedDocument CallForKeyed(Fn fn, Args&&... args) {
  char* raw_json = nullptr;
  char* raw_key = nullptr;
  ak_status code = fn(&raw_json, &raw_key, std::forward<Args>(args)...);
  arraykit::detail::OwnedString owned_json(raw_json);
  SecretPem key(raw_key);
  arraykit::detail::Check(code);
  return KeyedDocument{owned_json ? std::string(owned_json.get()) : std::string(), std::move(key)};
}
}  // namespace detail

// A new CA: json {"certificate_pem", "certificate"} and the CA key. options "" = defaults.
inline KeyedDocument create_ca(const std::string& options_json = "", int indent = -1) {
  ak_json_options opts = arraykit::detail::JsonOptions(indent);
  const char* options = options_json.empty() ? nullptr : options_json.c_str();
  return detail::CallForKeyed(ak_pki_ca_create, options, &opts);
}

// A member key and its CSR: json {"name", "key_type", "csr_pem"} and the member key.
inline KeyedDocument create_request(const std::string& request_json, int indent = -1) {
  ak_json_options opts = arraykit::detail::JsonOptions(indent);
  return detail::CallForKeyed(ak_pki_request_create, request_json.c_str(), &opts);
}

// The CA signs a CSR: {"certificate_pem", "certificate"}.
inline std::string sign_csr(const std::string& ca_certificate_pem, const char* ca_private_key_pem,
                            const std::string& csr_pem, const std::string& options_json,
                            int indent = -1) {
  ak_json_options opts = arraykit::detail::JsonOptions(indent);
  return arraykit::detail::CallForString(ak_pki_csr_sign, ca_certificate_pem.c_str(),
                                         ca_private_key_pem, csr_pem.c_str(),
                                         options_json.c_str(), &opts);
}
inline std::string sign_csr(const std::string& ca_certificate_pem, const SecretPem& ca_private_key,
                            const std::string& csr_pem, const std::string& options_json,
                            int indent = -1) {
  return sign_csr(ca_certificate_pem, ca_private_key.c_str(), csr_pem, options_json, indent);
}

// A loaded CA (ak_ca): the key is parsed once, for a primary that signs many CSRs. Move-only;
// sign() may be called from several threads at once.
class CertificateAuthority {
 public:
  CertificateAuthority(const std::string& ca_certificate_pem, const char* ca_private_key_pem) {
    arraykit::detail::Check(ak_ca_open(&handle_, ca_certificate_pem.c_str(), ca_private_key_pem));
  }
  CertificateAuthority(const std::string& ca_certificate_pem, const SecretPem& ca_private_key)
      : CertificateAuthority(ca_certificate_pem, ca_private_key.c_str()) {}
  CertificateAuthority(CertificateAuthority&& other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)) {}
  CertificateAuthority& operator=(CertificateAuthority&& other) noexcept {
    if (this != &other) {
      ak_ca_close(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  CertificateAuthority(const CertificateAuthority&) = delete;
  CertificateAuthority& operator=(const CertificateAuthority&) = delete;
  ~CertificateAuthority() { ak_ca_close(handle_); }

  // As sign_csr(): {"certificate_pem", "certificate"}.
  std::string sign(const std::string& csr_pem, const std::string& options_json,
                   int indent = -1) const {
    ak_json_options opts = arraykit::detail::JsonOptions(indent);
    return arraykit::detail::CallForString(
        [this](char** out, const char* csr, const char* options, const ak_json_options* o) {
          return ak_ca_sign_csr(out, handle_, csr, options, o);
        },
        csr_pem.c_str(), options_json.c_str(), &opts);
  }
  // {"certificate_pem", "certificate"} of the CA itself.
  std::string certificate(int indent = -1) const {
    ak_json_options opts = arraykit::detail::JsonOptions(indent);
    return arraykit::detail::CallForString(
        [this](char** out, const ak_json_options* o) { return ak_ca_certificate(out, handle_, o); },
        &opts);
  }

 private:
  ak_ca* handle_ = nullptr;
};

// The PEM text of exactly one certificate given as DER bytes (or PEM): how a DER file reaches
// the calls that take PEM. Trailing bytes or a second certificate: Error, reason "malformed".
inline std::string certificate_pem(const std::string& der) {
  return arraykit::detail::CallForString(ak_pki_certificate_pem, static_cast<const void*>(der.data()),
                                         der.size());
}

inline std::string inspect_certificate(const std::string& certificate_pem, int indent = -1) {
  ak_json_options opts = arraykit::detail::JsonOptions(indent);
  return arraykit::detail::CallForString(ak_pki_certificate_inspect, certificate_pem.c_str(),
                                         &opts);
}

inline std::string inspect_truststore(const std::string& ca_certificates_pem, int indent = -1) {
  ak_json_options opts = arraykit::detail::JsonOptions(indent);
  return arraykit::detail::CallForString(ak_pki_truststore_inspect, ca_certificates_pem.c_str(),
                                         &opts);
}

// {"valid", "reason", "message"}; a rejected certificate is a result, not an exception.
inline std::string verify(const std::string& certificate_pem, const std::string& trusted_ca_pem,
                          const std::string& options_json, int indent = -1) {
  ak_json_options opts = arraykit::detail::JsonOptions(indent);
  return arraykit::detail::CallForString(ak_pki_verify, certificate_pem.c_str(),
                                         trusted_ca_pem.c_str(), options_json.c_str(), &opts);
}

inline std::string plan(const std::string& array_json, const std::string& operation_json,
                        int indent = -1) {
  ak_json_options opts = arraykit::detail::JsonOptions(indent);
  return arraykit::detail::CallForString(ak_pki_plan, array_json.c_str(), operation_json.c_str(),
                                         &opts);
}

// request "" = the default policy.
inline std::string tls_policy(const std::string& request_json = "", int indent = -1) {
  ak_json_options opts = arraykit::detail::JsonOptions(indent);
  return arraykit::detail::CallForString(
      ak_pki_tls_policy, request_json.empty() ? nullptr : request_json.c_str(), &opts);
}

}  // namespace pki
}  // namespace arraykit

namespace arraykit {

// Runs a failover scenario in virtual time (include/arraykit/simulate.h); returns the result
// document. Deterministic: the same scenario gives the same text. indent < 0: one line.
// max_steps bounds the run (member ticks plus message deliveries; 0 = the library's bound);
// a run that needs more throws arraykit::Error with reason "step_limit".
inline std::string simulate(const std::string& scenario_json, int indent = -1,
                            unsigned long long max_steps = 0) {
  ak_simulate_options opts = AK_SIMULATE_OPTIONS_INIT;
  opts.indent = indent;
  opts.max_steps = max_steps;
  return detail::CallForString(ak_simulate, scenario_json.c_str(), &opts);
}

// The timeline and final formation of a simulate() result as plain-text tables.
inline std::string render_simulation(const std::string& result_json) {
  return detail::CallForString(ak_simulate_render, result_json.c_str());
}

}  // namespace arraykit

// ---- the node and the in-memory network (arraykit/node.h, docs/node.md) --------------------
namespace arraykit {

// An in-process network (ak_network). Move-only; thread-safe.
class Network {
 public:
  explicit Network(unsigned long long seed = 1) { detail::Check(ak_network_new(&handle_, seed)); }
  Network(Network&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Network& operator=(Network&& other) noexcept {
    if (this != &other) {
      ak_network_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;
  ~Network() { ak_network_free(handle_); }

  // {"from", "to", "delay_ms", "jitter_ms", "loss", "duplicate", "reorder", "reorder_window_ms"}
  void set_link(const std::string& link_json) {
    detail::Check(ak_network_set_link(handle_, link_json.c_str()));
  }
  // [["a.example.com", "b.example.com"], ["c.example.com"]]
  void partition(const std::string& groups_json) {
    detail::Check(ak_network_partition(handle_, groups_json.c_str()));
  }
  void isolate(const std::string& name) { detail::Check(ak_network_isolate(handle_, name.c_str())); }
  void heal() { detail::Check(ak_network_heal(handle_)); }
  ak_network* get() const noexcept { return handle_; }

 private:
  ak_network* handle_ = nullptr;
};

// One array member (ak_node). Move-only; every call is thread-safe. The event handler runs on
// the node's dispatcher thread (it may call the node, but not close it).
class Node {
 public:
  using EventHandler = std::function<void(const std::string& event_json)>;

  Node(const std::string& name, const std::string& data_dir, const Network& network,
       const std::string& member_json = std::string(), EventHandler on_event = EventHandler(),
       unsigned int call_timeout_ms = 0)
      : handler_(on_event ? new EventHandler(std::move(on_event)) : nullptr) {
    ak_node_options opts = AK_NODE_OPTIONS_INIT;
    opts.name = name.c_str();
    opts.data_dir = data_dir.c_str();
    opts.member_json = member_json.empty() ? nullptr : member_json.c_str();
    opts.network = network.get();
    if (handler_) {
      opts.on_event = &Node::Deliver;
      opts.user = handler_.get();
    }
    opts.call_timeout_ms = call_timeout_ms;
    detail::Check(ak_node_open(&handle_, &opts));
  }
  // A member running elsewhere (arrayd, or a host serving the Admin API), by its data
  // directory or admin socket: every call goes over the socket; close() leaves it running.
  // Error with reason "not_contactable" when nothing listens there.
  static Node connect(const std::string& node_path) {
    ak_node* handle = nullptr;
    detail::Check(ak_node_connect(&handle, node_path.c_str()));
    return Node(handle);
  }
  Node(Node&& other) noexcept
      : handler_(std::move(other.handler_)), handle_(std::exchange(other.handle_, nullptr)) {}
  Node& operator=(Node&& other) noexcept {
    if (this != &other) {
      ak_node_close(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
      handler_ = std::move(other.handler_);
    }
    return *this;
  }
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node() { ak_node_close(handle_); }

  // Stops the member; a later Node on the same data_dir restarts it. Idempotent.
  void close() {
    if (handle_ == nullptr) return;
    detail::Check(ak_node_close(handle_));
    handle_ = nullptr;
  }
  void create_array(const std::string& description_json) {
    detail::Check(ak_node_create_array(handle_, description_json.c_str()));
  }
  // Returns the position {"epoch", "index"}. options_json: "" or {"wait": "primary" | "all"}.
  std::string put(const std::string& category, const std::string& key,
                  const std::string& value_json, const std::string& options_json = std::string()) {
    return detail::CallForString(
        [this](char** out, const char* c, const char* k, const char* v, const char* o) {
          return ak_node_put(out, handle_, c, k, v, o);
        },
        category.c_str(), key.c_str(), value_json.c_str(),
        options_json.empty() ? nullptr : options_json.c_str());
  }
  std::string remove(const std::string& category, const std::string& key,
                     const std::string& options_json = std::string()) {
    return detail::CallForString(
        [this](char** out, const char* c, const char* k, const char* o) {
          return ak_node_delete(out, handle_, c, k, o);
        },
        category.c_str(), key.c_str(), options_json.empty() ? nullptr : options_json.c_str());
  }
  // The value (JSON); Error with code AK_NOT_FOUND when absent.
  std::string get(const std::string& category, const std::string& key) const {
    return detail::CallForString(
        [this](char** out, const char* c, const char* k) {
          return ak_node_get(out, handle_, c, k);
        },
        category.c_str(), key.c_str());
  }
  // This member's applied entries of `category`: {key: value, ...}.
  std::string list(const std::string& category) const {
    return detail::CallForString(
        [this](char** out, const char* c) { return ak_node_list(out, handle_, c); },
        category.c_str());
  }
  std::string wait_synced(unsigned int timeout_ms) {
    return detail::CallForString(
        [this](char** out, unsigned int t) { return ak_node_wait_synced(out, handle_, t); },
        timeout_ms);
  }
  std::string status() const {
    return detail::CallForString([this](char** out) { return ak_node_status(out, handle_); });
  }
  // Array operations (docs/operations-core.md).
  void detach(const std::string& name) { detail::Check(ak_node_detach(handle_, name.c_str())); }
  void make_primary(const std::string& name) {
    detail::Check(ak_node_make_primary(handle_, name.c_str()));
  }
  // JSON array of names, highest priority first.
  std::string backup_primaries() const {
    return detail::CallForString(
        [this](char** out) { return ak_node_backup_primaries(out, handle_); });
  }
  void add_backup_primary(const std::string& name, unsigned int position = 0) {
    detail::Check(ak_node_add_backup_primary(handle_, name.c_str(), position));
  }
  void edit_backup_primary(const std::string& name, unsigned int position) {
    detail::Check(ak_node_edit_backup_primary(handle_, name.c_str(), position));
  }
  void remove_backup_primary(const std::string& name) {
    detail::Check(ak_node_remove_backup_primary(handle_, name.c_str()));
  }
  void clean(bool contact_members = false) {
    detail::Check(ak_node_clean(handle_, contact_members ? 1 : 0));
  }
  void config_edit(const std::string& edit_json) {
    detail::Check(ak_node_config_edit(handle_, edit_json.c_str()));
  }
  // The events posted since the last call, as a JSON array.
  std::string events() {
    return detail::CallForString([this](char** out) { return ak_node_events(out, handle_); });
  }
  // Join (docs/node.md "Join"). On the standalone joiner: a one-time token valid for ttl_s
  // seconds (0: 600), and the fingerprint of the CA it presents.
  std::string join_token(unsigned int ttl_s = 0) {
    return detail::CallForString(
        [this](char** out, unsigned int t) { return ak_node_join_token(out, handle_, t); },
        ttl_s);
  }
  std::string ca_fingerprint() const {
    return detail::CallForString(
        [this](char** out) { return ak_node_ca_fingerprint(out, handle_); });
  }
  // On the primary. options_json: "" or {"timeout_s": 30}. Returns {"joined", "epoch",
  // "members", "warnings"}.
  std::string join(const std::string& joiner, const std::string& fingerprint,
                   const std::string& token, const std::string& options_json = std::string()) {
    return detail::CallForString(
        [this](char** out, const char* j, const char* f, const char* t, const char* o) {
          return ak_node_join(out, handle_, j, f, t, o);
        },
        joiner.c_str(), fingerprint.c_str(), token.c_str(),
        options_json.empty() ? nullptr : options_json.c_str());
  }
  // Resource files (docs/resources.md): the daily sync's options document; one sync now (its
  // report, JSON).
  void configure_resources(const std::string& options_json) {
    detail::Check(ak_node_configure_resources(handle_, options_json.c_str()));
  }
  std::string sync_resources() {
    return detail::CallForString(
        [this](char** out) { return ak_node_sync_resources(out, handle_); });
  }
  // Serves this member's Admin API on a Unix socket (mode 0600; "": DATA_DIR/admin.sock) until
  // close(), for arrayctl --node and Node::connect.
  void serve_admin(const std::string& socket_path = std::string()) {
    detail::Check(
        ak_node_serve_admin(handle_, socket_path.empty() ? nullptr : socket_path.c_str()));
  }
  ak_node* get() const noexcept { return handle_; }

 private:
  explicit Node(ak_node* handle) noexcept : handle_(handle) {}

  static void Deliver(void* user, const char* event_json) {
    try {
      (*static_cast<EventHandler*>(user))(event_json);
    } catch (...) {
      // An exception must not cross the C boundary; a handler reports its own failures.
    }
  }

  std::unique_ptr<EventHandler> handler_;  // outlives the node: destroyed after the close
  ak_node* handle_ = nullptr;
};

}  // namespace arraykit

#endif  // ARRAYKIT_ARRAYKIT_HPP_
