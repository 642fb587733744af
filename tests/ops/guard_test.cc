// The publishing guard on manifests built in the test: what a whole-catalog publish and a
// partial rebuild refuse, and what the flags let through.
#include "pidx/ops/guard.h"

#include <cmath>

#include <catch2/catch.hpp>

using pidx::CheckCatalogNotEmpty;
using pidx::CheckPublishGuard;
using pidx::CheckShardShrink;
using pidx::PublishGuard;
using pidx::StatusKind;
using pidx::snapshot::Manifest;
using pidx::snapshot::ShardEntry;

namespace {

ShardEntry Entry(const std::string& shard, const std::string& category, uint32_t docs) {
  ShardEntry e;
  e.shard = shard;
  e.segment = shard + "-0000000000000000.seg";
  e.docs = docs;
  e.categories = {{category, docs}};
  return e;
}

Manifest Version(uint64_t number, std::vector<ShardEntry> shards) {
  Manifest m;
  m.version = number;
  m.shards = std::move(shards);
  return m;
}

}  // namespace

TEST_CASE("an empty catalog is refused whatever the flags") {
  CHECK(CheckCatalogNotEmpty(0).kind() == StatusKind::kBadData);
  CHECK(CheckCatalogNotEmpty(1).ok());
  const Manifest empty = Version(0, {});
  CHECK(CheckPublishGuard({0.2, true}, nullptr, empty).kind() == StatusKind::kBadData);
}

TEST_CASE("the version guard refuses a shrink past max_shrink and a lost category") {
  const Manifest base =
      Version(1, {Entry("books_000", "Books", 50), Entry("toys_000", "Toys", 50)});
  const Manifest shrunk =
      Version(0, {Entry("books_000", "Books", 10), Entry("toys_000", "Toys", 10)});
  CHECK(CheckPublishGuard({0.2, false}, &base, shrunk).kind() == StatusKind::kBadData);
  CHECK(CheckPublishGuard({0.9, false}, &base, shrunk).ok());
  CHECK(CheckPublishGuard({0.2, true}, &base, shrunk).ok());
  const Manifest lost = Version(0, {Entry("books_000", "Books", 100)});
  CHECK(CheckPublishGuard({0.2, false}, &base, lost).kind() == StatusKind::kBadData);
  CHECK(CheckPublishGuard({0.2, true}, &base, lost).ok());
}

TEST_CASE("a max_shrink that is not a fraction never switches the guard off") {
  const Manifest base = Version(1, {Entry("books_000", "Books", 100)});
  const Manifest one = Version(0, {Entry("books_000", "Books", 1)});
  CHECK(CheckPublishGuard({std::nan(""), false}, &base, one).kind() == StatusKind::kBadData);
  CHECK(CheckPublishGuard({5.0, false}, &base, one).kind() == StatusKind::kBadData);
}

TEST_CASE("a partial rebuild may not shrink or remove its shard without allow_shrink") {
  std::vector<ShardEntry> shards;
  for (int i = 0; i < 8; ++i) shards.push_back(Entry("books_00" + std::to_string(i), "Books", 50));
  const Manifest base = Version(3, shards);
  // One shard of eight drops to 1: 12% of the version, 98% of the shard.
  Manifest next = base;
  next.shards[2].docs = 1;
  CHECK(CheckPublishGuard({0.2, false}, &base, next).ok());
  CHECK(CheckShardShrink({0.2, false}, base, next, "books_002").kind() == StatusKind::kBadData);
  CHECK(CheckShardShrink({0.2, true}, base, next, "books_002").ok());
  Manifest removed = base;
  removed.shards.erase(removed.shards.begin() + 2);
  CHECK(CheckShardShrink({0.2, false}, base, removed, "books_002").kind() == StatusKind::kBadData);
  // A new shard has nothing to shrink from.
  Manifest added = base;
  added.shards.push_back(Entry("toys_000", "Toys", 1));
  CHECK(CheckShardShrink({0.2, false}, base, added, "toys_000").ok());
}
