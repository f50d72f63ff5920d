// The pure part of resource-file synchronization (lib/core/resources).
#include "core/resources/resources.h"

#include <string>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "nlohmann/json.hpp"

namespace arraykit::resources {
namespace {

using nlohmann::json;

FileInfo Info(const std::string& content) { return InfoOf(content); }

TEST_CASE("Sha256Hex is SHA-256 in lowercase hex") {
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Info("abc").size == 3);
}

TEST_CASE("paths are relative, inside the directory and bounded") {
  CHECK(ValidatePath("login.sh").ok());
  CHECK(ValidatePath("scripts/unix/login.sh").ok());
  CHECK(ValidatePath("ünïcode/файл.txt").ok());
  CHECK(ValidatePath(".profile").ok());
  CHECK(ReasonOf(ValidatePath("")) == "invalid_path");
  CHECK(ReasonOf(ValidatePath("/etc/passwd")) == "absolute_path");
  CHECK(ReasonOf(ValidatePath("../outside")) == "parent_reference");
  CHECK(ReasonOf(ValidatePath("a/../../b")) == "parent_reference");
  CHECK(ReasonOf(ValidatePath("a//b")) == "invalid_path");
  CHECK(ReasonOf(ValidatePath("a/./b")) == "invalid_path");
  CHECK(ReasonOf(ValidatePath("a/")) == "invalid_path");
  CHECK(ReasonOf(ValidatePath("a\\b")) == "invalid_path");
  CHECK(ReasonOf(ValidatePath(std::string("a\0b", 3))) == "invalid_path");
  CHECK(ReasonOf(ValidatePath("tab\there")) == "invalid_path");
  CHECK(ReasonOf(ValidatePath("bad\xff")) == "invalid_path");
  CHECK(ReasonOf(ValidatePath("dir/.arraykit-tmp-1")) == "reserved_name");
  CHECK(ReasonOf(ValidatePath(std::string(kMaxPathBytes + 1, 'x'))) == "path_too_long");
  CHECK(ValidatePath(std::string(kMaxPathBytes, 'x')).ok());
  std::string deep;
  for (std::size_t i = 0; i <= kMaxPathComponents; ++i) deep += "d/";
  deep += "f";
  CHECK(ReasonOf(ValidatePath(deep)) == "path_too_long");
  absl::Status s = ValidatePath("../x");
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(s.message().find("../x") != std::string_view::npos);
}

TEST_CASE("a file must fit one repository value") {
  CHECK(ValidateFile("f", kMaxFileBytes).ok());
  absl::Status s = ValidateFile("big.iso", kMaxFileBytes + 1);
  CHECK(ReasonOf(s) == "file_too_large");
  CHECK(s.message().find("big.iso") != std::string_view::npos);
  // The largest file's value fits the repository's limit.
  CHECK(EncodeValue(std::string(kMaxFileBytes, '\xab')).size() <= replication::kMaxValueBytes);
}

TEST_CASE("a manifest is bounded in files and bytes") {
  Manifest m;
  for (std::size_t i = 0; i < kMaxFiles; ++i) m[absl::StrCat("f", i)] = Info("x");
  CHECK(ValidateManifest(m).ok());
  m["one-more"] = Info("y");
  CHECK(ReasonOf(ValidateManifest(m)) == "too_many_files");
  Manifest big;
  const std::uint64_t n = kMaxTotalBytes / kMaxFileBytes + 1;
  for (std::uint64_t i = 0; i < n; ++i) big[absl::StrCat("f", i)] = FileInfo{Sha256Hex("z"), kMaxFileBytes};
  CHECK(ReasonOf(ValidateManifest(big)) == "too_large");
  CHECK(ValidateManifest(big).code() == absl::StatusCode::kResourceExhausted);
}

TEST_CASE("a file's repository value round-trips and is checked") {
  const std::string content = std::string("#!/bin/sh\necho hi\n") + std::string(1, '\0') + "\xff";
  const std::string value = EncodeValue(content);
  json doc = json::parse(value);
  CHECK(doc["sha256"] == Sha256Hex(content));
  CHECK(doc["size"] == content.size());
  auto back = DecodeValue("login.sh", value);
  REQUIRE(back.ok());
  CHECK(back->content == content);
  CHECK(back->info == InfoOf(content));

  json bad = doc;
  bad["sha256"] = Sha256Hex("other");
  CHECK(ReasonOf(DecodeValue("login.sh", bad.dump()).status()) == "corrupt_entry");
  bad = doc;
  bad["size"] = content.size() + 1;
  CHECK(ReasonOf(DecodeValue("login.sh", bad.dump()).status()) == "corrupt_entry");
  bad = doc;
  bad["content_b64"] = "!!not base64";
  CHECK(ReasonOf(DecodeValue("login.sh", bad.dump()).status()) == "corrupt_entry");
  bad = doc;
  bad["sha256"] = std::string(64, 'A');
  CHECK(DecodeValue("login.sh", bad.dump()).status().code() == absl::StatusCode::kInvalidArgument);
  bad = doc;
  bad["contents_b64"] = "";
  CHECK(ReasonOf(DecodeValue("login.sh", bad.dump()).status()) == "unknown_field");
  bad = doc;
  bad.erase("size");
  CHECK(DecodeValue("login.sh", bad.dump()).status().message().find("size") !=
        std::string_view::npos);
  CHECK(ReasonOf(DecodeValue("../x", value).status()) == "parent_reference");
  CHECK(!DecodeValue("login.sh", "[1]").ok());
}

TEST_CASE("a listing decodes good entries and lists refused ones") {
  json listing = json::object();
  listing["a.txt"] = json::parse(EncodeValue("A"));
  listing["dir/b.txt"] = json::parse(EncodeValue("B"));
  json corrupt = json::parse(EncodeValue("C"));
  corrupt["sha256"] = Sha256Hex("not C");
  listing["c.txt"] = corrupt;
  listing["../evil"] = json::parse(EncodeValue("E"));
  auto decoded = ListingFromJson(listing.dump());
  REQUIRE(decoded.ok());
  CHECK(decoded->manifest.size() == 2);
  CHECK(decoded->contents.at("dir/b.txt") == "B");
  REQUIRE(decoded->refused.size() == 2);
  CHECK(decoded->refused[0].path == "../evil");
  CHECK(decoded->refused[0].reason == "parent_reference");
  CHECK(decoded->refused[1].path == "c.txt");
  CHECK(decoded->refused[1].reason == "corrupt_entry");
  CHECK(!ListingFromJson("[]").ok());
  CHECK(ListingFromJson("{}").ok());
}

TEST_CASE("the primary replicates new and changed files and propagates deletions") {
  Manifest local{{"same", Info("1")}, {"changed", Info("new")}, {"added", Info("3")},
                 {"big", Info("too large")}};
  Manifest repo{{"same", Info("1")}, {"changed", Info("old")}, {"gone", Info("4")},
                {"big", Info("old big")}, {"refused-gone", Info("5")}};
  PrimaryPlan plan = PlanPrimary(local, repo, {"big", "refused-gone"});
  CHECK(plan.put == std::vector<std::string>{"added", "changed"});
  CHECK(plan.remove == std::vector<std::string>{"gone"});
  CHECK(plan.unchanged == 1);
  CHECK(PlanPrimary(local, local).empty());
  CHECK(PlanPrimary(local, local).unchanged == local.size());
}

TEST_CASE("the secondary follows the repository and reports what it overwrites") {
  Manifest repo{{"same", Info("1")}, {"updated", Info("v2")}, {"new", Info("3")},
                {"edited", Info("e1")}, {"removed-here", Info("r")}};
  Manifest last{{"same", Info("1")}, {"updated", Info("v1")}, {"edited", Info("e1")},
                {"dropped", Info("d")}, {"removed-here", Info("r")}};
  Manifest local{{"same", Info("1")},     {"updated", Info("v1")}, {"edited", Info("mine")},
                 {"dropped", Info("d")},  {"stray", Info("s")}};
  SecondaryPlan plan = PlanSecondary(repo, local, last);
  CHECK(plan.write == std::vector<std::string>{"edited", "new", "removed-here", "updated"});
  CHECK(plan.remove == std::vector<std::string>{"dropped", "stray"});
  CHECK(plan.unchanged == 1);
  // Only the secondary's own changes are reported: "updated" and "dropped" changed on the
  // primary, "new" is new there.
  REQUIRE(plan.overwritten.size() == 3);
  CHECK(plan.overwritten[0] ==
        Overwritten{"edited", LocalChange::kModified, Info("mine"), Info("e1")});
  CHECK(plan.overwritten[1] ==
        Overwritten{"removed-here", LocalChange::kDeleted, std::nullopt, Info("r")});
  CHECK(plan.overwritten[2] == Overwritten{"stray", LocalChange::kAdded, Info("s"), std::nullopt});
  CHECK(ToString(LocalChange::kAdded) == "added");

  // The first sync knows no history: files here that differ or that the repository lacks are
  // local changes; a missing file is simply new.
  SecondaryPlan first = PlanSecondary(repo, local, std::nullopt);
  std::vector<std::string> reported;
  for (const auto& o : first.overwritten) reported.push_back(o.path + ":" + std::string(ToString(o.change)));
  CHECK(reported == std::vector<std::string>{"dropped:added", "edited:modified", "stray:added",
                                             "updated:modified"});
  CHECK(PlanSecondary(repo, repo, repo).empty());
  CHECK(PlanSecondary(repo, repo, std::nullopt).overwritten.empty());
}

TEST_CASE("a manifest round-trips through JSON, strictly") {
  Manifest m{{"a", Info("1")}, {"dir/b", Info("22")}};
  auto back = ManifestFromJson(ManifestToJson(m));
  REQUIRE(back.ok());
  CHECK(*back == m);
  CHECK(ManifestFromJson(R"({"files": {}})")->empty());
  CHECK(ReasonOf(ManifestFromJson(R"({"file": {}})").status()) == "unknown_field");
  CHECK(!ManifestFromJson(R"({})").ok());
  json bad = json::parse(ManifestToJson(m));
  bad["files"]["a"]["mode"] = 420;
  CHECK(ReasonOf(ManifestFromJson(bad.dump()).status()) == "unknown_field");
  bad = json::parse(ManifestToJson(m));
  bad["files"]["../x"] = bad["files"]["a"];
  CHECK(ReasonOf(ManifestFromJson(bad.dump()).status()) == "parent_reference");
  bad = json::parse(ManifestToJson(m));
  bad["files"]["a"].erase("sha256");
  CHECK(!ManifestFromJson(bad.dump()).ok());
}

TEST_CASE("the daily time is HH:MM") {
  CHECK(*ParseDailyTime("03:30", "t") == DailyTime{3, 30});
  CHECK(*ParseDailyTime("00:00", "t") == DailyTime{0, 0});
  CHECK(*ParseDailyTime("23:59", "t") == DailyTime{23, 59});
  for (const char* bad : {"24:00", "12:60", "3:30", "03:3", "03-30", "", "03:30:00", " 3:30",
                          "ab:cd"}) {
    INFO(bad);
    CHECK(ReasonOf(ParseDailyTime(bad, "resources.sync_time").status()) == "invalid_time");
  }
  CHECK(ParseDailyTime("25:00", "resources.sync_time").status().message().find(
            "resources.sync_time") != std::string_view::npos);
  CHECK(FormatDailyTime({7, 5}) == "07:05");
}

absl::Time Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

TEST_CASE("the next sync is the next time the local clock shows the configured time") {
  const absl::TimeZone utc = absl::UTCTimeZone();
  CHECK(NextSyncAt(Utc(2026, 12, 1, 2, 0), {3, 30}, utc) == Utc(2026, 12, 1, 3, 30));
  CHECK(NextSyncAt(Utc(2026, 12, 1, 3, 30), {3, 30}, utc) == Utc(2026, 12, 2, 3, 30));
  CHECK(NextSyncAt(Utc(2026, 12, 1, 3, 29, 59), {3, 30}, utc) == Utc(2026, 12, 1, 3, 30));
  CHECK(NextSyncAt(Utc(2026, 12, 31, 23, 59), {0, 0}, utc) == Utc(2027, 1, 1, 0, 0));
  // A fixed offset: 03:30 at UTC+2 is 01:30 UTC.
  const absl::TimeZone plus2 = absl::FixedTimeZone(2 * 3600);
  CHECK(NextSyncAt(Utc(2026, 12, 1, 1, 0), {3, 30}, plus2) == Utc(2026, 12, 1, 1, 30));
  CHECK(NextSyncAt(Utc(2026, 12, 1, 2, 0), {3, 30}, plus2) == Utc(2026, 12, 2, 1, 30));
}

TEST_CASE("daylight saving: a skipped time syncs after the gap, a repeated one once") {
  absl::TimeZone berlin;
  REQUIRE(absl::LoadTimeZone("Europe/Berlin", &berlin));
  // 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
  CHECK(NextSyncAt(Utc(2026, 3, 28, 23, 0), {2, 30}, berlin) == Utc(2026, 3, 29, 1, 0));
  // The day after, 02:30 CEST = 00:30 UTC.
  CHECK(NextSyncAt(Utc(2026, 3, 29, 1, 0), {2, 30}, berlin) == Utc(2026, 3, 30, 0, 30));
  // 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice: the first counts,
  // and between the two the next sync is the next day's.
  CHECK(NextSyncAt(Utc(2026, 10, 24, 23, 0), {2, 30}, berlin) == Utc(2026, 10, 25, 0, 30));
  CHECK(NextSyncAt(Utc(2026, 10, 25, 0, 45), {2, 30}, berlin) == Utc(2026, 10, 26, 1, 30));
}

}  // namespace
}  // namespace arraykit::resources
