// End-to-end: `pidx stats` against what the generator says it wrote.
#include <catch2/catch.hpp>

#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::GenCatalog;
using pidx::testing::Pidx;
using pidx::testing::ReadFile;
using pidx::testing::RunResult;
using pidx::testing::TempDir;

TEST_CASE("stats --json totals equal what the generator wrote") {
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 3000, 21, {"--truth", dir.File("truth.json")});
  auto truth = nlohmann::json::parse(ReadFile(dir.File("truth.json")));
  auto index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);

  RunResult r = Pidx({"stats", "--index", index, "--json", "--top-terms", "1000000"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["schema_version"] == 2);
  CHECK(j["version"] == "v000001");
  CHECK(j["totals"]["docs"] == truth["products"]);
  CHECK(j["categories"] == truth["categories"]);

  uint64_t docs = 0, postings = 0, tag_postings = 0;
  for (const auto& s : j["shards"]) {
    docs += s["docs"].get<uint64_t>();
    postings += s["postings"].get<uint64_t>();
  }
  for (const auto& t : j["totals"]["top_terms"]) {
    if (t["term"].get<std::string>().rfind("tags:", 0) == 0)
      tag_postings += t["docs"].get<uint64_t>();
  }
  CHECK(docs == truth["products"].get<uint64_t>());
  CHECK(postings == j["totals"]["postings"].get<uint64_t>());
  CHECK(tag_postings == truth["tags_total"].get<uint64_t>());
  // Every product has its category term: the category terms' postings add up to all docs.
  uint64_t category_postings = 0;
  for (const auto& t : j["totals"]["top_terms"]) {
    if (t["term"].get<std::string>().rfind("category:", 0) == 0) {
      category_postings += t["docs"].get<uint64_t>();
    }
  }
  CHECK(category_postings == truth["products"].get<uint64_t>());
  const auto& c = j["totals"]["containers"];
  CHECK(c["array"].get<uint64_t>() + c["bitmap"].get<uint64_t>() + c["run"].get<uint64_t>() > 0);
  CHECK(j["totals"]["array_bytes"] == 4 * j["totals"]["postings"].get<uint64_t>());
}

TEST_CASE("stats shows one shard with --shard and fails with 66 for what is missing") {
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 500, 2);
  auto index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  auto all = nlohmann::json::parse(Pidx({"stats", "--index", index, "--json"}).out);
  std::string shard = all["shards"][0]["shard"];
  RunResult one = Pidx({"stats", "--index", index, "--shard", shard, "--json"});
  REQUIRE(one.exit_code == 0);
  auto j = nlohmann::json::parse(one.out);
  REQUIRE(j["shards"].size() == 1);
  CHECK(j["shards"][0]["docs"] == all["shards"][0]["docs"]);

  CHECK(Pidx({"stats", "--index", index, "--shard", "nope_000"}).exit_code == 66);
  CHECK(Pidx({"stats", "--index", index, "--version", "v000009"}).exit_code == 66);
  CHECK(Pidx({"stats", "--index", dir.File("no-index")}).exit_code == 66);
  CHECK(Pidx({"stats", "--index", index, "--version", "latest"}).exit_code == 64);

  RunResult human = Pidx({"stats", "--index", index, "--shards"});
  REQUIRE(human.exit_code == 0);
  CHECK(human.out.find("total") != std::string::npos);
  CHECK(human.out.find(shard) != std::string::npos);
}

TEST_CASE("stats reports a damaged segment instead of crashing") {
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 300, 4);
  auto index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  auto all = nlohmann::json::parse(Pidx({"stats", "--index", index, "--json"}).out);
  std::string seg = index + "/segments/" + all["shards"][0]["segment"].get<std::string>();
  std::string bytes = ReadFile(seg);
  bytes[bytes.size() / 2] ^= 0x5a;
  dir.Write("idx/segments/" + all["shards"][0]["segment"].get<std::string>(), bytes);
  RunResult r = Pidx({"stats", "--index", index});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("checksum") != std::string::npos);
}
