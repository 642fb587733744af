// End-to-end (issue 18, "Honest results" and "Output a person can read"): unchanged builds
// publish nothing, equal numbers hash equally, verify counts exactly, a failed first build
// leaves no directory, and the human outputs of stats, diff --summary and recall.
#include <sys/file.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include <catch2/catch.hpp>

#include "support/run.h"
#include "support/temp_dir.h"

using nlohmann::json;
using pidx::testing::GenCatalog;
using pidx::testing::Pidx;
using pidx::testing::ReadFile;
using pidx::testing::RunOptions;
using pidx::testing::RunResult;
using pidx::testing::TempDir;
namespace fs = std::filesystem;

namespace {

std::set<std::string> VersionFiles(const std::string& index) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(index + "/versions")) {
    out.insert(e.path().filename().string());
  }
  return out;
}

json Run(const std::vector<std::string>& args, int code) {
  RunResult r = Pidx(args);
  INFO(r.err);
  INFO(r.out);
  REQUIRE(r.exit_code == code);
  if (std::find(args.begin(), args.end(), "--json") == args.end()) return json();
  return json::parse(r.out);
}

// `n` products with a price written as `price` (its text in the catalog).
std::string JsonlWithPrice(int n, const std::string& price) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += "{\"id\":\"P" + std::to_string(i) + "\",\"category\":\"Books\",\"title\":\"book " +
         std::to_string(i) + "\",\"price\":" + price + "}\n";
  }
  return s;
}

std::string CsvWithPrice(int n, const std::string& price) {
  std::string s = "id,category,title,price\n";
  for (int i = 0; i < n; ++i) {
    s += "P" + std::to_string(i) + ",Books,book " + std::to_string(i) + "," + price + "\n";
  }
  return s;
}

}  // namespace

TEST_CASE("a build of an unchanged catalog reports unchanged and publishes nothing") {
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 400, 3);
  auto index = dir.File("idx");
  auto first = Run({"build", "--catalog", catalog, "--index", index, "--json"}, 0);
  CHECK(first["unchanged"] == false);
  CHECK(first["parent"].is_null());
  const auto before = VersionFiles(index);
  const std::string current = ReadFile(index + "/CURRENT");

  // The same products from a copy under another name (another catalog identity): unchanged.
  fs::copy_file(catalog, dir.File("renamed.jsonl"));
  auto metrics = dir.File("build.prom");
  auto again = Run({"build", "--catalog", dir.File("renamed.jsonl"), "--index", index, "--json",
                    "--metrics-file", metrics},
                   0);
  CHECK(again["unchanged"] == true);
  CHECK(again["version"] == "v000001");
  CHECK(again["parent"].is_null());
  CHECK(again["docs"] == 400);
  CHECK(VersionFiles(index) == before);
  CHECK(ReadFile(index + "/CURRENT") == current);
  // The run still succeeded, for dashboards.
  const std::string prom = ReadFile(metrics);
  CHECK(prom.find("pidx_command_success{command=\"build\"") != std::string::npos);
  CHECK(std::regex_search(prom, std::regex("pidx_command_success\\{[^}]*\\} 1\n")));
  CHECK(prom.find("pidx_index_docs{") != std::string::npos);

  RunResult human = Pidx({"build", "--catalog", catalog, "--index", index});
  REQUIRE(human.exit_code == 0);
  CHECK(human.out.rfind("unchanged: v000001 in " + index, 0) == 0);
  auto completed = human.Events("index.build.completed");
  REQUIRE(completed.size() == 1);
  CHECK(completed[0]["unchanged"] == true);

  // --force publishes anyway; a changed catalog publishes.
  auto forced = Run({"build", "--catalog", catalog, "--index", index, "--json", "--force"}, 0);
  CHECK(forced["unchanged"] == false);
  CHECK(forced["version"] == "v000002");
  CHECK(forced["parent"] == "v000001");
  auto grown = GenCatalog(dir.File("grown.jsonl"), 420, 3);
  auto changed = Run({"build", "--catalog", grown, "--index", index, "--json"}, 0);
  CHECK(changed["unchanged"] == false);
  CHECK(changed["version"] == "v000003");
}

