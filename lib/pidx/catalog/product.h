// One product record as read from a catalog, in the shape of the schema in effect.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pidx::catalog {

// Separates key and value of one `attrs` entry inside Product::fields.
inline constexpr char kAttrSeparator = '\x1f';

// True for a value made only of ASCII whitespace (space, tab, CR, LF, FF, VT): not a usable id
// or category in any format (it would look empty in every listing and sort unpredictably).
inline bool IsOnlyWhitespace(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\v') return false;
  }
  return true;
}

struct Product {
  std::string id;        // external id; an integer id is kept as its decimal text
  std::string category;  // raw category text (not folded)
  // One entry per Schema::fields(), same order. Roles (see schema.h):
  //   id, category: empty (the values live above)
  //   text:    zero or one value
  //   keyword: zero or more values (a JSON array, or '|'-separated when the field is multi
  //            in CSV/TSV)
  //   number:  zero or one value, the number's text as written
  //   attrs:   zero or more "key<kAttrSeparator>value" entries (scalar values as text)
  std::vector<std::vector<std::string>> fields;
  uint64_t line = 0;  // 1-based line of the record's start in its file

  void Clear() {
    id.clear();
    category.clear();
    for (auto& f : fields) f.clear();
    line = 0;
  }
};

}  // namespace pidx::catalog
