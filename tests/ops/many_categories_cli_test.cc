// End-to-end: catalogs with many categories (issue 16). The shard count of a category follows
// its size and is recorded per category in the manifest; no command keeps every segment of a
// version mapped (the kernel allows 65530 mappings per process; PIDX_TEST_MAP_LIMIT puts a
// small cap on pidx's own so that a test can hit the same failure with 20k shards, not 100k).
#include <filesystem>
#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "pidx/base/checksum.h"
#include "support/products.h"
#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::Item;
using pidx::testing::Pidx;
using pidx::testing::ReadFile;
using pidx::testing::RunOptions;
using pidx::testing::RunResult;
using pidx::testing::ShardOf;
using pidx::testing::TempDir;
using pidx::testing::ToJsonl;
namespace fs = std::filesystem;

namespace {

nlohmann::json CurrentManifest(const std::string& index) {
  std::string current = ReadFile(index + "/CURRENT");
  current = current.substr(0, current.find('\n'));
  std::string m = ReadFile(index + "/versions/" + current + ".manifest");
  return nlohmann::json::parse(m.substr(0, m.rfind("xxh3 ")));
}

std::set<std::string> ShardsOf(const nlohmann::json& manifest) {
  std::set<std::string> out;
  for (const auto& e : manifest["shards"]) out.insert(e["shard"].get<std::string>());
  return out;
}

size_t SegmentFiles(const std::string& index) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(index + "/segments")) {
    n += e.path().extension() == ".seg";
  }
  return n;
}

// n products in `categories` categories "c<i>", product p in category p mod categories.
std::vector<Item> TinyCategories(int n, int categories) {
  std::vector<Item> items;
  for (int p = 0; p < n; ++p) {
    items.push_back({"P" + std::to_string(p), "c" + std::to_string(p % categories),
                     "widget " + std::string(p % 2 ? "red" : "blue") + " " + std::to_string(p)});
  }
  return items;
}

// `count` products of category `category`, ids "<prefix><i>".
void AddCategory(std::vector<Item>* items, const std::string& category, int count,
                 const std::string& prefix) {
  for (int i = 0; i < count; ++i) {
    items->push_back({prefix + std::to_string(i), category, "thing " + std::to_string(i)});
  }
}

}  // namespace

TEST_CASE(
    "20k tiny categories: 20k shards, and query, verify, stats and diff work with at most "
    "1100 files mapped at once (a query keeps 550 open)") {
  TempDir dir;
  const auto items = TinyCategories(24000, 20000);
  const std::string catalog = dir.Write("c.jsonl", ToJsonl(items));
  const std::string index = dir.File("idx");
  RunResult b = Pidx({"build", "--catalog", catalog, "--index", index, "--json"});
  REQUIRE(b.exit_code == 0);
  const auto built = nlohmann::json::parse(b.out);
  CHECK(built["shard_count"] == 20000);  // one shard per tiny category, not up to 8
  CHECK(SegmentFiles(index) == 20000);

  // Without the fix every segment stayed mapped: 20k mappings, far over this cap, and
  // verify reported each segment it could not map as segment_unreadable.
  const RunOptions capped{.env = {{"PIDX_TEST_MAP_LIMIT", "1100"}}};
  RunResult q = Pidx({"query", "--index", index, "--json", "--limit", "3", "red"}, capped);
  INFO(q.err);
  REQUIRE(q.exit_code == 0);
  const auto qj = nlohmann::json::parse(q.out);
  CHECK(qj["total"] == 12000);
  CHECK(qj["hits"].size() == 3);
  RunResult one = Pidx({"query", "--index", index, "--json", "widget category:c17"}, capped);
  REQUIRE(one.exit_code == 0);
  CHECK(nlohmann::json::parse(one.out)["total"] == 2);  // P17 and P20017

  RunResult v = Pidx({"verify", "--index", index, "--json"}, capped);
  INFO(v.out.substr(0, 2000));
  CHECK(v.exit_code == 0);
  CHECK(nlohmann::json::parse(v.out)["findings"].empty());
  RunResult vc = Pidx({"verify", "--index", index, "--catalog", catalog, "--json"}, capped);
  INFO(vc.out.substr(0, 2000));
  CHECK(vc.exit_code == 0);
  CHECK(Pidx({"stats", "--index", index, "--json"}, capped).exit_code == 0);

  // A tiny category rebuilt alone, then the two versions compared.
  auto changed = items;
  changed[5].title = "widget green 5";
  const std::string catalog2 = dir.Write("c2.jsonl", ToJsonl(changed));
  REQUIRE(Pidx({"rebuild-shard", "c5_000", "--catalog", catalog2, "--index", index}, capped)
              .exit_code == 0);
  RunResult d = Pidx({"diff", "--index", index, "v1", "v2", "--json", "--summary"}, capped);
  CHECK(d.exit_code == 1);
  CHECK(nlohmann::json::parse(d.out)["totals"]["products_changed"] == 1);
}

