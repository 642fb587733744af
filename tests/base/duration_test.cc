#include "pidx/base/duration.h"

#include <catch2/catch.hpp>

using pidx::FormatDurationMs;
using pidx::ParseDurationMs;

TEST_CASE("durations are written 500ms, 5s, 2m, 1h or 0") {
  CHECK(*ParseDurationMs("500ms") == 500);
  CHECK(*ParseDurationMs("5s") == 5000);
  CHECK(*ParseDurationMs("2m") == 120000);
  CHECK(*ParseDurationMs("1h") == 3600000);
  CHECK(*ParseDurationMs("0") == 0);
  CHECK(*ParseDurationMs("0s") == 0);
}

TEST_CASE("a malformed duration is a usage error that quotes it") {
  for (const char* bad : {"", "5", "s", "-1s", "5 s", "1.5s", "5sec", "99999999999999999999h"}) {
    auto r = ParseDurationMs(bad);
    INFO(bad);
    REQUIRE(!r.ok());
    CHECK(r.status().kind() == pidx::StatusKind::kUsage);
    CHECK(r.status().message().find(std::string("\"") + bad + "\"") != std::string::npos);
  }
}

TEST_CASE("durations format in their shortest exact unit") {
  CHECK(FormatDurationMs(0) == "0");
  CHECK(FormatDurationMs(250) == "250ms");
  CHECK(FormatDurationMs(5000) == "5s");
  CHECK(FormatDurationMs(1500) == "1500ms");
  CHECK(FormatDurationMs(120000) == "2m");
  CHECK(FormatDurationMs(7200000) == "2h");
}

TEST_CASE("timestamps are RFC 3339 UTC with milliseconds") {
  std::string ts = pidx::NowRfc3339();
  REQUIRE(ts.size() == 24);
  CHECK(ts[4] == '-');
  CHECK(ts[10] == 'T');
  CHECK(ts[19] == '.');
  CHECK(ts[23] == 'Z');
}

TEST_CASE("byte sizes take K, M and G as powers of 1024") {
  using pidx::ParseByteSize;
  CHECK(*ParseByteSize("0") == 0u);
  CHECK(*ParseByteSize("65536") == 65536u);
  CHECK(*ParseByteSize("512K") == 512u * 1024);
  CHECK(*ParseByteSize("64M") == 64u * 1024 * 1024);
  CHECK(*ParseByteSize("64MiB") == 64u * 1024 * 1024);
  CHECK(*ParseByteSize("2G") == 2ull * 1024 * 1024 * 1024);
  for (const char* bad : {"", "M", "-1", "64T", "64 M", "1.5G", "99999999999999999999"}) {
    INFO(bad);
    CHECK(ParseByteSize(bad).status().kind() == pidx::StatusKind::kUsage);
  }
  CHECK(ParseByteSize("17179869184G").status().kind() == pidx::StatusKind::kUsage);  // 2^64
}
