// The benchmark's query sets, shared by fts5_peer and pidx_query_bench so that both engines
// answer exactly the same questions. A query file has one query per line, tab-separated:
//   and2 <TAB> word1 <TAB> word2        two words, both in a text field
//   cat  <TAB> word  <TAB> category     a word in a text field AND the product's category
//   rare <TAB> word                     one (rare) word in a text field
// Words are plain ASCII letters (sampled so that ICU word breaking and FTS5's unicode61 agree);
// a category is the catalog's raw category text.
#pragma once

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace pidx::bench {

struct BenchQuery {
  std::string kind;                // "and2", "cat" or "rare"
  std::vector<std::string> parts;  // the fields after the kind
};

inline bool ParseQueryLine(const std::string& line, BenchQuery* q) {
  q->kind.clear();
  q->parts.clear();
  size_t start = 0;
  bool first = true;
  while (start <= line.size()) {
    size_t tab = line.find('\t', start);
    if (tab == std::string::npos) tab = line.size();
    std::string field = line.substr(start, tab - start);
    if (first) {
      q->kind = std::move(field);
      first = false;
    } else {
      q->parts.push_back(std::move(field));
    }
    start = tab + 1;
  }
  if (q->kind == "and2" || q->kind == "cat") return q->parts.size() == 2;
  if (q->kind == "rare") return q->parts.size() == 1;
  return false;
}

// Reads a query file; on a malformed line prints "<path>:<line>: ..." and returns false.
inline bool LoadQueries(const std::string& path, std::vector<BenchQuery>* out) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "%s: cannot open\n", path.c_str());
    return false;
  }
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    BenchQuery q;
    if (!ParseQueryLine(line, &q)) {
      std::fprintf(stderr, "%s:%zu: not a query line (and2|cat|rare, tab-separated)\n",
                   path.c_str(), n);
      return false;
    }
    out->push_back(std::move(q));
  }
  return true;
}

// One result line: "<index>\t<count>" (count mode) or "<index>\t<id>,<id>,..." (top mode).
inline std::string JoinIds(const std::vector<std::string>& ids) {
  std::string s;
  for (const auto& id : ids) {
    if (!s.empty()) s += ',';
    s += id;
  }
  return s;
}

}  // namespace pidx::bench
