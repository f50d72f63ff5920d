// The ground rules every input document stands on: duplicate keys, unknown fields with the
// nearest known name, the one peer-name rule, the one RFC 3339 reader/writer, reasons.
#include <string>

#include <catch2/catch.hpp>

#include "core/model/array.h"
#include "core/model/array_json.h"
#include "core/model/json_reader.h"
#include "core/status.h"

namespace arraykit::model {
namespace {

using nlohmann::json;
namespace ji = json_internal;

TEST_CASE("a key given twice is refused with its path, at any depth") {
  absl::StatusOr<json> top = ParseJsonDocument(R"({"primary": "a", "primary": "b"})", "doc");
  REQUIRE_FALSE(top.ok());
  CHECK(ReasonOf(top.status()) == "duplicate_key");
  CHECK(std::string(top.status().message()) ==
        "doc: primary: the key appears more than once in its object");

  absl::StatusOr<json> nested = ParseJsonDocument(
      R"({"members": [{"name": "a"}, {"rack": [1, {"x": 1}], "name": "b", "name": "c"}]})",
      "doc");
  REQUIRE_FALSE(nested.ok());
  CHECK(std::string(nested.status().message()) ==
        "doc: members[1].name: the key appears more than once in its object");

  // The same key in two different objects is fine.
  CHECK(ParseJsonDocument(R"({"a": {"k": 1}, "b": {"k": 2}, "c": [{"k": 1}, {"k": 2}]})", "doc")
            .ok());
}

TEST_CASE("syntax, size and depth failures carry their own reasons") {
  CHECK(ReasonOf(ParseJsonDocument("{", "doc").status()) == "invalid_json");
  CHECK(ReasonOf(ParseJsonDocument("[1]", "doc", {2, 8}).status()) == "too_large");
  CHECK(ReasonOf(ParseJsonDocument("[[[1]]]", "doc", {100, 2}).status()) == "too_deep");
}

TEST_CASE("an unknown field names the nearest known one") {
  const json options = json::parse(R"({"revoked_serial": ["01"]})");
  absl::Status status =
      ji::RejectUnknownFields(options, "options", {"expected_name", "at", "revoked_serials"});
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK(ReasonOf(status) == "unknown_field");
  CHECK(std::string(status.message()) ==
        "options.revoked_serial: unknown field (did you mean revoked_serials?)");

  // Nothing close: every known field is listed instead.
  absl::Status far = ji::RejectUnknownFields(json::parse(R"({"zzz": 1})"), "", {"at", "events"});
  CHECK(std::string(far.message()) == "zzz: unknown field (known fields: at events)");

  CHECK(ji::RejectUnknownFields(json::parse(R"({"at": 1})"), "", {"at"}).ok());
  CHECK(ji::ExpectObjectWith(json::array(), "x", {"at"}).code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("the nearest name is a plausible typo or nothing") {
  CHECK(ji::NearestName("expected_nmae", {"expected_name", "at"}) == "expected_name");
  CHECK(ji::NearestName("min_versoin", {"min_version", "max_version"}) == "min_version");
  CHECK(ji::NearestName("ad", {"add", "remove"}) == "add");
  CHECK(ji::NearestName("event", {"events", "until_s"}) == "events");
  CHECK(ji::NearestName("colour", {"name", "roles", "rack"}).empty());
  // A swap of two neighbouring letters is one edit.
  CHECK(ji::NearestName("mdoe", {"mode", "members"}) == "mode");
  CHECK(ji::NearestName("strat", {"start", "end"}) == "start");
  CHECK(ji::NearestName("edn", {"start", "end"}) == "end");
}

TEST_CASE("one peer name rule: fully qualified, never an IP literal") {
  CHECK(PeerNameProblem("boston.example.com").empty());
  CHECK(PeerNameProblem("Boston.Example.COM.").empty());
  CHECK(PeerNameProblem("boston") == "it has no domain part");
  CHECK(PeerNameProblem("10.0.0.1") == "it looks like an IP address, not a name");
  CHECK(PeerNameProblem("*.example.com") == "labels may hold only letters, digits and hyphens");
  CHECK(PeerNameProblem("") == "it is empty");

  absl::StatusOr<std::string> normalized = NormalizePeerName("Boston.Example.COM.");
  REQUIRE(normalized.ok());
  CHECK(*normalized == "boston.example.com");
  absl::StatusOr<std::string> bad = NormalizePeerName("boston", "members[0].name");
  REQUIRE_FALSE(bad.ok());
  CHECK(ReasonOf(bad.status()) == "name_not_fqdn");
  CHECK(std::string(bad.status().message()) ==
        "members[0].name: \"boston\" is not a fully qualified peer DNS name: it has no domain "
        "part");
}

TEST_CASE("RFC 3339 reads and writes one way") {
  absl::StatusOr<absl::Time> t = ji::ReadRfc3339(json("2026-01-01T12:00:00+01:00"), "at");
  REQUIRE(t.ok());
  CHECK(ji::FormatRfc3339(*t) == "2026-01-01T11:00:00+00:00");
  absl::StatusOr<absl::Time> bad = ji::ReadRfc3339(json("yesterday"), "options.at");
  REQUIRE_FALSE(bad.ok());
  CHECK(std::string(bad.status().message()).rfind("options.at: must be an RFC 3339 time", 0) == 0);
  CHECK_FALSE(ji::ReadRfc3339(json(12), "at").ok());
}

TEST_CASE("reasons default to the code's word and survive as payloads") {
  CHECK(ReasonOf(absl::OkStatus()).empty());
  CHECK(ReasonOf(absl::InvalidArgumentError("x")) == "invalid_argument");
  CHECK(ReasonOf(MakeError(ErrorCode::kBusy, "failover under way")) == "busy");
  CHECK(ReasonOf(MakeError(ErrorCode::kNotPrimary, "x")) == "not_primary");
  absl::Status with = WithReason(absl::PermissionDeniedError("no"), "name_mismatch");
  CHECK(ReasonOf(with) == "name_mismatch");
  CHECK(with.code() == absl::StatusCode::kPermissionDenied);
  CHECK(WithReason(absl::OkStatus(), "x").ok());
}

}  // namespace
}  // namespace arraykit::model
