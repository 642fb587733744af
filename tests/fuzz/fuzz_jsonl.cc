// libFuzzer target: the JSONL catalog reader. Bad records are kBadData with "<file>:<line>:",
// the reader goes on after them; only other error kinds end the read.
#include <cstddef>
#include <cstdint>

#include "catalog_input.h"
#include "pidx/catalog/jsonl_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto stream = FuzzStream(data, size, "fuzz.jsonl");
  if (!stream) return 0;
  static const pidx::catalog::Schema schema = pidx::catalog::Schema::Default();
  pidx::catalog::ReaderOptions options;
  options.max_line_bytes = 4096;
  auto reader = pidx::catalog::NewJsonlReader(std::move(stream), schema, options);
  pidx::catalog::Product p;
  for (int i = 0; i < 100000; ++i) {
    auto r = reader->Next(&p);
    if (r.ok() && !*r) break;
    if (!r.ok() && r.status().kind() != pidx::StatusKind::kBadData) break;
    if (!r.ok() && r.status().message().rfind("fuzz.jsonl:", 0) != 0) std::abort();
  }
  return 0;
}
