// The query engine's bound on open segments: any cap gives the same answers.
#include "pidx/query/engine.h"

#include <catch2/catch.hpp>

#include <fstream>

#include "pidx/ops/build.h"
#include "support/temp_dir.h"

namespace {

std::string Catalog(const pidx::testing::TempDir& dir) {
  std::string s;
  for (int i = 0; i < 300; ++i) {
    s += "{\"id\":\"P" + std::to_string(i) + "\",\"category\":\"c" + std::to_string(i % 60) +
         "\",\"title\":\"thing " + (i % 3 == 0 ? std::string("red") : std::string("blue")) +
         "\"}\n";
  }
  return dir.Write("c.jsonl", s);
}

}  // namespace

TEST_CASE("a query engine that keeps 1, 7 or 1024 segments open gives the same answers") {
  pidx::testing::TempDir dir;
  pidx::BuildOptions o;
  o.catalogs = {Catalog(dir)};
  o.index_dir = dir.File("idx");
  o.target_shard_docs = 4096;  // one shard per category: 60 shards
  auto built = pidx::Build(o, pidx::Env::Default());
  REQUIRE(built.ok());
  REQUIRE(built->totals.shards == 60);

  std::vector<std::pair<uint64_t, std::vector<std::string>>> answers;
  for (size_t cap : {size_t{1}, size_t{7}, pidx::kDefaultMaxOpenSegments}) {
    auto engine =
        pidx::QueryEngine::Open(pidx::Env::Default(), o.index_dir, 0, pidx::EngineOptions{cap});
    REQUIRE(engine.ok());
    std::vector<std::pair<uint64_t, std::vector<std::string>>> mine;
    // Queries touching all shards, one category, and all again: the cache is used and evicted.
    for (const char* text : {"red", "thing category:c7", "blue", "red -category:c3", "red"}) {
      auto q = engine->parser().Parse(text);
      REQUIRE(q.ok());
      auto r = engine->Search(*q, {});
      REQUIRE(r.ok());
      std::vector<std::string> ids;
      for (const auto& h : r->hits) ids.push_back(h.id);
      mine.emplace_back(r->total, ids);
    }
    CHECK(mine[0].first == 100);
    CHECK(mine[1].first == 5);
    if (answers.empty()) answers = mine;
    CHECK(mine == answers);
  }
}
