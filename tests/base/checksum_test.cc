#include <catch2/catch.hpp>

#include <cstdio>
#include <random>
#include <string>

#include "pidx/base/checksum.h"

namespace pidx {
namespace {

TEST_CASE("Hex64 and AppendHex64 write printf's %016llx, and ParseHex64 reads it back") {
  std::mt19937_64 rng(17);
  for (int i = 0; i < 5000; ++i) {
    // Values of every width, the extremes included.
    const uint64_t v = i == 0 ? 0 : i == 1 ? UINT64_MAX : rng() >> (rng() % 64);
    char want[17];
    std::snprintf(want, sizeof want, "%016llx", static_cast<unsigned long long>(v));
    CHECK(Hex64(v) == want);
    std::string appended = "prefix";
    AppendHex64(v, &appended);
    CHECK(appended == std::string("prefix") + want);
    uint64_t back = 0;
    REQUIRE(ParseHex64(want, &back));
    CHECK(back == v);
  }
}

}  // namespace
}  // namespace pidx
