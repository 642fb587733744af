// End-to-end: `pidx rebuild-shard`, the command whose silent failure started the project.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

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
using pidx::testing::TempFilesIn;
using pidx::testing::ToJsonl;
namespace fs = std::filesystem;

namespace {

std::vector<Item> MakeItems(int n) {
  return pidx::testing::NumberedItems(n, {"Books", "Toys", "Home & Kitchen"});
}

// shard -> segment file, from the current (or given) version's stats.
std::map<std::string, std::string> Segments(const std::string& index,
                                            const std::string& version = "") {
  std::vector<std::string> args = {"stats", "--index", index, "--json"};
  if (!version.empty()) {
    args.push_back("--version");
    args.push_back(version);
  }
  RunResult r = Pidx(args);
  REQUIRE(r.exit_code == 0);
  std::map<std::string, std::string> out;
  // Keep the parsed document alive: a range-for over a member of a temporary dangles.
  const auto stats = nlohmann::json::parse(r.out);
  for (const auto& s : stats["shards"]) out[s["shard"]] = s["segment"];
  return out;
}

}  // namespace

TEST_CASE("rebuilding an unchanged shard with --force publishes a version with the same segment") {
  TempDir dir;
  auto items = MakeItems(90);
  auto c = dir.Write("c.jsonl", ToJsonl(items));
  auto index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", c, "--index", index}).exit_code == 0);
  std::string shard = ShardOf(items[0]);
  RunResult r =
      Pidx({"rebuild-shard", shard, "--catalog", c, "--index", index, "--json", "--force"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["version"] == "v000002");
  CHECK(j["action"] == "rebuilt");
  CHECK(j["segment_unchanged"] == true);
  CHECK(Segments(index) == Segments(index, "v000001"));
  CHECK(r.Events("index.rebuild.started").size() == 1);
  auto done = r.Events("index.rebuild.completed");
  REQUIRE(done.size() == 1);
  CHECK(done[0]["shard"] == shard);
  CHECK(done[0].contains("duration_ms"));
}

TEST_CASE("rebuild-shard with a held shard lock exits 75 and logs lock.timeout") {
  TempDir dir;
  auto items = MakeItems(30);
  auto c = dir.Write("c.jsonl", ToJsonl(items));
  auto index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", c, "--index", index}).exit_code == 0);
  std::string shard = ShardOf(items[0]);
  const std::string before = CurrentOf(index);
  pid_t holder = pidx::testing::Spawn(
      "/usr/bin/flock", {"-o", index + "/locks/shard-" + shard + ".lock", "sleep", "60"},
      dir.File("h.out"), dir.File("h.err"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  auto t0 = std::chrono::steady_clock::now();
  RunResult r =
      Pidx({"rebuild-shard", shard, "--catalog", c, "--index", index, "--lock-timeout", "1s"});
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(r.exit_code == 75);
  CHECK(took >= std::chrono::milliseconds(1000));
  CHECK(took < std::chrono::seconds(4));
  auto timeout = r.Events("lock.timeout");
  REQUIRE(timeout.size() == 1);
  CHECK(timeout[0]["level"] == "error");
  CHECK(timeout[0]["shard"] == shard);
  CHECK(timeout[0]["lock"] == "shard-" + shard);
  CHECK(timeout[0]["waited_ms"].get<int>() >= 1000);
  CHECK(timeout[0]["holder_pid"] == holder);
  auto failed = r.Events("index.rebuild.failed");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["reason"] == "lock_timeout");
  CHECK(failed[0]["shard"] == shard);
  CHECK(failed[0]["exit_code"] == 75);
  // lock.timeout comes before index.rebuild.failed.
  CHECK(r.err.find("lock.timeout") < r.err.find("index.rebuild.failed"));
  CHECK(CurrentOf(index) == before);
  CHECK(TempFilesIn(index).empty());

  SECTION("once the holder is killed the next rebuild takes the lock at once") {
    kill(holder, SIGKILL);
    pidx::testing::Wait(holder);
    RunResult ok =
        Pidx({"rebuild-shard", shard, "--catalog", c, "--index", index, "--lock-timeout", "0"});
    INFO(ok.err);
    CHECK(ok.exit_code == 0);
  }
  kill(holder, SIGKILL);
  pidx::testing::Wait(holder);
}

TEST_CASE("eight concurrent rebuilds of eight shards lose no update") {
  TempDir dir;
  auto items = MakeItems(600);
  auto c1 = dir.Write("c1.jsonl", ToJsonl(items));
  auto index = dir.File("idx");
  // Eight shards per category (3 categories of 200 products would otherwise have one each).
  REQUIRE(
      Pidx({"build", "--catalog", c1, "--index", index, "--shards-per-category", "8"}).exit_code ==
      0);
  auto parent = Segments(index);

  std::set<std::string> shards;
  for (auto& item : items) {
    std::string s = ShardOf(item, 8);
    if (shards.count(s) == 0 && shards.size() < 8) {
      shards.insert(s);
      item.title = "changed title for " + item.id;
    }
  }
  REQUIRE(shards.size() == 8);
  auto c2 = dir.Write("c2.jsonl", ToJsonl(items));

  std::vector<pid_t> pids;
  int k = 0;
  for (const auto& s : shards) {
    pids.push_back(pidx::testing::Spawn(pidx::testing::PidxBin(),
                                        {"rebuild-shard", s, "--catalog", c2, "--index", index,
                                         "--lock-timeout", "60s", "--log-format", "json"},
                                        dir.File("r" + std::to_string(k) + ".out"),
                                        dir.File("r" + std::to_string(k) + ".err")));
    ++k;
  }
  for (size_t i = 0; i < pids.size(); ++i) {
    int code = pidx::testing::Wait(pids[i]);
    INFO(ReadFile(dir.File("r" + std::to_string(i) + ".err")));
    CHECK(code == 0);
  }
  CHECK(CurrentOf(index) == "v000009");
  auto final_segments = Segments(index);
  REQUIRE(final_segments.size() == parent.size());
  for (const auto& [shard, seg] : final_segments) {
    if (shards.count(shard)) {
      CHECK(seg != parent[shard]);
    } else {
      CHECK(seg == parent[shard]);
    }
  }
  // The result is exactly what a full build of the new catalog makes.
  REQUIRE(
      Pidx({"build", "--catalog", c2, "--index", dir.File("full"), "--shards-per-category", "8"})
          .exit_code == 0);
  CHECK(Segments(dir.File("full")) == final_segments);
}

TEST_CASE("rebuild-shard adds a new category's shard, removes a vanished one, refuses an unknown") {
  TempDir dir;
  auto items = MakeItems(60);
  auto index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", dir.Write("c1.jsonl", ToJsonl(items)), "--index", index})
              .exit_code == 0);

  auto added = items;
  added.push_back({"G1", "Garden", "rake"});
  auto c2 = dir.Write("c2.jsonl", ToJsonl(added));
  std::string garden = ShardOf(added.back());
  RunResult r = Pidx({"rebuild-shard", garden, "--catalog", c2, "--index", index, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["action"] == "added");
  CHECK(Segments(index).count(garden) == 1);

  auto c3 = dir.Write("c3.jsonl", ToJsonl(items));  // Garden gone again
  // Removing the shard loses the whole category: the guard of build refuses it...
  r = Pidx({"rebuild-shard", garden, "--catalog", c3, "--index", index, "--json"});
  CHECK(r.exit_code == 65);
  CHECK(r.Events("index.publish.refused").size() == 1);
  CHECK(Segments(index).count(garden) == 1);
  // ...unless the operator says the shrink is meant.
  r = Pidx(
      {"rebuild-shard", garden, "--catalog", c3, "--index", index, "--json", "--allow-shrink"});
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["action"] == "removed");
  CHECK(r.Events("index.rebuild.completed")[0]["action"] == "removed");
  CHECK(Segments(index).count(garden) == 0);

  r = Pidx({"rebuild-shard", "bookz_001", "--catalog", c3, "--index", index});
  CHECK(r.exit_code == 66);
  CHECK(r.err.find("closest: books_") != std::string::npos);
  CHECK(Pidx({"rebuild-shard", "not-a-shard", "--catalog", c3, "--index", index}).exit_code == 64);
  CHECK(Pidx({"rebuild-shard", "books_001", "--catalog", c3, "--index", dir.File("none")})
            .exit_code == 66);
}

TEST_CASE("rebuilding every shard one by one gives the segments of a full build") {
  TempDir dir;
  auto items = MakeItems(120);
  auto index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", dir.Write("c1.jsonl", ToJsonl(items)), "--index", index})
              .exit_code == 0);
  for (auto& i : items) i.title += " v2";
  auto c2 = dir.Write("c2.jsonl", ToJsonl(items));
  for (const auto& [shard, seg] : Segments(index)) {
    REQUIRE(Pidx({"rebuild-shard", shard, "--catalog", c2, "--index", index}).exit_code == 0);
  }
  REQUIRE(Pidx({"build", "--catalog", c2, "--index", dir.File("full")}).exit_code == 0);
  CHECK(Segments(index) == Segments(dir.File("full")));
}
