// The measurement loops both bench clients share (bench/e2e/e2e_client.cc for arraykit,
// bench/e2e/etcd_client.cc for etcd): the same threads, clocks, keys, values and statistics,
// so the two systems' figures differ only by what one write costs through each system's own
// client. Each loop returns a JSON document the harness (bench/e2e/run) reads.
#ifndef ARRAYKIT_BENCH_E2E_CLIENT_LOOPS_H_
#define ARRAYKIT_BENCH_E2E_CLIENT_LOOPS_H_

#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"

namespace e2e {

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, as Python's time.monotonic()
using nlohmann::json;

// One write of `value` at `key`: true when the system acknowledged it; otherwise `error` says
// why (the system's own words).
using PutFn = std::function<bool(const std::string& key, const std::string& value,
                                 std::string* error)>;

inline double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

inline json Summary(const std::vector<double>& ms) {
  return json{{"count", ms.size()},
              {"p50_ms", Percentile(ms, 0.50)},
              {"p90_ms", Percentile(ms, 0.90)},
              {"p99_ms", Percentile(ms, 0.99)},
              {"max_ms", ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end())}};
}

// The bench's keys and values: "bench/NNNNNN" and a payload of `bytes` printable characters
// (the arraykit client wraps it in quotes as a JSON string; both carry the same bytes).
inline std::string Key(const std::string& prefix, long i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06ld", i);
  return prefix + buf;
}

inline std::string Payload(std::size_t bytes, long i) {
  std::string v(bytes, 'v');
  const std::string stamp = std::to_string(i);
  std::copy(stamp.begin(), stamp.end(), v.begin());
  return v;
}

// Sequential writes: one at a time, each timed from the call to its acknowledgement.
inline json Sequential(const PutFn& put, long count, std::size_t value_bytes,
                       const std::string& prefix) {
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(count));
  long errors = 0;
  std::string error, first_error;
  const auto start = Clock::now();
  for (long i = 0; i < count; ++i) {
    const std::string key = Key(prefix, i), value = Payload(value_bytes, i);
    const auto t0 = Clock::now();
    const bool ok = put(key, value, &error);
    const auto t1 = Clock::now();
    if (!ok) {
      if (errors++ == 0) first_error = error;
      continue;
    }
    ms.push_back(Ms(t1 - t0));
  }
  json out = Summary(ms);
  out["errors"] = errors;
  out["first_error"] = first_error;
  out["seconds"] = Ms(Clock::now() - start) / 1000;
  return out;
}

// `writers` threads, each with its own PutFn (from make_put(w)), write keys taken from one
// counter until `count` writes were made (count > 0) or `seconds` passed. Throughput counts
// acknowledged writes over the wall time of the whole loop.
inline json Concurrent(const std::function<PutFn(int)>& make_put, int writers, long count,
                       double seconds, std::size_t value_bytes, const std::string& prefix) {
  std::vector<PutFn> puts;
  for (int w = 0; w < writers; ++w) puts.push_back(make_put(w));
  std::atomic<long> next{0};
  std::atomic<long> errors{0};
  std::mutex mu;
  std::vector<double> all_ms;
  std::string first_error;
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      std::vector<double> ms;
      std::string error;
      for (;;) {
        const long i = next.fetch_add(1);
        if (count > 0 ? i >= count : Clock::now() >= until) break;
        const std::string key = Key(prefix, i), value = Payload(value_bytes, i);
        const auto t0 = Clock::now();
        const bool ok = puts[static_cast<std::size_t>(w)](key, value, &error);
        const auto t1 = Clock::now();
        if (ok) {
          ms.push_back(Ms(t1 - t0));
        } else if (errors.fetch_add(1) == 0) {
          std::lock_guard lock(mu);
          first_error = error;
        }
      }
      std::lock_guard lock(mu);
      all_ms.insert(all_ms.end(), ms.begin(), ms.end());
    });
  }
  for (std::thread& t : threads) t.join();
  const double wall_s = Ms(Clock::now() - start) / 1000;
  json out = Summary(all_ms);
  out["writers"] = writers;
  out["seconds"] = wall_s;
  out["puts_per_s"] = wall_s > 0 ? static_cast<double>(all_ms.size()) / wall_s : 0.0;
  out["errors"] = errors.load();
  out["first_error"] = first_error;
  return out;
}

// One PutFn over several: each call goes to the next of `targets` in turn.
inline PutFn RoundRobin(std::vector<PutFn> targets) {
  auto next = std::make_shared<std::atomic<std::size_t>>(0);
  return [targets = std::move(targets), next](const std::string& key, const std::string& value,
                                              std::string* error) {
    return targets[next->fetch_add(1) % targets.size()](key, value, error);
  };
}

// Failover as a client sees it: kill -9 of `victim` (the primary or leader), then writes to the
// surviving member `put` reaches until one is acknowledged; the time runs from the kill to that
// acknowledgement. A new attempt starts every `interval` on a thread of its own, whatever the
// earlier ones are doing, so the figure does not depend on how long a system holds a write it
// cannot yet accept (etcd holds one forwarded to a dead leader until the call's deadline;
// arraykit refuses one on a secondary at once): its resolution is `interval`.
inline json Failover(pid_t victim, const PutFn& put, const std::string& key, double give_up_s,
                     std::chrono::microseconds interval = std::chrono::microseconds(2000)) {
  std::atomic<bool> done{false};
  std::atomic<long> accepted_at_ns{0};
  std::atomic<long> refused{0};
  std::mutex mu;
  std::string last_error;
  std::vector<std::thread> attempts;
  const auto start = Clock::now();
  if (kill(victim, SIGKILL) != 0) return json{{"error", "kill failed"}};
  while (!done.load()) {
    if (Ms(Clock::now() - start) > give_up_s * 1000 || attempts.size() >= 20000) break;
    const long n = static_cast<long>(attempts.size());
    attempts.emplace_back([&, n] {
      std::string error;
      if (put(key, Payload(16, n), &error)) {
        long expected = 0;
        const long at = static_cast<long>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
        accepted_at_ns.compare_exchange_strong(expected, at);
        done.store(true);
      } else {
        refused.fetch_add(1);
        std::lock_guard lock(mu);
        last_error = error;
      }
    });
    // After the first second, one attempt every 5 intervals: a slow failover does not pile up
    // thousands of threads (the resolution after 1 s is 5 intervals).
    std::this_thread::sleep_for(Clock::now() - start < std::chrono::seconds(1) ? interval
                                                                                : 5 * interval);
  }
  for (std::thread& t : attempts) t.join();
  if (!done.load()) {
    return json{{"error", "no write accepted within " + std::to_string(give_up_s) + " s"},
                {"last_error", last_error},
                {"attempts", attempts.size()}};
  }
  return json{{"ms", static_cast<double>(accepted_at_ns.load()) / 1e6},
              {"attempts", attempts.size()},
              {"refused", refused.load()},
              {"last_error", last_error}};
}

}  // namespace e2e

#endif  // ARRAYKIT_BENCH_E2E_CLIENT_LOOPS_H_
