#include "core/placement/placement.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"

#include "core/model/array_json.h"
#include "placement/fixtures.h"

namespace arraykit::placement {
namespace {

using model::Array;
using model::ResilienceMode;
using nlohmann::json;
using testing::Codes;
using testing::GoodArray;
using testing::MakeMember;
using testing::WithCode;

std::vector<std::string> NonInfoCodes(const std::vector<Finding>& findings) {
  std::vector<std::string> codes;
  for (const Finding& finding : findings) {
    if (finding.severity != Severity::kInfo) codes.push_back(finding.code);
  }
  return codes;
}

Finding Only(const std::vector<Finding>& findings, std::string_view code) {
  std::vector<Finding> matching = WithCode(findings, code);
  REQUIRE(matching.size() == 1);
  return matching.front();
}

TEST_CASE("a well-placed array has only the failover_time info") {
  const std::vector<Finding> findings = Check(GoodArray());
  CHECK(Codes(findings) == std::vector<std::string>{"failover_time"});
  CHECK_FALSE(HasErrors(findings));
  CHECK(CountSeverity(findings, Severity::kWarning) == 0);
  Array quorum = GoodArray();
  quorum.resilience.mode = ResilienceMode::kQuorum;
  CHECK(Codes(Check(quorum)) == std::vector<std::string>{"failover_time"});
}

TEST_CASE("too_many_members: at most 10, suggest a second array") {
  Array array = GoodArray();
  for (int i = 4; i < 10; ++i) {
    array.members.push_back(
        MakeMember(absl::StrCat("m", i, ".example.com"), true, false, "r1", "p1"));
  }
  CHECK(WithCode(Check(array), kTooManyMembers).empty());
  array.members.push_back(MakeMember("m10.example.com", true, false, "r2", "p2"));
  const Finding finding = Only(Check(array), kTooManyMembers);
  CHECK(finding.severity == Severity::kError);
  CHECK(finding.members == std::vector<std::string>{"m10.example.com"});
  CHECK_THAT(finding.message, Catch::Contains("11 members") && Catch::Contains("at most 10") &&
                                  Catch::Contains("second array"));
  CHECK_THAT(finding.message, Catch::Contains("the other 1 member(s) (m10.example.com)"));
}

TEST_CASE("no_frontend: at least one member has the front-end role") {
  Array array = GoodArray();
  for (auto& member : array.members) member.roles.frontend = false;
  const Finding finding = Only(Check(array), kNoFrontend);
  CHECK(finding.severity == Severity::kError);
  array.members[3].roles.frontend = true;
  CHECK(WithCode(Check(array), kNoFrontend).empty());

  Array standalone;
  standalone.members = {MakeMember("solo.example.com", false, true, "r1", "p1")};
  standalone.primary = "solo.example.com";
  CHECK(WithCode(Check(standalone), kNoFrontend).size() == 1);
}

TEST_CASE("backend_count: a multi-member array has exactly 1 or 3 back-ends") {
  Array array = GoodArray();
  SECTION("3 back-ends hold") { CHECK(WithCode(Check(array), kBackendCount).empty()); }
  SECTION("1 back-end holds") {
    array.members[1].roles.backend = false;
    array.members[2].roles.backend = false;
    CHECK(WithCode(Check(array), kBackendCount).empty());
  }
  SECTION("2 back-ends break it") {
    array.members[2].roles.backend = false;
    const Finding finding = Only(Check(array), kBackendCount);
    CHECK(finding.severity == Severity::kError);
    CHECK(finding.members == std::vector<std::string>{"boston.example.com", "newyork.example.com"});
    CHECK_THAT(finding.message, Catch::Contains("exactly 1 or 3") && Catch::Contains("has 2") &&
                                    Catch::Contains("third member"));
  }
  SECTION("0 back-ends break it") {
    for (auto& member : array.members) member.roles.backend = false;
    CHECK_THAT(Only(Check(array), kBackendCount).message, Catch::Contains("has 0"));
  }
  SECTION("4 back-ends break it") {
    array.members[3].roles.backend = true;
    CHECK_THAT(Only(Check(array), kBackendCount).message,
               Catch::Contains("has 4") && Catch::Contains("remove the back-end role from 1"));
  }
  SECTION("a standalone member is exempt") {
    Array standalone;
    standalone.members = {MakeMember("solo.example.com", true, false, "r1", "p1")};
    standalone.primary = "solo.example.com";
    CHECK(WithCode(Check(standalone), kBackendCount).empty());
  }
}

TEST_CASE("duplicate_name: peer DNS names are unique, case-insensitively") {
  Array array = GoodArray();
  array.members[3].name = "NewYork.Example.com.";
  const Finding finding = Only(Check(array), kDuplicateName);
  CHECK(finding.severity == Severity::kError);
  CHECK(finding.members == std::vector<std::string>{"newyork.example.com", "NewYork.Example.com."});
  CHECK_THAT(finding.message, Catch::Contains("newyork.example.com"));
}

TEST_CASE("name_not_fqdn: peer DNS names are fully qualified") {
  Array array = GoodArray();
  array.members[3].name = "seattle";
  array.backup_primaries[2] = "seattle";
  const Finding finding = Only(Check(array), kNameNotFqdn);
  CHECK(finding.severity == Severity::kError);
  CHECK(finding.members == std::vector<std::string>{"seattle"});
  CHECK_THAT(finding.message, Catch::Contains("no domain part"));

  std::string why;
  CHECK(IsFullyQualifiedName("boston.example.com"));
  CHECK(IsFullyQualifiedName("boston.example.com."));
  CHECK(IsFullyQualifiedName("a-1.b2.example"));
  CHECK_FALSE(IsFullyQualifiedName("boston", &why));
  CHECK(why == "it has no domain part");
  CHECK_FALSE(IsFullyQualifiedName("192.0.2.10", &why));
  CHECK_THAT(why, Catch::Contains("IP address"));
  CHECK_FALSE(IsFullyQualifiedName("a_b.example.com", &why));
  CHECK_THAT(why, Catch::Contains("letters, digits and hyphens"));
  CHECK_FALSE(IsFullyQualifiedName("-a.example.com", &why));
  CHECK_THAT(why, Catch::Contains("hyphen"));
  CHECK_FALSE(IsFullyQualifiedName("a..example.com", &why));
  CHECK_THAT(why, Catch::Contains("empty label"));
  CHECK_FALSE(IsFullyQualifiedName(std::string(64, 'a') + ".example.com", &why));
  CHECK_THAT(why, Catch::Contains("longer than 63"));
  CHECK_FALSE(IsFullyQualifiedName("", &why));
  CHECK_FALSE(IsFullyQualifiedName(".", &why));
}

TEST_CASE("address_not_static: every member has a static address") {
  Array array = GoodArray();
  array.members[2].address_static = false;
  array.members[2].address = "198.51.100.7";
  const Finding finding = Only(Check(array), kAddressNotStatic);
  CHECK(finding.severity == Severity::kError);
  CHECK(finding.members == std::vector<std::string>{"detroit.example.com"});
  CHECK_THAT(finding.message, Catch::Contains("198.51.100.7") && Catch::Contains("static"));
}

TEST_CASE("version_mismatch: all members run the same version, unknown versions are skipped") {
  Array array = GoodArray();
  array.members[3].version = "";
  CHECK(WithCode(Check(array), kVersionMismatch).empty());
  array.members[1].version = "1.1.0";
  const Finding finding = Only(Check(array), kVersionMismatch);
  CHECK(finding.severity == Severity::kError);
  CHECK_THAT(finding.message, Catch::Contains("1.0.0 (boston.example.com, detroit.example.com)") &&
                                  Catch::Contains("1.1.0 (newyork.example.com)"));
  CHECK(finding.members.size() == 3);
}

TEST_CASE("bad_backup_list: backup primaries are distinct secondaries of this array") {
  Array array = GoodArray();
  array.backup_primaries = {"newyork.example.com", "chicago.example.com", "boston.example.com",
                            "NEWYORK.example.com."};
  const std::vector<Finding> findings = WithCode(Check(array), kBadBackupList);
  REQUIRE(findings.size() == 3);
  for (const Finding& finding : findings) CHECK(finding.severity == Severity::kError);
  CHECK_THAT(findings[0].message,
             Catch::Contains("entry 2 \"chicago.example.com\" is not a member"));
  CHECK_THAT(findings[1].message, Catch::Contains("entry 3 \"boston.example.com\" is the primary"));
  CHECK_THAT(findings[2].message, Catch::Contains("listed more than once"));
  array.backup_primaries = {};
  CHECK(WithCode(Check(array), kBadBackupList).empty());
}

TEST_CASE("primary_not_member: an array built in code names a missing primary") {
  Array array = GoodArray();
  array.primary = "chicago.example.com";
  const Finding finding = Only(Check(array), kPrimaryNotMember);
  CHECK(finding.severity == Severity::kError);
  array.primary.clear();
  CHECK_THAT(Only(Check(array), kPrimaryNotMember).message, Catch::Contains("names no primary"));
}

TEST_CASE("backends_share_rack / backends_share_power: warnings, errors in quorum mode") {
  Array array = GoodArray();
  array.members[2].rack = "r1";
  array.members[2].power = "p2";
  {
    const std::vector<Finding> findings = Check(array);
    const Finding rack = Only(findings, kBackendsShareRack);
    const Finding power = Only(findings, kBackendsSharePower);
    CHECK(rack.severity == Severity::kWarning);
    CHECK(power.severity == Severity::kWarning);
    CHECK(rack.members == std::vector<std::string>{"boston.example.com", "detroit.example.com"});
    CHECK(power.members == std::vector<std::string>{"newyork.example.com", "detroit.example.com"});
    CHECK_THAT(rack.message, Catch::Contains("\"r1\"") && Catch::Contains("three racks"));
    CHECK_FALSE(HasErrors(findings));
  }
  array.resilience.mode = ResilienceMode::kQuorum;
  {
    const std::vector<Finding> findings = Check(array);
    CHECK(Only(findings, kBackendsShareRack).severity == Severity::kError);
    CHECK(Only(findings, kBackendsSharePower).severity == Severity::kError);
    CHECK_THAT(Only(findings, kBackendsShareRack).message, Catch::Contains("voters"));
    CHECK(HasErrors(findings));
  }
  SECTION("front-ends on a shared rack and unknown domains do not count") {
    Array other = GoodArray();  // seattle (front-end only) shares r1/p1 with boston
    other.members[1].rack = "";
    other.members[2].rack = "";
    other.members[1].power = "";
    CHECK(WithCode(Check(other), kBackendsShareRack).empty());
    CHECK(WithCode(Check(other), kBackendsSharePower).empty());
  }
}

TEST_CASE("no_high_availability: two members, or one back-end") {
  Array array = GoodArray();
  CHECK(WithCode(Check(array), kNoHighAvailability).empty());
  SECTION("one back-end among four") {
    array.members[1].roles.backend = false;
    array.members[2].roles.backend = false;
    const Finding finding = Only(Check(array), kNoHighAvailability);
    CHECK(finding.severity == Severity::kWarning);
    CHECK(finding.members == std::vector<std::string>{"boston.example.com"});
    CHECK_THAT(finding.message, Catch::Contains("only one back-end"));
  }
  SECTION("two members") {
    array.members.resize(2);
    array.members[1].roles.backend = false;
    array.backup_primaries = {"newyork.example.com"};
    const Finding finding = Only(Check(array), kNoHighAvailability);
    CHECK(finding.severity == Severity::kWarning);
    CHECK_THAT(finding.message, Catch::Contains("two-member array"));
  }
  SECTION("standalone") {
    array.members.resize(1);
    array.backup_primaries.clear();
    CHECK_THAT(Only(Check(array), kNoHighAvailability).message, Catch::Contains("standalone"));
  }
}

TEST_CASE("primary_not_backend: a warning in quorum mode only") {
  Array array = GoodArray();
  array.primary = "seattle.example.com";
  array.backup_primaries = {"boston.example.com", "newyork.example.com", "detroit.example.com"};
  CHECK(WithCode(Check(array), kPrimaryNotBackend).empty());
  array.resilience.mode = ResilienceMode::kQuorum;
  const Finding finding = Only(Check(array), kPrimaryNotBackend);
  CHECK(finding.severity == Severity::kWarning);
  CHECK(finding.members == std::vector<std::string>{"seattle.example.com"});
}

TEST_CASE("failover_time: grace period + (list length - 1) x find-new-primary timeout") {
  Array array = GoodArray();
  CHECK(WorstCaseFailoverTime(array) == absl::Seconds(600 + 2 * 180));
  Finding finding = Only(Check(array), kFailoverTime);
  CHECK(finding.severity == Severity::kInfo);
  REQUIRE(finding.seconds.has_value());
  CHECK(*finding.seconds == 960.0);
  CHECK_THAT(finding.message, Catch::Contains("failover is disabled") && Catch::Contains("960 s"));

  array.resilience.failover_enabled = true;
  finding = Only(Check(array), kFailoverTime);
  CHECK_THAT(finding.message, Catch::StartsWith("worst-case failover time 960 s") &&
                                  Catch::Contains("grace period 600 s (60 s x 10") &&
                                  Catch::Contains("2 unreachable"));
  CHECK_FALSE(Catch::Contains("disabled").match(finding.message));

  array.backup_primaries = {"newyork.example.com"};
  CHECK(WorstCaseFailoverTime(array) == absl::Seconds(600));
  array.backup_primaries.clear();
  CHECK(WorstCaseFailoverTime(array) == absl::Seconds(600));
  CHECK_THAT(Only(Check(array), kFailoverTime).message, Catch::Contains("become standalone"));

  array.resilience.monitor_interval = absl::Milliseconds(50);
  array.resilience.monitor_attempts = 4;
  array.resilience.find_primary_interval = absl::Milliseconds(25);
  array.resilience.find_primary_attempts = 2;
  array.backup_primaries = {"newyork.example.com", "detroit.example.com"};
  finding = Only(Check(array), kFailoverTime);
  CHECK(*finding.seconds == Approx(0.25));
  CHECK_THAT(finding.message, Catch::Contains("0.25 s"));
}

TEST_CASE("findings come in the table's order") {
  Array array;
  for (int i = 0; i < 11; ++i) {
    array.members.push_back(
        MakeMember(absl::StrCat("m", i, ".example.com"), false, i < 2, "r1", "p1"));
  }
  array.members[3].name = "M2.example.com";
  array.members[4].name = "bad_name";
  array.members[5].address_static = false;
  array.members[6].version = "2.0";
  array.primary = "m0.example.com";
  array.backup_primaries = {"m0.example.com"};
  array.resilience.mode = ResilienceMode::kQuorum;
  CHECK(Codes(Check(array)) ==
        std::vector<std::string>{"too_many_members", "no_frontend", "backend_count",
                                 "duplicate_name", "name_not_fqdn", "address_not_static",
                                 "version_mismatch", "bad_backup_list", "backends_share_rack",
                                 "backends_share_power", "failover_time"});
  // Every code but the info is an error or warning: the order is the DESIGN table's.
  CHECK(NonInfoCodes(Check(array)).size() == 10);
}

TEST_CASE("findings as JSON") {
  Array array = GoodArray();
  array.members[2].roles.backend = false;
  const json doc = ToJson(Check(array));
  REQUIRE(doc.is_array());
  REQUIRE(doc.size() == 2);
  CHECK(doc[0]["code"] == "backend_count");
  CHECK(doc[0]["severity"] == "error");
  CHECK(doc[0]["members"] == json::array({"boston.example.com", "newyork.example.com"}));
  CHECK(doc[0]["message"].is_string());
  CHECK_FALSE(doc[0].contains("seconds"));
  CHECK(doc[1]["code"] == "failover_time");
  CHECK(doc[1]["severity"] == "info");
  CHECK(doc[1]["seconds"] == 960.0);
  CHECK(doc[1]["members"] == json::array());
}

TEST_CASE("the check report as JSON: findings, counts and the worst-case failover time") {
  Array array = GoodArray();
  array.members[2].roles.backend = false;  // backend_count: an error
  array.resilience.failover_enabled = false;
  const json off = ToJson(MakeCheckReport(array));
  CHECK(off["findings"] == ToJson(Check(array)));
  CHECK(off["errors"] == 1);
  CHECK(off["warnings"] == 0);
  REQUIRE(off.contains("worst_case_failover_s"));
  CHECK(off["worst_case_failover_s"].is_null());  // failover disabled

  array.resilience.failover_enabled = true;
  const CheckReport report = MakeCheckReport(array);
  REQUIRE(report.worst_case_failover.has_value());
  CHECK(*report.worst_case_failover == WorstCaseFailoverTime(array));
  const json on = ToJson(report);
  CHECK(on["worst_case_failover_s"] == absl::ToDoubleSeconds(WorstCaseFailoverTime(array)));
  CHECK(on.size() == 4);
}

TEST_CASE("a parsed eleven-member document reports too_many_members") {
  json members = json::array();
  for (int i = 0; i < 11; ++i) {
    members.push_back({{"name", absl::StrCat("m", i, ".example.com")},
                       {"roles", i == 0 ? json{"frontend", "backend"} : json{"frontend"}}});
  }
  absl::StatusOr<Array> array =
      model::ArrayFromJson(json{{"members", members}, {"primary", "m0.example.com"}});
  REQUIRE(array.ok());
  CHECK(NonInfoCodes(Check(*array)) ==
        std::vector<std::string>{"too_many_members", "no_high_availability"});
}

}  // namespace
}  // namespace arraykit::placement
