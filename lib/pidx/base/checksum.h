// XXH3-64 (seed 0) over bytes: the checksum of segments, manifests and CURRENT, and the hash
// behind shard ids. The only pidx file that includes xxhash.h is checksum.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pidx {

uint64_t Xxh3(std::string_view bytes);

// Streaming XXH3-64, for files too large to hash in one call.
class Xxh3Stream {
 public:
  Xxh3Stream();
  ~Xxh3Stream();
  Xxh3Stream(const Xxh3Stream&) = delete;
  Xxh3Stream& operator=(const Xxh3Stream&) = delete;
  void Update(std::string_view bytes);
  uint64_t Digest() const;

 private:
  void* state_;
};

// 16 lowercase hex digits.
std::string Hex64(uint64_t v);
// Appends Hex64(v) to *out, with no string of its own.
void AppendHex64(uint64_t v, std::string* out);
// Parses exactly 16 hex digits; false otherwise.
bool ParseHex64(std::string_view s, uint64_t* out);

}  // namespace pidx