TEST_CASE("rebuild-shard of an unchanged shard reports unchanged and publishes nothing") {
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 400, 5);
  auto index = dir.File("idx");
  Run({"build", "--catalog", catalog, "--index", index}, 0);
  auto stats = Run({"stats", "--index", index, "--json"}, 0);
  const std::string shard = stats["shards"][0]["shard"];
  const auto before = VersionFiles(index);
  auto r = Run({"rebuild-shard", shard, "--catalog", catalog, "--index", index, "--json"}, 0);
  CHECK(r["unchanged"] == true);
  CHECK(r["version"] == "v000001");
  CHECK(r["segment_unchanged"] == true);
  CHECK(r["parent"].is_null());
  CHECK(VersionFiles(index) == before);
  RunResult human = Pidx({"rebuild-shard", shard, "--catalog", catalog, "--index", index});
  REQUIRE(human.exit_code == 0);
  CHECK(human.out.rfind(shard + " unchanged: v000001", 0) == 0);
  auto forced =
      Run({"rebuild-shard", shard, "--catalog", catalog, "--index", index, "--json", "--force"}, 0);
  CHECK(forced["unchanged"] == false);
  CHECK(forced["version"] == "v000002");
  CHECK(forced["parent"] == "v000001");
}

TEST_CASE("equal prices hash equally: 7, 7.0, 7.00 and 7e0, in JSONL and CSV") {
  TempDir dir;
  auto index = dir.File("idx");
  Run({"build", "--catalog", dir.Write("a.jsonl", JsonlWithPrice(50, "7")), "--index", index}, 0);
  for (const std::string price : {"7.0", "7.00", "7e0", "0.7e1", "700e-2"}) {
    INFO(price);
    auto r = Run({"build", "--catalog", dir.Write("p.jsonl", JsonlWithPrice(50, price)), "--index",
                  index, "--json"},
                 0);
    CHECK(r["unchanged"] == true);
  }
  for (const std::string price : {"7", "+7.0", "007"}) {
    INFO(price);
    auto r = Run({"build", "--catalog", dir.Write("p.csv", CsvWithPrice(50, price)), "--index",
                  index, "--json"},
                 0);
    CHECK(r["unchanged"] == true);
  }
  // A CSV and a JSONL export of the same products: no false doc_changed.
  auto csv = dir.Write("same.csv", CsvWithPrice(50, "7.50"));
  auto jsonl = dir.Write("same.jsonl", JsonlWithPrice(50, "7.5"));
  auto i1 = dir.File("i1"), i2 = dir.File("i2");
  Run({"build", "--catalog", csv, "--index", i1}, 0);
  Run({"build", "--catalog", jsonl, "--index", i2}, 0);
  auto d = Run({"diff", i1, i2, "--json"}, 0);
  CHECK(d["equal"] == true);
  CHECK(d["totals"]["products_changed"] == 0);
  Run({"verify", "--index", i1, "--catalog", jsonl}, 0);
  // A different price is a change.
  auto other = Run({"build", "--catalog", dir.Write("q.jsonl", JsonlWithPrice(50, "7.01")),
                    "--index", index, "--json"},
                   0);
  CHECK(other["unchanged"] == false);
}

