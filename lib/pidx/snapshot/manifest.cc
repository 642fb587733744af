#include "pidx/snapshot/manifest.h"
#include "pidx/base/json_number.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <cstdint>
#include <iterator>

#include "pidx/base/checksum.h"
#include "pidx/base/json_read.h"
#include "pidx/shard/shard_id.h"
#include "pidx/snapshot/layout_json.h"

namespace pidx::snapshot {

using nlohmann::json;

namespace {
ShardLayoutRef LayoutOf(Manifest* m) {
  return {m->format_version, &m->shards_per_category, &m->target_shard_docs, &m->category_shards};
}
}  // namespace

Totals SumTotals(const std::vector<ShardEntry>& shards) {
  Totals t;
  t.shards = shards.size();
  for (const auto& s : shards) {
    t.docs += s.docs;
    t.terms += s.terms;
    t.postings += s.postings;
    t.bytes += s.size;
  }
  return t;
}
std::map<std::string, uint64_t> Manifest::Categories() const {
  std::map<std::string, uint64_t> out;
  for (const auto& s : shards) {
    for (const auto& [c, n] : s.categories) out[c] += n;
  }
  return out;
}
const ShardEntry* Manifest::FindShard(std::string_view shard) const {
  for (const auto& s : shards) {
    if (s.shard == shard) return &s;
  }
  return nullptr;
}

uint32_t Manifest::ShardsOf(const std::string& slug) const {
  auto it = category_shards.find(slug);
  return it == category_shards.end() ? shards_per_category : it->second;
}

std::string Manifest::Serialize() const {
  nlohmann::ordered_json j;
  j["format"] = "pidx-manifest";
  j["format_version"] = format_version;
  j["version"] = version;
  j["version_name"] = VersionName(version);
  j["parent"] = parent;
  j["created"] = created;
  j["tool_version"] = tool_version;
  j["operation"] = operation;
  if (!operation_shard.empty()) j["operation_shard"] = operation_shard;
  j["catalogs"] = CatalogsToJson(catalogs);
  j["schema"] = schema;
  j["analyzer"] = analyzer;
  ShardLayoutToJson(format_version, shards_per_category, target_shard_docs, category_shards, &j);
  j["bad_lines_skipped"] = bad_lines_skipped;
  const Totals totals = SumTotals(shards);
  j["totals"] = {{"shards", totals.shards},
                 {"docs", totals.docs},
                 {"terms", totals.terms},
                 {"postings", totals.postings},
                 {"bytes", totals.bytes}};
  // The shard entries are written as text, in the layout nlohmann's dump(1) gives them (the
  // manifest's bytes did not change): a DOM of 42k entries was a 190 MB heap peak of the
  // publish. Strings still go through nlohmann's escaping.
  j["shards"] = json::array();
  std::string text = j.dump(1);
  constexpr std::string_view kEmpty = "[]\n}";
  if (shards.empty() || text.size() < kEmpty.size() ||
      std::string_view(text).substr(text.size() - kEmpty.size()) != kEmpty) {
    return WithChecksumLine(text + "\n");
  }
  text.resize(text.size() - kEmpty.size());
  auto str = [&](std::string_view key, const std::string& value) {
    fmt::format_to(std::back_inserter(text), "   \"{}\": {},\n", key, json(value).dump());
  };
  auto num = [&](std::string_view key, uint64_t value) {
    fmt::format_to(std::back_inserter(text), "   \"{}\": {},\n", key, value);
  };
  text += "[\n";
  for (size_t i = 0; i < shards.size(); ++i) {
    const ShardEntry& s = shards[i];
    text += "  {\n";
    str("shard", s.shard);
    str("segment", s.segment);
    num("size", s.size);
    str("checksum", Hex64(s.checksum));
    num("docs", s.docs);
    num("terms", s.terms);
    num("postings", s.postings);
    str("signature", Hex64(s.signature));
    str("term_bloom", s.term_bloom);
    if (s.categories.empty()) {
      text += "   \"categories\": {}\n";
    } else {
      text += "   \"categories\": {\n";
      size_t c = 0;
      for (const auto& [category, docs] : s.categories) {
        fmt::format_to(std::back_inserter(text), "    {}: {}{}\n", json(category).dump(), docs,
                       ++c < s.categories.size() ? "," : "");
      }
      text += "   }\n";
    }
    text += i + 1 < shards.size() ? "  },\n" : "  }\n";
  }
  text += " ]\n}\n";
  return WithChecksumLine(std::move(text));
}

namespace {

namespace od = simdjson::ondemand;

// A manifest field that is missing or of the wrong type (Parse reports it as kCorrupt).
struct FieldError {
  std::string what;
  bool type_error = true;  // reported as "bad manifest field: ..."
};

// simdjson's error for a JSON text that is not well formed.
struct SyntaxError {
  simdjson::error_code code;
};

template <typename T>
T Take(simdjson::simdjson_result<T>&& r) {
  T out{};
  if (auto err = std::move(r).get(out); err != simdjson::SUCCESS) throw SyntaxError{err};
  return out;
}

// A scalar's text: its token without the whitespace simdjson keeps after it.
std::string_view ScalarText(od::value& v) {
  std::string_view t = v.raw_json_token();
  while (!t.empty() &&
         (t.back() == ' ' || t.back() == '\n' || t.back() == '\r' || t.back() == '\t')) {
    t.remove_suffix(1);
  }
  return t;
}

// What an error message shows of a value.
std::string_view TokenText(od::value& v) { return ScalarText(v).substr(0, 64); }

// The whole text of `v` (On-Demand values have raw_json only as objects and arrays).
std::string_view RawJson(od::value& v) {
  switch (Take(v.type())) {
    case od::json_type::object: {
      od::object o = Take(v.get_object());
      return Take(o.raw_json());
    }
    case od::json_type::array: {
      od::array a = Take(v.get_array());
      return Take(a.raw_json());
    }
    default:
      return ScalarText(v);
  }
}

std::string_view OdString(od::value v, std::string_view key) {
  std::string_view out;
  if (v.get_string().get(out) != simdjson::SUCCESS) {
    throw FieldError{fmt::format("\"{}\" is not a string, got {}", key, TokenText(v))};
  }
  return out;
}

// What JsonUnsigned accepts: a JSON integer >= 0 of at most `max`.
uint64_t OdUnsigned(od::value v, uint64_t max, std::string_view key) {
  uint64_t out = 0;
  const std::string_view token = TokenText(v);
  // Integers only, as nlohmann's is_number_unsigned: no sign, fraction or exponent.
  const bool integer =
      !token.empty() && token.find_first_not_of("0123456789") == std::string_view::npos;
  if (integer && v.get_uint64().get(out) == simdjson::SUCCESS && out <= max) return out;
  throw FieldError{
      fmt::format("\"{}\": expected an unsigned integer of at most {}, got {}", key, max, token)};
}

// One element of "shards", read field by field in one pass; a repeated key's last value wins
// (as nlohmann reads the rest of the manifest). An unknown key is skipped once its value is
// known to be well-formed JSON.
ShardEntry ParseShardEntry(od::value value, size_t i) {
  od::object e;
  if (value.get_object().get(e) != simdjson::SUCCESS) {
    throw FieldError{fmt::format("shards[{}] is not an object", i)};
  }
  enum Field {
    kShard,
    kSegment,
    kSize,
    kChecksum,
    kDocs,
    kTerms,
    kPostings,
    kSignature,
    kBloom,
    kCategories,
    kFields
  };
  static constexpr std::string_view kNames[kFields] = {
      "shard", "segment",  "size",      "checksum",   "docs",
      "terms", "postings", "signature", "term_bloom", "categories"};
  bool seen[kFields] = {};
  ShardEntry s;
  std::string checksum, signature;
  for (auto field_result : e) {
    od::field f = Take(std::move(field_result));
    const std::string_view key = Take(f.unescaped_key());
    int k = 0;
    while (k < kFields && key != kNames[k]) ++k;
    od::value v = f.value();
    switch (k) {
      case kShard:
        s.shard = std::string(OdString(v, "shard"));
        break;
      case kSegment:
        s.segment = std::string(OdString(v, "segment"));
        break;
      case kSize:
        s.size = OdUnsigned(v, UINT64_MAX, "size");
        break;
      case kChecksum:
        checksum = std::string(OdString(v, "checksum"));
        break;
      case kDocs:
        s.docs = static_cast<uint32_t>(OdUnsigned(v, UINT32_MAX, "docs"));
        break;
      case kTerms:
        s.terms = static_cast<uint32_t>(OdUnsigned(v, UINT32_MAX, "terms"));
        break;
      case kPostings:
        s.postings = OdUnsigned(v, UINT64_MAX, "postings");
        break;
      case kSignature:
        signature = std::string(OdString(v, "signature"));
        break;
      case kBloom:
        s.term_bloom = std::string(OdString(v, "term_bloom"));
        break;
      case kCategories: {
        od::object categories;
        if (v.get_object().get(categories) != simdjson::SUCCESS) {
          throw FieldError{fmt::format("shards[{}].categories is not an object", i)};
        }
        s.categories.clear();
        for (auto c_result : categories) {
          od::field c = Take(std::move(c_result));
          std::string category(Take(c.unescaped_key()));
          s.categories[std::move(category)] = OdUnsigned(c.value(), UINT64_MAX, "categories");
        }
        break;
      }
      default:
        if (!json::accept(RawJson(v))) throw SyntaxError{simdjson::TAPE_ERROR};
        break;
    }
    if (k < kFields) seen[k] = true;
  }
  for (int k = 0; k < kFields; ++k) {
    if (!seen[k]) throw FieldError{fmt::format("shards[{}]: key \"{}\" not found", i, kNames[k])};
  }
  // The segment name becomes a path under segments/: it is checked here, once, so that no
  // reader or writer can be led outside the index by it.
  if (!IsSegmentNameOf(s.segment, s.shard)) {
    throw FieldError{fmt::format("shards[{}].segment \"{}\" is not a segment name of shard "
                                 "\"{}\" (expected <shard>-<16 hex digits>.seg)",
                                 i, s.segment, s.shard),
                     false};
  }
  if (!ParseHex64(checksum, &s.checksum) || !ParseHex64(signature, &s.signature)) {
    throw FieldError{"shard " + s.shard + ": bad checksum or signature field", false};
  }
  return s;
}

}  // namespace

// simdjson's On-Demand parser reads the document: a 42k-shard manifest is 35 MB, nlohmann's
// parser took a second of every query on it and its DOM (as simdjson's) about 14 bytes per
// byte read. The shard entries are taken in one forward pass; every other field, all small,
// goes through nlohmann as before, from its raw text.
Result<Manifest> Manifest::Parse(std::string_view bytes, const std::string& name) {
  auto corrupt = [&](const std::string& why) { return Status::Corrupt(name + ": " + why); };
  std::string_view body;
  if (std::string why = ChecksummedBody(bytes, "manifest", &body); !why.empty()) {
    return corrupt(why);
  }
  if (body.size() > kManifestJsonLimits.max_bytes) {
    return corrupt(fmt::format("{} bytes of JSON, more than the limit of {}", body.size(),
                               kManifestJsonLimits.max_bytes));
  }
  // simdjson does not recurse per level, but the nesting rule stays base/json_read.h's, for
  // every JSON file pidx reads.
  if (JsonNestingDepth(body, kManifestJsonLimits.max_depth) > kManifestJsonLimits.max_depth) {
    return corrupt(fmt::format("JSON nested deeper than {} levels", kManifestJsonLimits.max_depth));
  }
  od::parser parser;
  const simdjson::padded_string padded(body);
  Manifest m;
  json j = json::object();
  bool have_shards = false;
  try {
    od::document doc = Take(parser.iterate(padded));
    od::object top;
    if (doc.get_object().get(top) != simdjson::SUCCESS) {
      return corrupt("manifest is not a JSON object");
    }
    for (auto field_result : top) {
      od::field f = Take(std::move(field_result));
      std::string key(Take(f.unescaped_key()));
      od::value v = f.value();
      if (key != "shards") {
        j[key] = json::parse(RawJson(v));
        continue;
      }
      od::array list;
      if (v.get_array().get(list) != simdjson::SUCCESS) {
        return corrupt("\"shards\" is not an array");
      }
      have_shards = true;
      m.shards.clear();
      size_t i = 0;
      for (auto element : list) m.shards.push_back(ParseShardEntry(Take(std::move(element)), i++));
    }
    // Nothing but whitespace may follow the object.
    const char* end = nullptr;
    if (doc.current_location().get(end) == simdjson::SUCCESS) {
      throw SyntaxError{simdjson::TRAILING_CONTENT};
    }
  } catch (const SyntaxError& e) {
    return corrupt(std::string("malformed JSON: ") + simdjson::error_message(e.code));
  } catch (const json::exception& e) {
    return corrupt(std::string("malformed JSON: ") + e.what());
  } catch (const FieldError& e) {
    return corrupt(e.type_error ? "bad manifest field: " + e.what : e.what);
  }
  try {
    if (j.at("format").get<std::string>() != "pidx-manifest") return corrupt("not a pidx manifest");
    m.format_version = JsonUnsigned<uint32_t>(j.at("format_version"));
    if (m.format_version != 1 && m.format_version != 2) {
      return corrupt("unsupported manifest format version " + std::to_string(m.format_version));
    }
    m.version = JsonUnsigned<uint64_t>(j.at("version"));
    m.parent = JsonUnsigned<uint64_t>(j.at("parent"));
    m.created = j.at("created").get<std::string>();
    m.tool_version = j.at("tool_version").get<std::string>();
    m.operation = j.at("operation").get<std::string>();
    m.operation_shard = j.value("operation_shard", "");
    m.catalogs = CatalogsFromJson(j.at("catalogs"));
    m.schema = j.at("schema");
    m.analyzer = j.at("analyzer");
    if (std::string why = ShardLayoutFromJson(j, LayoutOf(&m)); !why.empty()) return corrupt(why);
    m.bad_lines_skipped = JsonUnsigned<uint64_t>(j.at("bad_lines_skipped"));
    const json& totals = j.at("totals");
    m.stored_totals.shards = JsonUnsigned<uint64_t>(totals.at("shards"));
    m.stored_totals.docs = JsonUnsigned<uint64_t>(totals.at("docs"));
    m.stored_totals.terms = JsonUnsigned<uint64_t>(totals.at("terms"));
    m.stored_totals.postings = JsonUnsigned<uint64_t>(totals.at("postings"));
    m.stored_totals.bytes = JsonUnsigned<uint64_t>(totals.at("bytes"));
    if (!have_shards) return corrupt("bad manifest field: key \"shards\" not found");
  } catch (const json::exception& e) {
    return corrupt(std::string("bad manifest field: ") + e.what());
  }
  // The shard list must agree with the layout: every reader trusts that each shard is listed
  // once and lies within its category's count (a duplicated entry doubled every hit).
  std::vector<std::string_view> ids;
  ids.reserve(m.shards.size());
  for (const auto& s : m.shards) ids.push_back(s.shard);
  if (std::string why = ShardIdsProblem(ids, LayoutOf(&m), "shards"); !why.empty()) {
    return corrupt(why);
  }
  return m;
}

std::string VersionName(uint64_t version) { return fmt::format("v{:06}", version); }

bool ParseStoredVersionName(std::string_view text, uint64_t* version) {
  uint64_t v = 0;
  if (text.empty() || text[0] != 'v' || !ParseVersionName(text, &v)) return false;
  if (VersionName(v) != text) return false;
  *version = v;
  return true;
}

bool IsSegmentNameOf(std::string_view segment, std::string_view shard) {
  std::string slug;
  uint32_t number = 0;
  if (!shard::ParseShardId(shard, &slug, &number)) return false;
  constexpr std::string_view kSuffix = ".seg";
  if (segment.size() != shard.size() + 1 + 16 + kSuffix.size()) return false;
  if (segment.substr(0, shard.size()) != shard || segment[shard.size()] != '-') return false;
  if (segment.substr(segment.size() - kSuffix.size()) != kSuffix) return false;
  for (char c : segment.substr(shard.size() + 1, 16)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool ParseVersionName(std::string_view text, uint64_t* version) {
  if (!text.empty() && text[0] == 'v') text.remove_prefix(1);
  if (text.empty() || text.size() > 18) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v == 0 || v > kMaxVersion) return false;
  *version = v;
  return true;
}

}  // namespace pidx::snapshot
