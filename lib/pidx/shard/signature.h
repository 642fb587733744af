// Content signatures of a shard, recorded per shard in the manifest and compared by
// verify and diff without opening segments (the seed's "signature first, then fine-grained
// diff").
//   content signature: XXH3-64 over the shard's docs in local order (external id and content
//                      hash) followed by its terms with their doc frequencies. Equal
//                      signatures mean equal logical content, whatever the file layout.
//   term Bloom filter: 2048 bits, 4 probes (double hashing of XXH3), over the term set. Two
//                      copies of a shard can be compared by their filters; a catalog's
//                      expected terms can be checked against it cheaply.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "pidx/base/status.h"

namespace pidx::shard {

class ContentSignature {
 public:
  ContentSignature();
  ~ContentSignature();
  ContentSignature(const ContentSignature&) = delete;
  ContentSignature& operator=(const ContentSignature&) = delete;
  void AddDoc(std::string_view external_id, uint64_t content_hash);
  void AddTerm(std::string_view term, uint32_t doc_freq);
  uint64_t Digest() const;

 private:
  void* state_;
};

class TermBloom {
 public:
  static constexpr size_t kBits = 2048;
  static constexpr int kProbes = 4;

  void Add(std::string_view term);
  bool MayContain(std::string_view term) const;
  // Bits that differ between two filters.
  size_t DifferingBits(const TermBloom& other) const;
  bool operator==(const TermBloom& other) const { return words_ == other.words_; }

  std::string ToHex() const;                               // 512 hex digits
  static Result<TermBloom> FromHex(std::string_view hex);  // kCorrupt when malformed

 private:
  std::array<uint64_t, kBits / 64> words_{};
};

}  // namespace pidx::shard
