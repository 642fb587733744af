// End-to-end: the scale-out build (docs/SCALE-OUT.md): `pidx plan`, workers
// (`pidx build --plan --worker --stage`) and `pidx publish`, with the real binary.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::GenCatalog;
using pidx::testing::Pidx;
using pidx::testing::ReadFile;
using pidx::testing::RunOptions;
using pidx::testing::RunResult;
using pidx::testing::TempDir;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::vector<std::string> kEngineVars = {"SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX",
                                              "AWS_BATCH_JOB_ARRAY_INDEX"};

// No engine variable leaks in from the environment the tests run in (e.g. a Slurm job).
RunOptions Clean(std::map<std::string, std::string> env = {}) {
  RunOptions o;
  o.env = std::move(env);
  for (const auto& v : kEngineVars) {
    if (!o.env.count(v)) o.unset_env.push_back(v);
  }
  return o;
}

// The plan's JSON (the file ends with a checksum line).
json PlanJson(const std::string& path) {
  std::string text = ReadFile(path);
  return json::parse(text.substr(0, text.rfind("xxh3 ")));
}

std::vector<std::string> ShardsOf(const json& plan, int worker) {
  std::vector<std::string> out;
  for (const auto& s : plan["shards"]) {
    if (s["worker"] == worker) out.push_back(s["shard"]);
  }
  return out;
}

struct Fixture {
  TempDir dir;
  std::string catalog, plan, stage, index;
  int workers;

  explicit Fixture(int products = 1500, int w = 3) : workers(w) {
    catalog = GenCatalog(dir.File("c.jsonl"), products, 5);
    plan = dir.File("plan.json");
    stage = dir.File("stage");
    index = dir.File("idx");
  }
  RunResult Plan() {
    return Pidx({"plan", "--catalog", catalog, "--index", index, "--workers",
                 std::to_string(workers), "--out", plan, "--json"},
                Clean());
  }
  RunResult Worker(int i, const std::string& stage_dir = "") {
    return Pidx({"build", "--plan", plan, "--worker", std::to_string(i), "--stage",
                 stage_dir.empty() ? stage : stage_dir, "--json"},
                Clean());
  }
  RunResult Publish(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"publish", "--index", index, "--stage",
                                     stage,     "--plan",  plan,  "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Pidx(args, Clean());
  }
  void StageAll() {
    for (int i = 0; i < workers; ++i) REQUIRE(Worker(i).exit_code == 0);
  }
};

size_t Versions(const std::string& index) {
  if (!fs::exists(index + "/versions")) return 0;
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(index + "/versions")) {
    n += e.path().extension() == ".manifest";
  }
  return n;
}

std::map<std::string, std::string> DirBytes(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    out[e.path().filename().string()] = ReadFile(e.path().string());
  }
  return out;
}

}  // namespace

TEST_CASE("plan assigns every shard to one worker, largest first, so the loads are balanced") {
  Fixture f(3000, 4);
  RunResult r = f.Plan();
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json plan = PlanJson(f.plan);
  CHECK(plan["format"] == "pidx-plan");
  CHECK(plan["workers"] == 4);
  CHECK(plan["products"] == 3000);
  REQUIRE(plan["catalogs"].size() == 1);
  CHECK(plan["catalogs"][0]["path"] == fs::absolute(f.catalog).string());
  CHECK(plan["catalogs"][0]["size"] == fs::file_size(f.catalog));
  CHECK(plan["catalogs"][0]["xxh3"].get<std::string>().size() == 16);
  CHECK(plan["shards_per_category"] == 8);
  CHECK(plan.contains("schema"));
  CHECK(plan.contains("analyzer"));

  std::vector<uint64_t> load(4, 0);
  uint64_t total = 0, largest = 0;
  std::set<std::string> seen;
  for (const auto& s : plan["shards"]) {
    int w = s["worker"];
    REQUIRE(w >= 0);
    REQUIRE(w < 4);
    CHECK(seen.insert(s["shard"].get<std::string>()).second);
    load[w] += s["docs"].get<uint64_t>();
    total += s["docs"].get<uint64_t>();
    largest = std::max<uint64_t>(largest, s["docs"]);
  }
  CHECK(total == 3000);
  CHECK(plan["worker_docs"] == load);
  // Largest first to the least loaded: no two workers differ by more than one shard.
  auto [lo, hi] = std::minmax_element(load.begin(), load.end());
  CHECK(*hi - *lo <= largest);
  auto done = r.Events("index.plan.completed");
  REQUIRE(done.size() == 1);
  CHECK(done[0]["workers"] == 4);
  CHECK(done[0]["shards"] == plan["shards"].size());
  auto out = json::parse(r.out);
  CHECK(out["command"] == "plan");
  CHECK(out["assignments"].size() == 4);
}

