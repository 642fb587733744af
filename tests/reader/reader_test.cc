// The public reader library (pidx/reader.h, pidx/pidx.h) linked as libpidx.so: the answers of
// `pidx query`, errors of the documented kinds, Refresh switching atomically under concurrent
// searches, a damaged version never served, the old version released.
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "pidx/pidx.h"
#include "pidx/reader.h"
#include "support/damage.h"
#include "support/run.h"
#include "support/temp_dir.h"

using pidx::reader::ErrorCode;
using pidx::reader::Reader;
using pidx::testing::GenCatalog;
using pidx::testing::Pidx;
using pidx::testing::TempDir;

namespace {

std::string Build(const std::string& catalog, const std::string& index) {
  auto r = Pidx({"build", "--allow-shrink", "--catalog", catalog, "--index", index});
  REQUIRE(r.exit_code == 0);
  return index;
}

nlohmann::json CliQuery(const std::string& index, const std::string& q, size_t limit,
                        uint64_t version = 0) {
  std::vector<std::string> args = {"query",  "--index", index,
                                   "--json", "--limit", std::to_string(limit)};
  if (version != 0) args.insert(args.end(), {"--version", std::to_string(version)});
  args.insert(args.end(), {"--log-format", "json", "--", q});
  auto r = Pidx(args);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

void RequireSame(const pidx::reader::SearchResult& got, const nlohmann::json& want) {
  REQUIRE(got.total == want["total"].get<uint64_t>());
  REQUIRE(got.hits.size() == want["hits"].size());
  for (size_t i = 0; i < got.hits.size(); ++i) {
    CHECK(got.hits[i].id == want["hits"][i]["id"]);
    CHECK(got.hits[i].title == want["hits"][i]["title"]);
    CHECK(got.hits[i].shard == want["hits"][i]["shard"]);
  }
  CHECK(got.shards_searched == want["shards_searched"].get<uint64_t>());
}

const std::vector<std::string> kQueries = {"wireless",
                                           "black OR white -leather",
                                           "category:Electronics set",
                                           "brand:\"Levi's\"",
                                           "-refurbished",
                                           "NOT lamp",
                                           "(chair OR lamp) steel",
                                           "tags:bestseller"};

// The segment of `version` that `before` does not have.
std::string NewSegment(const std::string& index, uint64_t version, uint64_t before) {
  auto manifest = [&](uint64_t v) {
    char name[32];
    std::snprintf(name, sizeof name, "v%06llu.manifest", static_cast<unsigned long long>(v));
    // The JSON, then a checksum line (docs/FORMAT.md, "Manifest").
    std::ifstream in(index + "/versions/" + name);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    text.resize(text.rfind("\nxxh3 ") + 1);
    return nlohmann::json::parse(text);
  };
  const nlohmann::json older = manifest(before), newer = manifest(version);
  std::set<std::string> old;
  for (const auto& s : older["shards"]) old.insert(s["segment"].get<std::string>());
  for (const auto& s : newer["shards"]) {
    if (!old.count(s["segment"].get<std::string>()))
      return index + "/segments/" + s["segment"].get<std::string>();
  }
  FAIL("version has no segment of its own");
  return "";
}

}  // namespace

TEST_CASE("Reader answers exactly what pidx query answers, through C++ and C") {
  TempDir dir;
  const auto catalog = GenCatalog(dir.path() + "/c.jsonl", 1200, 3);
  const auto index = Build(catalog, dir.path() + "/idx");
  std::unique_ptr<Reader> r;
  REQUIRE(Reader::Open(index, &r).ok());
  pidx_reader* c = nullptr;
  REQUIRE(pidx_reader_open(index.c_str(), &c, nullptr) == PIDX_OK);
  for (const auto& q : kQueries) {
    for (size_t limit : {size_t{0}, size_t{1}, size_t{10}}) {
      INFO(q << " limit " << limit);
      const auto want = CliQuery(index, q, limit);
      pidx::reader::SearchResult got;
      REQUIRE(r->Search(q, limit, &got).ok());
      RequireSame(got, want);
      CHECK(got.version == 1);
      uint64_t n = 0;
      REQUIRE(r->Count(q, &n).ok());
      CHECK(n == got.total);

      pidx_result* res = nullptr;
      REQUIRE(pidx_reader_search(c, q.data(), q.size(), limit, &res, nullptr) == PIDX_OK);
      REQUIRE(pidx_result_total(res) == got.total);
      REQUIRE(pidx_result_hit_count(res) == got.hits.size());
      for (size_t i = 0; i < got.hits.size(); ++i) {
        size_t len = 0;
        const char* id = pidx_result_hit_id(res, i, &len);
        CHECK(std::string(id, len) == got.hits[i].id);
        CHECK(std::string(pidx_result_hit_title(res, i, nullptr)) == got.hits[i].title);
        // Lookup gives each hit's stored fields.
        pidx::reader::Hit h;
        bool found = false;
        REQUIRE(r->Lookup(got.hits[i].id, &h, &found).ok());
        CHECK(found);
        CHECK(h.title == got.hits[i].title);
        CHECK(h.shard == got.hits[i].shard);
        pidx_product* p = nullptr;
        REQUIRE(pidx_reader_lookup(c, id, len, &p, nullptr) == PIDX_OK);
        REQUIRE(p != nullptr);
        CHECK(std::string(pidx_product_shard(p, nullptr)) == got.hits[i].shard);
        pidx_product_free(p);
      }
      pidx_result_free(res);
    }
  }
  pidx::reader::Hit h;
  bool found = true;
  REQUIRE(r->Lookup("SKU-no-such", &h, &found).ok());
  CHECK_FALSE(found);

  // The manifest's facts, as `pidx versions` shows them.
  const auto info = r->Info();
  auto versions = nlohmann::json::parse(Pidx({"versions", "--index", index, "--json"}).out);
  CHECK(info.name == "v000001");
  CHECK(info.docs == 1200);
  CHECK(info.operation == "build");
  CHECK(info.docs == versions["versions"][0]["docs"].get<uint64_t>());
  CHECK(info.shards == versions["versions"][0]["shard_count"].get<uint64_t>());
  uint64_t sum = 0;
  for (const auto& [name, docs] : info.categories) sum += docs;
  CHECK(sum == 1200);
  pidx_info* ci = nullptr;
  REQUIRE(pidx_reader_info(c, &ci, nullptr) == PIDX_OK);
  CHECK(pidx_info_docs(ci) == 1200);
  CHECK(pidx_info_category_count(ci) == info.categories.size());
  CHECK(std::string(pidx_info_name(ci)) == "v000001");
  pidx_info_free(ci);
  pidx_reader_close(c);
}

TEST_CASE("Reader errors carry a kind, a message and, for syntax, the column pidx query names") {
  TempDir dir;
  std::unique_ptr<Reader> r;
  auto e = Reader::Open(dir.path() + "/none", &r);
  CHECK(e.code() == ErrorCode::kNotFound);
  CHECK_FALSE(r);
  const auto index = Build(GenCatalog(dir.path() + "/c.jsonl", 200, 1), dir.path() + "/idx");
  REQUIRE(Reader::Open(index, &r).ok());
  pidx::reader::SearchResult res;
  e = r->Search("usb (cable", 10, &res);
  REQUIRE(e.code() == ErrorCode::kQuerySyntax);
  auto cli = Pidx({"query", "--index", index, "--log-format", "json", "--", "usb (cable"});
  REQUIRE(cli.exit_code == 64);
  REQUIRE_FALSE(cli.Events("index.query.failed").empty());
  CHECK(e.column() == cli.Events("index.query.failed")[0]["column"].get<size_t>());
  CHECK(e.message().find("column") != std::string::npos);
  CHECK(r->Search("x", pidx::reader::kMaxLimit + 1, &res).code() == ErrorCode::kInvalidArgument);
  pidx::reader::OpenOptions pin;
  pin.version = 9;
  CHECK(Reader::Open(index, pin, &r).code() == ErrorCode::kNotFound);

  // The C API: NULLs are invalid arguments, never a crash; every error has a message.
  pidx_error* err = nullptr;
  pidx_reader* c = nullptr;
  CHECK(pidx_reader_open(nullptr, &c, &err) == PIDX_ERR_INVALID_ARGUMENT);
  CHECK(std::string(pidx_error_message(err)).find("NULL") != std::string::npos);
  pidx_error_free(err);
  err = nullptr;
  CHECK(pidx_reader_open((dir.path() + "/none").c_str(), &c, &err) == PIDX_ERR_NOT_FOUND);
  CHECK(pidx_error_code(err) == PIDX_ERR_NOT_FOUND);
  CHECK(c == nullptr);
  pidx_error_free(err);
  err = nullptr;
  REQUIRE(pidx_reader_open(index.c_str(), &c, &err) == PIDX_OK);
  CHECK(err == nullptr);
  uint64_t total = 0;
  CHECK(pidx_reader_count(c, "(", 1, &total, &err) == PIDX_ERR_QUERY_SYNTAX);
  CHECK(pidx_error_column(err) == 2);  // after the '(', as pidx query says
  pidx_error_free(err);
  CHECK(pidx_reader_count(c, nullptr, 5, &total, nullptr) == PIDX_ERR_INVALID_ARGUMENT);
  CHECK(pidx_reader_search(nullptr, "x", 1, 1, nullptr, nullptr) == PIDX_ERR_INVALID_ARGUMENT);
  // A query with a NUL byte is passed whole, by length.
  CHECK(pidx_reader_count(c, "a\0b", 3, &total, nullptr) == PIDX_OK);
  CHECK(std::string(pidx_code_name(PIDX_ERR_CORRUPT)) == "corrupt");
  CHECK(std::string(pidx_code_name(static_cast<pidx_code>(99))) == "unknown");
  CHECK(pidx_abi_version() == PIDX_ABI_VERSION);
  CHECK(std::string(pidx_library_version()) == pidx::reader::LibraryVersion());
  pidx_reader_close(c);
  pidx_reader_close(nullptr);
}

TEST_CASE("Refresh switches atomically under concurrent searches and releases the old version") {
  TempDir dir;
  const auto a = GenCatalog(dir.path() + "/a.jsonl", 1500, 1);
  const auto b = GenCatalog(dir.path() + "/b.jsonl", 1500, 2);
  const auto index = Build(a, dir.path() + "/idx");
  std::unique_ptr<Reader> r;
  REQUIRE(Reader::Open(index, &r).ok());
  const std::string q = "black OR set";
  std::map<uint64_t, nlohmann::json> expected;
  expected[1] = CliQuery(index, q, 10, 1);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::map<uint64_t, pidx::reader::SearchResult>> seen(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      while (!stop) {
        pidx::reader::SearchResult res;
        if (!r->Search(q, 10, &res).ok()) {
          ++bad;
          continue;
        }
        seen[t].emplace(res.version, res);
      }
    });
  }
  for (int round = 0; round < 4; ++round) {
    Build(round % 2 == 0 ? b : a, index);
    pidx::reader::RefreshResult rr;
    REQUIRE(r->Refresh(&rr).ok());
    CHECK(rr.switched);
    CHECK(rr.to == rr.from + 1);
    CHECK(r->version() == rr.to);
    expected[rr.to] = CliQuery(index, q, 10, rr.to);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  stop = true;
  for (auto& t : threads) t.join();
  CHECK(bad == 0);
  size_t checked = 0;
  for (const auto& m : seen) {
    for (const auto& [v, res] : m) {
      INFO("v" << v);
      REQUIRE(expected.count(v));
      RequireSame(res, expected[v]);
      ++checked;
    }
  }
  CHECK(checked >= 3);
  const auto stats = r->GetStats();
  CHECK(stats.switches == 4);
  CHECK(stats.open_versions == 1);  // the four replaced versions were released
  pidx::reader::RefreshResult rr;
  REQUIRE(r->Refresh(&rr).ok());
  CHECK_FALSE(rr.switched);
}

