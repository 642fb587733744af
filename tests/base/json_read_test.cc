#include "pidx/base/json_read.h"

#include <catch2/catch.hpp>

#include <string>

using pidx::JsonLimits;
using pidx::JsonNestingDepth;
using pidx::ParseJson;

TEST_CASE("the nesting scan counts brackets outside strings only") {
  CHECK(JsonNestingDepth("1", 64) == 0);
  CHECK(JsonNestingDepth("{\"a\":[1,{\"b\":[]}]}", 64) == 4);
  CHECK(JsonNestingDepth("{\"a\":\"[[[[[[\"}", 64) == 1);
  // An escaped quote does not end the string: the brackets after it are still inside.
  CHECK(JsonNestingDepth("[\"\\\"[[[[\"]", 64) == 1);
  CHECK(JsonNestingDepth("[[][][]]", 64) == 2);
  // It stops at limit + 1 instead of scanning on.
  CHECK(JsonNestingDepth(std::string(1000, '['), 10) == 11);
}

TEST_CASE("ParseJson refuses nesting beyond the limit before parsing, without recursion") {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  auto r = ParseJson(deep, "f.manifest", pidx::kManifestJsonLimits);
  REQUIRE(!r.ok());
  CHECK(r.status().kind() == pidx::StatusKind::kCorrupt);
  CHECK(r.status().message() == "f.manifest: JSON nested deeper than 64 levels");
  const JsonLimits three{3, 1000};
  CHECK(ParseJson("[[[1]]]", "x", three).ok());
  CHECK(!ParseJson("[[[[1]]]]", "x", three).ok());
}

TEST_CASE("ParseJson refuses a document larger than the limit and malformed JSON") {
  const JsonLimits small{64, 8};
  auto big = ParseJson("[1,2,3,4,5]", "p", small);
  REQUIRE(!big.ok());
  CHECK(big.status().message() == "p: 11 bytes of JSON, more than the limit of 8");
  auto bad = ParseJson("{\"a\":1,}", "p", pidx::kPlanJsonLimits);
  REQUIRE(!bad.ok());
  CHECK_THAT(bad.status().message(), Catch::StartsWith("p: malformed JSON: "));
  CHECK_THAT(bad.status().message(), Catch::Contains("parse error"));
  auto ok = ParseJson("{\"a\":[1,2]}", "p", pidx::kPlanJsonLimits);
  REQUIRE(ok.ok());
  CHECK((*ok)["a"][1] == 2);
}
