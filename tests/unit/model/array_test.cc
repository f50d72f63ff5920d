#include "core/model/array.h"

#include <catch2/catch.hpp>

namespace arraykit::model {
namespace {

Array FourMembers() {
  Array array;
  array.members = {
      {"boston.example.com", {true, true}, "r1", "p1", "192.0.2.10", true, "1.0.0"},
      {"newyork.example.com", {true, true}, "r2", "p2", "192.0.2.11", true, "1.0.0"},
      {"detroit.example.com", {true, true}, "r3", "p3", "192.0.2.12", true, "1.0.0"},
      {"seattle.example.com", {true, false}, "r1", "p1", "192.0.2.13", true, "1.0.0"},
  };
  array.primary = "boston.example.com";
  array.backup_primaries = {"newyork.example.com", "detroit.example.com", "seattle.example.com"};
  return array;
}

TEST_CASE("peer DNS names compare case-insensitively with a trailing dot ignored") {
  CHECK(NormalizeName("Boston.Example.COM.") == "boston.example.com");
  CHECK(NormalizeName("boston.example.com") == "boston.example.com");
  CHECK(NormalizeName("") == "");
  CHECK(NormalizeName(".") == "");
  CHECK(SameName("BOSTON.example.com.", "boston.EXAMPLE.com"));
  CHECK(SameName("a.example.com", "a.example.com."));
  CHECK_FALSE(SameName("a.example.com", "b.example.com"));
  CHECK_FALSE(SameName("a.example.com", "a.example.co"));
  // Only one trailing dot is ignored.
  CHECK_FALSE(SameName("a.example.com..", "a.example.com"));
}

TEST_CASE("Find locates members by peer DNS name") {
  Array array = FourMembers();
  const Array& const_array = array;
  REQUIRE(const_array.Find("NEWYORK.example.com.") != nullptr);
  CHECK(const_array.Find("NEWYORK.example.com.")->rack == "r2");
  CHECK(const_array.Find("chicago.example.com") == nullptr);
  Member* detroit = array.Find("detroit.example.com");
  REQUIRE(detroit != nullptr);
  detroit->rack = "r9";
  CHECK(array.members[2].rack == "r9");
}

TEST_CASE("role counts") {
  Array array = FourMembers();
  CHECK(array.BackendCount() == 3);
  CHECK(array.FrontendCount() == 4);
  array.members[0].roles = {false, false};
  CHECK(array.BackendCount() == 2);
  CHECK(array.FrontendCount() == 3);
}

TEST_CASE("resilience defaults are the seed product's") {
  Resilience r;
  CHECK_FALSE(r.failover_enabled);
  CHECK(r.monitor_interval == absl::Seconds(60));
  CHECK(r.monitor_attempts == 10);
  CHECK(r.find_primary_interval == absl::Seconds(60));
  CHECK(r.find_primary_attempts == 3);
  CHECK(r.primary_return_action == PrimaryReturnAction::kAccept);
  CHECK(r.mode == ResilienceMode::kArray);
  CHECK_FALSE(r.failback_window.has_value());
  CHECK(r.GracePeriod() == absl::Seconds(600));
  CHECK(r.FindNewPrimaryTimeout() == absl::Seconds(180));
}

TEST_CASE("grace period and find-new-primary timeout multiply interval by attempts") {
  Resilience r;
  r.monitor_interval = absl::Milliseconds(50);
  r.monitor_attempts = 4;
  r.find_primary_interval = absl::Milliseconds(20);
  r.find_primary_attempts = 5;
  CHECK(r.GracePeriod() == absl::Milliseconds(200));
  CHECK(r.FindNewPrimaryTimeout() == absl::Milliseconds(100));
}

TEST_CASE("failback window within a day and across midnight") {
  FailbackWindow day{9 * 60, 17 * 60};
  CHECK(day.Contains(9 * 60));
  CHECK(day.Contains(12 * 60));
  CHECK_FALSE(day.Contains(17 * 60));  // the end is exclusive
  CHECK_FALSE(day.Contains(8 * 60 + 59));

  FailbackWindow night{22 * 60, 4 * 60};
  CHECK(night.Contains(22 * 60));
  CHECK(night.Contains(23 * 60 + 59));
  CHECK(night.Contains(0));
  CHECK(night.Contains(3 * 60 + 59));
  CHECK_FALSE(night.Contains(4 * 60));
  CHECK_FALSE(night.Contains(12 * 60));

  FailbackWindow whole_day{5 * 60, 5 * 60};
  CHECK(whole_day.Contains(0));
  CHECK(whole_day.Contains(5 * 60));
  CHECK(whole_day.Contains(23 * 60));
}

TEST_CASE("enum names are the JSON values") {
  CHECK(ToString(PrimaryReturnAction::kAccept) == "accept");
  CHECK(ToString(PrimaryReturnAction::kAcceptSecondary) == "acceptsecondary");
  CHECK(ToString(PrimaryReturnAction::kNone) == "none");
  CHECK(ToString(ResilienceMode::kArray) == "array");
  CHECK(ToString(ResilienceMode::kQuorum) == "quorum");
}

}  // namespace
}  // namespace arraykit::model