TEST_CASE("workers staging a plan and one publish equal a single-machine build") {
  Fixture f;
  REQUIRE(f.Plan().exit_code == 0);
  for (int i = 0; i < f.workers; ++i) {
    RunResult w = f.Worker(i);
    INFO(w.err);
    REQUIRE(w.exit_code == 0);
    CHECK(w.Events("index.stage.completed").size() == 1);
    CHECK(json::parse(w.out)["shards"].size() == ShardsOf(PlanJson(f.plan), i).size());
  }
  RunResult r = f.Publish();
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto out = json::parse(r.out);
  CHECK(out["version"] == "v000001");
  CHECK(out["unchanged"] == false);
  CHECK(out["docs"] == 1500);
  auto done = r.Events("index.publish.completed");
  REQUIRE(done.size() == 1);
  CHECK(done[0]["version"] == "v000001");

  auto single = f.dir.File("single");
  REQUIRE(Pidx({"build", "--catalog", f.catalog, "--index", single}).exit_code == 0);
  CHECK(Pidx({"diff", f.index, single}).exit_code == 0);
  CHECK(Pidx({"verify", "--index", f.index, "--catalog", f.catalog}).exit_code == 0);
}

TEST_CASE("publish of a stage missing a worker exits 66 naming every missing shard") {
  Fixture f;
  REQUIRE(Pidx({"build", "--catalog", f.catalog, "--index", f.index}).exit_code == 0);
  const std::string before = ReadFile(f.index + "/CURRENT");
  REQUIRE(f.Plan().exit_code == 0);
  REQUIRE(f.Worker(0).exit_code == 0);
  REQUIRE(f.Worker(2).exit_code == 0);
  RunResult r = f.Publish();
  CHECK(r.exit_code == 66);
  auto refused = r.Events("index.publish.refused");
  REQUIRE(refused.size() == 1);
  CHECK(refused[0]["level"] == "error");
  auto missing = refused[0]["missing_shards"].get<std::vector<std::string>>();
  CHECK(missing == ShardsOf(PlanJson(f.plan), 1));
  CHECK(refused[0]["damaged_shards"].empty());
  CHECK(refused[0]["workers_to_rerun"] == json::array({1}));
  for (const auto& s : missing)
    CHECK(refused[0]["msg"].get<std::string>().find(s) != std::string::npos);
  auto failed = r.Events("index.publish.failed");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["exit_code"] == 66);
  CHECK(ReadFile(f.index + "/CURRENT") == before);
  CHECK(Versions(f.index) == 1);

  SECTION("once the worker has run, the stage publishes as the same content") {
    REQUIRE(f.Worker(1).exit_code == 0);
    RunResult again = f.Publish();
    INFO(again.err);
    CHECK(again.exit_code == 0);
    CHECK(json::parse(again.out)["unchanged"] == true);
    CHECK(Versions(f.index) == 1);
  }
}

TEST_CASE("a damaged staged segment makes publish exit 1 naming the shard, nothing published") {
  Fixture f;
  REQUIRE(f.Plan().exit_code == 0);
  f.StageAll();
  // Damage one segment of worker 2 in the middle.
  const std::string victim_shard = ShardsOf(PlanJson(f.plan), 2).at(0);
  std::string victim;
  for (const auto& e : fs::directory_iterator(f.stage + "/segments")) {
    if (e.path().filename().string().rfind(victim_shard + "-", 0) == 0) victim = e.path();
  }
  REQUIRE(!victim.empty());
  {
    std::fstream file(victim, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(fs::file_size(victim) / 2));
    file.put('\x5a');
  }
  RunResult r = f.Publish();
  CHECK(r.exit_code == 1);
  auto refused = r.Events("index.publish.refused");
  REQUIRE(refused.size() == 1);
  CHECK(refused[0]["damaged_shards"] == json::array({victim_shard}));
  CHECK(refused[0]["missing_shards"].empty());
  CHECK(refused[0]["problems"][0]["reason"].get<std::string>().find("checksum") !=
        std::string::npos);
  CHECK(!fs::exists(f.index + "/CURRENT"));

  SECTION("re-running its worker replaces the damaged file and the stage publishes") {
    RunResult w = f.Worker(2);
    INFO(w.err);
    REQUIRE(w.exit_code == 0);
    CHECK(w.Events("index.stage.damaged_segment").size() == 1);
    CHECK(f.Publish().exit_code == 0);
    CHECK(ReadFile(f.index + "/CURRENT").rfind("v000001", 0) == 0);
  }
}

TEST_CASE("running a worker twice is harmless: the same files, nothing new written") {
  Fixture f;
  REQUIRE(f.Plan().exit_code == 0);
  f.StageAll();
  auto segments = DirBytes(f.stage + "/segments");
  RunResult again = f.Worker(1);
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(json::parse(again.out)["segments_written"] == 0);
  CHECK(DirBytes(f.stage + "/segments") == segments);
  for (const auto& e : fs::recursive_directory_iterator(f.stage)) {
    CHECK(e.path().filename().string().rfind(".tmp-", 0) == std::string::npos);
  }
  CHECK(f.Publish().exit_code == 0);
}

