// Segment format 2: written by default, read fully and lazily, and held to the format-1 reader
// (the oracle) on the same content.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <zstd.h>

#include "pidx/base/checksum.h"
#include "pidx/base/coding.h"
#include "pidx/segment/codec.h"
#include "pidx/segment/format.h"
#include "pidx/segment/segment_reader.h"
#include "pidx/segment/segment_writer.h"

namespace pidx::segment {
namespace {

struct Content {
  std::vector<DocRecord> docs;
  std::vector<std::pair<std::string, std::vector<uint32_t>>> terms;
};

// Random content: `docs` docs, terms of every size class (1 doc, inline, Roaring, all docs),
// every doc reached.
Content RandomContent(uint32_t seed, uint32_t docs, uint32_t fields) {
  std::mt19937 rng(seed);
  Content c;
  for (uint32_t d = 0; d < docs; ++d) {
    DocRecord r{"id-" + std::to_string(100000 + d),
                "Title " + std::to_string(rng() % 1000),
                rng() * uint64_t{7919},
                {}};
    for (uint32_t f = 0; f < fields; ++f) r.field_hashes.push_back(static_cast<uint16_t>(rng()));
    c.docs.push_back(r);
  }
  std::vector<std::string> names;
  const uint32_t nterms = 1 + rng() % 300;
  for (uint32_t t = 0; t < nterms; ++t) {
    std::string name = (rng() % 2 ? "title:" : "description:") + std::to_string(rng() % 5000);
    if (rng() % 50 == 0) name += "\xe6\x89\x8b";
    names.push_back(name);
  }
  names.push_back("title:all");
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  for (const std::string& name : names) {
    std::vector<uint32_t> ids;
    if (name == "title:all") {
      for (uint32_t d = 0; d < docs; ++d) ids.push_back(d);
    } else {
      const uint32_t kind = rng() % 4;
      const uint32_t want = kind == 0 ? 1 : kind == 1 ? 1 + rng() % 16 : 17 + rng() % 400;
      for (uint32_t k = 0; k < want && docs > 0; ++k) ids.push_back(rng() % docs);
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    }
    if (!ids.empty()) c.terms.emplace_back(name, ids);
  }
  return c;
}

std::string Write(const Content& c, uint32_t version, uint32_t codec = kDocCodecZstd,
                  int level = kDocZstdLevel) {
  SegmentWriter w("books_003", version);
  w.set_doc_codec(codec, level);
  for (const DocRecord& d : c.docs) w.AddDoc(d);
  for (const auto& [t, ids] : c.terms) w.AddTerm(t, ids.data(), ids.size());
  auto bytes = w.Finish();
  REQUIRE(bytes.ok());
  return std::move(bytes).value();
}

Result<SegmentReader> Open(const std::string& bytes, bool full) {
  OpenOptions o;
  o.verify_all = full;
  return SegmentReader::Open(bytes, nullptr, "t.seg", o);
}

// Reads every term, list and doc through the lazy API; the first failure, or Ok.
Status TouchEverything(const SegmentReader& r, const Content& c) {
  for (const auto& [t, ids] : c.terms) {
    PIDX_ASSIGN_OR_RETURN(auto e, r.Lookup(t));
    if (!e) return Status::Corrupt("lost term " + t);
    PIDX_ASSIGN_OR_RETURN(Postings p, r.ReadPostings(*e));
    if (p.ToVector() != ids) return Status::Corrupt("wrong list of " + t);
  }
  for (uint32_t d = 0; d < r.doc_count(); ++d) {
    PIDX_ASSIGN_OR_RETURN(DocView v, r.ReadDoc(d));
    if (v.external_id != c.docs[d].external_id || v.title != c.docs[d].title ||
        v.content_hash != c.docs[d].content_hash) {
      return Status::Corrupt("wrong doc");
    }
  }
  PIDX_ASSIGN_OR_RETURN(size_t n, r.ForEachEntryWithPrefix("", 1u << 30, [](const TermEntry&) {}));
  if (n != c.terms.size()) return Status::Corrupt("prefix walk lost terms");
  return Status::Ok();
}

TEST_CASE("format 2 is the default and agrees with the format-1 reader on random content") {
  for (uint32_t seed = 1; seed <= 25; ++seed) {
    const Content c = RandomContent(seed, seed == 1 ? 0 : 1 + seed * 37 % 900, seed % 4);
    const std::string v2 = Write(c, kSegmentFormatVersion2);
    CHECK(v2 == Write(c, kDefaultSegmentFormatVersion));
    CHECK(DecodeFixed32(v2.data() + kHeaderVersionOffset) == 2);
    CHECK(v2 == Write(c, 2));  // deterministic
    Content c1 = c;
    for (auto& d : c1.docs) d.field_hashes.clear();
    const std::string v1 = Write(c1, 1);  // the readers view these bytes
    auto one = Open(v1, true);
    auto full = Open(v2, true);
    auto lazy = Open(v2, false);
    REQUIRE(one.ok());
    REQUIRE(full.ok());
    REQUIRE(lazy.ok());
    CHECK(full->Validate().ok());
    CHECK(full->fully_verified());
    CHECK_FALSE(lazy->fully_verified());
    CHECK(lazy->Validate().kind() == StatusKind::kInternal);
    for (const SegmentReader* r : {&*full, &*lazy}) {
      CHECK(r->shard() == "books_003");
      CHECK(r->doc_count() == one->doc_count());
      CHECK(r->term_count() == one->term_count());
      CHECK(r->posting_count() == one->posting_count());
      CHECK(r->field_hash_count() == seed % 4 * (c.docs.empty() ? 0 : 1));
      CHECK(TouchEverything(*r, c).ok());
      CHECK_FALSE(r->Lookup("title:absent-term").value().has_value());
      CHECK_FALSE(r->Lookup("").value().has_value());
      CHECK_FALSE(r->Lookup("zzzz").value().has_value());
      for (const std::string prefix : {"title:", "title:1", "description:4", "t", "zz"}) {
        std::vector<std::string> want, got;
        (void)one->ForEachTermWithPrefix(prefix, 1u << 30,
                                         [&](uint32_t i) { want.emplace_back(one->term(i)); });
        auto n = r->ForEachEntryWithPrefix(prefix, 1u << 30,
                                           [&](const TermEntry& e) { got.emplace_back(e.term); });
        REQUIRE(n.ok());
        CHECK(got == want);
        if (want.size() > 2) {
          auto capped = r->ForEachEntryWithPrefix(prefix, 2, [](const TermEntry&) {});
          CHECK(capped.value() == 3);
        }
      }
      for (uint32_t d = 0; d < r->doc_count(); ++d) {
        auto v = r->ReadDoc(d);
        REQUIRE(v.ok());
        REQUIRE(v->field_hashes.size() == 2 * c.docs[d].field_hashes.size());
        for (size_t f = 0; f < c.docs[d].field_hashes.size(); ++f) {
          CHECK(v->field_hash(f) == c.docs[d].field_hashes[f]);
        }
      }
    }
    // The index accessors of a full reader equal format 1's.
    for (uint32_t i = 0; i < one->term_count(); ++i) {
      CHECK(full->term(i) == one->term(i));
      CHECK(full->doc_freq(i) == one->doc_freq(i));
      CHECK(full->posting_inline(i) == (one->doc_freq(i) <= kInlineMaxDf));
      CHECK(full->postings(i).value() == one->postings(i).value());
      CHECK(full->FindTerm(one->term(i)) == i);
    }
    for (uint32_t d = 0; d < one->doc_count(); ++d) {
      CHECK(full->doc(d).external_id == one->doc(d).external_id);
      CHECK(full->doc(d).title == one->doc(d).title);
      CHECK(full->doc(d).content_hash == one->doc(d).content_hash);
    }
    // Smaller than format 1 on any content with rare terms.
    if (c.docs.size() > 50) CHECK(v2.size() < v1.size());
  }
}

// A word over a small alphabet rich in ':' (field prefixes of every length, terms of no field,
// several colons, NUL bytes, long shared prefixes), so that lazy lookups meet every case of
// their field runs and 8-byte keys: ties, a term before its run's first block, after its last,
// and fields no run has.
std::string TrickyTerm(std::mt19937* rng) {
  static const char kAlphabet[] = {'a', 'b', ':', '\0', '\x01', 'z', '~', ':'};
  std::string t;
  const size_t n = (*rng)() % 16;
  const std::string_view stems[] = {"", "title:", "description:", "a:", "ab:", "title:aaaaaaaa"};
  t += stems[(*rng)() % 6];
  for (size_t i = 0; i < n; ++i) t += kAlphabet[(*rng)() % sizeof(kAlphabet)];
  return t;
}

TEST_CASE("lazy lookups and prefix walks agree with a sorted set on generated dictionaries") {
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    std::set<std::string> terms;
    const size_t want = 1 + rng() % 1500;
    while (terms.size() < want) terms.insert(TrickyTerm(&rng));
    terms.erase("");
    if (terms.empty()) continue;
    Content c;
    c.docs.push_back(DocRecord{"id-1", "t", 1, {}});
    for (const std::string& t : terms) c.terms.push_back({t, {0}});
    const std::string bytes = Write(c, kSegmentFormatVersion2);
    auto lazy = Open(bytes, false);
    REQUIRE(lazy.ok());
    uint32_t ordinal = 0;
    for (const std::string& t : terms) {
      auto e = lazy->Lookup(t);
      REQUIRE(e.ok());
      REQUIRE(e->has_value());
      CHECK((*e)->term == t);
      CHECK((*e)->ordinal == ordinal++);
    }
    for (int probe = 0; probe < 400; ++probe) {
      const std::string t = TrickyTerm(&rng);
      auto e = lazy->Lookup(t);
      REQUIRE(e.ok());
      CHECK(e->has_value() == (terms.count(t) == 1));
      std::vector<std::string> got, expect;
      for (auto it = terms.lower_bound(t); it != terms.end() && it->compare(0, t.size(), t) == 0;
           ++it) {
        expect.push_back(*it);
      }
      auto n = lazy->ForEachEntryWithPrefix(
          t, 1u << 30, [&](const TermEntry& entry) { got.emplace_back(entry.term); });
      REQUIRE(n.ok());
      CHECK(got == expect);
    }
  }
}

TEST_CASE("a list of 65536+ docs spans posting chunks and still reads") {
  Content c;
  const uint32_t docs = 140000;
  for (uint32_t d = 0; d < docs; ++d) c.docs.push_back({std::to_string(1000000 + d), "", d, {}});
  std::vector<uint32_t> all, odd, sparse;
  for (uint32_t d = 0; d < docs; ++d) {
    all.push_back(d);
    if (d % 2) odd.push_back(d);
    if (d % 7 == 3) sparse.push_back(d);
  }
  c.terms = {{"a", all}, {"b", odd}, {"c", sparse}, {"d", {5}}};
  const std::string bytes = Write(c, 2);
  auto lazy = Open(bytes, false);
  REQUIRE(lazy.ok());
  CHECK(TouchEverything(*lazy, c).ok());
  auto full = Open(bytes, true);
  REQUIRE(full.ok());
  CHECK(full->Validate().ok());
}

// Section i's [offset, offset + size) from the footer.
std::pair<uint64_t, uint64_t> SectionAt(const std::string& bytes, int i) {
  const size_t footer = bytes.size() - kSegmentFooterSize2;
  return {DecodeFixed64(bytes.data() + footer + 16 * i),
          DecodeFixed64(bytes.data() + footer + 16 * i + 8)};
}

TEST_CASE("a flipped byte in any section fails a full open, and a lazy read of what it touches") {
  const Content c = RandomContent(99, 2000, 3);
  const std::string good = Write(c, 2);
  std::mt19937 rng(3);
  // Every section, the footer and the header; several offsets each.
  std::vector<std::pair<std::string, std::pair<uint64_t, uint64_t>>> regions;
  for (int i = 0; i < kSectionCount2; ++i)
    regions.push_back({kSectionNames2[i], SectionAt(good, i)});
  regions.push_back({"footer", {good.size() - kSegmentFooterSize2, kSegmentFooterSize2}});
  regions.push_back({"header", {0, kSegmentHeaderSize}});
  for (const auto& [name, range] : regions) {
    REQUIRE(range.second > 0);
    for (int k = 0; k < 12; ++k) {
      const uint64_t at = range.first + (k == 0   ? 0
                                         : k == 1 ? range.second - 1
                                                  : rng() % range.second);
      std::string bad = good;
      bad[at] = static_cast<char>(bad[at] ^ (1 << (rng() % 8)));
      INFO(name << " byte " << at);
      auto full = Open(bad, true);
      CHECK_FALSE(full.ok());
      auto lazy = Open(bad, false);
      if (!lazy.ok()) {
        CHECK(lazy.status().kind() == StatusKind::kCorrupt);
        continue;
      }
      // Open lazily succeeded: the byte is in a block, chunk or the whole-file checksum; reading
      // what it covers must fail, unless it is the file checksum (a manifest compares that).
      const Status touched = TouchEverything(*lazy, c);
      if (at >= good.size() - 8) {
        CHECK(lazy->checksum() != DecodeFixed64(good.data() + good.size() - 8));
      } else {
        CHECK(touched.kind() == StatusKind::kCorrupt);
        CHECK(touched.message().find("checksum mismatch") != std::string::npos);
      }
    }
  }
}

TEST_CASE("format-2 footers with a forged meta checksum are refused when out of range") {
  const Content c = RandomContent(5, 300, 2);
  const std::string good = Write(c, 2);
  const size_t footer = good.size() - kSegmentFooterSize2;
  auto reforge = [&](std::string s) {
    Xxh3Stream meta;
    meta.Update(std::string_view(s).substr(0, kSegmentHeaderSize));
    for (int i : {0, 2, 4, 6}) {
      const auto [off, size] = SectionAt(s, i);
      meta.Update(std::string_view(s).substr(off, size));
    }
    meta.Update(std::string_view(s).substr(footer, kF2MetaChecksumOffset));
    std::string sum;
    PutFixed64(&sum, meta.Digest());
    s.replace(footer + kF2MetaChecksumOffset, 8, sum);
    return s;
  };
  REQUIRE(Open(reforge(good), false).ok());
  auto with32 = [&](size_t off, uint32_t v) {
    std::string s = good;
    std::string b;
    PutFixed32(&b, v);
    s.replace(off, 4, b);
    return reforge(s);
  };
  for (const uint32_t codec : {2u, 3u, 0xFFFFFFFFu}) {
    for (const bool full : {false, true}) {
      std::string bad = with32(footer + kF2DocCodecOffset, codec);
      std::string sum;
      PutFixed64(&sum, Xxh3(std::string_view(bad).substr(0, bad.size() - 8)));
      bad.replace(bad.size() - 8, 8, sum);
      const Status s = Open(bad, full).status();
      CHECK(s.kind() == StatusKind::kCorrupt);
      CHECK(s.message().find("doc_codec is " + std::to_string(codec)) != std::string::npos);
    }
  }
  CHECK(Open(with32(kHeaderFlagsOffset, 4), false).status().message().find("reserved") !=
        std::string::npos);
  for (size_t off : {kF2TermBlockSizeOffset, kF2DocBlockSizeOffset, kF2ChunkSizeOffset}) {
    CHECK_FALSE(Open(with32(footer + off, 0), false).ok());
    CHECK_FALSE(Open(with32(footer + off, 0xFFFFFFFFu), false).ok());
  }
  CHECK_FALSE(Open(with32(footer + kF2FieldHashCountOffset, 100000), false).ok());
  CHECK_FALSE(Open(with32(footer + kF2TermCountOffset, 0xFFFFFFFFu), false).ok());
  CHECK_FALSE(Open(with32(footer + kF2DocCountOffset, 0xFFFFFFFFu), false).ok());
  // A different term block size with the same bytes: the block index no longer tiles.
  CHECK_FALSE(Open(with32(footer + kF2TermBlockSizeOffset, 16), false).ok());
  // Every truncation is refused.
  for (size_t n = 0; n < good.size(); n += 1 + n / 8)
    CHECK_FALSE(Open(good.substr(0, n), false).ok());
}

// Content whose titles are random bytes of random lengths (incompressible, repetitive, empty,
// long), so that doc blocks meet every kind of zstd block.
Content RandomTitles(uint32_t seed, uint32_t docs, uint32_t fields) {
  Content c = RandomContent(seed, docs, fields);
  std::mt19937 rng(seed * 31 + 7);
  for (DocRecord& d : c.docs) {
    const uint32_t kind = rng() % 4;
    const size_t n = kind == 0 ? 0 : kind == 1 ? rng() % 20 : rng() % 3000;
    d.title.clear();
    for (size_t i = 0; i < n; ++i) {
      d.title += kind == 3 ? static_cast<char>('a' + rng() % 3) : static_cast<char>(rng());
    }
    if (rng() % 5 == 0) d.external_id = std::string(rng() % 300, 'x');
  }
  return c;
}

// The doc blocks of a format-2 segment, as stored (frames for codec 1).
std::vector<std::string> DocBlocks(const std::string& seg) {
  const auto [doff, dsize] = SectionAt(seg, static_cast<int>(Section2::kDocs));
  const auto [ioff, isize] = SectionAt(seg, static_cast<int>(Section2::kDocIndex));
  ByteCursor in(std::string_view(seg).substr(ioff, isize));
  std::vector<std::string> blocks;
  uint64_t at = doff, sum = 0, size = 0;
  while (!in.done()) {
    REQUIRE(in.Fixed64(&sum));
    REQUIRE(in.Varint(&size));
    blocks.push_back(seg.substr(at, size));
    at += size;
  }
  CHECK(at == doff + dsize);
  return blocks;
}

// `seg` with doc block b replaced by `bytes`, and every checksum over it made right again (the
// block's in the doc index, the meta and the whole-file one): a forger's segment.
std::string ReplaceDocBlock(const std::string& seg, size_t b, const std::string& bytes) {
  std::vector<std::string> blocks = DocBlocks(seg);
  REQUIRE(b < blocks.size());
  blocks[b] = bytes;
  const size_t footer = seg.size() - kSegmentFooterSize2;
  std::string sections[kSectionCount2];
  for (int i = 0; i < kSectionCount2; ++i) {
    const auto [off, size] = SectionAt(seg, i);
    sections[i] = seg.substr(off, size);
  }
  sections[static_cast<int>(Section2::kDocs)].clear();
  sections[static_cast<int>(Section2::kDocIndex)].clear();
  for (const std::string& blk : blocks) {
    sections[static_cast<int>(Section2::kDocs)] += blk;
    PutFixed64(&sections[static_cast<int>(Section2::kDocIndex)], Xxh3(blk));
    PutVarint(&sections[static_cast<int>(Section2::kDocIndex)], blk.size());
  }
  std::string out = seg.substr(0, kSegmentHeaderSize);
  std::string table;
  for (const std::string& sec : sections) {
    PutFixed64(&table, out.size());
    PutFixed64(&table, sec.size());
    out += sec;
  }
  out += table;
  out += seg.substr(footer + kF2SectionTableSize, kF2MetaChecksumOffset - kF2SectionTableSize);
  Xxh3Stream meta;
  meta.Update(std::string_view(out).substr(0, kSegmentHeaderSize));
  for (int i : {0, 2, 4, 6}) meta.Update(sections[i]);
  meta.Update(std::string_view(out).substr(out.size() - kF2MetaChecksumOffset));
  PutFixed64(&out, meta.Digest());
  out.append(kSegmentFooterMagic, sizeof(kSegmentFooterMagic));
  PutFixed64(&out, Xxh3(out));
  return out;
}

std::string Zstd(std::string_view raw, bool content_size = true) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  REQUIRE(cctx != nullptr);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, content_size ? 1 : 0);
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  const size_t n = ZSTD_compress2(cctx, out.data(), out.size(), raw.data(), raw.size());
  ZSTD_freeCCtx(cctx);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::string Unzstd(const std::string& frame) {
  const unsigned long long n = ZSTD_getFrameContentSize(frame.data(), frame.size());
  REQUIRE(n <= kMaxRawDocBlock);
  std::string raw(n, '\0');
  REQUIRE(ZSTD_decompress(raw.data(), raw.size(), frame.data(), frame.size()) == n);
  return raw;
}

