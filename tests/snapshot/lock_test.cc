#include "pidx/snapshot/lock.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>

#include "pidx/base/cancel.h"
#include "support/temp_dir.h"

using pidx::snapshot::FileLock;
using pidx::snapshot::LockWait;

namespace {
// A child process that takes the lock, signals through a pipe, then sleeps until killed.
pid_t HoldInChild(const std::string& path) {
  int p[2];
  REQUIRE(pipe(p) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    auto lock = FileLock::Acquire(path, 0, nullptr);
    char c = lock.ok() ? 'y' : 'n';
    (void)!write(p[1], &c, 1);
    for (;;) pause();
  }
  close(p[1]);
  char c = 0;
  REQUIRE(read(p[0], &c, 1) == 1);
  close(p[0]);
  REQUIRE(c == 'y');
  return pid;
}
}  // namespace

TEST_CASE("a free lock is taken at once") {
  pidx::testing::TempDir dir;
  LockWait wait;
  auto lock = FileLock::Acquire(dir.File("a.lock"), 0, &wait);
  REQUIRE(lock.ok());
  CHECK(lock->held());
  CHECK(wait.waited_ms < 100);
}

TEST_CASE("a lock held by another process times out with kLockTimeout naming the holder") {
  pidx::testing::TempDir dir;
  std::string path = dir.File("publish.lock");
  pid_t holder = HoldInChild(path);
  LockWait wait;
  auto t0 = std::chrono::steady_clock::now();
  auto lock = FileLock::Acquire(path, 300, &wait);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  REQUIRE(!lock.ok());
  CHECK(lock.status().kind() == pidx::StatusKind::kLockTimeout);
  CHECK(lock.status().message().find("publish.lock") != std::string::npos);
  CHECK(wait.waited_ms >= 300);
  CHECK(elapsed < std::chrono::seconds(3));
  CHECK(wait.holder_pid == holder);

  SECTION("and is free as soon as the holder is killed") {
    kill(holder, SIGKILL);
    waitpid(holder, nullptr, 0);
    auto again = FileLock::Acquire(path, 0, nullptr);
    CHECK(again.ok());
  }
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
}

TEST_CASE("a released lock can be taken again, and the lock file stays") {
  pidx::testing::TempDir dir;
  std::string path = dir.File("x.lock");
  {
    auto lock = FileLock::Acquire(path, 0, nullptr);
    REQUIRE(lock.ok());
  }
  CHECK(access(path.c_str(), F_OK) == 0);
  CHECK(FileLock::Acquire(path, 0, nullptr).ok());
}

TEST_CASE("a lock in a missing directory is an I/O error, not a timeout") {
  pidx::testing::TempDir dir;
  auto lock = FileLock::Acquire(dir.File("no/such.lock"), 0, nullptr);
  REQUIRE(!lock.ok());
  CHECK(lock.status().kind() == pidx::StatusKind::kIoError);
}

TEST_CASE("a dangling symlink as a lock file is refused and nothing is created through it") {
  pidx::testing::TempDir dir;
  const std::string outside = dir.File("outside/created-by-pidx");
  std::filesystem::create_directories(dir.File("outside"));
  std::filesystem::create_directories(dir.File("locks"));
  std::filesystem::create_symlink(outside, dir.File("locks/publish.lock"));
  auto lock = FileLock::Acquire(dir.File("locks/publish.lock"), 0, nullptr);
  REQUIRE(!lock.ok());
  CHECK(lock.status().kind() == pidx::StatusKind::kCorrupt);
  CHECK(lock.status().message().find("publish.lock") != std::string::npos);
  CHECK(lock.status().message().find("symlink") != std::string::npos);
  CHECK(!std::filesystem::exists(outside));
}

TEST_CASE("a lock file that is not a regular file is refused without blocking") {
  pidx::testing::TempDir dir;
  const std::string fifo = dir.File("shard-x_000.lock");
  REQUIRE(mkfifo(fifo.c_str(), 0644) == 0);
  auto lock = FileLock::Acquire(fifo, 0, nullptr);
  REQUIRE(!lock.ok());
  CHECK(lock.status().kind() == pidx::StatusKind::kCorrupt);
  CHECK(lock.status().message().find("not a regular file") != std::string::npos);
  std::filesystem::create_directory(dir.File("dir.lock"));
  CHECK(FileLock::Acquire(dir.File("dir.lock"), 0, nullptr).status().kind() !=
        pidx::StatusKind::kOk);
}

TEST_CASE("a signal while waiting for a held lock ends the wait with kInterrupted") {
  pidx::testing::TempDir dir;
  const std::string path = dir.File("publish.lock");
  pid_t holder = HoldInChild(path);
  std::thread signaller([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    pidx::CancelSignal().store(SIGTERM);
  });
  const auto t0 = std::chrono::steady_clock::now();
  LockWait wait;
  auto lock = FileLock::Acquire(path, 30000, &wait);
  const auto waited = std::chrono::steady_clock::now() - t0;
  signaller.join();
  pidx::CancelSignal().store(0);
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
  REQUIRE_FALSE(lock.ok());
  CHECK(lock.status().kind() == pidx::StatusKind::kInterrupted);
  CHECK(waited < std::chrono::seconds(5));
  CHECK(wait.waited_ms >= 150);
}
