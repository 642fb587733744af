// One generated product and the generator that refills it, product after product.
#pragma once

#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog_data.h"
#include "random.h"

namespace pidx_gen {

// One generated product. The generator refills the same instance for every product so that
// string buffers are reused instead of reallocated.
struct Product {
  uint64_t number = 0;  // 1-based position in the catalog
  std::string id;
  size_t category = 0;        // index into Categories(): brands, queries
  std::string category_name;  // what the catalog says: the category's name, or a leaf of it
  std::string_view brand;
  std::string title;
  std::string description;
  std::vector<std::string_view> tags;
  std::vector<std::pair<std::string_view, std::string_view>> attrs;
  uint64_t price_cents = 0;
  bool cjk_title = false;
};

class ProductGenerator {
 public:
  // `leaf_categories` > 0: products go to that many leaf categories instead of the built-in
  // ones, picked with Zipf weights 1/(rank + skew) (rank 0 the largest; a small skew makes a
  // few huge leaves and a long tail of tiny ones), leaf i under built-in category i mod their
  // count, named "<that category> > <i>". The leaf pick uses its own stream, so ids, titles
  // and descriptions are those of the same seed without leaves.
  ProductGenerator(uint64_t seed, uint64_t cjk_ppm, const std::vector<std::string>& vocabulary,
                   uint64_t leaf_categories = 0, uint64_t leaf_skew = 1)
      : rng_(seed),
        leaf_rng_(seed ^ 0x5851f42d4c957f2dULL),
        leaves_(leaf_categories > 0 ? WeightedTable::Zipf(leaf_categories, leaf_skew)
                                    : WeightedTable()),
        has_leaves_(leaf_categories > 0),
        cjk_ppm_(cjk_ppm),
        vocabulary_(vocabulary),
        words_(WeightedTable::Zipf(vocabulary.size(), 3)),
        tags_(WeightedTable::Zipf(std::size(kTags), 2)),
        categories_(CategoryWeights()) {
    for (const CategorySpec& category : Categories()) {
      brands_.push_back(WeightedTable::Zipf(category.brands.size(), 1));
    }
  }

  void Next(Product& p) {
    p.number = ++count_;
    p.id.resize(32);
    p.id.resize(std::snprintf(p.id.data(), p.id.size(), "SKU-%07llu",
                              static_cast<unsigned long long>(p.number)));
    p.category = categories_.Pick(rng_);
    if (has_leaves_) {
      const size_t leaf = leaves_.Pick(leaf_rng_);
      p.category = leaf % Categories().size();
      p.category_name.assign(Categories()[p.category].name);
      p.category_name += " > ";
      p.category_name += std::to_string(leaf);
    } else {
      p.category_name.assign(Categories()[p.category].name);
    }
    p.brand = Categories()[p.category].brands[brands_[p.category].Pick(rng_)];
    p.cjk_title = rng_.ChancePpm(cjk_ppm_);
    if (p.cjk_title) {
      CjkTitle(p.title);
    } else {
      AsciiTitle(p.brand, p.title);
    }
    Description(p.description);
    Tags(p.tags);
    Attrs(p.attrs);
    p.price_cents = Price();
  }