TEST_CASE("doc codecs 0 and 1 at several levels read back the same docs, deterministically") {
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    const Content c = RandomTitles(seed, seed == 1 ? 0 : 1 + seed * 53 % 700, seed % 3);
    const std::string zstd = Write(c, 2);
    CHECK(zstd == Write(c, 2));  // the same content, the same bytes
    const std::string raw = Write(c, 2, kDocCodecRaw, 0);
    for (const auto& [bytes, codec] : {std::pair{zstd, kDocCodecZstd},
                                       {raw, kDocCodecRaw},
                                       {Write(c, 2, kDocCodecZstd, 1), kDocCodecZstd},
                                       {Write(c, 2, kDocCodecZstd, 19), kDocCodecZstd}}) {
      INFO("seed " << seed << " codec " << codec);
      CHECK(DecodeFixed32(bytes.data() + bytes.size() - kSegmentFooterSize2 + kF2DocCodecOffset) ==
            codec);
      auto full = Open(bytes, true);
      auto lazy = Open(bytes, false);
      REQUIRE(full.ok());
      REQUIRE(lazy.ok());
      CHECK(full->doc_codec() == codec);
      CHECK(full->Validate().ok());
      CHECK(TouchEverything(*full, c).ok());
      CHECK(TouchEverything(*lazy, c).ok());
      for (uint32_t d = 0; d < c.docs.size(); ++d) {
        const DocView v = full->doc(d);
        CHECK(v.external_id == c.docs[d].external_id);
        CHECK(v.title == c.docs[d].title);
        CHECK(v.field_hashes.size() == 2 * c.docs[d].field_hashes.size());
      }
    }
    // Codec 0's blocks are the raw records that codec 1's frames hold.
    const std::vector<std::string> frames = DocBlocks(zstd), blocks = DocBlocks(raw);
    REQUIRE(frames.size() == blocks.size());
    for (size_t b = 0; b < frames.size(); ++b) CHECK(Unzstd(frames[b]) == blocks[b]);
    // Only the doc sections, the codec and the checksums differ.
    auto full0 = Open(raw, true);
    REQUIRE(full0.ok());
    CHECK(full0->term_count() == Open(zstd, true)->term_count());
  }
}

