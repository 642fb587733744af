#include "pidx/query/shard_blooms.h"

#include <algorithm>
#include <bit>

namespace pidx {

std::optional<BloomTest> MakeBloomTest(const QueryNode& n) {
  switch (n.kind) {
    case QueryNode::Kind::kTerm:
      if (n.is_category) return std::nullopt;
      return BloomTest{BloomTest::Kind::kTerm, shard::TermBloom::ProbesOf(n.term), {}};
    case QueryNode::Kind::kAnd: {
      BloomTest t{BloomTest::Kind::kAll, {}, {}};
      for (const auto& c : n.children) {
        if (c.kind == QueryNode::Kind::kNot) continue;
        auto ct = MakeBloomTest(c);
        if (ct) t.children.push_back(std::move(*ct));
      }
      if (t.children.empty()) return std::nullopt;
      return t;
    }
    case QueryNode::Kind::kOr: {
      BloomTest t{BloomTest::Kind::kAny, {}, {}};
      for (const auto& c : n.children) {
        auto ct = MakeBloomTest(c);
        if (!ct) return std::nullopt;  // that branch may match anywhere
        t.children.push_back(std::move(*ct));
      }
      if (t.children.empty()) return std::nullopt;
      return t;
    }
    case QueryNode::Kind::kNot:
    case QueryNode::Kind::kAll:
    case QueryNode::Kind::kPrefix:
      return std::nullopt;
  }
  return std::nullopt;
}

ShardBlooms::ShardBlooms(const std::vector<std::optional<shard::TermBloom>>& blooms)
    : shards_(blooms.size()),
      words_((blooms.size() + 63) / 64),
      slices_(shard::TermBloom::kBits * words_, 0) {
  for (size_t i = 0; i < blooms.size(); ++i) {
    const uint64_t mask = uint64_t{1} << (i % 64);
    if (!blooms[i]) {
      for (size_t b = 0; b < shard::TermBloom::kBits; ++b) slices_[b * words_ + i / 64] |= mask;
      continue;
    }
    const auto& words = blooms[i]->words();
    for (size_t w = 0; w < words.size(); ++w) {
      for (uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
        const size_t b = w * 64 + static_cast<size_t>(std::countr_zero(bits));
        slices_[b * words_ + i / 64] |= mask;
      }
    }
  }
}

bool ShardBlooms::MayMatch(size_t shard, const BloomTest& t) const {
  switch (t.kind) {
    case BloomTest::Kind::kTerm:
      return MayContain(shard, t.probes);
    case BloomTest::Kind::kAll:
      return std::all_of(t.children.begin(), t.children.end(),
                         [&](const BloomTest& c) { return MayMatch(shard, c); });
    case BloomTest::Kind::kAny:
      return std::any_of(t.children.begin(), t.children.end(),
                         [&](const BloomTest& c) { return MayMatch(shard, c); });
  }
  return true;
}

std::vector<uint64_t> ShardBlooms::MayMatch(const BloomTest& t) const {
  std::vector<uint64_t> out;
  if (words_ == 0) return out;
  switch (t.kind) {
    case BloomTest::Kind::kTerm: {
      const uint64_t* s0 = &slices_[t.probes.bits[0] * words_];
      out.assign(s0, s0 + words_);
      for (size_t k = 1; k < t.probes.bits.size(); ++k) {
        const uint64_t* sk = &slices_[t.probes.bits[k] * words_];
        for (size_t w = 0; w < words_; ++w) out[w] &= sk[w];
      }
      break;
    }
    case BloomTest::Kind::kAll:
      out.assign(words_, ~uint64_t{0});
      if (shards_ % 64 != 0 && words_ > 0) out.back() = (uint64_t{1} << (shards_ % 64)) - 1;
      for (const auto& c : t.children) {
        const std::vector<uint64_t> m = MayMatch(c);
        for (size_t w = 0; w < words_; ++w) out[w] &= m[w];
      }
      break;
    case BloomTest::Kind::kAny:
      out.assign(words_, 0);
      for (const auto& c : t.children) {
        const std::vector<uint64_t> m = MayMatch(c);
        for (size_t w = 0; w < words_; ++w) out[w] |= m[w];
      }
      break;
  }
  return out;
}

}  // namespace pidx