TEST_CASE("verify counts every finding exactly and reports the unlisted apart") {
  TempDir dir;
  // One shard (Books_000 with 1 shard per category) missing 31 products of the catalog: 31
  // doc_missing findings in one group, 20 listed.
  std::string all, kept;
  for (int i = 0; i < 60; ++i) {
    std::string line = "{\"id\":\"P" + std::to_string(i) +
                       "\",\"category\":\"Books\",\"title\":\"book " + std::to_string(i) + "\"}\n";
    all += line;
    if (i >= 31) kept += line;
  }
  auto index = dir.File("idx");
  Run({"build", "--catalog", dir.Write("kept.jsonl", kept), "--index", index,
       "--shards-per-category", "1"},
      0);
  auto full = dir.Write("all.jsonl", all);
  auto metrics = dir.File("verify.prom");
  auto j =
      Run({"verify", "--index", index, "--catalog", full, "--json", "--metrics-file", metrics}, 1);
  CHECK(j["ok"] == false);
  uint64_t missing_listed = 0;
  for (const auto& f : j["findings"]) missing_listed += f["kind"] == "doc_missing";
  REQUIRE(j["unlisted"].size() >= 1);
  uint64_t missing_total = missing_listed;
  for (const auto& u : j["unlisted"]) {
    CHECK(u["not_listed"] == u["total"].get<uint64_t>() - u["listed"].get<uint64_t>());
    if (u["kind"] == "doc_missing") missing_total += u["not_listed"].get<uint64_t>();
  }
  CHECK(missing_total == 31);
  CHECK(j["truncated"] == true);
  CHECK(j["findings_listed"] == j["findings"].size());
  for (const auto& f : j["findings"])
    CHECK(f["detail"].get<std::string>().find("not listed") == std::string::npos);
  const uint64_t total = j["findings_total"];
  CHECK(total ==
        j["findings"].size() + j["unlisted"][0]["not_listed"].get<uint64_t>() +
            (j["unlisted"].size() > 1 ? j["unlisted"][1]["not_listed"].get<uint64_t>() : 0));
  const std::string prom = ReadFile(metrics);
  CHECK(prom.find("kind=\"doc_missing\"} 31\n") != std::string::npos);

  RunResult human = Pidx({"verify", "--index", index, "--catalog", full});
  REQUIRE(human.exit_code == 1);
  CHECK(human.out.rfind("FAILED: " + std::to_string(total) + " problems", 0) == 0);
  CHECK(human.out.find("11 more doc_missing in books_000") != std::string::npos);
  auto completed = human.Events("index.verify.completed");
  REQUIRE(completed.size() == 1);
  CHECK(completed[0]["findings"] == total);
}

TEST_CASE("a failed first build removes the index directory it created, and only that") {
  TempDir dir;
  auto bad = dir.Write("bad.jsonl", "{\"id\":\"a\",\"category\":\"Books\"}\n{\"id\":\"b\"}\n");
  // A new directory (and a new parent): both gone after the failure.
  auto index = dir.File("new/parent/idx");
  RunResult r = Pidx({"build", "--catalog", bad, "--index", index});
  CHECK(r.exit_code == 65);
  CHECK_FALSE(fs::exists(index));
  CHECK_FALSE(fs::exists(dir.File("new")));
  CHECK(r.Events("index.build.cleaned_up").size() == 1);
  // A missing catalog, an empty catalog: the same.
  CHECK(Pidx({"build", "--catalog", dir.File("nope.jsonl"), "--index", index}).exit_code == 66);
  CHECK_FALSE(fs::exists(index));
  CHECK(Pidx({"build", "--catalog", dir.Write("empty.jsonl", ""), "--index", index}).exit_code ==
        65);
  CHECK_FALSE(fs::exists(index));
  // A directory that existed before (empty, or with a file of the operator's) stays.
  fs::create_directories(dir.File("mine"));
  CHECK(Pidx({"build", "--catalog", bad, "--index", dir.File("mine")}).exit_code == 65);
  CHECK(fs::is_directory(dir.File("mine")));
  fs::create_directories(dir.File("withfile"));
  dir.Write("withfile/notes.txt", "keep me");
  CHECK(Pidx({"build", "--catalog", bad, "--index", dir.File("withfile")}).exit_code == 65);
  CHECK(ReadFile(dir.File("withfile/notes.txt")) == "keep me");
  // An index with a version is never removed by a failed build.
  auto good = GenCatalog(dir.File("good.jsonl"), 100, 1);
  auto real = dir.File("real");
  Run({"build", "--catalog", good, "--index", real}, 0);
  CHECK(Pidx({"build", "--catalog", bad, "--index", real}).exit_code == 65);
  CHECK(fs::exists(real + "/CURRENT"));
}

