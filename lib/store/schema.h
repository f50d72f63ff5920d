// The store's schema and its migrations. A database records its schema version in the meta
// table; opening runs every migration step from that version up to kSchemaVersion, each step in
// its own transaction together with the version it reaches, so a crash between steps leaves a
// database at a known version that the next open continues from.
//
// History (never rewrite a released step; add one):
//   0 → 1  the first layout (an empty file becomes a store): the layout of commit 6f1607e, the
//          branch's first increment, which the node runtime started building on.
//   1 → 2  certificates.renewal_at: when the member renews the certificate, so status and the
//          renewal timer read it without parsing DER. Existing rows get DESIGN §6's rule, two
//          thirds of the validity period (pki::RenewalTime, whole seconds).
#ifndef ARRAYKIT_STORE_SCHEMA_H_
#define ARRAYKIT_STORE_SCHEMA_H_

#include "absl/status/statusor.h"
#include "store/sqlite_util.h"

namespace arraykit::store {

// The version of `db` (0 for an empty database). DATA_LOSS `corrupt_state` for a database that
// is not an arraykit store; FAILED_PRECONDITION `schema_too_new` for one from a newer arraykit.
absl::StatusOr<int> ReadSchemaVersion(Database& db);

// Migrates `db` to kSchemaVersion; returns the version reached.
absl::StatusOr<int> MigrateToCurrent(Database& db);

// Migrates `db` up to `target` (at most kSchemaVersion) only: for tests that build a database
// as an older arraykit left it, with that version's real steps.
absl::StatusOr<int> MigrateTo(Database& db, int target);

}  // namespace arraykit::store

#endif  // ARRAYKIT_STORE_SCHEMA_H_
