#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "pidx/base/checksum.h"
#include "pidx/base/coding.h"
#include "pidx/segment/format.h"
#include "pidx/segment/segment_reader.h"
#include "pidx/segment/segment_writer.h"
#include "support/temp_dir.h"

namespace pidx::segment {
namespace {

struct TermSpec {
  std::string term;
  std::vector<uint32_t> ids;
};

// Five docs; every doc is reached by some term; one term's posting list is a run container.
std::vector<TermSpec> SmallTerms() {
  return {{"apple", {0, 2}}, {"black", {1, 3, 4}}, {"phone", {0, 1, 2, 3, 4}},
          {"red", {2}},      {"usb", {4}},         {"\xe6\x89\x8b\xe6\x9c\xba", {1}}};
}

std::string Build(const std::string& shard, uint32_t docs, const std::vector<TermSpec>& terms) {
  SegmentWriter w(shard, 1);  // format 1: these tests poke its byte layout
  for (uint32_t d = 0; d < docs; ++d) {
    w.AddDoc({"sku-" + std::to_string(d), "Title " + std::to_string(d), 1000u + d});
  }
  for (const TermSpec& t : terms) w.AddTerm(t.term, t.ids.data(), t.ids.size());
  Result<std::string> bytes = w.Finish();
  REQUIRE(bytes.ok());
  return std::move(bytes).value();
}

std::string BuildSmall() { return Build("electronics_007", 5, SmallTerms()); }

Result<SegmentReader> OpenBytes(const std::string& bytes) {
  return SegmentReader::Open(bytes, nullptr, "test.seg");
}

Status OpenStatus(const std::string& bytes) {
  Result<SegmentReader> r = OpenBytes(bytes);
  return r.ok() ? Status::Ok() : r.status();
}

size_t FooterStart(const std::string& bytes) { return bytes.size() - kSegmentFooterSize; }

// Recomputes the footer checksum, so a test can forge a file whose damage only the
// structural checks can find.
void Reseal(std::string* bytes) {
  const size_t at = bytes->size() - 8;
  std::string sum;
  PutFixed64(&sum, Xxh3(std::string_view(*bytes).substr(0, at)));
  bytes->replace(at, 8, sum);
}

void Put32At(std::string* bytes, size_t at, uint32_t v) {
  std::string s;
  PutFixed32(&s, v);
  bytes->replace(at, 4, s);
}

void Put64At(std::string* bytes, size_t at, uint64_t v) {
  std::string s;
  PutFixed64(&s, v);
  bytes->replace(at, 8, s);
}

uint64_t SectionOffset(const std::string& bytes, Section s) {
  return DecodeFixed64(bytes.data() + FooterStart(bytes) + 16 * static_cast<int>(s));
}

// Touches every accessor, so that sanitizers see any out-of-bounds read Open let through.
void ReadEverything(const SegmentReader& r) {
  size_t total = r.shard().size();
  for (uint32_t i = 0; i < r.term_count(); ++i) {
    total += r.term(i).size() + r.doc_freq(i) + r.posting_bytes(i).size();
    Result<Postings> p = r.postings(i);
    if (p.ok()) total += p->Cardinality();
    (void)r.FindTerm(r.term(i));
  }
  for (uint32_t d = 0; d < r.doc_count(); ++d) {
    DocView doc = r.doc(d);
    total += doc.external_id.size() + doc.title.size() + doc.content_hash;
  }
  (void)r.FindTerm("zzz");
  (void)r.Validate();
  CHECK(total < SIZE_MAX);  // keeps the reads from being optimized away
}

}  // namespace

TEST_CASE("a segment round-trips terms, dfs, postings and docs") {
  const std::string bytes = BuildSmall();
  Result<SegmentReader> r = OpenBytes(bytes);
  REQUIRE(r.ok());
  CHECK(r->shard() == "electronics_007");
  CHECK(r->doc_count() == 5);
  CHECK(r->term_count() == SmallTerms().size());
  CHECK(r->posting_count() == 2 + 3 + 5 + 1 + 1 + 1);
  CHECK(r->file_size() == bytes.size());
  CHECK(r->checksum() == DecodeFixed64(bytes.data() + bytes.size() - 8));
  CHECK(r->checksum() == Xxh3(std::string_view(bytes).substr(0, bytes.size() - 8)));
  const std::vector<TermSpec> terms = SmallTerms();
  for (uint32_t i = 0; i < terms.size(); ++i) {
    CHECK(r->term(i) == terms[i].term);
    CHECK(r->doc_freq(i) == terms[i].ids.size());
    Result<Postings> p = r->postings(i);
    REQUIRE(p.ok());
    CHECK(p->ToVector() == terms[i].ids);
  }
  CHECK(r->postings(2)->Containers().run == 1);
  for (uint32_t d = 0; d < 5; ++d) {
    DocView doc = r->doc(d);
    CHECK(doc.external_id == "sku-" + std::to_string(d));
    CHECK(doc.title == "Title " + std::to_string(d));
    CHECK(doc.content_hash == 1000u + d);
  }
  CHECK(r->Validate().ok());
}

TEST_CASE("FindTerm finds every term and misses absent ones") {
  const std::string bytes = BuildSmall();
  Result<SegmentReader> r = OpenBytes(bytes);
  REQUIRE(r.ok());
  const std::vector<TermSpec> terms = SmallTerms();
  for (uint32_t i = 0; i < terms.size(); ++i) CHECK(r->FindTerm(terms[i].term) == i);
  CHECK_FALSE(r->FindTerm("").has_value());
  CHECK_FALSE(r->FindTerm("aaa").has_value());     // before the first
  CHECK_FALSE(r->FindTerm("banana").has_value());  // between
  CHECK_FALSE(r->FindTerm("appl").has_value());    // prefix of a term
  CHECK_FALSE(r->FindTerm("\xff").has_value());    // after the last
}

TEST_CASE("ForEachTermWithPrefix walks the sorted range of a prefix, up to its cap") {
  const std::vector<TermSpec> spec = {{"title:py", {0}},     {"title:pyth", {1}},
                                      {"title:python", {0}}, {"title:python3", {2}},
                                      {"title:pz", {3}},     {"titlex:python", {4}}};
  const std::string bytes = Build("books_001", 5, spec);
  Result<SegmentReader> r = OpenBytes(bytes);
  REQUIRE(r.ok());
  auto walk = [&](std::string_view prefix, size_t cap, size_t* n) {
    std::vector<std::string> out;
    *n = r->ForEachTermWithPrefix(prefix, cap, [&](uint32_t i) { out.emplace_back(r->term(i)); });
    return out;
  };
  using V = std::vector<std::string>;
  size_t n = 0;
  CHECK(walk("title:pyth", 10, &n) == V{"title:pyth", "title:python", "title:python3"});
  CHECK(n == 3);
  CHECK(walk("title:pyth", 3, &n).size() == 3);
  CHECK(n == 3);  // exactly the cap is not past it
  CHECK(walk("title:pyth", 2, &n) == V{"title:pyth", "title:python"});
  CHECK(n == 3);  // cap + 1: more than the cap
  CHECK(walk("title:pyx", 10, &n).empty());
  CHECK(n == 0);
  CHECK(walk("zzz", 10, &n).empty());
  CHECK(walk("", 100, &n).size() == spec.size());
  CHECK(walk("title:", 100, &n).size() == 5);  // not "titlex:"
}

TEST_CASE("a segment with no docs and no terms is valid") {
  const std::string bytes = Build("empty_000", 0, {});
  CHECK(bytes.size() == kSegmentHeaderSize + 4 + 9 + 4 + 8 + 8 + kSegmentFooterSize);
  Result<SegmentReader> r = OpenBytes(bytes);
  REQUIRE(r.ok());
  CHECK(r->doc_count() == 0);
  CHECK(r->term_count() == 0);
  CHECK_FALSE(r->FindTerm("x").has_value());
  CHECK(r->Validate().ok());
}

TEST_CASE("building the same segment twice gives byte-identical files") {
  std::vector<TermSpec> terms = SmallTerms();
  std::vector<uint32_t> many;
  for (uint32_t d = 0; d < 70000; d += 3) many.push_back(d);
  terms.push_back({"\xf0zzz", many});
  std::string a = Build("s_001", 70000, terms);
  std::string b = Build("s_001", 70000, terms);
  CHECK(a == b);
  CHECK(Build("s_002", 70000, terms) != a);
}

TEST_CASE("a segment read back from a file opens and validates") {
  testing::TempDir dir;
  const std::string path = dir.Write("electronics_007-x.seg", BuildSmall());
  auto owned = std::make_shared<const std::string>(testing::ReadFile(path));
  Result<SegmentReader> r = SegmentReader::Open(*owned, owned, path);
  REQUIRE(r.ok());
  CHECK(r->Validate().ok());
}

TEST_CASE("writer misuse is a sticky internal error from Finish") {
  const uint32_t ids[] = {0, 1};
  const uint32_t unsorted[] = {1, 0};
  const uint32_t too_big[] = {0, 2};

  SECTION("terms out of order") {
    SegmentWriter w("s", 1);
    w.AddDoc({"a", "", 0});
    w.AddDoc({"b", "", 0});
    w.AddTerm("b", ids, 2);
    w.AddTerm("a", ids, 2);
    w.AddTerm("c", ids, 2);  // valid, but the error stays
    Result<std::string> out = w.Finish();
    REQUIRE_FALSE(out.ok());
    CHECK(out.status().kind() == StatusKind::kInternal);
    CHECK(out.status().message() == "segment s: term \"a\": not after the previous term \"b\"");
  }
  SECTION("a repeated term") {
    SegmentWriter w("s", 1);
    w.AddDoc({"a", "", 0});
    w.AddDoc({"b", "", 0});
    w.AddTerm("b", ids, 2);
    w.AddTerm("b", ids, 2);
    CHECK(w.Finish().status().kind() == StatusKind::kInternal);
  }
  SECTION("ids not increasing") {
    SegmentWriter w("s", 1);
    w.AddDoc({"a", "", 0});
    w.AddDoc({"b", "", 0});
    w.AddTerm("t", unsorted, 2);
    CHECK(w.Finish().status().kind() == StatusKind::kInternal);
  }
  SECTION("an id past the docs added") {
    SegmentWriter w("s", 1);
    w.AddDoc({"a", "", 0});
    w.AddDoc({"b", "", 0});
    w.AddTerm("t", too_big, 2);
    CHECK(w.Finish().status().message() == "segment s: term \"t\": doc id 2 but only 2 docs added");
  }
  SECTION("an empty posting list") {
    SegmentWriter w("s", 1);
    w.AddDoc({"a", "", 0});
    w.AddTerm("t", ids, 0);
    CHECK(w.Finish().status().kind() == StatusKind::kInternal);
  }
}

TEST_CASE("a segment with a flipped byte is rejected with a checksum mismatch") {
  const std::string good = BuildSmall();
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x01;
    Status s = OpenStatus(bad);
    INFO("byte " << i);
    REQUIRE(s.kind() == StatusKind::kCorrupt);
    const bool magic_or_version =
        i < kSegmentHeaderSize - 4 || (i >= FooterStart(good) + kFooterMagicOffset &&
                                       i < FooterStart(good) + kFooterChecksumOffset);
    if (!magic_or_version)
      CHECK_THAT(s.message(), Catch::StartsWith("test.seg: checksum mismatch"));
  }
}

