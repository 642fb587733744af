// The parts of a manifest and of a plan that say the same thing: the catalog identity and the
// shard layout (shards per category, target shard size, each category's shard count, the shard
// ids). One writer and one reader for both, so that a plan and a manifest are held to exactly
// the same checks (docs/FORMAT.md). Everything read here comes from disk and may be hostile.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pidx/snapshot/manifest.h"

namespace pidx::snapshot {

// The shard layout of a manifest or a plan (the fields both carry under the same names).
struct ShardLayoutRef {
  uint32_t format_version = 0;  // 1: every category has shards_per_category shards
  uint32_t* shards_per_category = nullptr;
  uint64_t* target_shard_docs = nullptr;
  std::map<std::string, uint32_t>* category_shards = nullptr;
};

// `body` followed by its checksum line, "xxh3 <16 hex of XXH3(body)>\n", the way a manifest
// and a plan end.
std::string WithChecksumLine(std::string body);
// The body of `bytes` when it ends with its right checksum line; otherwise "" in *body and
// the problem ("truncated <kind>", "missing checksum line", "checksum mismatch ...").
std::string ChecksummedBody(std::string_view bytes, std::string_view kind, std::string_view* body);

// "catalogs": [{"path", "size", "xxh3", "products"}, ...]
nlohmann::ordered_json CatalogsToJson(const std::vector<CatalogIdentity>& catalogs);
// Throws nlohmann::json::exception on a missing or mistyped field (the callers turn it into
// their kCorrupt status).
std::vector<CatalogIdentity> CatalogsFromJson(const nlohmann::json& catalogs);

// Sets "shards_per_category" and, in format 2, "target_shard_docs" and "category_shards".
void ShardLayoutToJson(uint32_t format_version, uint32_t shards_per_category,
                       uint64_t target_shard_docs,
                       const std::map<std::string, uint32_t>& category_shards,
                       nlohmann::ordered_json* out);
// Reads them into `layout`: shards_per_category within 1..1000, target_shard_docs within
// 0..1000000000, each category_shards key a category slug and each count a divisor of
// shards_per_category. Returns "" or the problem (the callers prefix their file's name).
// Throws nlohmann::json::exception on a mistyped field.
std::string ShardLayoutFromJson(const nlohmann::json& j, const ShardLayoutRef& layout);

// The shard ids of a manifest or plan, in their order: each one `<slug>_<NNN>` with NNN below
// its category's count (format 2: category_shards must have the slug; format 1:
// shards_per_category), and no id twice (a shard listed twice was served twice: every hit
// and count doubled). Returns "" or the problem, naming the entry by `what` and its index.
std::string ShardIdsProblem(const std::vector<std::string_view>& ids, const ShardLayoutRef& layout,
                            std::string_view what);

}  // namespace pidx::snapshot
