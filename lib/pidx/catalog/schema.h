// The schema maps catalog fields to roles. The default schema is the contract's
// (docs/CONTRACT.md section 1); a schema file (JSON) can rename fields and change roles.
// The schema in effect is stored in every manifest (ToJson/FromJson) so rebuild-shard and
// verify use exactly the same one.
//
// Schema file format (docs/CLI.md):
//   {"fields": [{"name": "id", "source": "sku", "role": "id"},
//               {"name": "title", "source": "name", "role": "text"},
//               {"name": "tags", "role": "keyword", "multi": true}, ...]}
// A text field may have "stem": "<language>" (analyzer version 2 stems its tokens).
// `source` defaults to `name`. Exactly one field has role id and one role category.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pidx/base/status.h"

namespace pidx::catalog {

enum class FieldRole { kId, kCategory, kText, kKeyword, kNumber, kAttrs };

const char* FieldRoleName(FieldRole role);

struct FieldSpec {
  std::string name;    // the name used in terms ("title:wireless") and in the snapshot
  std::string source;  // the key in the input record (JSON key / CSV header)
  FieldRole role = FieldRole::kText;
  bool multi = false;  // keyword only: '|'-separated list in CSV/TSV
  std::string stem;    // text only: a Snowball language ("english"), empty for no stemming
};

// The Snowball languages a "stem" may name: libstemmer's list (a test keeps them equal).
const std::vector<std::string>& StemLanguages();

class Schema {
 public:
  // id, category, title, description (text), brand (keyword), tags (keyword, multi),
  // price (number), attrs (attrs).
  static Schema Default();
  // Parses a schema file's JSON text. Errors are kConfig with the reason.
  static Result<Schema> FromJson(const nlohmann::json& j);
  static Result<Schema> LoadFile(const std::string& path);
  nlohmann::json ToJson() const;

  const std::vector<FieldSpec>& fields() const { return fields_; }
  int id_index() const { return id_index_; }
  int category_index() const { return category_index_; }
  // Index of the field whose source is `source`, or -1.
  int FindSource(std::string_view source) const;
  // Index of the field whose name is `name`, or -1.
  int FindName(std::string_view name) const;

 private:
  std::vector<FieldSpec> fields_;
  int id_index_ = -1;
  int category_index_ = -1;
};

}  // namespace pidx::catalog
