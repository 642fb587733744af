// A version's manifest: everything needed to read, verify and rebuild the version
// (docs/CONTRACT.md section 4). Immutable once published. On disk it is JSON followed
// by a checksum line (docs/FORMAT.md, "Manifest"):
//   {"format":"pidx-manifest","format_version":1,...}\n
//   xxh3 <16 hex digits of XXH3-64 over every byte before this line>\n
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pidx/base/status.h"
#include "pidx/snapshot/totals.h"

namespace pidx::snapshot {

// 2: per-category shard counts (category_shards, target_shard_docs). Version 1 still reads:
// every category of it has shards_per_category shards.
inline constexpr uint32_t kManifestFormatVersion = 2;

struct CatalogIdentity {
  std::string path;
  uint64_t size = 0;
  std::string xxh3;  // hex; empty when the input was a stream (stdin)
  uint64_t products = 0;
};

struct ShardEntry {
  std::string shard;
  std::string segment;  // file name under segments/
  uint64_t size = 0;
  uint64_t checksum = 0;
  uint32_t docs = 0;
  uint32_t terms = 0;
  uint64_t postings = 0;
  uint64_t signature = 0;
  std::string term_bloom;
  std::map<std::string, uint64_t> categories;  // raw category -> docs in this shard
};

// The one sum over shard entries: shards counted, docs, terms, postings and segment sizes
// added up. Readers derive totals this way from the entries (which are checked against the
// segments), never from a manifest's stored `totals`.
Totals SumTotals(const std::vector<ShardEntry>& shards);

struct Manifest {
  uint32_t format_version = kManifestFormatVersion;
  uint64_t version = 0;
  uint64_t parent = 0;  // 0: none
  std::string created;  // RFC 3339 UTC
  std::string tool_version;
  std::string operation;        // "build" | "rebuild-shard"
  std::string operation_shard;  // for rebuild-shard
  std::vector<CatalogIdentity> catalogs;
  nlohmann::json schema;
  nlohmann::json analyzer;
  uint32_t shards_per_category = 8;  // S: the most shards a category has
  // The target a build chose category shard counts with (0: none, every category has S).
  uint64_t target_shard_docs = 0;
  // Category slug -> its shard count K (a divisor of S): product p of the category lives in
  // shard "<slug>_<XXH3(p.id) mod K>". Every slug of `shards` is listed (empty for format 1).
  std::map<std::string, uint32_t> category_shards;
  uint64_t bad_lines_skipped = 0;
  std::vector<ShardEntry> shards;  // sorted by shard id
  // The `totals` object as stored, set by Parse; Serialize writes SumTotals(shards) instead.
  // Kept only so that verify can report a manifest whose stored totals lie
  // (manifest_totals_mismatch).
  Totals stored_totals;

  std::map<std::string, uint64_t> Categories() const;  // union over shards
  const ShardEntry* FindShard(std::string_view shard) const;
  // The shard count of `slug`: category_shards' entry, else S (a format-1 manifest, or a slug
  // the version does not have).
  uint32_t ShardsOf(const std::string& slug) const;

  std::string Serialize() const;
  // kCorrupt naming `name` when the checksum line is missing or wrong, the JSON does not parse
  // or breaks the JSON limits (base/json_read.h), or a field is missing or of the wrong type;
  // kCorrupt for an unknown format_version too.
  // Invariant of a parsed manifest: every entry's `shard` is a shard id and its `segment` is
  // "<that shard>-<16 lowercase hex>.seg", a plain file name that cannot leave segments/
  // (IsSegmentNameOf). Names read from disk are never used before this check.
  static Result<Manifest> Parse(std::string_view bytes, const std::string& name);
};

// The highest version number: the parser reads at most 18 digits, and the writer
// (SnapshotStore::Publish) refuses to number a version above it.
inline constexpr uint64_t kMaxVersion = 999'999'999'999'999'999;

// "v000042"
std::string VersionName(uint64_t version);
// Accepts "v000042", "v42" and "42" for 1..kMaxVersion; false otherwise. For what a user types.
bool ParseVersionName(std::string_view text, uint64_t* version);
// Accepts exactly what VersionName writes ("v000042", "v1234567"); false otherwise. For names
// read from disk (CURRENT, versions/): "v42" or "042" there is not pidx's and is refused.
bool ParseStoredVersionName(std::string_view text, uint64_t* version);
// True when `segment` is "<shard>-<16 lowercase hex digits>.seg" and `shard` is a shard id.
// Such a name has no '/' and no "..": it always names a file directly under segments/.
bool IsSegmentNameOf(std::string_view segment, std::string_view shard);

}  // namespace pidx::snapshot
