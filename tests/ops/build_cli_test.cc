// End-to-end: `pidx build` as a user runs it, on real files in a temp directory.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>

#include "support/index_files.h"
#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::CurrentOf;
using pidx::testing::GenCatalog;
using pidx::testing::Pidx;
using pidx::testing::ReadFile;
using pidx::testing::RunResult;
using pidx::testing::TempDir;
using pidx::testing::TempFilesIn;
namespace fs = std::filesystem;

namespace {

std::string Jsonl(int n, int first = 0) {
  std::string s;
  for (int i = first; i < first + n; ++i) {
    s += "{\"id\":\"P" + std::to_string(i) + "\",\"category\":\"Books\",\"title\":\"book number " +
         std::to_string(i) + "\"}\n";
  }
  return s;
}

}  // namespace

TEST_CASE("build publishes v000001 with every product and a checksummed CURRENT") {
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 2000, 7);
  auto index = dir.File("idx");
  RunResult r = Pidx({"build", "--catalog", catalog, "--index", index, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["schema_version"] == 2);
  CHECK(j["version"] == "v000001");
  CHECK(j["docs"] == 2000);
  CHECK(j["shard_count"].get<int>() > 8);
  const std::string current = ReadFile(index + "/CURRENT");  // the whole file, checksum line too
  CHECK(current.rfind("v000001\n", 0) == 0);
  CHECK(current.size() == 8 + 17);
  CHECK(fs::exists(index + "/versions/v000001.manifest"));
  CHECK(TempFilesIn(index).empty());
}

TEST_CASE("building the same catalog twice gives byte-identical segments") {
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 1500, 3);
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", dir.File("a")}).exit_code == 0);
  REQUIRE(
      Pidx({"build", "--catalog", catalog, "--index", dir.File("b"), "--threads", "1"}).exit_code ==
      0);
  std::vector<std::string> a, b;
  for (const auto& e : fs::directory_iterator(dir.File("a/segments")))
    a.push_back(e.path().filename());
  for (const auto& e : fs::directory_iterator(dir.File("b/segments")))
    b.push_back(e.path().filename());
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  REQUIRE(!a.empty());
  REQUIRE(a == b);
  for (const auto& name : a) {
    CHECK(ReadFile(dir.File("a/segments/" + name)) == ReadFile(dir.File("b/segments/" + name)));
  }
}

TEST_CASE("a rebuild of an unchanged catalog reuses every segment file") {
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 800, 5);
  auto index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  // --force: without it nothing is published (tests/ops/honest_results_cli_test.cc).
  RunResult r = Pidx({"build", "--catalog", catalog, "--index", index, "--json", "--force"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["version"] == "v000002");
  CHECK(j["parent"] == "v000001");
  CHECK(j["segments_written"] == 0);
}

TEST_CASE("a bad line fails the build with exit 65 naming file:line, CURRENT unchanged") {
  TempDir dir;
  auto index = dir.File("idx");
  auto good = dir.Write("good.jsonl", Jsonl(20));
  REQUIRE(Pidx({"build", "--catalog", good, "--index", index}).exit_code == 0);
  const std::string before = CurrentOf(index);

  std::string text = Jsonl(6) + "{\"id\":\"X\",\"title\":\"no category\"}\n" + Jsonl(20, 6);
  auto bad = dir.Write("bad.jsonl", text);
  RunResult r = Pidx({"build", "--catalog", bad, "--index", index});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("bad.jsonl:7") != std::string::npos);
  CHECK(r.err.find("category") != std::string::npos);
  CHECK(r.Events("index.build.failed").size() == 1);
  CHECK(CurrentOf(index) == before);
  CHECK(!fs::exists(index + "/versions/v000002.manifest"));

  SECTION("with --max-bad-lines 1 the line is skipped, logged and counted") {
    RunResult ok =
        Pidx({"build", "--catalog", bad, "--index", index, "--max-bad-lines", "1", "--json"});
    INFO(ok.err);
    REQUIRE(ok.exit_code == 0);
    auto skipped = ok.Events("catalog.record.skipped");
    REQUIRE(skipped.size() == 1);
    CHECK(skipped[0]["msg"].get<std::string>().find("bad.jsonl:7") != std::string::npos);
    auto j = nlohmann::json::parse(ok.out);
    CHECK(j["bad_lines_skipped"] == 1);
    CHECK(j["docs"] == 26);
    CHECK(ReadFile(index + "/versions/v000002.manifest").find("\"bad_lines_skipped\": 1") !=
          std::string::npos);
  }
}

