// Randomness that is the same on every platform: our own xoshiro256** and integer-only weighted
// sampling (see main.cc for why std:: distributions are not used).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace pidx_gen {

// xoshiro256** seeded through splitmix64, as its authors recommend.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& word : s_) word = SplitMix(seed);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n) by Lemire's multiply-shift: exact integer math, so the same everywhere,
  // and without the 64-bit division a modulo costs. The bias is below n / 2^64.
  uint64_t Below(uint64_t n) {
    __extension__ using Uint128 = unsigned __int128;
    return static_cast<uint64_t>((static_cast<Uint128>(Next()) * n) >> 64);
  }
  uint64_t Between(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }
  bool ChancePpm(uint64_t ppm) { return Below(1'000'000) < ppm; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t SplitMix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  uint64_t s_[4];
};

// Picks index i with probability weight[i] / total in O(1), by Walker's alias method in exact
// integer arithmetic: a binary search over prefix sums mispredicts on every step and was the
// generator's hottest code. Each of the n buckets is hit with probability 1/n and then keeps
// its own index with probability threshold/total, else yields its alias.
class WeightedTable {
 public:
  WeightedTable() = default;
  explicit WeightedTable(std::vector<uint64_t> weights) : weights_(std::move(weights)) {
    const size_t n = weights_.size();
    for (uint64_t w : weights_) total_ += w;
    threshold_.assign(n, total_);
    alias_.resize(n);
    for (size_t i = 0; i < n; ++i) alias_[i] = i;
    // Scaled so that a bucket holding exactly its share has weight * n == total.
    std::vector<uint64_t> scaled(n);
    std::vector<size_t> small, large;
    for (size_t i = 0; i < n; ++i) {
      scaled[i] = weights_[i] * n;
      (scaled[i] < total_ ? small : large).push_back(i);
    }
    while (!small.empty() && !large.empty()) {
      const size_t under = small.back(), over = large.back();
      small.pop_back();
      threshold_[under] = scaled[under];
      alias_[under] = over;
      scaled[over] -= total_ - scaled[under];
      if (scaled[over] < total_) {
        large.pop_back();
        small.push_back(over);
      }
    }
  }
  // Zipf-Mandelbrot weights 1/(rank + offset): a few very common items and a long tail.
  static WeightedTable Zipf(size_t n, uint64_t offset) {
    std::vector<uint64_t> weights;
    for (size_t rank = 0; rank < n; ++rank) weights.push_back(1'000'000'000ULL / (rank + offset));
    return WeightedTable(std::move(weights));
  }
  size_t Pick(Rng& rng) const {
    const size_t bucket = rng.Below(weights_.size());
    return rng.Below(total_) < threshold_[bucket] ? bucket : alias_[bucket];
  }
  uint64_t Weight(size_t i) const { return weights_[i]; }
  uint64_t Total() const { return total_; }

 private:
  std::vector<uint64_t> weights_;
  uint64_t total_ = 0;
  std::vector<uint64_t> threshold_;
  std::vector<size_t> alias_;
};

}  // namespace pidx_gen
