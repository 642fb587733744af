// The analyzer's contract (docs/CONTRACT.md section 2), one behaviour per test case.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "pidx/analysis/analyzer.h"
#include "pidx/analysis/normalizer.h"
#include "pidx/analysis/stemmer.h"
#include "pidx/analysis/tokenizer.h"
#include "pidx/catalog/product.h"
#include "pidx/catalog/schema.h"

namespace pidx::analysis {
namespace {

using Strings = std::vector<std::string>;

// The cases below up to "Settings round trip" specify version 1, which every later version
// keeps for text without compounds or accents; version 2's additions follow them.
Strings Tokens(std::string_view text, AnalyzerSettings settings = AnalyzerSettings::Version1()) {
  Strings tokens;
  Analyzer(settings).Tokenize(text, &tokens);
  return tokens;
}

// A product shaped by the default schema, with the given fields set by name.
class ProductBuilder {
 public:
  ProductBuilder() { product_.fields.resize(schema_.fields().size()); }
  ProductBuilder& Category(std::string category) {
    product_.category = std::move(category);
    return *this;
  }
  ProductBuilder& Add(std::string_view field, std::string value) {
    const int index = schema_.FindName(field);
    REQUIRE(index >= 0);
    product_.fields[index].push_back(std::move(value));
    return *this;
  }
  ProductBuilder& Attr(const std::string& key, const std::string& value) {
    return Add("attrs", key + catalog::kAttrSeparator + value);
  }
  Strings Terms(const Analyzer& analyzer = Analyzer()) const {
    Strings terms;
    analyzer.AnalyzeProduct(schema_, product_, &terms);
    return terms;
  }

