#include "node/commit_worker.h"

#include <utility>

#include "core/check.h"

namespace arraykit::node {

CommitWorker::CommitWorker(Storage* storage, std::size_t capacity, std::function<void()> on_done)
    : storage_(storage), capacity_(capacity), on_done_(std::move(on_done)) {
  AK_CHECK(capacity_ >= 1, "a commit worker holds at least one job");
  thread_ = std::thread([this] { Run(); });
}

CommitWorker::~CommitWorker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool CommitWorker::idle() const {
  std::lock_guard lock(mu_);
  return jobs_.empty() && failure_.ok();
}

bool CommitWorker::has_room() const {
  std::lock_guard lock(mu_);
  return jobs_.size() < capacity_ && failure_.ok();
}

void CommitWorker::Submit(std::unique_ptr<Job> job) {
  {
    std::lock_guard lock(mu_);
    AK_CHECK(jobs_.size() < capacity_, "a commit job submitted to a full worker (", jobs_.size(),
             " held)");
    AK_CHECK(!stop_, "a commit job submitted to a stopping worker");
    if (!failure_.ok()) {
      // A commit failed after the caller saw room: the job joins the failed ones, unreleased.
      failed_jobs_.push_back(std::move(job));
      return;
    }
    jobs_.push_back(std::move(job));
  }
  cv_.notify_all();
}

bool CommitWorker::Merge(Job& job) {
  std::lock_guard lock(mu_);
  // The front job is committing (or about to: the worker takes it under this lock); only one
  // behind it has not started.
  if (!failure_.ok() || jobs_.size() < 2) return false;
  return jobs_.back()->Absorb(job);
}

void CommitWorker::WaitIdle() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return jobs_.empty(); });
}

absl::Status CommitWorker::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

std::vector<std::unique_ptr<CommitWorker::Job>> CommitWorker::TakeFailedJobs() {
  std::lock_guard lock(mu_);
  return std::move(failed_jobs_);
}

void CommitWorker::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping with nothing held
    // The job stays at the front (held) until it is released or failed; Submit only appends.
    Job* job = jobs_.front().get();
    lock.unlock();
    absl::Status status = job->batch().empty() ? absl::OkStatus() : storage_->Commit(job->batch());
    if (status.ok()) job->Release();
    lock.lock();
    std::unique_ptr<Job> done = std::move(jobs_.front());
    jobs_.pop_front();
    if (!status.ok()) {
      // Nothing after a failed commit may be committed or released.
      failure_ = std::move(status);
      failed_jobs_.push_back(std::move(done));
      for (auto& later : jobs_) failed_jobs_.push_back(std::move(later));
      jobs_.clear();
    }
    lock.unlock();
    cv_.notify_all();
    done.reset();  // a released job is destroyed here, outside the lock
    if (on_done_) on_done_();
    lock.lock();
  }
}

}  // namespace arraykit::node
