// End-to-end: `pidx query` answers exactly what a brute-force scan of the catalog answers.
// The oracle evaluates the same random expression directly on each product's terms (from the
// library's Analyzer, as the contract says query text and catalog share one analyzer), so a
// mistake in parsing, shard pruning, set algebra or result merging shows up as a differing id.
#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <set>

#include <catch2/catch.hpp>

#include "pidx/analysis/analyzer.h"
#include "pidx/catalog/catalog_reader.h"
#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::GenCatalog;
using pidx::testing::Pidx;
using pidx::testing::RunResult;
using pidx::testing::TempDir;

namespace {

struct CatalogTerms {
  std::vector<std::string> ids;                        // sorted
  std::map<std::string, std::set<std::string>> terms;  // id -> analyzed terms
  // Query material, raw as in the catalog (the query must fold it the same way).
  std::vector<std::string> title_words, brands, categories, tags, colors;
};

CatalogTerms ReadCatalog(const std::string& path) {
  namespace cat = pidx::catalog;
  const cat::Schema schema = cat::Schema::Default();
  const pidx::analysis::Analyzer analyzer;
  auto reader = cat::CatalogReader::Open(path, schema, {});
  REQUIRE(reader.ok());
  CatalogTerms out;
  std::set<std::string> words, brands, categories, tags, colors;
  cat::Product p;
  std::vector<std::string> terms;
  for (;;) {
    auto more = (*reader)->Next(&p);
    REQUIRE(more.ok());
    if (!*more) break;
    analyzer.AnalyzeProduct(schema, p, &terms);
    out.ids.push_back(p.id);
    out.terms[p.id] = std::set<std::string>(terms.begin(), terms.end());
    categories.insert(p.category);
    for (size_t f = 0; f < schema.fields().size(); ++f) {
      const auto& name = schema.fields()[f].name;
      for (const auto& v : p.fields[f]) {
        if (name == "title") {
          // Raw words of the title, split on spaces: mixed case, CJK runs, punctuation.
          size_t pos = 0;
          while (pos < v.size()) {
            size_t end = v.find(' ', pos);
            if (end == std::string::npos) end = v.size();
            if (end > pos) words.insert(v.substr(pos, end - pos));
            pos = end + 1;
          }
        } else if (name == "brand") {
          brands.insert(v);
        } else if (name == "tags") {
          tags.insert(v);
        } else if (name == "attrs" && v.rfind("color", 0) == 0) {
          colors.insert(v.substr(v.find(cat::kAttrSeparator) + 1));
        }
      }
    }
  }
  std::sort(out.ids.begin(), out.ids.end());
  auto keep = [](const std::set<std::string>& s, const std::string& bad) {
    std::vector<std::string> v;
    for (const auto& x : s) {
      if (x.find_first_of(bad) == std::string::npos) v.push_back(x);
    }
    return v;
  };
  // Bare words must not look like syntax: quotes, parentheses, a leading '-' or a colon.
  out.title_words = keep(words, "\"():\\-");
  out.brands = keep(brands, "\"\\");
  out.categories = keep(categories, "\"\\");
  out.tags = keep(tags, "\"\\");
  out.colors = keep(colors, "\"\\");
  return out;
}

// A random query: its text and the oracle's predicate over one product's terms.
struct Expr {
  std::string text;
  std::function<bool(const std::set<std::string>&)> match;
};

class QueryGen {
 public:
  QueryGen(const CatalogTerms& c, uint32_t seed) : c_(c), rng_(seed) {}

  Expr Make(int depth) {
    const int kind = depth <= 0 ? 0 : Pick(6);
    if (kind <= 1) return Leaf();
    if (kind == 2) {  // NOT
      Expr inner = Leaf();
      return {"-" + inner.text, [m = inner.match](const auto& t) { return !m(t); }};
    }
    Expr a = Make(depth - 1), b = Make(depth - 1);
    if (kind == 3) {  // OR
      return {"(" + a.text + " OR " + b.text + ")",
              [ma = a.match, mb = b.match](const auto& t) { return ma(t) || mb(t); }};
    }
    // AND by juxtaposition, sometimes spelled out.
    const std::string op = Pick(4) == 0 ? " AND " : " ";
    return {"(" + a.text + op + b.text + ")",
            [ma = a.match, mb = b.match](const auto& t) { return ma(t) && mb(t); }};
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint32_t>(n)); }
  const std::string& From(const std::vector<std::string>& v) { return v[rng_() % v.size()]; }
  static std::string Quote(const std::string& s) { return "\"" + s + "\""; }
  static auto Has(std::string term) {
    return [term = std::move(term)](const std::set<std::string>& t) { return t.count(term) > 0; };
  }

  Expr Leaf() {
    switch (Pick(7)) {
      case 0:
      case 1: {  // a bare title word: each of its tokens in title or description
        const std::string w = From(c_.title_words);
        std::vector<std::string> tokens;
        analyzer_.Tokenize(w, &tokens);
        return {w, [tokens](const std::set<std::string>& t) {
                  return std::all_of(tokens.begin(), tokens.end(), [&](const std::string& x) {
                    return t.count("title:" + x) > 0 || t.count("description:" + x) > 0;
                  });
                }};
      }
      case 2: {  // title:word, only in the title
        const std::string w = From(c_.title_words);
        std::vector<std::string> tokens;
        analyzer_.Tokenize(w, &tokens);
        return {"title:" + Quote(w), [tokens](const std::set<std::string>& t) {
                  return std::all_of(tokens.begin(), tokens.end(), [&](const std::string& x) {
                    return t.count("title:" + x) > 0;
                  });
                }};
      }
      case 3: {
        const std::string b = From(c_.brands);
        return {"brand:" + Quote(b), Has("brand:" + analyzer_.Fold(b))};
      }
      case 4: {
        const std::string cat = From(c_.categories);
        return {"category:" + Quote(cat), Has("category:" + analyzer_.Fold(cat))};
      }
      case 5: {
        const std::string tag = From(c_.tags);
        return {"tags:" + Quote(tag), Has("tags:" + analyzer_.Fold(tag))};
      }
      default: {
        const std::string color = From(c_.colors);
        return {"attrs.color:" + Quote(color), Has("attrs.color:" + analyzer_.Fold(color))};
      }
    }
  }

