// JSON Lines catalogs: one JSON object per line, parsed with simdjson On-Demand.
//
// Contract (see catalog_reader.h for the shared one):
// - Lines are split here and each is parsed on its own, in place in the input window, so a
//   malformed line costs only itself and is reported with its number. Blank lines are skipped.
// - Only keys that are a schema field's source are read; other values are skipped by On-Demand
//   without being decoded, so garbage inside an unknown value may go unnoticed, while invalid
//   UTF-8 anywhere on the line, unbalanced strings and trailing content are always caught.
// - Nesting deeper than options.max_depth anywhere on the line is bad data (On-Demand does not
//   limit depth itself, so it is checked before parsing).
// - When a key occurs twice in one object, the last occurrence wins.
// - Values, by role: id is a string or an integer (kept as decimal text), non-empty; category a
//   non-empty string; text a string; keyword a string, number or array of them; number a JSON
//   number (kept as written); attrs an object whose values are scalars or arrays of scalars
//   (strings, numbers as written, true/false). null means absent for every role, and so does
//   an empty string for text and keyword values, as an empty CSV cell does.
#pragma once

#include <memory>

#include "pidx/catalog/catalog_reader.h"
#include "pidx/catalog/input_stream.h"

namespace pidx::catalog {

std::unique_ptr<CatalogReader> NewJsonlReader(std::unique_ptr<InputStream> stream,
                                              const Schema& schema, const ReaderOptions& options);

}  // namespace pidx::catalog
