/*
 * arraykit C ABI — the node: one array member running inside the host process (its store, its
 * failover machine and replicator, a transport), and the in-memory network that joins members
 * of one process. Included by arraykit/arraykit.h; do not include directly. Documents and
 * threads: docs/node.md.
 */
#ifndef ARRAYKIT_NODE_H_
#define ARRAYKIT_NODE_H_

#ifndef ARRAYKIT_ARRAYKIT_H_
#error "include <arraykit/arraykit.h> instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the in-memory network ------------------------------------------------------------- */

/* An in-process network for members of one process (tests, examples): a delivery thread with
 * per-link delay, jitter, loss, duplication and reordering, and partitions. Thread-safe. */
typedef struct ak_network ak_network;

/* Creates a network whose random faults come from `seed` (the same seed and the same sends
 * from one thread give the same faults). */
AK_API ak_status ak_network_new(ak_network **out, unsigned long long seed);

/* Releases the caller's reference; nodes opened on it keep it alive until they close.
 * ak_network_free(NULL) is a no-op. */
AK_API void ak_network_free(ak_network *network);

/* Sets link faults: {"from": NAME, "to": NAME, "delay_ms": 0, "jitter_ms": 0, "loss": 0,
 * "duplicate": 0, "reorder": 0, "reorder_window_ms": 5}. Without "from" and "to" it sets the
 * default of every link; with both, the one directed link. Absent fields are 0 (window 5).
 * Strict: unknown fields are AK_INVALID_ARGUMENT (unknown_field). */
AK_API ak_status ak_network_set_link(ak_network *network, const char *link_json);

/* Partitions the network: `groups_json` is [["a.example.com", "b.example.com"], ["c..."]];
 * members talk only within their group (members in no group form one more group). */
AK_API ak_status ak_network_partition(ak_network *network, const char *groups_json);

/* Cuts member `name` off from every other member. */
AK_API ak_status ak_network_isolate(ak_network *network, const char *name);

/* Undoes every partition and isolation (link faults stay). */
AK_API ak_status ak_network_heal(ak_network *network);

/* ---- the node -------------------------------------------------------------------------- */

typedef struct ak_node ak_node;

/* Receives one event document: {"event": "promoted", "member": NAME, "reason": "...",
 * "epoch": N, "at": RFC 3339 time} (the words of the simulator's timeline; "code" on refused
 * operator actions). Called on the node's dispatcher thread, one event at a time, in order,
 * never while arraykit holds a lock: the callback may call any ak_node_* function except
 * ak_node_close of its own node (refused: AK_FAILED_PRECONDITION, reason "in_callback").
 * `event_json` is valid only during the call. */
typedef void (*ak_event_fn)(void *user, const char *event_json);

/* Options of ak_node_open. Versions 1..AK_NODE_OPTIONS_VERSION are accepted.
 *   name            this member's peer DNS name (required, fully qualified)
 *   data_dir        its store (required); a later open of the same directory restarts it
 *   member_json     this member's DESIGN §3 fields {"roles": [...], "rack": ..., "power": ...,
 *                   "address": ..., "address_static": ..., "version": ...}; NULL: the stored
 *                   ones (or none at a first start). Strict.
 *   network         the network to attach to (required); the node keeps a reference
 *   on_event, user  event callback (may be NULL) and its payload
 *   call_timeout_ms how long put/get/status/create wait for the node's loop; 0: 10000 */
#define AK_NODE_OPTIONS_VERSION 1

typedef struct ak_node_options {
  unsigned int version; /* AK_NODE_OPTIONS_VERSION */
  const char *name;
  const char *data_dir;
  const char *member_json;
  ak_network *network;
  ak_event_fn on_event;
  void *user;
  unsigned int call_timeout_ms;
} ak_node_options;

#define AK_NODE_OPTIONS_INIT {AK_NODE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, 0}

/* Fills `opts` with the defaults of `version` (1..AK_NODE_OPTIONS_VERSION). */
AK_API ak_status ak_node_options_init(ak_node_options *opts, unsigned int version);

