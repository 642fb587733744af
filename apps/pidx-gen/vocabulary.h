// The words titles and descriptions are made of.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace pidx_gen {

// The title/description vocabulary: real words first, then pseudo-words up to kVocabularySize.
// It is built from a fixed seed, not --seed, so every catalog shares one vocabulary.
inline constexpr size_t kVocabularySize = 3000;

std::vector<std::string> BuildVocabulary();

}  // namespace pidx_gen
