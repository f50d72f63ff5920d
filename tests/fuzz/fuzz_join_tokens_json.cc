// libFuzzer target: arbitrary bytes as the joiner's persisted token store ({"tokens": [{"sha256":
// ..., "issued_at": ..., "expires_at": ..., "consumed": ...}]}), and as a token typed by an
// operator. FromJson refuses cleanly or gives a store that writes back as the same document
// meaning; Prune, Verify and Issue keep their rules on any store it accepts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/model/array_json.h"
#include "core/ops/join_token.h"
#include "core/status.h"

namespace {

using arraykit::ops::JoinTokens;
using nlohmann::json;

void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

void CheckRefusal(const absl::Status& status) {
  Require(!status.message().empty(), "a refusal says why");
  Require(!arraykit::ReasonOf(status).empty(), "a refusal carries a reason word");
}

void FuzzStore(const json& doc) {
  absl::StatusOr<JoinTokens> tokens = JoinTokens::FromJson(doc);
  if (!tokens.ok()) {
    Require(tokens.status().code() == absl::StatusCode::kInvalidArgument,
            "a refused store is INVALID_ARGUMENT");
    return CheckRefusal(tokens.status());
  }
  Require(tokens->records().size() <= arraykit::ops::kMaxJoinTokens, "at most kMaxJoinTokens");
  const json written = tokens->ToJson();
  absl::StatusOr<JoinTokens> again = JoinTokens::FromJson(written);
  Require(again.ok() && *again == *tokens, "the store reads back as written");
  Require(again->ToJson() == written, "writing is stable");
  for (const auto& record : tokens->records()) {
    Require(record.sha256_hex.size() == 64, "hashes are 64 hex digits");
    Require(record.expires_at >= record.issued_at, "a token expires after it is issued");
  }
  // A token it never issued is refused, whatever the records say.
  const absl::Time now = absl::FromUnixSeconds(1767225600);  // 2026-01-01
  const absl::Status unknown = tokens->Verify("not-a-token", now);
  Require(unknown.code() == absl::StatusCode::kPermissionDenied, "a stranger's token is refused");
  // Issuing works on top of any accepted store, unless it is full; the new token verifies.
  JoinTokens more = *tokens;
  const std::string random(32, '\x5a');
  absl::StatusOr<std::string> issued = more.Issue(random, now, absl::Hours(1));
  if (issued.ok()) {
    Require(more.Verify(*issued, now).ok(), "an issued token verifies");
    Require(more.Consume(*issued, now).ok(), "an issued token is consumed once");
    Require(!more.Consume(*issued, now).ok(), "a used token is refused");
  } else {
    Require(arraykit::ReasonOf(issued.status()) == "too_many_tokens", "issue refuses only when full");
  }
  JoinTokens pruned = *tokens;
  pruned.Prune(absl::InfiniteFuture());
  Require(pruned.records().empty(), "everything expires before the end of time");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::string> normalized = arraykit::ops::NormalizeJoinToken(text);
  if (normalized.ok()) {
    absl::StatusOr<std::string> twice = arraykit::ops::NormalizeJoinToken(*normalized);
    Require(twice.ok() && *twice == *normalized, "a normalized token stays as it is");
  } else {
    CheckRefusal(normalized.status());
  }
  absl::StatusOr<json> doc = arraykit::model::ParseJsonDocument(text, "join tokens");
  if (doc.ok()) FuzzStore(*doc);
  return 0;
}
