// The settings a version was built with, parsed once from its manifest: the schema, the
// analyzer settings and the shards per category. Every command that reads or rebuilds a
// version's shards the way its build made them (rebuild-shard, verify, stats, query) takes
// them from here; a plan carries the same three (scaleout/plan.h).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "pidx/analysis/analyzer.h"
#include "pidx/base/status.h"
#include "pidx/catalog/schema.h"
#include "pidx/snapshot/manifest.h"

namespace pidx::snapshot {

struct IndexSettings {
  catalog::Schema schema;
  analysis::AnalyzerSettings analyzer;
  uint32_t shards_per_category = 0;

  // Parses the stored schema, then the stored analyzer settings. On error, the status of the
  // parser that failed (kConfig, Schema::FromJson or AnalyzerSettings::FromJson), unprefixed,
  // and `*failed_part` (when given) is set to "schema" or "analyzer": each caller names the
  // source its own way ("schema stored in v000042", "v000042: stored analyzer").
  static Result<IndexSettings> FromJson(const nlohmann::json& schema,
                                        const nlohmann::json& analyzer,
                                        uint32_t shards_per_category,
                                        std::string* failed_part = nullptr);
  static Result<IndexSettings> FromManifest(const Manifest& manifest,
                                            std::string* failed_part = nullptr);
};

}  // namespace pidx::snapshot
