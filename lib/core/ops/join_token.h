// One-time join tokens (DESIGN.md §10 "Array operations"; docs/operations-core.md "Join tokens").
//
// The operator makes a token on the member that is to join (`arrayctl security join-token`),
// reads it there together with that member's CA fingerprint, and types both into the join
// command on the primary. The primary hands the token to the joiner in its hello; the joiner
// admits only a primary that holds a token it issued, unexpired and unused. Possession of the
// token is how the joiner authenticates the primary; the fingerprint pin is how the primary
// authenticates the joiner.
//
// The joiner keeps only the SHA-256 of each token (never the token itself), with its issue and
// expiry times and whether it was used. Pure: the random bytes and the time come in as
// arguments; nothing here reads a clock or an RNG.
#ifndef ARRAYKIT_CORE_OPS_JOIN_TOKEN_H_
#define ARRAYKIT_CORE_OPS_JOIN_TOKEN_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace arraykit::ops {

// "AKJT-" followed by the random bytes in RFC 4648 base32 (upper case, no padding).
inline constexpr std::string_view kJoinTokenPrefix = "AKJT-";
// At least 128 bits of randomness; the host's CSPRNG supplies them (RAND_bytes, getrandom).
inline constexpr std::size_t kJoinTokenMinRandomBytes = 16;
inline constexpr std::size_t kJoinTokenMaxRandomBytes = 64;
inline constexpr absl::Duration kDefaultJoinTokenTtl = absl::Minutes(10);
inline constexpr absl::Duration kMinJoinTokenTtl = absl::Seconds(1);
inline constexpr absl::Duration kMaxJoinTokenTtl = absl::Hours(24);
// Outstanding (unexpired) tokens a member keeps; making one more is refused.
inline constexpr std::size_t kMaxJoinTokens = 32;

// What the joiner stores about one token.
struct JoinTokenRecord {
  std::string sha256_hex;  // SHA-256 of the printable token, 64 lower-case hex digits
  absl::Time issued_at;    // whole seconds
  absl::Time expires_at;   // issued_at + TTL
  bool consumed = false;   // used by an admitted join; never accepted again
  bool operator==(const JoinTokenRecord&) const = default;
};

// The joiner's token store. A value: the host persists ToJson() after every change (Issue,
// Consume, Prune) and restores it with FromJson().
class JoinTokens {
 public:
  // Makes a token from `random_bytes` (kJoinTokenMinRandomBytes..kJoinTokenMaxRandomBytes),
  // valid from `now` for `ttl` (kMinJoinTokenTtl..kMaxJoinTokenTtl), and records its hash.
  // Returns the printable token: shown to the operator once, never stored. Expired records are
  // dropped first; with kMaxJoinTokens outstanding tokens the call is refused
  // (RESOURCE_EXHAUSTED, `too_many_tokens`). Bad arguments are INVALID_ARGUMENT (`invalid_ttl`,
  // or `invalid_argument` for too few random bytes). Refusals change nothing.
  absl::StatusOr<std::string> Issue(std::string_view random_bytes, absl::Time now,
                                    absl::Duration ttl);

  // Whether `token` would be accepted at `now`, without using it up. PERMISSION_DENIED with
  // reason `token_invalid` (not a token, unknown here, or already used) or `token_expired`.
  // The hash is compared in constant time against every record.
  absl::Status Verify(std::string_view token, absl::Time now) const;

  // Verify, then marks the token used. On refusal nothing changes.
  absl::Status Consume(std::string_view token, absl::Time now);

  // Drops the records of tokens that expired before `now` (used or not).
  void Prune(absl::Time now);

  const std::vector<JoinTokenRecord>& records() const { return records_; }

  // {"tokens": [{"sha256": "...", "issued_at": RFC 3339, "expires_at": RFC 3339,
  //              "consumed": false}]}
  nlohmann::json ToJson() const;
  // Strict: unknown fields are `unknown_field`; bad hashes, times or more than kMaxJoinTokens
  // records are INVALID_ARGUMENT naming the field.
  static absl::StatusOr<JoinTokens> FromJson(const nlohmann::json& doc);

  bool operator==(const JoinTokens&) const = default;

 private:
  // Index of the record whose hash equals `hash_hex` (all records compared, constant time
  // each), or records_.size().
  std::size_t Find(std::string_view hash_hex) const;
  absl::StatusOr<std::size_t> Check(std::string_view token, absl::Time now) const;

  std::vector<JoinTokenRecord> records_;
};

// The canonical form of a token typed by an operator (surrounding white space removed, base32
// part upper-cased), or INVALID_ARGUMENT `token_invalid` when it is not shaped like a token.
absl::StatusOr<std::string> NormalizeJoinToken(std::string_view token);

// SHA-256 of the canonical token text, lower-case hex: what the joiner stores.
std::string JoinTokenHash(std::string_view canonical_token);

}  // namespace arraykit::ops

#endif  // ARRAYKIT_CORE_OPS_JOIN_TOKEN_H_
