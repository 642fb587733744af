// Content signatures and term Bloom filters (shard/signature.h): generated inputs, checked for
// the properties verify and diff rely on.
#include "pidx/shard/signature.h"

#include <random>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "pidx/base/checksum.h"
#include "pidx/base/coding.h"

using pidx::StatusKind;
using pidx::shard::ContentSignature;
using pidx::shard::TermBloom;

namespace {

struct Content {
  std::vector<std::pair<std::string, uint64_t>> docs;
  std::vector<std::pair<std::string, uint32_t>> terms;
};

uint64_t DigestOf(const Content& c) {
  ContentSignature sig;
  for (const auto& [id, hash] : c.docs) sig.AddDoc(id, hash);
  for (const auto& [term, df] : c.terms) sig.AddTerm(term, df);
  return sig.Digest();
}

std::string RandomWord(std::mt19937& rng) {
  std::string w(1 + rng() % 6, 'a');
  for (auto& ch : w) ch = static_cast<char>('a' + rng() % 4);  // few letters: many near-misses
  return w;
}

Content RandomContent(std::mt19937& rng) {
  Content c;
  const size_t docs = 1 + rng() % 5, terms = 1 + rng() % 5;
  for (size_t i = 0; i < docs; ++i) c.docs.emplace_back(RandomWord(rng), rng() % 4);
  for (size_t i = 0; i < terms; ++i) c.terms.emplace_back(RandomWord(rng), rng() % 4);
  return c;
}

bool SameContent(const Content& a, const Content& b) {
  return a.docs == b.docs && a.terms == b.terms;
}

}  // namespace

TEST_CASE("equal content has an equal signature, and any change changes it (generated)") {
  std::mt19937 rng(11);
  for (int i = 0; i < 5000; ++i) {
    const Content a = RandomContent(rng);
    Content b = a;
    CHECK(DigestOf(a) == DigestOf(b));
    // One mutation: an id, a hash, a term, a df, a doc or term moved across the boundary
    // between two neighbours ("ab","c" vs "a","bc").
    switch (rng() % 5) {
      case 0:
        b.docs[rng() % b.docs.size()].first += "a";
        break;
      case 1:
        b.docs[rng() % b.docs.size()].second += 1;
        break;
      case 2:
        b.terms[rng() % b.terms.size()].first += "b";
        break;
      case 3:
        b.terms[rng() % b.terms.size()].second += 1;
        break;
      default:
        if (b.terms.size() >= 2 && !b.terms[0].first.empty()) {
          b.terms[1].first = b.terms[0].first.back() + b.terms[1].first;
          b.terms[0].first.pop_back();
        } else {
          b.terms.emplace_back("x", 1);
        }
        break;
    }
    if (SameContent(a, b)) continue;
    INFO("case " << i);
    CHECK(DigestOf(a) != DigestOf(b));
  }
}

TEST_CASE("a doc is not a term: the same bytes added as either give different signatures") {
  ContentSignature as_doc, as_term;
  as_doc.AddDoc("lamp", 1);
  as_term.AddTerm("lamp", 1);
  CHECK(as_doc.Digest() != as_term.Digest());
  ContentSignature empty;
  CHECK(empty.Digest() != as_doc.Digest());
}

TEST_CASE("the order of docs is part of the signature (docs are in local order)") {
  ContentSignature ab, ba;
  ab.AddDoc("a", 1);
  ab.AddDoc("b", 2);
  ba.AddDoc("b", 2);
  ba.AddDoc("a", 1);
  CHECK(ab.Digest() != ba.Digest());
}

TEST_CASE("a Bloom filter never forgets a term it was given, and round-trips through hex") {
  std::mt19937 rng(5);
  for (int round = 0; round < 50; ++round) {
    TermBloom bloom;
    std::vector<std::string> terms;
    const size_t n = 1 + rng() % 400;
    for (size_t i = 0; i < n; ++i) {
      terms.push_back("title:" + RandomWord(rng) + std::to_string(rng()));
      bloom.Add(terms.back());
    }
    for (const auto& t : terms) REQUIRE(bloom.MayContain(t));
    auto back = TermBloom::FromHex(bloom.ToHex());
    REQUIRE(back.ok());
    CHECK(back.value() == bloom);
    CHECK(back.value().DifferingBits(bloom) == 0);
    CHECK(bloom.ToHex().size() == TermBloom::kBits / 4);
    // The manifest's form: each word as Hex64 prints it, in word order.
    std::string expected;
    for (const uint64_t w : bloom.words()) expected += pidx::Hex64(w);
    CHECK(bloom.ToHex() == expected);
  }
}

