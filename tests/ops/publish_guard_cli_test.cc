// End-to-end: the one publish path (issue 13). rebuild-shard refuses what build refuses, the
// catalog gate checks what is served, the recall gate needs something to measure, a signal
// stops a command waiting for the publish lock, and a rotted segment is repaired by a rebuild.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "pidx/analysis/analyzer.h"
#include "pidx/shard/ingest.h"
#include "support/damage.h"
#include "support/products.h"
#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::FlipByte;
using pidx::testing::Item;
using pidx::testing::Pidx;
using pidx::testing::PidxBin;
using pidx::testing::ReadFile;
using pidx::testing::RunResult;
using pidx::testing::ShardOf;
using pidx::testing::TempDir;
using pidx::testing::ToJsonl;
namespace fs = std::filesystem;

namespace {

// 600 products in three categories: about 25 per shard, so one product is a small change.
std::vector<Item> MakeItems(int n = 600) {
  return pidx::testing::NumberedItems(n, {"Books", "Toys", "Garden"});
}

std::string Build(const TempDir& dir, const std::string& name, const std::vector<Item>& items,
                  const std::string& index, const std::vector<std::string>& extra = {}) {
  const std::string catalog = dir.Write(name, ToJsonl(items));
  std::vector<std::string> args = {"build", "--catalog", catalog, "--index", index};
  args.insert(args.end(), extra.begin(), extra.end());
  RunResult r = Pidx(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return catalog;
}

int VerifyExit(const std::string& index) {
  RunResult r = Pidx({"verify", "--index", index, "--all-versions"});
  INFO(r.out << r.err);
  return r.exit_code;
}

size_t Manifests(const std::string& index) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(index + "/versions")) {
    n += e.path().extension() == ".manifest";
  }
  return n;
}

std::string SegmentOf(const std::string& index, const std::string& shard) {
  for (const auto& e : fs::directory_iterator(index + "/segments")) {
    const std::string name = e.path().filename().string();
    if (name.rfind(shard + "-", 0) == 0) return e.path().string();
  }
  FAIL("no segment for " << shard);
  return "";
}

}  // namespace

TEST_CASE("rebuild-shard with an empty catalog exits 65 and keeps the shard") {
  TempDir dir;
  const std::string index = dir.File("idx");
  auto items = MakeItems();
  Build(dir, "c1.jsonl", items, index);
  const std::string before = ReadFile(index + "/CURRENT");
  const std::string empty = dir.Write("empty.jsonl", "");
  RunResult r = Pidx({"rebuild-shard", ShardOf(items[0]), "--catalog", empty, "--index", index});
  CHECK(r.exit_code == 65);
  REQUIRE(r.Events("index.publish.refused").size() == 1);
  CHECK(r.Events("index.publish.refused")[0]["reason"] == "the catalog has no products");
  CHECK(r.Events("index.rebuild.failed").size() == 1);
  // Not even --allow-shrink makes an empty catalog a version.
  CHECK(Pidx({"rebuild-shard", ShardOf(items[0]), "--catalog", empty, "--index", index,
              "--allow-shrink"})
            .exit_code == 65);
  CHECK(ReadFile(index + "/CURRENT") == before);
  CHECK(Manifests(index) == 1);
}

