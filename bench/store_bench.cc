// What a member's loop iteration pays to persist (docs/store.md, docs/PERFORMANCE.md): the
// latency of Store::Commit — one transaction, WAL, synchronous=FULL, so each commit waits for
// one fsync of the WAL — for a batch of 1 log entry and of 64 (appended and applied, with the
// hard state), and for a hard state alone (a failover step). Each iteration is one Commit; the
// p50 and p99 of the individual commits are reported as counters (microseconds).
//
//   cmake --build --preset release --target store_bench
//   build/release/bench/store_bench --benchmark_min_time=3
//
// The store lives in a fresh directory under $TMPDIR (default /tmp): put it on the disk you
// want to measure (tmpfs makes fsync free and the figures meaningless).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "absl/strings/str_cat.h"
#include "core/replication/types.h"
#include "store/store.h"

namespace {

using arraykit::replication::Entry;
using arraykit::replication::Ready;
using arraykit::store::Batch;
using arraykit::store::Store;

class BenchDir {
 public:
  BenchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                          "/arraykit-store-bench-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~BenchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string member() const { return path_ + "/member"; }

 private:
  std::string path_;
};

// Entry `index`, linked after `previous_chain` (the store refuses an append that does not link).
Entry MakeEntry(std::uint64_t index, std::uint64_t previous_chain) {
  Entry entry;
  entry.index = index;
  entry.epoch = 3;
  entry.writer = "boston.example.com";
  entry.category = "sessions";
  entry.key = absl::StrCat("session-", index % 1000);
  entry.value = absl::StrCat(R"({"user":"operator)", index % 50,
                             R"(","started":"2026-12-01T03:40:00Z","client":"192.0.2.)",
                             index % 250, R"(","ttl_s":3600})");
  entry.chain = arraykit::replication::Chain(previous_chain, entry);
  return entry;
}

arraykit::failover::HardState MakeHardState(std::uint64_t index) {
  arraykit::failover::HardState state;
  state.formation.primary = "boston.example.com";
  state.formation.members = {"boston.example.com", "newyork.example.com", "detroit.example.com"};
  state.formation.backup_primaries = {"newyork.example.com"};
  state.formation.voters = state.formation.members;
  state.formation.version = 7;
  state.epoch = 3;
  state.log = {3, index};
  return state;
}

void ReportPercentiles(benchmark::State& state, std::vector<double>& micros) {
  if (micros.empty()) return;
  std::sort(micros.begin(), micros.end());
  auto at = [&](double q) {
    return micros[std::min(micros.size() - 1, static_cast<std::size_t>(q * micros.size()))];
  };
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
  state.counters["max_us"] = micros.back();
}

// One loop iteration: the hard state plus `entries` new log entries, applied in the same batch
// (a primary's write path); compaction every 4096 entries keeps the log at its working size.
void BM_Commit(benchmark::State& state) {
  const auto entries = static_cast<std::uint64_t>(state.range(0));
  BenchDir dir;
  auto store = Store::Open(dir.member());
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  std::uint64_t last = 0;
  std::uint64_t last_chain = 0;
  auto commit = [&](Store& s) {
    Ready ready;
    std::uint64_t chain = last_chain;
    for (std::uint64_t i = 1; i <= entries; ++i) {
      ready.append.push_back(MakeEntry(last + i, chain));
      chain = ready.append.back().chain;
    }
    ready.apply = ready.append;
    if (last % 4096 + entries > 4096 && last > 2048) ready.compact_through = last - 2048;
    Batch batch;
    batch.hard_state = MakeHardState(last + entries);
    batch.replication = &ready;
    if (!s.Commit(batch).ok()) return false;
    last += entries;
    last_chain = chain;
    return true;
  };
  std::vector<double> micros;
  std::int64_t measured = 0;
  for (auto _ : state) {
    const auto began = std::chrono::steady_clock::now();
    const bool ok = commit(**store);
    const auto took = std::chrono::steady_clock::now() - began;
    if (!ok) {
      state.SkipWithError("commit failed");
      return;
    }
    micros.push_back(std::chrono::duration<double, std::micro>(took).count());
    measured += static_cast<std::int64_t>(entries);
  }
  state.SetItemsProcessed(measured);
  ReportPercentiles(state, micros);
}
BENCHMARK(BM_Commit)->ArgName("entries")->Arg(1)->Arg(64)->UseRealTime()->Unit(
    benchmark::kMicrosecond);

