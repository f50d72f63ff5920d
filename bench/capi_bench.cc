// What a host pays per call through the C ABI (JSON text in and out, the exception guard, the
// last-error bookkeeping), beside each other: a placement check, a failover simulation, and a
// peer certificate signed by the stateless ak_pki_csr_sign (parses the CA key every call)
// versus a loaded ak_ca handle.
//
//   cmake --preset release && cmake --build --preset release --target capi_bench
//   build/release/bench/capi_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <stdexcept>
#include <string>

#include <benchmark/benchmark.h>

#include "arraykit/arraykit.h"
#include "nlohmann/json.hpp"

namespace {

using nlohmann::json;

// Takes ownership of a string returned by the library.
std::string Take(char* raw) {
  std::string text = raw != nullptr ? raw : "";
  ak_free(raw);
  return text;
}

void Require(ak_status code, const char* what) {
  if (code != AK_OK) throw std::runtime_error(std::string(what) + ": " + ak_last_error());
}

json TenMemberArray() {
  json members = json::array();
  for (int i = 0; i < 10; ++i) {
    members.push_back({{"name", "node" + std::to_string(i) + ".example.com"},
                       {"roles", i < 3 ? json{"frontend", "backend"} : json{"frontend"}},
                       {"rack", "r" + std::to_string(i % 3)},
                       {"power", "p" + std::to_string(i % 3)},
                       {"address", "192.0.2." + std::to_string(10 + i)},
                       {"address_static", true},
                       {"version", "1.0.0"}});
  }
  json backups = json::array();
  for (int i = 1; i < 10; ++i) backups.push_back("node" + std::to_string(i) + ".example.com");
  return {{"members", members},
          {"primary", "node0.example.com"},
          {"backup_primaries", backups},
          {"resilience", {{"failover_enabled", true}}}};
}

void BM_PlacementCheck10(benchmark::State& state) {
  const std::string text = TenMemberArray().dump();
  for (auto _ : state) {
    char* out = nullptr;
    Require(ak_placement_check(&out, text.c_str(), nullptr), "ak_placement_check");
    benchmark::DoNotOptimize(out);
    ak_free(out);
  }
}
BENCHMARK(BM_PlacementCheck10);

// The primary crashes at 0 and comes back at 2400 s: failover to the first backup at 600 s,
// then recovery with the default `accept`.
void BM_SimulatePrimaryCrash10(benchmark::State& state) {
  json scenario = TenMemberArray();
  scenario["events"] = json::array({{{"at_s", 0}, {"crash", "node0.example.com"}},
                                    {{"at_s", 2400}, {"restart", "node0.example.com"}}});
  scenario["until_s"] = 3600;
  const std::string text = scenario.dump();
  for (auto _ : state) {
    char* out = nullptr;
    Require(ak_simulate(&out, text.c_str(), nullptr), "ak_simulate");
    benchmark::DoNotOptimize(out);
    ak_free(out);
  }
}
BENCHMARK(BM_SimulatePrimaryCrash10)->Unit(benchmark::kMicrosecond);

struct Pki {
  std::string ca_pem;
  std::string ca_key;
  std::string csr;
  std::string options;
};

const Pki& SharedPki() {
  static const Pki pki = [] {
    Pki p;
    char* ca_json = nullptr;
    char* ca_key = nullptr;
    Require(ak_pki_ca_create(&ca_json, &ca_key, nullptr, nullptr), "ak_pki_ca_create");
    p.ca_pem = json::parse(Take(ca_json)).at("certificate_pem");
    p.ca_key = ca_key;
    ak_free_secret(ca_key);
    char* request = nullptr;
    char* member_key = nullptr;
    Require(ak_pki_request_create(&request, &member_key, R"({"name": "node1.example.com"})",
                                  nullptr),
            "ak_pki_request_create");
    ak_free_secret(member_key);
    p.csr = json::parse(Take(request)).at("csr_pem");
    p.options = R"({"members": ["node0.example.com", "node1.example.com"]})";
    return p;
  }();
  return pki;
}

void BM_SignCsrStateless(benchmark::State& state) {
  const Pki& pki = SharedPki();
  for (auto _ : state) {
    char* out = nullptr;
    Require(ak_pki_csr_sign(&out, pki.ca_pem.c_str(), pki.ca_key.c_str(), pki.csr.c_str(),
                            pki.options.c_str(), nullptr),
            "ak_pki_csr_sign");
    ak_free(out);
  }
}
BENCHMARK(BM_SignCsrStateless)->Unit(benchmark::kMicrosecond);

void BM_SignCsrWithHandle(benchmark::State& state) {
  const Pki& pki = SharedPki();
  ak_ca* ca = nullptr;
  Require(ak_ca_open(&ca, pki.ca_pem.c_str(), pki.ca_key.c_str()), "ak_ca_open");
  for (auto _ : state) {
    char* out = nullptr;
    Require(ak_ca_sign_csr(&out, ca, pki.csr.c_str(), pki.options.c_str(), nullptr),
            "ak_ca_sign_csr");
    ak_free(out);
  }
  ak_ca_close(ca);
}
BENCHMARK(BM_SignCsrWithHandle)->Unit(benchmark::kMicrosecond);

}  // namespace