TEST_CASE("rebuild-shard applies the shrink guard to its shard") {
  TempDir dir;
  const std::string index = dir.File("idx");
  auto items = MakeItems();
  // Eight shards per category, so that one shard is a few percent of the index.
  Build(dir, "c1.jsonl", items, index, {"--shards-per-category", "8"});
  const std::string shard = ShardOf(items[0], 8);
  // Keep one product of the shard: a few percent of the index, nearly all of the shard.
  std::vector<Item> shrunk;
  bool kept = false;
  for (const auto& i : items) {
    if (ShardOf(i, 8) != shard || !kept) shrunk.push_back(i);
    if (ShardOf(i, 8) == shard) kept = true;
  }
  const std::string c2 = dir.Write("c2.jsonl", ToJsonl(shrunk));
  RunResult r = Pidx({"rebuild-shard", shard, "--catalog", c2, "--index", index});
  CHECK(r.exit_code == 65);
  REQUIRE(r.Events("index.publish.refused").size() == 1);
  CHECK(r.Events("index.publish.refused")[0]["shard"] == shard);
  CHECK(r.Events("index.publish.refused")[0]["docs"] == 1);
  CHECK(Manifests(index) == 1);
  r = Pidx({"rebuild-shard", shard, "--catalog", c2, "--index", index, "--allow-shrink"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(VerifyExit(index) == 0);
}

TEST_CASE("rebuild-shard of a moved product's new shard exits 65 naming the id and its old shard") {
  TempDir dir;
  const std::string index = dir.File("idx");
  auto items = MakeItems();
  Build(dir, "c1.jsonl", items, index);
  const std::string old_shard = ShardOf(items[0]);
  items[0].category = "Toys";  // P0 moves from Books
  const std::string new_shard = ShardOf(items[0]);
  REQUIRE(old_shard != new_shard);
  const std::string c2 = dir.Write("c2.jsonl", ToJsonl(items));

  RunResult r = Pidx({"rebuild-shard", new_shard, "--catalog", c2, "--index", index});
  CHECK(r.exit_code == 65);
  REQUIRE(r.Events("index.publish.refused").size() == 1);
  const auto refused = r.Events("index.publish.refused")[0];
  CHECK(refused["doc"] == "P0");
  CHECK(refused["other_shard"] == old_shard);
  CHECK(refused["reason"].get<std::string>().find("P0") != std::string::npos);
  CHECK(Manifests(index) == 1);

  // The way out the message names: the old shard first, then the new one.
  r = Pidx({"rebuild-shard", old_shard, "--catalog", c2, "--index", index});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  r = Pidx({"rebuild-shard", new_shard, "--catalog", c2, "--index", index});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  RunResult v = Pidx({"verify", "--index", index, "--catalog", c2});
  INFO(v.out << v.err);
  CHECK(v.exit_code == 0);
}

TEST_CASE("verify --all-versions --catalog compares the catalog with CURRENT after a rollback") {
  TempDir dir;
  const std::string index = dir.File("idx");
  auto items = MakeItems();
  const std::string c1 = Build(dir, "c1.jsonl", items, index);
  for (auto& i : items) i.title = "changed " + i.title;
  const std::string c2 = Build(dir, "c2.jsonl", items, index);
  REQUIRE(Pidx({"rollback", "--index", index, "1"}).exit_code == 0);

  // CURRENT is v000001: the v000002 catalog must fail the gate, the v000001 one pass it.
  RunResult r = Pidx({"verify", "--index", index, "--all-versions", "--catalog", c2, "--json"});
  CHECK(r.exit_code == 1);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["catalog_version"] == "v000001");
  CHECK(j["versions_checked"].size() == 2);
  CHECK_FALSE(j["findings"].empty());
  for (const auto& f : j["findings"]) CHECK(f["version"] == "v000001");

  r = Pidx({"verify", "--index", index, "--all-versions", "--catalog", c1, "--json"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  j = nlohmann::json::parse(r.out);
  CHECK(j["catalog_version"] == "v000001");
  CHECK(j["versions_checked"].size() == 2);
}

TEST_CASE("recall with queries that expect no product exits 65 instead of passing") {
  TempDir dir;
  const std::string index = dir.File("idx");
  Build(dir, "c1.jsonl", MakeItems(), index);
  const std::string q = dir.Write("q.jsonl",
                                  "{\"query\": \"item\", \"expected\": []}\n"
                                  "{\"query\": \"number\", \"expected\": []}\n");
  RunResult r = Pidx({"recall", "--index", index, "--queries", q, "--min", "0.9", "--json"});
  CHECK(r.exit_code == 65);
  // No recall result: the one JSON error object (docs/CLI.md "JSON results").
  CHECK(nlohmann::json::parse(r.out)["ok"] == false);
  CHECK(nlohmann::json::parse(r.out).count("recall") == 0);
  REQUIRE(r.Events("index.recall.failed").size() == 1);
  CHECK(r.Events("index.recall.failed")[0]["error"].get<std::string>().find("q.jsonl:1:") !=
        std::string::npos);
  CHECK(r.Events("index.recall.completed").empty());
  const std::string blank = dir.Write("blank.jsonl", "\n\n");
  CHECK(Pidx({"recall", "--index", index, "--queries", blank}).exit_code == 65);
}

namespace {

// Holds locks/publish.lock in this process; SIGTERMs `args` while it waits for it.
RunResult TermWhileWaiting(const TempDir& dir, const std::string& index,
                           const std::vector<std::string>& args, int64_t* took_ms) {
  const int fd =
      ::open((index + "/locks/publish.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX) == 0);
  std::vector<std::string> a = args;
  a.insert(a.end(), {"--lock-timeout", "20s", "--log-format", "json"});
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = pidx::testing::Spawn(PidxBin(), a, dir.File("out"), dir.File("err"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ::kill(pid, SIGTERM);
  RunResult r;
  r.exit_code = pidx::testing::Wait(pid);
  *took_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  ::close(fd);  // the lock frees only now: an ignored signal would act after this
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  r.out = ReadFile(dir.File("out"));
  r.err = ReadFile(dir.File("err"));
  return r;
}

}  // namespace

TEST_CASE("rollback and gc that get SIGTERM while waiting for the publish lock exit 143") {
  TempDir dir;
  const std::string index = dir.File("idx");
  auto items = MakeItems();
  Build(dir, "c1.jsonl", items, index);
  items.push_back({"X1", "Books", "one more"});
  Build(dir, "c2.jsonl", items, index);
  const std::string current = ReadFile(index + "/CURRENT");

  int64_t took = 0;
  RunResult r = TermWhileWaiting(dir, index, {"rollback", "--index", index, "1"}, &took);
  INFO(r.err);
  CHECK(r.exit_code == 143);
  CHECK(took < 10000);
  CHECK(r.Events("index.rollback.failed").size() == 1);
  CHECK(r.Events("index.rollback.completed").empty());
  CHECK(ReadFile(index + "/CURRENT") == current);

  r = TermWhileWaiting(dir, index, {"gc", "--index", index, "--keep", "1", "--grace", "0"}, &took);
  INFO(r.err);
  CHECK(r.exit_code == 143);
  CHECK(took < 10000);
  CHECK(r.Events("index.gc.failed").size() == 1);
  CHECK(Manifests(index) == 2);
  CHECK(ReadFile(index + "/CURRENT") == current);
}

TEST_CASE("build and rebuild-shard repair a segment with a rotted byte") {
  TempDir dir;
  const std::string index = dir.File("idx");
  auto items = MakeItems();
  const std::string catalog = Build(dir, "c1.jsonl", items, index);
  const std::string shard = ShardOf(items[0]);
  const std::string seg = SegmentOf(index, shard);
  FlipByte(seg, fs::file_size(seg) / 2);
  REQUIRE(VerifyExit(index) == 1);

  RunResult r = Pidx({"rebuild-shard", shard, "--catalog", catalog, "--index", index});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.Events("segment.replaced").size() == 1);
  CHECK(r.Events("segment.replaced")[0]["shard"] == shard);
  CHECK(VerifyExit(index) == 0);  // every version naming the file is whole again

  // The same through a full build, for another shard.
  const std::string shard2 = ShardOf(items[1]);
  REQUIRE(shard2 != shard);
  FlipByte(SegmentOf(index, shard2), 100);
  r = Pidx({"build", "--catalog", catalog, "--index", index});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.Events("segment.replaced").size() == 1);
  CHECK(VerifyExit(index) == 0);
}

TEST_CASE("a build with CURRENT missing applies the guard against the newest version") {
  TempDir dir;
  const std::string index = dir.File("idx");
  Build(dir, "c1.jsonl", MakeItems(), index);
  fs::remove(index + "/CURRENT");
  const std::string one = dir.Write("one.jsonl", ToJsonl({{"P1", "Books", "alone"}}));
  RunResult r = Pidx({"build", "--catalog", one, "--index", index});
  CHECK(r.exit_code == 65);
  CHECK(r.Events("index.publish.no_current").size() == 1);
  REQUIRE(r.Events("index.publish.refused").size() == 1);
  CHECK(r.Events("index.publish.refused")[0]["current_docs"] == 600);
  CHECK(Manifests(index) == 1);
  CHECK_FALSE(fs::exists(index + "/CURRENT"));
  // A catalog the guard accepts publishes after the newest version, with it as parent.
  r = Pidx({"build", "--catalog", dir.File("c1.jsonl"), "--index", index, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["version"] == "v000002");
  CHECK(j["parent"] == "v000001");
}