TEST_CASE("stats leads with the total and one line per category, bars in Unicode or ASCII") {
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 600, 2);
  auto index = dir.File("idx");
  Run({"build", "--catalog", catalog, "--index", index, "--shards-per-category", "4"}, 0);
  auto j = Run({"stats", "--index", index, "--json"}, 0);
  const size_t categories = j["category_totals"].size();
  REQUIRE(categories >= 2);
  uint64_t docs = 0;
  for (const auto& c : j["category_totals"]) docs += c["docs"].get<uint64_t>();
  CHECK(docs == j["totals"]["docs"]);

  RunOptions utf8;
  utf8.env = {{"LANG", "C.UTF-8"}, {"TERM", "xterm"}};
  utf8.unset_env = {"LC_ALL", "LC_CTYPE"};
  RunResult r = Pidx({"stats", "--index", index}, utf8);
  REQUIRE(r.exit_code == 0);
  INFO(r.out);
  CHECK(r.out.find("total: 600 docs") != std::string::npos);
  CHECK(r.out.find("roaring/plain") != std::string::npos);
  CHECK(r.out.find("saving") == std::string::npos);
  CHECK(r.out.find("\u2588") != std::string::npos);  // a full block
  // No per-shard rows by default: one line per category, not one per shard.
  const std::string first_shard = j["shards"][0]["shard"];
  CHECK(r.out.find(first_shard) == std::string::npos);
  CHECK(r.out.find("--shards lists the") != std::string::npos);
  const std::string top = j["category_totals"][0]["category"];
  CHECK(r.out.find(top) != std::string::npos);
  // The rollup comes before anything per shard.
  RunResult shards = Pidx({"stats", "--index", index, "--shards"}, utf8);
  REQUIRE(shards.exit_code == 0);
  CHECK(shards.out.find(first_shard) != std::string::npos);
  CHECK(shards.out.find(top) < shards.out.find(first_shard));
  RunResult one = Pidx({"stats", "--index", index, "--shard", first_shard}, utf8);
  REQUIRE(one.exit_code == 0);
  CHECK(one.out.find(first_shard) != std::string::npos);

  for (const auto& env : std::vector<std::map<std::string, std::string>>{
           {{"LANG", "C.UTF-8"}, {"TERM", "dumb"}}, {{"LANG", "C"}, {"TERM", "xterm"}}}) {
    RunOptions ascii;
    ascii.env = env;
    ascii.unset_env = {"LC_ALL", "LC_CTYPE"};
    RunResult a = Pidx({"stats", "--index", index}, ascii);
    REQUIRE(a.exit_code == 0);
    CHECK(a.out.find("\u2588") == std::string::npos);
    CHECK(a.out.find("#") != std::string::npos);
    // No block element (U+2580..U+259F, UTF-8 E2 96 xx) at all; category names stay as
    // they are (pidx-gen's include CJK ones).
    CHECK(a.out.find("\xe2\x96") == std::string::npos);
  }
}

TEST_CASE("stats says roaring/plain and whether Roaring is larger or smaller") {
  TempDir dir;
  // Sparse postings: Roaring's per-container overhead makes it larger than plain arrays.
  auto catalog = GenCatalog(dir.File("c.jsonl"), 200, 9);
  auto index = dir.File("idx");
  Run({"build", "--catalog", catalog, "--index", index}, 0);
  auto j = Run({"stats", "--index", index, "--json"}, 0);
  const uint64_t roaring = j["totals"]["roaring_bytes"], plain = j["totals"]["array_bytes"];
  RunResult r = Pidx({"stats", "--index", index});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find(roaring > plain   ? "(larger)"
                   : roaring < plain ? "(smaller)"
                                     : "(same)") != std::string::npos);
}