/* Starts the member: loads its store (a first start makes it standalone: the writable primary
 * of a one-member array), attaches it to the network and starts its threads.
 * Refusals: AK_INVALID_ARGUMENT (missing or malformed options; "name_not_fqdn",
 * "unknown_field", "name_mismatch" when member_json names another member),
 * AK_FAILED_PRECONDITION "busy" (another node has data_dir open), "name_mismatch" (data_dir
 * belongs to another member), AK_ALREADY_EXISTS "already_attached" (the name is already on the
 * network). */
AK_API ak_status ak_node_open(ak_node **out, const ak_node_options *opts);

/* Stops the member (everything acknowledged is durable), delivers the events already posted
 * and frees the handle. ak_node_close(NULL) is a no-op. From the node's own callback:
 * AK_FAILED_PRECONDITION ("in_callback"), and the handle stays valid. */
AK_API ak_status ak_node_close(ak_node *node);

/* Makes this member part of the configured array `description_json` (the DESIGN §3 array
 * description; every member of the array is given the same description). Refusals:
 * AK_INVALID_ARGUMENT (the document; "not_a_member"), AK_FAILED_PRECONDITION
 * ("placement_errors"), AK_ALREADY_EXISTS ("already_in_array"). */
AK_API ak_status ak_node_create_array(ak_node *node, const char *description_json);

/* Writes `value_json` (any JSON value) at (category, key) and returns its position
 * {"epoch": E, "index": I} once acknowledged. options_json: NULL or {"wait": "primary" | "all"}
 * ("primary": durable on the primary — in quorum mode on a majority of voters; "all": applied
 * by every contactable member). AK_ENOTPRIMARY ("not_primary", the message names the primary)
 * on a member that is not the writable primary; AK_DEADLINE_EXCEEDED when not acknowledged
 * within the call timeout. out_position may be NULL. */
AK_API ak_status ak_node_put(char **out_position, ak_node *node, const char *category,
                             const char *key, const char *value_json, const char *options_json);

/* Deletes (category, key); as ak_node_put. */
AK_API ak_status ak_node_delete(char **out_position, ak_node *node, const char *category,
                                const char *key, const char *options_json);

/* This member's applied value (compact JSON); AK_NOT_FOUND when absent or deleted. */
AK_API ak_status ak_node_get(char **out_value_json, ak_node *node, const char *category,
                             const char *key);

/* Waits until every contactable member applied the primary's last position (returned as in
 * ak_node_put; out_position may be NULL). AK_DEADLINE_EXCEEDED after timeout_ms;
 * AK_ENOTPRIMARY on a secondary. */
AK_API ak_status ak_node_wait_synced(char **out_position, ak_node *node,
                                     unsigned int timeout_ms);

/* ---- array operations (docs/operations-core.md) ---------------------------------------
 * On the primary (AK_ENOTPRIMARY "not_primary" elsewhere, naming the primary), never during a
 * failover or recovery (AK_EBUSY "busy"); a refusal changes nothing and has its reason word. */

/* Detaches member `name` (it becomes standalone: it wipes the array's credentials and makes a
 * CA of its own); its certificate's serial is recorded as revoked. Refusals: "not_a_member",
 * "detach_primary" (make another member primary first), "last_voter". */
AK_API ak_status ak_node_detach(ak_node *node, const char *name);

/* Makes member `name` the primary (epoch + 1; this member becomes a secondary), once it holds
 * the primary's whole log (it waits as ak_node_wait_synced). Refusals: "not_a_member",
 * "already_primary", "not_contactable", AK_UNAVAILABLE "not_synchronized" (still behind at the
 * call timeout). */
AK_API ak_status ak_node_make_primary(ak_node *node, const char *name);

/* The backup primaries list as a JSON array of names, highest priority first (any member). */
AK_API ak_status ak_node_backup_primaries(char **out_list, ak_node *node);

