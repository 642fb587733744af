#include "pidx/base/map_limit.h"

#include <cstdlib>
#include <string>

#include "pidx/base/env.h"

namespace pidx {

uint64_t TestMapLimit() {
  static const uint64_t limit = [] {
    const char* v = std::getenv("PIDX_TEST_MAP_LIMIT");
    if (v == nullptr) return uint64_t{0};
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v, &end, 10);
    return end != v && *end == '\0' ? static_cast<uint64_t>(n) : uint64_t{0};
  }();
  return limit;
}

uint64_t MapLimitFromText(std::string_view s) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    n = n * 10 + static_cast<uint64_t>(s[i] - '0');
    if (n >= (uint64_t{1} << 40)) return 0;
    ++i;
  }
  const bool whole = i > 0 && (i == s.size() || (i + 1 == s.size() && s[i] == '\n'));
  return whole ? n : 0;
}

uint64_t ProcessMapLimit(Env* env) {
  if (TestMapLimit() > 0) return TestMapLimit();
  // A container or an unusual kernel may hide the file: the kernel's default is then the
  // safe guess (a larger limit is only ever set on purpose).
  auto text = env->ReadFile("/proc/sys/vm/max_map_count");
  const uint64_t n = text.ok() ? MapLimitFromText(*text) : 0;
  return n > 0 ? n : kDefaultKernelMapLimit;
}

}  // namespace pidx
