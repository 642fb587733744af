// The number of set bits in an array of words. The build targets baseline x86-64, which has
// no POPCNT instruction, so std::popcount there is a libgcc call per word (__popcountdi2: 12% of
// a rare-term query on bitsets). This uses POPCNT when the CPU has it, decided once.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pidx {

uint64_t PopcountWords(const uint64_t* words, size_t n);

}  // namespace pidx
