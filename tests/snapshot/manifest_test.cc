#include "pidx/snapshot/manifest.h"

#include <catch2/catch.hpp>

#include <functional>
#include <random>

#include "pidx/base/checksum.h"

using pidx::snapshot::Manifest;
using pidx::snapshot::ShardEntry;

namespace {
Manifest Sample() {
  Manifest m;
  m.version = 42;
  m.parent = 41;
  m.created = "2026-11-25T00:00:00.000Z";
  m.tool_version = "0.1.0";
  m.operation = "build";
  m.catalogs.push_back({"c.jsonl", 123, "00000000000000ab", 2});
  m.schema = {{"fields", nlohmann::json::array()}};
  m.analyzer = {{"version", 1}};
  ShardEntry e;
  e.shard = "books_003";
  e.segment = "books_003-0123456789abcdef.seg";
  e.size = 999;
  e.checksum = 0x0123456789abcdefULL;
  e.docs = 2;
  e.terms = 7;
  e.postings = 9;
  e.signature = 42;
  e.term_bloom = std::string(512, '0');
  e.categories = {{"Books", 2}};
  m.shards.push_back(e);
  m.category_shards = {{"books", 8}};
  return m;
}
}  // namespace

TEST_CASE("a manifest round-trips through its serialization") {
  Manifest m = Sample();
  std::string bytes = m.Serialize();
  auto back = Manifest::Parse(bytes, "v42.manifest");
  REQUIRE(back.ok());
  CHECK(back->Serialize() == bytes);
  CHECK(back->version == 42);
  CHECK(back->parent == 41);
  CHECK(back->shards.size() == 1);
  CHECK(back->shards[0].checksum == 0x0123456789abcdefULL);
  CHECK(pidx::snapshot::SumTotals(back->shards).docs == 2);
  CHECK(back->Categories().at("Books") == 2);
  CHECK(back->FindShard("books_003") != nullptr);
  CHECK(back->FindShard("books_004") == nullptr);
}

TEST_CASE("a manifest with a changed byte is rejected with a checksum mismatch") {
  std::string bytes = Sample().Serialize();
  bytes[bytes.find("\"docs\": 2")] = 'X';
  auto r = Manifest::Parse(bytes, "v42.manifest");
  REQUIRE(!r.ok());
  CHECK(r.status().kind() == pidx::StatusKind::kCorrupt);
  CHECK(r.status().message().find("v42.manifest: checksum mismatch") == 0);
}

TEST_CASE("a truncated manifest is rejected, never half read") {
  std::string bytes = Sample().Serialize();
  for (size_t n : {size_t{0}, size_t{1}, bytes.size() / 2, bytes.size() - 1}) {
    auto r = Manifest::Parse(bytes.substr(0, n), "m");
    CHECK(!r.ok());
  }
}

TEST_CASE("version names are v + six digits and parse back") {
  CHECK(pidx::snapshot::VersionName(42) == "v000042");
  CHECK(pidx::snapshot::VersionName(1234567) == "v1234567");
  uint64_t v = 0;
  CHECK(pidx::snapshot::ParseVersionName("v000042", &v));
  CHECK(v == 42);
  CHECK(pidx::snapshot::ParseVersionName("7", &v));
  CHECK(v == 7);
  CHECK(!pidx::snapshot::ParseVersionName("v0", &v));
  CHECK(!pidx::snapshot::ParseVersionName("latest", &v));
  CHECK(!pidx::snapshot::ParseVersionName("", &v));
}

