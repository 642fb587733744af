#include "pidx/shard/shard_builder.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>

#include "pidx/base/env.h"
#include "pidx/segment/segment_reader.h"
#include "pidx/shard/shard_id.h"
#include "pidx/shard/signature.h"
#include "support/temp_dir.h"

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

namespace {

std::vector<std::string> FilesIn(const std::string& dir) {
  auto names = pidx::Env::Default()->ListDir(dir);
  REQUIRE(names.ok());
  return *names;
}

// Adds `n` products spread over the builders in an interleaved, non-sorted order.
void AddProducts(std::vector<ShardBuilder*> builders, int n) {
  for (int i = 0; i < n; ++i) {
    const int k = (i * 7919) % n;
    std::vector<std::string> terms = {"category:books", "title:common",
                                      "title:w" + std::to_string(k % 97),
                                      "title:x" + std::to_string(k)};
    std::sort(terms.begin(), terms.end());
    builders[k % builders.size()]->Add("id-" + std::to_string(k), "t" + std::to_string(k),
                                       static_cast<uint64_t>(k), terms);
  }
}

}  // namespace

TEST_CASE("builders that spill many times write the segments of builders that do not") {
  pidx::testing::TempDir dir;
  ShardBuilder plain_a("s_000"), plain_b("s_001");
  AddProducts({&plain_a, &plain_b}, 3000);
  std::string plain_a_bytes = plain_a.Finish()->bytes;
  std::string plain_b_bytes = plain_b.Finish()->bytes;
  {
    auto area = std::make_shared<pidx::shard::SpillArea>(pidx::Env::Default(), dir.path(), 16384);
    ShardBuilder a("s_000", area), b("s_001", area);
    AddProducts({&a, &b}, 3000);
    CHECK(area->spills() > 5);
    CHECK(area->spilled_bytes() > 0);
    CHECK(a.doc_count() + b.doc_count() == 3000);
    CHECK_FALSE(FilesIn(dir.path()).empty());
    auto ra = a.Finish();
    auto rb = b.Finish();
    REQUIRE(ra.ok());
    REQUIRE(rb.ok());
    CHECK(ra->bytes == plain_a_bytes);
    CHECK(rb->bytes == plain_b_bytes);
  }
  // The last builder took the spill files with it.
  CHECK(FilesIn(dir.path()).empty());
}

TEST_CASE("a spill that cannot be written fails Finish and leaves no file behind") {
  pidx::testing::TempDir dir;
  const std::string missing = dir.File("no/such/dir");
  auto area = std::make_shared<pidx::shard::SpillArea>(pidx::Env::Default(), missing, 1024);
  ShardBuilder a("s_000", area);
  AddProducts({&a}, 200);
  auto r = a.Finish();
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("spilling the shard builders") != std::string::npos);
  CHECK(FilesIn(dir.path()).empty());
}

TEST_CASE("the content hash ignores the order of attrs keys, not of a key's values") {
  const auto& schema = pidx::catalog::Schema::Default();
  const int attrs = schema.FindName("attrs");
  REQUIRE(attrs >= 0);
  auto with = [&](std::vector<std::string> entries) {
    pidx::catalog::Product p;
    p.id = "A";
    p.category = "c";
    p.fields.resize(schema.fields().size());
    p.fields[static_cast<size_t>(attrs)] = std::move(entries);
    return pidx::shard::ProductContentHash(schema, p);
  };
  const std::string us(1, pidx::catalog::kAttrSeparator);
  const uint64_t ab = with({"color" + us + "red", "size" + us + "42", "size" + us + "43"});
  CHECK(with({"size" + us + "42", "size" + us + "43", "color" + us + "red"}) == ab);
  CHECK(with({"size" + us + "42", "color" + us + "red", "size" + us + "43"}) == ab);
  CHECK(with({"color" + us + "red", "size" + us + "43", "size" + us + "42"}) != ab);
  CHECK(with({"color" + us + "blue", "size" + us + "42", "size" + us + "43"}) != ab);
}

TEST_CASE("a builder split in K parts gives each part the segment it would have built alone") {
  auto add = [](ShardBuilder& b, int from, int to, uint32_t k, int part) {
    for (int i = from; i < to; ++i) {
      const std::string id = "P" + std::to_string(i);
      if (part >= 0 && pidx::shard::ShardNumber(id, k) != static_cast<uint32_t>(part)) continue;
      b.Add(id, "t" + std::to_string(i), static_cast<uint64_t>(i),
            {"title:common", "title:w" + std::to_string(i % 7)});
    }
  };
  for (bool spilled : {false, true}) {
    INFO("spilled " << spilled);
    pidx::testing::TempDir dir;
    auto spill = spilled
                     ? std::make_shared<pidx::shard::SpillArea>(pidx::Env::Default(), dir.path(), 1)
                     : nullptr;
    ShardBuilder whole("toys_000", spill);
    add(whole, 0, 90, 4, -1);
    ShardBuilder p0("toys_000", spill), p1("toys_001", spill), p3("toys_003", spill);
    REQUIRE(whole.SplitInto({&p0, &p1, nullptr, &p3}).ok());  // part 2 dropped
    CHECK(whole.doc_count() == 0);
    for (auto [part, b] :
         std::vector<std::pair<ShardBuilder*, int>>{{&p0, 0}, {&p1, 1}, {&p3, 3}}) {
      ShardBuilder direct("toys_00" + std::to_string(b));
      add(direct, 0, 90, 4, b);
      auto x = part->Finish();
      auto y = direct.Finish();
      REQUIRE(x.ok());
      REQUIRE(y.ok());
      CHECK(x->bytes == y->bytes);
      CHECK(x->docs > 0);
    }
    if (spilled) CHECK(spill->spills() > 0);
  }
}
