// Arrays and helpers shared by the placement tests.
#ifndef ARRAYKIT_TESTS_UNIT_PLACEMENT_FIXTURES_H_
#define ARRAYKIT_TESTS_UNIT_PLACEMENT_FIXTURES_H_

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/array.h"
#include "core/placement/placement.h"

namespace arraykit::placement::testing {

inline model::Member MakeMember(std::string name, bool frontend, bool backend, std::string rack,
                                std::string power) {
  model::Member member;
  member.name = std::move(name);
  member.roles = {frontend, backend};
  member.rack = std::move(rack);
  member.power = std::move(power);
  member.address = "192.0.2.1";
  member.version = "1.0.0";
  return member;
}

// The DESIGN.md worked case: boston primary; newyork, detroit, seattle in the backup list;
// three front-end+back-end members on three racks with distinct power, seattle front-end only.
inline model::Array GoodArray() {
  model::Array array;
  array.members = {MakeMember("boston.example.com", true, true, "r1", "p1"),
                   MakeMember("newyork.example.com", true, true, "r2", "p2"),
                   MakeMember("detroit.example.com", true, true, "r3", "p3"),
                   MakeMember("seattle.example.com", true, false, "r1", "p1")};
  array.primary = "boston.example.com";
  array.backup_primaries = {"newyork.example.com", "detroit.example.com", "seattle.example.com"};
  return array;
}

inline std::vector<std::string> Codes(const std::vector<Finding>& findings) {
  std::vector<std::string> codes;
  for (const Finding& finding : findings) codes.push_back(finding.code);
  return codes;
}

inline std::vector<Finding> WithCode(const std::vector<Finding>& findings, std::string_view code) {
  std::vector<Finding> out;
  std::copy_if(findings.begin(), findings.end(), std::back_inserter(out),
               [code](const Finding& f) { return f.code == code; });
  return out;
}

}  // namespace arraykit::placement::testing

#endif  // ARRAYKIT_TESTS_UNIT_PLACEMENT_FIXTURES_H_
