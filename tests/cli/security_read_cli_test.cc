// End-to-end: an index (or stage) edited by an attacker, with every checksum recomputed as an
// attacker can (issue 14, the reading side; docs/SECURITY.md, "Reading an index"). Names from
// disk are validated before use, a segment is opened only from its manifest entry and checked
// against it, a non-regular file is damage (never a hang), deep JSON is refused (never a
// crash), and verify proves the facts a manifest states.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "pidx/base/checksum.h"
#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::GenCatalog;
using pidx::testing::Pidx;
using pidx::testing::PidxBin;
using pidx::testing::ReadFile;
using pidx::testing::Run;
using pidx::testing::RunOptions;
using pidx::testing::RunResult;
using pidx::testing::TempDir;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  REQUIRE(out.good());
}

// A manifest, plan or fragment body with its checksum line, as pidx writes them.
std::string WithChecksum(const std::string& body) {
  return body + "xxh3 " + pidx::Hex64(pidx::Xxh3(body)) + "\n";
}

json ReadChecked(const std::string& path) {
  std::string text = ReadFile(path);
  return json::parse(text.substr(0, text.rfind("xxh3 ")));
}

void WriteChecked(const std::string& path, const json& j) {
  WriteBytes(path, WithChecksum(j.dump(1) + "\n"));
}

// `field` of the JSON replaced by `raw` (any text, e.g. nesting no JSON library can dump).
void WriteCheckedWithRaw(const std::string& path, json j, const std::string& field,
                         const std::string& raw) {
  j[field] = "@@RAW@@";
  std::string body = j.dump(1) + "\n";
  body.replace(body.find("\"@@RAW@@\""), 9, raw);
  WriteBytes(path, WithChecksum(body));
}

std::string Deep(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

struct Index {
  TempDir dir;
  std::string catalog, index, manifest;
  json m;
  explicit Index(int products = 300, int seed = 3) {
    catalog = GenCatalog(dir.File("c.jsonl"), products, seed);
    index = dir.File("idx");
    RunResult r = Pidx({"build", "--catalog", catalog, "--index", index});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    manifest = index + "/versions/v000001.manifest";
    m = ReadChecked(manifest);
    REQUIRE(m["shards"].size() >= 2);
  }
  std::string Segment(size_t i) const {
    return index + "/segments/" + m["shards"][i]["segment"].get<std::string>();
  }
};

// pidx under `timeout -s KILL`: a reader that blocks for ever on a planted FIFO fails the test
// with 137 instead of hanging the suite.
RunResult PidxWithin(int seconds, std::vector<std::string> args) {
  if (std::find(args.begin(), args.end(), "--log-format") == args.end()) {
    args.push_back("--log-format");
    args.push_back("json");
  }
  args.insert(args.begin(), {"-s", "KILL", std::to_string(seconds), PidxBin()});
  RunOptions o;
  o.json_logs = false;
  return Run("/usr/bin/timeout", args, o);
}

std::string FailureText(const RunResult& r) {
  std::string s;
  for (const auto& e : r.Events()) {
    if (e.value("level", "") == "error") s += e.dump() + "\n";
  }
  return s;
}

std::set<std::string> FindingKinds(const RunResult& r) {
  std::set<std::string> out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  for (const auto& f : j["findings"]) out.insert(f["kind"].get<std::string>());
  return out;
}

std::map<std::string, std::string> Tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    out[fs::relative(e.path(), dir).string()] =
        e.is_regular_file() ? ReadFile(e.path().string()) : std::string("<dir>");
  }
  return out;
}

}  // namespace

