// The rendering for people shows the timeline with reasons and the final formation.
#include <string>

#include <catch2/catch.hpp>

#include "core/sim/simulate.h"
#include "nlohmann/json.hpp"

namespace {

using Catch::Matchers::Contains;
using nlohmann::json;

TEST_CASE("the rendered result shows timeline reasons and the final formation") {
  const json scenario = json::parse(R"({
    "members": [{"name": "boston.example.com", "roles": ["frontend", "backend"]},
                {"name": "newyork.example.com", "roles": ["frontend"]}],
    "primary": "boston.example.com",
    "resilience": {"failover_enabled": true},
    "events": [{"at_s": 0, "crash": "boston.example.com"}],
    "until_s": 700
  })");
  absl::StatusOr<json> result = arraykit::sim::RunScenario(scenario);
  REQUIRE(result.ok());
  const std::string text = arraykit::sim::RenderResult(*result);
  CHECK_THAT(text, Contains("Timeline") && Contains("Final formation"));
  CHECK_THAT(text, Contains("600.0") && Contains("newyork.example.com promoted itself"));
  CHECK_THAT(text, Contains("standalone: newyork.example.com"));
  CHECK_THAT(text, Contains("down: boston.example.com"));
  CHECK_THAT(text, Contains("original formation: boston.example.com primary of"));
  CHECK_THAT(text, Contains("Members") && Contains("down"));
}

TEST_CASE("rendering tolerates any document") {
  CHECK_THAT(arraykit::sim::RenderResult(json()), Contains("nothing happened"));
  CHECK_THAT(arraykit::sim::RenderResult(json{{"arrays", 3}, {"timeline", json{1, "x"}}}),
             Contains("Final formation"));
  CHECK_THAT(
      arraykit::sim::RenderResult(json{{"members", json{json{{"name", "a"}, {"up", "yes"}}, 7}},
                                       {"timeline", json{json{{"at_s", "late"}}}},
                                       {"original_formation", json{{"primary", 5}}}}),
      Contains("Members") && Contains("original formation"));
}

}  // namespace
