// Exclusive locks on an index (docs/CONTRACT.md section 6): flock(2) on
// INDEX/locks/shard-<SHARD>.lock and INDEX/locks/publish.lock.
//
// Contract:
// - flock, not fcntl: a killed holder releases at once (the kernel drops it with the last
//   descriptor) and no close() of another descriptor in this process can drop it.
// - Lock files are opened O_CLOEXEC (a child process never inherits a lock) and are never
//   deleted (another process may hold or wait on the old inode).
// - Lock files are opened O_NOFOLLOW|O_NONBLOCK and must be regular files: a symlink, FIFO or
//   directory planted under a lock's name is kCorrupt naming it, and nothing is created
//   through it.
// - Acquire polls LOCK_EX|LOCK_NB with back-off (1 ms doubling to 100 ms) until the timeout;
//   timeout 0 tries exactly once. A SIGINT/SIGTERM (base/cancel.h) ends the wait at once with
//   kInterrupted: a command stopped while it waits changes nothing. An operator can pause
//   publishing by holding publish.lock, e.g. `flock INDEX/locks/publish.lock -c 'maintenance'`.
#pragma once

#include <cstdint>
#include <string>

#include "pidx/base/status.h"

namespace pidx::snapshot {

struct LockWait {
  int64_t waited_ms = 0;
  long holder_pid = 0;  // from /proc/locks when the wait began or timed out, when known, else 0
};

class FileLock {
 public:
  FileLock() = default;
  ~FileLock();
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Creates the lock file if needed. kLockTimeout when not acquired within timeout_ms (the
  // message names the lock and the time waited), kInterrupted when cancelled while waiting,
  // kIoError when the file cannot be opened, kCorrupt when it is a symlink or not a regular
  // file.
  // `wait` (optional) receives the time waited and, on timeout, the holder's pid.
  static Result<FileLock> Acquire(const std::string& path, int64_t timeout_ms, LockWait* wait);

  bool held() const { return fd_ >= 0; }
  void Release();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The pid holding a flock on `fd`'s file according to /proc/locks, or 0.
long FlockHolderPid(int fd);

}  // namespace pidx::snapshot