  const CatalogTerms& c_;
  std::mt19937 rng_;
  pidx::analysis::Analyzer analyzer_;
};

std::vector<std::string> QueryIds(const std::string& index, const std::string& q) {
  RunResult r = Pidx(
      {"query", "--index", index, "--json", "--limit", "1000000", "--log-format", "json", "--", q});
  INFO(q << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  std::vector<std::string> ids;
  for (const auto& h : j["hits"]) ids.push_back(h["id"].get<std::string>());
  CHECK(j["total"] == ids.size());
  return ids;
}

}  // namespace

TEST_CASE("random queries give exactly the ids of a brute-force scan of the catalog") {
  TempDir dir;
  const std::string catalog = GenCatalog(dir.File("c.jsonl"), 500, 21, {"--cjk-ratio", "0.2"});
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index, "--shards-per-category", "3"})
              .exit_code == 0);
  const CatalogTerms c = ReadCatalog(catalog);
  REQUIRE(c.ids.size() == 500);
  QueryGen gen(c, 12345);
  size_t nonempty = 0;
  for (int i = 0; i < 300; ++i) {
    const Expr e = gen.Make(i % 4);
    std::vector<std::string> expected;
    for (const auto& id : c.ids) {
      if (e.match(c.terms.at(id))) expected.push_back(id);
    }
    INFO("query #" << i << ": " << e.text);
    CHECK(QueryIds(index, e.text) == expected);
    if (!expected.empty()) ++nonempty;
  }
  // The loop proves little if almost every query matched nothing.
  CHECK(nonempty > 100);
}

TEST_CASE("query results come in external id order with --limit and total counts") {
  TempDir dir;
  const std::string catalog = GenCatalog(dir.File("c.jsonl"), 300, 4);
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  RunResult all = Pidx({"query", "--index", index, "--json", "--limit", "1000", "set OR pack"});
  REQUIRE(all.exit_code == 0);
  auto ja = nlohmann::json::parse(all.out);
  REQUIRE(ja["total"].get<size_t>() > 5);
  RunResult some = Pidx({"query", "--index", index, "--json", "--limit", "5", "set OR pack"});
  auto js = nlohmann::json::parse(some.out);
  CHECK(js["total"] == ja["total"]);
  REQUIRE(js["hits"].size() == 5);
  for (size_t i = 0; i < 5; ++i) CHECK(js["hits"][i]["id"] == ja["hits"][i]["id"]);
  CHECK(js["order"] == "external_id");
  CHECK(js["hits"][0].contains("title"));

  RunResult count = Pidx({"query", "--index", index, "--count", "set", "OR", "pack"});
  CHECK(count.exit_code == 0);
  CHECK(count.out == ja["total"].dump() + "\n");
  CHECK(count.Events("index.query.completed").size() == 1);
}

TEST_CASE("a category filter searches only that category's shards") {
  TempDir dir;
  const std::string catalog = GenCatalog(dir.File("c.jsonl"), 400, 5);
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  RunResult r = Pidx({"query", "--index", index, "--json", "category:books"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["shards_searched"].get<int>() <= 8);
  CHECK(j["shards_searched"].get<int>() < j["shard_count"].get<int>());
  CHECK(j["total"].get<int>() > 0);
  for (const auto& h : j["hits"]) CHECK(h["shard"].get<std::string>().rfind("books_", 0) == 0);
}

TEST_CASE("a query syntax error exits 64 and names the column") {
  TempDir dir;
  const std::string catalog = GenCatalog(dir.File("c.jsonl"), 50, 6);
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  const std::vector<std::pair<std::string, int>> cases = {
      {"usb (cable", 5},
      {"usb cable)", 10},
      {"brand:\"apple", 7},
      {"OR usb", 1},
      {"usb OR", 7},
      {"colour:red", 1},
      {"price:10", 1},
      {"()", 2},
      {"usb AND", 8},
      {"brand:", 1},
      {"", 1},
      {"手机 (", 5},
  };
  for (const auto& [q, column] : cases) {
    RunResult r = Pidx({"query", "--index", index, "--log-format", "json", "--", q});
    INFO(q << "\n" << r.err);
    CHECK(r.exit_code == 64);
    auto failed = r.Events("index.query.failed");
    REQUIRE(failed.size() == 1);
    CHECK(failed[0]["column"] == column);
    CHECK(failed[0]["error"].get<std::string>().find("column " + std::to_string(column)) !=
          std::string::npos);
  }
}

TEST_CASE("query on a missing segment fails loudly instead of answering from fewer shards") {
  TempDir dir;
  const std::string catalog = GenCatalog(dir.File("c.jsonl"), 200, 7);
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  auto stats = nlohmann::json::parse(Pidx({"stats", "--index", index, "--json"}).out);
  std::remove((index + "/segments/" + stats["shards"][0]["segment"].get<std::string>()).c_str());
  RunResult r = Pidx({"query", "--index", index, "set OR pack OR new"});
  CHECK(r.exit_code == 66);
  CHECK(r.Events("index.query.failed").size() == 1);
  CHECK(r.out.empty());
}
