// End-to-end: `pidx query` answers exactly what a brute-force scan of the catalog answers.
// The oracle evaluates the same random expression directly on each product's terms (from the
// library's Analyzer, as the contract says query text and catalog share one analyzer), so a
// mistake in parsing, shard pruning, set algebra or result merging shows up as a differing id.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
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
  out.title_words = keep(words, "\"():\\-*~^");
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
    if (kind == 2) {  // NOT, spelled - or NOT
      Expr inner = Leaf();
      return {(Pick(2) == 0 ? "-" : "NOT ") + inner.text,
              [m = inner.match](const auto& t) { return !m(t); }};
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
        analyzer_.QueryTokens(w, &tokens);
        if (tokens.empty()) return Leaf();  // a word of symbols only may be an error
        const std::string prefix = tokens[0].substr(0, 1 + tokens[0].size() / 2);
        const bool plain = std::all_of(prefix.begin(), prefix.end(), [](char ch) {
          return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        });
        if (plain && Pick(4) == 0) {  // a prefix of its first token: pre*
          return {prefix + "*", [prefix](const std::set<std::string>& t) {
                    for (const char* field : {"title:", "description:"}) {
                      auto it = t.lower_bound(field + prefix);
                      if (it != t.end() && it->rfind(field + prefix, 0) == 0) return true;
                    }
                    return false;
                  }};
        }
        return {w, [tokens](const std::set<std::string>& t) {
                  return std::all_of(tokens.begin(), tokens.end(), [&](const std::string& x) {
                    return t.count("title:" + x) > 0 || t.count("description:" + x) > 0;
                  });
                }};
      }
      case 2: {  // title:word, only in the title
        const std::string w = From(c_.title_words);
        std::vector<std::string> tokens;
        analyzer_.QueryTokens(w, &tokens);
        if (tokens.empty()) return Leaf();
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

namespace {

std::vector<std::string> SegmentNames(const std::string& index) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(index + "/segments")) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// shard -> {signature, docs, terms, postings} of the index's current manifest: what a segment
// holds, whatever its segment format.
std::map<std::string, std::string> ShardContents(const std::string& index) {
  std::ifstream current(index + "/CURRENT");
  std::string vname;
  REQUIRE(std::getline(current, vname));
  std::ifstream in(index + "/versions/" + vname + ".manifest");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text = text.substr(0, text.rfind("xxh3 "));
  const auto m = nlohmann::json::parse(text);
  std::map<std::string, std::string> out;
  for (const auto& e : m["shards"]) {
    out[e["shard"].get<std::string>()] = e["signature"].get<std::string>() + " " +
                                         std::to_string(e["docs"].get<uint64_t>()) + " " +
                                         std::to_string(e["terms"].get<uint64_t>()) + " " +
                                         std::to_string(e["postings"].get<uint64_t>());
  }
  return out;
}

nlohmann::json QueryJson(const std::string& index, const std::string& q) {
  RunResult r = Pidx(
      {"query", "--index", index, "--json", "--limit", "1000", "--log-format", "json", "--", q});
  INFO(q << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

}  // namespace

// tests/query/data/v1_index was built, and v1_answers.jsonl recorded, by pidx before analyzer
// version 2 existed (tests/query/data/README.md says how).
TEST_CASE("a version built with analyzer 1 answers every query exactly as before version 2") {
  TempDir dir;
  const std::string data = pidx::testing::SourceDir() + "/tests/query/data";
  const std::string index = dir.File("v1");
  std::filesystem::copy(data + "/v1_index", index, std::filesystem::copy_options::recursive);
  std::ifstream answers(data + "/v1_answers.jsonl");
  REQUIRE(answers);
  std::string line;
  int checked = 0;
  std::vector<nlohmann::json> recorded;
  while (std::getline(answers, line)) {
    const auto a = nlohmann::json::parse(line);
    recorded.push_back(a);
    const auto j = QueryJson(index, a["query"].get<std::string>());
    INFO(a["query"]);
    CHECK(j["total"] == a["total"]);
    std::vector<std::string> ids;
    for (const auto& h : j["hits"]) ids.push_back(h["id"].get<std::string>());
    CHECK(nlohmann::json(ids) == a["ids"]);
    ++checked;
  }
  CHECK(checked >= 30);

  // Today's binary still writes analyzer 1 when asked: the same shard contents (docs, content
  // hashes, terms and dfs: the manifest's content signature) and the same analyzer settings.
  // The bytes differ, since today's segments are format 2 (docs/FORMAT.md).
  const std::string rebuilt = dir.File("rebuilt");
  RunResult b = Pidx({"build", "--catalog", data + "/v1_catalog.jsonl", "--index", rebuilt,
                      "--analyzer-version", "1", "--shards-per-category", "1"});
  REQUIRE(b.exit_code == 0);
  CHECK(SegmentNames(rebuilt).size() == SegmentNames(index).size());
  CHECK(ShardContents(rebuilt) == ShardContents(index));
  CHECK(ShardContents(rebuilt).size() == 4);

  // rebuild-shard keeps the version's analyzer.
  RunResult rs = Pidx(
      {"rebuild-shard", "books_000", "--catalog", data + "/v1_catalog.jsonl", "--index", index});
  REQUIRE(rs.exit_code == 0);
  RunResult v = Pidx({"versions", "--index", index, "--json"});
  REQUIRE(v.exit_code == 0);
  for (const auto& a : recorded) {
    CHECK(QueryJson(index, a["query"].get<std::string>())["total"] == a["total"]);
  }

  // A scale-out build asked for analyzer 1 (plan --analyzer-version 1) builds what build does.
  const std::string plan = dir.File("plan.json");
  REQUIRE(Pidx({"plan", "--catalog", data + "/v1_catalog.jsonl", "--index", dir.File("scaled"),
                "--workers", "2", "--out", plan, "--analyzer-version", "1",
                "--shards-per-category", "1"})
              .exit_code == 0);
  for (const std::string w : {"0", "1"}) {
    REQUIRE(Pidx({"build", "--plan", plan, "--worker", w, "--stage", dir.File("stage")})
                .exit_code == 0);
  }
  REQUIRE(Pidx({"publish", "--index", dir.File("scaled"), "--stage", dir.File("stage"), "--plan",
                plan})
              .exit_code == 0);
  CHECK(ShardContents(dir.File("scaled")) == ShardContents(rebuilt));
  CHECK(Pidx({"plan", "--catalog", data + "/v1_catalog.jsonl", "--index", dir.File("scaled"),
              "--workers", "1", "--out", dir.File("p2.json"), "--analyzer-version", "1",
              "--no-accent-folding"})
            .exit_code == 64);

  // The same catalog under analyzer 2 answers some of these differently: the test can fail.
  const std::string v2 = dir.File("v2");
  REQUIRE(Pidx({"build", "--catalog", data + "/v1_catalog.jsonl", "--index", v2,
                "--shards-per-category", "1"})
              .exit_code == 0);
  int differ = 0;
  for (const auto& a : recorded) {
    const auto j = QueryJson(v2, a["query"].get<std::string>());
    std::vector<std::string> ids;
    for (const auto& h : j["hits"]) ids.push_back(h["id"].get<std::string>());
    if (nlohmann::json(ids) != a["ids"]) ++differ;
  }
  CHECK(differ >= 5);
}

TEST_CASE("analyzer 2: product codes, accents, prefixes, NOT, phrases and hints end to end") {
  TempDir dir;
  const std::string data = pidx::testing::SourceDir() + "/tests/query/data";
  const std::string index = dir.File("v2");
  REQUIRE(Pidx({"build", "--catalog", data + "/v1_catalog.jsonl", "--index", index,
                "--shards-per-category", "1"})
              .exit_code == 0);
  auto ids = [&](const std::string& q) {
    std::vector<std::string> out;
    const auto j = QueryJson(index, q);  // not in the for: the temporary would die first
    for (const auto& h : j["hits"]) out.push_back(h["id"].get<std::string>());
    return out;
  };
  using V = std::vector<std::string>;
  CHECK(ids("c++") == V{"P01"});
  CHECK(ids("C#") == V{"P02"});
  CHECK(ids("c") == V{"P01", "P02", "P03", "P04"});  // P04: USB-C
  CHECK(ids("x86_64") == V{"P01"});
  CHECK(ids("x86-64") == V{"P01"});
  CHECK(ids("wifi") == V{"P04", "P05"});
  CHECK(ids("wi-fi") == V{"P04", "P05"});
  CHECK(ids("Wi Fi") == V{"P04", "P06"});
  CHECK(ids("gnome-shell") == V{"P09"});
  CHECK(ids("naive") == V{"P07", "P08"});
  CHECK(ids("naïve") == V{"P07", "P08"});
  CHECK(ids("cafe") == V{"P07"});
  CHECK(ids("oresund") == V{"P18"});
  CHECK(ids("3.5mm") == V{"P04"});
  CHECK(ids("35mm").empty());
  CHECK(ids("usb-c") == V{"P04"});
  CHECK(ids("sm-g991b") == V{"P12"});
  CHECK(ids("pyth*") == V{"P10", "P11"});
  CHECK(ids("title:pyth*") == V{"P11"});
  CHECK(ids("brand:deb*") == V{"P16"});
  CHECK(ids("gnome-sh*") == V{"P09"});
  CHECK(ids("vim NOT emacs") == V{"P14"});
  CHECK(ids("vim -emacs") == V{"P14"});
  CHECK(ids("editor NOT (vim OR emacs)").empty());
  CHECK(ids("vim not emacs") == V{"P15"});  // lowercase not is a word
  CHECK(ids("\"usb wireless\"") == V{"P04", "P06"});

  // A phrase is all its words, and the JSON says so.
  auto phrase = QueryJson(index, "\"wireless router\"");
  CHECK(phrase["phrase"] == "not supported: matched as all words");
  CHECK_FALSE(QueryJson(index, "router")["phrase"].is_string());

  // Hints: a category no shard holds, a term nothing has.
  RunResult cat = Pidx({"query", "--index", index, "--json", "category:gmaes"});
  REQUIRE(cat.exit_code == 0);
  auto cj = nlohmann::json::parse(cat.out);
  CHECK(cj["total"] == 0);
  CHECK(cj["shards_searched"] == 0);
  REQUIRE(cj["suggestions"].size() == 1);
  CHECK(cj["suggestions"][0]["category"] == "gmaes");
  CHECK(cj["suggestions"][0]["closest"][0] == "Games");
  auto warn = cat.Events("index.query.no_such_category");
  REQUIRE(warn.size() == 1);
  CHECK(warn[0]["level"] == "warn");
  CHECK(warn[0]["suggestions"][0] == "Games");

  RunResult term = Pidx({"query", "--index", index, "--json", "brand:acmee"});
  REQUIRE(term.exit_code == 0);
  auto tj = nlohmann::json::parse(term.out);
  REQUIRE(tj["suggestions"].size() == 1);
  CHECK(tj["suggestions"][0]["term"] == "brand:acmee");
  CHECK(tj["suggestions"][0]["closest"][0] == "brand:acme");
  CHECK(term.Events("index.query.no_such_term").size() == 1);
  // Something matched: no hints are looked for.
  CHECK_FALSE(QueryJson(index, "vim OR brand:acmee").contains("suggestions"));

  // Dropped words are said; a query of nothing else is an error.
  RunResult dropped = Pidx({"query", "--index", index, "--json", "vim &"});
  REQUIRE(dropped.exit_code == 0);
  CHECK(nlohmann::json::parse(dropped.out)["dropped_words"] == nlohmann::json{"&"});
  CHECK(dropped.Events("index.query.words_dropped").size() == 1);

  // Errors name the column, and the prefix cap is named when it is hit.
  const std::vector<std::pair<std::string, int>> errors = {
      {"py*on", 3}, {"*thon", 1},   {"usb~2", 4}, {"\"usb cable\"~3", 12},
      {"usb^2", 4}, {"vim NOT", 8}, {"& ++", 1},  {"title:*", 7},
      {"-&", 2}};
  for (const auto& [q, column] : errors) {
    RunResult r = Pidx({"query", "--index", index, "--log-format", "json", "--", q});
    INFO(q << "\n" << r.err);
    CHECK(r.exit_code == 64);
    auto failed = r.Events("index.query.failed");
    REQUIRE(failed.size() == 1);
    CHECK(failed[0]["column"] == column);
  }
  RunResult cap = Pidx(
      {"query", "--index", index, "--max-prefix-terms", "2", "--log-format", "json", "--", "e*"});
  CHECK(cap.exit_code == 64);
  auto failed = cap.Events("index.query.failed");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["max_prefix_terms"] == 2);
  CHECK(failed[0]["error"].get<std::string>().find("more than 2 terms") != std::string::npos);
  CHECK(Pidx({"query", "--index", index, "--max-prefix-terms", "0", "e*"}).exit_code == 64);
}

TEST_CASE("a stemmed field meets every form of a word, and analyzer 1 refuses stemming") {
  TempDir dir;
  const std::string data = pidx::testing::SourceDir() + "/tests/query/data";
  const std::string schema = dir.File("schema.json");
  std::ofstream(schema) << R"({"fields":[{"name":"id","role":"id"},
      {"name":"category","role":"category"},{"name":"title","role":"text","stem":"english"},
      {"name":"description","role":"text","stem":"english"},{"name":"brand","role":"keyword"},
      {"name":"tags","role":"keyword","multi":true},{"name":"attrs","role":"attrs"}]})";
  const std::string index = dir.File("idx");
  REQUIRE(
      Pidx({"build", "--catalog", data + "/v1_catalog.jsonl", "--index", index, "--schema", schema})
          .exit_code == 0);
  auto total = [&](const std::string& q) { return QueryJson(index, q)["total"]; };
  CHECK(total("browser") == 1);
  CHECK(total("browsers") == 1);
  CHECK(total("game") == 2);  // "games", and the full-width "ＧＡＭＥ"
  CHECK(total("games") == 2);
  RunResult v1 = Pidx({"build", "--catalog", data + "/v1_catalog.jsonl", "--index", dir.File("v1"),
                       "--schema", schema, "--analyzer-version", "1"});
  CHECK(v1.exit_code == 78);
  std::ofstream(dir.File("bad.json"))
      << R"({"fields":[{"name":"id","role":"id"},{"name":"category","role":"category"},
      {"name":"title","role":"text","stem":"klingon"}]})";
  RunResult bad = Pidx({"build", "--catalog", data + "/v1_catalog.jsonl", "--index",
                        dir.File("bad"), "--schema", dir.File("bad.json")});
  CHECK(bad.exit_code == 78);
  CHECK(bad.err.find("english") != std::string::npos);
}
