#include "pidx/base/std_fds.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace {

bool IsDevNull(int fd) {
  struct stat a {
  }, b{};
  return fstat(fd, &a) == 0 && stat("/dev/null", &b) == 0 && S_ISCHR(a.st_mode) &&
         a.st_rdev == b.st_rdev;
}

// Runs EnsureStdFds in a child with `closed` fds closed; the child's exit code is 0 when each
// closed fd came back as /dev/null, was reported closed, and the next open got fd 3 or above.
int InChild(std::initializer_list<int> closed) {
  pid_t pid = fork();
  if (pid == 0) {
    for (int fd : closed) close(fd);
    auto r = pidx::EnsureStdFds();
    if (!r.ok()) _exit(10);
    const bool reported[] = {r->stdin_closed, r->stdout_closed, r->stderr_closed};
    for (int fd = 0; fd <= 2; ++fd) {
      bool was_closed = false;
      for (int c : closed) was_closed = was_closed || c == fd;
      if (reported[fd] != was_closed) _exit(20 + fd);
      if (was_closed && !IsDevNull(fd)) _exit(30 + fd);
    }
    const int next = open("/dev/null", O_RDONLY);
    _exit(next >= 3 ? 0 : 40);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("a closed fd 0, 1 or 2 gets /dev/null, so the next file opened is never one of them") {
  CHECK(InChild({}) == 0);
  CHECK(InChild({2}) == 0);
  CHECK(InChild({1}) == 0);
  CHECK(InChild({0}) == 0);
  CHECK(InChild({0, 2}) == 0);
  CHECK(InChild({0, 1, 2}) == 0);
}
