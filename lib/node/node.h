// Node: one array member running inside a host process (DESIGN.md §10).
//
// Threads. One loop thread owns all core state: the failover machine and the replicator. It
// sleeps until the earlier of the machines' NextWakeup, an inbound message or a host request;
// then it ticks both machines with Clock{steady_clock, system_clock}, steps the messages and
// requests, and gathers the Ready of both into ONE store batch per iteration (HardState,
// replication, credentials). A store thread commits a batch while the loop steps the next, then
// releases what waited for it — messages, write answers, events — in order (docs/node.md "The
// loop"). Host calls (Put, Get, Status, ...) post a request to the loop and block on its
// answer, with a timeout. Event callbacks run on a separate dispatcher thread, never under a
// lock of the node, so they may call back into the node (except to close it).
//
// Every host call is thread-safe.
#ifndef ARRAYKIT_NODE_NODE_H_
#define ARRAYKIT_NODE_NODE_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/replication/types.h"
#include "node/memory_network.h"
#include "node/operations.h"
#include "node/storage.h"
#include "node/transport.h"

namespace arraykit::node {

// Attaches a member name to a network: gives the transport the node sends through; inbound
// envelopes go to the receiver; the member presents `presented_ca_pem` (the CA certificate its
// own certificate chains to) to pinned senders (Transport::SendPinned).
using AttachFn = std::function<absl::StatusOr<std::unique_ptr<Transport>>(
    const std::string& name, Receiver receiver, const std::string& presented_ca_pem)>;
AttachFn AttachTo(std::shared_ptr<MemoryNetwork> network);

// Opens the storage of a data directory (the default: lib/store's SQLite store).
using OpenStorageFn =
    std::function<absl::StatusOr<std::unique_ptr<Storage>>(const std::string& data_dir)>;

struct NodeOptions {
  std::string name;      // this member's peer DNS name
  std::string data_dir;  // its store; a later Open of the same directory restarts the member
  // This member's DESIGN §3 fields: {"roles": [...], "rack": ..., "power": ..., "address": ...,
  // "address_static": ..., "version": ...}; a "name" field, if present, must equal `name`.
  // Strict (unknown fields refused). Empty: {} (no roles). On a restart the stored fields are
  // kept unless this is given.
  std::string member_json;
  AttachFn attach;                                  // required
  std::function<void(const std::string&)> on_event;  // event JSON; on the dispatcher thread
  OpenStorageFn open_storage;                       // empty: the default storage
  absl::Duration call_timeout = absl::Seconds(10);  // how long a host call waits for the loop
  // The wall clock for certificate validity and renewal, join tokens and hellos, the failback
  // window and event times; empty: absl::Now. Tests move it (the machines' intervals and host
  // call deadlines run on the monotonic clock and are not affected).
  std::function<absl::Time()> wall_clock;
};

class Node : public Operations {
 public:
  // Starts the member: loads its store (a first start makes it a standalone member, the
  // primary of a one-member array), attaches to the network, starts the loop and dispatcher.
  static absl::StatusOr<std::unique_ptr<Node>> Open(NodeOptions options);
  ~Node() override;  // closes
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Stops the loop after its current iteration (everything acknowledged is durable), delivers
  // the events already posted, detaches from the network. Idempotent. FAILED_PRECONDITION
  // (reason `in_callback`) when called from this node's own event callback.
  absl::Status Close();

  // Makes this member part of the configured array `description_json` (DESIGN §3): the
  // described primary becomes its primary (this member when it is named primary). Every member
  // of a configured array is given the same description. Refusals: INVALID_ARGUMENT (the
  // document; `not_a_member` when this member is not in it), FAILED_PRECONDITION
  // `placement_errors` (the description breaks a placement rule; the message lists them),
  // ALREADY_EXISTS `already_in_array` (this member already belongs to a multi-member array).
  absl::Status CreateArray(std::string_view description_json) override;

