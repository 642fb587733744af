// Result output on stdout: human tables, or one JSON object with a schema_version when
// --json is given (fields are only ever added). Logs never go here.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pidx::cli {

inline constexpr int kJsonSchemaVersion = 1;

// Prints `j` (with "schema_version" first) and a newline.
void PrintJson(const nlohmann::ordered_json& j);

// A text table with right-aligned numeric columns.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void AddRow(std::vector<std::string> row);
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// 1234567 -> "1.2 MB"
std::string HumanBytes(uint64_t bytes);

}  // namespace pidx::cli
