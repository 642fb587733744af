// --truth: counts of what was written, for tests to compare with index stats.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog_data.h"
#include "products.h"

namespace pidx_gen {

using OrderedJson = nlohmann::ordered_json;

class Truth {
 public:
  void Count(const Product& p) {
    ++products_;
    ++categories_[p.category_name];
    ++brands_[p.brand];
    tags_total_ += p.tags.size();
    products_with_tags_ += p.tags.empty() ? 0 : 1;
    cjk_titles_ += p.cjk_title ? 1 : 0;
  }

  // Only categories that received products appear: an index cannot know about the others.
  OrderedJson ToJson() const {
    nlohmann::json categories = nlohmann::json::object();
    for (const auto& [name, count] : categories_) categories[name] = count;
    nlohmann::json brands = nlohmann::json::object();
    for (const auto& [brand, count] : brands_) brands[std::string(brand)] = count;
    return OrderedJson{{"products", products_},
                       {"categories", std::move(categories)},
                       {"brands", std::move(brands)},
                       {"tags_total", tags_total_},
                       {"products_with_tags", products_with_tags_},
                       {"cjk_titles", cjk_titles_}};
  }

 private:
  uint64_t products_ = 0;
  std::map<std::string, uint64_t> categories_;
  std::map<std::string_view, uint64_t> brands_;
  uint64_t tags_total_ = 0;
  uint64_t products_with_tags_ = 0;
  uint64_t cjk_titles_ = 0;
};

}  // namespace pidx_gen
