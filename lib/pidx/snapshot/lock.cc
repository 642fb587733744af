#include "pidx/snapshot/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "pidx/base/cancel.h"
#include "pidx/base/duration.h"

namespace pidx::snapshot {

FileLock::~FileLock() { Release(); }

FileLock::FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void FileLock::Release() {
  if (fd_ >= 0) {
    // Closing the only descriptor drops the flock.
    ::close(fd_);
    fd_ = -1;
  }
}

long FlockHolderPid(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return 0;
  // /proc/locks: "1: FLOCK  ADVISORY  WRITE 12345 08:01:1234567 0 EOF"
  std::ifstream in("/proc/locks");
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("FLOCK") == std::string::npos || line.find("->") != std::string::npos) continue;
    std::istringstream ss(line);
    std::string idx, type, adv, mode, pid, dev;
    ss >> idx >> type >> adv >> mode >> pid >> dev;
    unsigned maj = 0, min = 0;
    unsigned long long ino = 0;
    if (std::sscanf(dev.c_str(), "%x:%x:%llu", &maj, &min, &ino) != 3) continue;
    if (ino == st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev)) {
      return std::atol(pid.c_str());
    }
  }
  return 0;
}

namespace {

// O_NOFOLLOW: a symlink planted as a lock file (dangling or not) would make O_CREAT create or
// open a file outside the index. O_NONBLOCK: a FIFO planted there must not block the open.
Result<int> OpenLockFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == ELOOP) {
      return Status::Corrupt(
          "lock file " + path +
          " is a symlink; pidx does not follow it (remove it, pidx recreates it)");
    }
    return Status::IoError("open lock " + path + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Status s = Status::IoError("stat lock " + path + ": " + std::strerror(errno));
    ::close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::Corrupt("lock file " + path +
                           " is not a regular file (remove it, pidx recreates it)");
  }
  return fd;
}

}  // namespace

Result<FileLock> FileLock::Acquire(const std::string& path, int64_t timeout_ms, LockWait* wait) {
  PIDX_ASSIGN_OR_RETURN(int fd, OpenLockFile(path));
  const int64_t start = MonotonicMs();
  int64_t backoff = 1;
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      if (wait) wait->waited_ms = MonotonicMs() - start;
      return FileLock(fd);
    }
    if (errno != EWOULDBLOCK && errno != EINTR) {
      Status s = Status::IoError("flock " + path + ": " + std::strerror(errno));
      ::close(fd);
      return s;
    }
    // Measured before the holder is looked up: reading /proc/locks is pidx's own work, not
    // waiting (under load it took 10 ms, which --lock-timeout 0 then reported as a wait).
    const int64_t waited = MonotonicMs() - start;
    // Who held it up, read once when the wait starts (a lock.wait span carries it).
    if (wait && backoff == 1) wait->holder_pid = FlockHolderPid(fd);
    // A signal while waiting stops the wait: the caller has changed nothing yet, so the
    // command ends on its error path (exit 128+N) instead of acting once the lock frees.
    if (Cancelled()) {
      if (wait) wait->waited_ms = waited;
      ::close(fd);
      return Status::Interrupted("interrupted while waiting for " + path);
    }
    if (waited >= timeout_ms) {
      long holder = FlockHolderPid(fd);
      if (holder == 0 && wait) holder = wait->holder_pid;
      if (wait) {
        wait->waited_ms = waited;
        wait->holder_pid = holder;
      }
      ::close(fd);
      std::string msg = "could not lock " + path + " within " + FormatDurationMs(timeout_ms);
      if (holder > 0) msg += " (held by pid " + std::to_string(holder) + ")";
      return Status::LockTimeout(msg);
    }
    int64_t sleep_ms = std::min(backoff, timeout_ms - waited);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::max<int64_t>(sleep_ms, 1)));
    // Polls at most 20 ms apart: a lock freed by a killed holder is taken within ~20 ms.
    backoff = std::min<int64_t>(backoff * 2, 20);
  }
}

}  // namespace pidx::snapshot
