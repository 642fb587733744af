#include "pidx/base/worker_pool.h"

#include <atomic>
#include <csignal>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "pidx/base/cancel.h"

using pidx::ResolveThreads;
using pidx::RunJobs;
using pidx::Status;
using pidx::StatusKind;

namespace {

// Sets the process-wide cancellation flag for one scope, as main's signal handler would.
struct CancelledScope {
  CancelledScope() { pidx::CancelSignal() = SIGINT; }
  ~CancelledScope() { pidx::CancelSignal() = 0; }
};

}  // namespace

TEST_CASE("threads=0 means one per core, a positive count means itself") {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  CHECK(ResolveThreads(0) == cores);
  CHECK(ResolveThreads(-3) == cores);
  CHECK(ResolveThreads(1) == 1);
  CHECK(ResolveThreads(5) == 5);
}

TEST_CASE("every job runs exactly once on at most min(threads, n) threads, the caller among them") {
  for (size_t n : {0, 1, 2, 7, 100, 1000}) {
    for (int threads : {0, 1, 2, 3, 16}) {
      INFO("n=" << n << " threads=" << threads);
      std::vector<std::atomic<int>> runs(n);
      std::mutex mu;
      std::set<std::thread::id> used;
      Status s = RunJobs(n, threads, [&](size_t i) {
        ++runs[i];
        std::lock_guard<std::mutex> lock(mu);
        used.insert(std::this_thread::get_id());
        return Status::Ok();
      });
      CHECK(s.ok());
      for (size_t i = 0; i < n; ++i) CHECK(runs[i] == 1);
      CHECK(used.size() <= std::min(static_cast<size_t>(ResolveThreads(threads)), n));
      if (n > 0 && threads == 1) {
        CHECK(used.size() == 1);
        CHECK(used.count(std::this_thread::get_id()) == 1);
      }
    }
  }
}

TEST_CASE("one thread claims jobs in index order") {
  std::vector<size_t> order;
  REQUIRE(RunJobs(50, 1, [&](size_t i) {
            order.push_back(i);
            return Status::Ok();
          }).ok());
  REQUIRE(order.size() == 50);
  for (size_t i = 0; i < order.size(); ++i) CHECK(order[i] == i);
}

TEST_CASE("the first failure is returned and no job starts after it") {
  SECTION("one thread: the jobs after the failing one never run") {
    std::vector<size_t> ran;
    Status s = RunJobs(10, 1, [&](size_t i) {
      ran.push_back(i);
      if (i == 3) return Status::IoError("job 3 failed");
      if (i == 5) return Status::Corrupt("job 5 failed");
      return Status::Ok();
    });
    CHECK(s.kind() == StatusKind::kIoError);
    CHECK(s.message() == "job 3 failed");
    CHECK(ran == std::vector<size_t>{0, 1, 2, 3});
  }
  SECTION("several threads: only the jobs already running finish") {
    for (int threads : {2, 4, 8}) {
      INFO("threads=" << threads);
      std::atomic<size_t> started{0};
      Status s = RunJobs(10000, threads, [&](size_t i) {
        ++started;
        if (i == 0) return Status::BadData("the first job failed");
        return Status::Ok();
      });
      CHECK(s.kind() == StatusKind::kBadData);
      CHECK(s.message() == "the first job failed");
      // Job 0 fails before its thread claims another; each other thread may have claimed a few
      // before it saw the failure, far fewer than all 10000.
      CHECK(started < 10000);
    }
  }
  SECTION("every job failing still yields one of their statuses") {
    Status s =
        RunJobs(64, 4, [&](size_t i) { return Status::NotFound("job " + std::to_string(i)); });
    CHECK(s.kind() == StatusKind::kNotFound);
    CHECK(s.message().rfind("job ", 0) == 0);
  }
}

TEST_CASE("with an interruption message, no job starts once cancelled") {
  std::atomic<int> ran{0};
  {
    CancelledScope cancelled;
    Status s = RunJobs(
        8, 2,
        [&](size_t) {
          ++ran;
          return Status::Ok();
        },
        "interrupted while testing");
    CHECK(s.kind() == StatusKind::kInterrupted);
    CHECK(s.message() == "interrupted while testing");
  }
  CHECK(ran == 0);
  SECTION("a cancellation during the run stops the jobs not yet started") {
    std::vector<size_t> order;
    Status s = RunJobs(
        10, 1,
        [&](size_t i) {
          order.push_back(i);
          if (i == 2) pidx::CancelSignal() = SIGTERM;
          return Status::Ok();
        },
        "interrupted while testing");
    pidx::CancelSignal() = 0;
    CHECK(s.kind() == StatusKind::kInterrupted);
    CHECK(order == std::vector<size_t>{0, 1, 2});
  }
  SECTION("without one, the jobs decide: they all run") {
    CancelledScope cancelled;
    Status s = RunJobs(8, 2, [&](size_t) {
      ++ran;
      return Status::Ok();
    });
    CHECK(s.ok());
    CHECK(ran == 8);
  }
}
