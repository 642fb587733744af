// pidx_query_bench: pidx's side of the query benchmarks, and the query-set generator.
//
//   pidx_query_bench query --index DIR --queries FILE (--count | --top 10) [--out FILE]
//                          [--roaring]
//       Opens the current version once (QueryEngine, lib/pidx/query/engine.h) and runs every query
//       of FILE (query_set.h) in this process. Results, one line per query, go to --out
//       (default stdout) in fts5_peer's format; a JSON summary (queries/s) goes to stderr.
//       --roaring evaluates every shard on CRoaring bitmaps, not on bitsets (engine.h).
//   pidx_query_bench gen-queries --catalog FILE --out-dir DIR [--count 1000] [--seed 1]
//                               [--sample 200000]
//       Samples the three query sets from the catalog's own term statistics: the first
//       --sample products are analyzed with pidx's analyzer; words are text-field tokens made
//       of ASCII letters only (3 to 20 of them), so FTS5's unicode61 splits the text into the
//       same words. Writes DIR/and2.tsv (two words each with doc frequency >= 0.1% of
//       the sample, drawn in proportion to it), DIR/cat.tsv (such a word and the category of
//       a random sampled product) and DIR/rare.tsv (one of the 5% of words with the lowest
//       doc frequency in the sample: pidx-gen's vocabulary is closed, so "rare" is
//       relative). Deterministic for a given catalog, --count, --seed and --sample.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bench/query_set.h"
#include "pidx/analysis/analyzer.h"
#include "pidx/base/env.h"
#include "pidx/catalog/catalog_reader.h"
#include "pidx/catalog/schema.h"
#include "pidx/query/engine.h"

namespace {

using pidx::bench::BenchQuery;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "pidx_query_bench: %s\n", msg.c_str());
  std::exit(1);
}

struct Args {
  std::string cmd, index, queries, out, catalog, out_dir;
  bool count = false;
  bool roaring = false;  // SearchOptions::bitset_evaluation = false: the A/B of the two
  size_t top = 0;
  size_t n = 1000;
  uint64_t seed = 1;
  size_t sample = 200000;
};

Args ParseArgs(int argc, char** argv) {
  if (argc < 2) Die("usage: pidx_query_bench query|gen-queries ...");
  Args a;
  a.cmd = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(s + " needs a value");
      return argv[++i];
    };
    if (s == "--index") {
      a.index = value();
    } else if (s == "--queries") {
      a.queries = value();
    } else if (s == "--out") {
      a.out = value();
    } else if (s == "--catalog") {
      a.catalog = value();
    } else if (s == "--out-dir") {
      a.out_dir = value();
    } else if (s == "--roaring" && a.cmd == "query") {
      a.roaring = true;
    } else if (s == "--count" && a.cmd == "query") {
      a.count = true;
    } else if (s == "--count") {
      a.n = std::strtoul(value().c_str(), nullptr, 10);
    } else if (s == "--top") {
      a.top = std::strtoul(value().c_str(), nullptr, 10);
    } else if (s == "--seed") {
      a.seed = std::strtoull(value().c_str(), nullptr, 10);
    } else if (s == "--sample") {
      a.sample = std::strtoul(value().c_str(), nullptr, 10);
    } else {
      Die("unknown argument " + s);
    }
  }
  return a;
}

// pidx's query text for a bench query (docs/QUERY.md): bare words match any text field.
std::string QueryText(const BenchQuery& q) {
  if (q.kind == "and2") return q.parts[0] + " " + q.parts[1];
  if (q.kind == "cat") return q.parts[0] + " category:\"" + q.parts[1] + "\"";
  return q.parts[0];
}

int Query(const Args& a) {
  if (a.index.empty() || a.queries.empty()) Die("--index and --queries are required");
  if (a.count == (a.top > 0)) Die("give exactly one of --count and --top N");
  std::vector<BenchQuery> qs;
  if (!pidx::bench::LoadQueries(a.queries, &qs)) return 1;
  const double t0 = Now();
  auto engine = pidx::QueryEngine::Open(pidx::Env::Default(), a.index, 0);
  if (!engine.ok()) Die(engine.status().ToString());
  const double t1 = Now();
  pidx::SearchOptions options;
  options.limit = a.count ? 0 : a.top;
  options.bitset_evaluation = !a.roaring;
  std::vector<std::string> lines;
  lines.reserve(qs.size());
  for (size_t i = 0; i < qs.size(); ++i) {
    // Parsing is part of answering a query, as it is for FTS5's MATCH.
    auto node = engine.value().parser().Parse(QueryText(qs[i]));
    if (!node.ok()) Die(node.status().ToString());
    auto r = engine.value().Search(node.value(), options);
    if (!r.ok()) Die(r.status().ToString());
    if (a.count) {
      lines.push_back(std::to_string(i) + "\t" + std::to_string(r.value().total));
    } else {
      std::vector<std::string> ids;
      for (const auto& h : r.value().hits) ids.push_back(h.id);
      lines.push_back(std::to_string(i) + "\t" + pidx::bench::JoinIds(ids));
    }
  }
  const double t2 = Now();
  FILE* out = a.out.empty() ? stdout : std::fopen(a.out.c_str(), "w");
  if (out == nullptr) Die(a.out + ": cannot write");
  for (const auto& l : lines) std::fprintf(out, "%s\n", l.c_str());
  if (out != stdout) std::fclose(out);
  const double secs = t2 - t1;
  std::fprintf(stderr,
               "{\"command\":\"query\",\"queries\":%zu,\"open_seconds\":%.6f,\"seconds\":%.6f,"
               "\"qps\":%.1f}\n",
               qs.size(), t1 - t0, secs, secs > 0 ? static_cast<double>(qs.size()) / secs : 0.0);
  return 0;
}