TEST_CASE("a manifest number that is a float, negative or too large for its field is corrupt") {
  // With a correct checksum, so that the field check itself is reached (fuzz_manifest found a
  // float "docs" converted with undefined behaviour).
  const std::string good = Sample().Serialize();
  const std::string body = good.substr(0, good.rfind("xxh3 "));
  for (const std::string bad : {"1e300", "2.5", "-1", "4294967296"}) {
    std::string changed = body;
    const std::string field = "\"docs\": 2";  // the shard's (the last), not the summary's
    REQUIRE(changed.rfind(field) != std::string::npos);
    changed.replace(changed.rfind(field), field.size(), "\"docs\": " + bad);
    changed += "xxh3 " + pidx::Hex64(pidx::Xxh3(changed)) + "\n";
    auto r = Manifest::Parse(changed, "v42.manifest");
    REQUIRE(!r.ok());
    CHECK(r.status().kind() == pidx::StatusKind::kCorrupt);
    CHECK(r.status().message().find("v42.manifest") == 0);
  }
}

TEST_CASE("names read from disk are checked at parse: a segment that leaves segments/ is refused") {
  for (const char* bad_name :
       {"../../../OUT/evil.seg", "books_003-0123456789ABCDEF.seg", "books_003-0123456789abcdef",
        "books_004-0123456789abcdef.seg", "books_003-0123456789abcde.seg",
        "books_003-0123456789abcdef.seg/x", "/etc/books_003-0123456789abcdef.seg"}) {
    const std::string bad = bad_name;
    Manifest m = Sample();
    m.shards[0].segment = bad;
    auto r = Manifest::Parse(m.Serialize(), "v42.manifest");
    INFO(bad);
    REQUIRE(!r.ok());
    CHECK(r.status().kind() == pidx::StatusKind::kCorrupt);
    CHECK(r.status().message().find("v42.manifest: shards[0].segment \"" + bad + "\"") == 0);
  }
  Manifest m = Sample();
  m.shards[0].shard = "../books_003";
  m.shards[0].segment = "../books_003-0123456789abcdef.seg";
  CHECK(!Manifest::Parse(m.Serialize(), "v42.manifest").ok());
}

TEST_CASE("segment and version names of pidx's exact forms") {
  using pidx::snapshot::IsSegmentNameOf;
  using pidx::snapshot::ParseStoredVersionName;
  CHECK(IsSegmentNameOf("books_003-0123456789abcdef.seg", "books_003"));
  CHECK(IsSegmentNameOf("c-1a2b3c4d_000-0123456789abcdef.seg", "c-1a2b3c4d_000"));
  CHECK(!IsSegmentNameOf("books_003-0123456789abcdef.seg", "books_004"));
  CHECK(!IsSegmentNameOf("a/b_003-0123456789abcdef.seg", "a/b_003"));
  CHECK(!IsSegmentNameOf("..-0123456789abcdef.seg", ".."));
  uint64_t v = 0;
  CHECK(ParseStoredVersionName("v000042", &v));
  CHECK(v == 42);
  CHECK(ParseStoredVersionName("v1234567", &v));
  CHECK(v == 1234567);
  for (const char* bad : {"v42", "42", "000042", "v0000042", "v000000", "v00004a", ""}) {
    INFO(bad);
    CHECK(!ParseStoredVersionName(bad, &v));
  }
}

TEST_CASE("the stored totals are kept for verify to compare") {
  Manifest m = Sample();
  auto back = Manifest::Parse(m.Serialize(), "v42.manifest");
  REQUIRE(back.ok());
  CHECK(back->stored_totals.docs == 2);
  CHECK(back->stored_totals.shards == 1);
  CHECK(back->stored_totals.bytes == 999);
  CHECK(back->stored_totals.terms == 7);
  CHECK(back->stored_totals.postings == 9);
}

namespace {
// `m` serialized, with `edit` applied to its JSON and the checksum line written again.
std::string Edited(const Manifest& m, const std::function<void(nlohmann::ordered_json&)>& edit) {
  const std::string bytes = m.Serialize();
  auto j = nlohmann::ordered_json::parse(bytes.substr(0, bytes.rfind("xxh3 ")));
  edit(j);
  const std::string body = j.dump(1) + "\n";
  return body + "xxh3 " + pidx::Hex64(pidx::Xxh3(body)) + "\n";
}
}  // namespace

