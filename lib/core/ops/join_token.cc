#include "core/ops/join_token.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/model/json_reader.h"
#include "core/status.h"

namespace arraykit::ops {
namespace {

namespace ji = model::json_internal;
using nlohmann::json;

constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

std::string Base32(std::string_view bytes) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32[(buffer << (5 - bits)) & 31]);
  return out;
}

bool IsBase32(char c) { return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'); }

bool IsLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

absl::Status TokenInvalid(std::string message) {
  return MakeError(absl::StatusCode::kPermissionDenied, "token_invalid", message);
}

// Whole seconds, so that a record survives ToJson/FromJson unchanged.
absl::Time WholeSeconds(absl::Time t) { return absl::FromUnixSeconds(absl::ToUnixSeconds(t)); }

}  // namespace

absl::StatusOr<std::string> NormalizeJoinToken(std::string_view token) {
  std::string text(absl::StripAsciiWhitespace(ji::AbslView(token)));
  const std::size_t min_chars = (kJoinTokenMinRandomBytes * 8 + 4) / 5;
  const std::size_t max_chars = (kJoinTokenMaxRandomBytes * 8 + 4) / 5;
  const std::size_t prefix = kJoinTokenPrefix.size();
  absl::AsciiStrToUpper(&text);
  if (text.size() < prefix || std::string_view(text).substr(0, prefix) != kJoinTokenPrefix ||
      text.size() - prefix < min_chars || text.size() - prefix > max_chars ||
      !std::all_of(text.begin() + static_cast<std::ptrdiff_t>(prefix), text.end(), IsBase32)) {
    return MakeError(
        absl::StatusCode::kPermissionDenied, "token_invalid",
        absl::StrCat("join token: not a join token (expected ", std::string(kJoinTokenPrefix),
                     " followed by ", min_chars, " to ", max_chars,
                     " base32 characters, as `arrayctl security join-token` prints "
                     "it on the joining member)"));
  }
  return text;
}

std::string JoinTokenHash(std::string_view canonical_token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical_token.data()), canonical_token.size(),
         digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof(digest));
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

absl::StatusOr<std::string> JoinTokens::Issue(std::string_view random_bytes, absl::Time now,
                                              absl::Duration ttl) {
  if (random_bytes.size() < kJoinTokenMinRandomBytes ||
      random_bytes.size() > kJoinTokenMaxRandomBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "join token: needs ", kJoinTokenMinRandomBytes, " to ", kJoinTokenMaxRandomBytes,
        " random bytes from the host, got ", random_bytes.size()));
  }
  if (ttl < kMinJoinTokenTtl || ttl > kMaxJoinTokenTtl) {
    return MakeError(
        absl::StatusCode::kInvalidArgument, "invalid_ttl",
        absl::StrCat("join token: ttl must be between ", ji::FormatSeconds(kMinJoinTokenTtl),
                     " and ", ji::FormatSeconds(kMaxJoinTokenTtl), ", got ",
                     ji::FormatSeconds(ttl)));
  }
  JoinTokens next = *this;
  next.Prune(now);
  if (next.records_.size() >= kMaxJoinTokens) {
    return MakeError(
        absl::StatusCode::kResourceExhausted, "too_many_tokens",
        absl::StrCat("join token: ", next.records_.size(), " tokens are outstanding (at most ",
                     kMaxJoinTokens, "); wait until they expire or are used"));
  }
  std::string token = absl::StrCat(std::string(kJoinTokenPrefix), Base32(random_bytes));
  JoinTokenRecord record;
  record.sha256_hex = JoinTokenHash(token);
  record.issued_at = WholeSeconds(now);
  record.expires_at = record.issued_at + absl::Seconds(absl::ToInt64Seconds(ttl));
  if (next.Find(record.sha256_hex) != next.records_.size()) {
    // Only the same random bytes give the same token: the host's randomness is broken.
    return absl::InvalidArgumentError(
        "join token: these random bytes made a token that exists already");
  }
  next.records_.push_back(std::move(record));
  *this = std::move(next);
  return token;
}

std::size_t JoinTokens::Find(std::string_view hash_hex) const {
  std::size_t found = records_.size();
  for (std::size_t i = 0; i < records_.size(); ++i) {
    const std::string& stored = records_[i].sha256_hex;
    // Every record is compared in full, whether or not one matched already.
    const bool equal = stored.size() == hash_hex.size() &&
                       CRYPTO_memcmp(stored.data(), hash_hex.data(), stored.size()) == 0;
    if (equal) found = i;
  }
  return found;
}

