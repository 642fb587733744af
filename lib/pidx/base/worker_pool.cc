#include "pidx/base/worker_pool.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "pidx/base/cancel.h"

namespace pidx {

int ResolveThreads(int threads) {
  if (threads > 0) return threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

Status RunJobs(size_t n, int threads, const std::function<Status(size_t)>& job,
               const std::string& interrupted) {
  if (n == 0) return Status::Ok();
  const size_t workers = std::min(static_cast<size_t>(ResolveThreads(threads)), n);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first_error;
  auto run = [&] {
    while (!failed.load()) {
      const size_t i = next++;
      if (i >= n) return;
      Status s = !interrupted.empty() && Cancelled() ? Status::Interrupted(interrupted) : job(i);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) first_error = std::move(s);
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (size_t t = 1; t < workers; ++t) pool.emplace_back(run);
  run();
  for (auto& t : pool) t.join();
  return first_error;
}

}  // namespace pidx