/* Adds `name` at `position` (from 1; 0 = the end). Refusals: "not_a_member", "is_primary",
 * "already_listed", "invalid_position". */
AK_API ak_status ak_node_add_backup_primary(ak_node *node, const char *name,
                                            unsigned int position);

/* Moves `name` to `position` (from 1). Refusals: "not_a_member", "not_listed",
 * "invalid_position". */
AK_API ak_status ak_node_edit_backup_primary(ak_node *node, const char *name,
                                             unsigned int position);

/* Removes `name` from the list. Refusals: "not_a_member", "not_listed". */
AK_API ak_status ak_node_remove_backup_primary(ak_node *node, const char *name);

/* clean (contact_members 0): this member becomes standalone; clean --contactmembers (1): it
 * stays with the contactable members that report the same membership. Allowed during a
 * failover (it is the manual recovery). */
AK_API ak_status ak_node_clean(ak_node *node, int contact_members);

/* config edit with the seed's attribute names: {"array-monitortime": 60,
 * "array-failoverenabled": true, "array-primaryreturnaction": "accept", ...}. Refusals:
 * "unknown_field" (naming the nearest attribute), "duplicate_attribute", "invalid_value",
 * "out_of_range", "no_voters". */
AK_API ak_status ak_node_config_edit(ak_node *node, const char *edit_json);

/* ---- join (docs/node.md "Join") -------------------------------------------------------
 * The operator makes a token on the standalone member that is to join and reads its CA
 * fingerprint there, then runs join on the primary with both. The primary sends nothing to a
 * member presenting another CA (the pin); the joiner admits only a primary holding a token it
 * issued. Its key never leaves it (it sends a CSR); at admission it trusts the array's CA,
 * takes the certificate the primary's CA signed and the array's repository in place of its
 * own. */

/* On the joiner: a one-time token "AKJT-..." valid for ttl_s seconds (1..86400; 0: 600).
 * Tokens are kept in memory only: closing the node invalidates the outstanding ones.
 * Refusals: AK_INVALID_ARGUMENT "invalid_ttl", AK_RESOURCE_EXHAUSTED "too_many_tokens" (32
 * outstanding). */
AK_API ak_status ak_node_join_token(char **out_token, ak_node *node, unsigned int ttl_s);

/* The SHA-256 fingerprint ("AB:CD:...", 32 bytes) of the CA this member presents: its own CA
 * while standalone, its array's CA once joined. */
AK_API ak_status ak_node_ca_fingerprint(char **out_fingerprint, ak_node *node);

/* On the primary: admits the standalone member `joiner` whose CA has `fingerprint` (any case,
 * with or without colons), with the `token` made on it. Blocks until the joiner confirmed, one
 * side refused, or the timeout passed. options_json: NULL or {"timeout_s": 30} (0 < s <= 3600).
 * *out_result (may be NULL): {"joined": NAME, "epoch": E, "members": [...], "warnings":
 * [{"code", "message"}]} (placement warnings of the new array).
 * Refusals, nothing written on either side: AK_ENOTPRIMARY "not_primary", AK_EBUSY "busy"
 * (another join or a failover is under way), AK_INVALID_ARGUMENT "name_not_fqdn",
 * "invalid_fingerprint", "invalid_value", AK_ALREADY_EXISTS "name_taken",
 * AK_FAILED_PRECONDITION "array_full", "joiner_not_standalone", "placement_errors",
 * "no_ca_key" (this primary does not hold its array's CA key), AK_EFINGERPRINT
 * "fingerprint_mismatch" (the joiner presented another CA; the message names it),
 * AK_UNAVAILABLE "not_contactable", AK_EVERSION "version_mismatch", AK_ECLOCKSKEW
 * "clock_skew", AK_PERMISSION_DENIED "token_invalid", "token_expired", "name_mismatch".
 * AK_DEADLINE_EXCEEDED when the joiner did not answer in time: if the admission reached it,
 * it joined (status on both shows it); otherwise detach it on the primary (docs/node.md). */
