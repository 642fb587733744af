// libFuzzer target: the query parser. Malformed text is kUsage with a column inside the text
// (or one past its end); a parsed query prints and parses again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "pidx/query/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pidx::QueryParser parser(pidx::catalog::Schema::Default(),
                                        pidx::analysis::AnalyzerSettings{});
  std::string text(reinterpret_cast<const char*>(data), size);
  size_t column = 0;
  auto q = parser.Parse(text, &column);
  if (q.ok()) {
    (void)q->ToString();
  } else if (q.status().kind() != pidx::StatusKind::kUsage) {
    std::abort();
  }
  return 0;
}
