#include "pidx/ops/values.h"

#include "pidx/analysis/analyzer.h"
#include "pidx/base/duration.h"
#include "pidx/base/number.h"
#include "pidx/shard/shard_id.h"
#include "pidx/snapshot/manifest.h"

namespace pidx {

Result<uint64_t> ParseCount(std::string_view text, uint64_t min, uint64_t max) {
  return ParseUnsigned(text, min, max);
}

Result<double> ParseFraction(std::string_view text, double min, double max) {
  return ParseDecimal(text, min, max);
}

Result<int64_t> ParseDuration(std::string_view text) { return ParseDurationMs(text); }

Result<uint64_t> ParseSize(std::string_view text) { return ParseByteSize(text); }

Result<catalog::Format> ParseCatalogFormat(std::string_view text) {
  return catalog::ParseFormat(text);
}

ShardCountLimits ShardCounts() {
  return {shard::kDefaultShardsPerCategory, shard::kMaxShardsPerCategory,
          shard::kDefaultTargetShardDocs, shard::kMaxTargetShardDocs};
}

int LatestAnalyzerVersion() { return analysis::AnalyzerSettings::kLatestVersion; }

Result<uint64_t> ParseVersion(std::string_view text) {
  uint64_t v = 0;
  if (!snapshot::ParseVersionName(text, &v)) {
    return Status::Usage("not a version: \"" + std::string(text) + "\" (e.g. v000042 or 42)");
  }
  return v;
}

std::string VersionName(uint64_t version) { return snapshot::VersionName(version); }

}  // namespace pidx