TEST_CASE("a duplicate id is bad data naming both places") {
  TempDir dir;
  auto bad = dir.Write("dup.jsonl", Jsonl(3) + Jsonl(1, 1));
  RunResult r = Pidx({"build", "--catalog", bad, "--index", dir.File("idx")});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("dup.jsonl:4: duplicate id \\\"P1\\\" (first seen at") != std::string::npos);
  // The id check keeps only hashes; a hit re-reads the catalog for the first occurrence.
  CHECK(r.err.find("dup.jsonl:2)") != std::string::npos);
  CHECK(!fs::exists(dir.File("idx/CURRENT")));
}

TEST_CASE("the publishing guard refuses an empty catalog and a large shrink") {
  TempDir dir;
  auto index = dir.File("idx");
  auto empty = dir.Write("empty.jsonl", "");
  RunResult r = Pidx({"build", "--catalog", empty, "--index", index});
  CHECK(r.exit_code == 65);
  CHECK(r.Events("index.publish.refused").size() == 1);
  CHECK(!fs::exists(index + "/CURRENT"));

  REQUIRE(Pidx({"build", "--catalog", dir.Write("big.jsonl", Jsonl(100)), "--index", index})
              .exit_code == 0);
  auto small = dir.Write("small.jsonl", Jsonl(50));
  r = Pidx({"build", "--catalog", small, "--index", index});
  CHECK(r.exit_code == 65);
  auto refused = r.Events("index.publish.refused");
  REQUIRE(refused.size() == 1);
  CHECK(refused[0]["level"] == "error");
  CHECK(CurrentOf(index) == "v000001");

  CHECK(Pidx({"build", "--catalog", small, "--index", index, "--max-shrink", "0.6"}).exit_code ==
        0);
  auto other = dir.Write("other.jsonl",
                         "{\"id\":\"Q\",\"category\":\"Toys\",\"title\":\"t\"}\n" + Jsonl(50));
  r = Pidx({"build", "--catalog", dir.Write("toys.jsonl", "{\"id\":\"Q\",\"category\":\"Toys\"}\n"),
            "--index", index, "--max-shrink", "1"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("categories would disappear: Books") != std::string::npos);
  CHECK(Pidx({"build", "--catalog", other, "--index", index, "--allow-shrink"}).exit_code == 0);
}

TEST_CASE("usage, missing input and bad settings map to 64, 66 and 78") {
  TempDir dir;
  CHECK(Pidx({"build", "--no-such-flag"}).exit_code == 64);
  CHECK(Pidx({"frobnicate"}).exit_code == 64);
  CHECK(Pidx({"build", "--catalog", dir.File("c.jsonl")}).exit_code == 64);  // no --index
  RunResult missing =
      Pidx({"build", "--catalog", dir.File("nope.jsonl"), "--index", dir.File("i")});
  CHECK(missing.exit_code == 66);
  CHECK(missing.err.find("nope.jsonl") != std::string::npos);
  auto c = dir.Write("c.jsonl", Jsonl(5));
  CHECK(Pidx({"build", "--catalog", c, "--index", dir.File("i"), "--lock-timeout", "soon"})
            .exit_code == 64);
  CHECK(Pidx({"build", "--catalog", c, "--index", dir.File("i")},
             {.env = {{"PIDX_LOCK_TIMEOUT", "soon"}}})
            .exit_code == 78);
  CHECK(Pidx({"build", "--catalog", c, "--index", dir.File("i")},
             {.env = {{"PIDX_SHARDS_PER_CATEGORY", "many"}}})
            .exit_code == 78);
  auto schema = dir.Write("schema.json", "{\"fields\": 3}");
  CHECK(Pidx({"build", "--catalog", c, "--index", dir.File("i"), "--schema", schema}).exit_code ==
        78);
}

TEST_CASE("options come from PIDX_* variables, and a flag wins over the environment") {
  TempDir dir;
  auto c = dir.Write("c.jsonl", Jsonl(30));
  RunResult r = Pidx({"build", "--json"}, {.env = {{"PIDX_INDEX", dir.File("env-idx")},
                                                   {"PIDX_CATALOG", c},
                                                   {"PIDX_SHARDS_PER_CATEGORY", "2"}}});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["shard_count"].get<int>() <= 2);
  r = Pidx({"build", "--json", "--shards-per-category", "1"},
           {.env = {{"PIDX_INDEX", dir.File("env-idx2")},
                    {"PIDX_CATALOG", c},
                    {"PIDX_SHARDS_PER_CATEGORY", "4"}}});
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["shard_count"] == 1);
}