TEST_CASE("publish --stage refuses a fragment whose segment is ../../../OUT/evil.seg") {
  TempDir dir;
  const std::string catalog = GenCatalog(dir.File("c.jsonl"), 400, 5);
  const std::string plan = dir.File("plan.json");
  const std::string stage = dir.File("s1/s2/stage");
  const std::string index = dir.File("i1/i2/idx");
  REQUIRE(Pidx({"plan", "--catalog", catalog, "--index", index, "--workers", "1", "--out", plan})
              .exit_code == 0);
  REQUIRE(Pidx({"build", "--plan", plan, "--worker", "0", "--stage", stage}).exit_code == 0);
  const std::string fragment = stage + "/workers/worker-00000.manifest";
  json f = ReadChecked(fragment);
  // The staged segment is put where the crafted name leads from the stage's segments/, so the
  // stage check of the old code found it intact; from the index's segments/ the same name
  // leads to i1/OUT, outside the index.
  const std::string real = stage + "/segments/" + f["shards"][0]["segment"].get<std::string>();
  fs::create_directories(dir.File("s1/OUT"));
  fs::create_directories(dir.File("i1/OUT"));
  fs::copy_file(real, dir.File("s1/OUT/evil.seg"));
  f["shards"][0]["segment"] = "../../../OUT/evil.seg";
  WriteChecked(fragment, f);

  RunResult r = Pidx({"publish", "--index", index, "--stage", stage, "--plan", plan});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  const std::string errors = FailureText(r);
  CHECK(errors.find("worker-00000.manifest") != std::string::npos);
  CHECK(errors.find("shards[0].segment") != std::string::npos);
  CHECK(errors.find("../../../OUT/evil.seg") != std::string::npos);
  CHECK(Tree(dir.File("i1/OUT")).empty());
  CHECK(!fs::exists(index + "/CURRENT"));
}

TEST_CASE("query, stats and verify refuse manifest entries that lead out of segments/") {
  Index x;
  fs::create_directories(x.dir.File("outside"));
  for (auto& s : x.m["shards"]) {
    const std::string name = s["segment"];
    fs::rename(x.index + "/segments/" + name, x.dir.File("outside/" + name));
    s["segment"] = "../../outside/" + name;
  }
  WriteChecked(x.manifest, x.m);

  RunResult q =
      Pidx({"query", "--index", x.index, "--count", "--log-format", "json", "--", "-zzzznotaword"});
  INFO(q.err);
  CHECK(q.exit_code == 1);
  CHECK(q.out.empty());
  CHECK(FailureText(q).find("v000001.manifest: shards[0].segment") != std::string::npos);
  RunResult s = Pidx({"stats", "--index", x.index, "--json"});
  CHECK(s.exit_code == 1);
  CHECK(FailureText(s).find("is not a segment name of shard") != std::string::npos);
  RunResult v = Pidx({"verify", "--index", x.index, "--json"});
  CHECK(v.exit_code == 1);
  CHECK(FindingKinds(v) == std::set<std::string>{"manifest_corrupt"});
}

TEST_CASE("a shard id from disk must be of the exact form: ../x_000 is refused") {
  Index x;
  x.m["shards"][0]["shard"] = "../x_000";
  x.m["shards"][0]["segment"] = "../x_000-" + pidx::Hex64(1) + ".seg";
  WriteChecked(x.manifest, x.m);
  RunResult q =
      Pidx({"query", "--index", x.index, "--count", "--log-format", "json", "--", "-zzzznotaword"});
  CHECK(q.exit_code == 1);
  CHECK(FailureText(q).find("shards[0].segment") != std::string::npos);
}

TEST_CASE("a valid segment of another shard under a shard's name fails query and stats") {
  Index x;
  const std::string a = x.m["shards"][0]["shard"], b = x.m["shards"][1]["shard"];
  SECTION("the file swapped alone: its checksum is not the manifest's") {
    fs::copy_file(x.Segment(1), x.Segment(0), fs::copy_options::overwrite_existing);
  }
  SECTION("manifest checksum, size and name recomputed too: its shard is not the entry's") {
    auto& e = x.m["shards"][0];
    const std::string b_sum = x.m["shards"][1]["checksum"];
    const std::string name = a + "-" + b_sum + ".seg";
    fs::copy_file(x.Segment(1), x.index + "/segments/" + name);
    e["segment"] = name;
    e["checksum"] = b_sum;
    e["size"] = x.m["shards"][1]["size"];
    WriteChecked(x.manifest, x.m);
  }
  RunResult q =
      Pidx({"query", "--index", x.index, "--count", "--log-format", "json", "--", "-zzzznotaword"});
  INFO(q.err);
  CHECK(q.exit_code == 1);
  CHECK(q.out.empty());
  CHECK(FailureText(q).find("shard " + a) != std::string::npos);
  RunResult s = Pidx({"stats", "--index", x.index, "--json"});
  CHECK(s.exit_code == 1);
  CHECK(FailureText(s).find("shard " + a) != std::string::npos);
  RunResult v = Pidx({"verify", "--index", x.index, "--json"});
  CHECK(v.exit_code == 1);
  const auto kinds = FindingKinds(v);
  CHECK((kinds.count("segment_checksum_mismatch") || kinds.count("segment_manifest_mismatch")));
}

