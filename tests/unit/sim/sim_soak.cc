// Soak runner for the randomized simulation: sim_soak SEEDS [START], or
// sim_soak --live SEEDS [START] adds the quorum liveness check (Simulator::CheckQuorumLive);
// sim_soak --seed N --print to replay one seed and print its scenario and timeline, or
// sim_soak --run SCENARIO.json [--json] to run one scenario file.
// Exit 0 when every seed ran clean, 1 when any failed (each failing seed is printed, and the run
// goes on), 2 on bad usage. Progress every 10,000 seeds and a summary line at the end.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/sim/random_scenario.h"
#include "core/sim/simulate.h"

namespace {

bool ParseCount(const char* text, std::uint64_t& out) {
  char* end = nullptr;
  out = std::strtoull(text, &end, 10);
  return end != text && *end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "--run") {  // run one scenario file and render it
    std::FILE* file = std::fopen(argv[2], "rb");
    if (file == nullptr) return 2;
    std::string text;
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, file)) > 0;)
      text.append(buffer, n);
    std::fclose(file);
    absl::StatusOr<nlohmann::json> result = arraykit::sim::RunScenarioText(text);
    if (!result.ok()) {
      std::fprintf(stderr, "%s\n", std::string(result.status().message()).c_str());
      return 2;
    }
    const bool json = argc == 4 && std::string(argv[3]) == "--json";
    std::printf("%s\n",
                json ? result->dump(2).c_str() : arraykit::sim::RenderResult(*result).c_str());
    return 0;
  }
  if (argc == 4 && std::string(argv[1]) == "--seed" && std::string(argv[3]) == "--print") {
    std::uint64_t seed = 0;
    if (!ParseCount(argv[2], seed)) return 2;
    const nlohmann::json scenario = arraykit::sim::RandomScenario(seed);
    std::printf("%s\n", scenario.dump(2).c_str());
    absl::StatusOr<nlohmann::json> result = arraykit::sim::RunScenario(scenario);
    if (!result.ok()) {
      std::printf("error: %s\n", std::string(result.status().message()).c_str());
    } else {
      std::printf("%s", arraykit::sim::RenderResult(*result).c_str());
    }
    const absl::Status status = arraykit::sim::RunRandomSeed(seed);
    std::printf("%s\n", status.ok() ? "invariants: ok" : std::string(status.message()).c_str());
    return status.ok() ? 0 : 1;
  }
  arraykit::sim::RandomOptions options;
  if (argc >= 2 && std::string(argv[1]) == "--live") {  // also the quorum liveness check
    options.check_liveness = true;
    --argc;
    ++argv;
  }
  std::uint64_t seeds = 0;
  std::uint64_t start = 1;
  if (argc < 2 || argc > 3 || !ParseCount(argv[1], seeds) ||
      (argc == 3 && !ParseCount(argv[2], start))) {
    std::fprintf(stderr,
                 "usage: sim_soak [--live] SEEDS [START]\n       sim_soak --seed N --print\n"
                 "       sim_soak --run SCENARIO.json [--json]\n");
    return 2;
  }
  // Line-buffered, so a log file shows progress and failures as they happen. Every seed runs,
  // also after a failure: each failing seed is printed (replay it with --seed N --print).
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  constexpr std::uint64_t kProgressEvery = 10000;
  const auto began = std::chrono::steady_clock::now();
  auto elapsed = [&began] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  };
  std::uint64_t failed = 0;
  std::uint64_t done = 0;
  for (std::uint64_t seed = start; seed < start + seeds; ++seed) {
    const absl::Status status = arraykit::sim::RunRandomSeed(seed, options);
    if (!status.ok()) {
      ++failed;
      std::printf("FAILED %s\n", std::string(status.message()).c_str());
    }
    if (++done % kProgressEvery == 0 && done < seeds) {
      const double seconds = elapsed();
      std::printf("progress: %llu of %llu seeds (through %llu), %llu failed, %.0f s, %.1f seeds/s\n",
                  static_cast<unsigned long long>(done), static_cast<unsigned long long>(seeds),
                  static_cast<unsigned long long>(seed), static_cast<unsigned long long>(failed),
                  seconds, static_cast<double>(done) / seconds);
    }
  }
  const double seconds = elapsed();
  const double rate = seconds > 0 ? static_cast<double>(seeds) / seconds : 0.0;
  if (failed == 0) {
    std::printf("%llu seeds (%llu..%llu) ran clean in %.1f s (%.1f seeds/s)\n",
                static_cast<unsigned long long>(seeds), static_cast<unsigned long long>(start),
                static_cast<unsigned long long>(start + seeds - 1), seconds, rate);
    return 0;
  }
  std::printf("%llu seeds (%llu..%llu): %llu FAILED (listed above) in %.1f s (%.1f seeds/s)\n",
              static_cast<unsigned long long>(seeds), static_cast<unsigned long long>(start),
              static_cast<unsigned long long>(start + seeds - 1),
              static_cast<unsigned long long>(failed), seconds, rate);
  return 1;
}