TEST_CASE("a checksum mismatch names the stored and computed checksums") {
  std::string bad = BuildSmall();
  const uint64_t computed = Xxh3(std::string_view(bad).substr(0, bad.size() - 8));
  Put64At(&bad, bad.size() - 8, 0x0123456789abcdefULL);
  CHECK(OpenStatus(bad).message() ==
        "test.seg: checksum mismatch (stored 0123456789abcdef, computed " + Hex64(computed) + ")");
}

TEST_CASE("every truncation of a segment is rejected") {
  const std::string good = BuildSmall();
  for (size_t len = 0; len < good.size(); ++len) {
    INFO("length " << len);
    CHECK(OpenStatus(good.substr(0, len)).kind() == StatusKind::kCorrupt);
  }
  CHECK(OpenStatus("").message() == "test.seg: 0 bytes is too short for a segment (at least 184)");
}

TEST_CASE("random and zeroed files are rejected") {
  std::mt19937 rng(1234);
  for (int round = 0; round < 500; ++round) {
    std::string bytes(rng() % 600, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (round % 2 == 0 && bytes.size() >= 16) std::memcpy(bytes.data(), kSegmentMagic, 8);
    CHECK(OpenStatus(bytes).kind() == StatusKind::kCorrupt);
  }
  CHECK(OpenStatus(std::string(4096, '\0')).message() ==
        "test.seg: not a pidx segment (bad magic)");
}

TEST_CASE("an unknown format version is rejected as unsupported") {
  std::string bad = BuildSmall();
  Put32At(&bad, kHeaderVersionOffset, 3);
  CHECK(OpenStatus(bad).message() == "test.seg: unsupported segment format version 3");
}

TEST_CASE("a damaged footer magic is rejected") {
  std::string bad = BuildSmall();
  bad[FooterStart(bad) + kFooterMagicOffset] = 'X';
  CHECK(OpenStatus(bad).message() ==
        "test.seg: bad footer magic (truncated or not a pidx segment)");
}

TEST_CASE("non-zero reserved fields are rejected even with a valid checksum") {
  std::string flags = BuildSmall();
  Put32At(&flags, kHeaderFlagsOffset, 4);
  Reseal(&flags);
  CHECK(OpenStatus(flags).message() == "test.seg: reserved header flags are 0x4, not 0");

  std::string reserved = BuildSmall();
  Put64At(&reserved, FooterStart(reserved) + kFooterReservedOffset, 1);
  Reseal(&reserved);
  CHECK(OpenStatus(reserved).message() == "test.seg: reserved footer field is 0x1, not 0");
}

TEST_CASE("a section offset out of place is rejected even with a valid checksum") {
  std::string bad = BuildSmall();
  const size_t at = FooterStart(bad) + 16 * static_cast<int>(Section::kPostings);
  Put64At(&bad, at, DecodeFixed64(bad.data() + at) + 1);
  Reseal(&bad);
  CHECK_THAT(OpenStatus(bad).message(), Catch::StartsWith("test.seg: postings section at offset"));

  std::string huge = BuildSmall();
  Put64At(&huge, FooterStart(huge) + 16 * static_cast<int>(Section::kDocs) + 8, UINT64_MAX);
  Reseal(&huge);
  CHECK_THAT(OpenStatus(huge).message(), Catch::Contains("docs section at offset"));

  std::string gap = BuildSmall();  // last section shorter: bytes nobody accounts for
  const size_t last = FooterStart(gap) + 16 * static_cast<int>(Section::kDocOffsets) + 8;
  Put64At(&gap, last, DecodeFixed64(gap.data() + last) - 8);
  Reseal(&gap);
  CHECK_THAT(OpenStatus(gap).message(), Catch::Contains("but the footer starts at"));
}

TEST_CASE("counts in the footer that disagree with the sections are rejected") {
  std::string docs = BuildSmall();
  Put32At(&docs, FooterStart(docs) + kFooterDocCountOffset, 6);
  Reseal(&docs);
  CHECK(OpenStatus(docs).message() ==
        "test.seg: doc offsets section has 48 bytes, expected 56 for 6 terms and 6 docs");

  std::string terms = BuildSmall();
  Put32At(&terms, FooterStart(terms) + kFooterTermCountOffset, UINT32_MAX);
  Reseal(&terms);
  CHECK(OpenStatus(terms).kind() == StatusKind::kCorrupt);

  std::string postings = BuildSmall();
  Put64At(&postings, FooterStart(postings) + kFooterPostingCountOffset, 14);
  Reseal(&postings);
  CHECK(OpenStatus(postings).message() ==
        "test.seg: footer posting count 14 but the dfs sum to 13");
}

TEST_CASE("offset tables that decrease or miss their blob's end are rejected") {
  std::string bad = BuildSmall();
  const uint64_t table = SectionOffset(bad, Section::kTermOffsets);
  Put32At(&bad, table + 4 * 2, 1);  // term 1 ends before term 0
  Reseal(&bad);
  CHECK(OpenStatus(bad).message() == "test.seg: term offsets decrease at entry 2");

  std::string first = BuildSmall();
  Put64At(&first, SectionOffset(first, Section::kPostingOffsets), 3);
  Reseal(&first);
  CHECK(OpenStatus(first).message() == "test.seg: posting offsets start at 3, not 0");

  std::string end = BuildSmall();
  Put64At(&end, SectionOffset(end, Section::kDocOffsets) + 8 * 5, 1u << 30);
  Reseal(&end);
  CHECK_THAT(OpenStatus(end).message(),
             Catch::StartsWith("test.seg: doc offsets end at 1073741824"));
}

TEST_CASE("a malformed doc record is rejected at open") {
  std::string bad = BuildSmall();
  Put32At(&bad, SectionOffset(bad, Section::kDocs), 200);  // doc 0's id length
  Reseal(&bad);
  CHECK(OpenStatus(bad).message() == "test.seg: doc 0 record is malformed");

  std::string shard = BuildSmall();
  Put32At(&shard, SectionOffset(shard, Section::kShardName), 3);
  Reseal(&shard);
  CHECK(OpenStatus(shard).message() == "test.seg: shard name section is malformed");
}

TEST_CASE("Validate finds terms that are not sorted") {
  std::string bad = BuildSmall();
  // "apple" and "black" have the same length: swapping their bytes keeps every offset right.
  const uint64_t terms = SectionOffset(bad, Section::kTerms);
  REQUIRE(bad.substr(terms, 10) == "appleblack");
  bad.replace(terms, 10, "blackapple");
  Reseal(&bad);
  Result<SegmentReader> r = OpenBytes(bad);
  REQUIRE(r.ok());
  CHECK(r->Validate().message() ==
        "test.seg: terms not strictly increasing: term 1 \"apple\" after \"black\"");
}

TEST_CASE("Validate finds a doc that no posting list reaches") {
  // Doc 2 is reached only by "red" = {2}, a one-value array container whose value is the
  // posting list's last two bytes. Rewriting it to 3 keeps the list valid and its df right.
  const std::string good =
      Build("s", 5, {{"apple", {0, 1}}, {"phone", {0, 1, 3, 4}}, {"red", {2}}});
  REQUIRE(OpenBytes(good)->Validate().ok());
  std::string bad = good;
  const size_t red_end =
      SectionOffset(bad, Section::kPostings) +
      DecodeFixed64(bad.data() + SectionOffset(bad, Section::kPostingOffsets) + 8 * 3);
  REQUIRE(bad[red_end - 2] == 2);
  bad[red_end - 2] = 3;
  Reseal(&bad);
  Result<SegmentReader> r = OpenBytes(bad);
  REQUIRE(r.ok());
  CHECK(r->postings(2)->ToVector() == std::vector<uint32_t>{3});
  CHECK(r->Validate().message() == "test.seg: doc 2 \"sku-2\" appears in no posting list");

  // The writer does not require reachability (a product may yield no terms); Validate does.
  const std::string partial = Build("s", 5, {{"apple", {0, 1, 3, 4}}});
  Result<SegmentReader> unreached = OpenBytes(partial);
  REQUIRE(unreached.ok());
  CHECK(unreached->Validate().message() == "test.seg: doc 2 \"sku-2\" appears in no posting list");
}

TEST_CASE("Validate finds a doc frequency that disagrees with the posting list") {
  std::string bad = BuildSmall();
  // Raise df of term 0 and the footer's total alike, so only Validate can tell.
  Put32At(&bad, SectionOffset(bad, Section::kTermDfs), 3);
  Put64At(&bad, FooterStart(bad) + kFooterPostingCountOffset, 14);
  Reseal(&bad);
  Result<SegmentReader> r = OpenBytes(bad);
  REQUIRE(r.ok());
  CHECK(r->Validate().message() ==
        "test.seg: term 0 \"apple\" has df 3 but its posting list holds 2 docs");
}

TEST_CASE("Validate and postings() report a damaged posting list with its term") {
  std::string bad = BuildSmall();
  Result<SegmentReader> good = OpenBytes(bad);
  REQUIRE(good.ok());
  // "black" = {1, 3, 4}: swap the array values 3 and 4 so the container is unsorted.
  const uint32_t i = *good->FindTerm("black");
  const size_t at = good->posting_bytes(i).data() - good->posting_bytes(0).data() +
                    SectionOffset(bad, Section::kPostings);
  const size_t values = at + good->posting_bytes(i).size() - 6;
  REQUIRE(DecodeFixed32(bad.data() + values + 2) == (3u | (4u << 16)));
  Put32At(&bad, values + 2, 4u | (3u << 16));
  Reseal(&bad);
  Result<SegmentReader> r = OpenBytes(bad);
  REQUIRE(r.ok());
  const std::string expected =
      "test.seg: term 1 \"black\": posting list: array container 0 is not sorted and unique";
  CHECK(r->postings(i).status().message() == expected);
  CHECK(r->Validate().kind() == StatusKind::kCorrupt);
  CHECK(r->Validate().message() == expected);
}

TEST_CASE("forged segments with a valid checksum never crash the reader") {
  // Random damage to a real segment, resealed: Open must either reject it or give a reader
  // whose every accessor stays in bounds (the sanitizer build checks the latter).
  const std::string good = BuildSmall();
  std::mt19937 rng(99);
  int opened = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bad = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      // Half of the damage lands in the footer, where the structure is described.
      const size_t at = (rng() % 2) ? rng() % (bad.size() - 8)
                                    : FooterStart(bad) + rng() % (kSegmentFooterSize - 8);
      bad[at] = static_cast<char>(rng());
    }
    Reseal(&bad);
    Result<SegmentReader> r = OpenBytes(bad);
    if (!r.ok()) {
      CHECK(r.status().kind() == StatusKind::kCorrupt);
      continue;
    }
    ++opened;
    ReadEverything(*r);
  }
  CHECK(opened > 0);
}

}  // namespace pidx::segment
