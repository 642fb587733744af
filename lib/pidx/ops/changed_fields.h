// The schema fields whose 16-bit field hashes (segment format 2 doc records,
// shard::ProductFieldHashes) differ between two versions of one product: what diff and verify
// --catalog name when a content hash differs. Empty when either side has no field hashes (a
// format-1 segment) or none differs (a 2^-16 chance per changed field): the change is then
// reported without names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pidx/catalog/schema.h"

namespace pidx {

inline std::vector<std::string> ChangedFields(const catalog::Schema& schema, std::string_view a,
                                              std::string_view b) {
  std::vector<std::string> out;
  const size_t n = schema.fields().size();
  if (a.size() != 2 * n || b.size() != 2 * n) return out;
  for (size_t i = 0; i < n; ++i) {
    if (a.substr(2 * i, 2) != b.substr(2 * i, 2)) out.push_back(schema.fields()[i].name);
  }
  return out;
}

inline std::string JoinFields(const std::vector<std::string>& fields) {
  std::string out;
  for (const auto& f : fields) out += (out.empty() ? "" : ", ") + f;
  return out;
}

}  // namespace pidx
