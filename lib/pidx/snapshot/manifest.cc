#include "pidx/snapshot/manifest.h"
#include "pidx/base/json_number.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <cstdint>
#include <optional>

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
  j["shards"] = json::array();
  for (const auto& s : shards) {
    nlohmann::ordered_json e;
    e["shard"] = s.shard;
    e["segment"] = s.segment;
    e["size"] = s.size;
    e["checksum"] = Hex64(s.checksum);
    e["docs"] = s.docs;
    e["terms"] = s.terms;
    e["postings"] = s.postings;
    e["signature"] = Hex64(s.signature);
    e["term_bloom"] = s.term_bloom;
    e["categories"] = s.categories;
    j["shards"].push_back(std::move(e));
  }
  return WithChecksumLine(j.dump(1) + "\n");
}

namespace {

namespace dom = simdjson::dom;

// A manifest field that is missing or of the wrong type (Parse reports it as kCorrupt).
struct FieldError {
  std::string what;
  bool type_error = true;  // reported as "bad manifest field: ..."
};

std::string_view DomString(dom::element v, std::string_view key) {
  std::string_view out;
  if (v.get_string().get(out) != simdjson::SUCCESS) {
    throw FieldError{fmt::format("\"{}\" is not a string, got {}", key, simdjson::to_string(v))};
  }
  return out;
}

// What JsonUnsigned accepts: a JSON integer >= 0 of at most `max`.
uint64_t DomUnsigned(dom::element v, uint64_t max, std::string_view key) {
  uint64_t out = 0;
  const auto type = v.type();
  if ((type == dom::element_type::INT64 || type == dom::element_type::UINT64) &&
      v.get_uint64().get(out) == simdjson::SUCCESS && out <= max) {
    return out;
  }
  throw FieldError{fmt::format("\"{}\": expected an unsigned integer of at most {}, got {}", key,
                               max, simdjson::to_string(v))};
}

// One element of "shards". Fields are taken in order, a repeated key's last value winning (as
// for the rest of the manifest, which nlohmann parses).
ShardEntry ParseShardEntry(dom::element value, size_t i) {
  dom::object e;
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
  dom::element fields[kFields];
  bool seen[kFields] = {};
  for (dom::key_value_pair f : e) {
    for (int k = 0; k < kFields; ++k) {
      if (f.key == kNames[k]) {
        fields[k] = f.value;
        seen[k] = true;
        break;
      }
    }
  }
  for (int k = 0; k < kFields; ++k) {
    if (!seen[k]) throw FieldError{fmt::format("shards[{}]: key \"{}\" not found", i, kNames[k])};
  }
  ShardEntry s;
  s.shard = std::string(DomString(fields[kShard], "shard"));
  s.segment = std::string(DomString(fields[kSegment], "segment"));
  // The segment name becomes a path under segments/: it is checked here, once, so that no
  // reader or writer can be led outside the index by it.
  if (!IsSegmentNameOf(s.segment, s.shard)) {
    throw FieldError{fmt::format("shards[{}].segment \"{}\" is not a segment name of shard "
                                 "\"{}\" (expected <shard>-<16 hex digits>.seg)",
                                 i, s.segment, s.shard),
                     false};
  }
  s.size = DomUnsigned(fields[kSize], UINT64_MAX, "size");
  if (!ParseHex64(std::string(DomString(fields[kChecksum], "checksum")), &s.checksum) ||
      !ParseHex64(std::string(DomString(fields[kSignature], "signature")), &s.signature)) {
    throw FieldError{"shard " + s.shard + ": bad checksum or signature field", false};
  }
  s.docs = static_cast<uint32_t>(DomUnsigned(fields[kDocs], UINT32_MAX, "docs"));
  s.terms = static_cast<uint32_t>(DomUnsigned(fields[kTerms], UINT32_MAX, "terms"));
  s.postings = DomUnsigned(fields[kPostings], UINT64_MAX, "postings");
  s.term_bloom = std::string(DomString(fields[kBloom], "term_bloom"));
  dom::object categories;
  if (fields[kCategories].get_object().get(categories) != simdjson::SUCCESS) {
    throw FieldError{fmt::format("shards[{}].categories is not an object", i)};
  }
  for (dom::key_value_pair c : categories) {
    s.categories[std::string(c.key)] = DomUnsigned(c.value, UINT64_MAX, "categories");
  }
  return s;
}

}  // namespace

// simdjson reads the document (a 42k-shard manifest is 35 MB, and nlohmann's parser took a
// second of every query on it); its shard entries are taken straight from simdjson's DOM and
// every other field, all small, goes through nlohmann as before.
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
  // simdjson does not recurse per level, but its DOM has a depth limit of its own: the
  // nesting rule stays base/json_read.h's, for every JSON file pidx reads.
  if (JsonNestingDepth(body, kManifestJsonLimits.max_depth) > kManifestJsonLimits.max_depth) {
    return corrupt(fmt::format("JSON nested deeper than {} levels", kManifestJsonLimits.max_depth));
  }
  dom::parser parser;
  const simdjson::padded_string padded(body);
  dom::element root;
  if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    return corrupt(std::string("malformed JSON: ") + simdjson::error_message(err));
  }
  dom::object top;
  if (root.get_object().get(top) != simdjson::SUCCESS) {
    return corrupt("manifest is not a JSON object");
  }
  Manifest m;
  json j = json::object();
  std::optional<dom::element> shards;
  try {
    for (dom::key_value_pair f : top) {
      if (f.key == "shards") {
        shards = f.value;
      } else {
        j[std::string(f.key)] = json::parse(simdjson::to_string(f.value));
      }
    }
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
    if (!shards) return corrupt("bad manifest field: key \"shards\" not found");
    dom::array list;
    if (shards->get_array().get(list) != simdjson::SUCCESS) {
      return corrupt("\"shards\" is not an array");
    }
    m.shards.reserve(list.size());
    size_t i = 0;
    for (dom::element e : list) m.shards.push_back(ParseShardEntry(e, i++));
  } catch (const json::exception& e) {
    return corrupt(std::string("bad manifest field: ") + e.what());
  } catch (const FieldError& e) {
    return corrupt(e.type_error ? "bad manifest field: " + e.what : e.what);
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