TEST_CASE("diff --summary prints the totals and no row per shard") {
  TempDir dir;
  auto a = GenCatalog(dir.File("a.jsonl"), 500, 4);
  auto b = GenCatalog(dir.File("b.jsonl"), 560, 4);
  auto i1 = dir.File("i1"), i2 = dir.File("i2");
  Run({"build", "--catalog", a, "--index", i1}, 0);
  Run({"build", "--catalog", b, "--index", i2}, 0);
  auto j = Run({"diff", i1, i2, "--json"}, 1);
  REQUIRE(j["shards"].size() > 1);
  RunResult full = Pidx({"diff", i1, i2});
  RunResult summary = Pidx({"diff", i1, i2, "--summary"});
  REQUIRE(full.exit_code == 1);
  REQUIRE(summary.exit_code == 1);
  const std::string shard = j["shards"][0]["shard"];
  CHECK(full.out.find(shard) != std::string::npos);
  CHECK(summary.out.find(shard) == std::string::npos);
  CHECK(summary.out.find("products:") != std::string::npos);
  CHECK(std::count(summary.out.begin(), summary.out.end(), '\n') <= 5);
}

TEST_CASE("recall's human output lists the missing ids, capped, with their count") {
  TempDir dir;
  auto index = dir.File("idx");
  std::string catalog;
  for (int i = 0; i < 30; ++i) {
    catalog += "{\"id\":\"P" + std::to_string(i) + "\",\"category\":\"Books\",\"title\":\"dune " +
               std::to_string(i) + "\"}\n";
  }
  Run({"build", "--catalog", dir.Write("c.jsonl", catalog), "--index", index}, 0);
  std::string expected;
  for (int i = 0; i < 30; ++i) expected += "\"P" + std::to_string(i) + "\",";
  for (int i = 0; i < 14; ++i) expected += "\"GONE" + std::to_string(i) + "\",";
  expected.pop_back();
  auto queries = dir.Write("q.jsonl", "{\"query\":\"dune\",\"expected\":[" + expected + "]}\n");
  RunResult r = Pidx({"recall", "--index", index, "--queries", queries});
  REQUIRE(r.exit_code == 0);
  INFO(r.out);
  CHECK(r.out.find("line 1: 14 of 44 missing: GONE0, GONE1") != std::string::npos);
  CHECK(r.out.find(" and 4 more") != std::string::npos);
  auto j = Run({"recall", "--index", index, "--queries", queries, "--json"}, 0);
  CHECK(j["queries"][0]["missing_count"] == 14);
  CHECK(j["queries"][0]["missing"].size() == 10);
}

TEST_CASE("a failure under --json prints one error object with the exit code") {
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 100, 1);
  auto index = dir.File("idx");
  Run({"build", "--catalog", catalog, "--index", index}, 0);
  struct Case {
    std::vector<std::string> args;
    int code;
    const char* reason;
  };
  for (const auto& c : std::vector<Case>{
           {{"build", "--json", "--no-such-flag"}, 64, "usage"},
           {{"stats", "--json", "--index", dir.File("missing")}, 66, "not_found"},
           {{"build", "--json", "--index", dir.File("i2"), "--catalog",
             dir.Write("bad.jsonl", "{\"id\":1}\n")},
            65,
            "bad_data"},
           {{"query", "--json", "--index", index, "(dune"}, 64, "usage"},
       }) {
    RunResult r = Pidx(c.args);
    INFO(c.args[0] << " " << r.err);
    CHECK(r.exit_code == c.code);
    auto j = json::parse(r.out);
    CHECK(j["schema_version"] == 2);
    CHECK(j["ok"] == false);
    CHECK(j["command"] == c.args[0]);
    CHECK(j["exit_code"] == c.code);
    CHECK(j["reason"] == c.reason);
    CHECK_FALSE(j["error"].get<std::string>().empty());
  }
  // The refused flag's name and value, as in the failure event.
  auto bad = json::parse(Pidx({"build", "--json", "--threads", "nan"}).out);
  CHECK(bad["option"] == "--threads");
  CHECK(bad["value"] == "nan");
  // An unknown command: command null, the name typed apart.
  RunResult unknown = Pidx({"biuld", "--json"});
  CHECK(unknown.exit_code == 64);
  auto u = json::parse(unknown.out);
  CHECK(u["command"].is_null());
  CHECK(u["unknown_command"] == "biuld");
  // PIDX_JSON=1 is --json.
  RunOptions env;
  env.env = {{"PIDX_JSON", "1"}};
  RunResult e = Pidx({"verify", "--index", dir.File("missing")}, env);
  CHECK(e.exit_code == 66);
  CHECK(json::parse(e.out)["ok"] == false);
  // A lock timeout.
  const std::string lock = index + "/locks/publish.lock";
  int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX) == 0);
  auto grown = GenCatalog(dir.File("g.jsonl"), 110, 1);
  RunResult t =
      Pidx({"build", "--json", "--catalog", grown, "--index", index, "--lock-timeout", "100ms"});
  ::close(fd);
  CHECK(t.exit_code == 75);
  CHECK(json::parse(t.out)["reason"] == "lock_timeout");
  // Without --json a failure prints nothing on stdout.
  CHECK(Pidx({"stats", "--index", dir.File("missing")}).out.empty());
}

