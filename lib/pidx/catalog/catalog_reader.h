// Streams products out of one catalog file: JSON Lines, CSV (RFC 4180, header row) or TSV
// (header row), from a path or "-" (standard input), with .gz/.zst decompressed
// transparently. Memory does not grow with the file's size.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "pidx/base/status.h"
#include "pidx/catalog/product.h"
#include "pidx/catalog/schema.h"

namespace pidx::catalog {

enum class Format { kAuto, kJsonl, kCsv, kTsv };

// "jsonl"/"ndjson" -> kJsonl, "csv", "tsv", "auto"; kUsage otherwise.
Result<Format> ParseFormat(std::string_view name);

struct ReaderOptions {
  Format format = Format::kAuto;        // kAuto: by extension (after stripping .gz/.zst)
  size_t max_line_bytes = 1024 * 1024;  // longer lines (records) are bad data
  size_t max_depth = 64;                // deeper JSON nesting is bad data
};

class CatalogReader {
 public:
  virtual ~CatalogReader() = default;

  // Opens `path`. kNotFound when it does not exist, kIoError when it cannot be read,
  // kUsage when the format cannot be told from the name (and none was given), kBadData for
  // an unusable CSV/TSV header row or a .gz/.zst file without the matching magic bytes.
  static Result<std::unique_ptr<CatalogReader>> Open(const std::string& path, const Schema& schema,
                                                     const ReaderOptions& options);

  // Reads the next product into *out (out->fields sized to the schema).
  // Returns true when a product was read, false at the end of the input.
  // A bad record returns a kBadData Status whose message is "<file>:<line>: <reason>"
  // (e.g. `catalog.jsonl:1207: missing "category"`); the reader stays usable and the next call
  // continues with the following record. Any other error kind is final.
  // Bad records: malformed JSON/CSV, missing or empty id or category, id of the wrong type,
  // invalid UTF-8, a line longer than max_line_bytes, nesting deeper than max_depth.
  // (Duplicate ids are detected by the caller, across files.)
  virtual Result<bool> Next(Product* out) = 0;

  // Bytes of the underlying file consumed so far (compressed bytes for .gz/.zst) and the file's
  // size (0 when unknown, e.g. stdin): for progress reporting.
  virtual uint64_t bytes_consumed() const = 0;
  virtual uint64_t total_bytes() const = 0;

  // The name used in messages: the path as given, or "<stdin>".
  virtual const std::string& display_name() const = 0;

  // XXH3-64 of the file's bytes consumed so far, as stored (compressed for .gz/.zst). Once
  // Next has returned false it is the identity of the whole file, with bytes_consumed() its
  // size: computed from the bytes that were parsed, since a pipe or FIFO cannot be read twice.
  virtual uint64_t raw_xxh3() const = 0;
};

}  // namespace pidx::catalog