TEST_CASE("PIDX_TEST_MAP_LIMIT makes a mapping beyond the cap fail as the kernel's limit does") {
  TempDir dir;
  const std::string catalog = dir.Write("c.jsonl", ToJsonl(TinyCategories(40, 20)));
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  // verify on one thread needs one file at a time: nothing stays mapped. A query keeps open
  // half the map limit, at least 1 (docs/CLI.md): one segment here, released before the next
  // is mapped, so a query over all 20 shards works. A cap that ignored the limit would keep
  // the first shard mapped and fail on the second.
  const RunOptions one{.env = {{"PIDX_TEST_MAP_LIMIT", "1"}}};
  CHECK(Pidx({"verify", "--index", index, "--threads", "1"}, one).exit_code == 0);
  CHECK(Pidx({"query", "--index", index, "widget category:c3"}, one).exit_code == 0);
  RunResult q = Pidx({"query", "--index", index, "--json", "widget"}, one);
  INFO(q.err);
  REQUIRE(q.exit_code == 0);
  CHECK(nlohmann::json::parse(q.out)["total"] == 40);
  CHECK(nlohmann::json::parse(q.out)["shards_searched"] == 20);
  // Two threads each holding a segment need two: the cap is real, and loud (exit 1 with
  // segment_unreadable findings naming mmap, the symptom of issue 16).
  RunResult v = Pidx({"verify", "--index", index, "--threads", "2", "--json"},
                     {.env = {{"PIDX_TEST_MAP_LIMIT", "1"}}});
  if (v.exit_code != 0) {
    CHECK(v.exit_code == 1);
    CHECK(v.out.find("segment_unreadable") != std::string::npos);
    CHECK(v.out.find("mmap") != std::string::npos);
  }
}