 private:
  // 4-10 words: sometimes the brand first, then lowercase vocabulary words, sometimes a model
  // number such as "x200" at the end.
  void AsciiTitle(std::string_view brand, std::string& out) {
    out.clear();
    uint64_t words = rng_.Between(4, 10);
    if (rng_.ChancePpm(500'000) && static_cast<unsigned char>(brand.front()) < 0x80) {
      out += brand;
      words -= 1;
    }
    const bool model = rng_.ChancePpm(300'000);
    if (model) words -= 1;
    for (uint64_t i = 0; i < words; ++i) AppendWord(out, vocabulary_[words_.Pick(rng_)]);
    if (model) AppendModel(out);
  }

  void CjkTitle(std::string& out) {
    out.clear();
    if (rng_.ChancePpm(700'000)) AppendWord(out, kCjkMakers[rng_.Below(std::size(kCjkMakers))]);
    AppendWord(out, kCjkNouns[rng_.Below(std::size(kCjkNouns))]);
    const uint64_t modifiers = rng_.Between(1, 2);
    for (uint64_t i = 0; i < modifiers; ++i) {
      AppendWord(out, kCjkModifiers[rng_.Below(std::size(kCjkModifiers))]);
    }
    if (rng_.ChancePpm(300'000)) AppendModel(out);
  }

  // 15-40 words in sentences of 4-12 words. Occasional commas and a quoted word make CSV
  // writers and readers exercise their quoting.
  void Description(std::string& out) {
    out.clear();
    uint64_t remaining = rng_.Between(15, 40);
    while (remaining > 0) {
      const uint64_t sentence = std::min<uint64_t>(remaining, rng_.Between(4, 12));
      remaining -= sentence;
      for (uint64_t i = 0; i < sentence; ++i) {
        const std::string_view word = vocabulary_[words_.Pick(rng_)];
        if (!out.empty()) out += ' ';
        const size_t start = out.size();
        const bool quoted = i > 0 && rng_.ChancePpm(5'000);
        if (quoted) out += '"';
        out += word;
        if (quoted) out += '"';
        if (i == 0) out[start] = static_cast<char>(out[start] - 'a' + 'A');
        if (i + 1 < sentence && rng_.ChancePpm(40'000)) out += ',';
      }
      out += '.';
    }
  }

  void Tags(std::vector<std::string_view>& out) {
    out.clear();
    // 0-5 tags, fewer being more common: weights for 0,1,2,3,4,5 tags.
    static constexpr uint64_t kCountWeights[] = {20, 25, 25, 15, 10, 5};
    uint64_t r = rng_.Below(100);
    size_t count = 0;
    while (r >= kCountWeights[count]) r -= kCountWeights[count++];
    while (out.size() < count) {
      const std::string_view tag = kTags[tags_.Pick(rng_)];
      if (std::find(out.begin(), out.end(), tag) == out.end()) out.push_back(tag);
    }
  }

  void Attrs(std::vector<std::pair<std::string_view, std::string_view>>& out) {
    out.clear();
    const auto& attrs = Attributes();
    const uint64_t count = rng_.Below(4);
    // A random start and consecutive keys give 0-3 distinct keys without rejection sampling.
    const size_t first = rng_.Below(attrs.size());
    for (uint64_t i = 0; i < count; ++i) {
      const AttrSpec& attr = attrs[(first + i) % attrs.size()];
      out.emplace_back(attr.key, attr.values[rng_.Below(attr.values.size())]);
    }
  }

  // Prices spread over orders of magnitude, with retail endings (.99, .49, .00 ...).
  uint64_t Price() {
    static constexpr uint64_t kCents[] = {99, 99, 99, 49, 95, 0, 50, 29};
    const uint64_t magnitude = rng_.Below(4);  // up to 10, 100, 1000, 10000
    uint64_t limit = 10;
    for (uint64_t i = 0; i < magnitude; ++i) limit *= 10;
    return rng_.Between(1, limit - 1) * 100 + kCents[rng_.Below(std::size(kCents))];
  }

  void AppendWord(std::string& out, std::string_view word) {
    if (!out.empty()) out += ' ';
    out += word;
  }

  void AppendModel(std::string& out) {
    if (!out.empty()) out += ' ';
    out += kModelPrefixes[rng_.Below(std::size(kModelPrefixes))];
    out += std::to_string(rng_.Between(1, 99) * (rng_.ChancePpm(500'000) ? 100 : 1));
  }

  Rng rng_;
  Rng leaf_rng_;
  WeightedTable leaves_;
  bool has_leaves_;
  uint64_t cjk_ppm_;
  uint64_t count_ = 0;
  const std::vector<std::string>& vocabulary_;
  WeightedTable words_;
  std::vector<WeightedTable> brands_;  // per category
  WeightedTable tags_;
  WeightedTable categories_;
};

}  // namespace pidx_gen