TEST_CASE("a FIFO, directory or symlink in place of a segment is damage, never a hang") {
  Index x;
  const std::string seg = x.Segment(0);
  std::string what;
  SECTION("a FIFO") {
    fs::remove(seg);
    REQUIRE(::mkfifo(seg.c_str(), 0644) == 0);
    what = "a FIFO";
  }
  SECTION("a directory") {
    fs::remove(seg);
    fs::create_directory(seg);
    what = "a directory";
  }
  SECTION("a symlink to a copy outside the index") {
    fs::copy_file(seg, x.dir.File("outside.seg"));
    fs::remove(seg);
    fs::create_symlink(x.dir.File("outside.seg"), seg);
    what = "a symbolic link";
  }
  RunResult q = PidxWithin(
      30, {"query", "--index", x.index, "--count", "--log-format", "json", "--", "-zzzznotaword"});
  INFO(q.err);
  CHECK(q.exit_code == 1);
  CHECK(FailureText(q).find(what) != std::string::npos);
  RunResult s = PidxWithin(30, {"stats", "--index", x.index});
  CHECK(s.exit_code == 1);
  CHECK(FailureText(s).find(what) != std::string::npos);
  RunResult v = PidxWithin(30, {"verify", "--index", x.index, "--json"});
  CHECK(v.exit_code == 1);
  CHECK(FindingKinds(v).count("segment_not_regular") == 1);
}

TEST_CASE("a FIFO in place of a manifest or CURRENT is damage, never a hang") {
  Index x;
  const std::string target = GENERATE(as<std::string>{}, "versions/v000001.manifest", "CURRENT");
  fs::remove(x.index + "/" + target);
  REQUIRE(::mkfifo((x.index + "/" + target).c_str(), 0644) == 0);
  RunResult q = PidxWithin(
      30, {"query", "--index", x.index, "--count", "--log-format", "json", "--", "-zzzznotaword"});
  INFO(target << "\n" << q.err);
  CHECK(q.exit_code == 1);
  CHECK(FailureText(q).find("a FIFO") != std::string::npos);
  CHECK(PidxWithin(30, {"versions", "--index", x.index}).exit_code != 137);
}

TEST_CASE("a manifest nested 200,000 deep gets a clear error from every reader, not SIGSEGV") {
  Index x;
  WriteCheckedWithRaw(x.manifest, x.m, "schema", Deep(200000));
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"stats", "--index", x.index},
        {"query", "--index", x.index, "--count", "--log-format", "json", "--", "-zzzznotaword"}}) {
    RunResult r = Pidx(args);
    INFO(args[0] << "\n" << r.err);
    CHECK(r.exit_code == 1);
    CHECK(FailureText(r).find("nested deeper than") != std::string::npos);
  }
  // versions lists the damaged version with its error; rollback refuses it.
  RunResult list = Pidx({"versions", "--index", x.index, "--json"});
  INFO(list.err);
  CHECK(list.exit_code != 139);
  CHECK(list.out.find("nested deeper than") != std::string::npos);
  RunResult back = Pidx({"rollback", "--index", x.index, "v000001"});
  INFO(back.err);
  CHECK(back.exit_code == 1);
  RunResult v = Pidx({"verify", "--index", x.index, "--json"});
  INFO(v.err);
  CHECK(v.exit_code == 1);
  CHECK(FindingKinds(v) == std::set<std::string>{"manifest_corrupt"});
}

