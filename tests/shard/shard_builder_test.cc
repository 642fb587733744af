#include "pidx/shard/shard_builder.h"

#include <catch2/catch.hpp>

#include "pidx/segment/segment_reader.h"
#include "pidx/shard/signature.h"

using pidx::shard::ShardBuilder;

namespace {
pidx::segment::SegmentReader Open(const std::string& bytes) {
  auto r = pidx::segment::SegmentReader::Open(bytes, nullptr, "test.seg");
  REQUIRE(r.ok());
  return std::move(r).value();
}
}  // namespace

TEST_CASE("local doc ids follow external id order, whatever the order of adds") {
  ShardBuilder a("books_000"), b("books_000");
  a.Add("B", "b", 2, {"title:b", "title:common"});
  a.Add("A", "a", 1, {"title:a", "title:common"});
  a.Add("C", "c", 3, {"title:common"});
  b.Add("C", "c", 3, {"title:common"});
  b.Add("A", "a", 1, {"title:a", "title:common"});
  b.Add("B", "b", 2, {"title:b", "title:common"});
  auto ra = a.Finish();
  auto rb = b.Finish();
  REQUIRE(ra.ok());
  REQUIRE(rb.ok());
  CHECK(ra->bytes == rb->bytes);
  CHECK(ra->signature == rb->signature);
  CHECK(ra->docs == 3);
  CHECK(ra->terms == 3);
  CHECK(ra->postings == 5);

  auto reader = Open(ra->bytes);
  CHECK(reader.doc(0).external_id == "A");
  CHECK(reader.doc(2).external_id == "C");
  auto t = reader.FindTerm("title:common");
  REQUIRE(t);
  CHECK(reader.postings(*t)->ToVector() == std::vector<uint32_t>{0, 1, 2});
  CHECK(reader.postings(*reader.FindTerm("title:b"))->ToVector() == std::vector<uint32_t>{1});
  CHECK(reader.Validate().ok());
}

TEST_CASE("a content change changes the signature, the same content keeps it") {
  ShardBuilder a("s_000"), b("s_000");
  a.Add("A", "a", 1, {"title:a"});
  b.Add("A", "a", 99, {"title:a"});
  CHECK(a.Finish()->signature != b.Finish()->signature);
}

TEST_CASE("the term Bloom filter has every term of the shard") {
  ShardBuilder a("s_000");
  a.Add("A", "a", 1, {"brand:acme", "title:rocket"});
  auto built = a.Finish();
  REQUIRE(built.ok());
  auto bloom = pidx::shard::TermBloom::FromHex(built->term_bloom);
  REQUIRE(bloom.ok());
  CHECK(bloom->MayContain("brand:acme"));
  CHECK(bloom->MayContain("title:rocket"));
}
