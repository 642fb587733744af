// The catalog formats pidx reads: JSON Lines, CSV (RFC 4180) and TSV, one product per line.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "catalog_data.h"
#include "products.h"

namespace pidx_gen {

using OrderedJson = nlohmann::ordered_json;

enum class Format { kJsonl, kCsv, kTsv };

// Builds the JSON object with nlohmann so that escaping is exactly a JSON library's. An
// ordered_json keeps the fields in the order a human expects to read them. The object is kept
// between products and its strings are assigned in place, which reuses their capacity instead
// of allocating eight fresh values per line.
class JsonlFormatter {
 public:
  JsonlFormatter() {
    for (const char* key : {"id", "category", "title", "description", "brand"}) json_[key] = "";
    json_["tags"] = OrderedJson::array();
    json_["price"] = 0.0;
    json_["attrs"] = OrderedJson::object();
  }

  void Append(const Product& p, std::string& line) {
    Set("id", p.id);
    Set("category", p.category_name);
    Set("title", p.title);
    Set("description", p.description);
    Set("brand", p.brand);
    auto& tags = json_["tags"].get_ref<OrderedJson::array_t&>();
    tags.resize(p.tags.size(), "");
    for (size_t i = 0; i < p.tags.size(); ++i) tags[i].get_ref<std::string&>().assign(p.tags[i]);
    json_["price"] = static_cast<double>(p.price_cents) / 100.0;
    auto& attrs = json_["attrs"];
    attrs.clear();
    for (const auto& [key, value] : p.attrs) attrs[std::string(key)] = value;
    line = json_.dump();  // moved in, not copied
    line += '\n';
  }

 private:
  void Set(const char* key, std::string_view value) {
    json_[key].get_ref<std::string&>().assign(value);
  }

  OrderedJson json_;
};

// Appends one CSV or TSV line (`format` is not kJsonl).
void AppendDelimited(const Product& p, Format format, std::string& line);

// The header line of `format`, empty for JSON Lines.
std::string Header(Format format);

}  // namespace pidx_gen
