// Small hand-written catalogs for end-to-end tests: products named by id, category and title.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pidx::testing {

struct Item {
  std::string id, category, title;
};

// One JSON Lines record per item, in order.
inline std::string ToJsonl(const std::vector<Item>& items) {
  std::string s;
  for (const auto& i : items) {
    s += nlohmann::json({{"id", i.id}, {"category", i.category}, {"title", i.title}}).dump() + "\n";
  }
  return s;
}

}  // namespace pidx::testing