TEST_CASE("a category's shard count follows its size and is recorded in the manifest") {
  TempDir dir;
  std::vector<Item> items;
  AddCategory(&items, "Big", 100, "B");
  AddCategory(&items, "Mid", 30, "M");
  AddCategory(&items, "Small", 3, "S");
  const std::string catalog = dir.Write("c.jsonl", ToJsonl(items));
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index, "--target-shard-docs", "16"})
              .exit_code == 0);
  auto m = CurrentManifest(index);
  CHECK(m["format_version"] == 2);
  CHECK(m["shards_per_category"] == 8);
  CHECK(m["target_shard_docs"] == 16);
  // 100 > 4 x 16: all 8; 30 <= 2 x 16: 2; 3: 1.
  CHECK(m["category_shards"] == nlohmann::json({{"big", 8}, {"mid", 2}, {"small", 1}}));
  const std::map<std::string, uint32_t> k = {{"Big", 8}, {"Mid", 2}, {"Small", 1}};
  std::set<std::string> expected;
  for (const auto& i : items) expected.insert(ShardOf(i, k.at(i.category)));
  CHECK(ShardsOf(m) == expected);
  CHECK(expected.size() == 11);
  for (const auto& e : m["shards"]) {
    uint64_t docs = 0;
    for (const auto& i : items) docs += ShardOf(i, k.at(i.category)) == e["shard"];
    CHECK(e["docs"] == docs);
  }
  CHECK(Pidx({"verify", "--index", index, "--catalog", catalog}).exit_code == 0);

  SECTION("rebuild-shard keeps a category's recorded count, however it grew") {
    RunResult r =
        Pidx({"rebuild-shard", "small_000", "--catalog", catalog, "--index", index, "--json"});
    REQUIRE(r.exit_code == 0);
    CHECK(nlohmann::json::parse(r.out)["segment_unchanged"] == true);
    RunResult none = Pidx({"rebuild-shard", "small_001", "--catalog", catalog, "--index", index});
    CHECK(none.exit_code == 66);
    CHECK(none.err.find("category small has 1 shards") != std::string::npos);

    auto grown = items;
    AddCategory(&grown, "Small", 40, "S2-");
    const std::string catalog2 = dir.Write("c2.jsonl", ToJsonl(grown));
    r = Pidx({"rebuild-shard", "small_000", "--catalog", catalog2, "--index", index, "--json"});
    REQUIRE(r.exit_code == 0);
    CHECK(nlohmann::json::parse(r.out)["docs"] == 43);
    CHECK(CurrentManifest(index)["category_shards"]["small"] == 1);
    CHECK(Pidx({"verify", "--index", index, "--catalog", catalog2}).exit_code == 0);
    // A full build decides again: 43 products > 2 x 16, so 4 shards.
    REQUIRE(Pidx({"build", "--catalog", catalog2, "--index", index, "--target-shard-docs", "16"})
                .exit_code == 0);
    CHECK(CurrentManifest(index)["category_shards"]["small"] == 4);
  }

  SECTION("a category new to the index gets the count a build would give it") {
    auto more = items;
    AddCategory(&more, "Fresh", 20, "F");  // 20 <= 2 x 16: 2 shards
    const std::string catalog2 = dir.Write("c2.jsonl", ToJsonl(more));
    std::string fresh0, fresh1;
    for (const auto& i : more) {
      if (i.category == "Fresh") (ShardOf(i, 2) == "fresh_000" ? fresh0 : fresh1) = i.id;
    }
    REQUIRE(
        Pidx({"rebuild-shard", "fresh_001", "--catalog", catalog2, "--index", index}).exit_code ==
        0);
    auto after = CurrentManifest(index);
    CHECK(after["category_shards"]["fresh"] == 2);
    CHECK(ShardsOf(after).count("fresh_001") == 1);
    CHECK(ShardsOf(after).count("fresh_000") == 0);
    // A shard number the decided count does not have is named as not existing.
    RunResult r = Pidx({"rebuild-shard", "fresh_005", "--catalog", catalog2, "--index", index});
    CHECK(r.exit_code == 66);
    // verify --catalog names the one shard still missing, computed with the recorded count.
    RunResult v = Pidx({"verify", "--index", index, "--catalog", catalog2, "--json"});
    CHECK(v.exit_code == 1);
    const auto vj = nlohmann::json::parse(v.out);
    REQUIRE(vj["findings"].size() == 1);
    CHECK(vj["findings"][0]["kind"] == "shard_missing");
    CHECK(vj["findings"][0]["shard"] == "fresh_000");
  }

  SECTION("plan, workers and publish make the same shards and segments as build") {
    const std::string plan = dir.File("plan.json");
    REQUIRE(Pidx({"plan", "--catalog", catalog, "--index", dir.File("idx2"), "--workers", "2",
                  "--out", plan, "--target-shard-docs", "16"})
                .exit_code == 0);
    const std::string text = ReadFile(plan);
    const auto pj = nlohmann::json::parse(text.substr(0, text.rfind("xxh3 ")));
    CHECK(pj["format_version"] == 2);
    CHECK(pj["category_shards"] == m["category_shards"]);
    for (const char* w : {"0", "1"}) {
      REQUIRE(
          Pidx({"build", "--plan", plan, "--worker", w, "--stage", dir.File("stage")}).exit_code ==
          0);
    }
    REQUIRE(
        Pidx({"publish", "--index", dir.File("idx2"), "--stage", dir.File("stage"), "--plan", plan})
            .exit_code == 0);
    auto published = CurrentManifest(dir.File("idx2"));
    CHECK(published["category_shards"] == m["category_shards"]);
    std::map<std::string, std::string> a, b;
    for (const auto& e : m["shards"]) a[e["shard"]] = e["segment"];
    for (const auto& e : published["shards"]) b[e["shard"]] = e["segment"];
    CHECK(a == b);
    RunResult d = Pidx({"diff", index, dir.File("idx2")});
    CHECK(d.exit_code == 0);
  }
}