  // Writes value_json (any JSON) at (category, key) on the writable primary; answers the
  // write's position {"epoch": E, "index": I} once it is acknowledged (`wait`: durable on the
  // primary — in quorum mode on a majority of voters — or applied by every contactable member).
  // Not the primary: AK_ENOTPRIMARY (`not_primary`) naming the primary. Keys beginning with
  // "arraykit." are the node's own (members' descriptions): INVALID_ARGUMENT `reserved_key`.
  absl::StatusOr<std::string> Put(std::string_view category, std::string_view key,
                                   std::string_view value_json,
                                   replication::Wait wait = replication::Wait::kPrimary) override;
  absl::StatusOr<std::string> Delete(
      std::string_view category, std::string_view key,
      replication::Wait wait = replication::Wait::kPrimary) override;
  // Put and Delete without blocking (Operations): `done` runs on the thread that releases the
  // write (the loop or the store thread), or with DEADLINE_EXCEEDED on the loop once the call
  // timeout passed; on the caller's thread for a refusal made before the loop (a bad key or
  // value, a closed member, too many calls in flight).
  void PutAsync(std::string_view category, std::string_view key, std::string_view value_json,
                replication::Wait wait, AnswerFn done) override;
  void DeleteAsync(std::string_view category, std::string_view key, replication::Wait wait,
                   AnswerFn done) override;
  // This member's applied value (compact JSON); NOT_FOUND (`not_found`) when absent or deleted.
  absl::StatusOr<std::string> Get(std::string_view category, std::string_view key) override;
  // Returns once every contactable member applied the primary's last position (the position,
  // as Put's); DEADLINE_EXCEEDED after `timeout`. Only on the primary.
  absl::StatusOr<std::string> WaitSynced(absl::Duration timeout) override;
  // Array operations (docs/operations-core.md), on the loop thread, each refusal with its
  // reason and nothing changed: not_primary, busy, not_a_member, detach_primary, last_voter,
  // already_primary, not_contactable, is_primary, already_listed, not_listed,
  // invalid_position, and config edit's unknown_field, invalid_value, out_of_range, ...
  // Detach runs the PKI leave plan: remove_member, then the member's certificate serial is
  // recorded as revoked (docs/node.md). MakePrimary waits until synchronized first, then hands
  // over only if the target holds the whole log (`not_synchronized` at the call timeout).
  absl::Status Detach(std::string_view name) override;
  absl::Status MakePrimary(std::string_view name) override;
  // The backup primaries list as a JSON array of names, highest priority first (any member).
  absl::StatusOr<std::string> BackupPrimaries() override;
  // `position` counts from 1; 0 = the end of the list.
  absl::Status AddBackupPrimary(std::string_view name, std::size_t position = 0) override;
  absl::Status EditBackupPrimary(std::string_view name, std::size_t position) override;
  absl::Status RemoveBackupPrimary(std::string_view name) override;
  // clean [--contactmembers] (DESIGN §5.1 rule 7).
  absl::Status Clean(bool contact_members) override;
  // config edit with the seed's attribute names: {"array-monitortime": 60, ...}.
  absl::Status ConfigEdit(std::string_view edit_json) override;

  // Join (docs/node.md "Join"). On the standalone joiner: a one-time token valid for `ttl`
  // (1 s to 24 h; `invalid_ttl`), "AKJT-..."; tokens are kept in memory only, so a restart
  // invalidates the outstanding ones. At most 32 outstanding (`too_many_tokens`).
  absl::StatusOr<std::string> JoinToken(absl::Duration ttl) override;
  // The SHA-256 fingerprint of the CA this member presents ("AB:CD:..."): what the operator
  // confirms on the primary.
  absl::StatusOr<std::string> CaFingerprint() override;
  // On the primary: admits the standalone member `joiner` whose CA has `fingerprint` with its
  // `token`. Blocks until the joiner confirmed its admission, refused, or `timeout` passed.
  // Answers {"joined": NAME, "epoch": E, "members": [...], "warnings": [{"code", "message"}]}.
  // Refusals (nothing written on either side): not_primary, busy, name_not_fqdn, name_taken,
  // array_full, invalid_fingerprint, fingerprint_mismatch, not_contactable, no_ca_key,
  // joiner_not_standalone, version_mismatch, clock_skew, token_invalid, token_expired,
  // placement_errors, name_mismatch. DEADLINE_EXCEEDED when the joiner does not answer in time
  // (see docs/node.md for what may then have happened).
  absl::StatusOr<std::string> Join(std::string_view joiner, std::string_view fingerprint,
                                   std::string_view token, absl::Duration timeout) override;

  // The status document (docs/node.md).
  absl::StatusOr<std::string> Status() override;
  // The events posted since the last call (oldest first; at most kMaxKeptEvents are kept).
  std::vector<std::string> TakeEvents();
  absl::StatusOr<std::vector<std::string>> Events() override { return TakeEvents(); }

  static constexpr std::size_t kMaxKeptEvents = 10000;

  const std::string& name() const;

  // This member's applied entries of `category` as a JSON object {key: value, ...} (deleted
  // keys left out; {} when none). Any member. INVALID_ARGUMENT `unknown_category`.
  absl::StatusOr<std::string> List(std::string_view category) override;

  // Resource files (docs/resources.md; lib/node/resource_scheduler.h). Starts (or replaces) the
  // daily sync of this member's resource directory: {"directory": "...", "sync_at": "HH:MM",
  // "zone": "Europe/Berlin" (optional; the process's local zone), "state_file": "..." (optional;
  // DATA_DIR/resources-state.json)}. Strict: `unknown_field`, `invalid_value`, `invalid_time`.
  // Each sync posts `resources_synced` (or `resources_sync_failed`) and `resource_overwritten`
  // events. Close stops it before the loop stops.
  absl::Status ConfigureResources(std::string_view options_json);
  // Runs one sync now and answers its report (docs/resources.md); FAILED_PRECONDITION
  // `not_configured` before ConfigureResources, and ResourceSync's refusals (`not_writable`).
  absl::StatusOr<std::string> SyncResources();

 private:
  class Impl;
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  class ResourceHost;  // lib/node/resource_scheduler.h
  std::unique_ptr<ResourceHost> resources_;
};

// Options for Put and Delete as a JSON document: {"wait": "primary" | "all"} (strict; another
// word is `invalid_value`).
absl::StatusOr<replication::Wait> WaitFromOptionsJson(std::string_view options_json);

// Options for Join as a JSON document: {"timeout_s": seconds in (0, 3600]} (strict; "" or no
// field: kDefaultJoinTimeout).
inline constexpr absl::Duration kDefaultJoinTimeout = absl::Seconds(30);
absl::StatusOr<absl::Duration> JoinTimeoutFromOptionsJson(std::string_view options_json);

}  // namespace arraykit::node

#endif  // ARRAYKIT_NODE_NODE_H_
