#include "pidx/snapshot/layout_json.h"

#include <unordered_set>

#include <fmt/format.h>

#include "pidx/base/checksum.h"
#include "pidx/base/json_number.h"
#include "pidx/shard/shard_id.h"

namespace pidx::snapshot {

std::string WithChecksumLine(std::string body) {
  const std::string line = "xxh3 " + Hex64(Xxh3(body)) + "\n";
  return body += line;
}

std::string ChecksummedBody(std::string_view bytes, std::string_view kind, std::string_view* body) {
  *body = {};
  constexpr size_t kTrailer = 5 + 16 + 1;  // "xxh3 <16 hex>\n"
  if (bytes.size() < kTrailer + 2 || bytes.back() != '\n') return fmt::format("truncated {}", kind);
  const std::string_view trailer = bytes.substr(bytes.size() - kTrailer);
  const std::string_view text = bytes.substr(0, bytes.size() - kTrailer);
  uint64_t stored = 0;
  if (trailer.substr(0, 5) != "xxh3 " || !ParseHex64(trailer.substr(5, 16), &stored)) {
    return "missing checksum line";
  }
  const uint64_t computed = Xxh3(text);
  if (stored != computed) {
    return fmt::format("checksum mismatch (stored {}, computed {}: the {} was changed or damaged)",
                       Hex64(stored), Hex64(computed), kind);
  }
  *body = text;
  return "";
}

nlohmann::ordered_json CatalogsToJson(const std::vector<CatalogIdentity>& catalogs) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& c : catalogs) {
    out.push_back({{"path", c.path}, {"size", c.size}, {"xxh3", c.xxh3}, {"products", c.products}});
  }
  return out;
}

std::vector<CatalogIdentity> CatalogsFromJson(const nlohmann::json& catalogs) {
  if (!catalogs.is_array()) {
    throw nlohmann::json::type_error::create(302, "\"catalogs\" is not an array", nullptr);
  }
  std::vector<CatalogIdentity> out;
  for (const auto& c : catalogs) {
    out.push_back({c.at("path").get<std::string>(), JsonUnsigned<uint64_t>(c.at("size")),
                   c.at("xxh3").get<std::string>(), JsonUnsigned<uint64_t>(c.at("products"))});
  }
  return out;
}

void ShardLayoutToJson(uint32_t format_version, uint32_t shards_per_category,
                       uint64_t target_shard_docs,
                       const std::map<std::string, uint32_t>& category_shards,
                       nlohmann::ordered_json* out) {
  (*out)["shards_per_category"] = shards_per_category;
  if (format_version >= 2) {
    (*out)["target_shard_docs"] = target_shard_docs;
    (*out)["category_shards"] = category_shards;
  }
}

std::string ShardLayoutFromJson(const nlohmann::json& j, const ShardLayoutRef& layout) {
  const uint32_t spc = JsonUnsigned<uint32_t>(j.at("shards_per_category"));
  if (spc == 0 || spc > shard::kMaxShardsPerCategory) {
    return fmt::format("shards_per_category {} is outside 1..{}", spc,
                       shard::kMaxShardsPerCategory);
  }
  *layout.shards_per_category = spc;
  layout.category_shards->clear();
  if (layout.format_version < 2) return "";
  const uint64_t target = JsonUnsigned<uint64_t>(j.at("target_shard_docs"));
  if (target > shard::kMaxTargetShardDocs) {
    return fmt::format("target_shard_docs {} is above {}", target, shard::kMaxTargetShardDocs);
  }
  *layout.target_shard_docs = target;
  const nlohmann::json& counts = j.at("category_shards");
  if (!counts.is_object()) return "\"category_shards\" is not an object";
  for (const auto& [slug, k] : counts.items()) {
    const uint32_t n = JsonUnsigned<uint32_t>(k);
    uint32_t number = 0;
    std::string parsed;
    if (!shard::ParseShardId(slug + "_000", &parsed, &number) || parsed != slug ||
        !shard::IsShardCountOf(n, spc)) {
      return fmt::format(
          "category_shards[\"{}\"] = {}: not a category slug with a divisor of "
          "shards_per_category {}",
          slug, n, spc);
    }
    layout.category_shards->emplace(slug, n);
  }
  return "";
}

std::string ShardIdsProblem(const std::vector<std::string_view>& ids, const ShardLayoutRef& layout,
                            std::string_view what) {
  std::unordered_set<std::string_view> seen;
  seen.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string slug;
    uint32_t number = 0;
    if (!shard::ParseShardId(ids[i], &slug, &number)) {
      return fmt::format("{}[{}].shard \"{}\" is not a shard id (<slug>_<NNN>)", what, i, ids[i]);
    }
    uint32_t count = *layout.shards_per_category;
    if (layout.format_version >= 2) {
      auto it = layout.category_shards->find(slug);
      if (it == layout.category_shards->end()) {
        return fmt::format("{}[{}].shard \"{}\": category_shards has no count for \"{}\"", what, i,
                           ids[i], slug);
      }
      count = it->second;
    }
    if (number >= count) {
      return fmt::format("{}[{}].shard \"{}\" is beyond its category's {} shards", what, i, ids[i],
                         count);
    }
    if (!seen.insert(ids[i]).second) {
      return fmt::format("{}[{}].shard \"{}\" is listed twice", what, i, ids[i]);
    }
  }
  return "";
}

}  // namespace pidx::snapshot