// A failover step's persist: the hard state alone.
void BM_CommitHardState(benchmark::State& state) {
  BenchDir dir;
  auto store = Store::Open(dir.member());
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  std::uint64_t n = 0;
  auto commit = [&](Store& s) {
    Batch batch;
    batch.hard_state = MakeHardState(++n);
    return s.Commit(batch).ok();
  };
  std::vector<double> micros;
  for (auto _ : state) {
    const auto began = std::chrono::steady_clock::now();
    const bool ok = commit(**store);
    const auto took = std::chrono::steady_clock::now() - began;
    if (!ok) {
      state.SkipWithError("commit failed");
      return;
    }
    micros.push_back(std::chrono::duration<double, std::micro>(took).count());
  }
  ReportPercentiles(state, micros);
}
BENCHMARK(BM_CommitHardState)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The floor: what one durable write costs on this disk without SQLite (a 4 KiB pwrite over an
// existing block and an fdatasync, as a WAL commit's sync), to read the figures above against.
void BM_FsyncFloor(benchmark::State& state) {
  BenchDir dir;
  std::filesystem::create_directory(dir.member());
  const std::string path = dir.member() + "/floor";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    state.SkipWithError("cannot create the file");
    return;
  }
  const std::string page(4096, 'x');
  // Overwrite blocks that exist, as SQLite does once its WAL is reused from the start.
  for (off_t at = 0; at < 4096 * 1024; at += 4096) {
    if (pwrite(fd, page.data(), page.size(), at) != static_cast<ssize_t>(page.size())) break;
  }
  fsync(fd);
  std::vector<double> micros;
  off_t offset = 0;
  for (auto _ : state) {
    const auto began = std::chrono::steady_clock::now();
    if (pwrite(fd, page.data(), page.size(), offset) != static_cast<ssize_t>(page.size()) ||
        fdatasync(fd) != 0) {
      state.SkipWithError("write failed");
      break;
    }
    const auto took = std::chrono::steady_clock::now() - began;
    micros.push_back(std::chrono::duration<double, std::micro>(took).count());
    offset = (offset + 4096) % (4096 * 1024);
  }
  close(fd);
  ReportPercentiles(state, micros);
}
BENCHMARK(BM_FsyncFloor)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Start-up: loading a store of 20,000 log entries and 1,000 records.
void BM_LoadReplication(benchmark::State& state) {
  BenchDir dir;
  {
    auto store = Store::Open(dir.member());
    if (!store.ok()) {
      state.SkipWithError(std::string(store.status().message()).c_str());
      return;
    }
    Ready ready;
    std::uint64_t chain = 0;
    for (std::uint64_t i = 1; i <= 20000; ++i) {
      ready.append.push_back(MakeEntry(i, chain));
      chain = ready.append.back().chain;
    }
    ready.apply = ready.append;
    Batch batch;
    batch.replication = &ready;
    if (!(*store)->Commit(batch).ok()) {
      state.SkipWithError("commit failed");
      return;
    }
  }
  auto store = Store::Open(dir.member());
  for (auto _ : state) {
    auto durable = (*store)->LoadReplication();
    if (!durable.ok() || durable->log.size() != 20000) {
      state.SkipWithError("load failed");
      return;
    }
    benchmark::DoNotOptimize(durable->repository.records.size());
  }
}
BENCHMARK(BM_LoadReplication)->Unit(benchmark::kMillisecond);

}  // namespace
