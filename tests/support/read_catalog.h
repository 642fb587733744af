// Reads a whole catalog through CatalogReader, as the catalog tests check it: every product in
// order, and every bad record as its message.
#pragma once

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "pidx/catalog/catalog_reader.h"

namespace pidx::testing {

struct ReadOutcome {
  std::vector<catalog::Product> products;
  std::vector<std::string> errors;  // "file:line: reason" of each bad record
};

// REQUIRES (fails the test otherwise): the catalog opens, and every error is kBadData.
inline ReadOutcome ReadAll(const std::string& path,
                           const catalog::Schema& schema = catalog::Schema::Default(),
                           catalog::ReaderOptions options = {}) {
  auto reader = catalog::CatalogReader::Open(path, schema, options);
  INFO(reader.status().ToString());
  REQUIRE(reader.ok());
  ReadOutcome o;
  catalog::Product p;
  for (;;) {
    Result<bool> r = (*reader)->Next(&p);
    if (!r.ok()) {
      REQUIRE(r.status().kind() == StatusKind::kBadData);
      o.errors.push_back(r.status().message());
      continue;
    }
    if (!r.value()) break;
    o.products.push_back(p);
  }
  return o;
}

}  // namespace pidx::testing
