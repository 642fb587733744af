// The values a person types into an operation, and how pidx writes them back: counts,
// fractions, durations, byte sizes, catalog formats and version names. The public face of the
// parsers in base/, catalog/ and snapshot/, so that apps need none of those headers. Each is
// strict (docs/CLI.md "Numbers"): kUsage saying why, for the caller to name the flag.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pidx/base/status.h"
#include "pidx/catalog/catalog_reader.h"

namespace pidx {

// Digits only, in [min, max] ("-1", "0x10", "1e3", " 7" and overflow are refused).
Result<uint64_t> ParseCount(std::string_view text, uint64_t min, uint64_t max);
// Digits with an optional '.' and digits, finite, in [min, max] ("nan", ".5" are refused).
Result<double> ParseFraction(std::string_view text, double min, double max);
// "500ms", "5s", "2m", "1h", "0": milliseconds.
Result<int64_t> ParseDuration(std::string_view text);
// "64M", "1G", "512K" (powers of 1024) or bytes.
Result<uint64_t> ParseSize(std::string_view text);
// auto|jsonl|csv|tsv.
Result<catalog::Format> ParseCatalogFormat(std::string_view text);

// The defaults and limits of the shard count of a category (--shards-per-category S,
// --target-shard-docs T; docs/CLI.md "Shards per category").
struct ShardCountLimits {
  uint32_t default_shards_per_category;
  uint32_t max_shards_per_category;
  uint64_t default_target_shard_docs;
  uint64_t max_target_shard_docs;
};
ShardCountLimits ShardCounts();
// The newest analyzer version (--analyzer-version; the default of a new index).
int LatestAnalyzerVersion();

// "v000042", "v42" or "42", from 1 to the highest version pidx numbers; kUsage otherwise with
// the message `not a version: "<text>" (e.g. v000042 or 42)`.
Result<uint64_t> ParseVersion(std::string_view text);
// 42 -> "v000042".
std::string VersionName(uint64_t version);

}  // namespace pidx
