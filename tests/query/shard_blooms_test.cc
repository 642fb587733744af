// The bit-sliced Bloom filters of a version's shards (query/shard_blooms.h): generated filters
// and query trees, checked against each shard's own TermBloom.
#include "pidx/query/shard_blooms.h"

#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using pidx::BloomTest;
using pidx::MakeBloomTest;
using pidx::QueryNode;
using pidx::ShardBlooms;
using pidx::shard::TermBloom;

namespace {

std::string Word(std::mt19937& rng) {
  std::string w = "title:w";
  w += std::to_string(rng() % 300);
  return w;
}

// A random tree of terms, categories, ANDs, ORs, NOTs, prefixes and match-alls.
QueryNode RandomQuery(std::mt19937& rng, int depth) {
  QueryNode n;
  const unsigned pick = depth == 0 ? rng() % 4 : rng() % 7;
  switch (pick) {
    case 0:
    case 1:
      n.kind = QueryNode::Kind::kTerm;
      n.term = Word(rng);
      break;
    case 2:
      n.kind = QueryNode::Kind::kTerm;
      n.is_category = true;
      n.category = "c";
      n.term = "category:c";
      break;
    case 3:
      n.kind = rng() % 2 ? QueryNode::Kind::kPrefix : QueryNode::Kind::kAll;
      n.term = "title:w";
      break;
    case 4:
      n.kind = QueryNode::Kind::kNot;
      n.children.push_back(RandomQuery(rng, depth - 1));
      break;
    default: {
      n.kind = pick == 5 ? QueryNode::Kind::kAnd : QueryNode::Kind::kOr;
      const size_t k = 1 + rng() % 3;
      for (size_t i = 0; i < k; ++i) n.children.push_back(RandomQuery(rng, depth - 1));
    }
  }
  return n;
}

// What the engine's rule says, from the filter itself: false only when a term the query
// requires is missing (NOT, prefixes, categories and match-all never rule a shard out).
bool Reference(const QueryNode& n, const std::optional<TermBloom>& bloom) {
  if (!bloom) return true;
  switch (n.kind) {
    case QueryNode::Kind::kTerm:
      return n.is_category || bloom->MayContain(n.term);
    case QueryNode::Kind::kAnd:
      for (const auto& c : n.children) {
        if (c.kind != QueryNode::Kind::kNot && !Reference(c, bloom)) return false;
      }
      return true;
    case QueryNode::Kind::kOr:
      for (const auto& c : n.children) {
        if (Reference(c, bloom)) return true;
      }
      return false;
    default:
      return true;
  }
}

}  // namespace

TEST_CASE("sliced filters rule a shard out exactly when its own filter does (generated)") {
  std::mt19937 rng(23);
  for (int round = 0; round < 60; ++round) {
    // 0 to 200 shards: slices of one word, several, and a partial last word.
    const size_t shards = round == 0 ? 0 : rng() % 200;
    std::vector<std::optional<TermBloom>> filters;
    for (size_t i = 0; i < shards; ++i) {
      if (rng() % 10 == 0) {
        filters.emplace_back();  // a filter that did not parse
        continue;
      }
      TermBloom b;
      const size_t terms = rng() % 120;
      for (size_t t = 0; t < terms; ++t) b.Add(Word(rng));
      filters.push_back(b);
    }
    const ShardBlooms sliced(filters);
    for (size_t i = 0; i < shards; ++i) {
      for (int t = 0; t < 20; ++t) {
        const std::string term = Word(rng);
        CHECK(sliced.MayContain(i, TermBloom::ProbesOf(term)) ==
              (!filters[i] || filters[i]->MayContain(term)));
      }
    }
    for (int q = 0; q < 30; ++q) {
      const QueryNode query = RandomQuery(rng, 3);
      const std::optional<BloomTest> test = MakeBloomTest(query);
      if (!test) {
        for (size_t i = 0; i < shards; ++i) CHECK(Reference(query, filters[i]));
        continue;
      }
      const std::vector<uint64_t> bulk = sliced.MayMatch(*test);
      REQUIRE(bulk.size() == (shards + 63) / 64);
      for (size_t i = 0; i < bulk.size() * 64; ++i) {
        const bool bit = (bulk[i / 64] >> (i % 64)) & 1;
        if (i >= shards) {
          REQUIRE_FALSE(bit);  // nothing past the last shard
          continue;
        }
        INFO(query.ToString() << " shard " << i);
        REQUIRE(bit == Reference(query, filters[i]));
        REQUIRE(sliced.MayMatch(i, *test) == bit);
      }
    }
  }
}
