// The one way pidx runs work on several threads: a fixed number of indexed jobs (one per
// shard, one per pair of shards, ...) claimed in order by a few threads. Every `--threads`
// option means the same through ResolveThreads: a positive number is itself, 0 is one
// thread per core.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "pidx/base/status.h"

namespace pidx {

// `threads` when positive; otherwise std::thread::hardware_concurrency(), at least 1.
int ResolveThreads(int threads);

// Runs job(0) ... job(n - 1) on min(ResolveThreads(threads), n) threads, the calling thread
// among them, each job exactly once, claimed in increasing index order. Returns once every
// started job has returned.
// - The first job to fail (first in time) decides the result; no job starts after a failure,
//   and the jobs already running finish.
// - With `interrupted` non-empty, a job is not started once Cancelled() (base/cancel.h) and
//   the pool fails with Status::Interrupted(interrupted). Without it, jobs check
//   cancellation themselves (and may name what they were doing).
// n == 0 runs nothing and returns Ok.
Status RunJobs(size_t n, int threads, const std::function<Status(size_t)>& job,
               const std::string& interrupted = {});

}  // namespace pidx
