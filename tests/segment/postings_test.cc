#include "pidx/segment/postings.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "pidx/base/coding.h"

namespace pidx::segment {
namespace {

constexpr uint32_t kNoLimit = UINT32_MAX;

Postings Of(const std::vector<uint32_t>& ids) {
  return Postings::FromSorted(ids.data(), ids.size());
}

std::vector<uint32_t> Iota(uint32_t begin, uint32_t end, uint32_t step = 1) {
  std::vector<uint32_t> v;
  for (uint64_t i = begin; i < end; i += step) v.push_back(static_cast<uint32_t>(i));
  return v;
}

std::string Serialize(const Postings& p) {
  std::string s;
  p.SerializeTo(&s);
  return s;
}

// CheckBytes (the structural walk verify uses) must reach the verdict Deserialize reaches,
// with the same message, on every input: each test of Deserialize below tests it too.
void CheckAgrees(std::string_view bytes, uint32_t limit, const Result<Postings>& r) {
  uint64_t cardinality = 0;
  Status c = Postings::CheckBytes(bytes, limit, &cardinality);
  CHECK(c.ok() == r.ok());
  if (r.ok()) {
    CHECK(cardinality == r->Cardinality());
  } else {
    CHECK(c.kind() == r.status().kind());
    CHECK(c.message() == r.status().message());
  }
}

void RequireRoundTrip(const std::vector<uint32_t>& ids) {
  Postings p = Of(ids);
  std::string bytes = Serialize(p);
  REQUIRE(bytes.size() == p.SerializedBytes());
  Result<Postings> back = Postings::Deserialize(bytes, kNoLimit);
  CheckAgrees(bytes, kNoLimit, back);
  REQUIRE(back.ok());
  CHECK(back->ToVector() == ids);
  CHECK(back->Cardinality() == ids.size());
  CHECK(*back == p);
  CHECK(Serialize(*back) == bytes);
}

void PutU16(std::string* s, uint16_t v) {
  s->push_back(static_cast<char>(v & 0xff));
  s->push_back(static_cast<char>(v >> 8));
}

// A portable bitmap without run containers, written by hand so that tests can say
// exactly which invariant is broken: (key, values) per array container.
std::string ArrayBitmap(const std::vector<std::pair<uint16_t, std::vector<uint16_t>>>& cs) {
  std::string s;
  PutFixed32(&s, 12346);  // SERIAL_COOKIE_NO_RUNCONTAINER
  PutFixed32(&s, static_cast<uint32_t>(cs.size()));
  for (const auto& [key, values] : cs) {
    PutU16(&s, key);
    PutU16(&s, static_cast<uint16_t>(values.size() - 1));
  }
  uint32_t offset = static_cast<uint32_t>(s.size() + 4 * cs.size());
  for (const auto& c : cs) {
    PutFixed32(&s, offset);
    offset += static_cast<uint32_t>(2 * c.second.size());
  }
  for (const auto& c : cs) {
    for (uint16_t v : c.second) PutU16(&s, v);
  }
  return s;
}

// One run container (fewer than 4 containers, so no offset table): runs as (start, length-1)
// and the cardinality the header claims.
std::string RunBitmap(uint16_t key, const std::vector<std::pair<uint16_t, uint16_t>>& runs,
                      uint32_t claimed_cardinality) {
  std::string s;
  PutFixed32(&s, 12347);  // SERIAL_COOKIE, one container
  s.push_back(1);         // run flags: container 0 is a run container
  PutU16(&s, key);
  PutU16(&s, static_cast<uint16_t>(claimed_cardinality - 1));
  PutU16(&s, static_cast<uint16_t>(runs.size()));
  for (const auto& [start, length] : runs) {
    PutU16(&s, start);
    PutU16(&s, length);
  }
  return s;
}

Status DeserializeStatus(std::string_view bytes, uint32_t limit = kNoLimit) {
  Result<Postings> r = Postings::Deserialize(bytes, limit);
  CheckAgrees(bytes, limit, r);
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace

TEST_CASE("sparse postings round-trip as array containers") {
  RequireRoundTrip({0});
  RequireRoundTrip({1, 5, 77, 1000, 65535});
  RequireRoundTrip({3, 70000, 1u << 20, 3000000000u});
  CHECK(Of({1, 5, 77}).Containers().array == 1);
}

TEST_CASE("dense postings become a bitmap container and round-trip") {
  std::vector<uint32_t> evens = Iota(0, 20000, 2);  // 10000 ids, no runs worth keeping
  RequireRoundTrip(evens);
  ContainerMix mix = Of(evens).Containers();
  CHECK(mix.bitmap == 1);
  CHECK(mix.array == 0);
  CHECK(mix.run == 0);
}

TEST_CASE("consecutive ids become run containers across 65536 boundaries") {
  std::vector<uint32_t> ids = Iota(60000, 200000);
  RequireRoundTrip(ids);
  ContainerMix mix = Of(ids).Containers();
  CHECK(mix.run == 4);  // keys 0, 1, 2 and 3
  CHECK(mix.array == 0);
  CHECK(mix.bitmap == 0);
  // Run-optimized: far smaller than the 140000 ids it holds.
  CHECK(Of(ids).SerializedBytes() < 100);
  RequireRoundTrip(Iota(65530, 65542));
}

TEST_CASE("a bitmap mixing all three container kinds counts each") {
  std::vector<uint32_t> ids = {1, 2, 9};                              // key 0: array
  for (uint32_t v : Iota(65536, 65536 + 20000, 2)) ids.push_back(v);  // key 1: bitmap
  for (uint32_t v : Iota(131072, 131072 + 5000)) ids.push_back(v);    // key 2: run
  for (uint32_t v : Iota(196608, 196608 + 3000)) ids.push_back(v);    // key 3: run
  ContainerMix mix = Of(ids).Containers();
  CHECK(mix.array == 1);
  CHECK(mix.bitmap == 1);
  CHECK(mix.run == 2);
  RequireRoundTrip(ids);
}

TEST_CASE("an empty posting list serializes and reads back empty") {
  Postings empty;
  CHECK(empty.Cardinality() == 0);
  CHECK(empty.ToVector().empty());
  std::string bytes = Serialize(empty);
  Result<Postings> back = Postings::Deserialize(bytes, 0);
  REQUIRE(back.ok());
  CHECK(back->Cardinality() == 0);
  CHECK(Postings::Range(0) == empty);
}

TEST_CASE("set operations of postings") {
  Postings a = Of({1, 2, 3, 100000});
  Postings b = Of({2, 3, 4, 100000, 100001});
  CHECK(a.And(b).ToVector() == std::vector<uint32_t>{2, 3, 100000});
  CHECK(a.Or(b).ToVector() == std::vector<uint32_t>{1, 2, 3, 4, 100000, 100001});
  CHECK(a.AndNot(b).ToVector() == std::vector<uint32_t>{1});
  CHECK(b.AndNot(a).ToVector() == std::vector<uint32_t>{4, 100001});
  CHECK(a.AndCardinality(b) == 3);
  CHECK(a.Contains(100000));
  CHECK_FALSE(a.Contains(4));
  CHECK(Postings::Range(5).ToVector() == std::vector<uint32_t>{0, 1, 2, 3, 4});
  CHECK(Postings::Range(70000).Cardinality() == 70000);
  CHECK(Postings::Range(70000).AndNot(a).Cardinality() == 70000 - 3);
  CHECK(a == Of({1, 2, 3, 100000}));
  CHECK_FALSE(a == b);
}

TEST_CASE("postings survive moves") {
  Postings a = Of({7, 8});
  Postings b(std::move(a));
  CHECK(b.ToVector() == std::vector<uint32_t>{7, 8});
  Postings c;
  c = std::move(b);
  CHECK(c.Cardinality() == 2);
}

TEST_CASE("building the same postings twice gives identical bytes") {
  std::vector<uint32_t> ids = {1, 2, 3, 500, 70000};
  for (uint32_t v : Iota(200000, 260000, 3)) ids.push_back(v);
  CHECK(Serialize(Of(ids)) == Serialize(Of(ids)));
}

TEST_CASE("Deserialize rejects a doc id at or past the doc limit") {
  std::string bytes = Serialize(Of({0, 5, 9}));
  CHECK(Postings::Deserialize(bytes, 10).ok());
  Status s = DeserializeStatus(bytes, 9);
  CHECK(s.kind() == StatusKind::kCorrupt);
  CHECK(s.message() == "posting list holds doc id 9 but the segment has 9 docs");
  // A run container's last id is checked too, not only array values.
  CHECK(DeserializeStatus(Serialize(Of(Iota(0, 1000))), 999).kind() == StatusKind::kCorrupt);
}

TEST_CASE("Deserialize rejects trailing bytes after the bitmap") {
  std::string bytes = Serialize(Of({1, 2, 3}));
  Status s = DeserializeStatus(bytes + '\0');
  CHECK(s.kind() == StatusKind::kCorrupt);
  CHECK_THAT(s.message(), Catch::Contains("trailing or missing bytes"));
}

TEST_CASE("Deserialize rejects every truncation of a posting list") {
  std::vector<uint32_t> ids = {1, 2, 3, 70000};
  for (uint32_t v : Iota(131072, 140000)) ids.push_back(v);
  for (uint32_t v : Iota(196608, 196608 + 20000, 2)) ids.push_back(v);
  std::string bytes = Serialize(Of(ids));
  for (size_t len = 0; len < bytes.size(); ++len) {
    INFO("length " << len);
    CHECK(DeserializeStatus(bytes.substr(0, len)).kind() == StatusKind::kCorrupt);
  }
}

TEST_CASE("Deserialize never crashes on random bytes") {
  std::mt19937 rng(42);
  for (int round = 0; round < 3000; ++round) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    // Start half of them with a real cookie so the parser gets past the first check.
    if (round % 2 == 0 && bytes.size() >= 4) {
      bytes[0] = static_cast<char>(0x3a + (round % 4 == 0 ? 1 : 0));
      bytes[1] = 0x30;
      if (round % 4 != 0) bytes[2] = bytes[3] = 0;
    }
    Result<Postings> r = Postings::Deserialize(bytes, kNoLimit);
    CheckAgrees(bytes, kNoLimit, r);
    if (r.ok()) {
      CHECK(Serialize(*r) == bytes);  // whatever passes is canonical
    } else {
      CHECK(r.status().kind() == StatusKind::kCorrupt);
    }
  }
}

TEST_CASE("Deserialize of mutated posting lists accepts only canonical valid bitmaps") {
  std::vector<uint32_t> ids = {1, 2, 3, 9, 70000, 70002};
  for (uint32_t v : Iota(131072, 140000)) ids.push_back(v);
  for (uint32_t v : Iota(196608, 196608 + 20000, 2)) ids.push_back(v);
  const std::string good = Serialize(Of(ids));
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes = good;
    for (int k = 0; k < 3; ++k) bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
    Result<Postings> r = Postings::Deserialize(bytes, kNoLimit);
    CheckAgrees(bytes, kNoLimit, r);
    if (r.ok()) {
      CHECK(Serialize(*r) == bytes);
      std::vector<uint32_t> v = r->ToVector();
      CHECK(std::is_sorted(v.begin(), v.end()));
      CHECK(std::adjacent_find(v.begin(), v.end()) == v.end());
    } else {
      CHECK(r.status().kind() == StatusKind::kCorrupt);
    }
  }
}

TEST_CASE("hand-written portable bitmaps are accepted when valid") {
  std::string bytes = ArrayBitmap({{0, {1, 5}}, {2, {7}}});
  Result<Postings> r = Postings::Deserialize(bytes, kNoLimit);
  REQUIRE(r.ok());
  CHECK(r->ToVector() == std::vector<uint32_t>{1, 5, 131079});
  Result<Postings> runs = Postings::Deserialize(RunBitmap(1, {{10, 4}, {20, 0}}, 6), kNoLimit);
  REQUIRE(runs.ok());
  CHECK(runs->ToVector() == std::vector<uint32_t>{65546, 65547, 65548, 65549, 65550, 65556});
}

TEST_CASE("postings serialize to the bytes the RoaringFormatSpec prescribes") {
  // Written from the spec, not from CRoaring, so that roaring-go and Java read what we write.
  CHECK(Serialize(Of({1, 5, 65536 + 7})) == ArrayBitmap({{0, {1, 5}}, {1, {7}}}));
  CHECK(Serialize(Of(Iota(65536 + 10, 65536 + 110))) == RunBitmap(1, {{10, 99}}, 100));
}

TEST_CASE("Deserialize rejects an array container that is not sorted") {
  Status s = DeserializeStatus(ArrayBitmap({{0, {5, 1}}}));
  CHECK(s.kind() == StatusKind::kCorrupt);
  CHECK(s.message() == "posting list: array container 0 is not sorted and unique");
}

TEST_CASE("Deserialize rejects an array container with a duplicate id") {
  CHECK(DeserializeStatus(ArrayBitmap({{3, {1, 4, 4}}})).message() ==
        "posting list: array container 3 is not sorted and unique");
}

TEST_CASE("Deserialize rejects container keys that are not increasing") {
  CHECK(DeserializeStatus(ArrayBitmap({{2, {1}}, {1, {1}}})).message() ==
        "posting list: container keys not strictly increasing (1 after 2)");
  CHECK(DeserializeStatus(ArrayBitmap({{2, {1}}, {2, {3}}})).kind() == StatusKind::kCorrupt);
}

TEST_CASE("Deserialize rejects a bitmap container whose cardinality lies") {
  std::string bytes = Serialize(Of(Iota(0, 20000, 2)));  // one bitmap container
  // The cardinality - 1 of the only container sits at bytes 10..11 (after cookie, size, key).
  REQUIRE(bytes[10] == static_cast<char>(9999 & 0xff));
  bytes[10] = static_cast<char>(bytes[10] + 1);
  Status s = DeserializeStatus(bytes);
  CHECK(s.kind() == StatusKind::kCorrupt);
  CHECK(s.message() == "posting list: bitset container 0 claims cardinality 10001 but holds 10000");
}

TEST_CASE("Deserialize rejects overlapping or unordered runs") {
  CHECK(DeserializeStatus(RunBitmap(0, {{10, 5}, {12, 1}}, 8)).message() ==
        "posting list: run container 0 has unordered or overlapping runs");
  CHECK(DeserializeStatus(RunBitmap(0, {{20, 0}, {10, 0}}, 2)).kind() == StatusKind::kCorrupt);
}

TEST_CASE("Deserialize rejects a run that spills past 65535 into the next key") {
  CHECK(DeserializeStatus(RunBitmap(0, {{65530, 10}}, 11)).message() ==
        "posting list: run container 0 has a run past 65535");
}

TEST_CASE("Deserialize rejects a run container whose stored cardinality lies") {
  // CRoaring ignores this field on read; roaring-go and Java do not, so it must be checked.
  Status s = DeserializeStatus(RunBitmap(0, {{10, 4}}, 6));
  CHECK(s.kind() == StatusKind::kCorrupt);
  CHECK(s.message() == "posting list is not in canonical portable Roaring form");
}

TEST_CASE("Deserialize rejects garbage in the padding of the run flags") {
  std::string bytes = RunBitmap(0, {{10, 4}}, 5);
  REQUIRE(DeserializeStatus(bytes).ok());
  bytes[4] = 0x03;  // flags a second container that does not exist
  CHECK(DeserializeStatus(bytes).kind() == StatusKind::kCorrupt);
}

TEST_CASE("Deserialize rejects a wrong container offset table") {
  std::string bytes = ArrayBitmap({{0, {1}}, {1, {2}}});
  REQUIRE(DeserializeStatus(bytes).ok());
  bytes[16] = static_cast<char>(bytes[16] + 2);  // first offset entry
  CHECK(DeserializeStatus(bytes).message() ==
        "posting list is not in canonical portable Roaring form");
}

TEST_CASE("CheckBytes marks exactly the ids of the posting list as reached") {
  std::vector<uint32_t> ids = {1, 2, 3, 9, 63, 64, 70000, 70002};
  for (uint32_t v : Iota(131072, 140000)) ids.push_back(v);             // a run
  for (uint32_t v : Iota(196608, 196608 + 20000, 2)) ids.push_back(v);  // a bitset
  const std::string bytes = Serialize(Of(ids));
  const uint32_t limit = 196608 + 20000;
  std::vector<uint64_t> reached((limit + 63) / 64, 0);
  uint64_t cardinality = 0;
  REQUIRE(Postings::CheckBytes(bytes, limit, &cardinality, &reached).ok());
  CHECK(cardinality == ids.size());
  std::vector<uint32_t> marked;
  for (uint32_t id = 0; id < limit; ++id) {
    if ((reached[id >> 6] >> (id & 63)) & 1) marked.push_back(id);
  }
  CHECK(marked == ids);
}

TEST_CASE("SerializeOne writes what CRoaring writes for a one-id posting list") {
  for (uint32_t id : {0u, 1u, 65535u, 65536u, 70000u, 123456789u, UINT32_MAX}) {
    INFO(id);
    std::string one;
    Postings::SerializeOne(id, &one);
    CHECK(one == Serialize(Of({id})));
  }
}

TEST_CASE("Deserialize rejects an empty byte string") {
  CHECK(DeserializeStatus("").kind() == StatusKind::kCorrupt);
}

}  // namespace pidx::segment
