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
