// End-to-end: `pidx verify`, the gate a pipeline runs before a version serves traffic.
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include <catch2/catch.hpp>

#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::GenCatalog;
using pidx::testing::Pidx;
using pidx::testing::ReadFile;
using pidx::testing::RunResult;
using pidx::testing::TempDir;
namespace fs = std::filesystem;

namespace {

struct Built {
  std::string catalog;
  std::string index;
  nlohmann::json stats;
};

Built BuildIndex(const TempDir& dir, int products = 400, int seed = 9) {
  Built b;
  b.catalog = GenCatalog(dir.File("c.jsonl"), products, seed);
  b.index = dir.File("idx");
  RunResult r = Pidx({"build", "--catalog", b.catalog, "--index", b.index});
  REQUIRE(r.exit_code == 0);
  b.stats = nlohmann::json::parse(Pidx({"stats", "--index", b.index, "--json"}).out);
  return b;
}

nlohmann::json VerifyJson(const std::vector<std::string>& args, int expect_code) {
  std::vector<std::string> a = {"verify"};
  a.insert(a.end(), args.begin(), args.end());
  a.push_back("--json");
  RunResult r = Pidx(a);
  INFO(r.err);
  REQUIRE(r.exit_code == expect_code);
  auto done = r.Events("index.verify.completed");
  REQUIRE(done.size() == 1);
  CHECK(done[0].contains("duration_ms"));
  auto j = nlohmann::json::parse(r.out);
  CHECK(r.Events("verify.finding").size() == j["findings"].size());
  return j;
}

std::set<std::string> Kinds(const nlohmann::json& j) {
  std::set<std::string> out;
  for (const auto& f : j["findings"]) out.insert(f["kind"].get<std::string>());
  return out;
}

std::string SegmentPath(const Built& b, int i = 0) {
  return b.index + "/segments/" + b.stats["shards"][i]["segment"].get<std::string>();
}

// Damage to the magic numbers or the format version (header bytes 0-11, footer magic 16 to 9
// bytes before the end) is told apart as a structural finding before the checksum is
// computed (docs/FORMAT.md); anywhere else the checksum catches it.
std::string ExpectedKind(size_t pos, size_t len, size_t n) {
  bool header = pos < 12;
  bool footer_magic = pos + len > n - 16 && pos < n - 8;
  return header || footer_magic ? "segment_corrupt" : "segment_checksum_mismatch";
}

void Overwrite(const std::string& path, const std::string& bytes) {
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("a clean build verifies with exit 0, with and without --catalog") {
  TempDir dir;
  Built b = BuildIndex(dir);
  auto j = VerifyJson({"--index", b.index}, 0);
  CHECK(j["ok"] == true);
  CHECK(j["findings"].empty());
  CHECK(j["shards_checked"] == b.stats["shards"].size());
  j = VerifyJson({"--index", b.index, "--catalog", b.catalog}, 0);
  CHECK(j["catalog_products"] == 400);
  CHECK(j["terms_compared"].get<int>() > 0);
  j = VerifyJson({"--index", b.index, "--catalog", b.catalog, "--deep"}, 0);
  CHECK(j["findings"].empty());
  CHECK(VerifyJson({"--index", b.index, "--all-versions"}, 0)["versions_checked"].size() == 1);
}

TEST_CASE("every damage to a segment is a finding of the right kind, never a crash") {
  TempDir dir;
  Built b = BuildIndex(dir);
  const std::string path = SegmentPath(b);
  const std::string shard = b.stats["shards"][0]["shard"];
  const std::string original = ReadFile(path);
  const size_t n = original.size();
  REQUIRE(n > 100);
  // Header, term dictionary, postings, doc table and footer regions, by position.
  for (size_t pos : {size_t{0}, size_t{9}, n / 5, n / 3, n / 2, 2 * n / 3, n - 40, n - 9, n - 1}) {
    std::string bytes = original;
    bytes[pos] ^= 0x20;
    Overwrite(path, bytes);
    auto j = VerifyJson({"--index", b.index}, 1);
    INFO("flip at " << pos << " of " << n);
    CHECK(Kinds(j) == std::set<std::string>{ExpectedKind(pos, 1, n)});
    CHECK(j["findings"][0]["shard"] == shard);
  }
  for (size_t len : {size_t{0}, size_t{7}, n / 2, n - 1}) {
    Overwrite(path, original.substr(0, len));
    auto j = VerifyJson({"--index", b.index}, 1);
    INFO("truncated to " << len);
    CHECK(Kinds(j).count("segment_size_mismatch") == 1);
  }
  for (size_t pos : {size_t{0}, n / 2, n - 64}) {
    std::string bytes = original;
    for (size_t i = pos; i < pos + 64 && i < n; ++i) bytes[i] = 0;
    Overwrite(path, bytes);
    auto j = VerifyJson({"--index", b.index}, 1);
    INFO("zeroed 64 bytes at " << pos);
    CHECK(Kinds(j) == std::set<std::string>{ExpectedKind(pos, 64, n)});
  }
  Overwrite(path, original);
  VerifyJson({"--index", b.index}, 0);
}

TEST_CASE("random garbage in place of segments is reported, seed after seed") {
  TempDir dir;
  Built b = BuildIndex(dir, 300, 5);
  std::mt19937_64 rng(12345);
  const std::string path = SegmentPath(b, 1);
  const std::string original = ReadFile(path);
  for (int i = 0; i < 200; ++i) {
    std::string bytes(rng() % (2 * original.size() + 1), '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    if (i % 4 == 1 && bytes.size() > 16) bytes.replace(0, 8, original.substr(0, 8));  // real magic
    if (i % 4 == 2) bytes = original.substr(0, original.size() / 2) + bytes;
    Overwrite(path, bytes);
    RunResult r = Pidx({"verify", "--index", b.index, "--json"});
    INFO("case " << i);
    REQUIRE(r.exit_code == 1);
    CHECK(!nlohmann::json::parse(r.out)["findings"].empty());
  }
}

TEST_CASE("a deleted segment file is a finding naming the shard") {
  TempDir dir;
  Built b = BuildIndex(dir);
  fs::remove(SegmentPath(b, 2));
  auto j = VerifyJson({"--index", b.index}, 1);
  REQUIRE(j["findings"].size() == 1);
  CHECK(j["findings"][0]["kind"] == "segment_missing");
  CHECK(j["findings"][0]["shard"] == b.stats["shards"][2]["shard"]);
}

TEST_CASE("a damaged manifest or CURRENT is a finding") {
  TempDir dir;
  Built b = BuildIndex(dir);
  const std::string m = b.index + "/versions/v000001.manifest";
  std::string bytes = ReadFile(m);
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 1;
  Overwrite(m, flipped);
  CHECK(Kinds(VerifyJson({"--index", b.index}, 1)) == std::set<std::string>{"manifest_corrupt"});
  Overwrite(m, bytes.substr(0, bytes.size() / 3));
  CHECK(Kinds(VerifyJson({"--index", b.index}, 1)) == std::set<std::string>{"manifest_corrupt"});
  Overwrite(m, bytes);
  Overwrite(b.index + "/CURRENT", "v000001\n");
  auto j = VerifyJson({"--index", b.index, "--version", "1"}, 1);
  CHECK(Kinds(j) == std::set<std::string>{"current_damaged"});
}

TEST_CASE("the seed's case: shards the catalog implies but the index lacks are named") {
  TempDir dir;
  Built b = BuildIndex(dir, 600, 17);
  // The incident: the catalog has products of a category whose shards the index lacks.
  std::string extra = ReadFile(b.catalog);
  extra += "{\"id\":\"E-1\",\"category\":\"Electronics Extra\",\"title\":\"charger\"}\n";
  extra += "{\"id\":\"E-2\",\"category\":\"Electronics Extra\",\"title\":\"cable\"}\n";
  extra += "{\"id\":\"E-3\",\"category\":\"Electronics Extra\",\"title\":\"plug\"}\n";
  auto c2 = dir.Write("c2.jsonl", extra);
  auto j = VerifyJson({"--index", b.index, "--catalog", c2}, 1);
  std::set<std::string> missing;
  for (const auto& f : j["findings"]) {
    CHECK(f["kind"] == "shard_missing");
    missing.insert(f["shard"].get<std::string>());
  }
  REQUIRE(!missing.empty());
  for (const auto& s : missing) CHECK(s.rfind("electronics-extra_", 0) == 0);
  // Exactly the shards those three ids hash to.
  RunResult full = Pidx({"build", "--catalog", c2, "--index", dir.File("full"), "--json"});
  REQUIRE(full.exit_code == 0);
  auto st = nlohmann::json::parse(Pidx({"stats", "--index", dir.File("full"), "--json"}).out);
  std::set<std::string> expected;
  for (const auto& s : st["shards"]) {
    if (s["shard"].get<std::string>().rfind("electronics-extra_", 0) == 0)
      expected.insert(s["shard"]);
  }
  CHECK(missing == expected);
}

TEST_CASE("a catalog edited after the build: the changed, added and removed products are named") {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 60; ++i) {
    text += "{\"id\":\"B" + std::to_string(i) +
            "\",\"category\":\"Books\",\"title\":\"common book " + std::to_string(i) + "\"}\n";
  }
  auto c1 = dir.Write("c1.jsonl", text);
  auto index = dir.File("idx");
  REQUIRE(
      Pidx({"build", "--catalog", c1, "--index", index, "--shards-per-category", "1"}).exit_code ==
      0);
  std::string edited = text;
  edited.replace(edited.find("common book 7\""), 14, "renamed book 7\"");
  edited.erase(edited.find("{\"id\":\"B9\""), edited.find('\n', edited.find("{\"id\":\"B9\"")) -
                                                  edited.find("{\"id\":\"B9\"") + 1);
  edited += "{\"id\":\"B100\",\"category\":\"Books\",\"title\":\"common book new\"}\n";
  auto c2 = dir.Write("c2.jsonl", edited);
  auto j = VerifyJson({"--index", index, "--catalog", c2}, 1);
  std::map<std::string, std::set<std::string>> docs;
  std::set<std::string> terms;
  for (const auto& f : j["findings"]) {
    if (f.contains("doc")) docs[f["kind"]].insert(f["doc"].get<std::string>());
    if (f.contains("term")) terms.insert(f["term"].get<std::string>());
  }
  CHECK(docs["doc_changed"] == std::set<std::string>{"B7"});
  CHECK(docs["doc_extra"] == std::set<std::string>{"B9"});
  CHECK(docs["doc_missing"] == std::set<std::string>{"B100"});
  CHECK(terms.count("title:common") == 1);  // the most frequent term is always sampled
  CHECK(Kinds(j).count("term_bloom_mismatch") == 1);
}

TEST_CASE("verify of a missing index or version exits 66") {
  TempDir dir;
  CHECK(Pidx({"verify", "--index", dir.File("none")}).exit_code == 66);
  Built b = BuildIndex(dir, 50, 1);
  CHECK(Pidx({"verify", "--index", b.index, "--version", "v000007"}).exit_code == 66);
  CHECK(Pidx({"verify", "--index", b.index, "--catalog", dir.File("nope.jsonl")}).exit_code == 66);
}
