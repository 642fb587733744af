// gc (ops/gc.h) in process on real indexes built by the library: what it keeps, what it
// removes, what it never touches, and when it refuses to remove anything.
#include "pidx/ops/gc.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "pidx/ops/build.h"
#include "pidx/snapshot/snapshot_store.h"
#include "support/damage.h"
#include "support/products.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;
using pidx::Gc;
using pidx::GcOptions;
using pidx::StatusKind;
using pidx::snapshot::SnapshotStore;
using pidx::testing::Item;
using pidx::testing::TempDir;

namespace {

// Builds `versions` versions, each from a catalog one product larger than the last (so every
// build changes some shard and publishes), and returns the index directory.
std::string IndexWithVersions(const TempDir& dir, int versions) {
  std::vector<Item> items;
  for (int i = 0; i < 40; ++i) {
    items.push_back({"p" + std::to_string(i), i % 2 ? "lamps" : "desks", "oak lamp"});
  }
  const std::string index = dir.File("index");
  for (int v = 0; v < versions; ++v) {
    items.push_back({"n" + std::to_string(v), "lamps", "new lamp " + std::to_string(v)});
    pidx::BuildOptions options;
    options.catalogs = {
        dir.Write("c" + std::to_string(v) + ".jsonl", pidx::testing::ToJsonl(items))};
    options.index_dir = index;
    options.threads = 1;
    REQUIRE(pidx::Build(options, pidx::Env::Default()).ok());
  }
  return index;
}

std::set<std::string> Listing(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    names.insert(fs::relative(e.path(), dir).string());
  }
  return names;
}

// Every segment a manifest of `versions` names.
std::set<std::string> Referenced(const std::string& index, const std::vector<uint64_t>& versions) {
  auto store = SnapshotStore::Open(pidx::Env::Default(), index, false);
  REQUIRE(store.ok());
  std::set<std::string> names;
  for (uint64_t v : versions) {
    auto m = store.value().LoadManifest(v);
    REQUIRE(m.ok());
    for (const auto& s : m.value().shards) names.insert("segments/" + s.segment);
  }
  return names;
}

}  // namespace

TEST_CASE("gc keeps the newest, the current and the protected versions and what they use") {
  TempDir dir;
  const std::string index = IndexWithVersions(dir, 5);
  // Files gc must never touch: not of pidx's exact forms.
  for (const std::string planted :
       {"versions/notes.txt", "versions/v1.manifest", "segments/readme.seg",
        "segments/lamps_001-zzzzzzzzzzzzzzzz.seg", "keep-me"}) {
    dir.Write("index/" + planted, "operator's file");
  }
  const std::set<std::string> referenced_by_2 = Referenced(index, {2});
  const std::set<std::string> kept_refs = Referenced(index, {1, 4, 5});

  GcOptions options;
  options.index_dir = index;
  options.keep = 2;
  options.protect = {1};
  options.grace_ms = 0;

  // A dry run decides the same and removes nothing.
  const std::set<std::string> before = Listing(index);
  options.dry_run = true;
  auto dry = Gc(options, pidx::Env::Default());
  REQUIRE(dry.ok());
  CHECK(Listing(index) == before);

  options.dry_run = false;
  auto r = Gc(options, pidx::Env::Default());
  REQUIRE(r.ok());
  CHECK(r.value().current == 5);
  CHECK(r.value().kept == std::vector<uint64_t>{1, 4, 5});
  REQUIRE(dry.value().removed.size() == r.value().removed.size());
  for (size_t i = 0; i < r.value().removed.size(); ++i) {
    CHECK(dry.value().removed[i].path == r.value().removed[i].path);
  }

  const std::set<std::string> after = Listing(index);
  for (const std::string planted :
       {"versions/notes.txt", "versions/v1.manifest", "segments/readme.seg",
        "segments/lamps_001-zzzzzzzzzzzzzzzz.seg", "keep-me"}) {
    CHECK(after.count(planted) == 1);
  }
  for (const auto& seg : kept_refs) CHECK(after.count(seg) == 1);
  // Removed: versions 2 and 3, and each segment only they referenced.
  uint64_t freed = 0;
  for (const auto& removal : r.value().removed) {
    INFO(removal.path);
    CHECK(after.count(removal.path) == 0);
    CHECK(kept_refs.count(removal.path) == 0);
    freed += removal.bytes;
  }
  CHECK(freed == r.value().bytes_freed);
  for (const auto& seg : referenced_by_2) {
    if (kept_refs.count(seg) == 0) CHECK(after.count(seg) == 0);
  }
  auto store = SnapshotStore::Open(pidx::Env::Default(), index, false);
  REQUIRE(store.ok());
  CHECK(store.value().ListVersions().value() == std::vector<uint64_t>{1, 4, 5});

  // A second gc finds nothing more to do.
  auto again = Gc(options, pidx::Env::Default());
  REQUIRE(again.ok());
  CHECK(again.value().removed.empty());
}

TEST_CASE("gc leaves young unreferenced segments for the grace period") {
  TempDir dir;
  const std::string index = IndexWithVersions(dir, 3);
  GcOptions options;
  options.index_dir = index;
  options.keep = 1;
  auto r = Gc(options, pidx::Env::Default());  // default grace: 1 h, everything is young
  REQUIRE(r.ok());
  for (const auto& removal : r.value().removed) CHECK(removal.kind != "segment");
  CHECK_FALSE(r.value().young_segments.empty());
}

TEST_CASE("gc refuses bad requests and a damaged kept manifest, removing nothing") {
  TempDir dir;
  const std::string index = IndexWithVersions(dir, 3);
  GcOptions options;
  options.index_dir = index;
  options.grace_ms = 0;
  options.keep = 0;
  CHECK(Gc(options, pidx::Env::Default()).status().kind() == StatusKind::kUsage);
  options.keep = 1;
  options.protect = {99};
  CHECK(Gc(options, pidx::Env::Default()).status().kind() == StatusKind::kNotFound);

  options.protect = {1};
  auto store = SnapshotStore::Open(pidx::Env::Default(), index, false);
  REQUIRE(store.ok());
  pidx::testing::FlipByte(store.value().ManifestPath(1), 10);
  const std::set<std::string> before = Listing(index);
  CHECK(Gc(options, pidx::Env::Default()).status().kind() == StatusKind::kCorrupt);
  CHECK(Listing(index) == before);
}
