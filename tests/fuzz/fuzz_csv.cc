// libFuzzer target: the CSV catalog reader (the first byte picks CSV or TSV). Bad records are
// kBadData with "<file>:<line>:", the reader goes on after them.
#include <cstddef>
#include <cstdint>

#include "catalog_input.h"
#include "pidx/catalog/csv_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto dialect =
      (data[0] & 1) ? pidx::catalog::CsvDialect::kTsv : pidx::catalog::CsvDialect::kCsv;
  auto stream = FuzzStream(data + 1, size - 1, "fuzz.csv");
  if (!stream) return 0;
  static const pidx::catalog::Schema schema = pidx::catalog::Schema::Default();
  pidx::catalog::ReaderOptions options;
  options.max_line_bytes = 4096;
  auto reader = pidx::catalog::NewCsvReader(std::move(stream), schema, options, dialect);
  if (!reader.ok()) return 0;
  pidx::catalog::Product p;
  for (int i = 0; i < 100000; ++i) {
    auto r = (*reader)->Next(&p);
    if (r.ok() && !*r) break;
    if (!r.ok() && r.status().kind() != pidx::StatusKind::kBadData) break;
    if (!r.ok() && r.status().message().rfind("fuzz.csv:", 0) != 0) std::abort();
  }
  return 0;
}