AK_API ak_status ak_node_join(char **out_result, ak_node *node, const char *joiner,
                              const char *fingerprint, const char *token,
                              const char *options_json);

/* The status document (docs/node.md): role, stage, primary, members with applied position and
 * lag (the primary's view), epoch, repaired, original formation, writable, conflicts, this
 * member's log and applied positions. */
AK_API ak_status ak_node_status(char **out_status, ak_node *node);

/* The events posted since the last call, as a JSON array of event documents (oldest first;
 * the node keeps at most 10,000). */
AK_API ak_status ak_node_events(char **out_events, ak_node *node);

/* Resource files (docs/resources.md): starts (or replaces) the daily sync of this member's
 * resource directory. options_json: {"directory": "...", "sync_at": "HH:MM", "zone":
 * "Europe/Berlin" (optional; the process's local zone), "state_file": "..." (optional;
 * DATA_DIR/resources-state.json)}. Refusals: "unknown_field", "invalid_value", "invalid_time",
 * "duplicate_key", "invalid_json". Each sync posts "resources_synced" (or
 * "resources_sync_failed") and "resource_overwritten" events; ak_node_close stops it first. */
AK_API ak_status ak_node_configure_resources(ak_node *node, const char *options_json);

/* Runs one resource-file sync now; *out_report_json: its report (docs/resources.md), free
 * with ak_free. Refusals: "not_configured" (no ak_node_configure_resources yet),
 * "not_writable" (a primary that is not writable). */
AK_API ak_status ak_node_sync_resources(char **out_report_json, ak_node *node);

/* ---- the Admin API: a member running elsewhere (docs/transport.md "Admin API") ---------- */

/* A handle on a member running in another process (arrayd, or any host serving the Admin
 * API): `node_path` is its data directory (DATA_DIR/admin.sock is used) or its admin socket.
 * Every ak_node_* call on the handle then goes to that member over the socket, with the same
 * answers and refusals (codes and reason words) as on a local handle; each call's deadline is
 * the member's default call timeout (10 s) plus 2 s (wait_synced and join: their own timeout
 * plus 2 s). Calls that only the hosting process can make (ak_node_configure_resources,
 * ak_node_sync_resources, ak_node_serve_admin) are refused with AK_FAILED_PRECONDITION
 * "remote_node". ak_node_close frees the handle and leaves the member running.
 * Refusals: AK_UNAVAILABLE "not_contactable" (nothing listens there; the message names the
 * socket: "no arrayd is listening on /var/lib/app/a/admin.sock: ..."), AK_INVALID_ARGUMENT
 * "invalid_value" (a socket path longer than 107 bytes), AK_UNIMPLEMENTED
 * "built_without_grpc". A member that stops later makes each call fail with
 * "not_contactable". */
AK_API ak_status ak_node_connect(ak_node **out, const char *node_path);

/* Serves the Admin API of this (local) member on the Unix socket `socket_path` (NULL:
 * DATA_DIR/admin.sock) until ak_node_close, so arrayctl --node and ak_node_connect reach it.
 * The socket is mode 0600: whoever can open it administers the member. A socket left by a
 * stopped process is replaced. Refusals: AK_FAILED_PRECONDITION "not_a_socket" (the path is
 * something else; it is left alone), "remote_node"; AK_ALREADY_EXISTS "socket_in_use" (a live
 * server answers there), "already_serving" (this handle serves already); AK_UNAVAILABLE
 * "listen_failed"; AK_INVALID_ARGUMENT "invalid_value" (a path too long for a socket). */
AK_API ak_status ak_node_serve_admin(ak_node *node, const char *socket_path);

/* This member's applied entries of `category` as a JSON object {key: value, ...} (deleted keys
 * left out; {} when none). Any member, local or remote. AK_INVALID_ARGUMENT
 * "unknown_category" when `category` is not one of the repository's categories ("sessions",
 * "global_configuration", ... docs/replication.md). */
AK_API ak_status ak_node_list(char **out_entries, ak_node *node, const char *category);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ARRAYKIT_NODE_H_ */
