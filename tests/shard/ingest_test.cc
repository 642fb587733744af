// Ingest (shard/ingest.h) in process, against a model of the catalog written in the test:
// generated catalogs with bad lines and repeated categories, read with 1 and 4 threads, with
// and without a shard filter. Every good product reaches the sink of the shard the library's
// own rule names, exactly once; bad lines are counted and skipped only within the allowance.
#include "pidx/shard/ingest.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "pidx/base/checksum.h"
#include "pidx/shard/shard_id.h"
#include "support/products.h"
#include "support/temp_dir.h"

using pidx::StatusKind;
using pidx::shard::Ingest;
using pidx::shard::IngestOptions;
using pidx::shard::ShardSink;
using pidx::testing::Item;
using pidx::testing::TempDir;

namespace {

// Records what reaches one shard.
struct Recorded {
  std::mutex mu;
  std::map<std::string, std::multiset<std::string>> ids;  // shard -> external ids
};

class RecordingSink : public ShardSink {
 public:
  RecordingSink(Recorded* rec, std::string shard) : rec_(rec), shard_(std::move(shard)) {}
  void Add(std::string external_id, std::string, uint64_t,
           const std::vector<std::string>& terms) override {
    REQUIRE(std::is_sorted(terms.begin(), terms.end()));
    std::lock_guard<std::mutex> lock(rec_->mu);
    rec_->ids[shard_].insert(std::move(external_id));
  }

 private:
  Recorded* rec_;
  std::string shard_;
};

struct Generated {
  std::string text;
  std::vector<Item> good;  // in catalog order
  uint64_t bad = 0;
};

Generated RandomCatalog(uint32_t seed) {
  std::mt19937 rng(seed);
  Generated g;
  const int lines = 1 + static_cast<int>(rng() % 300);
  for (int i = 0; i < lines; ++i) {
    if (rng() % 17 == 0) {  // a bad line: no category, or not JSON
      g.text +=
          rng() % 2 ? "{\"id\":\"bad" + std::to_string(i) + "\",\"title\":\"x\"}\n" : "{not json\n";
      ++g.bad;
      continue;
    }
    Item item{"p" + std::to_string(i), "Cat " + std::to_string(rng() % 7),
              "lamp " + std::to_string(rng() % 50)};
    g.text += pidx::testing::ToJsonl({item});
    g.good.push_back(item);
  }
  return g;
}

}  // namespace

TEST_CASE("every good product reaches its shard's sink exactly once (generated catalogs)") {
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    TempDir dir;
    const Generated g = RandomCatalog(seed);
    const std::string path = dir.Write("c.jsonl", g.text);
    for (int threads : {1, 4}) {
      for (bool filtered : {false, true}) {
        INFO("seed " << seed << " threads " << threads << " filtered " << filtered);
        Recorded rec;
        IngestOptions options;
        options.threads = threads;
        options.max_bad_lines = g.bad;
        options.make_sink = [&rec](const std::string& shard) {
          return std::make_unique<RecordingSink>(&rec, shard);
        };
        // The filter keeps about half the shards.
        if (filtered) {
          options.shard_filter = [](const std::string& shard) {
            return pidx::Xxh3(shard) % 2 == 0;
          };
        }
        auto r = Ingest({path}, options);
        REQUIRE(r.ok());

        std::map<std::string, std::multiset<std::string>> expected;
        std::map<std::string, uint64_t> all;
        for (const auto& item : g.good) {
          // No target (IngestOptions' default): every category has S = 8 shards.
          const std::string shard = pidx::testing::ShardOf(item, 8);
          ++all[shard];
          if (!filtered || !options.shard_filter || options.shard_filter(shard)) {
            expected[shard].insert(item.id);
          }
        }
        CHECK(rec.ids == expected);
        CHECK(r.value().all_shards == all);
        CHECK(r.value().products_seen == g.good.size());
        CHECK(r.value().bad_records == g.bad);
        uint64_t accepted = 0;
        for (const auto& [shard, ids] : expected) accepted += ids.size();
        CHECK(r.value().products == accepted);
        REQUIRE(r.value().files.size() == 1);
        CHECK(r.value().files[0].size == g.text.size());
        CHECK(r.value().files[0].products == g.good.size());
        CHECK(r.value().files[0].xxh3 == pidx::Hex64(pidx::Xxh3(g.text)));
      }
    }
  }
}

TEST_CASE("one bad line beyond the allowance fails the ingest, naming file and line") {
  TempDir dir;
  const std::string path =
      dir.Write("c.jsonl", pidx::testing::ToJsonl({{"a", "x", "t"}}) + "{\"id\":\"b\"}\n" +
                               "{broken\n" + pidx::testing::ToJsonl({{"c", "x", "t"}}));
  IngestOptions options;
  options.max_bad_lines = 1;
  auto r = Ingest({path}, options);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().kind() == StatusKind::kBadData);
  CHECK_THAT(r.status().message(), Catch::Contains("c.jsonl:3"));
  options.max_bad_lines = 2;
  auto ok = Ingest({path}, options);
  REQUIRE(ok.ok());
  CHECK(ok.value().bad_records == 2);
  CHECK(ok.value().products_seen == 2);
}

TEST_CASE("a duplicate id fails the ingest and names both places, across files too") {
  TempDir dir;
  const std::string a =
      dir.Write("a.jsonl", pidx::testing::ToJsonl({{"x1", "c", "t"}, {"x2", "c", "t"}}));
  const std::string b =
      dir.Write("b.jsonl", pidx::testing::ToJsonl({{"x3", "d", "t"}, {"x2", "e", "t"}}));
  auto r = Ingest({a, b}, IngestOptions{});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().kind() == StatusKind::kBadData);
  CHECK_THAT(r.status().message(), Catch::Contains("a.jsonl:2") && Catch::Contains("b.jsonl:2"));
}

