// fds 0, 1 and 2 made valid at start. A process can be started with one of them closed (`2>&-`,
// some supervisors); the next open() would then return that number, and whatever writes to
// "stderr" would write into that file (an index segment). Called first thing in main, before
// anything opens a file.
#pragma once

#include "pidx/base/status.h"

namespace pidx {

struct StdFds {
  bool stdin_closed = false;
  bool stdout_closed = false;
  bool stderr_closed = false;
};

// Opens /dev/null onto each of fds 0, 1 and 2 that is closed (read-only for 0, write-only for
// 1 and 2) and says which were. kIoError when /dev/null cannot be opened onto one of them.
Result<StdFds> EnsureStdFds();

}  // namespace pidx
