// config edit with the seed's attribute names, strictly validated.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/ops/config_edit.h"
#include "core/status.h"

namespace {

using arraykit::ReasonOf;
using arraykit::model::PrimaryReturnAction;
using arraykit::model::Resilience;
using arraykit::model::ResilienceMode;
using arraykit::ops::ConfigEditFromJson;
using arraykit::ops::ParseConfigEditArgs;

TEST_CASE("config edit applies every seed attribute and arraykit's own two") {
  const Resilience current;
  auto edit = ParseConfigEditArgs(
      {"--array-failoverenabled", "1", "--array-monitortime", "30", "--array-maxmonitors=4",
       "--array-resubmitfindprimarywait", "20", "--array-resubmitfindprimarymax", "2",
       "--array-primaryreturnaction", "acceptsecondary", "--array-mode", "quorum",
       "--array-failbackwindow", "22:00-04:30"},
      current);
  REQUIRE(edit.ok());
  const Resilience& r = edit->resilience;
  CHECK(r.failover_enabled);
  CHECK(r.monitor_interval == absl::Seconds(30));
  CHECK(r.monitor_attempts == 4);
  CHECK(r.GracePeriod() == absl::Seconds(120));
  CHECK(r.find_primary_interval == absl::Seconds(20));
  CHECK(r.find_primary_attempts == 2);
  CHECK(r.primary_return_action == PrimaryReturnAction::kAcceptSecondary);
  CHECK(r.mode == ResilienceMode::kQuorum);
  REQUIRE(r.failback_window.has_value());
  CHECK(r.failback_window->start_minute == 22 * 60);
  CHECK(r.failback_window->end_minute == 4 * 60 + 30);
  CHECK(edit->changed.size() == 8);
  CHECK(edit->changed[2] == "array-maxmonitors");
  REQUIRE(edit->ToChange().resilience.has_value());
  CHECK(*edit->ToChange().resilience == r);
  CHECK_FALSE(edit->ToChange().backup_primaries.has_value());
}

TEST_CASE("config edit keeps the attributes not given") {
  Resilience current;
  current.monitor_interval = absl::Seconds(5);
  current.failback_window = arraykit::model::FailbackWindow{60, 120};
  auto edit = ParseConfigEditArgs({"--array-failoverenabled", "true"}, current);
  REQUIRE(edit.ok());
  Resilience expected = current;
  expected.failover_enabled = true;
  CHECK(edit->resilience == expected);
  auto cleared = ParseConfigEditArgs({"--array-failbackwindow", "none"}, current);
  REQUIRE(cleared.ok());
  CHECK_FALSE(cleared->resilience.failback_window.has_value());
  auto off = ParseConfigEditArgs({"--array-failoverenabled", "0"}, expected);
  REQUIRE(off.ok());
  CHECK_FALSE(off->resilience.failover_enabled);
}

TEST_CASE("config edit refuses an unknown attribute naming the nearest") {
  auto typo = ParseConfigEditArgs({"--array-monitortim", "60"}, Resilience{});
  CHECK(ReasonOf(typo.status()) == "unknown_field");
  CHECK(std::string(typo.status().message()).find("did you mean --array-monitortime?") !=
        std::string::npos);
  auto far = ParseConfigEditArgs({"--colour", "blue"}, Resilience{});
  CHECK(ReasonOf(far.status()) == "unknown_field");
  CHECK(std::string(far.status().message()).find("--array-maxmonitors") != std::string::npos);
  CHECK(ReasonOf(ParseConfigEditArgs({"array-monitortime"}, Resilience{}).status()) ==
        "unknown_field");
  auto json_typo = ConfigEditFromJson({{"array-failoverenable", 1}}, Resilience{});
  CHECK(ReasonOf(json_typo.status()) == "unknown_field");
}

TEST_CASE("config edit refuses bad values, ranges, duplicates and missing values") {
  const Resilience r;
  auto reason = [&r](std::vector<std::string> args) {
    return ReasonOf(ParseConfigEditArgs(args, r).status());
  };
  CHECK(reason({"--array-failoverenabled", "yes"}) == "invalid_value");
  CHECK(reason({"--array-monitortime", "sixty"}) == "invalid_value");
  CHECK(reason({"--array-monitortime", "0"}) == "out_of_range");
  CHECK(reason({"--array-monitortime", "-5"}) == "out_of_range");
  CHECK(reason({"--array-monitortime", "86401"}) == "out_of_range");
  CHECK(reason({"--array-monitortime", "nan"}) == "invalid_value");
  CHECK(reason({"--array-maxmonitors", "0"}) == "out_of_range");
  CHECK(reason({"--array-maxmonitors", "1001"}) == "out_of_range");
  CHECK(reason({"--array-maxmonitors", "2.5"}) == "invalid_value");
  CHECK(reason({"--array-resubmitfindprimarymax", "0"}) == "out_of_range");
  CHECK(reason({"--array-resubmitfindprimarywait", "0.0001"}) == "out_of_range");
  CHECK(reason({"--array-primaryreturnaction", "restore"}) == "invalid_value");
  CHECK(reason({"--array-mode", "raft"}) == "invalid_value");
  CHECK(reason({"--array-failbackwindow", "22:00"}) == "invalid_value");
  CHECK(reason({"--array-failbackwindow", "24:00-01:00"}) == "invalid_value");
  CHECK(reason({"--array-monitortime", "60", "--array-monitortime=30"}) == "duplicate_attribute");
  CHECK(reason({"--array-monitortime"}) == "missing_value");
  CHECK(reason({"--array-monitortime", "--array-maxmonitors", "3"}) == "missing_value");
  CHECK(reason({}) == "invalid_argument");
  // The limits themselves are accepted.
  CHECK(
      ParseConfigEditArgs({"--array-monitortime", "0.001", "--array-maxmonitors", "1000"}, r).ok());
}

TEST_CASE("config edit as a document: numbers, booleans and strings") {
  auto edit = ConfigEditFromJson({{"array-failoverenabled", true},
                                  {"--array-monitortime", 15},
                                  {"array-maxmonitors", "3"},
                                  {"array-primaryreturnaction", "none"}},
                                 Resilience{});
  REQUIRE(edit.ok());
  CHECK(edit->resilience.failover_enabled);
  CHECK(edit->resilience.monitor_interval == absl::Seconds(15));
  CHECK(edit->resilience.monitor_attempts == 3);
  CHECK(edit->resilience.primary_return_action == PrimaryReturnAction::kNone);
  CHECK(ReasonOf(ConfigEditFromJson({{"array-maxmonitors", 2.5}}, Resilience{}).status()) ==
        "invalid_value");
  CHECK(ReasonOf(ConfigEditFromJson({{"array-maxmonitors", nullptr}}, Resilience{}).status()) ==
        "invalid_value");
  CHECK(ReasonOf(ConfigEditFromJson(nlohmann::json::array(), Resilience{}).status()) ==
        "invalid_argument");
}

}  // namespace