TEST_CASE("deep JSON in a plan, a fragment, a schema file or a query set is refused") {
  TempDir dir;
  const std::string catalog = GenCatalog(dir.File("c.jsonl"), 300, 8);
  const std::string plan = dir.File("plan.json");
  const std::string stage = dir.File("stage");
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"plan", "--catalog", catalog, "--index", index, "--workers", "1", "--out", plan})
              .exit_code == 0);
  REQUIRE(Pidx({"build", "--plan", plan, "--worker", "0", "--stage", stage}).exit_code == 0);

  SECTION("a fragment") {
    const std::string fragment = stage + "/workers/worker-00000.manifest";
    WriteCheckedWithRaw(fragment, ReadChecked(fragment), "analyzer", Deep(200000));
    RunResult r = Pidx({"publish", "--index", index, "--stage", stage, "--plan", plan});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(FailureText(r).find("nested deeper than") != std::string::npos);
  }
  SECTION("a plan") {
    WriteCheckedWithRaw(plan, ReadChecked(plan), "schema", Deep(200000));
    RunResult r = Pidx({"build", "--plan", plan, "--worker", "0", "--stage", stage});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(FailureText(r).find("nested deeper than") != std::string::npos);
  }
  SECTION("a schema file") {
    const std::string schema = dir.Write("schema.json", "{\"fields\":" + Deep(200000) + "}");
    RunResult r = Pidx({"build", "--catalog", catalog, "--index", index, "--schema", schema});
    INFO(r.err);
    CHECK(r.exit_code == 78);
    CHECK(FailureText(r).find("nested deeper than") != std::string::npos);
  }
  SECTION("a query set") {
    REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
    const std::string q =
        dir.Write("q.jsonl", "{\"query\":\"x\",\"expected\":[\"1\"],\"x\":" + Deep(200000) + "}\n");
    RunResult r = Pidx({"recall", "--index", index, "--queries", q});
    INFO(r.err);
    CHECK(r.exit_code == 65);
    CHECK(FailureText(r).find("q.jsonl:1: JSON nested deeper than") != std::string::npos);
  }
}

TEST_CASE("verify reports stored totals that disagree with the segments") {
  Index x;
  x.m["totals"]["docs"] = 999999;
  x.m["totals"]["bytes"] = 1;
  x.m["totals"]["shards"] = 3;
  WriteChecked(x.manifest, x.m);
  for (bool with_catalog : {false, true}) {
    std::vector<std::string> args = {"verify", "--index", x.index, "--json"};
    if (with_catalog) args.insert(args.end(), {"--catalog", x.catalog});
    RunResult v = Pidx(args);
    INFO(v.err);
    CHECK(v.exit_code == 1);
    auto j = nlohmann::json::parse(v.out);
    std::set<std::string> lied;
    for (const auto& f : j["findings"]) {
      CHECK(f["kind"] == "manifest_totals_mismatch");
      lied.insert(
          f["detail"].get<std::string>().substr(0, f["detail"].get<std::string>().find(' ')));
    }
    CHECK(lied == std::set<std::string>{"totals.bytes", "totals.docs", "totals.shards"});
  }
}

TEST_CASE("categories a manifest invents fail verify and stats instead of being reported") {
  Index x;
  auto& cats = x.m["shards"][0]["categories"];
  const std::string shard = x.m["shards"][0]["shard"];
  const std::string query = "category:\"" + cats.begin().key() + "\"";
  RunResult before =
      Pidx({"query", "--index", x.index, "--count", "--json", "--log-format", "json", "--", query});
  REQUIRE(before.exit_code == 0);
  const auto truth = nlohmann::json::parse(before.out)["total"].get<uint64_t>();
  REQUIRE(truth > 0);
  SECTION("invented categories and counts") { cats = {{"X", 500}, {"Fake Category", 3}}; }
  SECTION("a count moved between two real categories of one shard") {
    // The same slug, so the shard could hold both; only the segment's terms tell.
    std::string real = cats.begin().key();
    const uint64_t n = cats.begin().value();
    cats = {{real, n - 1}, {real + "!", 1}};
  }
  WriteChecked(x.manifest, x.m);
  for (bool with_catalog : {false, true}) {
    std::vector<std::string> args = {"verify", "--index", x.index, "--json"};
    if (with_catalog) args.insert(args.end(), {"--catalog", x.catalog});
    RunResult v = Pidx(args);
    INFO(v.err);
    CHECK(v.exit_code == 1);
    CHECK(FindingKinds(v).count("manifest_categories_mismatch") == 1);
  }
  RunResult s = Pidx({"stats", "--index", x.index, "--json"});
  INFO(s.err);
  CHECK(s.exit_code == 1);
  // No report of the claim: the one JSON error object (docs/CLI.md "JSON results").
  CHECK(nlohmann::json::parse(s.out)["ok"] == false);
  CHECK(nlohmann::json::parse(s.out).count("shards") == 0);
  CHECK(FailureText(s).find("shard " + shard) != std::string::npos);
  // query picks shards by the slug of their id, not by the categories the manifest lists:
  // the lie cannot make it skip the shard that holds the matches.
  RunResult after =
      Pidx({"query", "--index", x.index, "--count", "--json", "--log-format", "json", "--", query});
  INFO(after.err);
  REQUIRE(after.exit_code == 0);
  CHECK(nlohmann::json::parse(after.out)["total"].get<uint64_t>() == truth);
}

