// The crash test's child (driven by store_crash_test): opens the store in argv[1] and commits
// batches forever — each a hard state naming the last log index, 1-8 new log entries
// (CrashEntry), the entries applied so far minus a small lag, now and then a compaction — and
// after each Commit returns writes "ack <last index> <applied index>" to stdout and flushes it.
// The parent kills it with SIGKILL at a random instant and checks that nothing acknowledged is
// lost. Exits 2 (message on stderr) when the store refuses to open or commit.
// With --ack-before-commit it acknowledges each batch before committing it: the bug the parent's
// --expect-loss run must catch.
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>

#include "store/store.h"
#include "store_test_util.h"

using arraykit::replication::Ready;
using arraykit::store::Batch;
using arraykit::store::Store;
using arraykit::store::testing::CrashEntry;

int main(int argc, char** argv) {
  const bool ack_first = argc == 3 && std::string(argv[2]) == "--ack-before-commit";
  if (argc != 2 && !ack_first) {
    std::fprintf(stderr, "usage: store_crash_child DATA_DIR [--ack-before-commit]\n");
    return 2;
  }
  auto store = Store::Open(argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 2;
  }
  auto durable = (*store)->LoadReplication();
  if (!durable.ok()) {
    std::fprintf(stderr, "load: %s\n", durable.status().ToString().c_str());
    return 2;
  }
  std::uint64_t last = durable->log.empty() ? durable->log_base_index : durable->log.back().index;
  std::uint64_t applied = durable->repository.applied_index;
  std::uint64_t base = durable->log_base_index;
  std::mt19937_64 rng(static_cast<std::uint64_t>(getpid()) * 0x9e3779b97f4a7c15ULL);
  std::printf("open %llu %llu\n", static_cast<unsigned long long>(last),
              static_cast<unsigned long long>(applied));
  std::fflush(stdout);
  for (std::uint64_t batches = 0; batches < 1000000; ++batches) {
    Ready ready;
    const std::uint64_t count = 1 + rng() % 8;
    for (std::uint64_t i = 1; i <= count; ++i) ready.append.push_back(CrashEntry(last + i));
    const std::uint64_t new_last = last + count;
    const std::uint64_t lag = rng() % 4;
    const std::uint64_t apply_to = new_last > lag ? new_last - lag : 0;
    for (std::uint64_t i = applied + 1; i <= apply_to; ++i) ready.apply.push_back(CrashEntry(i));
    const std::uint64_t new_applied = apply_to > applied ? apply_to : applied;
    if (batches % 64 == 63 && new_applied > base + 256) {
      ready.compact_through = new_applied - 256;
    }
    Batch batch;
    arraykit::failover::HardState state;
    state.epoch = CrashEntry(new_last).epoch;
    state.log = {state.epoch, new_last};
    batch.hard_state = state;
    batch.replication = &ready;
    auto ack = [&] {
      std::printf("ack %llu %llu\n", static_cast<unsigned long long>(new_last),
                  static_cast<unsigned long long>(new_applied));
      std::fflush(stdout);
    };
    if (ack_first) {
      // Acknowledge, then do other work before persisting (as a runtime that sends before it
      // persists would): the window in which a kill loses an acknowledged batch.
      ack();
      usleep(2000);
    }
    absl::Status status = (*store)->Commit(batch);
    if (!status.ok()) {
      std::fprintf(stderr, "commit: %s\n", status.ToString().c_str());
      return 2;
    }
    last = new_last;
    applied = new_applied;
    if (ready.compact_through) base = *ready.compact_through;
    if (!ack_first) ack();
  }
  return 0;
}
