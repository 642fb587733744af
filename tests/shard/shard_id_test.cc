#include "pidx/shard/shard_id.h"

#include <catch2/catch.hpp>

#include "pidx/base/checksum.h"

using namespace pidx::shard;

TEST_CASE("a category slug keeps [a-z0-9] and turns other runs into one dash") {
  CHECK(CategorySlug("electronics") == "electronics");
  CHECK(CategorySlug("home & kitchen") == "home-kitchen");
  CHECK(CategorySlug("  --sports & outdoors!! ") == "sports-outdoors");
  CHECK(CategorySlug("tv/video 4k") == "tv-video-4k");
  CHECK(CategorySlug("café") == "caf");
}

TEST_CASE("a category without any [a-z0-9] gets c- and 8 hex digits of its XXH3") {
  std::string slug = CategorySlug("手机");
  CHECK(slug == "c-" + pidx::Hex64(pidx::Xxh3("手机")).substr(0, 8));
  CHECK(CategorySlug("手机") != CategorySlug("家电"));
}

TEST_CASE("the shard number is XXH3 of the id modulo shards per category") {
  CHECK(ShardNumber("SKU-1", 8) == pidx::Xxh3("SKU-1") % 8);
  CHECK(ShardNumber("12345", 1000) == pidx::Xxh3("12345") % 1000);
  CHECK(ShardNumber("anything", 1) == 0);
  CHECK(MakeShardId("electronics", 7) == "electronics_007");
  CHECK(MakeShardId("x", 123) == "x_123");
}

TEST_CASE("shard ids parse back into slug and number") {
  std::string slug;
  uint32_t n = 0;
  REQUIRE(ParseShardId("home-kitchen_042", &slug, &n));
  CHECK(slug == "home-kitchen");
  CHECK(n == 42);
  CHECK(!ParseShardId("electronics", &slug, &n));
  CHECK(!ParseShardId("electronics_7", &slug, &n));
  CHECK(!ParseShardId("_007", &slug, &n));
  CHECK(!ParseShardId("a_0x7", &slug, &n));
}

TEST_CASE("a category's shard count is the smallest divisor of S that keeps shards at target") {
  CHECK(ShardCountFor(0, 8, 4096) == 1);
  CHECK(ShardCountFor(4096, 8, 4096) == 1);
  CHECK(ShardCountFor(4097, 8, 4096) == 2);
  CHECK(ShardCountFor(8192, 8, 4096) == 2);
  CHECK(ShardCountFor(8193, 8, 4096) == 4);  // 3 does not divide 8
  CHECK(ShardCountFor(16385, 8, 4096) == 8);
  CHECK(ShardCountFor(1u << 30, 8, 4096) == 8);  // never more than S
  CHECK(ShardCountFor(100, 8, 0) == 8);          // no target: always S
  CHECK(ShardCountFor(21, 10, 10) == 5);         // 2 x 10 < 21 <= 5 x 10
  CHECK(ShardCountFor(5, 1, 1) == 1);
  for (uint32_t s = 1; s <= 60; ++s) {
    for (uint64_t docs : {0ull, 1ull, 7ull, 99ull, 1000ull, 123456ull}) {
      const uint32_t k = ShardCountFor(docs, s, 10);
      INFO("S " << s << " docs " << docs << " K " << k);
      CHECK(IsShardCountOf(k, s));
      // Every id lands in the same shard whether numbered mod K or mod S then mod K: what
      // lets a build route to S partitions and merge them later.
      for (const char* id : {"a", "SKU-1", "x y z", "42"}) {
        CHECK(ShardNumber(id, k) == ShardNumber(id, s) % k);
      }
      if (k < s) CHECK(docs <= uint64_t{k} * 10);
      for (uint32_t smaller = 1; smaller < k; ++smaller) {
        if (s % smaller == 0) CHECK(docs > uint64_t{smaller} * 10);
      }
    }
  }
  CHECK(!IsShardCountOf(3, 8));
  CHECK(!IsShardCountOf(0, 8));
  CHECK(!IsShardCountOf(16, 8));
  CHECK(IsShardCountOf(8, 8));
}
