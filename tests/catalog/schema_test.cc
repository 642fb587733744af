#include "pidx/catalog/schema.h"

#include <catch2/catch.hpp>

#include "support/temp_dir.h"

namespace pidx::catalog {
namespace {

using nlohmann::json;

std::string ConfigError(const json& j) {
  Result<Schema> s = Schema::FromJson(j);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().kind() == StatusKind::kConfig);
  return s.status().message();
}

json Fields(json fields) { return json{{"fields", std::move(fields)}}; }

TEST_CASE("the default schema is the contract's fields with source equal to name") {
  Schema s = Schema::Default();
  const auto& f = s.fields();
  REQUIRE(f.size() == 8);
  const std::vector<std::pair<std::string, FieldRole>> expected = {
      {"id", FieldRole::kId},         {"category", FieldRole::kCategory},
      {"title", FieldRole::kText},    {"description", FieldRole::kText},
      {"brand", FieldRole::kKeyword}, {"tags", FieldRole::kKeyword},
      {"price", FieldRole::kNumber},  {"attrs", FieldRole::kAttrs}};
  for (size_t i = 0; i < f.size(); ++i) {
    CHECK(f[i].name == expected[i].first);
    CHECK(f[i].source == expected[i].first);
    CHECK(f[i].role == expected[i].second);
    CHECK(f[i].multi == (f[i].name == "tags"));
  }
  CHECK(s.id_index() == 0);
  CHECK(s.category_index() == 1);
  CHECK(s.FindName("price") == 6);
  CHECK(s.FindSource("attrs") == 7);
  CHECK(s.FindSource("nope") == -1);
}

TEST_CASE("a schema survives ToJson then FromJson unchanged") {
  Result<Schema> custom =
      Schema::FromJson(Fields({{{"name", "id"}, {"source", "sku"}, {"role", "id"}},
                               {{"name", "cat"}, {"role", "category"}},
                               {{"name", "labels"}, {"role", "keyword"}, {"multi", true}},
                               {{"name", "specs"}, {"role", "attrs"}}}));
  REQUIRE(custom.ok());
  for (const Schema& s : {Schema::Default(), custom.value()}) {
    Result<Schema> back = Schema::FromJson(s.ToJson());
    REQUIRE(back.ok());
    CHECK(back->ToJson() == s.ToJson());
    REQUIRE(back->fields().size() == s.fields().size());
    for (size_t i = 0; i < s.fields().size(); ++i) {
      CHECK(back->fields()[i].name == s.fields()[i].name);
      CHECK(back->fields()[i].source == s.fields()[i].source);
      CHECK(back->fields()[i].role == s.fields()[i].role);
      CHECK(back->fields()[i].multi == s.fields()[i].multi);
    }
    CHECK(back->id_index() == s.id_index());
    CHECK(back->category_index() == s.category_index());
  }
  CHECK(custom->fields()[0].source == "sku");
  CHECK(custom->fields()[1].source == "cat");
  CHECK(custom->FindSource("sku") == 0);
}

TEST_CASE("schema validation names the problem") {
  const json id = {{"name", "id"}, {"role", "id"}};
  const json cat = {{"name", "category"}, {"role", "category"}};
  CHECK_THAT(ConfigError(Fields({id, cat, {{"name", "x"}, {"role", "colour"}}})),
             Catch::Contains("unknown role \"colour\""));
  CHECK_THAT(ConfigError(Fields({id, cat, {{"name", "id"}, {"source", "b"}, {"role", "text"}}})),
             Catch::Contains("duplicate name \"id\""));
  CHECK_THAT(ConfigError(Fields({id, cat, {{"name", "t"}, {"source", "id"}, {"role", "text"}}})),
             Catch::Contains("duplicate source \"id\""));
  CHECK_THAT(ConfigError(Fields({cat})), Catch::Contains("no field has role id"));
  CHECK_THAT(ConfigError(Fields({id})), Catch::Contains("no field has role category"));
  CHECK_THAT(ConfigError(Fields({id, cat, {{"name", "id2"}, {"role", "id"}}})),
             Catch::Contains("more than one field has role id"));
  CHECK_THAT(ConfigError(Fields({id, cat, {{"name", "c2"}, {"role", "category"}}})),
             Catch::Contains("more than one field has role category"));
  CHECK_THAT(ConfigError(Fields({id, cat, {{"name", "t"}, {"role", "text"}, {"multi", true}}})),
             Catch::Contains("\"multi\" is only allowed on keyword fields"));
  CHECK_THAT(ConfigError(Fields({id, cat, {{"name", "t"}, {"role", "text"}, {"mutli", true}}})),
             Catch::Contains("unknown key \"mutli\""));
  CHECK_THAT(ConfigError(Fields({id, cat, {{"name", "a:b"}, {"role", "text"}}})),
             Catch::Contains("invalid name"));
  CHECK_THAT(ConfigError(Fields(json::array())), Catch::Contains("non-empty array"));
  CHECK_THAT(ConfigError(json::array()), Catch::Contains("must be a JSON object"));
}

TEST_CASE("a text field may ask for stemming in a language libstemmer has") {
  const json id = {{"name", "id"}, {"role", "id"}};
  const json cat = {{"name", "category"}, {"role", "category"}};
  auto s =
      Schema::FromJson(Fields({id, cat, {{"name", "t"}, {"role", "text"}, {"stem", "english"}}}));
  REQUIRE(s.ok());
  CHECK(s->fields()[2].stem == "english");
  CHECK(s->ToJson()["fields"][2]["stem"] == "english");
  // Without stem the stored schema is exactly what it was before stemming existed.
  CHECK_FALSE(Schema::Default().ToJson()["fields"][2].contains("stem"));
  CHECK_THAT(ConfigError(Fields({id, cat, {{"name", "t"}, {"role", "text"}, {"stem", "klingon"}}})),
             Catch::Contains("\"stem\" must be one of arabic"));
  CHECK_THAT(ConfigError(Fields({id, cat, {{"name", "t"}, {"role", "text"}, {"stem", true}}})),
             Catch::Contains("\"stem\" must be one of"));
  CHECK_THAT(
      ConfigError(Fields({id, cat, {{"name", "b"}, {"role", "keyword"}, {"stem", "english"}}})),
      Catch::Contains("\"stem\" is only allowed on text fields, not keyword"));
}

TEST_CASE("LoadFile: a missing schema file is a config error naming the file") {
  testing::TempDir dir;
  Result<Schema> s = Schema::LoadFile(dir.File("schema.json"));
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().kind() == StatusKind::kConfig);
  CHECK_THAT(s.status().message(), Catch::StartsWith(dir.File("schema.json") + ": cannot open: "));
}

TEST_CASE("LoadFile: malformed JSON is a config error with the parse error") {
  testing::TempDir dir;
  Result<Schema> s = Schema::LoadFile(dir.Write("schema.json", "{\"fields\": [}"));
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().kind() == StatusKind::kConfig);
  CHECK_THAT(s.status().message(), Catch::Contains("schema.json: malformed JSON: "));
  CHECK_THAT(s.status().message(), Catch::Contains("parse error"));
}

TEST_CASE("LoadFile reads a renaming schema and reports invalid ones with the file name") {
  testing::TempDir dir;
  Result<Schema> s =
      Schema::LoadFile(dir.Write("schema.json",
                                 R"({"fields": [{"name": "id", "source": "sku", "role": "id"},
                     {"name": "category", "role": "category"},
                     {"name": "title", "source": "name", "role": "text"}]})"));
  REQUIRE(s.ok());
  CHECK(s->fields()[0].source == "sku");
  CHECK(s->fields()[2].source == "name");

  Result<Schema> bad =
      Schema::LoadFile(dir.Write("bad.json", R"({"fields": [{"name": "id", "role": "id"}]})"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == dir.File("bad.json") + ": no field has role category");
}

}  // namespace
}  // namespace pidx::catalog