TEST_CASE("shards-per-category given alone gives every category exactly that many shards") {
  TempDir dir;
  std::vector<Item> items;
  AddCategory(&items, "Big", 100, "B");
  AddCategory(&items, "Small", 3, "S");
  const std::string catalog = dir.Write("c.jsonl", ToJsonl(items));
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index, "--shards-per-category", "4"})
              .exit_code == 0);
  auto m = CurrentManifest(index);
  CHECK(m["target_shard_docs"] == 0);
  CHECK(m["category_shards"] == nlohmann::json({{"big", 4}, {"small", 4}}));
  std::set<std::string> expected;
  for (const auto& i : items) expected.insert(ShardOf(i, 4));
  CHECK(ShardsOf(m) == expected);
  // The default: at most 8, and 4096 products per shard: one each here.
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", dir.File("d")}).exit_code == 0);
  CHECK(CurrentManifest(dir.File("d"))["category_shards"] ==
        nlohmann::json({{"big", 1}, {"small", 1}}));
  CHECK(Pidx({"build", "--catalog", catalog, "--index", dir.File("e"), "--target-shard-docs",
              "2000000000"})
            .exit_code == 64);
}

TEST_CASE(
    "an index whose manifest is format 1 (one global shard count) still reads and "
    "rebuilds") {
  TempDir dir;
  std::vector<Item> items;
  AddCategory(&items, "Books", 20, "B");
  AddCategory(&items, "Toys", 5, "T");
  const std::string catalog = dir.Write("c.jsonl", ToJsonl(items));
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index, "--shards-per-category", "2"})
              .exit_code == 0);
  // Rewrite the manifest as a format-1 writer wrote it: no per-category counts.
  const std::string path = index + "/versions/v000001.manifest";
  auto j = nlohmann::ordered_json::parse(ReadFile(path).substr(0, ReadFile(path).rfind("xxh3 ")));
  j["format_version"] = 1;
  j.erase("target_shard_docs");
  j.erase("category_shards");
  const std::string body = j.dump(1) + "\n";
  dir.Write("versions-v1", body + "xxh3 " + pidx::Hex64(pidx::Xxh3(body)) + "\n");
  fs::rename(dir.File("versions-v1"), path);

  CHECK(Pidx({"verify", "--index", index, "--catalog", catalog}).exit_code == 0);
  RunResult q = Pidx({"query", "--index", index, "--json", "thing"});
  REQUIRE(q.exit_code == 0);
  CHECK(nlohmann::json::parse(q.out)["total"] == 25);
  // The shard of a product is XXH3(id) mod 2, as the format-1 manifest says.
  std::string shard = ShardOf(items[0], 2);
  REQUIRE(Pidx({"rebuild-shard", shard, "--catalog", catalog, "--index", index}).exit_code == 0);
  auto m = CurrentManifest(index);
  CHECK(m["format_version"] == 2);
  CHECK(m["category_shards"] == nlohmann::json({{"books", 2}, {"toys", 2}}));
  CHECK(Pidx({"verify", "--index", index, "--catalog", catalog}).exit_code == 0);
}