 private:
  catalog::Schema schema_ = catalog::Schema::Default();
  catalog::Product product_;
};

bool IsWellFormedUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t c = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      n = 1, c = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 2, c = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 3, c = b & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // sequence cut off by the end
    for (size_t k = 1; k <= n; ++k) {
      const auto t = static_cast<unsigned char>(s[i + k]);
      if ((t & 0xC0) != 0x80) return false;
      c = (c << 6) | (t & 0x3F);
    }
    const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
    if (c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

TEST_CASE("ASCII text is lowercased and split on anything that is not a letter or digit") {
  CHECK(Tokens("Wireless Headphones, Noise-Cancelling (Black) 2024!") ==
        Strings{"wireless", "headphones", "noise", "cancelling", "black", "2024"});
  CHECK(Tokens("  \t\n--  ").empty());
  CHECK(Tokens("").empty());
}

TEST_CASE("Tokenize appends to the tokens already in the vector") {
  Strings tokens{"kept"};
  Analyzer().Tokenize("More Words", &tokens);
  CHECK(tokens == Strings{"kept", "more", "words"});
}

TEST_CASE("CJK runs become overlapping bigrams") {
  CHECK(Tokens("华为手机") == Strings{"华为", "为手", "手机"});
  CHECK(Tokens("华为 手机") == Strings{"华为", "手机"});
  CHECK(Tokens("小米，红米！") == Strings{"小米", "红米"});
}

TEST_CASE("A lone CJK character is its own token") {
  CHECK(Tokens("华") == Strings{"华"});
  CHECK(Tokens("5G 手 Pro") == Strings{"5g", "手", "pro"});
}

TEST_CASE("ASCII and CJK split into separate runs where they touch") {
  CHECK(Tokens("iPhone15手机") == Strings{"iphone15", "手机"});
  CHECK(Tokens("手机iPhone") == Strings{"手机", "iphone"});
  CHECK(Tokens("华为Mate60Pro手机壳") == Strings{"华为", "mate60pro", "手机", "机壳"});
}

TEST_CASE("Japanese kana and kanji form one run of bigrams, the prolonged sound mark included") {
  CHECK(Tokens("ソニーのテレビ") == Strings{"ソニ", "ニー", "ーの", "のテ", "テレ", "レビ"});
  CHECK(Tokens("東京タワー") == Strings{"東京", "京タ", "タワ", "ワー"});
  CHECK(Tokens("ソニー BRAVIA 4Kテレビ") ==
        Strings{"ソニ", "ニー", "bravia", "4k", "テレ", "レビ"});
}

TEST_CASE("Half-width katakana folds to full-width before bigrams") {
  CHECK(Tokens("ｿﾆｰ") == Strings{"ソニ", "ニー"});
  // NFKC composes the half-width voiced mark into the kana: ﾃﾞ -> デ.
  CHECK(Tokens("ﾃﾞｼﾞﾀﾙ") == Tokens("デジタル"));
}

TEST_CASE("Korean Hangul runs become bigrams") {
  CHECK(Tokens("삼성 갤럭시") == Strings{"삼성", "갤럭", "럭시"});
  CHECK(Tokens("LG전자") == Strings{"lg", "전자"});
}

TEST_CASE("cjk_bigrams off makes every CJK character a unigram") {
  AnalyzerSettings settings;
  settings.cjk_bigrams = false;
  CHECK(Tokens("华为手机 iPhone", settings) == Strings{"华", "为", "手", "机", "iphone"});
}

TEST_CASE("Composed and decomposed accents in any case fold to the same token") {
  const Strings cafe{"caf\u00e9"};
  CHECK(Tokens("Caf\u00e9") == cafe);
  CHECK(Tokens("CAF\u00c9") == cafe);
  CHECK(Tokens("Cafe\u0301") == cafe);
  CHECK(Tokens("CAFE\u0301") == cafe);
  CHECK(Tokens("Cafe\u0301s") == Strings{"caf\u00e9s"});
}

TEST_CASE("Combining marks stay in their token and are dropped where no token precedes them") {
  // U+20DD COMBINING ENCLOSING CIRCLE has no precomposed form, so it stays a separate mark.
  CHECK(Tokens("a\u20ddb c") == Strings{"a\u20ddb", "c"});
  CHECK(Tokens("x \u20ddy") == Strings{"x", "y"});
}

TEST_CASE("Full-width letters and digits fold to ASCII") {
  CHECK(Tokens("ＡＢＣ１２３") == Strings{"abc123"});
  // U+3000 IDEOGRAPHIC SPACE folds to a space and separates.
  CHECK(Tokens("ｉＰｈｏｎｅ\u3000１５") == Strings{"iphone", "15"});
}

TEST_CASE("Case folding is full Unicode folding, not just lowercasing") {
  CHECK(Tokens("STRASSE Straße") == Strings{"strasse", "strasse"});
  CHECK(Tokens("\ufb01ne") == Strings{"fine"});  // the "fi" ligature
  CHECK(Tokens("ΣΟΦΙΑ Москва") == Strings{"σοφια", "москва"});
}

TEST_CASE("Letters and digits of every script are token characters") {
  CHECK(Tokens("Zürich-Örebro") == Strings{"zürich", "örebro"});
  CHECK(Tokens("\u0663\u0664") == Strings{"\u0663\u0664"});  // Arabic-Indic digits
}

TEST_CASE("ASCII fast path gives exactly what ICU gives for ASCII") {
  std::string all_ascii;
  for (int c = 0; c < 128; ++c) all_ascii.push_back(static_cast<char>(c));
  CHECK(Fold(all_ascii) == FoldWithIcu(all_ascii));

  std::mt19937 rng(42);
  std::uniform_int_distribution<int> byte(0, 127);
  for (int round = 0; round < 200; ++round) {
    std::string text(round, '\0');
    for (char& c : text) c = static_cast<char>(byte(rng));
    REQUIRE(IsAscii(text));
    CHECK(Fold(text) == FoldWithIcu(text));
  }
}

TEST_CASE("Folding mixed text word by word equals folding it whole") {
  const std::string cases[] = {
      "Caf\u00e9 au lait",
      "CAFE\u0301 \u0301Noir",      // a mark right after a space
      "A\u030a\tB\u030a\nC",        // marks next to ASCII control whitespace
      "< \u0338 <\u0338 = \u0338",  // '<' + U+0338 composes to U+226E
      "\u212b\u00c5NGSTR\u00d6M \ufb03 stra\u00dfe",
      "\u01c4 \u0130stanbul \u1e9e",
      "iPhone15\u624b\u673a Pro \u534e\u4e3a",
      "x\xff y \xe6\x89 z\xc0\xaf",  // ill-formed bytes between ASCII words
      "\u3000\u00a0lead and trail\u00a0\u3000",
      "\u00ad soft\u00adhyphen \u200b zero\u200bwidth",
  };
  for (const std::string& text : cases) {
    CAPTURE(text);
    CHECK(Fold(text) == FoldWithIcu(text));
  }
}

TEST_CASE("Invalid UTF-8 is replaced by U+FFFD and never crashes") {
  CHECK(Fold("a\xff"
             "b") == "a\ufffdb");
  CHECK(Fold("\xe6\x89") == "\ufffd");                  // truncated sequence
  CHECK(Fold("\xc0\xaf") == "\ufffd\ufffd");            // overlong '/'
  CHECK(Fold("\xed\xa0\x80") == "\ufffd\ufffd\ufffd");  // encoded surrogate
  CHECK(Tokens("ab\xff\xfe"
               "cd\xe6\x89") == Strings{"ab", "cd"});

  REQUIRE_FALSE(IsWellFormedUtf8("a\xe6\x89"));  // the checker itself catches damage
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 500; ++round) {
    std::string text(round % 64, '\0');
    for (char& c : text) c = static_cast<char>(byte(rng));
    const std::string folded = Fold(text);
    CHECK(IsWellFormedUtf8(folded));
    CHECK(folded == FoldWithIcu(text));
    CHECK(Fold(folded) == folded);  // folding is idempotent
    for (const std::string& token : Tokens(text)) CHECK(IsWellFormedUtf8(token));
  }
}

TEST_CASE("Tokens longer than max_token_bytes are dropped, not truncated") {
  AnalyzerSettings settings;
  settings.max_token_bytes = 8;
  CHECK(Tokens("short averyverylongword eightchr ninechars", settings) ==
        Strings{"short", "eightchr"});
  settings.max_token_bytes = 5;  // a CJK bigram is 6 bytes, a unigram 3
  CHECK(Tokens("华为手机 华", settings) == Strings{"华"});
  CHECK(Tokens(std::string(1000, 'x')).empty());
}

TEST_CASE("Keyword values are folded and trimmed but not split") {
  const Strings terms = ProductBuilder()
                            .Add("brand", "  Apple Inc. ")
                            .Add("tags", "Back-To-School")
                            .Add("tags", "ＳＡＬＥ")
                            .Add("tags", "")
                            .Add("tags", " \u3000 ")
                            .Terms();
  CHECK(terms == Strings{"brand:apple inc.", "tags:back-to-school", "tags:sale"});
}

TEST_CASE("Category is one folded term, not split") {
  CHECK(ProductBuilder().Category("Home & Garden").Terms() == Strings{"category:home & garden"});
  CHECK(ProductBuilder().Category("  ").Terms().empty());
}

TEST_CASE("Attrs entries give <field>.<key>:<value> terms with key and value folded") {
  const Strings terms = ProductBuilder()
                            .Attr("Color", "Red")
                            .Attr(" Größe ", "XL")
                            .Attr("material", "")
                            .Attr("", "orphan")
                            .Terms();
  CHECK(terms == Strings{"attrs.color:red", "attrs.grösse:xl"});
}

TEST_CASE("Id and number fields give no terms") {
  CHECK(ProductBuilder().Add("price", "19.99").Terms().empty());
  catalog::Product product;
  product.id = "SKU-1";
  product.fields.resize(catalog::Schema::Default().fields().size());
  Strings terms;
  Analyzer().AnalyzeProduct(catalog::Schema::Default(), product, &terms);
  CHECK(terms.empty());
}

TEST_CASE("Product terms are scoped by field, sorted and unique") {
  const Strings terms = ProductBuilder()
                            .Category("Electronics")
                            .Add("title", "Wireless wireless Mouse 华为手机")
                            .Add("description", "A wireless mouse.")
                            .Add("brand", "Logitech")
                            .Add("brand", "LOGITECH")
                            .Attr("color", "Black")
                            .Terms();
  CHECK(terms == Strings{"attrs.color:black", "brand:logitech", "category:electronics",
                         "description:a", "description:mouse", "description:wireless",
                         "title:mouse", "title:wireless", "title:为手", "title:华为",
                         "title:手机"});
  CHECK(std::is_sorted(terms.begin(), terms.end()));
  CHECK(std::adjacent_find(terms.begin(), terms.end()) == terms.end());
}

TEST_CASE("Terms stay sorted when one field name is a prefix of another") {
  const Result<catalog::Schema> schema = catalog::Schema::FromJson(nlohmann::json::parse(R"(
      {"fields": [{"name": "id", "role": "id"}, {"name": "category", "role": "category"},
                  {"name": "x", "role": "keyword"}, {"name": "x.y", "role": "keyword"},
                  {"name": "x.y.z", "role": "text"}]})"));
  REQUIRE(schema.ok());
  catalog::Product product;
  product.fields = {{}, {}, {"v"}, {"w"}, {"Text"}};
  Strings terms;
  Analyzer().AnalyzeProduct(*schema, product, &terms);
  CHECK(terms == Strings{"x.y.z:text", "x.y:w", "x:v"});
}

TEST_CASE("AnalyzeProduct replaces what the output vector held") {
  Strings terms{"zzz:stale"};
  Analyzer().AnalyzeProduct(catalog::Schema::Default(),
                            catalog::Product{.fields = std::vector<Strings>(8)}, &terms);
  CHECK(terms.empty());
}

TEST_CASE("One analyzer used from several threads gives the same terms everywhere") {
  const ProductBuilder product = ProductBuilder()
                                     .Category("Téléphones")
                                     .Add("title", "Smartphone ＳＯＮＹ ソニーのテレビ 华为手机")
                                     .Add("brand", "Sony");
  const Analyzer analyzer;
  const Strings expected = product.Terms(analyzer);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (product.Terms(analyzer) != expected) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}

TEST_CASE("Settings round trip through JSON") {
  CHECK(AnalyzerSettings::Version1().ToJson() ==
        nlohmann::json::parse(R"({"version":1,"cjk_bigrams":true,"max_token_bytes":64})"));
  CHECK(AnalyzerSettings().ToJson() ==
        nlohmann::json::parse(
            R"({"version":2,"cjk_bigrams":true,"max_token_bytes":64,"fold_accents":true})"));
  AnalyzerSettings settings = AnalyzerSettings::Version1();
  settings.cjk_bigrams = false;
  settings.max_token_bytes = 200;
  const Result<AnalyzerSettings> parsed = AnalyzerSettings::FromJson(settings.ToJson());
  REQUIRE(parsed.ok());
  CHECK(parsed->version == 1);
  CHECK(parsed->cjk_bigrams == false);
  CHECK(parsed->max_token_bytes == 200);
}

TEST_CASE("Settings with an unknown version, unknown key or wrong type are config errors") {
  const char* bad[] = {
      R"({"version":3,"cjk_bigrams":true,"max_token_bytes":64,"fold_accents":true})",
      R"({"version":0,"cjk_bigrams":true,"max_token_bytes":64})",
      R"({"version":2,"cjk_bigrams":true,"max_token_bytes":64})",
      R"({"version":1,"cjk_bigrams":true,"max_token_bytes":64,"fold_accents":false})",
      R"({"version":2,"cjk_bigrams":true,"max_token_bytes":64,"fold_accents":"yes"})",
      R"({"version":"1","cjk_bigrams":true,"max_token_bytes":64})",
      R"({"cjk_bigrams":true,"max_token_bytes":64})",
      R"({"version":1,"cjk_bigrams":1,"max_token_bytes":64})",
      R"({"version":1,"cjk_bigrams":true,"max_token_bytes":-1})",
      R"({"version":1,"cjk_bigrams":true,"max_token_bytes":0})",
      R"({"version":1,"cjk_bigrams":true})",
      R"({"version":1,"cjk_bigrams":true,"max_token_bytes":64,"stemming":true})",
      R"([1,true,64])",
  };
  for (const char* text : bad) {
    CAPTURE(text);
    const Result<AnalyzerSettings> parsed = AnalyzerSettings::FromJson(nlohmann::json::parse(text));
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().kind() == StatusKind::kConfig);
  }
}

TEST_CASE("Version 2 settings round trip, fold_accents included") {
  AnalyzerSettings settings;
  settings.fold_accents = false;
  const Result<AnalyzerSettings> parsed = AnalyzerSettings::FromJson(settings.ToJson());
  REQUIRE(parsed.ok());
  CHECK(parsed->version == 2);
  CHECK_FALSE(parsed->fold_accents);
}

// ---- Version 2 ----

Strings Sorted(Strings v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

Strings QueryTokens(std::string_view text, AnalyzerSettings settings = {}) {
  Strings tokens;
  Analyzer(settings).QueryTokens(text, &tokens);
  return tokens;
}

// "`a` `b c`" -> {"a", "b c"}
Strings BacktickedWords(std::string_view cell) {
  Strings out;
  for (size_t open = cell.find('`'); open != std::string_view::npos; open = cell.find('`', open)) {
    const size_t close = cell.find('`', open + 1);
    REQUIRE(close != std::string_view::npos);
    out.emplace_back(cell.substr(open + 1, close - open - 1));
    open = close + 1;
  }
  return out;
}

TEST_CASE("Every row of the examples table in docs/QUERY.md holds for analyzer version 2") {
  const char* root = std::getenv("PIDX_SOURCE_DIR");
  REQUIRE(root != nullptr);
  std::ifstream in(std::string(root) + "/docs/QUERY.md");
  REQUIRE(in);
  std::string line;
  while (std::getline(in, line) && line != "<!-- analyzer-examples -->") {
  }
  REQUIRE(std::getline(in, line));  // header
  REQUIRE(std::getline(in, line));  // |---|
  int rows = 0;
  while (std::getline(in, line) && !line.empty() && line[0] == '|') {
    std::vector<std::string> cells;
    size_t start = 1;
    for (size_t bar = line.find('|', start); bar != std::string::npos;
         bar = line.find('|', start)) {
      cells.push_back(line.substr(start, bar - start));
      start = bar + 1;
    }
    REQUIRE(cells.size() == 3);
    const Strings text = BacktickedWords(cells[0]);
    REQUIRE(text.size() == 1);
    CAPTURE(text[0]);
    CHECK(Sorted(Tokens(text[0], AnalyzerSettings())) == Sorted(BacktickedWords(cells[1])));
    CHECK(QueryTokens(text[0]) == BacktickedWords(cells[2]));
    ++rows;
  }
  CHECK(rows >= 20);
}

TEST_CASE("Version 1 keeps splitting compounds into parts only, and keeps accents") {
  CHECK(Tokens("Wi-Fi C++ x86_64 naïve") == Strings{"wi", "fi", "c", "x86", "64", "naïve"});
  CHECK(QueryTokens("Wi-Fi C++", AnalyzerSettings::Version1()) == Strings{"wi", "fi", "c"});
}

TEST_CASE("Every query form of a compound is among the tokens indexed for it") {
  // The property the query side relies on, over generated words of letters, digits and joiners.
  std::mt19937 rng(17);
  const std::string alphabet = "ab1-_./+#é ";
  for (int i = 0; i < 5000; ++i) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) {
      const size_t pick = rng() % (alphabet.size() - 1);
      text += pick == alphabet.size() - 2 ? std::string("é") : std::string(1, alphabet[pick]);
    }
    CAPTURE(text);
    const Strings indexed = Sorted(Tokens(text, AnalyzerSettings()));
    for (const auto& q : QueryTokens(text)) {
      CHECK(std::binary_search(indexed.begin(), indexed.end(), q));
    }
  }
}

TEST_CASE("A compound whose query form is too long meets its parts") {
  AnalyzerSettings settings;
  settings.max_token_bytes = 6;
  CHECK(Sorted(Tokens("abc-def-ghi", settings)) == Strings{"abc", "def", "ghi"});
  CHECK(QueryTokens("abc-def-ghi", settings) == Strings{"abc", "def", "ghi"});
  CHECK(QueryTokens("ab-cd", settings) == Strings{"abcd"});
}

TEST_CASE("Accent folding is Latin only and can be turned off") {
  CHECK(Tokens("Ｃａｆé NAÏVE Straße", AnalyzerSettings()) == Strings{"cafe", "naive", "strasse"});
  // Decomposed input folds the same.
  CHECK(Tokens("cafe\u0301", AnalyzerSettings()) == Strings{"cafe"});
  // The dakuten of ガ, the breve of Cyrillic й and Greek tonos are not Latin accents.
  CHECK(Tokens("ガギ йод άλφα", AnalyzerSettings()) == Strings{"ガギ", "йод", "άλφα"});
  AnalyzerSettings off;
  off.fold_accents = false;
  CHECK(Tokens("naïve", off) == Strings{"naïve"});
  CHECK(Tokens("naïve", AnalyzerSettings::Version1()) == Strings{"naïve"});
}

TEST_CASE("Keyword and category values keep their accents in version 2") {
  const Strings terms = ProductBuilder().Category("Café").Add("brand", "Nestlé").Terms();
  CHECK(std::count(terms.begin(), terms.end(), "category:café") == 1);
  CHECK(std::count(terms.begin(), terms.end(), "brand:nestlé") == 1);
}

TEST_CASE("A field with stem gets Snowball stems, at index and at query time") {
  auto schema = catalog::Schema::FromJson(nlohmann::json::parse(R"({"fields":[
      {"name":"id","role":"id"},{"name":"category","role":"category"},
      {"name":"title","role":"text","stem":"english"},{"name":"description","role":"text"}]})"));
  REQUIRE(schema.ok());
  catalog::Product product;
  product.category = "web";
  product.fields.resize(schema->fields().size());
  product.fields[2] = {"Fast web browsers"};
  product.fields[3] = {"browsers"};
  const Analyzer analyzer;
  Strings terms;
  analyzer.AnalyzeProduct(*schema, product, &terms);
  CHECK(terms == Strings{"category:web", "description:browsers", "title:browser", "title:fast",
                         "title:web"});
  std::string token = "browsers";
  analyzer.StemFor(schema->fields()[2], &token);
  CHECK(token == "browser");
  token = "browsers";
  analyzer.StemFor(schema->fields()[3], &token);
  CHECK(token == "browsers");
  // Version 1 refuses a schema that asks for stemming.
  CHECK(AnalyzerSettings::Version1().CheckSchema(*schema).kind() == StatusKind::kConfig);
  CHECK(AnalyzerSettings().CheckSchema(*schema).ok());
}

TEST_CASE("The schema's stem languages are exactly libstemmer's") {
  CHECK(catalog::StemLanguages() == StemmerLanguages());
}

}  // namespace
}  // namespace pidx::analysis
