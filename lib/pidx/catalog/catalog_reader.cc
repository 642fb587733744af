#include "pidx/catalog/catalog_reader.h"

#include <utility>

#include "pidx/catalog/csv_reader.h"
#include "pidx/catalog/input_stream.h"
#include "pidx/catalog/jsonl_reader.h"

namespace pidx::catalog {
namespace {

bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    char c = s[s.size() - suffix.size() + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != suffix[i]) return false;
  }
  return true;
}

// The format a name implies, after dropping .gz/.zst. Standard input has no name; it is read as
// JSON Lines unless a format is given, because JSON Lines is the format pipelines emit and a
// CSV fed to it fails loudly on its first line rather than being misread. /dev/stdin and the
// /dev/fd/N of a process substitution (`<(zcat feed.jsonl.gz)`) are standard input by another
// name.
Result<Format> FormatFromName(const std::string& path) {
  if (path == "-" || path == "/dev/stdin" || path.rfind("/dev/fd/", 0) == 0 ||
      path.rfind("/proc/self/fd/", 0) == 0) {
    return Format::kJsonl;
  }
  std::string_view name = StripCompressionSuffix(path);
  if (EndsWithNoCase(name, ".jsonl") || EndsWithNoCase(name, ".ndjson")) return Format::kJsonl;
  if (EndsWithNoCase(name, ".csv")) return Format::kCsv;
  if (EndsWithNoCase(name, ".tsv")) return Format::kTsv;
  return Status::Usage(path +
                       ": cannot tell the catalog format from the name (expected .jsonl, "
                       ".ndjson, .csv or .tsv, optionally with .gz or .zst); give --format");
}

}  // namespace

Result<Format> ParseFormat(std::string_view name) {
  if (name == "jsonl" || name == "ndjson") return Format::kJsonl;
  if (name == "csv") return Format::kCsv;
  if (name == "tsv") return Format::kTsv;
  if (name == "auto") return Format::kAuto;
  return Status::Usage("unknown catalog format \"" + std::string(name) +
                       "\" (expected jsonl, ndjson, csv, tsv or auto)");
}

Result<std::unique_ptr<CatalogReader>> CatalogReader::Open(const std::string& path,
                                                           const Schema& schema,
                                                           const ReaderOptions& options) {
  Format format = options.format;
  if (format == Format::kAuto) {
    PIDX_ASSIGN_OR_RETURN(format, FormatFromName(path));
  }
  PIDX_ASSIGN_OR_RETURN(std::unique_ptr<InputStream> stream, InputStream::Open(path));
  switch (format) {
    case Format::kJsonl:
      return NewJsonlReader(std::move(stream), schema, options);
    case Format::kCsv:
      return NewCsvReader(std::move(stream), schema, options, CsvDialect::kCsv);
    case Format::kTsv:
      return NewCsvReader(std::move(stream), schema, options, CsvDialect::kTsv);
    case Format::kAuto:
      break;
  }
  return Status::Internal("unreachable catalog format");
}

}  // namespace pidx::catalog
