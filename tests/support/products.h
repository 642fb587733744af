// Small hand-written catalogs for end-to-end tests: products named by id, category and title.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pidx/analysis/analyzer.h"
#include "pidx/shard/ingest.h"

namespace pidx::testing {

struct Item {
  std::string id, category, title;
};

// n items "P0".."P<n-1>" titled "item number <i>", the categories taken in turn.
inline std::vector<Item> NumberedItems(int n, const std::vector<std::string>& categories) {
  std::vector<Item> items;
  for (int i = 0; i < n; ++i) {
    items.push_back({"P" + std::to_string(i),
                     categories[static_cast<size_t>(i) % categories.size()],
                     "item number " + std::to_string(i)});
  }
  return items;
}

// One JSON Lines record per item, in order.
inline std::string ToJsonl(const std::vector<Item>& items) {
  std::string s;
  for (const auto& i : items) {
    s += nlohmann::json({{"id", i.id}, {"category", i.category}, {"title", i.title}}).dump() + "\n";
  }
  return s;
}

// The shard pidx puts `i` in, by the library's own rule (docs/CONTRACT.md section 3), in a
// category of `category_shards` shards. A category of these small catalogs has one shard under
// the default target (4096 products per shard); `--shards-per-category N` alone gives it N.
inline std::string ShardOf(const Item& i, uint32_t category_shards = 1) {
  static const pidx::analysis::Analyzer analyzer;
  return pidx::shard::ShardOf(analyzer, i.category, i.id, category_shards);
}

}  // namespace pidx::testing