TEST_CASE("format 2 records each category's shard count; format 1 reads as S for every one") {
  Manifest m = Sample();
  m.shards_per_category = 8;
  m.target_shard_docs = 4096;
  m.category_shards = {{"books", 4}};
  auto back = Manifest::Parse(m.Serialize(), "v42.manifest");
  REQUIRE(back.ok());
  CHECK(back->format_version == 2);
  CHECK(back->target_shard_docs == 4096);
  CHECK(back->ShardsOf("books") == 4);
  CHECK(back->ShardsOf("toys") == 8);  // not in the version: S

  const std::string v1 = Edited(m, [](nlohmann::ordered_json& j) {
    j["format_version"] = 1;
    j.erase("target_shard_docs");
    j.erase("category_shards");
  });
  auto old = Manifest::Parse(v1, "v42.manifest");
  REQUIRE(old.ok());
  CHECK(old->format_version == 1);
  CHECK(old->category_shards.empty());
  CHECK(old->ShardsOf("books") == 8);
  CHECK(old->Serialize() == v1);  // a format-1 manifest serializes as format 1

  for (const auto& [what, edit] :
       std::vector<std::pair<std::string, std::function<void(nlohmann::ordered_json&)>>>{
           {"a count that does not divide S", [](auto& j) { j["category_shards"]["books"] = 3; }},
           {"a zero count", [](auto& j) { j["category_shards"]["books"] = 0; }},
           {"a count above S", [](auto& j) { j["category_shards"]["books"] = 16; }},
           {"a slug with a slash", [](auto& j) { j["category_shards"]["../x"] = 1; }},
           {"no category_shards in format 2", [](auto& j) { j.erase("category_shards"); }},
           {"an array", [](auto& j) { j["category_shards"] = nlohmann::json::array(); }},
           {"S of 0", [](auto& j) { j["shards_per_category"] = 0; }},
           {"S above 1000", [](auto& j) { j["shards_per_category"] = 1001; }},
           {"format 3", [](auto& j) { j["format_version"] = 3; }},
       }) {
    INFO(what);
    auto r = Manifest::Parse(Edited(m, edit), "v42.manifest");
    CHECK(!r.ok());
    if (!r.ok()) CHECK(r.status().kind() == pidx::StatusKind::kCorrupt);
  }
}

TEST_CASE("SumTotals adds every entry's docs, terms, postings and size and counts the entries") {
  CHECK(pidx::snapshot::SumTotals({}).shards == 0);
  std::vector<ShardEntry> entries;
  uint64_t docs = 0, terms = 0, postings = 0, bytes = 0;
  for (uint32_t i = 0; i < 5; ++i) {
    ShardEntry e;
    e.docs = 4'000'000'000u - i;  // near uint32 max: the sums must not wrap at 32 bits
    e.terms = 3'000'000'000u + i;
    e.postings = (uint64_t{1} << 40) + i;
    e.size = 1000 * i + 7;
    docs += e.docs;
    terms += e.terms;
    postings += e.postings;
    bytes += e.size;
    entries.push_back(e);
  }
  const pidx::snapshot::Totals t = pidx::snapshot::SumTotals(entries);
  CHECK(t.shards == 5);
  CHECK(t.docs == docs);
  CHECK(t.terms == terms);
  CHECK(t.postings == postings);
  CHECK(t.bytes == bytes);
  Manifest m = Sample();
  m.shards = entries;
  for (size_t i = 0; i < m.shards.size(); ++i) {
    m.shards[i].shard = "books_00" + std::to_string(i);
    m.shards[i].segment = m.shards[i].shard + "-0123456789abcdef.seg";
  }
  auto back = Manifest::Parse(m.Serialize(), "v42.manifest");
  REQUIRE(back.ok());
  CHECK(back->stored_totals.docs == docs);
  CHECK(back->stored_totals.postings == postings);
}