TEST_CASE("publishing the same stage twice makes no second version") {
  Fixture f;
  REQUIRE(f.Plan().exit_code == 0);
  f.StageAll();
  REQUIRE(f.Publish().exit_code == 0);
  const std::string current = ReadFile(f.index + "/CURRENT");
  RunResult r = f.Publish();
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto out = json::parse(r.out);
  CHECK(out["unchanged"] == true);
  CHECK(out["version"] == "v000001");
  auto done = r.Events("index.publish.completed");
  REQUIRE(done.size() == 1);
  CHECK(done[0]["unchanged"] == true);
  CHECK(ReadFile(f.index + "/CURRENT") == current);
  CHECK(Versions(f.index) == 1);
}

TEST_CASE("the worker index comes from --worker or the batch engine's variable") {
  Fixture f;
  REQUIRE(f.Plan().exit_code == 0);
  auto run = [&](std::map<std::string, std::string> env, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"build", "--plan", f.plan, "--stage", f.stage, "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Pidx(args, Clean(std::move(env)));
  };
  for (const auto& var : kEngineVars) {
    RunResult r = run({{var, "2"}});
    INFO(var << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    auto out = json::parse(r.out);
    CHECK(out["worker"] == 2);
    CHECK(out["worker_source"] == var);
    CHECK(out["workers"] == 3);
  }
  SECTION("--worker wins over the environment") {
    RunResult r = run({{"SLURM_ARRAY_TASK_ID", "2"}}, {"--worker", "0"});
    REQUIRE(r.exit_code == 0);
    CHECK(json::parse(r.out)["worker"] == 0);
    CHECK(fs::exists(f.stage + "/workers/worker-00000.manifest"));
  }
  SECTION("no index at all is a usage error") {
    RunResult r = run({});
    CHECK(r.exit_code == 64);
    CHECK(r.err.find("SLURM_ARRAY_TASK_ID") != std::string::npos);
  }
  SECTION("an index beyond the plan's workers is a usage error naming the count") {
    RunResult r = run({{"JOB_COMPLETION_INDEX", "3"}});
    CHECK(r.exit_code == 64);
    CHECK(r.err.find("the plan has 3 workers") != std::string::npos);
  }
}

TEST_CASE("a worker refuses a catalog that changed after the plan, before staging anything") {
  Fixture f;
  REQUIRE(f.Plan().exit_code == 0);
  SECTION("a product added: exit 65") {
    std::ofstream(f.catalog, std::ios::app) << R"({"id":"late-1","category":"Toys","title":"x"})"
                                            << "\n";
    RunResult r = f.Worker(0);
    CHECK(r.exit_code == 65);
    CHECK(r.err.find("the catalog changed since the plan") != std::string::npos);
  }
  SECTION("the same size, other bytes: exit 65") {
    std::string text = ReadFile(f.catalog);
    size_t pos = text.find("\"title\":\"") + 9;
    text[pos] = text[pos] == 'Q' ? 'R' : 'Q';
    std::ofstream(f.catalog, std::ios::trunc | std::ios::binary) << text;
    RunResult r = f.Worker(0);
    CHECK(r.exit_code == 65);
    CHECK(r.err.find("XXH3") != std::string::npos);
  }
  SECTION("the catalog gone: exit 66") {
    fs::remove(f.catalog);
    CHECK(f.Worker(0).exit_code == 66);
  }
  CHECK(!fs::exists(f.stage + "/workers/worker-00000.manifest"));
  CHECK(f.Publish().exit_code == 66);
}

TEST_CASE("publish with a held publish lock exits 75, and its guard is build's") {
  Fixture f;
  REQUIRE(f.Plan().exit_code == 0);
  f.StageAll();
  SECTION("lock held") {
    REQUIRE(Pidx({"build", "--catalog", f.catalog, "--index", f.index}).exit_code == 0);
    pid_t holder = pidx::testing::Spawn("/usr/bin/flock",
                                        {"-o", f.index + "/locks/publish.lock", "sleep", "30"},
                                        f.dir.File("h.out"), f.dir.File("h.err"));
    RunResult r;
    for (int attempt = 0; attempt < 50; ++attempt) {  // until the holder has the lock
      r = f.Publish({"--lock-timeout", "300ms"});
      if (r.exit_code == 75) break;
    }
    kill(holder, SIGKILL);
    pidx::testing::Wait(holder);
    CHECK(r.exit_code == 75);
    auto timeout = r.Events("lock.timeout");
    REQUIRE(timeout.size() == 1);
    CHECK(timeout[0]["lock"] == "publish");
    CHECK(Versions(f.index) == 1);
  }
  SECTION("a much larger current version: refused with exit 65") {
    auto big = GenCatalog(f.dir.File("big.jsonl"), 4000, 6);
    REQUIRE(Pidx({"build", "--catalog", big, "--index", f.index}).exit_code == 0);
    RunResult r = f.Publish();
    CHECK(r.exit_code == 65);
    auto refused = r.Events("index.publish.refused");
    REQUIRE(refused.size() == 1);
    CHECK(refused[0]["current_docs"] == 4000);
    CHECK(Versions(f.index) == 1);
    CHECK(f.Publish({"--allow-shrink"}).exit_code == 0);
    CHECK(Versions(f.index) == 2);
  }
}
