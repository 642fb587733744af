#include "pidx/base/popcount.h"

#include <bit>

namespace pidx {
namespace {

uint64_t PortableCount(const uint64_t* words, size_t n) {
  uint64_t count = 0;
  for (size_t i = 0; i < n; ++i) count += static_cast<uint64_t>(std::popcount(words[i]));
  return count;
}

#if defined(__x86_64__)
__attribute__((target("popcnt"))) uint64_t PopcntCount(const uint64_t* words, size_t n) {
  uint64_t count = 0;
  for (size_t i = 0; i < n; ++i) count += static_cast<uint64_t>(__builtin_popcountll(words[i]));
  return count;
}
#endif

}  // namespace

uint64_t PopcountWords(const uint64_t* words, size_t n) {
#if defined(__x86_64__)
  static const bool has_popcnt = __builtin_cpu_supports("popcnt");
  if (has_popcnt) return PopcntCount(words, n);
#endif
  return PortableCount(words, n);
}

}  // namespace pidx
