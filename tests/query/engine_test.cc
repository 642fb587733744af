// The query engine's bound on open segments: any cap gives the same answers.
#include "pidx/query/engine.h"

#include <catch2/catch.hpp>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "pidx/base/checksum.h"
#include "pidx/base/map_limit.h"
#include "support/fault_env.h"

#include "pidx/ops/build.h"
#include "support/run.h"
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

TEST_CASE(
    "a query engine that keeps 1, 7 or the default number of segments open gives the same "
    "answers") {
  pidx::testing::TempDir dir;
  pidx::BuildOptions o;
  o.catalogs = {Catalog(dir)};
  o.index_dir = dir.File("idx");
  o.target_shard_docs = 4096;  // one shard per category: 60 shards
  auto built = pidx::Build(o, pidx::Env::Default());
  REQUIRE(built.ok());
  REQUIRE(built->totals.shards == 60);

  std::vector<std::pair<uint64_t, std::vector<std::string>>> answers;
  for (size_t cap : {size_t{1}, size_t{7}, size_t{0}}) {  // 0: derived from the map limit
    auto engine =
        pidx::QueryEngine::Open(pidx::Env::Default(), o.index_dir, 0, pidx::EngineOptions{cap});
    REQUIRE(engine.ok());
    std::vector<std::pair<uint64_t, std::vector<std::string>>> mine;
    // Queries touching all shards, one category, and all again: the cache is used and evicted.
    for (const char* text : {"red", "thing category:c7", "blue", "red -category:c3", "red",
                             "(category:c3 OR category:c5 OR category:nosuch) red"}) {
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
    CHECK(mine[5].first == 5);  // c3's 5 products are all red, c5's none
    if (answers.empty()) answers = mine;
    CHECK(mine == answers);
  }
}

TEST_CASE("the default open-segment cap is half the process's map limit, at least 1") {
  using pidx::MaxOpenSegmentsFor;
  CHECK(MaxOpenSegmentsFor(65530) == 32765);  // the kernel's default vm.max_map_count
  CHECK(MaxOpenSegmentsFor(262144) == 131072);
  CHECK(MaxOpenSegmentsFor(1100) == 550);  // PIDX_TEST_MAP_LIMIT in many_categories_cli_test
  CHECK(MaxOpenSegmentsFor(3) == 1);
  CHECK(MaxOpenSegmentsFor(2) == 1);
  CHECK(MaxOpenSegmentsFor(1) == 1);
  CHECK(MaxOpenSegmentsFor(0) == 1);
  // Generated: never more than half the limit (the rest is the process's other mappings),
  // never 0, and never less as the limit grows.
  size_t prev = 0;
  for (uint64_t limit = 1; limit < 5000; limit += 7) {
    const size_t cap = MaxOpenSegmentsFor(limit);
    CHECK(cap >= 1);
    CHECK((cap <= limit / 2 || cap == 1));
    CHECK(cap >= prev);
    prev = cap;
  }
}

TEST_CASE(
    "the map limit is read from the kernel's file, and a file that does not parse gives the "
    "default") {
  using pidx::MapLimitFromText;
  CHECK(MapLimitFromText("65530\n") == 65530);
  CHECK(MapLimitFromText("262144") == 262144);
  for (const char* bad : {"", "\n", "-1\n", "0\n", "12a\n", " 12\n", "12\n\n", "1099511627776\n",
                          "99999999999999999999999\n"}) {
    INFO(bad);
    CHECK(MapLimitFromText(bad) == 0);
  }
  // Unit tests run without PIDX_TEST_MAP_LIMIT: the kernel's number, or its default when the
  // file cannot be read.
  REQUIRE(pidx::TestMapLimit() == 0);
  auto text = pidx::Env::Default()->ReadFile("/proc/sys/vm/max_map_count");
  const uint64_t kernel = text.ok() && MapLimitFromText(*text) > 0 ? MapLimitFromText(*text)
                                                                   : pidx::kDefaultKernelMapLimit;
  CHECK(pidx::ProcessMapLimit(pidx::Env::Default()) == kernel);
  pidx::testing::FaultEnv failing;
  failing.set_count_reads(true);
  failing.Arm(pidx::testing::FaultEnv::Mode::kFailFrom, 1, EIO);
  CHECK(pidx::ProcessMapLimit(&failing) == pidx::kDefaultKernelMapLimit);
  CHECK(failing.injected() == 1);
}

TEST_CASE("a shard whose manifest Bloom filter does not parse is searched, never skipped") {
  pidx::testing::TempDir dir;
  pidx::BuildOptions o;
  o.catalogs = {Catalog(dir)};
  o.index_dir = dir.File("idx");
  o.target_shard_docs = 4096;
  REQUIRE(pidx::Build(o, pidx::Env::Default()).ok());
  auto answers = [&] {
    auto engine = pidx::QueryEngine::Open(pidx::Env::Default(), o.index_dir, 0);
    REQUIRE(engine.ok());
    std::vector<uint64_t> totals;
    for (const char* text : {"red", "blue category:c7", "thing", "red OR nosuchword"}) {
      auto q = engine->parser().Parse(text);
      REQUIRE(q.ok());
      auto r = engine->Search(*q, {});
      REQUIRE(r.ok());
      totals.push_back(r->total);
    }
    return totals;
  };
  const std::vector<uint64_t> before = answers();
  CHECK(before == std::vector<uint64_t>{100, 5, 300, 100});
  // Every shard's filter replaced by text that is not hex, the manifest checksummed again.
  const std::string path = o.index_dir + "/versions/v000001.manifest";
  std::string m = pidx::testing::ReadFile(path);
  auto j = nlohmann::ordered_json::parse(m.substr(0, m.rfind("xxh3 ")));
  for (auto& e : j["shards"]) e["term_bloom"] = std::string(512, 'z');
  const std::string body = j.dump(1) + "\n";
  dir.Write("m", body + "xxh3 " + pidx::Hex64(pidx::Xxh3(body)) + "\n");
  std::filesystem::rename(dir.File("m"), path);
  CHECK(answers() == before);
}

// Generated queries, answered twice: on bitsets (shards of at most kBitsetMaxDocs docs) and on
// CRoaring bitmaps. The catalog has array, bitset and run containers (a word in 70% of
// 9,000 products, one in every product), inline lists (rare words) and absent terms.
TEST_CASE("bitset and Roaring evaluation give the same totals and hits on generated queries") {
  pidx::testing::TempDir dir;
  const std::vector<std::string> words = {
      "alpha", "bravo",  "delta", "echo",  "golf", "hotel", "kilo",  "lima",   "oscar", "papa",
      "romeo", "sierra", "tango", "whisk", "yank", "zulu",  "amber", "basalt", "cobalt"};
  std::mt19937_64 rng(20261202);
  auto below = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  std::string catalog;
  for (int i = 0; i < 12000; ++i) {
    const int category = i % 4 == 0 ? 1 + static_cast<int>(below(4)) : 0;  // c0: 9,000
    std::string title = "every", description;
    if (below(10) < 7) title += " often";
    // Skewed: word k in about 1 product of 2^(k/2 + 1), some only in descriptions.
    for (size_t k = 0; k < words.size(); ++k) {
      if (below(size_t{2} << (k / 2)) == 0) (below(2) ? title : description) += " " + words[k];
    }
    if (i % 997 == 0) description += " rarity";
    catalog += "{\"id\":\"P" + std::to_string(100000 + i) + "\",\"category\":\"c" +
               std::to_string(category) + "\",\"title\":\"" + title + "\",\"description\":\"" +
               description + "\"}\n";
  }
  pidx::BuildOptions o;
  o.catalogs = {dir.Write("c.jsonl", catalog)};
  o.index_dir = dir.File("idx");
  REQUIRE(pidx::Build(o, pidx::Env::Default()).ok());

  std::vector<std::string> atoms = {
      "every",       "often",       "rarity",      "nosuchword",
      "category:c0", "category:c3", "title:often", "description:rarity"};
  for (const auto& w : words) {
    atoms.push_back(w);
    atoms.push_back("title:" + w);
    atoms.push_back("description:" + w);
    atoms.push_back(w.substr(0, 2) + "*");
  }
  std::function<std::string(int)> expr = [&](int depth) -> std::string {
    if (depth == 0 || below(10) < 4) return atoms[below(atoms.size())];
    const bool is_or = below(3) == 0;
    std::string out = "(";
    const size_t n = 2 + below(2);
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) out += is_or ? " OR " : " ";
      if (!is_or && i > 0 && below(4) == 0) out += "-";
      out += expr(depth - 1);
    }
    return out + ")";
  };

  auto engine = pidx::QueryEngine::Open(pidx::Env::Default(), o.index_dir, 0);
  REQUIRE(engine.ok());
  size_t parsed = 0, nonempty = 0;
  for (int q = 0; q < 600; ++q) {
    const std::string text = expr(3);
    auto node = engine->parser().Parse(text);
    if (!node.ok()) continue;
    ++parsed;
    for (const size_t limit : {size_t{0}, size_t{10}, pidx::kNoLimit}) {
      pidx::SearchOptions bits, roaring;
      bits.limit = roaring.limit = limit;
      bits.hints = roaring.hints = false;
      roaring.bitset_evaluation = false;
      auto a = engine->Search(*node, bits);
      auto b = engine->Search(*node, roaring);
      INFO(text << " limit " << limit);
      REQUIRE(a.ok() == b.ok());
      if (!a.ok()) {
        CHECK(a.status().ToString() == b.status().ToString());
        continue;
      }
      CHECK(a->total == b->total);
      std::vector<std::string> ids_a, ids_b;
      for (const auto& h : a->hits) ids_a.push_back(h.id);
      for (const auto& h : b->hits) ids_b.push_back(h.id);
      CHECK(ids_a == ids_b);
      if (limit == pidx::kNoLimit) CHECK(ids_a.size() == a->total);
      if (limit == 0 && a->total != 0) ++nonempty;
    }
  }
  // The generator must reach the cases it was made for, not parse errors and empty answers.
  CHECK(parsed > 400);
  CHECK(nonempty > 150);
}
