// Runs every scenario file of tests/scenarios (and examples/scenarios) and compares the result
// with the file's "expect" block and "checkpoints" (the state at an earlier time, obtained by
// running the same scenario with until_s set to the checkpoint).
//
// Matching rules (docs/failover.md, "Scenario documents"): listed fields must be equal
// (`standalone`, `down`, `manual_recovery_required`, `original_formation_restored`, the listed
// keys of `original_formation`); `arrays` must have exactly the listed arrays (matched by
// primary); `members` entries are matched by name and only their listed keys compared; `timeline` entries must appear in the given order (other entries may
// come between), each matching at_s/member/event/code and `reason_contains` as a substring;
// `absent_events` must not appear at all.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/sim/simulate.h"
#include "nlohmann/json.hpp"

namespace {

using nlohmann::json;

json Load(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

std::vector<std::filesystem::path> Files(const char* dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Every failure message names the file and what differs.
std::vector<std::string> Compare(const json& expect, const json& result) {
  std::vector<std::string> problems;
  for (const char* key :
       {"standalone", "down", "manual_recovery_required", "original_formation_restored"}) {
    if (expect.contains(key) && expect[key] != result[key]) {
      problems.push_back(std::string(key) + ": expected " + expect[key].dump() + ", got " +
                         result[key].dump());
    }
  }
  if (expect.contains("original_formation")) {
    const json& want = expect["original_formation"];
    const json& got = result["original_formation"];
    if (want.is_null() != got.is_null()) {
      problems.push_back("original_formation: expected " + want.dump() + ", got " + got.dump());
    } else if (want.is_object()) {
      for (const auto& [key, value] : want.items()) {
        if (got.value(key, json()) != value) {
          problems.push_back("original_formation." + key + ": expected " + value.dump() + ", got " +
                             got.value(key, json()).dump());
        }
      }
    }
  }
  if (expect.contains("arrays")) {
    const json& want = expect["arrays"];
    const json& got = result["arrays"];
    if (want.size() != got.size()) {
      problems.push_back("arrays: expected " + std::to_string(want.size()) + " arrays, got " +
                         got.dump());
    }
    for (const json& array : want) {
      auto it = std::find_if(got.begin(), got.end(),
                             [&array](const json& g) { return g["primary"] == array["primary"]; });
      if (it == got.end()) {
        problems.push_back("arrays: no array with primary " + array["primary"].dump() + "; got " +
                           got.dump());
        continue;
      }
      for (const auto& [key, value] : array.items()) {
        if ((*it)[key] != value) {
          problems.push_back("arrays[primary " + array["primary"].get<std::string>() + "]." + key +
                             ": expected " + value.dump() + ", got " + (*it)[key].dump());
        }
      }
    }
  }
  if (expect.contains("members")) {
    for (const json& want : expect["members"]) {
      const json& got = result["members"];
      auto it = std::find_if(got.begin(), got.end(),
                             [&want](const json& g) { return g["name"] == want["name"]; });
      if (it == got.end()) {
        problems.push_back("members: no member " + want["name"].dump());
        continue;
      }
      for (const auto& [key, value] : want.items()) {
        if (it->value(key, json()) != value) {
          problems.push_back("members[" + want["name"].get<std::string>() + "]." + key +
                             ": expected " + value.dump() + ", got " +
                             it->value(key, json()).dump());
        }
      }
    }
  }
  // Replication (docs/replication.md): lists matched in order, exactly as long, on the fields
  // given; "converged": every up member holds the same digest and applied position.
  for (const char* list : {"writes", "conflicts", "rolled_back"}) {
    if (!expect.contains(list)) continue;
    const json& want = expect[list];
    const json& got = result[list];
    if (want.size() != got.size()) {
      problems.push_back(std::string(list) + ": expected " + std::to_string(want.size()) +
                         " entries, got " + got.dump());
      continue;
    }
    for (std::size_t i = 0; i < want.size(); ++i) {
      for (const auto& [key, value] : want[i].items()) {
        if (got[i].value(key, json()) != value) {
          problems.push_back(std::string(list) + "[" + std::to_string(i) + "]." + key +
                             ": expected " + value.dump() + ", got " + got[i].dump());
        }
      }
    }
  }
  if (expect.contains("converged")) {
    bool converged = true;
    const json* first = nullptr;
    for (const json& member : result["members"]) {
      if (!member["up"].get<bool>()) continue;
      if (first == nullptr) first = &member;
      converged &= member["digest"] == (*first)["digest"] &&
                   member["applied"] == (*first)["applied"];
    }
    if (converged != expect["converged"].get<bool>()) {
      problems.push_back("converged: expected " + expect["converged"].dump() + ", members " +
                         result["members"].dump());
    }
  }
  if (expect.contains("timeline")) {
    const json& timeline = result["timeline"];
    std::size_t next = 0;
    for (const json& want : expect["timeline"]) {
      bool found = false;
      while (next < timeline.size() && !found) {
        const json& entry = timeline[next++];
        found = true;
        for (const auto& [key, value] : want.items()) {
          if (key == "reason_contains") {
            found &= entry["reason"].get<std::string>().find(value.get<std::string>()) !=
                     std::string::npos;
          } else if (key == "at_s") {
            found &= entry["at_s"].get<double>() == value.get<double>();
          } else {
            found &= entry.value(key, json()) == value;
          }
        }
      }
      if (!found) {
        problems.push_back("timeline: no entry (in order) matching " + want.dump());
        break;
      }
    }
  }
  if (expect.contains("absent_events")) {
    for (const json& entry : result["timeline"]) {
      for (const json& event : expect["absent_events"]) {
        if (entry["event"] == event) problems.push_back("timeline: unexpected " + entry.dump());
      }
    }
  }
  return problems;
}

void RunFile(const std::filesystem::path& path) {
  const json scenario = Load(path);
  INFO(path.filename().string());
  REQUIRE(scenario.contains("expect"));
  absl::StatusOr<json> result = arraykit::sim::RunScenario(scenario);
  REQUIRE(result.ok());
  for (const std::string& problem : Compare(scenario["expect"], *result)) {
    INFO(arraykit::sim::RenderResult(*result));
    FAIL_CHECK(path.filename().string() << ": " << problem);
  }
  for (const json& checkpoint : scenario.value("checkpoints", json::array())) {
    json truncated = scenario;
    const double at = checkpoint["at_s"].get<double>();
    truncated["until_s"] = at;
    json events = json::array();
    for (const json& event : scenario.value("events", json::array())) {
      if (event["at_s"].get<double>() <= at) events.push_back(event);
    }
    truncated["events"] = events;
    absl::StatusOr<json> partial = arraykit::sim::RunScenario(truncated);
    REQUIRE(partial.ok());
    for (const std::string& problem : Compare(checkpoint, *partial)) {
      INFO(arraykit::sim::RenderResult(*partial));
      FAIL_CHECK(path.filename().string() << " at " << at << " s: " << problem);
    }
  }
}

TEST_CASE("scenario files of tests/scenarios give their expected outcome") {
  const auto files = Files(ARRAYKIT_SCENARIO_DIR);
  REQUIRE(files.size() >= 20);
  for (const auto& path : files) RunFile(path);
}

TEST_CASE("example scenarios give the outcome their README describes") {
  const auto files = Files(ARRAYKIT_EXAMPLE_SCENARIO_DIR);
  REQUIRE(files.size() >= 4);
  for (const auto& path : files) RunFile(path);
}

TEST_CASE("a run replays exactly") {
  for (const auto& path : Files(ARRAYKIT_SCENARIO_DIR)) {
    const json scenario = Load(path);
    INFO(path.filename().string());
    absl::StatusOr<json> first = arraykit::sim::RunScenario(scenario);
    absl::StatusOr<json> second = arraykit::sim::RunScenario(scenario);
    REQUIRE(first.ok());
    REQUIRE(second.ok());
    CHECK(*first == *second);
  }
}

}  // namespace