TEST_CASE("build reads standard input, CSV, TSV and compressed catalogs") {
  TempDir dir;
  RunResult r =
      Pidx({"build", "--catalog", "-", "--format", "jsonl", "--index", dir.File("stdin"), "--json"},
           {.stdin_data = Jsonl(12)});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["docs"] == 12);

  auto csv = dir.Write(
      "c.csv", "id,category,title,tags\nA1,Books,\"Dune, part 1\",scifi|classic\nA2,Books,Emma,\n");
  r = Pidx({"build", "--catalog", csv, "--index", dir.File("csv"), "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["docs"] == 2);

  auto tsv = dir.Write("c.tsv", "id\tcategory\ttitle\nT1\tToys\tYo-yo\n");
  r = Pidx({"build", "--catalog", tsv, "--index", dir.File("tsv"), "--json"});
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["docs"] == 1);

  auto gz = dir.Write("c.jsonl", Jsonl(40));
  REQUIRE(std::system(("gzip -k " + gz + " && zstd -q " + gz).c_str()) == 0);
  for (const char* name : {"c.jsonl.gz", "c.jsonl.zst"}) {
    r = Pidx({"build", "--catalog", dir.File(name), "--index", dir.File(std::string("z-") + name),
              "--json"});
    INFO(name << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(nlohmann::json::parse(r.out)["docs"] == 40);
  }
}

TEST_CASE("a held publish lock makes build exit 75 with lock.timeout, nothing published") {
  TempDir dir;
  auto index = dir.File("idx");
  auto c = dir.Write("c.jsonl", Jsonl(10));
  REQUIRE(Pidx({"build", "--catalog", c, "--index", index}).exit_code == 0);
  const std::string before = CurrentOf(index);
  pid_t holder =
      pidx::testing::Spawn("/usr/bin/flock", {"-o", index + "/locks/publish.lock", "sleep", "30"},
                           dir.File("h.out"), dir.File("h.err"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto t0 = std::chrono::steady_clock::now();
  RunResult r = Pidx({"build", "--catalog", c, "--index", index, "--lock-timeout", "1s"});
  auto waited = std::chrono::steady_clock::now() - t0;
  kill(holder, SIGKILL);
  pidx::testing::Wait(holder);
  CHECK(r.exit_code == 75);
  auto timeouts = r.Events("lock.timeout");
  REQUIRE(timeouts.size() == 1);
  CHECK(timeouts[0]["level"] == "error");
  CHECK(timeouts[0]["lock"] == "publish");
  CHECK(timeouts[0]["waited_ms"].get<int>() >= 1000);
  CHECK(r.Events("index.build.failed").size() == 1);
  CHECK(waited < std::chrono::seconds(20));
  CHECK(CurrentOf(index) == before);
  CHECK(TempFilesIn(index).empty());
  // The holder died: the lock is free at once.
  CHECK(Pidx({"build", "--catalog", c, "--index", index, "--lock-timeout", "0"}).exit_code == 0);
}

TEST_CASE("a build killed with SIGKILL leaves the previous version current and readable") {
  TempDir dir;
  auto index = dir.File("idx");
  auto small = dir.Write("small.jsonl", Jsonl(50));
  REQUIRE(Pidx({"build", "--catalog", small, "--index", index}).exit_code == 0);
  const std::string before = CurrentOf(index);
  auto big = GenCatalog(dir.File("big.jsonl"), 40000, 11);
  for (int delay_ms : {50, 200, 400}) {
    pid_t pid =
        pidx::testing::Spawn(pidx::testing::PidxBin(),
                             {"build", "--catalog", big, "--index", index, "--log-format", "json"},
                             dir.File("k.out"), dir.File("k.err"));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    int code = pidx::testing::Wait(pid);
    if (code == 0) continue;  // finished first: nothing to check for this delay
    CHECK(code == 128 + SIGKILL);
    CHECK(CurrentOf(index) == before);
    CHECK(Pidx({"stats", "--index", index}).exit_code == 0);
  }
  RunResult r = Pidx({"build", "--catalog", big, "--index", index, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["docs"] == 40000);
  CHECK(TempFilesIn(index).empty());
}

TEST_CASE("SIGTERM during a build publishes nothing and exits 143") {
  TempDir dir;
  auto index = dir.File("idx");
  auto big = GenCatalog(dir.File("big.jsonl"), 60000, 13);
  pid_t pid =
      pidx::testing::Spawn(pidx::testing::PidxBin(),
                           {"build", "--catalog", big, "--index", index, "--log-format", "json"},
                           dir.File("t.out"), dir.File("t.err"));
  // The signal goes once the build has said it started (its handlers are in place by then): a
  // fixed delay could land before main under a loaded sanitizer run, where the default action
  // kills the process without a word.
  auto started = [&] {
    const std::string err = dir.File("t.err");
    return fs::exists(err) && ReadFile(err).find("index.build.started") != std::string::npos;
  };
  for (int i = 0; i < 1000 && !started(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  kill(pid, SIGTERM);
  int code = pidx::testing::Wait(pid);
  if (code != 0) {
    CHECK(code == 143);
    CHECK(!fs::exists(index + "/CURRENT"));
    // A first build that fails removes the directory it created (issue 18), or leaves it
    // without temporaries.
    CHECK((!fs::exists(index) || TempFilesIn(index).empty()));
    CHECK(ReadFile(dir.File("t.err")).find("index.build.failed") != std::string::npos);
  }
}

TEST_CASE("a memory budget that forces many spills gives byte-identical segments") {
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 3000, 11);
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", dir.File("a")}).exit_code == 0);
  RunResult r = Pidx({"build", "--catalog", catalog, "--index", dir.File("b"), "--memory-budget",
                      "256K", "--log-level", "info"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto spilled = r.Events("index.build.spilled");
  REQUIRE(spilled.size() == 1);
  CHECK(spilled[0]["spills"].get<int>() > 3);
  CHECK(TempFilesIn(dir.File("b")).empty());
  std::vector<std::string> a, b;
  for (const auto& e : fs::directory_iterator(dir.File("a/segments")))
    a.push_back(e.path().filename());
  for (const auto& e : fs::directory_iterator(dir.File("b/segments")))
    b.push_back(e.path().filename());
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  REQUIRE(!a.empty());
  REQUIRE(a == b);
  for (const auto& name : a) {
    CHECK(ReadFile(dir.File("a/segments/" + name)) == ReadFile(dir.File("b/segments/" + name)));
  }
  CHECK(Pidx({"verify", "--index", dir.File("b")}).exit_code == 0);
}

TEST_CASE("rebuild-shard under a memory budget that forces spills keeps the segment") {
  TempDir dir;
  auto catalog = dir.Write("c.jsonl", Jsonl(6000));  // one category: 8 shards of ~750
  auto index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  // The largest shard: directory order is arbitrary, and a small shard may spill only once.
  std::string shard;
  std::uintmax_t largest = 0;
  for (const auto& e : fs::directory_iterator(index + "/segments")) {
    std::string name = e.path().filename();
    if (e.file_size() <= largest) continue;
    largest = e.file_size();
    shard = name.substr(0, name.rfind('-'));
  }
  REQUIRE(!shard.empty());
  RunResult r = Pidx({"rebuild-shard", shard, "--catalog", catalog, "--index", index,
                      "--memory-budget", "96K", "--json", "--log-level", "info"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["segment_unchanged"] == true);
  auto spilled = r.Events("index.build.spilled");
  REQUIRE(spilled.size() == 1);
  CHECK(spilled[0]["spills"].get<int>() > 1);
  CHECK(TempFilesIn(index).empty());
}

TEST_CASE("a bad memory budget is a usage error") {
  TempDir dir;
  auto catalog = dir.Write("c.jsonl", Jsonl(3));
  RunResult r =
      Pidx({"build", "--catalog", catalog, "--index", dir.File("idx"), "--memory-budget", "lots"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("memory-budget") != std::string::npos);
}

TEST_CASE("a memory budget that spills thousands of times stays within 64 descriptors") {
  // Every spill used to be a file of its own, held open (and flocked) until the build ended:
  // --memory-budget 1 ran out of descriptors (exit 74).
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 2000, 5);
  const std::string cmd = "ulimit -n 64 && exec \"$0\" \"$@\"";
  RunResult r =
      pidx::testing::Run("/bin/sh", {"-c", cmd, pidx::testing::PidxBin(), "build", "--catalog",
                                     catalog, "--index", dir.File("idx"), "--memory-budget", "1",
                                     "--log-level", "info", "--log-format", "json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto spilled = r.Events("index.build.spilled");
  REQUIRE(spilled.size() == 1);
  CHECK(spilled[0]["spills"].get<int>() > 1000);
  CHECK(TempFilesIn(dir.File("idx")).empty());
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", dir.File("plain")}).exit_code == 0);
  for (const auto& e : fs::directory_iterator(dir.File("plain/segments"))) {
    CHECK(ReadFile(e.path()) == ReadFile(dir.File("idx/segments/") + e.path().filename().string()));
  }
}