TEST_CASE("CURRENT and versions/ names must be of pidx's exact form") {
  Index x;
  SECTION("CURRENT naming v1") {
    WriteBytes(x.index + "/CURRENT", "v1\n" + pidx::Hex64(pidx::Xxh3("v1")) + "\n");
    RunResult q = Pidx(
        {"query", "--index", x.index, "--count", "--log-format", "json", "--", "-zzzznotaword"});
    CHECK(q.exit_code == 1);
    CHECK(FailureText(q).find("bad version v1") != std::string::npos);
  }
  SECTION("a manifest named v7.manifest is not a version") {
    x.m["version"] = 7;
    WriteChecked(x.index + "/versions/v7.manifest", x.m);
    RunResult r = Pidx({"versions", "--index", x.index, "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("v000007") == std::string::npos);
  }
}

TEST_CASE("a manifest whose shard list disagrees with its layout is refused by every reader") {
  // The checksum line proves integrity, not sense: an entry listed twice was served twice
  // (query total and hits doubled, stats' docs too) and only verify noticed. Every reader
  // now refuses such a manifest, naming the entry; verify reports it as manifest_corrupt.
  struct Case {
    std::string name;
    std::function<void(json&)> damage;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"an entry listed twice", [](json& m) { m["shards"].push_back(m["shards"][0]); },
       "is listed twice"},
      {"a shard number beyond its category's count",
       [](json& m) {
         auto& s = m["shards"][0];
         const std::string old = s["shard"];
         const std::string now = old.substr(0, old.size() - 3) + "007";
         s["shard"] = now;
         s["segment"] = now + s["segment"].get<std::string>().substr(old.size());
       },
       "is beyond its category's 1 shards"},
      {"a category without a count",
       [](json& m) {
         const std::string shard = m["shards"][0]["shard"];
         m["category_shards"].erase(shard.substr(0, shard.size() - 4));
       },
       "category_shards has no count for"},
      {"no counts at all", [](json& m) { m["category_shards"] = json::object(); },
       "category_shards has no count for"},
      {"a target shard size past the flag's range",
       [](json& m) { m["target_shard_docs"] = std::numeric_limits<uint64_t>::max(); },
       "target_shard_docs 18446744073709551615 is above 1000000000"},
  };
  Index x;
  const json original = x.m;
  for (const auto& c : cases) {
    json m = original;
    c.damage(m);
    WriteChecked(x.manifest, m);
    const std::vector<std::vector<std::string>> readers = {
        {"query", "--index", x.index, "--json", "--", "-zzzznotaword"},
        {"stats", "--index", x.index, "--json"},
        {"diff", "--index", x.index, "v000001", "v000001", "--json"},
        {"rebuild-shard", original["shards"][0]["shard"], "--index", x.index, "--catalog",
         x.catalog, "--json"},
    };
    for (const auto& args : readers) {
      RunResult r = Pidx(args);
      INFO(c.name << ": pidx " << args[0] << "\n" << r.err);
      CHECK(r.exit_code == 1);
      CHECK(FailureText(r).find(c.message) != std::string::npos);
      CHECK(nlohmann::json::parse(r.out).value("ok", true) == false);
    }
    RunResult v = Pidx({"verify", "--index", x.index, "--json"});
    INFO(c.name << ": verify\n" << v.err);
    CHECK(v.exit_code == 1);
    CHECK(FindingKinds(v) == std::set<std::string>{"manifest_corrupt"});
  }
  WriteChecked(x.manifest, original);
  CHECK(Pidx({"verify", "--index", x.index}).exit_code == 0);
}

TEST_CASE("a plan is held to the manifest's layout rules: a bad category slug is refused") {
  Index x;
  const std::string plan = x.dir.File("p.plan");
  RunResult p =
      Pidx({"plan", "--catalog", x.catalog, "--index", x.index, "--workers", "2", "--out", plan});
  INFO(p.err);
  REQUIRE(p.exit_code == 0);
  json j = ReadChecked(plan);
  j["category_shards"]["../evil"] = 1;
  WriteChecked(plan, j);
  RunResult w = Pidx({"build", "--plan", plan, "--worker", "0", "--stage", x.dir.File("stage")});
  INFO(w.err);
  CHECK(w.exit_code == 1);
  CHECK(FailureText(w).find("../evil") != std::string::npos);
  CHECK(!fs::exists(x.dir.File("stage")));
}
