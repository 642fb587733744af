// End-to-end: `pidx diff`, the question an operator asks before promoting a version ("what did
// last night's rebuild change?") and the gate CI runs on it.
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>

#include "pidx/analysis/analyzer.h"
#include "pidx/shard/ingest.h"
#include "support/index_files.h"
#include "support/products.h"
#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::CurrentOf;
using pidx::testing::Item;
using pidx::testing::Pidx;
using pidx::testing::ReadFile;
using pidx::testing::RunResult;
using pidx::testing::ShardOf;
using pidx::testing::TempDir;
using pidx::testing::ToJsonl;

namespace {

// Titles are plain lowercase ASCII words and categories one word, so the terms of a product
// are easy to state: "category:<category>" and "title:<word>" for each word.
std::vector<Item> MakeItems(int n) { return pidx::testing::NumberedItems(n, {"Books", "Toys"}); }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::set<std::string> TermsOf(const Item& i) {
  std::set<std::string> terms = {"category:" + Lower(i.category)};
  std::istringstream words(i.title);
  for (std::string w; words >> w;) terms.insert("title:" + w);
  return terms;
}

// shard -> term -> products: the index a catalog should give, worked out independently.
using Model = std::map<std::string, std::map<std::string, std::set<std::string>>>;
Model ModelOf(const std::vector<Item>& items) {
  Model m;
  for (const auto& i : items) {
    for (const auto& t : TermsOf(i)) m[ShardOf(i)][t].insert(i.id);
  }
  return m;
}

std::set<std::string> Strings(const nlohmann::json& a) {
  std::set<std::string> out;
  for (const auto& x : a) out.insert(x.get<std::string>());
  return out;
}

// Runs diff with --json; checks the exit code and that one completion event carries the
// same counts as the result.
nlohmann::json DiffJson(const std::vector<std::string>& args, int expect_code) {
  std::vector<std::string> a = {"diff"};
  a.insert(a.end(), args.begin(), args.end());
  a.push_back("--json");
  RunResult r = Pidx(a);
  INFO(r.err);
  INFO(r.out);
  REQUIRE(r.exit_code == expect_code);
  auto j = nlohmann::json::parse(r.out);
  auto done = r.Events("index.diff.completed");
  REQUIRE(done.size() == 1);
  CHECK(done[0]["level"] == "info");
  CHECK(done[0]["equal"] == j["equal"]);
  CHECK(done[0]["segments_opened"] == j["segments_opened"]);
  CHECK(done[0]["products_added"] == j["totals"]["products_added"]);
  CHECK(done[0]["shards_changed"] == j["totals"]["shards_changed"]);
  CHECK(done[0].contains("duration_ms"));
  CHECK(j["schema_version"] == 2);
  CHECK(j["command"] == "diff");
  return j;
}

std::string Build(const TempDir& dir, const std::string& name, const std::vector<Item>& items,
                  const std::vector<std::string>& extra = {}) {
  auto c = dir.Write(name + ".jsonl", ToJsonl(items));
  auto index = dir.File(name);
  std::vector<std::string> args = {"build", "--catalog", c, "--index", index};
  args.insert(args.end(), extra.begin(), extra.end());
  RunResult r = Pidx(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return index;
}

}  // namespace

TEST_CASE("diff of two builds of the same catalog exits 0 without opening a segment") {
  TempDir dir;
  auto items = MakeItems(120);
  auto c = dir.Write("c.jsonl", ToJsonl(items));
  auto index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", c, "--index", index}).exit_code == 0);
  // --force: an unchanged build publishes nothing otherwise.
  REQUIRE(Pidx({"build", "--catalog", c, "--index", index, "--force"}).exit_code == 0);
  REQUIRE(CurrentOf(index) == "v000002");

  auto j = DiffJson({"--index", index, "v000001", "v000002"}, 0);
  CHECK(j["equal"] == true);
  CHECK(j["segments_opened"] == 0);
  CHECK(j["settings_differ"] == false);
  CHECK(j["level"] == "shards");
  CHECK(j["totals"]["shards_equal"] == j["v1"]["shard_count"]);
  CHECK(j["totals"]["shards_changed"] == 0);
  CHECK(j["product_changes"]["added_products"]["count"] == 0);
  CHECK(j["shards"].empty());
  CHECK(j["v1"]["version"] == "v000001");
  CHECK(j["v2"]["version"] == "v000002");
  CHECK(j["v2"]["docs"] == 120);

  SECTION("two index directories of the same catalog compare equal too") {
    auto other = dir.File("other");
    REQUIRE(Pidx({"build", "--catalog", c, "--index", other}).exit_code == 0);
    auto k = DiffJson({index, other}, 0);
    CHECK(k["equal"] == true);
    CHECK(k["segments_opened"] == 0);
    CHECK(k["v1"]["index"] == index);
    CHECK(k["v2"]["index"] == other);
  }
  SECTION("the human output says EQUAL") {
    RunResult r = Pidx({"diff", "--index", index, "1", "2"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("EQUAL: v000001 -> v000002\n", 0) == 0);
  }
}

TEST_CASE(
    "diff after one product added, one removed, one retitled names exactly those and their terms") {
  TempDir dir;
  auto before = MakeItems(90);
  auto c = dir.Write("c.jsonl", ToJsonl(before));
  auto index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", c, "--index", index}).exit_code == 0);

  auto after = before;
  after.push_back({"P900", "Books", "brand new gadget"});
  after.erase(after.begin() + 3);              // P3
  after[3].title = "item number 4 refreshed";  // P4, now at index 3
  REQUIRE(after[3].id == "P4");
  dir.Write("c.jsonl", ToJsonl(after));
  std::set<std::string> touched = {ShardOf(after.back()), ShardOf(before[3]), ShardOf(after[3])};
  for (const auto& shard : touched) {
    RunResult r = Pidx({"rebuild-shard", shard, "--catalog", c, "--index", index});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  const std::string v2 = CurrentOf(index);

  auto j = DiffJson({"--index", index, "v000001", v2, "--limit", "1000"}, 1);
  CHECK(j["equal"] == false);
  CHECK(j["product_changes"]["added_products"]["ids"] == nlohmann::json::array({"P900"}));
  CHECK(j["product_changes"]["removed_products"]["ids"] == nlohmann::json::array({"P3"}));
  CHECK(j["product_changes"]["changed_products"]["ids"] == nlohmann::json::array({"P4"}));
  CHECK(j["totals"]["products_added"] == 1);
  CHECK(j["totals"]["products_removed"] == 1);
  CHECK(j["totals"]["products_changed"] == 1);
  CHECK(j["totals"]["shards_added"] == 0);
  CHECK(j["totals"]["shards_removed"] == 0);
  // Only the rebuilt shards were opened, two segments each.
  CHECK(j["segments_opened"] == 2 * touched.size());
  CHECK(j["totals"]["shards_changed"] == touched.size());

  // The expected term differences, worked out from the two catalogs alone.
  Model m1 = ModelOf(before), m2 = ModelOf(after);
  std::map<std::string, std::set<std::string>> only1, only2;
  std::map<std::string,
           std::map<std::string, std::pair<std::set<std::string>, std::set<std::string>>>>
      moved;  // shard -> term -> (entered, left)
  for (const auto& shard : touched) {
    for (const auto& [term, ids] : m1[shard]) {
      if (!m2[shard].count(term)) only1[shard].insert(term);
    }
    for (const auto& [term, ids] : m2[shard]) {
      if (!m1[shard].count(term)) {
        only2[shard].insert(term);
        continue;
      }
      const auto& old = m1[shard][term];
      std::set<std::string> entered, left;
      std::set_difference(ids.begin(), ids.end(), old.begin(), old.end(),
                          std::inserter(entered, entered.end()));
      std::set_difference(old.begin(), old.end(), ids.begin(), ids.end(),
                          std::inserter(left, left.end()));
      if (!entered.empty() || !left.empty()) moved[shard][term] = {entered, left};
    }
  }
  REQUIRE(j["shards"].size() == touched.size());
  uint64_t total_only1 = 0, total_only2 = 0, total_moved = 0;
  for (const auto& s : j["shards"]) {
    const std::string shard = s["shard"];
    INFO(shard);
    CHECK(touched.count(shard) == 1);
    CHECK(s["change"] == "changed");
    std::set<std::string> got1, got2;
    for (const auto& t : s["term_changes"]["only_v1"]["examples"])
      got1.insert(t["term"].get<std::string>());
    for (const auto& t : s["term_changes"]["only_v2"]["examples"])
      got2.insert(t["term"].get<std::string>());
    CHECK(got1 == only1[shard]);
    CHECK(got2 == only2[shard]);
    std::map<std::string, std::pair<std::set<std::string>, std::set<std::string>>> got;
    for (const auto& t : s["term_changes"]["postings_differ"]["examples"]) {
      got[t["term"].get<std::string>()] = {Strings(t["entered"]["ids"]), Strings(t["left"]["ids"])};
      CHECK(t["entered"]["count"] == t["entered"]["ids"].size());
    }
    CHECK(got == moved[shard]);
    CHECK(s["term_changes"]["postings_differ"]["count"] == moved[shard].size());
    total_only1 += only1[shard].size();
    total_only2 += only2[shard].size();
    total_moved += moved[shard].size();
  }
  CHECK(j["totals"]["terms_only_v1"] == total_only1);
  CHECK(j["totals"]["terms_only_v2"] == total_only2);
  CHECK(j["totals"]["terms_postings_differ"] == total_moved);
  // The named changes, spelled out: P3's own word left, P4's and P900's new words arrived.
  CHECK(only1[ShardOf(before[3])].count("title:3") == 1);
  CHECK(only2[ShardOf(after[3])].count("title:refreshed") == 1);
  CHECK(only2[ShardOf(after.back())].count("title:gadget") == 1);

  SECTION("--limit caps the examples but never the counts") {
    auto k = DiffJson({"--index", index, "v000001", v2, "--limit", "0"}, 1);
    CHECK(k["product_changes"]["added_products"]["count"] == 1);
    CHECK(k["product_changes"]["added_products"]["ids"].empty());
    CHECK(k["totals"] == j["totals"]);
  }
  SECTION("--shard restricts the comparison to one shard") {
    const std::string shard = ShardOf(after[3]);
    auto k = DiffJson({"--index", index, "v000001", v2, "--shard", shard}, 1);
    REQUIRE(k["shards"].size() == 1);
    CHECK(k["shards"][0]["shard"] == shard);
    CHECK(k["segments_opened"] == 2);
  }
  SECTION("the human output has a summary, a line per shard and the examples") {
    RunResult r = Pidx({"diff", "--index", index, "v000001", v2});
    CHECK(r.exit_code == 1);
    CHECK(r.out.rfind("DIFFERENT: v000001 -> " + v2 + "\n", 0) == 0);
    CHECK(r.out.find("products: 1 added, 1 removed, 1 changed") != std::string::npos);
    CHECK(r.out.find("title:refreshed") != std::string::npos);
    for (const auto& shard : touched) CHECK(r.out.find(shard) != std::string::npos);
    RunResult s = Pidx({"diff", "--index", index, "v000001", v2, "--summary"});
    CHECK(s.exit_code == 1);
    CHECK(s.out.find("title:refreshed") == std::string::npos);
    CHECK(s.out.find("products: 1 added, 1 removed, 1 changed") != std::string::npos);
  }
}

TEST_CASE("diff reports the shards of a new category as added shards") {
  TempDir dir;
  auto items = MakeItems(60);
  auto c = dir.Write("c.jsonl", ToJsonl(items));
  auto index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", c, "--index", index}).exit_code == 0);
  std::set<std::string> garden_shards, garden_ids;
  for (int i = 0; i < 20; ++i) {
    Item g{"G" + std::to_string(i), "Garden", "garden tool " + std::to_string(i)};
    garden_shards.insert(ShardOf(g));
    garden_ids.insert(g.id);
    items.push_back(g);
  }
  dir.Write("c.jsonl", ToJsonl(items));
  REQUIRE(Pidx({"build", "--catalog", c, "--index", index}).exit_code == 0);

  auto j = DiffJson({"--index", index, "v000001", "v000002", "--limit", "100"}, 1);
  std::set<std::string> added;
  uint64_t docs = 0;
  for (const auto& s : j["shards"]) {
    CHECK(s["change"] == "added");
    CHECK(s["segment_v1"].is_null());
    CHECK(s["docs_v1"] == 0);
    added.insert(s["shard"].get<std::string>());
    docs += s["docs_v2"].get<uint64_t>();
  }
  CHECK(added == garden_shards);
  CHECK(docs == 20);
  CHECK(j["totals"]["shards_added"] == garden_shards.size());
  CHECK(j["totals"]["shards_changed"] == 0);
  CHECK(j["totals"]["products_added"] == 20);
  CHECK(Strings(j["product_changes"]["added_products"]["ids"]) == garden_ids);
  CHECK(j["totals"]["products_removed"] == 0);

  SECTION("and, the other way round, as removed shards") {
    auto k = DiffJson({"--index", index, "v000002", "v000001"}, 1);
    CHECK(k["totals"]["shards_removed"] == garden_shards.size());
    CHECK(k["totals"]["products_removed"] == 20);
    for (const auto& s : k["shards"]) CHECK(s["change"] == "removed");
  }
}

TEST_CASE(
    "diff of indexes built with other shards-per-category compares products and says the settings "
    "differ") {
  TempDir dir;
  auto items = MakeItems(100);
  auto a = Build(dir, "a", items, {"--shards-per-category", "8"});
  auto b = Build(dir, "b", items, {"--shards-per-category", "3"});
  // Equal catalogs give an empty product-level result: exit 0, and the settings are named.
  auto j = DiffJson({a, b}, 0);
  CHECK(j["equal"] == true);
  CHECK(j["settings_differ"] == true);
  CHECK(j["settings_changed"] == nlohmann::json::array({"shards_per_category"}));
  CHECK(j["level"] == "products");
  CHECK(j["v1"]["shards_per_category"] == 8);
  CHECK(j["v2"]["shards_per_category"] == 3);
  CHECK(j["totals"]["products_added"] == 0);
  CHECK(j["totals"]["products_removed"] == 0);
  CHECK(j["totals"]["products_changed"] == 0);
  CHECK(j["shards"].empty());
  CHECK(j["segments_opened"] ==
        j["v1"]["shard_count"].get<int>() + j["v2"]["shard_count"].get<int>());

  SECTION("a product that differs still shows at product level") {
    auto changed = items;
    changed[7].title = "a different title";
    auto c = Build(dir, "c", changed, {"--shards-per-category", "3"});
    auto k = DiffJson({a, c}, 1);
    CHECK(k["settings_differ"] == true);
    CHECK(k["product_changes"]["changed_products"]["ids"] == nlohmann::json::array({"P7"}));
    CHECK(k["totals"]["products_added"] == 0);
  }
}

TEST_CASE("diff of a missing version, directory or shard exits 66, bad operands 64") {
  TempDir dir;
  auto index = Build(dir, "idx", MakeItems(20));
  RunResult r = Pidx({"diff", "--index", index, "v000001", "v000009"});
  CHECK(r.exit_code == 66);
  auto failed = r.Events("index.diff.failed");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["reason"] == "not_found");
  CHECK(failed[0]["exit_code"] == 66);
  CHECK(r.out.empty());

  CHECK(Pidx({"diff", index, dir.File("nowhere")}).exit_code == 66);
  CHECK(Pidx({"diff", dir.File("nowhere"), index}).exit_code == 66);
  CHECK(Pidx({"diff", "--index", dir.File("nowhere"), "1", "2"}).exit_code == 66);
  CHECK(Pidx({"diff", "--index", index, "1", "1", "--shard", "garden_000"}).exit_code == 66);

  CHECK(Pidx({"diff", "--index", index, "v000001"}).exit_code == 64);
  CHECK(Pidx({"diff", "--index", index, "v1", "latest"}).exit_code == 64);
  CHECK(Pidx({"diff", index}).exit_code == 64);
  CHECK(Pidx({"diff", "--index", index, "1", "1", "--limit", "many"}).exit_code == 64);
}

TEST_CASE("diff with PIDX_INDEX set still compares two directories given as operands") {
  TempDir dir;
  auto items = MakeItems(30);
  auto a = Build(dir, "a", items);
  auto b = Build(dir, "b", items);
  pidx::testing::RunOptions env;
  env.env["PIDX_INDEX"] = a;
  RunResult r = Pidx({"diff", a, b}, env);
  CHECK(r.exit_code == 0);
  RunResult v = Pidx({"diff", "1", "1"}, env);
  CHECK(v.exit_code == 0);
}
