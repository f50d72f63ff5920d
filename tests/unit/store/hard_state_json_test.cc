// The HardState <-> JSON codec the store keeps the failover machine's state with.
#include <catch2/catch.hpp>

#include "core/status.h"
#include "nlohmann/json.hpp"
#include "store/hard_state_json.h"
#include "store_test_util.h"

using arraykit::ReasonOf;
using arraykit::failover::HardState;
using arraykit::store::HardStateFromJson;
using arraykit::store::HardStateFromText;
using arraykit::store::HardStateToJson;
using arraykit::store::HardStateToText;
using arraykit::store::testing::FullHardState;
using nlohmann::json;

TEST_CASE("every HardState field survives a round trip through JSON text") {
  const HardState state = FullHardState();
  const std::string text = HardStateToText(state);
  auto back = HardStateFromText(text);
  REQUIRE(back.ok());
  CHECK(*back == state);
  // Each field that FullHardState sets away from its default is in the text, so the
  // comparison above covers it.
  const HardState defaults;
  CHECK(state.formation != defaults.formation);
  CHECK(state.original.has_value());
  CHECK(state.formation.resilience.failback_window.has_value());
  CHECK(text.find("\"failback_window\":{\"end\":\"04:30\",\"start\":\"22:00\"}") !=
        std::string::npos);
  CHECK(text.find("\"version\":18364758544493064720") != std::string::npos);
  CHECK(text.find("\"promise_until_ns\":987654321012345") != std::string::npos);
}

TEST_CASE("a default HardState and one without an original formation round trip") {
  const HardState defaults;
  auto back = HardStateFromText(HardStateToText(defaults));
  REQUIRE(back.ok());
  CHECK(*back == defaults);
  CHECK(HardStateToJson(defaults)["original"].is_null());

  HardState state = FullHardState();
  state.original.reset();
  state.promise_until = absl::Nanoseconds(-5);  // a monotonic clock may start below zero
  back = HardStateFromText(HardStateToText(state));
  REQUIRE(back.ok());
  CHECK(*back == state);
}

TEST_CASE("the stored HardState document is strict") {
  const json good = HardStateToJson(FullHardState());
  struct Case {
    const char* what;
    json doc;
    const char* reason;
    const char* field;
  };
  std::vector<Case> cases;
  {
    json doc = good;
    doc["epochs"] = 1;
    cases.push_back({"unknown field", doc, "unknown_field", "hard_state.epochs"});
  }
  {
    json doc = good;
    doc.erase("voted_for");
    cases.push_back({"missing field", doc, "invalid_argument", "hard_state.voted_for"});
  }
  {
    json doc = good;
    doc["formation"]["resilience"].erase("monitor_attempts");
    cases.push_back({"missing resilience setting", doc, "invalid_argument",
                     "hard_state.formation.resilience.monitor_attempts"});
  }
  {
    json doc = good;
    doc["epoch"] = -1;
    cases.push_back({"negative epoch", doc, "invalid_argument", "hard_state.epoch"});
  }
  {
    json doc = good;
    doc["log"]["index"] = 1.5;
    cases.push_back({"fractional index", doc, "invalid_argument", "hard_state.log.index"});
  }
  {
    json doc = good;
    doc["original"]["members"] = "boston.example.com";
    cases.push_back({"members not a list", doc, "invalid_argument", "hard_state.original.members"});
  }
  {
    json doc = good;
    doc["repaired"] = "yes";
    cases.push_back({"bool as string", doc, "invalid_argument", "hard_state.repaired"});
  }
  {
    json doc = good;
    doc["log"]["term"] = 1;
    cases.push_back({"unknown log field", doc, "unknown_field", "hard_state.log.term"});
  }
  for (const Case& c : cases) {
    INFO(c.what);
    auto parsed = HardStateFromJson(c.doc);
    REQUIRE_FALSE(parsed.ok());
    CHECK(ReasonOf(parsed.status()) == c.reason);
    CHECK(std::string(parsed.status().message()).find(c.field) != std::string::npos);
  }
  CHECK_FALSE(HardStateFromText("{not json").ok());
  CHECK(ReasonOf(HardStateFromText("[]").status()) == "invalid_argument");
}