// The shard entries are read by simdjson, the rest by nlohmann: generated manifests with many
// shards and category names full of what JSON must escape (quotes, backslashes, control
// characters, non-ASCII, a "shards" key) come back field for field, and serialize to the same
// bytes.
TEST_CASE("generated manifests with hostile category names round-trip exactly") {
  std::mt19937 rng(7);
  const std::vector<std::string> pieces = {
      "\"", "\\", "\n", "\t", std::string(1, '\x01'), "\xc3\xa9", "\xe2\x82\xac", "shards", "}",
      "[",  " ",  "a",  "0",  "\xf0\x9f\x93\xa6"};
  for (int round = 0; round < 30; ++round) {
    Manifest m = Sample();
    m.shards.clear();
    m.category_shards.clear();
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      ShardEntry e;
      e.shard = "c" + std::to_string(i) + "_000";
      e.segment = e.shard + "-" + pidx::Hex64(rng()) + ".seg";
      e.size = rng() % 2 ? rng() : UINT64_MAX;
      e.checksum = (uint64_t{rng()} << 32) | rng();
      e.docs = rng() % 2 ? rng() : UINT32_MAX;
      e.terms = static_cast<uint32_t>(rng());
      e.postings = uint64_t{rng()} << 20;
      e.signature = (uint64_t{rng()} << 32) | rng();
      e.term_bloom = pidx::Hex64(rng()) + pidx::Hex64(rng());
      const int cats = static_cast<int>(rng() % 4);  // 0: an empty object
      for (int c = 0; c < cats; ++c) {
        std::string name;
        const int len = 1 + static_cast<int>(rng() % 6);
        for (int k = 0; k < len; ++k) name += pieces[rng() % pieces.size()];
        e.categories[name] = rng() % 1000;
      }
      m.category_shards["c" + std::to_string(i)] = 1;
      m.shards.push_back(e);
    }
    m.shards_per_category = 1;
    const std::string bytes = m.Serialize();
    // The entries are written as text: byte for byte what nlohmann's dump(1) of the same
    // entries gives (the serialization before it, kept here as the model).
    {
      auto model = nlohmann::ordered_json::parse(bytes.substr(0, bytes.rfind("xxh3 ")));
      model["shards"] = nlohmann::ordered_json::array();
      for (const auto& s : m.shards) {
        nlohmann::ordered_json e;
        e["shard"] = s.shard;
        e["segment"] = s.segment;
        e["size"] = s.size;
        e["checksum"] = pidx::Hex64(s.checksum);
        e["docs"] = s.docs;
        e["terms"] = s.terms;
        e["postings"] = s.postings;
        e["signature"] = pidx::Hex64(s.signature);
        e["term_bloom"] = s.term_bloom;
        e["categories"] = s.categories;
        model["shards"].push_back(std::move(e));
      }
      const std::string text = model.dump(1) + "\n";
      CHECK(bytes == text + "xxh3 " + pidx::Hex64(pidx::Xxh3(text)) + "\n");
    }
    auto back = Manifest::Parse(bytes, "v42.manifest");
    REQUIRE(back.ok());
    CHECK(back->Serialize() == bytes);
    REQUIRE(back->shards.size() == m.shards.size());
    for (size_t i = 0; i < m.shards.size(); ++i) {
      const ShardEntry& a = m.shards[i];
      const ShardEntry& b = back->shards[i];
      CHECK(a.shard == b.shard);
      CHECK(a.segment == b.segment);
      CHECK(a.size == b.size);
      CHECK(a.checksum == b.checksum);
      CHECK(a.docs == b.docs);
      CHECK(a.terms == b.terms);
      CHECK(a.postings == b.postings);
      CHECK(a.signature == b.signature);
      CHECK(a.term_bloom == b.term_bloom);
      CHECK(a.categories == b.categories);
    }
  }
}

