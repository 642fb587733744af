#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "pidx/segment/codec.h"

namespace pidx::segment {
namespace {

std::vector<uint32_t> Decode(const std::string& bytes, uint64_t n, uint32_t limit, bool* ok) {
  ByteCursor in(bytes);
  std::vector<uint32_t> ids;
  std::string why;
  *ok = DecodeDeltaList(&in, n, limit, &ids, &why) && in.done();
  return ids;
}

TEST_CASE("varints round-trip at every width and reject malformed forms") {
  std::vector<uint64_t> values = {
      0, 1, 127, 128, 16383, 16384, UINT32_MAX, uint64_t{1} << 63, UINT64_MAX};
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) values.push_back(rng() >> (rng() % 64));
  for (const uint64_t v : values) {
    std::string s;
    PutVarint(&s, v);
    CHECK(s.size() == VarintLength(v));
    ByteCursor in(s);
    uint64_t got = 0;
    REQUIRE(in.Varint(&got));
    CHECK(got == v);
    CHECK(in.done());
    // Every truncation fails rather than read past the end.
    for (size_t cut = 0; cut < s.size(); ++cut) {
      ByteCursor part(std::string_view(s).substr(0, cut));
      CHECK_FALSE(part.Varint(&got));
    }
  }
  uint64_t v;
  CHECK_FALSE(ByteCursor(std::string("\x80\x00", 2)).Varint(&v));  // redundant zero byte
  CHECK_FALSE(ByteCursor(std::string(11, '\xff')).Varint(&v));     // longer than 10 bytes
  CHECK_FALSE(ByteCursor(std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10)).Varint(&v));
  uint32_t v32;
  std::string big;
  PutVarint(&big, uint64_t{UINT32_MAX} + 1);
  CHECK_FALSE(ByteCursor(big).Varint32(&v32));
}

TEST_CASE("SkipVarints stops where decoding n varints stops, and fails past the end") {
  std::mt19937_64 rng(13);
  for (int round = 0; round < 500; ++round) {
    // Runs of one width and mixed widths, so that words hold 0 to 8 ends.
    std::string bytes;
    std::vector<size_t> ends;  // ends[i]: the offset just past varint i
    const int count = static_cast<int>(rng() % 200);
    const int width = static_cast<int>(rng() % 11);  // 10: mixed
    for (int i = 0; i < count; ++i) {
      const int w = width == 10 ? static_cast<int>(rng() % 10) : width;
      PutVarint(&bytes, w == 0 ? rng() % 128 : (uint64_t{1} << (7 * w)) | (rng() >> (64 - 7 * w)));
      ends.push_back(bytes.size());
    }
    bytes += std::string(rng() % 3, '\x80');  // a trailing unterminated varint, sometimes
    for (int n = 0; n <= count + 1; ++n) {
      ByteCursor in(bytes);
      if (n <= count) {
        REQUIRE(in.SkipVarints(n));
        CHECK(bytes.size() - in.remaining() == (n == 0 ? 0 : ends[n - 1]));
        ByteCursor decoded(bytes);
        uint64_t ignored;
        for (int k = 0; k < n; ++k) REQUIRE(decoded.Varint(&ignored));
        CHECK(decoded.remaining() == in.remaining());
      } else {
        CHECK_FALSE(in.SkipVarints(n));
        CHECK(in.remaining() == bytes.size());  // not moved
      }
    }
  }
}

TEST_CASE("delta lists round-trip: random, one doc, and 65536+ docs") {
  std::mt19937 rng(11);
  for (int round = 0; round < 200; ++round) {
    const uint32_t limit = 1 + rng() % 200000;
    std::vector<uint32_t> ids;
    const uint32_t n = 1 + rng() % 40;
    for (uint32_t i = 0; i < n; ++i) ids.push_back(rng() % limit);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::string s;
    EncodeDeltaList(ids.data(), ids.size(), &s);
    bool ok = false;
    CHECK(Decode(s, ids.size(), limit, &ok) == ids);
    CHECK(ok);
  }
  {
    const uint32_t one = 4000000000u;
    std::string s;
    EncodeDeltaList(&one, 1, &s);
    bool ok = false;
    CHECK(Decode(s, 1, UINT32_MAX, &ok) == std::vector<uint32_t>{one});
    CHECK(ok);
    Decode(s, 1, one, &ok);  // the id must be < the doc count
    CHECK_FALSE(ok);
  }
  {
    std::vector<uint32_t> ids;
    for (uint32_t i = 0; i < 70000; ++i) ids.push_back(i * 3);
    std::string s;
    EncodeDeltaList(ids.data(), ids.size(), &s);
    CHECK(s.size() == 70000);  // gaps of 3: one byte each (the first id, 0, too)
    bool ok = false;
    CHECK(Decode(s, ids.size(), 210000, &ok) == ids);
    CHECK(ok);
  }
  {
    std::string s;
    PutVarint(&s, 5);
    PutVarint(&s, 0);  // a zero gap: not strictly increasing
    bool ok = true;
    Decode(s, 2, 100, &ok);
    CHECK_FALSE(ok);
    std::string empty;
    Decode(empty, 0, 100, &ok);
    CHECK(ok);
    Decode(empty, 1, 100, &ok);
    CHECK_FALSE(ok);
  }
}