TEST_CASE("a missing catalog fails before any product is read") {
  TempDir dir;
  const std::string a = dir.Write("a.jsonl", pidx::testing::ToJsonl({{"x1", "c", "t"}}));
  Recorded rec;
  IngestOptions options;
  options.make_sink = [&rec](const std::string& shard) {
    return std::make_unique<RecordingSink>(&rec, shard);
  };
  auto r = Ingest({a, dir.File("missing.jsonl")}, options);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().kind() == StatusKind::kNotFound);
  CHECK(rec.ids.empty());
}

// Shard counts decided after the scan (a target shard size, no count given): a slug's
// products go to one early builder, then to S partitions once it passes the target, and
// settle merges them into K shards. The reference is the same catalog ingested with those K
// given up front, which routes every product straight to shard ShardNumber(id, K): both give
// the same shards, counts and segment bytes, and each shard holds exactly the model's ids.
// Generated: slug sizes around the target (some spelled two ways), S with several divisors,
// 1 and 3 threads, a filter, and a budget so small that the builders spill.
TEST_CASE("deferred shard counts give the segments of the same counts given up front") {
  using pidx::shard::ShardBuilder;
  for (uint32_t seed = 1; seed <= 24; ++seed) {
    std::mt19937 rng(seed);
    const uint32_t max_shards = std::vector<uint32_t>{1, 2, 4, 6, 8}[rng() % 5];
    const uint64_t target = 3 + rng() % 12;
    std::vector<Item> items;
    const int slugs = 1 + static_cast<int>(rng() % 6);
    for (int c = 0; c < slugs; ++c) {
      const int n = static_cast<int>(rng() % (target * max_shards * 2 + 2));
      for (int i = 0; i < n; ++i) {
        // "Cat 3" and "cat-3" are one slug: its counter and builders are shared.
        const std::string category = (rng() % 3 == 0 ? "cat-" : "Cat ") + std::to_string(c);
        items.push_back({"p" + std::to_string(rng()), category,
                         "lamp w" + std::to_string(rng() % 40) + " w" + std::to_string(i % 9)});
      }
    }
    std::shuffle(items.begin(), items.end(), rng);
    // Ids are random: drop the rare repeat, which would be a duplicate-id error.
    std::set<std::string> seen;
    items.erase(std::remove_if(items.begin(), items.end(),
                               [&](const Item& i) { return !seen.insert(i.id).second; }),
                items.end());
    TempDir dir;
    const std::string path = dir.Write("c.jsonl", pidx::testing::ToJsonl(items));
    const int threads = seed % 2 ? 1 : 3;
    const bool filtered = seed % 3 == 0;
    const bool spilled = seed % 4 == 1;
    INFO("seed " << seed << " S " << max_shards << " target " << target << " threads " << threads
                 << " filtered " << filtered << " spilled " << spilled);

    auto ingest = [&](const std::map<std::string, uint32_t>& given) {
      IngestOptions options;
      options.threads = threads;
      options.shards_per_category = max_shards;
      options.target_shard_docs = target;
      options.category_shards = given;
      if (filtered) {
        options.shard_filter = [](const std::string& shard) { return pidx::Xxh3(shard) % 3 != 0; };
      }
      if (spilled) {
        options.memory_budget = 1;
        options.spill_dir = dir.path();
      }
      auto r = Ingest({path}, options);
      REQUIRE(r.ok());
      return std::move(r.value());
    };
    auto finish = [](pidx::shard::IngestResult& r) {
      std::map<std::string, std::pair<uint32_t, std::string>> out;
      for (auto& [shard, sink] : r.sinks) {
        auto* builder = dynamic_cast<ShardBuilder*>(sink.get());
        REQUIRE(builder != nullptr);
        auto built = builder->Finish();
        REQUIRE(built.ok());
        out[shard] = {built->docs, std::move(built->bytes)};
      }
      return out;
    };

    auto deferred = ingest({});
    auto given = ingest(deferred.category_shards);
    CHECK(deferred.category_shards == given.category_shards);
    CHECK(deferred.all_shards == given.all_shards);
    CHECK(deferred.categories == given.categories);
    CHECK(deferred.products == given.products);
    const auto a = finish(deferred);
    const auto b = finish(given);
    CHECK(a == b);

    // The model: a slug's count from its product count, each product in ShardNumber(id, K).
    static const pidx::analysis::Analyzer analyzer;
    std::map<std::string, uint64_t> per_slug;
    for (const auto& i : items) ++per_slug[pidx::shard::CategorySlug(analyzer.Fold(i.category))];
    std::map<std::string, uint32_t> docs;
    for (const auto& i : items) {
      const std::string slug = pidx::shard::CategorySlug(analyzer.Fold(i.category));
      const uint32_t k = pidx::shard::ShardCountFor(per_slug[slug], max_shards, target);
      CHECK(deferred.category_shards.at(slug) == k);
      const std::string shard = pidx::shard::MakeShardId(slug, pidx::shard::ShardNumber(i.id, k));
      if (!filtered || pidx::Xxh3(shard) % 3 != 0) ++docs[shard];
    }
    std::map<std::string, uint32_t> built_docs;
    for (const auto& [shard, built] : a) built_docs[shard] = built.first;
    CHECK(built_docs == docs);
  }
}
