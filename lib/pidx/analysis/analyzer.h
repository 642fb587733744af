// Turns product fields and query text into field-scoped terms (docs/CONTRACT.md
// section 2, docs/QUERY.md): NFKC case folding, splitting on anything that is not a letter or
// digit, CJK runs (Han, Hiragana, Katakana, Hangul) as overlapping bigrams (a lone CJK
// character as a unigram), an ASCII fast path that skips ICU for plain ASCII tokens. Keyword
// values are folded but not split. All methods are const and safe to call from several threads.
//
// Versions (stored in every manifest; a version's queries use its own):
//  1  the above.
//  2  (the default) adds compounds (tokenizer.h: "wi-fi" also gives "wifi", "c++" gives "c++"),
//     accent folding of text fields' Latin letters (fold_accents, on by default: "naïve" is
//     "naive"), and Snowball stemming of the text fields whose schema entry has "stem".
//     Keyword, category and attrs values are folded as in version 1 (no accent folding): they
//     are exact values, and the category decides the shard.
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
  static constexpr int kLatestVersion = 2;
  int version = kLatestVersion;  // bumped whenever the output changes for the same input
  bool cjk_bigrams = true;
  size_t max_token_bytes = 64;  // longer tokens are dropped
  bool fold_accents = true;     // version 2 only (version 1 never folds accents)
  // Version 1's settings as that version wrote them: {"version":1,"cjk_bigrams":...,
  // "max_token_bytes":...}; version 2 adds "fold_accents".
  static AnalyzerSettings Version1();
  nlohmann::json ToJson() const;
  static Result<AnalyzerSettings> FromJson(const nlohmann::json& j);  // kConfig on error
  // kConfig when `schema` asks for what this version cannot do (stemming needs version 2).
  Status CheckSchema(const catalog::Schema& schema) const;
};

class Analyzer {
 public:
  explicit Analyzer(AnalyzerSettings settings = {});
  const AnalyzerSettings& settings() const { return settings_; }

  // NFKC case folding of `text` (ASCII fast path: plain lowercase). Invalid UTF-8 is replaced.
  std::string Fold(std::string_view text) const;

  // Appends the tokens of free text (folded, split, CJK bigrams), without field prefix, as
  // the catalog's text fields are tokenized before stemming (compounds give their parts and
  // their query form).
  void Tokenize(std::string_view text, std::vector<std::string>* tokens) const;

  // Appends the tokens a query word meets in a text field: each compound gives only its
  // query form (tokenizer.h), not its parts; no stemming (StemFor does that per field).
  void QueryTokens(std::string_view text, std::vector<std::string>* tokens) const;

  // Stems *token as the text field `field` is stemmed (nothing when its schema entry has no
  // "stem" or this version does not stem).
  void StemFor(const catalog::FieldSpec& field, std::string* token) const;

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
