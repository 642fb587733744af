// Turns product fields and query text into field-scoped terms (docs/CONTRACT.md
// section 2): NFKC case folding, splitting on anything that is not a letter or digit,
// CJK runs (Han, Hiragana, Katakana, Hangul) as overlapping bigrams (a lone CJK character as
// a unigram), an ASCII fast path that skips ICU for plain ASCII tokens. Keyword values are
// folded but not split. All methods are const and safe to call from several threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pidx/base/status.h"
#include "pidx/catalog/product.h"
#include "pidx/catalog/schema.h"

namespace pidx::analysis {

struct AnalyzerSettings {
  int version = 1;  // bumped whenever the analyzer's output changes for the same input
  bool cjk_bigrams = true;
  size_t max_token_bytes = 64;  // longer tokens are dropped
  nlohmann::json ToJson() const;
  static Result<AnalyzerSettings> FromJson(const nlohmann::json& j);  // kConfig on error
};

class Analyzer {
 public:
  explicit Analyzer(AnalyzerSettings settings = {});
  const AnalyzerSettings& settings() const { return settings_; }

  // NFKC case folding of `text` (ASCII fast path: plain lowercase). Invalid UTF-8 is replaced.
  std::string Fold(std::string_view text) const;

  // Appends the tokens of free text (folded, split, CJK bigrams), without field prefix.
  void Tokenize(std::string_view text, std::vector<std::string>* tokens) const;

  // Replaces *terms with the terms of one product: "category:<folded category>",
  // "<field>:<token>" for text fields, "<field>:<folded value>" for keyword fields,
  // "<field>.<folded key>:<folded value>" for attrs entries. Number fields give no terms.
  // The result is sorted and unique.
  void AnalyzeProduct(const catalog::Schema& schema, const catalog::Product& product,
                      std::vector<std::string>* terms) const;

 private:
  AnalyzerSettings settings_;
};

}  // namespace pidx::analysis
