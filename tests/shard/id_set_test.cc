#include "pidx/shard/id_set.h"

#include <string>

#include <catch2/catch.hpp>

using pidx::shard::IdSet;

namespace {
uint64_t ConstantHash(std::string_view) { return 42; }
}  // namespace

TEST_CASE("IdSet returns where an id was first seen, and nothing for a new id") {
  IdSet set;
  CHECK(!set.Insert("A", 0, 1));
  CHECK(!set.Insert("B", 0, 2));
  auto first = set.Insert("A", 1, 9);
  REQUIRE(first);
  CHECK(first->file == 0);
  CHECK(first->line == 1);
  CHECK(set.size() == 2);
}

TEST_CASE("IdSet tells colliding hashes apart by the id bytes") {
  IdSet set(&ConstantHash);
  for (int i = 0; i < 5000; ++i) {
    REQUIRE(!set.Insert("id-" + std::to_string(i), 0, static_cast<uint64_t>(i + 1)));
  }
  auto again = set.Insert("id-4321", 2, 7);
  REQUIRE(again);
  CHECK(again->line == 4322);
  CHECK(!set.Insert("id-5000", 0, 1));
}

TEST_CASE("IdSet keeps ids longer than an arena chunk and a million ids") {
  IdSet set;
  const std::string big(3 << 20, 'x');
  CHECK(!set.Insert(big, 0, 1));
  for (uint64_t i = 0; i < 1000000; ++i) REQUIRE(!set.Insert(std::to_string(i), 1, i + 2));
  auto hit = set.Insert(big, 3, 5);
  REQUIRE(hit);
  CHECK(hit->line == 1);
  auto hit2 = set.Insert("999999", 3, 5);
  REQUIRE(hit2);
  CHECK(hit2->file == 1);
  CHECK(hit2->line == 1000001);
  CHECK(set.bytes() < 64u << 20);
}
