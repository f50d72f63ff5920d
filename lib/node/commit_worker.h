// The node's store thread (DESIGN.md §7 "Durability", §10): it commits one loop iteration's
// batch while the loop thread steps the next one in memory, and only then releases what waited
// on that batch (messages, acknowledgements, events) — etcd raft's asynchronous storage writes.
//
// Order and safety:
//   - Jobs are committed one at a time in the order they were submitted; each job's Release
//     runs after its own commit returned OK and after every earlier job's Release.
//   - At most `capacity` jobs are held: the one committing and the next ones, queued so the
//     worker goes from one commit to the next without waiting for the loop. What the loop steps
//     while the queue is full stays in the machines and leaves as one larger batch later.
//   - A failed commit stops the worker for good: neither that job nor any queued or submitted
//     after it is released or committed, and the loop collects those jobs (TakeFailedJobs) to
//     answer their waiting calls.
//   - While the store thread commits, the job queued behind it may absorb a later one (Merge):
//     its batch then commits everything stepped until the store thread is free, as one
//     transaction (group commit), and its release sends and answers the later job's messages
//     and calls after its own.
//   - `on_done` runs on the worker thread each time a job is done (released or failed), outside
//     the worker's lock; the loop uses it to wake up and hand over what it gathered meanwhile.
#ifndef ARRAYKIT_NODE_COMMIT_WORKER_H_
#define ARRAYKIT_NODE_COMMIT_WORKER_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "node/storage.h"

namespace arraykit::node {

class CommitWorker {
 public:
  // One loop iteration: what it persists, and what may leave only once that is durable.
  class Job {
   public:
    virtual ~Job() = default;
    virtual const Batch& batch() const = 0;
    // After the commit returned OK (on the worker thread, or on the caller's when it releases a
    // job with nothing to persist itself).
    virtual void Release() = 0;
    // The commit failed or the node stops: nothing of the job may leave; answer its calls.
    virtual void Abandon(const absl::Status& why) = 0;
    // Takes `later`'s batch and what waits for it into this job, which has not started
    // committing, when one transaction and one release keep their order; false (nothing taken)
    // otherwise.
    virtual bool Absorb(Job& /*later*/) { return false; }
  };

  // `storage` must outlive the worker; capacity >= 1. Starts the thread.
  CommitWorker(Storage* storage, std::size_t capacity, std::function<void()> on_done);
  // Finishes the jobs held (commit and release), then joins the thread.
  ~CommitWorker();
  CommitWorker(const CommitWorker&) = delete;
  CommitWorker& operator=(const CommitWorker&) = delete;

  // True when no job is held and no commit failed (the loop may then commit by itself).
  bool idle() const;
  // True when a job may be submitted: fewer than `capacity` held and no commit failed.
  bool has_room() const;
  // Queues `job` after those held; requires fewer than `capacity` held (checked). When a commit
  // failed meanwhile (after has_room() said yes), the job goes with the failed ones instead.
  void Submit(std::unique_ptr<Job> job);
  // When a job is queued behind the one committing and absorbs `job`, true (`job` is then
  // empty and may be dropped); false when nothing is queued, the queued job refused, or a commit
  // failed.
  bool Merge(Job& job);
  // Blocks until no job is held.
  void WaitIdle();
  // OK until a commit failed; then that commit's error, for good.
  absl::Status failure() const;
  // The job whose commit failed and those queued after it, in order (once; empty otherwise).
  std::vector<std::unique_ptr<Job>> TakeFailedJobs();

 private:
  void Run();

  Storage* storage_;
  const std::size_t capacity_;
  std::function<void()> on_done_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> jobs_;  // front: committing (or next to commit)
  std::vector<std::unique_ptr<Job>> failed_jobs_;
  absl::Status failure_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace arraykit::node

#endif  // ARRAYKIT_NODE_COMMIT_WORKER_H_