bool PlainWord(const std::string& t) {
  if (t.size() < 3 || t.size() > 20) return false;
  for (char c : t) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

// splitmix64: deterministic everywhere (std:: distributions are not).
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
};

int GenQueries(const Args& a) {
  if (a.catalog.empty() || a.out_dir.empty()) Die("--catalog and --out-dir are required");
  const auto schema = pidx::catalog::Schema::Default();
  // Words as FTS5's unicode61 splits them (analyzer version 1: parts only). Analyzer
  // version 2 also indexes compounds' catenations ("wi-fi" -> "wifi"), which FTS5 has no
  // notion of: a word that is some compound's catenation is left out of the query sets, so
  // the two engines are compared on what both mean the same way (docs/QUERY.md).
  pidx::analysis::Analyzer analyzer(pidx::analysis::AnalyzerSettings::Version1());
  pidx::analysis::Analyzer analyzer_v2;
  std::unordered_set<std::string> compound_forms;
  std::vector<std::string> v2_tokens;
  auto reader = pidx::catalog::CatalogReader::Open(a.catalog, schema, {});
  if (!reader.ok()) Die(reader.status().ToString());
  std::vector<int> text_fields;
  for (size_t i = 0; i < schema.fields().size(); ++i) {
    if (schema.fields()[i].role == pidx::catalog::FieldRole::kText) {
      text_fields.push_back(static_cast<int>(i));
    }
  }
  std::unordered_map<std::string, uint32_t> df;
  std::vector<std::string> categories;  // one per sampled product
  pidx::catalog::Product p;
  std::vector<std::string> tokens;
  while (categories.size() < a.sample) {
    auto more = reader.value()->Next(&p);
    if (!more.ok()) Die(more.status().ToString());
    if (!*more) break;
    tokens.clear();
    v2_tokens.clear();
    for (int f : text_fields) {
      for (const auto& v : p.fields[f]) {
        analyzer.Tokenize(v, &tokens);
        analyzer_v2.Tokenize(v, &v2_tokens);
      }
    }
    std::sort(tokens.begin(), tokens.end());
    tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
    for (const auto& t : v2_tokens) {
      if (!std::binary_search(tokens.begin(), tokens.end(), t)) compound_forms.insert(t);
    }
    for (const auto& t : tokens) {
      if (PlainWord(t)) ++df[t];
    }
    categories.push_back(p.category);
  }
  if (categories.empty()) Die(a.catalog + ": no products");
  const uint32_t common_min =
      std::max<uint32_t>(2, static_cast<uint32_t>(categories.size() / 1000));
  std::vector<std::string> common;
  std::vector<std::pair<uint32_t, std::string>> by_df;
  for (const auto& [t, n] : df) {
    if (compound_forms.count(t) != 0) continue;
    if (n >= common_min) common.push_back(t);
    by_df.emplace_back(n, t);
  }
  std::sort(common.begin(), common.end());
  // Rare: the 5% of words with the lowest doc frequency (at least one word).
  std::sort(by_df.begin(), by_df.end());
  std::vector<std::string> rare;
  for (size_t i = 0; i < std::max<size_t>(1, by_df.size() / 20) && i < by_df.size(); ++i) {
    rare.push_back(by_df[i].second);
  }
  const uint32_t rare_max_df = by_df.empty() ? 0 : by_df[rare.size() - 1].first;
  if (common.size() < 2 || rare.empty()) Die("catalog too small to sample queries from");
  Rng rng{a.seed};
  // Words of the AND sets are drawn in proportion to their doc frequency, the way the words
  // of the catalog occur.
  std::vector<uint64_t> cumulative;
  uint64_t sum = 0;
  for (const auto& w : common) cumulative.push_back(sum += df[w]);
  auto weighted = [&] {
    const uint64_t r = rng.Next() % sum;
    return static_cast<size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), r) -
                               cumulative.begin());
  };
  auto open = [&](const char* name) {
    const std::string path = a.out_dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) Die(path + ": cannot write");
    return f;
  };
  FILE* and2 = open("and2.tsv");
  FILE* cat = open("cat.tsv");
  FILE* rare_f = open("rare.tsv");
  for (size_t i = 0; i < a.n; ++i) {
    const size_t x = weighted();
    size_t y = weighted();
    while (y == x) y = weighted();
    std::fprintf(and2, "and2\t%s\t%s\n", common[x].c_str(), common[y].c_str());
    const std::string& c = categories[rng.Below(categories.size())];
    std::fprintf(cat, "cat\t%s\t%s\n", common[weighted()].c_str(), c.c_str());
    std::fprintf(rare_f, "rare\t%s\n", rare[rng.Below(rare.size())].c_str());
  }
  std::fclose(and2);
  std::fclose(cat);
  std::fclose(rare_f);
  std::fprintf(stderr,
               "{\"command\":\"gen-queries\",\"sampled_products\":%zu,\"common_words\":%zu,"
               "\"rare_words\":%zu,\"rare_max_df\":%u,\"queries_per_set\":%zu}\n",
               categories.size(), common.size(), rare.size(), rare_max_df, a.n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = ParseArgs(argc, argv);
  if (a.cmd == "query") return Query(a);
  if (a.cmd == "gen-queries") return GenQueries(a);
  Die("unknown command " + a.cmd + " (query, gen-queries)");
}
