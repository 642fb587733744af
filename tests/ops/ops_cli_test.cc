// End-to-end: operating an index. The recall gate, versions, rollback and gc on real index
// directories, run through the real binary.
#include <filesystem>
#include <fstream>
#include <set>

#include <catch2/catch.hpp>

#include "support/damage.h"
#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::FlipByte;
using pidx::testing::GenCatalog;
using pidx::testing::Pidx;
using pidx::testing::ReadFile;
using pidx::testing::RunResult;
using pidx::testing::TempDir;
namespace fs = std::filesystem;

namespace {

nlohmann::json JsonOf(const RunResult& r) {
  INFO(r.err);
  return nlohmann::json::parse(r.out);
}

// The manifest's JSON (the file ends with a checksum line).
nlohmann::json Manifest(const std::string& index, int version) {
  char name[32];
  std::snprintf(name, sizeof name, "/versions/v%06d.manifest", version);
  std::string text = ReadFile(index + name);
  text.resize(text.rfind("xxh3 "));
  return nlohmann::json::parse(text);
}

std::set<std::string> Segments(const nlohmann::json& manifest) {
  std::set<std::string> out;
  for (const auto& s : manifest["shards"]) out.insert(s["segment"].get<std::string>());
  return out;
}

std::set<std::string> Files(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    out.insert(fs::relative(e.path(), dir).string());
  }
  return out;
}

