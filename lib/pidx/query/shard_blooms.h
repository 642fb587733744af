// Which shards a query can skip by their term Bloom filters (manifest entry `term_bloom`,
// shard/signature.h), for the query engine (engine.h). The filters of a version are kept
// bit-sliced (slice b holds bit b of every shard's filter), so a query that visits every shard
// tests each term against all of them at once, four slices ANDed word by word, and each term is
// hashed once per query, not once per shard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "pidx/query/parser.h"
#include "pidx/shard/signature.h"

namespace pidx {

// The part of a query that a shard's filter can rule out, with each term's probe bits
// computed once. Category terms are left to the slug pruning; NOT, prefixes and the match-all
// term never rule a shard out.
struct BloomTest {
  enum class Kind { kTerm, kAll, kAny };  // a term; every child; at least one child
  Kind kind = Kind::kTerm;
  shard::TermBloom::Probes probes{};
  std::vector<BloomTest> children;
};

// nullopt when no filter can rule out a shard for `n`.
std::optional<BloomTest> MakeBloomTest(const QueryNode& n);

class ShardBlooms {
 public:
  // Filter i is shard i's. A shard without a filter (nullopt: its hex did not parse) gets
  // every bit set: it is never skipped.
  explicit ShardBlooms(const std::vector<std::optional<shard::TermBloom>>& blooms);

  // Invariant: MayContain(i, ProbesOf(t)) == blooms[i]->MayContain(t) (true without a filter).
  bool MayContain(size_t shard, const shard::TermBloom::Probes& p) const {
    for (const uint16_t b : p.bits) {
      if (((slices_[b * words_ + shard / 64] >> (shard % 64)) & 1) == 0) return false;
    }
    return true;
  }
  // Whether shard `shard` may match `t`: for a query that visits few shards (a category's).
  bool MayMatch(size_t shard, const BloomTest& t) const;
  // Bit i set: shard i may match `t`; no bit past the last shard is set. Invariant: bit i ==
  // MayMatch(i, t).
  std::vector<uint64_t> MayMatch(const BloomTest& t) const;

 private:
  size_t shards_;
  size_t words_;  // per slice
  std::vector<uint64_t> slices_;
};

}  // namespace pidx
