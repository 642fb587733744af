#include "pidx/base/std_fds.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

namespace pidx {
namespace {

bool IsClosed(int fd) { return fcntl(fd, F_GETFD) == -1 && errno == EBADF; }

// Not O_CLOEXEC: a standard fd is what a child would inherit as its own.
Status OpenDevNullOnto(int fd) {
  const int got = open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY);
  if (got < 0) return Status::FromErrno("/dev/null onto closed fd " + std::to_string(fd), errno);
  if (got == fd) return Status::Ok();
  // A lower fd was free after all (closed between the checks): put /dev/null where it belongs.
  const int err = dup2(got, fd) < 0 ? errno : 0;
  close(got);
  if (err != 0) return Status::FromErrno("/dev/null onto closed fd " + std::to_string(fd), err);
  return Status::Ok();
}

}  // namespace

Result<StdFds> EnsureStdFds() {
  StdFds fds;
  bool* closed[] = {&fds.stdin_closed, &fds.stdout_closed, &fds.stderr_closed};
  // In order 0, 1, 2: with the lower ones valid, open() returns exactly the closed number.
  for (int fd = 0; fd <= 2; ++fd) {
    if (!IsClosed(fd)) continue;
    *closed[fd] = true;
    PIDX_RETURN_IF_ERROR(OpenDevNullOnto(fd));
  }
  return fds;
}

}  // namespace pidx
