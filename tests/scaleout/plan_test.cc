// The scale-out plan (scaleout/plan.h) in process: the assignment of shards to workers, the
// plan file's round trip and its checksum, and where a worker finds its index.
#include "pidx/scaleout/plan.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/products.h"
#include "support/temp_dir.h"

using pidx::MakePlan;
using pidx::Plan;
using pidx::PlanOptions;
using pidx::StatusKind;
using pidx::testing::Item;
using pidx::testing::TempDir;

namespace {

// Categories of very different sizes, so that balancing has work to do.
std::vector<Item> SkewedCatalog(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Item> items;
  const int categories = 2 + static_cast<int>(rng() % 6);
  for (int c = 0; c < categories; ++c) {
    const int products = 1 + static_cast<int>(rng() % (c == 0 ? 400 : 60));
    for (int p = 0; p < products; ++p) {
      items.push_back({"c" + std::to_string(c) + "-p" + std::to_string(p),
                       "cat" + std::to_string(c), "lamp " + std::to_string(p)});
    }
  }
  return items;
}

Plan PlanOf(const TempDir& dir, const std::vector<Item>& items, uint32_t workers) {
  PlanOptions options;
  options.catalogs = {dir.Write("catalog.jsonl", pidx::testing::ToJsonl(items))};
  options.index_dir = dir.File("index");
  options.workers = workers;
  options.threads = 1;
  options.out_path = dir.File("plan.json");
  auto plan = MakePlan(options, pidx::Env::Default());
  REQUIRE(plan.ok());
  return plan.value().plan;
}

}  // namespace

TEST_CASE("every shard goes to exactly one worker, and the loads are balanced (generated)") {
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    TempDir dir;
    const std::vector<Item> items = SkewedCatalog(seed);
    const uint32_t workers = 1 + seed % 5;
    const Plan plan = PlanOf(dir, items, workers);
    INFO("seed " << seed << ", " << workers << " workers, " << items.size() << " products");

    // The shards and their counts are the catalog's, by the library's own shard rule.
    std::map<std::string, uint64_t> expected;
    for (const auto& i : items) ++expected[pidx::testing::ShardOf(i, plan.shards_per_category)];
    std::map<std::string, uint64_t> planned;
    uint64_t largest = 0;
    for (const auto& s : plan.shards) {
      CHECK(s.worker < workers);
      planned[s.shard] = s.docs;
      largest = std::max(largest, s.docs);
    }
    CHECK(planned == expected);
    CHECK(plan.products == items.size());

    // Largest first to the least loaded: no worker ends more than one shard above another.
    const std::vector<uint64_t> loads = plan.WorkerDocs();
    REQUIRE(loads.size() == workers);
    const auto [lo, hi] = std::minmax_element(loads.begin(), loads.end());
    CHECK(*hi - *lo <= largest);
    size_t listed = 0;
    for (uint32_t w = 0; w < workers; ++w) listed += plan.ShardsOf(w).size();
    CHECK(listed == plan.shards.size());
  }
}

TEST_CASE("a plan round-trips through its file, and any flipped byte is refused") {
  TempDir dir;
  const Plan plan = PlanOf(dir, SkewedCatalog(3), 3);
  const std::string bytes = plan.Serialize();
  auto back = Plan::Parse(bytes, "plan.json");
  REQUIRE(back.ok());
  CHECK(back.value().Serialize() == bytes);

  std::mt19937 rng(9);
  for (int i = 0; i < 300; ++i) {
    std::string damaged = bytes;
    const size_t at = rng() % damaged.size();
    damaged[at] = static_cast<char>(damaged[at] ^ (1 + rng() % 255));
    auto r = Plan::Parse(damaged, "plan.json");
    INFO("byte " << at);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().kind() == StatusKind::kCorrupt);
    CHECK_THAT(r.status().message(), Catch::Contains("plan.json"));
  }
  auto truncated = Plan::Parse(bytes.substr(0, bytes.size() / 2), "plan.json");
  CHECK(truncated.status().kind() == StatusKind::kCorrupt);
}

TEST_CASE("a worker's index comes from the flag, else the batch system's variable") {
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  ::unsetenv("JOB_COMPLETION_INDEX");
  ::unsetenv("AWS_BATCH_JOB_ARRAY_INDEX");
  CHECK(pidx::ResolveWorkerIndex(-1, 4).status().kind() == StatusKind::kUsage);
  CHECK(pidx::ResolveWorkerIndex(2, 4).value() == 2);
  CHECK(pidx::ResolveWorkerIndex(4, 4).status().kind() == StatusKind::kUsage);

  ::setenv("JOB_COMPLETION_INDEX", "3", 1);
  std::string source;
  CHECK(pidx::ResolveWorkerIndex(-1, 4, &source).value() == 3);
  CHECK_THAT(source, Catch::Contains("JOB_COMPLETION_INDEX"));
  ::setenv("SLURM_ARRAY_TASK_ID", "1", 1);  // the first that is set wins
  CHECK(pidx::ResolveWorkerIndex(-1, 4, &source).value() == 1);
  CHECK(pidx::ResolveWorkerIndex(0, 4).value() == 0);  // the flag wins over both

  ::unsetenv("JOB_COMPLETION_INDEX");  // an empty variable counts as unset: none is left
  for (const char* bad : {"", "x", "-1", "4", "1.0", "99999999999999999999"}) {
    ::setenv("SLURM_ARRAY_TASK_ID", bad, 1);
    INFO("SLURM_ARRAY_TASK_ID=" << bad);
    CHECK(pidx::ResolveWorkerIndex(-1, 4).status().kind() == StatusKind::kUsage);
  }
  ::unsetenv("SLURM_ARRAY_TASK_ID");
}