TEST_CASE("a signature is XXH3 of the records D(id, hash) and T(term, df), in order (generated)") {
  // The byte stream is the recorded format (signature.h): manifests written before keep
  // comparing equal, whatever buffers the signature reuses.
  std::mt19937 rng(11);
  for (int round = 0; round < 40; ++round) {
    ContentSignature sig;
    std::string stream;
    const size_t docs = rng() % 20, terms = rng() % 60;
    for (size_t i = 0; i < docs; ++i) {
      const std::string id = RandomWord(rng) + std::string(rng() % 300, 'x');
      const uint64_t hash = (uint64_t{rng()} << 32) | rng();
      sig.AddDoc(id, hash);
      stream += 'D';
      pidx::PutLengthPrefixed(&stream, id);
      pidx::PutFixed64(&stream, hash);
    }
    for (size_t i = 0; i < terms; ++i) {
      const std::string term = "title:" + RandomWord(rng);
      const uint32_t df = rng();
      sig.AddTerm(term, df);
      stream += 'T';
      pidx::PutLengthPrefixed(&stream, term);
      pidx::PutFixed32(&stream, df);
    }
    CHECK(sig.Digest() == pidx::Xxh3(stream));
  }
}

TEST_CASE("an empty filter contains nothing; a filter of few terms rejects most others") {
  TermBloom empty;
  CHECK_FALSE(empty.MayContain("title:lamp"));
  TermBloom few;
  for (int i = 0; i < 50; ++i) few.Add("title:w" + std::to_string(i));
  int false_positives = 0;
  for (int i = 0; i < 10000; ++i) false_positives += few.MayContain("title:x" + std::to_string(i));
  // 50 terms in 2048 bits with 4 probes: about 0.0004 expected; 1% is a broken filter.
  CHECK(false_positives < 100);
  CHECK(empty.DifferingBits(few) == few.DifferingBits(empty));
  CHECK(empty.DifferingBits(few) > 0);
}

TEST_CASE("a term's precomputed probes answer as the term does, in any filter (generated)") {
  std::mt19937 rng(17);
  for (int round = 0; round < 200; ++round) {
    // Filters from empty to nearly full, so both answers occur often.
    TermBloom bloom;
    const size_t n = rng() % (round % 4 == 0 ? 2000 : 300);
    for (size_t i = 0; i < n; ++i) {
      std::string term = "title:";
      term += RandomWord(rng);
      term += std::to_string(rng() % 997);
      bloom.Add(term);
    }
    int yes = 0;
    for (int i = 0; i < 200; ++i) {
      std::string term = rng() % 2 ? "title:" : "brand:";
      term += RandomWord(rng);
      if (rng() % 3 == 0) term += std::to_string(rng() % 997);
      if (rng() % 50 == 0) term.clear();
      const TermBloom::Probes p = TermBloom::ProbesOf(term);
      for (const uint16_t bit : p.bits) REQUIRE(bit < TermBloom::kBits);
      INFO(term);
      REQUIRE(bloom.MayContain(p) == bloom.MayContain(term));
      yes += bloom.MayContain(p);
    }
    if (n == 0) CHECK(yes == 0);
  }
  // The probes are those of the term: a filter holding only one term's bits contains it.
  for (int i = 0; i < 1000; ++i) {
    std::string term = "t:";
    term += std::to_string(rng());
    TermBloom one;
    one.Add(term);
    CHECK(one.MayContain(TermBloom::ProbesOf(term)));
    CHECK(one.DifferingBits(TermBloom()) <= static_cast<size_t>(TermBloom::kProbes));
  }
}

TEST_CASE("malformed Bloom hex is refused as corrupt") {
  const std::string good = TermBloom().ToHex();
  for (const std::string& bad : {std::string(), good.substr(1), good + "0",
                                 std::string(good.size(), 'g'), "Z" + good.substr(1)}) {
    auto r = TermBloom::FromHex(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().kind() == StatusKind::kCorrupt);
  }
}
