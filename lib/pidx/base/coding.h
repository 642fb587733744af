// Little-endian fixed-width integers, the only integer encoding of pidx's files
// (docs/FORMAT.md). Readers never assume alignment.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace pidx {

inline void PutFixed32(std::string* dst, uint32_t v) {
  unsigned char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
  dst->append(reinterpret_cast<const char*>(b), 4);
}

inline void PutFixed64(std::string* dst, uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
  dst->append(reinterpret_cast<const char*>(b), 8);
}

inline uint32_t DecodeFixed32(const void* p) {
  const auto* b = static_cast<const unsigned char*>(p);
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

inline uint64_t DecodeFixed64(const void* p) {
  const auto* b = static_cast<const unsigned char*>(p);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

// Length-prefixed (u32) byte string.
inline void PutLengthPrefixed(std::string* dst, std::string_view s) {
  PutFixed32(dst, static_cast<uint32_t>(s.size()));
  dst->append(s.data(), s.size());
}

}  // namespace pidx