TEST_CASE("lazy doc views stay valid while the reader lives, read from several threads") {
  const Content c = RandomTitles(77, 3000, 2);
  const std::string bytes = Write(c, 2);
  auto lazy = Open(bytes, false);
  REQUIRE(lazy.ok());
  std::vector<DocView> views(c.docs.size());
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint32_t k = 0; k < c.docs.size(); ++k) {
        const uint32_t d = (k * 7 + static_cast<uint32_t>(t) * 991) % c.docs.size();
        auto v = lazy->ReadDoc(d);
        if (!v.ok() || v->title != c.docs[d].title) ++bad;
        if (t == 0 && v.ok()) views[d] = *v;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(bad == 0);
  const SegmentReader copy = *lazy;  // copies share the decoded blocks
  for (uint32_t d = 0; d < c.docs.size(); ++d) {
    CHECK(views[d].external_id == c.docs[d].external_id);
    CHECK(views[d].title == c.docs[d].title);
    CHECK(copy.ReadDoc(d)->title.data() == views[d].title.data());
  }
}

TEST_CASE("a flipped byte in a compressed doc block fails ReadDoc and a full open, naming it") {
  const Content c = RandomTitles(5, 900, 2);
  const std::string good = Write(c, 2);
  const std::vector<std::string> blocks = DocBlocks(good);
  const uint64_t docs_at = SectionAt(good, static_cast<int>(Section2::kDocs)).first;
  std::mt19937 rng(11);
  uint64_t at = docs_at;
  for (size_t b = 0; b < blocks.size(); at += blocks[b++].size()) {
    std::string bad = good;
    const uint64_t flip = at + rng() % blocks[b].size();
    bad[flip] = static_cast<char>(bad[flip] ^ (1 << (rng() % 8)));
    const std::string want = "doc block " + std::to_string(b) + " checksum mismatch";
    auto lazy = Open(bad, false);
    REQUIRE(lazy.ok());
    const Status read = lazy->ReadDoc(static_cast<uint32_t>(b * kDocBlockSize)).status();
    CHECK(read.kind() == StatusKind::kCorrupt);
    CHECK(read.message().find(want) != std::string::npos);
    // Other blocks still read.
    CHECK(lazy->ReadDoc(static_cast<uint32_t>((b + 1) % blocks.size() * kDocBlockSize)).ok());
    CHECK(Open(bad, true).status().message().find("checksum mismatch") != std::string::npos);
    // With the whole-file checksum forged too, the full open names the block.
    std::string sum;
    PutFixed64(&sum, Xxh3(std::string_view(bad).substr(0, bad.size() - 8)));
    bad.replace(bad.size() - 8, 8, sum);
    const Status full = Open(bad, true).status();
    CHECK(full.kind() == StatusKind::kCorrupt);
    CHECK(full.message().find(want) != std::string::npos);
  }
}