// Segment format 2 keeps a hash per schema field: diff and verify --catalog name the fields of a
// changed product (issue 18, "diff and verify name the field that changed").
TEST_CASE("diff and verify --catalog name the fields that changed") {
  TempDir dir;
  auto product = [](int i, const std::string& title, const std::string& price,
                    const std::string& brand) {
    return "{\"id\":\"P" + std::to_string(i) + "\",\"category\":\"Books\",\"title\":\"" + title +
           "\",\"brand\":\"" + brand + "\",\"price\":" + price + "}\n";
  };
  std::string before, after;
  for (int i = 0; i < 40; ++i) {
    before += product(i, "book " + std::to_string(i), "7", "acme");
    // P3: price; P5: title and brand; P7: the same price written as 7.0 (no change).
    after += product(i, "book " + std::to_string(i) + (i == 5 ? " deluxe" : ""),
                     i == 3   ? "8"
                     : i == 7 ? "7.0"
                              : "7",
                     i == 5 ? "zeta" : "acme");
  }
  const std::string index = dir.File("idx");
  const std::string a = dir.Write("a.jsonl", before), b = dir.Write("b.jsonl", after);
  Run({"build", "--catalog", a, "--index", index}, 0);

  RunResult v = Pidx({"verify", "--index", index, "--catalog", b, "--json"});
  REQUIRE(v.exit_code == 1);
  std::map<std::string, json> changed;
  const json vj = json::parse(v.out);
  for (const auto& f : vj["findings"]) {
    if (f["kind"] == "doc_changed") changed[f["doc"].get<std::string>()] = f;
  }
  REQUIRE(changed.size() == 2);
  CHECK(changed["P3"]["fields"] == json({"price"}));
  CHECK(changed["P3"]["detail"] == "product P3 changed since the build: price");
  CHECK(changed["P5"]["fields"] == json({"title", "brand"}));
  RunResult text = Pidx({"verify", "--index", index, "--catalog", b});
  CHECK(text.out.find("product P5 changed since the build: title, brand") != std::string::npos);

  Run({"build", "--catalog", b, "--index", index}, 0);
  auto d = Run({"diff", "--index", index, "1", "2", "--json"}, 1);
  const auto& products = d["product_changes"]["changed_products"];
  CHECK(products["ids"] == json({"P3", "P5"}));
  CHECK(products["fields"] == json({{"P3", {"price"}}, {"P5", {"title", "brand"}}}));
  RunResult dt = Pidx({"diff", "--index", index, "1", "2"});
  CHECK(dt.out.find("products changed: P3 (price), P5 (title, brand)") != std::string::npos);
}
