// pidx-gen: a deterministic generator of realistic product catalogs for tests, demos and
// benchmarks.
//
// Same arguments => byte-identical output on every platform. That is why all randomness comes
// from our own xoshiro256** and all sampling is integer arithmetic: std:: distributions are
// implementation-defined and floating point sampling can differ between compilers (FMA
// contraction, libm). Output is streamed product by product so memory stays constant no matter
// how many products are written.
//
// Besides the catalog it can write:
//  --truth FILE    a JSON summary of what was written, for tests to compare with index stats;
//  --queries FILE  a recall query set (JSONL), each query with every product that must match.
//
// Exit codes follow the pidx contract: 0 ok, 64 bad usage, 74 I/O error.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

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

namespace {

// Kept local because pidx-gen deliberately does not link the pidx library (see
// lib/pidx/base/exit_code.h for the table these values come from).
constexpr int kExitOk = 0;
constexpr int kExitUsage = 64;
constexpr int kExitIoError = 74;

using OrderedJson = nlohmann::ordered_json;

// ---------------------------------------------------------------------------------------------
// Randomness

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

// ---------------------------------------------------------------------------------------------
// Static catalog data

struct CategorySpec {
  std::string_view name;
  uint64_t weight;  // relative size; Electronics is ~25% and the tail is tiny on purpose
  std::vector<std::string_view> brands;
};

const std::vector<CategorySpec>& Categories() {
  static const std::vector<CategorySpec> kCategories = {
      {"Electronics", 250, {"Apple Inc.", "Samsung", "Sony", "LG", "Anker", "Logitech", "Bose"}},
      {"Home & Kitchen", 130, {"KitchenAid", "OXO", "Cuisinart", "Instant Pot", "Lodge"}},
      {"Clothing", 100, {"Levi's", "Uniqlo", "H&M", "Zara", "Hanes", "The North Face"}},
      {"Sports & Outdoors", 70, {"Nike", "Adidas", "Coleman", "Under Armour", "Yeti"}},
      {"Beauty", 60, {"L'Oreal", "Procter & Gamble", "Nivea", "Maybelline", "Olay"}},
      {"Toys", 50, {"LEGO", "Mattel", "Hasbro", "Melissa & Doug", "Fisher-Price"}},
      {"Books", 45, {"Penguin", "HarperCollins", "O'Reilly Media", "Scholastic"}},
      {"Grocery", 40, {"Nestle", "Kellogg's", "Procter & Gamble", "Kraft Heinz"}},
      {"Automotive", 35, {"Bosch", "Michelin", "3M", "Meguiar's", "Castrol"}},
      {"Health", 30, {"Johnson & Johnson", "Nature Made", "Omron", "Philips"}},
      {"Office Products", 25, {"Post-it", "Sharpie", "HP", "Brother", "Fellowes"}},
      {"Pet Supplies", 22, {"Purina", "KONG", "Pedigree", "Blue Buffalo"}},
      {"Tools", 20, {"DeWalt", "Makita", "Black & Decker", "Stanley", "Bosch"}},
      {"Garden", 18, {"Scotts", "Fiskars", "Miracle-Gro", "Gardena"}},
      {"Jewelry", 15, {"Pandora", "Swarovski", "Tiffany & Co."}},
      {"Shoes", 14, {"Nike", "Adidas", "Skechers", "New Balance", "Crocs"}},
      {"Baby", 12, {"Pampers", "Huggies", "Graco", "Chicco"}},
      {"手机", 12, {"华为", "小米", "OPPO", "Apple Inc.", "Samsung"}},
      {"Music", 10, {"Universal Music", "Sony Music", "Warner Records"}},
      {"Video Games", 9, {"Nintendo", "Sony", "Microsoft", "Electronic Arts"}},
      {"家电", 7, {"海尔", "美的", "格力", "Panasonic", "Philips"}},
      {"Software", 5, {"Microsoft", "Adobe", "Intuit"}},
      {"Luggage", 4, {"Samsonite", "Travelpro", "Osprey"}},
      {"Watches", 4, {"Casio", "Seiko", "Fossil", "Timex"}},
      {"Industrial", 3, {"3M", "Honeywell", "Grainger"}},
      {"Arts & Crafts", 3, {"Crayola", "Cricut", "Faber-Castell"}},
      {"Appliances", 2, {"Whirlpool", "GE Appliances", "Bosch"}},
      {"Musical Instruments", 2, {"Yamaha", "Fender", "Roland"}},
      {"Collectibles", 1, {"Funko", "Hot Wheels"}},
      {"Handmade", 1, {"Etsy Makers", "Local Artisan"}},
  };
  return kCategories;
}

WeightedTable CategoryWeights() {
  std::vector<uint64_t> weights;
  for (const CategorySpec& category : Categories()) weights.push_back(category.weight);
  return WeightedTable(std::move(weights));
}

// Real product words, roughly most common first so they take the head of the Zipf curve. Every
// word is a pure [a-z] token: the analyzer splits on non-alphanumerics, and the query set relies
// on a vocabulary word being exactly one term.
constexpr std::string_view kRealWords =
    "new set pack black white wireless portable premium smart pro mini large small "
    "stainless steel cotton leather classic original organic natural waterproof rechargeable with "
    "for and "
    "bluetooth usb charger cable case cover bag bottle cup mug plate bowl knife pan pot lamp "
    "light led bulb desk chair table shelf storage box organizer holder stand mount kit tool "
    "drill saw hammer screwdriver wrench battery power bank adapter speaker headphones earbuds "
    "keyboard mouse monitor laptop tablet phone camera lens tripod watch band strap ring necklace "
    "bracelet earrings shirt dress pants jeans jacket coat hoodie sweater socks shoes boots "
    "sneakers sandals hat cap gloves scarf towel blanket pillow sheet mattress rug curtain "
    "candle vase frame mirror clock fan heater purifier humidifier vacuum blender toaster kettle "
    "grill oven fryer mixer juicer coffee tea maker filter water air oil soap shampoo lotion "
    "cream serum mask brush comb razor trimmer dryer toy puzzle game doll car truck train robot "
    "blocks book novel guide notebook pen pencil marker paper sticker tape glue scissors "
    "backpack wallet purse luggage suitcase tent sleeping hiking camping fishing cycling yoga "
    "fitness running training gym ball bike helmet lock pump tire wiper seat dog cat pet food "
    "treat leash collar bed toyset garden hose planter seeds soil fertilizer shovel rake "
    "ultra slim compact heavy duty lightweight durable soft warm cool fast quick easy adjustable "
    "foldable washable reusable eco friendly vintage modern rustic elegant cute funny kids men "
    "women girls boys baby toddler adult outdoor indoor kitchen bathroom bedroom office travel "
    "home party holiday christmas birthday wedding gift red blue green yellow pink purple grey "
    "brown silver gold clear bamboo wood glass ceramic silicone plastic metal aluminum wool "
    "linen silk denim canvas nylon digital analog electric manual automatic magnetic solar "
    "hd wifi gaming streaming noise cancelling sport edition series version bundle combo "
    "refill replacement accessory spare parts";

// Syllables for the pseudo-words of the vocabulary tail (brand-like coinages such as "velora").
constexpr std::string_view kOnsets[] = {"b",  "d",  "f",  "g",  "k",  "l",  "m",  "n",  "p",
                                        "r",  "s",  "t",  "v",  "z",  "br", "tr", "gr", "st",
                                        "pl", "kr", "sh", "ch", "th", "fl", "qu", "x"};
constexpr std::string_view kVowels[] = {"a", "e", "i", "o", "u", "a", "e", "o", "ai", "y"};
constexpr std::string_view kCodas[] = {"", "", "", "n", "r", "x", "s", "l", "m", "k", "t"};

constexpr std::string_view kModelPrefixes[] = {"x", "s", "m", "pro", "mk", "v", "gt", "z", "a"};

constexpr std::string_view kTags[] = {
    "bestseller",     "new arrival",  "sale",       "free shipping", "eco-friendly", "gift idea",
    "limited",        "clearance",    "prime",      "handmade",      "imported",     "bundle",
    "refurbished",    "top rated",    "exclusive",  "organic",       "vegan",        "made in usa",
    "back to school", "holiday deal", "staff pick", "trending",      "premium",      "budget",
    "family size",    "travel size",  "kids",       "unisex",        "waterproof",   "wireless",
    "smart home",     "outdoor",      "fitness",    "office",        "kitchen",      "pet friendly",
    "battery",        "recyclable",   "fragile",    "oversized",     "新品",         "包邮",
    "限定",           "セール",       "送料無料"};

struct AttrSpec {
  std::string_view key;
  std::vector<std::string_view> values;
};

const std::vector<AttrSpec>& Attributes() {
  static const std::vector<AttrSpec> kAttrs = {
      {"color", {"black", "white", "red", "blue", "navy blue", "green", "silver", "rose gold"}},
      {"size", {"XS", "S", "M", "L", "XL", "XXL", "one size", "10 oz", "1 L"}},
      {"material", {"cotton", "polyester", "stainless steel", "leather", "bamboo", "glass"}},
      {"style", {"modern", "classic", "vintage", "sport", "casual"}},
      {"pattern", {"solid", "striped", "plaid", "floral", "camo"}},
  };
  return kAttrs;
}

// CJK title pieces; a CJK title joins a few of them with spaces so that ASCII model numbers
// never touch CJK characters (the analyzer's token boundaries are then unambiguous).
constexpr std::string_view kCjkMakers[] = {"华为",   "小米",         "海尔",     "美的",
                                           "ソニー", "パナソニック", "无印良品", "삼성"};
constexpr std::string_view kCjkNouns[] = {
    "手机",       "智能手机",     "笔记本电脑",         "电饭煲",
    "扫地机器人", "保温杯",       "蓝牙耳机",           "空气净化器",
    "充电宝",     "运动鞋",       "ワイヤレスイヤホン", "デジタルカメラ",
    "炊飯器",     "電動歯ブラシ", "スマートウォッチ",   "무선 이어폰"};
constexpr std::string_view kCjkModifiers[] = {"超薄", "大容量", "新款", "防水",       "静音",
                                              "快充", "轻便",   "高清", "限定モデル", "送料無料"};

// ---------------------------------------------------------------------------------------------
// Vocabulary

// The title/description vocabulary: real words first, then pseudo-words up to kVocabularySize.
// It is built from a fixed seed, not --seed, so every catalog shares one vocabulary.
constexpr size_t kVocabularySize = 3000;

std::vector<std::string> BuildVocabulary() {
  std::vector<std::string> words;
  std::set<std::string, std::less<>> seen;
  auto add = [&](std::string word) {
    if (seen.insert(word).second) words.push_back(std::move(word));
  };
  for (size_t pos = 0; pos < kRealWords.size();) {
    size_t end = kRealWords.find(' ', pos);
    if (end == std::string_view::npos) end = kRealWords.size();
    if (end > pos) add(std::string(kRealWords.substr(pos, end - pos)));
    pos = end + 1;
  }
  Rng rng(0x70696478);  // "pidx"
  while (words.size() < kVocabularySize) {
    std::string word;
    const uint64_t syllables = rng.ChancePpm(750'000) ? 2 : 3;
    for (uint64_t i = 0; i < syllables; ++i) {
      word += kOnsets[rng.Below(std::size(kOnsets))];
      word += kVowels[rng.Below(std::size(kVowels))];
    }
    word += kCodas[rng.Below(std::size(kCodas))];
    add(std::move(word));
  }
  return words;
}

// ---------------------------------------------------------------------------------------------
// Products

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
  // ones, picked with Zipf weights 1/(rank + skew) (rank 0 the largest; skew 1: most leaves
  // hold a handful of products), leaf i under built-in category i mod their count, named
  // "<that category> > <i>". The leaf pick uses its own stream, so ids, titles and
  // descriptions are those of the same seed without leaves.
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

// ---------------------------------------------------------------------------------------------
// Catalog formats

enum class Format { kJsonl, kCsv, kTsv };

// Builds the JSON object with nlohmann so that escaping is exactly a JSON library's. An
// ordered_json keeps the fields in the order a human expects to read them. The object is kept
// between products and its strings are assigned in place, which reuses their capacity instead
// of allocating eight fresh values per line.
class JsonlFormatter {
 public:
  JsonlFormatter() {
    for (const char* key : {"id", "category", "title", "description", "brand"}) json_[key] = "";
    json_["tags"] = OrderedJson::array();
    json_["price"] = 0.0;
    json_["attrs"] = OrderedJson::object();
  }

  void Append(const Product& p, std::string& line) {
    Set("id", p.id);
    Set("category", p.category_name);
    Set("title", p.title);
    Set("description", p.description);
    Set("brand", p.brand);
    auto& tags = json_["tags"].get_ref<OrderedJson::array_t&>();
    tags.resize(p.tags.size(), "");
    for (size_t i = 0; i < p.tags.size(); ++i) tags[i].get_ref<std::string&>().assign(p.tags[i]);
    json_["price"] = static_cast<double>(p.price_cents) / 100.0;
    auto& attrs = json_["attrs"];
    attrs.clear();
    for (const auto& [key, value] : p.attrs) attrs[std::string(key)] = value;
    line = json_.dump();  // moved in, not copied
    line += '\n';
  }

 private:
  void Set(const char* key, std::string_view value) {
    json_[key].get_ref<std::string&>().assign(value);
  }

  OrderedJson json_;
};

// RFC 4180 quoting: only fields with a comma, quote or line break are quoted, and quotes are
// doubled. Lines end in LF, which every CSV reader we target accepts.
void AppendCsvField(std::string_view value, std::string& line) {
  // A plain loop: find_first_of with a character set calls memchr once per character.
  const bool needs_quotes = std::any_of(value.begin(), value.end(), [](char c) {
    return c == ',' || c == '"' || c == '\r' || c == '\n';
  });
  if (!needs_quotes) {
    line += value;
    return;
  }
  line += '"';
  for (char c : value) {
    if (c == '"') line += '"';
    line += c;
  }
  line += '"';
}

// Shared by CSV and TSV: the same columns, the tags joined with '|'. TSV has no quoting at
// all, which is safe because no generated value contains a tab or a line break.
void AppendDelimited(const Product& p, Format format, std::string& line) {
  const char separator = format == Format::kCsv ? ',' : '\t';
  auto field = [&](std::string_view value, bool last = false) {
    if (format == Format::kCsv) {
      AppendCsvField(value, line);
    } else {
      line += value;
    }
    line += last ? '\n' : separator;
  };
  std::string tags;
  for (std::string_view tag : p.tags) {
    if (!tags.empty()) tags += '|';
    tags += tag;
  }
  char price[32];
  std::snprintf(price, sizeof price, "%llu.%02llu",
                static_cast<unsigned long long>(p.price_cents / 100),
                static_cast<unsigned long long>(p.price_cents % 100));
  field(p.id);
  field(p.category_name);
  field(p.title);
  field(p.description);
  field(p.brand);
  field(tags);
  field(price, /*last=*/true);
}

constexpr std::string_view kDelimitedHeader[] = {"id",    "category", "title", "description",
                                                 "brand", "tags",     "price"};

std::string Header(Format format) {
  if (format == Format::kJsonl) return "";
  std::string header;
  for (std::string_view column : kDelimitedHeader) {
    if (!header.empty()) header += format == Format::kCsv ? ',' : '\t';
    header += column;
  }
  return header + '\n';
}

// ---------------------------------------------------------------------------------------------
// --truth: counts of what was written

class Truth {
 public:
  void Count(const Product& p) {
    ++products_;
    ++categories_[p.category_name];
    ++brands_[p.brand];
    tags_total_ += p.tags.size();
    products_with_tags_ += p.tags.empty() ? 0 : 1;
    cjk_titles_ += p.cjk_title ? 1 : 0;
  }

  // Only categories that received products appear: an index cannot know about the others.
  OrderedJson ToJson() const {
    nlohmann::json categories = nlohmann::json::object();
    for (const auto& [name, count] : categories_) categories[name] = count;
    nlohmann::json brands = nlohmann::json::object();
    for (const auto& [brand, count] : brands_) brands[std::string(brand)] = count;
    return OrderedJson{{"products", products_},
                       {"categories", std::move(categories)},
                       {"brands", std::move(brands)},
                       {"tags_total", tags_total_},
                       {"products_with_tags", products_with_tags_},
                       {"cjk_titles", cjk_titles_}};
  }

 private:
  uint64_t products_ = 0;
  std::map<std::string, uint64_t> categories_;
  std::map<std::string_view, uint64_t> brands_;
  uint64_t tags_total_ = 0;
  uint64_t products_with_tags_ = 0;
  uint64_t cjk_titles_ = 0;
};

// ---------------------------------------------------------------------------------------------
// --queries: a recall query set with complete expected results

// Remembering which products hold every word would cost memory proportional to the catalog.
// Instead the queries are chosen before generation, from words whose estimated match count is
// moderate, and each product is checked against them as it streams by. More candidates than
// requested are tracked because an estimate can miss; only those that end with 1..200 matches
// are written.
class QuerySet {
 public:
  static constexpr size_t kMaxExpected = 200;

  // `category_queries`: some queries name a built-in category (not with leaf categories,
  // whose names are not single words).
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
  bool category_queries_;
  std::vector<Query> queries_;
  std::unordered_map<std::string, std::vector<std::pair<uint32_t, uint32_t>>, StringHash,
                     std::equal_to<>>
      by_word_;
  std::vector<uint32_t> masks_;    // per query: bit per word seen in the current title
  std::vector<uint32_t> touched_;  // queries whose mask is nonzero for the current title
  std::string token_;
};

// ---------------------------------------------------------------------------------------------
// Output files

// "-" is standard output. Close() reports any write error seen on the stream, so a full disk
// or a closed pipe is an exit code, not a silently short file.
class OutputFile {
 public:
  bool Open(const std::string& path) {
    path_ = path;
    if (path == "-") {
      file_ = stdout;
    } else {
      file_ = std::fopen(path.c_str(), "wb");
      if (file_ == nullptr) return false;
    }
    // A large buffer keeps the many small per-product writes cheap. It outlives this object
    // because stdout stays open (and may be flushed again) after Close().
    buffer_ = std::make_unique<char[]>(kBufferSize);
    std::setvbuf(file_, buffer_.get(), _IOFBF, kBufferSize);
    if (file_ == stdout) static_cast<void>(buffer_.release());
    return true;
  }

  ~OutputFile() { static_cast<void>(Close()); }

  [[nodiscard]] bool Close() {
    if (file_ == nullptr) return true;
    bool ok = std::ferror(file_) == 0;
    ok = std::fflush(file_) == 0 && ok;
    if (file_ != stdout) ok = std::fclose(file_) == 0 && ok;
    file_ = nullptr;
    return ok;
  }

  bool Write(std::string_view data) {
    return std::fwrite(data.data(), 1, data.size(), file_) == data.size();
  }

  std::FILE* get() const { return file_; }
  const std::string& path() const { return path_; }

 private:
  static constexpr size_t kBufferSize = 1 << 20;
  std::string path_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<char[]> buffer_;
};

// ---------------------------------------------------------------------------------------------
// Command line

struct Options {
  uint64_t products = 0;
  uint64_t seed = 42;
  std::string format;  // empty: from the --out extension, else jsonl
  std::string out = "-";
  std::string queries;
  size_t query_count = 100;
  std::string truth;
  double cjk_ratio = 0.05;
  uint64_t categories = 0;  // 0: the built-in categories
  uint64_t category_skew = 1;
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Format ResolveFormat(const Options& options) {
  std::string_view name = options.format;
  if (name.empty()) {
    name = EndsWith(options.out, ".csv") ? "csv" : EndsWith(options.out, ".tsv") ? "tsv" : "jsonl";
  }
  return name == "csv" ? Format::kCsv : name == "tsv" ? Format::kTsv : Format::kJsonl;
}

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "pidx-gen: %s\n", message.c_str());
  return code;
}

int Run(const Options& options) {
  const std::vector<std::string> vocabulary = BuildVocabulary();
  // The ratio becomes an integer per-million once, so sampling stays integer-only.
  const auto cjk_ppm = static_cast<uint64_t>(options.cjk_ratio * 1'000'000 + 0.5);
  const Format format = ResolveFormat(options);

  std::unique_ptr<QuerySet> queries;
  if (!options.queries.empty()) {
    queries = std::make_unique<QuerySet>(options.seed, options.query_count, options.products,
                                         cjk_ppm, vocabulary, options.categories == 0);
  }
  Truth truth;

  OutputFile out;
  if (!out.Open(options.out)) return Fail(kExitIoError, "cannot open " + options.out);
  bool ok = out.Write(Header(format));
  ProductGenerator generator(options.seed, cjk_ppm, vocabulary, options.categories,
                             options.category_skew);
  Product product;
  JsonlFormatter jsonl;
  std::string line;
  for (uint64_t i = 0; i < options.products && ok; ++i) {
    generator.Next(product);
    line.clear();
    if (format == Format::kJsonl) {
      jsonl.Append(product, line);
    } else {
      AppendDelimited(product, format, line);
    }
    ok = out.Write(line);
    truth.Count(product);
    if (queries) queries->Observe(product);
  }
  const std::string out_name = options.out == "-" ? "stdout" : options.out;
  if (!out.Close() || !ok) return Fail(kExitIoError, "write error on " + out_name);

  if (queries) {
    OutputFile file;
    if (!file.Open(options.queries)) return Fail(kExitIoError, "cannot open " + options.queries);
    const size_t written = queries->Write(file.get());
    if (!file.Close()) return Fail(kExitIoError, "write error on " + options.queries);
    if (written < options.query_count) {
      std::fprintf(stderr, "pidx-gen: only %zu of %zu queries have 1..%zu matches\n", written,
                   options.query_count, QuerySet::kMaxExpected);
    }
  }
  if (!options.truth.empty()) {
    OutputFile file;
    if (!file.Open(options.truth)) return Fail(kExitIoError, "cannot open " + options.truth);
    const bool written = file.Write(truth.ToJson().dump(2) + '\n');
    if (!file.Close() || !written) return Fail(kExitIoError, "write error on " + options.truth);
  }
  std::fprintf(stderr, "pidx-gen: wrote %llu products to %s\n",
               static_cast<unsigned long long>(options.products), out_name.c_str());
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Generate a deterministic, realistic product catalog for pidx.", "pidx-gen"};
  Options options;
  app.add_option("--products", options.products, "number of products to write")->required();
  app.add_option("--seed", options.seed, "seed; same arguments give byte-identical output")
      ->capture_default_str();
  app.add_option("--format", options.format, "jsonl, csv or tsv (default: from --out, jsonl)")
      ->check(CLI::IsMember({"jsonl", "csv", "tsv"}));
  app.add_option("--out", options.out, "catalog file, - for stdout")->capture_default_str();
  auto* queries = app.add_option("--queries", options.queries, "write a recall query set (JSONL)");
  app.add_option("--query-count", options.query_count, "number of queries")
      ->capture_default_str()
      ->needs(queries);
  app.add_option("--truth", options.truth, "write a JSON summary of the catalog");
  app.add_option("--cjk-ratio", options.cjk_ratio, "fraction of CJK titles")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--categories", options.categories,
                 "leaf categories (0: the built-in ones); leaf i is \"<built-in> > i\"")
      ->check(CLI::Range(uint64_t{0}, uint64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--category-skew", options.category_skew,
                 "Zipf offset of the leaf sizes, weights 1/(rank + skew): 1 makes most leaves "
                 "tiny, larger values spread products more evenly")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}))
      ->capture_default_str();
  app.set_version_flag("--version", PIDX_VERSION);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  // Two outputs on one path would interleave into garbage.
  std::set<std::string> paths{options.out};
  for (const std::string* path : {&options.queries, &options.truth}) {
    if (!path->empty() && !paths.insert(*path).second) {
      return Fail(kExitUsage, "--out, --queries and --truth must name different files");
    }
  }
  return Run(options);
}