// Sets the frame content size field of a zstd frame (RFC 8878 3.1.1.1) to `v`, which must fit it.
std::string WithContentSize(std::string frame, uint64_t v) {
  const auto fhd = static_cast<unsigned char>(frame[4]);
  const bool single = (fhd >> 5) & 1;
  const size_t dict_bytes[] = {0, 1, 2, 4};
  const size_t at = 5 + (single ? 0 : 1) + dict_bytes[fhd & 3];
  const size_t fcs_bytes[] = {single ? 1u : 0u, 2, 4, 8};
  const size_t n = fcs_bytes[fhd >> 6];
  REQUIRE(n > 0);
  if (n == 2) v -= 256;
  for (size_t i = 0; i < n; ++i) frame[at + i] = static_cast<char>(v >> (8 * i));
  return frame;
}

TEST_CASE("forged doc blocks with right checksums are kCorrupt naming the block") {
  const Content c = RandomTitles(9, 200, 1);  // 7 blocks
  const std::string good = Write(c, 2);
  const std::vector<std::string> frames = DocBlocks(good);
  const size_t b = 3;
  const std::string raw = Unzstd(frames[b]);
  REQUIRE(raw.size() > 300);
  // A frame header that declares 2^40 bytes (single segment, 8-byte size) and one RLE block.
  std::string huge = std::string("\x28\xb5\x2f\xfd\xe0", 5);
  PutFixed64(&huge, uint64_t{1} << 40);
  huge += std::string("\x03\x00\x02\x00", 4);  // last block, RLE, 64 KiB of byte 0
  std::string over_cap = std::string("\x28\xb5\x2f\xfd\xe0", 5);
  PutFixed64(&over_cap, kMaxRawDocBlock + 1);
  over_cap += std::string("\x03\x00\x02\x00", 4);
  std::string garbage = frames[b].substr(0, 8);
  std::mt19937 rng(1);
  for (int i = 0; i < 200; ++i) garbage.push_back(static_cast<char>(rng()));
  std::string skippable = "\x50\x2a\x4d\x18";
  PutFixed32(&skippable, 4);
  skippable += "abcd";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"declares 1099511627776 bytes", huge},
      {"declares 16777217 bytes", over_cap},
      {"is not a whole zstd frame", garbage},
      {"does not decompress", WithContentSize(frames[b], raw.size() + 1)},
      {"does not decompress", WithContentSize(frames[b], raw.size() - 1)},
      {"does not declare its content size", Zstd(raw, false)},
      {"bytes after its zstd frame", frames[b] + frames[b]},
      {"not a whole zstd frame", frames[b].substr(0, frames[b].size() - 1)},
      {"is not a zstd frame", skippable},
      {"is not a zstd frame", raw},
      {"is not a zstd frame", ""},
      {"record is malformed", Zstd(raw.substr(0, raw.size() - 1))},
      {"bytes after its records", Zstd(raw + "x")},
      {"record is malformed", Zstd("")},
  };
  REQUIRE(Open(ReplaceDocBlock(good, b, frames[b]), true).ok());  // the forger is right
  REQUIRE(ReplaceDocBlock(good, b, frames[b]) == good);
  for (const auto& [why, bytes] : cases) {
    INFO(why);
    const std::string bad = ReplaceDocBlock(good, b, bytes);
    auto lazy = Open(bad, false);
    REQUIRE(lazy.ok());
    for (const uint32_t d : {static_cast<uint32_t>(b * kDocBlockSize),
                             static_cast<uint32_t>(b * kDocBlockSize + 31)}) {
      const Status s = lazy->ReadDoc(d).status();
      CHECK(s.kind() == StatusKind::kCorrupt);
      CHECK(s.message().find("doc block 3") != std::string::npos);
      INFO(s.message());
      CHECK(s.message().find(why) != std::string::npos);
    }
    CHECK(lazy->ReadDoc(0).ok());
    const Status full = Open(bad, true).status();
    CHECK(full.kind() == StatusKind::kCorrupt);
    CHECK(full.message().find("doc block 3") != std::string::npos);
    CHECK(full.message().find(why) != std::string::npos);
  }
}

