#include "pidx/snapshot/index_settings.h"

#include <catch2/catch.hpp>

#include "pidx/analysis/analyzer.h"
#include "pidx/catalog/schema.h"

using pidx::StatusKind;
using pidx::snapshot::IndexSettings;
using pidx::snapshot::Manifest;

namespace {

Manifest WithSettings(nlohmann::json schema, nlohmann::json analyzer, uint32_t shards) {
  Manifest m;
  m.schema = std::move(schema);
  m.analyzer = std::move(analyzer);
  m.shards_per_category = shards;
  return m;
}

}  // namespace

TEST_CASE("IndexSettings gives back the schema, analyzer and shard count a build stored") {
  pidx::analysis::AnalyzerSettings analyzer;
  analyzer.cjk_bigrams = false;
  analyzer.max_token_bytes = 17;
  const pidx::catalog::Schema schema = pidx::catalog::Schema::Default();
  std::string part = "untouched";
  auto s = IndexSettings::FromManifest(WithSettings(schema.ToJson(), analyzer.ToJson(), 5), &part);
  REQUIRE(s.ok());
  CHECK(part == "untouched");
  CHECK(s->schema.ToJson() == schema.ToJson());
  CHECK(s->analyzer.ToJson() == analyzer.ToJson());
  CHECK(s->shards_per_category == 5);
}

TEST_CASE("IndexSettings names the stored part that does not parse and keeps its error") {
  const auto schema = pidx::catalog::Schema::Default().ToJson();
  const auto analyzer = pidx::analysis::AnalyzerSettings().ToJson();
  SECTION("a schema that is not an object") {
    std::string part;
    auto s = IndexSettings::FromManifest(WithSettings(nlohmann::json::array(), analyzer, 8), &part);
    REQUIRE(!s.ok());
    CHECK(part == "schema");
    CHECK(s.status().kind() == StatusKind::kConfig);
    CHECK(s.status().message() ==
          pidx::catalog::Schema::FromJson(nlohmann::json::array()).status().message());
  }
  SECTION("a schema and an analyzer both bad: the schema is reported") {
    std::string part;
    auto s =
        IndexSettings::FromManifest(WithSettings(nlohmann::json(1), nlohmann::json(2), 8), &part);
    REQUIRE(!s.ok());
    CHECK(part == "schema");
  }
  SECTION("an analyzer of an unknown version") {
    nlohmann::json bad = analyzer;
    bad["version"] = 999;
    std::string part;
    auto s = IndexSettings::FromManifest(WithSettings(schema, bad, 8), &part);
    REQUIRE(!s.ok());
    CHECK(part == "analyzer");
    CHECK(s.status().kind() == StatusKind::kConfig);
    CHECK(s.status().message().find("unsupported version 999") != std::string::npos);
  }
  SECTION("without a part to fill, the error is the same") {
    auto s = IndexSettings::FromJson(schema, nlohmann::json::object(), 8);
    REQUIRE(!s.ok());
    CHECK(s.status().kind() == StatusKind::kConfig);
  }
}
