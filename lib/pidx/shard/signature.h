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
  // One record's bytes, reused: a string per term was a third of a 50k-category build's
  // allocations (6.5M of 30M).
  std::string record_;
};

class TermBloom {
 public:
  static constexpr size_t kBits = 2048;
  static constexpr int kProbes = 4;

  // The bits a term sets and tests. They depend on the term alone, not on the filter: a
  // query over thousands of shards hashes each term once (ProbesOf) and tests each shard's
  // filter with MayContain(probes), a few bit tests.
  struct Probes {
    std::array<uint16_t, kProbes> bits;
  };
  static Probes ProbesOf(std::string_view term);

  void Add(std::string_view term);
  bool MayContain(std::string_view term) const;
  // Invariant: MayContain(ProbesOf(t)) == MayContain(t) for every term t.
  bool MayContain(const Probes& probes) const {
    for (const uint16_t bit : probes.bits) {
      if ((words_[bit / 64] & (uint64_t{1} << (bit % 64))) == 0) return false;
    }
    return true;
  }
  const std::array<uint64_t, kBits / 64>& words() const { return words_; }  // bit b: word b / 64
  // Bits that differ between two filters.
  size_t DifferingBits(const TermBloom& other) const;
  bool operator==(const TermBloom& other) const { return words_ == other.words_; }

  std::string ToHex() const;                               // 512 hex digits
  static Result<TermBloom> FromHex(std::string_view hex);  // kCorrupt when malformed

 private:
  std::array<uint64_t, kBits / 64> words_{};
};

}  // namespace pidx::shard
