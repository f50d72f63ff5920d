// One-time join tokens: made from host randomness, only their hash kept, TTL, one use.
#include <string>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"

#include "core/ops/join_token.h"
#include "core/status.h"

namespace {

using arraykit::ReasonOf;
using arraykit::ops::JoinTokenHash;
using arraykit::ops::JoinTokens;
using arraykit::ops::NormalizeJoinToken;

const absl::Time kT0 = absl::FromUnixSeconds(1767268800);  // 2026-01-01T12:00:00Z

std::string Random(char fill, std::size_t n = 20) { return std::string(n, fill); }

TEST_CASE("a join token is printable, carries the randomness and only its hash is stored") {
  JoinTokens tokens;
  absl::StatusOr<std::string> token = tokens.Issue(Random('\x01'), kT0, absl::Minutes(10));
  REQUIRE(token.ok());
  // 20 bytes = 160 bits = 32 base32 characters after the prefix.
  CHECK(token->rfind("AKJT-", 0) == 0);
  CHECK(token->size() == 5 + 32);
  REQUIRE(tokens.records().size() == 1);
  const auto& record = tokens.records()[0];
  CHECK(record.sha256_hex == JoinTokenHash(*token));
  CHECK(record.sha256_hex.size() == 64);
  CHECK(record.issued_at == kT0);
  CHECK(record.expires_at == kT0 + absl::Minutes(10));
  CHECK_FALSE(record.consumed);
  // The store never holds the token's text.
  CHECK(tokens.ToJson().dump().find(token->substr(5)) == std::string::npos);
  // Different randomness, different token.
  absl::StatusOr<std::string> other = tokens.Issue(Random('\x02'), kT0, absl::Minutes(10));
  REQUIRE(other.ok());
  CHECK(*other != *token);
}

TEST_CASE("a join token is accepted once, within its TTL") {
  JoinTokens tokens;
  const std::string token = *tokens.Issue(Random('\x07'), kT0, absl::Minutes(10));
  CHECK(tokens.Verify(token, kT0 + absl::Minutes(9)).ok());
  // Verify uses nothing up.
  CHECK(tokens.Verify(token, kT0 + absl::Minutes(9)).ok());
  // Typed in lower case with spaces around: the same token.
  std::string typed = token;
  for (char& c : typed) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CHECK(tokens.Verify(absl::StrCat("  ", typed, "\n"), kT0).ok());

  REQUIRE(tokens.Consume(token, kT0 + absl::Minutes(1)).ok());
  CHECK(tokens.records()[0].consumed);
  absl::Status replay = tokens.Consume(token, kT0 + absl::Minutes(2));
  CHECK(ReasonOf(replay) == "token_invalid");
  CHECK(replay.code() == absl::StatusCode::kPermissionDenied);
  CHECK(std::string(replay.message()).find("already used") != std::string::npos);
}

TEST_CASE("an expired join token is refused with token_expired and nothing changes") {
  JoinTokens tokens;
  const std::string token = *tokens.Issue(Random('\x03'), kT0, absl::Seconds(30));
  const JoinTokens before = tokens;
  absl::Status late = tokens.Consume(token, kT0 + absl::Seconds(30));
  CHECK(ReasonOf(late) == "token_expired");
  CHECK(tokens == before);
  CHECK(tokens.Consume(token, kT0 + absl::Seconds(29)).ok());
}

TEST_CASE("unknown and malformed join tokens are token_invalid") {
  JoinTokens tokens;
  const std::string token = *tokens.Issue(Random('\x04'), kT0, absl::Minutes(10));
  const JoinTokens before = tokens;
  JoinTokens elsewhere;
  const std::string foreign = *elsewhere.Issue(Random('\x05'), kT0, absl::Minutes(10));
  CHECK(ReasonOf(tokens.Consume(foreign, kT0)) == "token_invalid");
  CHECK(ReasonOf(tokens.Consume("", kT0)) == "token_invalid");
  CHECK(ReasonOf(tokens.Consume("AKJT-0000", kT0)) == "token_invalid");
  CHECK(ReasonOf(tokens.Consume(absl::StrCat("XXXX-", token.substr(5)), kT0)) == "token_invalid");
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  CHECK(ReasonOf(tokens.Consume(flipped, kT0)) == "token_invalid");
  CHECK(tokens == before);
  CHECK_FALSE(NormalizeJoinToken("AKJT-" + std::string(32, '1')).ok());  // 1 is not base32
}

TEST_CASE("issuing refuses too little randomness, a bad TTL and too many outstanding tokens") {
  JoinTokens tokens;
  CHECK(ReasonOf(tokens.Issue(Random('\x01', 15), kT0, absl::Minutes(1)).status()) ==
        "invalid_argument");
  CHECK(tokens.Issue(Random('\x01', 16), kT0, absl::Minutes(1)).ok());
  CHECK(ReasonOf(tokens.Issue(Random('\x02'), kT0, absl::ZeroDuration()).status()) ==
        "invalid_ttl");
  CHECK(ReasonOf(tokens.Issue(Random('\x02'), kT0, absl::Hours(25)).status()) == "invalid_ttl");
  for (std::size_t i = tokens.records().size(); i < arraykit::ops::kMaxJoinTokens; ++i) {
    REQUIRE(tokens.Issue(Random(static_cast<char>(0x10 + i)), kT0, absl::Minutes(5)).ok());
  }
  const JoinTokens full = tokens;
  absl::StatusOr<std::string> more = tokens.Issue(Random('\x7f'), kT0, absl::Minutes(5));
  CHECK(ReasonOf(more.status()) == "too_many_tokens");
  CHECK(tokens == full);
  // Once they expired, they are pruned and a new one can be made.
  CHECK(tokens.Issue(Random('\x7f'), kT0 + absl::Minutes(6), absl::Minutes(5)).ok());
  CHECK(tokens.records().size() == 1);
}

TEST_CASE("join tokens survive persistence as JSON, strictly read back") {
  JoinTokens tokens;
  const std::string a =
      *tokens.Issue(Random('\x0a'), kT0 + absl::Milliseconds(700), absl::Minutes(10));
  const std::string b = *tokens.Issue(Random('\x0b'), kT0, absl::Minutes(10));
  REQUIRE(tokens.Consume(a, kT0).ok());
  absl::StatusOr<JoinTokens> back = JoinTokens::FromJson(tokens.ToJson());
  REQUIRE(back.ok());
  CHECK(*back == tokens);
  CHECK(ReasonOf(back->Verify(a, kT0)) == "token_invalid");
  CHECK(back->Verify(b, kT0).ok());

  nlohmann::json doc = tokens.ToJson();
  doc["tokens"][0]["consumd"] = true;
  absl::StatusOr<JoinTokens> typo = JoinTokens::FromJson(doc);
  CHECK(ReasonOf(typo.status()) == "unknown_field");
  CHECK(std::string(typo.status().message()).find("consumed") != std::string::npos);

  doc = tokens.ToJson();
  doc["tokens"][0]["sha256"] = "ABC";
  CHECK_FALSE(JoinTokens::FromJson(doc).ok());
  doc = tokens.ToJson();
  doc["tokens"][1]["expires_at"] = doc["tokens"][1]["issued_at"];
  CHECK_FALSE(JoinTokens::FromJson(doc).ok());
  doc = tokens.ToJson();
  doc["tokens"][1] = doc["tokens"][0];
  CHECK_FALSE(JoinTokens::FromJson(doc).ok());
  doc = tokens.ToJson();
  doc["tokens"][0].erase("consumed");
  CHECK_FALSE(JoinTokens::FromJson(doc).ok());
}

}  // namespace
