#include "pidx/snapshot/manifest.h"
#include "pidx/base/json_number.h"

#include <fmt/format.h>

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

Result<Manifest> Manifest::Parse(std::string_view bytes, const std::string& name) {
  auto corrupt = [&](const std::string& why) { return Status::Corrupt(name + ": " + why); };
  std::string_view body;
  if (std::string why = ChecksummedBody(bytes, "manifest", &body); !why.empty()) {
    return corrupt(why);
  }
  PIDX_ASSIGN_OR_RETURN(json j, ParseJson(body, name, kManifestJsonLimits));
  if (!j.is_object()) return corrupt("manifest is not a JSON object");
  Manifest m;
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
    const json& shards = j.at("shards");
    if (!shards.is_array()) return corrupt("\"shards\" is not an array");
    for (size_t i = 0; i < shards.size(); ++i) {
      const json& e = shards[i];
      ShardEntry s;
      s.shard = e.at("shard").get<std::string>();
      s.segment = e.at("segment").get<std::string>();
      // The segment name becomes a path under segments/: it is checked here, once, so that
      // no reader or writer can be led outside the index by it.
      if (!IsSegmentNameOf(s.segment, s.shard)) {
        return corrupt(
            fmt::format("shards[{}].segment \"{}\" is not a segment name of shard \"{}\" "
                        "(expected <shard>-<16 hex digits>.seg)",
                        i, s.segment, s.shard));
      }
      s.size = JsonUnsigned<uint64_t>(e.at("size"));
      if (!ParseHex64(e.at("checksum").get<std::string>(), &s.checksum) ||
          !ParseHex64(e.at("signature").get<std::string>(), &s.signature)) {
        return corrupt("shard " + s.shard + ": bad checksum or signature field");
      }
      s.docs = JsonUnsigned<uint32_t>(e.at("docs"));
      s.terms = JsonUnsigned<uint32_t>(e.at("terms"));
      s.postings = JsonUnsigned<uint64_t>(e.at("postings"));
      s.term_bloom = e.at("term_bloom").get<std::string>();
      s.categories = JsonUnsignedMap(e.at("categories"));
      m.shards.push_back(std::move(s));
    }
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
