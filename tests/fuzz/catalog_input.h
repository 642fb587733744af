// Feeds fuzz bytes to a catalog reader through a memfd, the way a real file would arrive.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "pidx/catalog/input_stream.h"

inline std::unique_ptr<pidx::catalog::InputStream> FuzzStream(const uint8_t* data, size_t size,
                                                              const std::string& name) {
  int fd = memfd_create("pidx-fuzz", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  if (lseek(fd, 0, SEEK_SET) != 0) std::abort();
  auto s = pidx::catalog::InputStream::FromFd(fd, true, name);
  if (!s.ok()) return nullptr;
  return std::move(*s);
}
