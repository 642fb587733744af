#include "pidx/snapshot/index_settings.h"

namespace pidx::snapshot {

Result<IndexSettings> IndexSettings::FromJson(const nlohmann::json& schema,
                                              const nlohmann::json& analyzer,
                                              uint32_t shards_per_category,
                                              std::string* failed_part) {
  auto parsed_schema = catalog::Schema::FromJson(schema);
  if (!parsed_schema.ok()) {
    if (failed_part) *failed_part = "schema";
    return parsed_schema.status();
  }
  auto parsed_analyzer = analysis::AnalyzerSettings::FromJson(analyzer);
  if (!parsed_analyzer.ok()) {
    if (failed_part) *failed_part = "analyzer";
    return parsed_analyzer.status();
  }
  return IndexSettings{std::move(parsed_schema).value(), *parsed_analyzer, shards_per_category};
}

Result<IndexSettings> IndexSettings::FromManifest(const Manifest& manifest,
                                                  std::string* failed_part) {
  return FromJson(manifest.schema, manifest.analyzer, manifest.shards_per_category, failed_part);
}

}  // namespace pidx::snapshot
