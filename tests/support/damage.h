// Damage done on purpose by corruption tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

namespace pidx::testing {

// XORs the byte at `offset` of `path` with 0x55 (pidx's files are read-only; made writable).
inline void FlipByte(const std::string& path, size_t offset) {
  std::filesystem::permissions(path, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x55);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

}  // namespace pidx::testing