TEST_CASE("a raw doc block over the readers' bound makes the writer use codec 0") {
  Content c = RandomContent(3, 40, 1);
  c.docs[35].title.assign(kMaxRawDocBlock + 1, 't');
  const std::string bytes = Write(c, 2);
  auto full = Open(bytes, true);
  REQUIRE(full.ok());
  CHECK(full->doc_codec() == kDocCodecRaw);
  CHECK(full->doc(35).title.size() == kMaxRawDocBlock + 1);
  CHECK(TouchEverything(*Open(bytes, false), c).ok());
  // The bound is on the exact raw size: a block of exactly kMaxRawDocBlock bytes is codec 1.
  size_t others = 0;
  for (size_t d = 32; d < 40; ++d) {
    if (d == 35) continue;
    others += 1 + c.docs[d].external_id.size() + 1 + c.docs[d].title.size() + 8 + 2;
  }
  const size_t fixed = 1 + c.docs[35].external_id.size() + 4 + 8 + 2;  // 4: the title's varint
  c.docs[35].title.assign(kMaxRawDocBlock - others - fixed, 't');
  const std::string at_bound = Write(c, 2);
  CHECK(Open(at_bound, true)->doc_codec() == kDocCodecZstd);
  CHECK(Unzstd(DocBlocks(at_bound)[1]).size() == kMaxRawDocBlock);
  c.docs[35].title += 't';
  CHECK(Open(Write(c, 2), true)->doc_codec() == kDocCodecRaw);
}

