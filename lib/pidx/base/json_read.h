// The one way pidx parses a JSON document it did not just build itself: manifests, stage
// fragments, plans, schema files, query-set lines. nlohmann's parser recurses once per
// nesting level, so a document nested 200,000 deep overflows the stack (SIGSEGV, nothing
// logged); and a file of any size is read whole. Both are checked here before nlohmann sees
// a byte: the size against `max_bytes`, the nesting with a string-aware scan. Catalog lines
// have their own reader with the same depth rule (catalog/jsonl_reader.cc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "pidx/base/status.h"

namespace pidx {

struct JsonLimits {
  size_t max_depth = 64;  // '[' / '{' levels; pidx's own files need fewer than 8
  size_t max_bytes = size_t{256} << 20;
};

// Limits per kind of file (generous: each is far above what pidx writes).
inline constexpr JsonLimits kManifestJsonLimits{64, size_t{1} << 30};  // manifests, fragments
inline constexpr JsonLimits kPlanJsonLimits{64, size_t{1} << 30};
inline constexpr JsonLimits kSchemaJsonLimits{64, size_t{16} << 20};
inline constexpr JsonLimits kQueryLineJsonLimits{64, size_t{16} << 20};  // one query-set line

// The deepest '[' / '{' nesting of `text` outside strings, stopping early once it exceeds
// `limit` (the result is then limit + 1). Malformed text is scanned all the same; the parser
// reports it afterwards.
size_t JsonNestingDepth(std::string_view text, size_t limit);

// Parses `text` as one JSON value. kCorrupt "<name>: <why>" when it is larger than
// limits.max_bytes, nests deeper than limits.max_depth, or is not valid JSON ("malformed
// JSON: " and the parser's message, which says where). Never throws.
Result<nlohmann::json> ParseJson(std::string_view text, const std::string& name,
                                 const JsonLimits& limits);

}  // namespace pidx
