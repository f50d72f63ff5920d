// Entry points shared by every area, as a host sees them: ak_json_get, options versions, reasons.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "arraykit/arraykit.h"

namespace {

// ak_json_get's value at `pointer`, or the status code's word and reason when it fails.
std::string Get(const char* doc, const char* pointer) {
  char* out = reinterpret_cast<char*>(0x1);
  const ak_status status = ak_json_get(&out, doc, pointer);
  if (status != AK_OK) {
    CHECK(out == nullptr);
    return std::string("error ") + std::to_string(status) + " " + ak_last_error_reason();
  }
  std::string value(out);
  ak_free(out);
  return value;
}

const char kDoc[] = R"({"csr_pem": "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n",
  "valid": true, "count": 3, "members": [{"name": "boston.example.com"}, {"name": "x"}],
  "a/b": "slash", "m~n": "tilde", "nul": "a\u0000b", "nested": {"k": [1, 2]}})";

TEST_CASE("ak_json_get returns a string field's text, unescaped") {
  CHECK(Get(kDoc, "/csr_pem") == "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n");
  CHECK(Get(kDoc, "/members/0/name") == "boston.example.com");
  CHECK(Get(kDoc, "/a~1b") == "slash");
  CHECK(Get(kDoc, "/m~0n") == "tilde");
}

TEST_CASE("ak_json_get returns other values as compact JSON") {
  CHECK(Get(kDoc, "/valid") == "true");
  CHECK(Get(kDoc, "/count") == "3");
  CHECK(Get(kDoc, "/nested") == R"({"k":[1,2]})");
  CHECK(Get(R"([1, 2])", "") == "[1,2]");
}

TEST_CASE("ak_json_get refuses with a reason") {
  CHECK(Get(kDoc, "/missing") == "error 5 no_such_field");
  CHECK(Get(kDoc, "/members/7/name") == "error 5 no_such_field");
  CHECK(Get(kDoc, "/members/first") == "error 5 no_such_field");
  CHECK(Get(kDoc, "csr_pem") == "error 3 invalid_pointer");
  CHECK(Get(kDoc, "/nul") == "error 3 embedded_nul");
  CHECK(Get("{\"a\": 1,}", "/a") == "error 3 invalid_json");
  CHECK(Get(R"({"a": 1, "a": 2})", "/a") == "error 3 duplicate_key");
  CHECK(ak_json_get(nullptr, kDoc, "/a") == AK_INVALID_ARGUMENT);
  char* out = nullptr;
  CHECK(ak_json_get(&out, nullptr, "/a") == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "doc_json must not be NULL");
  CHECK(ak_json_get(&out, kDoc, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "pointer must not be NULL");
}

TEST_CASE("options structs accept every version from 1 to the library's own") {
  ak_json_options opts = AK_JSON_OPTIONS_INIT;
  char* report = nullptr;
  const char array[] = R"({"members": [{"name": "a.example.com"}]})";
  for (unsigned int version = 1; version <= AK_JSON_OPTIONS_VERSION; ++version) {
    opts.version = version;
    REQUIRE(ak_placement_check(&report, array, &opts) == AK_OK);
    ak_free(report);
  }
  opts.version = AK_JSON_OPTIONS_VERSION + 1;
  CHECK(ak_placement_check(&report, array, &opts) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "unsupported_version");
  CHECK(std::string(ak_last_error()).find("is newer than this library's") != std::string::npos);
  opts.version = 0;
  CHECK(ak_placement_check(&report, array, &opts) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "unsupported_version");

  ak_host_hooks hooks;
  CHECK(ak_host_hooks_init(&hooks, AK_HOST_HOOKS_VERSION + 1) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error_reason()) == "unsupported_version");
  REQUIRE(ak_host_hooks_init(&hooks, AK_HOST_HOOKS_VERSION) == AK_OK);
  CHECK(std::string(ak_last_error_reason()).empty());
}

// The status code table of docs/c-abi.md (its "## Status codes" section), as
// "AK_X 3 word description" rows.
std::vector<std::string> DocumentedCodes() {
  std::ifstream doc(ARRAYKIT_SOURCE_DIR "/docs/c-abi.md");
  REQUIRE(doc.good());
  std::vector<std::string> rows;
  std::string line;
  bool in_section = false;  // only the "## Status codes" section holds the table
  while (std::getline(doc, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Status codes";
    if (!in_section || line.rfind("| `AK_", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream stream(line.substr(1));
    std::string cell;
    while (std::getline(stream, cell, '|')) {
      const auto first = cell.find_first_not_of(' ');
      const auto last = cell.find_last_not_of(' ');
      cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
    }
    REQUIRE(cells.size() >= 4);
    const auto strip = [](const std::string& text) {
      return text.size() >= 2 && text.front() == '`' ? text.substr(1, text.size() - 2) : text;
    };
    rows.push_back(strip(cells[0]) + " " + cells[1] + " " + strip(cells[2]) + " " + cells[3]);
  }
  return rows;
}

TEST_CASE("docs/c-abi.md lists exactly the status code table of the header") {
  std::vector<std::string> header;
#define AK_HEADER_ROW_(name, value, word, text) \
  header.push_back(std::string(#name) + " " + std::to_string(value) + " " + word + " " + text);
  AK_STATUS_CODES(AK_HEADER_ROW_)
#undef AK_HEADER_ROW_
  CHECK(DocumentedCodes() == header);
}

}  // namespace