TEST_CASE("front-coded blocks round-trip, the empty term and shared prefixes included") {
  std::mt19937 rng(5);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> terms;
    if (round % 3 == 0) terms.push_back("");  // the empty term sorts first
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      std::string t = (rng() % 2) ? "title:" : "brand:";
      const int len = static_cast<int>(rng() % 6);
      for (int k = 0; k < len; ++k) t.push_back(static_cast<char>('a' + rng() % 3));
      if (rng() % 10 == 0) t.push_back('\xff');
      terms.push_back(t);
    }
    std::sort(terms.begin(), terms.end());
    terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
    const uint32_t docs = 1000;
    const uint32_t inline_max = 4;
    std::vector<std::vector<uint32_t>> lists;
    std::vector<std::string> encoded(terms.size());
    std::vector<BlockEntry> entries;
    uint64_t roaring = 0;
    for (size_t i = 0; i < terms.size(); ++i) {
      std::vector<uint32_t> ids;
      const uint32_t df = 1 + rng() % 8;
      for (uint32_t k = 0; k < df; ++k) ids.push_back(k * 100 + static_cast<uint32_t>(i));
      lists.push_back(ids);
      BlockEntry e;
      e.term = terms[i];
      e.df = df;
      if (df <= inline_max) {
        EncodeDeltaList(ids.data(), ids.size(), &encoded[i]);
        e.inline_list = encoded[i];
      } else {
        e.roaring_size = 20 + i;
        roaring += e.roaring_size;
      }
      entries.push_back(e);
    }
    std::string block;
    EncodeBlock(7, entries, inline_max, &block);
    BlockCursor c(block, static_cast<uint32_t>(terms.size()), inline_max, docs, 7 + roaring);
    REQUIRE(c.Start());
    uint64_t at = 7;
    for (size_t i = 0; i < terms.size(); ++i) {
      REQUIRE(c.Next());
      CHECK(c.term() == terms[i]);
      CHECK(c.df() == lists[i].size());
      CHECK(c.is_inline() == (lists[i].size() <= inline_max));
      if (c.is_inline()) {
        bool ok = false;
        CHECK(Decode(std::string(c.inline_bytes()), c.df(), docs, &ok) == lists[i]);
        CHECK(ok);
      } else {
        CHECK(c.roaring_offset() == at);
        CHECK(c.roaring_size() == entries[i].roaring_size);
        at += c.roaring_size();
      }
    }
    CHECK_FALSE(c.Next());
    CHECK(c.why().empty());
    CHECK(c.at_end());
    // Every truncation and every single-byte change is either refused or decodes within bounds.
    for (size_t cut = 0; cut < block.size(); ++cut) {
      BlockCursor t(std::string_view(block).substr(0, cut), static_cast<uint32_t>(terms.size()),
                    inline_max, docs, 7 + roaring);
      bool ok = t.Start();
      size_t seen = 0;
      while (ok && t.Next()) ++seen;
      CHECK((seen < terms.size() || !t.why().empty() || !ok));
    }
    for (size_t pos = 0; pos < block.size(); ++pos) {
      std::string bad = block;
      bad[pos] = static_cast<char>(bad[pos] ^ (1 + rng() % 255));
      BlockCursor t(bad, static_cast<uint32_t>(terms.size()), inline_max, docs, 7 + roaring);
      if (!t.Start()) continue;
      while (t.Next()) {
        if (!t.is_inline()) CHECK(t.roaring_offset() + t.roaring_size() <= 7 + roaring);
        CHECK(t.df() >= 1);
        CHECK(t.df() <= docs);
      }
    }
  }
}

}  // namespace
}  // namespace pidx::segment