// Format-2 segments from before doc_codec (raw doc blocks, the field 0) keep reading: the fuzz
// seed books-v2.seg was written by pidx then; books-v2-zstd.seg holds the same docs as codec 1,
// made from it by a script outside lib/ (python3-zstandard). Their first byte is the fuzz
// target's, not the segment's.
TEST_CASE("a checked-in codec-0 segment from before the codec reads, and agrees with codec 1") {
  const char* root = std::getenv("PIDX_SOURCE_DIR");
  if (root == nullptr) {
    WARN("PIDX_SOURCE_DIR unset (run through ctest)");
    return;
  }
  auto slurp = [&](const std::string& name) {
    std::ifstream f(std::string(root) + "/tests/fuzz/corpus/fuzz_segment/" + name,
                    std::ios::binary);
    REQUIRE(f);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str().substr(1);
  };
  const std::string raw = slurp("books-v2.seg"), zstd = slurp("books-v2-zstd.seg");
  auto a = Open(raw, true);
  auto b = Open(zstd, true);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->Validate().ok());
  CHECK(b->Validate().ok());
  CHECK(a->doc_codec() == kDocCodecRaw);
  CHECK(b->doc_codec() == kDocCodecZstd);
  REQUIRE(a->doc_count() == b->doc_count());
  REQUIRE(a->doc_count() > 32);
  auto lazy = Open(zstd, false);
  REQUIRE(lazy.ok());
  for (uint32_t d = 0; d < a->doc_count(); ++d) {
    CHECK(a->doc(d).external_id == b->doc(d).external_id);
    CHECK(a->doc(d).title == lazy->ReadDoc(d)->title);
    CHECK(a->doc(d).content_hash == b->doc(d).content_hash);
    CHECK(a->doc(d).field_hashes == b->doc(d).field_hashes);
  }
}

TEST_CASE("writer refuses docs with differing field hash counts") {
  SegmentWriter w("s_000", 2);
  w.AddDoc({"a", "", 1, {1, 2}});
  w.AddDoc({"b", "", 2, {1}});
  CHECK(w.Finish().status().kind() == StatusKind::kInternal);
}

}  // namespace
}  // namespace pidx::segment