// Every field of a shard entry, missing or of a wrong type, with a correct checksum: kCorrupt
// naming the manifest, never a crash or a default value.
TEST_CASE("a shard entry field that is missing or of the wrong type is corrupt") {
  const std::vector<std::string> fields = {"shard",      "segment",   "size",     "checksum",
                                           "docs",       "terms",     "postings", "signature",
                                           "term_bloom", "categories"};
  const std::vector<std::string> wrong = {
      "null", "true", "\"x\"", "-1", "1.5", "[]", "{}", "18446744073709551616", "{\"a\": -2}"};
  const std::string good = Sample().Serialize();
  const std::string body = good.substr(0, good.rfind("xxh3 "));
  auto j = nlohmann::ordered_json::parse(body);
  for (const auto& field : fields) {
    std::vector<nlohmann::ordered_json> variants;
    {
      auto missing = j;
      missing["shards"][0].erase(field);
      variants.push_back(missing);
    }
    for (const auto& w : wrong) {
      auto changed = j;
      changed["shards"][0][field] = nlohmann::ordered_json::parse(w);
      // {} is a valid categories object; a bloom's hex is checked where it is decoded
      // (TermBloom::FromHex), not by the manifest.
      if (field == "categories" && w == "{}") continue;
      if (field == "term_bloom" && w == "\"x\"") continue;
      variants.push_back(changed);
    }
    for (const auto& v : variants) {
      std::string text = v.dump(1) + "\n";
      text += "xxh3 " + pidx::Hex64(pidx::Xxh3(text)) + "\n";
      INFO(field << ": " << v["shards"][0].dump());
      auto r = Manifest::Parse(text, "v42.manifest");
      REQUIRE(!r.ok());
      CHECK(r.status().kind() == pidx::StatusKind::kCorrupt);
      CHECK(r.status().message().find("v42.manifest: ") == 0);
    }
  }
  // A repeated key: the last value counts, as nlohmann reads the rest of the manifest.
  std::string text = body;
  const std::string docs = "\"docs\": 2,";
  REQUIRE(text.rfind(docs) != std::string::npos);
  text.replace(text.rfind(docs), docs.size(), "\"docs\": 5, \"docs\": 2,");
  text += "xxh3 " + pidx::Hex64(pidx::Xxh3(text)) + "\n";
  auto r = Manifest::Parse(text, "v42.manifest");
  REQUIRE(r.ok());
  CHECK(r->shards[0].docs == 2);
}

// The On-Demand reader skips what it does not need; what it skips must still be JSON.
TEST_CASE(
    "trailing text, or malformed JSON in an unknown field, is corrupt; valid extras are not") {
  const std::string good = Sample().Serialize();
  const std::string body = good.substr(0, good.rfind("xxh3 "));
  auto sealed = [](std::string text) {
    return text + "xxh3 " + pidx::Hex64(pidx::Xxh3(text)) + "\n";
  };
  const std::string entry = "\"shard\": \"books_003\",";
  REQUIRE(body.find(entry) != std::string::npos);
  auto with_extra = [&](const std::string& extra) {
    std::string text = body;
    text.replace(text.find(entry), entry.size(), "\"later\": " + extra + ", " + entry);
    return sealed(text);
  };
  CHECK(Manifest::Parse(with_extra("{\"a\": [1, 2, {\"b\": null}]}"), "m").ok());
  CHECK(Manifest::Parse(with_extra("\"text\""), "m").ok());
  for (const std::string bad : {"[1, }", "{\"a\" 1}", "tru", "[1, 2"}) {
    INFO(bad);
    auto r = Manifest::Parse(with_extra(bad), "m");
    REQUIRE(!r.ok());
    CHECK(r.status().kind() == pidx::StatusKind::kCorrupt);
  }
  for (const std::string tail : {"{}\n", "x\n", "[]\n", "0\n"}) {
    INFO(tail);
    auto r = Manifest::Parse(sealed(body + tail), "m");
    REQUIRE(!r.ok());
    CHECK(r.status().kind() == pidx::StatusKind::kCorrupt);
  }
  CHECK(Manifest::Parse(sealed(body + " \n\t\n"), "m").ok());
}
