#include "core/sim/simulate.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/model/array_json.h"
#include "core/sim/scenario.h"
#include "core/sim/simulator.h"
#include "core/status.h"

namespace arraykit::sim {
namespace {

using nlohmann::json;

// Reads without throwing: the renderer accepts any document and shows what it can.
std::string Text(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  if (it == object.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_boolean()) return it->get<bool>() ? "yes" : "no";
  if (it->is_number_unsigned()) return absl::StrCat(it->get<std::uint64_t>());
  if (it->is_number_integer()) return absl::StrCat(it->get<std::int64_t>());
  if (it->is_number()) return absl::StrFormat("%.1f", it->get<double>());
  if (it->is_array()) {
    std::vector<std::string> names;
    for (const json& item : *it) {
      if (item.is_string()) names.push_back(item.get<std::string>());
    }
    return names.empty() ? "-" : absl::StrJoin(names, ", ");
  }
  return "";
}

const json& Array(const json& object, const char* key) {
  static const json kEmpty = json::array();
  if (!object.is_object()) return kEmpty;
  auto it = object.find(key);
  return it != object.end() && it->is_array() ? *it : kEmpty;
}

// A left-aligned table; the last column is not padded.
std::string Table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size(), 0);
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  auto line = [&width](const std::vector<std::string>& cells) {
    std::string out = " ";
    for (std::size_t c = 0; c < cells.size(); ++c) {
      out += " ";
      out += cells[c];
      if (c + 1 < cells.size()) out += std::string(width[c] - cells[c].size() + 1, ' ');
    }
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

}  // namespace

absl::StatusOr<json> RunScenario(const json& doc, const RunOptions& options) {
  if (options.max_steps > kMaxTotalSteps) {
    return MakeError(absl::StatusCode::kInvalidArgument, "too_large",
                     absl::StrCat("max_steps: at most ", kMaxTotalSteps, " (0 = that bound), got ",
                                  options.max_steps));
  }
  absl::StatusOr<Scenario> scenario = ScenarioFromJson(doc);
  if (!scenario.ok()) return scenario.status();
  SimOptions sim_options;
  if (options.max_steps != 0) sim_options.max_steps = options.max_steps;
  Simulator simulator(*std::move(scenario), sim_options);
  if (absl::Status status = simulator.Run(); !status.ok()) return status;
  return simulator.Result();
}

absl::StatusOr<json> RunScenarioText(std::string_view text, const RunOptions& options) {
  absl::StatusOr<json> doc = model::ParseJsonDocument(text, "scenario");
  if (!doc.ok()) return doc.status();
  return RunScenario(*doc, options);
}

absl::StatusOr<json> ResultFromJsonText(std::string_view text) {
  // Results carry up to 100,000 timeline entries (far more than the 1 MiB of input documents)
  // and nest four levels deep; anything much deeper is not a result and is refused unparsed.
  constexpr std::size_t kMaxResultBytes = std::size_t{64} << 20;
  constexpr std::size_t kMaxResultNesting = 16;
  absl::StatusOr<json> parsed =
      model::ParseJsonDocument(text, "result_json", {kMaxResultBytes, kMaxResultNesting});
  if (!parsed.ok()) return parsed.status();
  const json& doc = *parsed;
  if (!doc.is_object()) {
    return MakeError(absl::StatusCode::kInvalidArgument, "not_a_result",
                     absl::StrCat("result_json: must be a JSON object (a simulation result), got ",
                                  doc.type_name()));
  }
  // A scenario passed by mistake has "events" but no "timeline": say so rather than render an
  // empty table.
  for (const char* key : {"timeline", "arrays"}) {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_array()) {
      return MakeError(absl::StatusCode::kInvalidArgument, "not_a_result",
                       absl::StrCat("result_json: not a simulation result: \"", key,
                                    "\" must be an array (pass the output of simulate, not the "
                                    "scenario)"));
    }
  }
  return parsed;
}

std::string RenderResult(const json& result) {
  std::string out = "Timeline\n";
  std::vector<std::vector<std::string>> rows;
  for (const json& entry : Array(result, "timeline")) {
    rows.push_back({absl::StrFormat("%.1f", entry.is_object() && entry.contains("at_s") &&
                                                    entry["at_s"].is_number()
                                                ? entry["at_s"].get<double>()
                                                : 0.0),
                    Text(entry, "member").empty() ? "-" : Text(entry, "member"),
                    Text(entry, "event"), Text(entry, "reason")});
  }
  out +=
      rows.empty() ? "  (nothing happened)\n" : Table({"at_s", "member", "event", "reason"}, rows);
  out += "\nFinal formation\n";
  rows.clear();
  for (const json& array : Array(result, "arrays")) {
    rows.push_back({Text(array, "primary"), Text(array, "members"), Text(array, "uncontactable"),
                    Text(array, "repaired"), Text(array, "epoch"), Text(array, "writable")});
  }
  out +=
      rows.empty()
          ? "  (no array of two or more members)\n"
          : Table({"primary", "members", "uncontactable", "repaired", "epoch", "writable"}, rows);
  const std::string standalone = Text(result, "standalone");
  const std::string down = Text(result, "down");
  out += absl::StrCat("  standalone: ", standalone.empty() ? "-" : standalone, "\n");
  out += absl::StrCat("  down: ", down.empty() ? "-" : down, "\n");
  const json* original = nullptr;
  if (result.is_object()) {
    if (auto it = result.find("original_formation"); it != result.end() && it->is_object()) {
      original = &*it;
    }
  }
  out += absl::StrCat("  original formation: ",
                      original == nullptr ? std::string("- (no failover happened)")
                                          : absl::StrCat(Text(*original, "primary"), " primary of ",
                                                         Text(*original, "members")),
                      "\n");
  out += absl::StrCat("  manual recovery required: ",
                      Text(result, "manual_recovery_required").empty()
                          ? "no"
                          : Text(result, "manual_recovery_required"),
                      "\n");
  rows.clear();
  for (const json& member : Array(result, "members")) {
    const bool up = !member.is_object() || !member.contains("up") || !member["up"].is_boolean() ||
                    member["up"].get<bool>();
    rows.push_back({Text(member, "name"), Text(member, "role"), up ? Text(member, "primary") : "-",
                    up ? Text(member, "epoch") : "-", up ? Text(member, "writable") : "-"});
  }
  if (!rows.empty()) {
    out += "\nMembers\n";
    out += Table({"member", "role", "follows", "epoch", "writable"}, rows);
  }
  return out;
}

}  // namespace arraykit::sim
