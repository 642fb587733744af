// --queries: a recall query set with complete expected results.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog_data.h"
#include "products.h"
#include "random.h"

namespace pidx_gen {

using OrderedJson = nlohmann::ordered_json;

// Remembering which products hold every word would cost memory proportional to the catalog.
// Instead the queries are chosen before generation, from words whose estimated match count is
// moderate, and each product is checked against them as it streams by. More candidates than
// requested are tracked because an estimate can miss; only those that end with 1..200 matches
// are written.
class QuerySet {
 public:
  static constexpr size_t kMaxExpected = 200;

  QuerySet(uint64_t seed, size_t count, uint64_t products, uint64_t cjk_ppm,
           const std::vector<std::string>& vocabulary, bool category_queries = true)
      : count_(count),
        vocabulary_(vocabulary),
        category_weights_(CategoryWeights()),
        category_queries_(category_queries) {
    Choose(seed, products, cjk_ppm);
    masks_.assign(queries_.size(), 0);
  }

  // Matching mirrors the analyzer on generated titles: lowercase ASCII, split on anything
  // that is not [a-z0-9]. CJK text never equals an ASCII vocabulary word, so it only splits.
  void Observe(const Product& p) {
    touched_.clear();
    std::string_view title = p.title;
    size_t pos = 0;
    while (pos < title.size()) {
      while (pos < title.size() && !IsAsciiAlnum(title[pos])) ++pos;
      token_.clear();
      while (pos < title.size() && IsAsciiAlnum(title[pos])) token_ += ToLower(title[pos++]);
      if (token_.empty()) continue;
      auto it = by_word_.find(token_);
      if (it == by_word_.end()) continue;
      for (const auto& [query, slot] : it->second) {
        if (masks_[query] == 0) touched_.push_back(query);
        masks_[query] |= 1u << slot;
      }
    }
    for (uint32_t index : touched_) {
      Query& q = queries_[index];
      const bool all_words = masks_[index] == (1u << q.words.size()) - 1;
      masks_[index] = 0;
      if (!all_words || (q.category != kAnyCategory && q.category != p.category)) continue;
      if (q.matches.size() <= kMaxExpected) q.matches.push_back(p.number);
    }
  }

  // Returns how many queries were written (at most the requested count).
  size_t Write(std::FILE* out) const {
    size_t written = 0;
    char id[32];
    for (const Query& q : queries_) {
      if (written == count_) break;
      if (q.matches.empty() || q.matches.size() > kMaxExpected) continue;
      OrderedJson j;
      j["query"] = q.text;
      j["expected"] = OrderedJson::array();
      for (uint64_t number : q.matches) {
        std::snprintf(id, sizeof id, "SKU-%07llu", static_cast<unsigned long long>(number));
        j["expected"].push_back(id);
      }
      const std::string line = j.dump() + '\n';
      std::fwrite(line.data(), 1, line.size(), out);
      ++written;
    }
    return written;
  }

 private:
  static constexpr size_t kAnyCategory = SIZE_MAX;

  struct Query {
    std::vector<size_t> words;  // vocabulary ranks
    size_t category = kAnyCategory;
    std::string text;
    std::vector<uint64_t> matches;  // product numbers, capped at kMaxExpected + 1
  };

  // Lets the word map be probed with the reused token buffer without building a key.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  static bool IsAsciiAlnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  }
  static char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
  static bool IsSingleAsciiWord(std::string_view name) {
    return std::all_of(name.begin(), name.end(), IsAsciiAlnum);
  }

  // Estimated matches in thousandths of a product, in integers so that the choice is the
  // same everywhere. A title holds about 6 vocabulary words, so P(word in title) ~ 6 * p(word).
  // Catalogs are capped at 10^9 products here so that every product below fits in 64 bits.
  uint64_t EstimateMilli(const Query& q, uint64_t products, uint64_t cjk_ppm,
                         const WeightedTable& words) const {
    uint64_t estimate = std::min<uint64_t>(products, 1'000'000'000) * 1000;
    estimate = estimate * (1'000'000 - cjk_ppm) / 1'000'000;
    for (size_t rank : q.words) {
      const uint64_t ppm =
          std::min<uint64_t>(1'000'000, 6 * words.Weight(rank) * 1'000'000 / words.Total());
      estimate = estimate * ppm / 1'000'000;
    }
    if (q.category != kAnyCategory) {
      estimate = estimate * category_weights_.Weight(q.category) / category_weights_.Total();
    }
    return estimate;
  }

  void Choose(uint64_t seed, uint64_t products, uint64_t cjk_ppm) {
    // Its own stream: asking for queries must not change the catalog.
    Rng rng(seed ^ 0x9e3779b97f4a7c15ULL);
    const WeightedTable words = WeightedTable::Zipf(vocabulary_.size(), 3);
    const size_t wanted = 3 * count_ + 10;
    // Strict bounds first; looser ones only when a tiny catalog leaves too few candidates.
    static constexpr uint64_t kBounds[][2] = {{10, 60}, {3, 120}, {1, 200}};
    std::set<std::string> seen;
    for (const auto& bounds : kBounds) {
      for (size_t attempt = 0; attempt < 200 * wanted + 10'000 && queries_.size() < wanted;
           ++attempt) {
        Query q = RandomQuery(rng);
        const uint64_t estimate = EstimateMilli(q, products, cjk_ppm, words);
        if (estimate < bounds[0] * 1000 || estimate > bounds[1] * 1000) continue;
        if (!seen.insert(q.text).second) continue;
        for (size_t slot = 0; slot < q.words.size(); ++slot) {
          by_word_[vocabulary_[q.words[slot]]].emplace_back(queries_.size(), slot);
        }
        queries_.push_back(std::move(q));
      }
    }
  }

  // One or two distinct words, ranks drawn log-uniformly so that mid-frequency words are as
  // likely as the huge tail; sometimes restricted to a single-word ASCII category.
  Query RandomQuery(Rng& rng) const {
    Query q;
    const size_t words = rng.ChancePpm(400'000) ? 1 : 2;
    while (q.words.size() < words) {
      const uint64_t bucket = rng.Between(0, 11);
      const size_t rank = rng.Between((uint64_t{1} << bucket) - 1, (uint64_t{2} << bucket) - 2);
      if (rank >= vocabulary_.size()) continue;
      if (std::find(q.words.begin(), q.words.end(), rank) != q.words.end()) continue;
      q.words.push_back(rank);
    }
    std::sort(q.words.begin(), q.words.end());
    for (size_t rank : q.words) q.text += (q.text.empty() ? "" : " ") + vocabulary_[rank];
    if (rng.ChancePpm(300'000)) {
      const size_t category = category_weights_.Pick(rng);
      if (!category_queries_) return q;
      const std::string_view name = Categories()[category].name;
      if (IsSingleAsciiWord(name)) {
        q.category = category;
        q.text += " category:";
        for (char c : name) q.text += ToLower(c);
      }
    }
    return q;
  }

  size_t count_;
  const std::vector<std::string>& vocabulary_;
  WeightedTable category_weights_;
  bool category_queries_;  // not with leaf categories, whose names are not single words
  std::vector<Query> queries_;
  std::unordered_map<std::string, std::vector<std::pair<uint32_t, uint32_t>>, StringHash,
                     std::equal_to<>>
      by_word_;
  std::vector<uint32_t> masks_;    // per query: bit per word seen in the current title
  std::vector<uint32_t> touched_;  // queries whose mask is nonzero for the current title
  std::string token_;
};

}  // namespace pidx_gen