TEST_CASE("A damaged new version is not served: the old one stays and the failure is kept") {
  TempDir dir;
  const auto a = GenCatalog(dir.path() + "/a.jsonl", 800, 1);
  const auto b = GenCatalog(dir.path() + "/b.jsonl", 800, 2);
  const auto index = Build(a, dir.path() + "/idx");
  std::unique_ptr<Reader> r;
  REQUIRE(Reader::Open(index, &r).ok());
  uint64_t before = 0;
  REQUIRE(r->Count("set", &before).ok());
  Build(b, index);
  const std::string victim = NewSegment(index, 2, 1);
  pidx::testing::FlipByte(victim, std::filesystem::file_size(victim) / 2);
  pidx::reader::RefreshResult rr;
  auto e = r->Refresh(&rr);
  CHECK(e.code() == ErrorCode::kCorrupt);
  CHECK(e.message().find("v000002") != std::string::npos);
  CHECK_FALSE(rr.switched);
  CHECK(r->version() == 1);
  CHECK(r->LastRefreshError().code() == ErrorCode::kCorrupt);
  uint64_t n = 0;
  REQUIRE(r->Count("set", &n).ok());
  CHECK(n == before);
  // C API: the same through pidx_reader_refresh.
  pidx_reader* c = nullptr;
  REQUIRE(pidx_reader_open_version(index.c_str(), 1, &c, nullptr) == PIDX_OK);
  pidx_reader_close(c);
  // A good version after it is served again, and the failure is forgotten.
  Build(a, index);
  REQUIRE(r->Refresh(&rr).ok());
  CHECK(rr.switched);
  CHECK(r->version() == 3);
  CHECK(r->LastRefreshError().ok());
  CHECK(r->GetStats().failed_refreshes == 1);
  CHECK(r->GetStats().open_versions == 1);
}