absl::StatusOr<std::size_t> JoinTokens::Check(std::string_view token, absl::Time now) const {
  absl::StatusOr<std::string> canonical = NormalizeJoinToken(token);
  if (!canonical.ok()) return canonical.status();
  const std::size_t i = Find(JoinTokenHash(*canonical));
  if (i == records_.size()) {
    return TokenInvalid(
        "join token: unknown on this member (make one with `arrayctl security join-token` on "
        "the joining member)");
  }
  const JoinTokenRecord& record = records_[i];
  if (record.consumed) {
    return TokenInvalid("join token: already used (a token admits one join; make a new one)");
  }
  if (now >= record.expires_at) {
    return MakeError(absl::StatusCode::kPermissionDenied, "token_expired",
                     absl::StrCat("join token: expired at ", ji::FormatRfc3339(record.expires_at),
                                  " (now ", ji::FormatRfc3339(now), "); make a new one"));
  }
  return i;
}

absl::Status JoinTokens::Verify(std::string_view token, absl::Time now) const {
  return Check(token, now).status();
}

absl::Status JoinTokens::Consume(std::string_view token, absl::Time now) {
  absl::StatusOr<std::size_t> i = Check(token, now);
  if (!i.ok()) return i.status();
  records_[*i].consumed = true;
  return absl::OkStatus();
}

void JoinTokens::Prune(absl::Time now) {
  std::erase_if(records_, [now](const JoinTokenRecord& r) { return r.expires_at <= now; });
}

json JoinTokens::ToJson() const {
  json tokens = json::array();
  for (const JoinTokenRecord& r : records_) {
    tokens.push_back({{"sha256", r.sha256_hex},
                      {"issued_at", ji::FormatRfc3339(r.issued_at)},
                      {"expires_at", ji::FormatRfc3339(r.expires_at)},
                      {"consumed", r.consumed}});
  }
  return json{{"tokens", std::move(tokens)}};
}

absl::StatusOr<JoinTokens> JoinTokens::FromJson(const json& doc) {
  if (absl::Status s = ji::ExpectObjectWith(doc, "join_tokens", {"tokens"}); !s.ok()) return s;
  JoinTokens out;
  const json* tokens = ji::Find(doc, "tokens");
  if (tokens == nullptr) return out;
  if (absl::Status s = ji::ExpectArray(*tokens, "join_tokens.tokens", kMaxJoinTokens); !s.ok()) {
    return s;
  }
  for (std::size_t i = 0; i < tokens->size(); ++i) {
    const std::string path = ji::IndexPath("join_tokens.tokens", i);
    const json& item = (*tokens)[i];
    if (absl::Status s =
            ji::ExpectObjectWith(item, path, {"sha256", "issued_at", "expires_at", "consumed"});
        !s.ok()) {
      return s;
    }
    JoinTokenRecord record;
    for (std::string_view field : {"sha256", "issued_at", "expires_at", "consumed"}) {
      if (ji::Find(item, field) == nullptr) {
        return ji::FieldError(ji::FieldPath(path, field), "required field is missing");
      }
    }
    absl::StatusOr<std::string> hash =
        ji::ReadString(item["sha256"], ji::FieldPath(path, "sha256"), 64, false);
    if (!hash.ok()) return hash.status();
    if (hash->size() != 64 || !IsLowerHex(*hash)) {
      return ji::FieldError(ji::FieldPath(path, "sha256"),
                            "must be 64 lower-case hex digits (a SHA-256)");
    }
    record.sha256_hex = *hash;
    absl::StatusOr<absl::Time> issued =
        ji::ReadRfc3339(item["issued_at"], ji::FieldPath(path, "issued_at"));
    if (!issued.ok()) return issued.status();
    absl::StatusOr<absl::Time> expires =
        ji::ReadRfc3339(item["expires_at"], ji::FieldPath(path, "expires_at"));
    if (!expires.ok()) return expires.status();
    if (*expires <= *issued) {
      return ji::FieldError(ji::FieldPath(path, "expires_at"), "must be after issued_at");
    }
    record.issued_at = *issued;
    record.expires_at = *expires;
    absl::StatusOr<bool> consumed = ji::ReadBool(item["consumed"], ji::FieldPath(path, "consumed"));
    if (!consumed.ok()) return consumed.status();
    record.consumed = *consumed;
    if (out.Find(record.sha256_hex) != out.records_.size()) {
      return ji::FieldError(ji::FieldPath(path, "sha256"), "lists a token twice");
    }
    out.records_.push_back(std::move(record));
  }
  return out;
}

}  // namespace arraykit::ops
