// CSV and TSV catalogs with a header row.
//
// CSV is RFC 4180: comma-separated; a field may be quoted with '"', and inside quotes '""' is a
// quote and commas, CR and LF are data; records end with LF or CRLF. A quote inside an unquoted
// field makes the record bad (a 27" monitor is written "27"" monitor"), and after a closing
// quote only a comma or the end of the record may follow.
// TSV is what merchant feeds call TSV: tab-separated, no quoting at all, one record per line
// (a trailing CR is dropped).
//
// The header row names the columns. A column whose name is a schema field's source feeds that
// field; a column named "<source>.<key>" where <source> is an attrs field's source feeds the
// attrs entry <key> (e.g. "attrs.color"); other columns are ignored. A column named exactly
// like an attrs field's source is refused: CSV carries attrs only as "<source>.<key>" columns,
// so that no JSON has to be embedded in a cell. The header must have the id and category
// columns, and no field twice. Header problems make the open fail (kBadData, "<file>:1: ...").
//
// Cells: an empty cell is absent. Keyword fields with `multi` split on '|' (pieces trimmed of
// spaces, empty pieces dropped). A number cell must look like a number (sign, digits, one
// '.', exponent) and be finite as a double ("1e400" is bad); its text is kept as written. Every
// cell must be valid UTF-8 without NUL bytes; an id or category of only whitespace is bad.
// Every record must have as many columns as the header; blank lines are skipped. A record's
// line is the line where it starts; its length counts against max_line_bytes even when it
// spans lines.
#pragma once

#include <memory>

#include "pidx/catalog/catalog_reader.h"
#include "pidx/catalog/input_stream.h"

namespace pidx::catalog {

enum class CsvDialect { kCsv, kTsv };

// Reads the header row. An input without any row is an empty catalog.
Result<std::unique_ptr<CatalogReader>> NewCsvReader(std::unique_ptr<InputStream> stream,
                                                    const Schema& schema,
                                                    const ReaderOptions& options,
                                                    CsvDialect dialect);

}  // namespace pidx::catalog