// Builds `versions` versions, each from a catalog with another seed.
std::string BuildVersions(const TempDir& dir, int versions, int products = 200) {
  const std::string index = dir.File("idx");
  for (int v = 1; v <= versions; ++v) {
    const std::string catalog =
        GenCatalog(dir.File("c" + std::to_string(v) + ".jsonl"), products, 100 + v);
    RunResult r = Pidx({"build", "--catalog", catalog, "--index", index, "--allow-shrink"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  return index;
}

}  // namespace

TEST_CASE("recall of the generator's query set is 1.0 on an intact index") {
  TempDir dir;
  const std::string queries = dir.File("q.jsonl");
  const std::string catalog =
      GenCatalog(dir.File("c.jsonl"), 1000, 3, {"--queries", queries, "--query-count", "40"});
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  RunResult r = Pidx({"recall", "--index", index, "--queries", queries, "--min", "0.99", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = JsonOf(r);
  CHECK(j["recall"] == 1.0);
  CHECK(j["ok"] == true);
  CHECK(j["queries"].size() > 10);
  CHECK(j["expected_count"].get<int>() > 0);
  CHECK(j["found_count"] == j["expected_count"]);
  REQUIRE(r.Events("index.recall.completed").size() == 1);
  CHECK(r.Events("index.recall.completed")[0]["recall"] == 1.0);
}

TEST_CASE("recall drops below 1.0 and --min 0.99 exits 1 when a shard's segment is gone") {
  TempDir dir;
  const std::string queries = dir.File("q.jsonl");
  const std::string catalog =
      GenCatalog(dir.File("c.jsonl"), 1000, 3, {"--queries", queries, "--query-count", "40"});
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  // Damage a copy, as an operator would test a gate without touching the serving index.
  const std::string copy = dir.File("copy");
  fs::copy(index, copy, fs::copy_options::recursive);
  auto stats = nlohmann::json::parse(Pidx({"stats", "--index", copy, "--json"}).out);
  std::string biggest;
  int docs = -1;
  for (const auto& s : stats["shards"]) {
    if (s["docs"].get<int>() > docs) {
      docs = s["docs"].get<int>();
      biggest = s["segment"].get<std::string>();
    }
  }
  fs::remove(copy + "/segments/" + biggest);

  RunResult r = Pidx({"recall", "--index", copy, "--queries", queries, "--min", "0.99", "--json"});
  CHECK(r.exit_code == 1);
  auto j = JsonOf(r);
  CHECK(j["recall"].get<double>() < 1.0);
  CHECK(j["ok"] == false);
  CHECK(j["unavailable_shards"].size() == 1);
  CHECK(r.Events("index.query.shard_unavailable").size() == 1);
  REQUIRE(r.Events("index.recall.completed").size() == 1);
  CHECK(r.Events("index.recall.completed")[0]["level"] == "error");

  // The intact original still passes.
  CHECK(Pidx({"recall", "--index", index, "--queries", queries, "--min", "0.99"}).exit_code == 0);
}

TEST_CASE("recall names the line of a malformed query set and exits 65") {
  TempDir dir;
  const std::string catalog = GenCatalog(dir.File("c.jsonl"), 50, 3);
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  const std::string q =
      dir.Write("q.jsonl", "{\"query\": \"usb\", \"expected\": [\"SKU-0000001\"]}\n\n{oops\n");
  RunResult r = Pidx({"recall", "--index", index, "--queries", q});
  CHECK(r.exit_code == 65);
  REQUIRE(r.Events("index.recall.failed").size() == 1);
  CHECK(r.Events("index.recall.failed")[0]["error"].get<std::string>().find("q.jsonl:3:") !=
        std::string::npos);
  const std::string bad = dir.Write("bad.jsonl", "{\"query\": \"(usb\", \"expected\": [\"X\"]}\n");
  CHECK(Pidx({"recall", "--index", index, "--queries", bad}).exit_code == 65);
}

TEST_CASE("versions lists every version with the current one marked") {
  TempDir dir;
  const std::string index = BuildVersions(dir, 2);
  RunResult r = Pidx({"versions", "--index", index, "--json"});
  REQUIRE(r.exit_code == 0);
  auto j = JsonOf(r);
  CHECK(j["current"] == "v000002");
  REQUIRE(j["versions"].size() == 2);
  CHECK(j["versions"][0]["is_current"] == false);
  CHECK(j["versions"][1]["is_current"] == true);
  CHECK(j["versions"][1]["parent"] == "v000001");
  CHECK(j["versions"][1]["operation"] == "build");
  CHECK(j["versions"][1]["docs"] == 200);
  CHECK(j["versions"][1]["bytes"].get<int>() > 0);
}

TEST_CASE("rollback to an older version makes it current and it verifies") {
  TempDir dir;
  const std::string index = BuildVersions(dir, 2);
  RunResult r = Pidx({"rollback", "--index", index, "v000001", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(JsonOf(r)["previous"] == "v000002");
  REQUIRE(r.Events("index.rollback.completed").size() == 1);
  CHECK(r.Events("index.rollback.completed")[0]["version"] == "v000001");
  CHECK(ReadFile(index + "/CURRENT").rfind("v000001\n", 0) == 0);
  CHECK(Pidx({"verify", "--index", index}).exit_code == 0);
  // Queries now answer from v1's catalog.
  auto q = JsonOf(Pidx({"query", "--index", index, "--json", "--count", "--log-format", "json",
                        "--", "-zzzznotaword"}));
  CHECK(q["version"] == "v000001");
  CHECK(q["total"] == 200);
  // A later build numbers after the highest version, never reusing v000002.
  const std::string c3 = GenCatalog(dir.File("c3.jsonl"), 200, 103);
  REQUIRE(Pidx({"build", "--catalog", c3, "--index", index, "--allow-shrink"}).exit_code == 0);
  CHECK(ReadFile(index + "/CURRENT").rfind("v000003\n", 0) == 0);
}

TEST_CASE("rollback to a damaged version is refused with exit 1 and CURRENT unchanged") {
  TempDir dir;
  const std::string index = BuildVersions(dir, 2);
  const auto v1 = Segments(Manifest(index, 1));
  const auto v2 = Segments(Manifest(index, 2));
  std::string only_v1;
  for (const auto& s : v1) {
    if (v2.count(s) == 0) only_v1 = s;
  }
  REQUIRE(!only_v1.empty());
  FlipByte(index + "/segments/" + only_v1, 40);
  const std::string before = ReadFile(index + "/CURRENT");

  RunResult r = Pidx({"rollback", "--index", index, "1"});
  CHECK(r.exit_code == 1);
  REQUIRE(r.Events("index.rollback.failed").size() == 1);
  CHECK(r.Events("index.rollback.failed")[0]["error"].get<std::string>().find("damaged") !=
        std::string::npos);
  CHECK(r.Events("index.rollback.completed").empty());
  CHECK(ReadFile(index + "/CURRENT") == before);

  CHECK(Pidx({"rollback", "--index", index, "v000009"}).exit_code == 66);
  CHECK(ReadFile(index + "/CURRENT") == before);
}

TEST_CASE("gc --dry-run removes nothing and lists what gc would remove") {
  TempDir dir;
  const std::string index = BuildVersions(dir, 3);
  const auto before = Files(index);
  RunResult r =
      Pidx({"gc", "--index", index, "--keep", "1", "--grace", "0", "--dry-run", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = JsonOf(r);
  CHECK(j["dry_run"] == true);
  CHECK(j["bytes_freed"].get<int>() > 0);
  int versions = 0;
  for (const auto& x : j["removed"]) versions += x["kind"] == "version";
  CHECK(versions == 2);
  CHECK(Files(index) == before);
}

TEST_CASE("gc keeps exactly N versions, every one still verifies, no referenced segment goes") {
  TempDir dir;
  const std::string index = BuildVersions(dir, 4);
  // A dead writer's temporary (nobody holds its flock) is swept too.
  const std::string stale = dir.Write("idx/segments/.tmp-999999-0123456789abcdef-x.seg", "partial");

  // Default grace: the segments of v1 and v2 were written just now, so they stay.
  RunResult young = Pidx({"gc", "--index", index, "--keep", "2", "--json"});
  INFO(young.err);
  REQUIRE(young.exit_code == 0);
  auto jy = JsonOf(young);
  CHECK(jy["kept"] == nlohmann::json::array({"v000003", "v000004"}));
  CHECK(!jy["young_segments"].empty());
  CHECK(!fs::exists(stale));
  CHECK(!fs::exists(index + "/versions/v000001.manifest"));

  RunResult r = Pidx({"gc", "--index", index, "--keep", "2", "--grace", "0", "--json"});
  REQUIRE(r.exit_code == 0);
  auto j = JsonOf(r);
  CHECK(j["young_segments"].empty());
  CHECK(j["bytes_freed"].get<int>() > 0);
  REQUIRE(r.Events("index.gc.completed").size() == 1);

  auto versions = JsonOf(Pidx({"versions", "--index", index, "--json"}));
  REQUIRE(versions["versions"].size() == 2);
  std::set<std::string> referenced;
  for (int v : {3, 4}) {
    for (const auto& s : Segments(Manifest(index, v))) referenced.insert(s);
  }
  std::set<std::string> on_disk;
  for (const auto& e : fs::directory_iterator(index + "/segments")) {
    on_disk.insert(e.path().filename().string());
  }
  CHECK(on_disk == referenced);
  RunResult verify = Pidx({"verify", "--index", index, "--all-versions"});
  INFO(verify.err);
  CHECK(verify.exit_code == 0);
}

TEST_CASE("gc never removes the current version or a protected one") {
  TempDir dir;
  const std::string index = BuildVersions(dir, 4);
  REQUIRE(Pidx({"rollback", "--index", index, "v000002"}).exit_code == 0);
  RunResult r = Pidx(
      {"gc", "--index", index, "--keep", "1", "--protect", "v000001", "--grace", "0", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(JsonOf(r)["kept"] == nlohmann::json::array({"v000001", "v000002", "v000004"}));
  CHECK(!fs::exists(index + "/versions/v000003.manifest"));
  CHECK(Pidx({"verify", "--index", index, "--all-versions"}).exit_code == 0);
  CHECK(Pidx({"gc", "--index", index, "--keep", "0"}).exit_code == 64);
  CHECK(Pidx({"gc", "--index", index, "--keep", "1", "--protect", "v000003"}).exit_code == 66);
}
