// The query language of `pidx query` and `pidx recall` (docs/QUERY.md), parsed into a tree of
// field-scoped terms. Query text goes through the same analyzer, with the same settings and
// schema, as the catalog did when the version was built, so a query term and an indexed term
// meet exactly when they came from the same spelling.
//
//   query    := or
//   or       := and ( "OR" and )*
//   and      := unary ( ["AND"] unary )*          (juxtaposition is AND)
//   unary    := ("-" | "NOT") unary | primary     ("-" directly before a term: NOT)
//   primary  := "(" or ")" | field ":" value | word | "\"" text "\""
//   value    := word | "\"" text "\""
//   word     := a word ending in "*" is a prefix; "*" elsewhere, "~" and "^" are errors
//
// - A bare word (or a bare quoted text) is analyzed into tokens; each token matches when it
//   is in any text field ("title:t" OR "description:t"), and all its tokens must match (a
//   CJK word gives several bigrams; with analyzer version 2 "wi-fi" is the one token "wifi",
//   with version 1 the two tokens "wi" and "fi"). A field with "stem" gets the token's stem.
// - word* (unquoted): the terms of the field(s) that start with the word's last token (not
//   stemmed), evaluated over the sorted dictionary with a cap (engine.h).
// - field:value on a text field: every token of the value in that field.
//   On a keyword field (and the category field) the value is one term, folded whole:
//   brand:"Apple Inc." is the term "brand:apple inc.". attrs.<key>:<value> for attributes.
// - A word with no letters or digits ("&") matches every product.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pidx/analysis/analyzer.h"
#include "pidx/base/status.h"
#include "pidx/catalog/schema.h"

namespace pidx {

struct QueryNode {
  enum class Kind { kTerm, kAll, kAnd, kOr, kNot, kPrefix };
  Kind kind = Kind::kAll;
  std::string term;                 // kTerm: the full field-scoped term, e.g. "title:usb";
                                    // kPrefix: the term prefix, e.g. "title:pyth"
  bool is_category = false;         // kTerm on the schema's category field
  std::string category;             // when is_category: the folded category
  std::vector<QueryNode> children;  // kAnd, kOr: >= 1; kNot: exactly 1

  // A readable form for logs and tests: (AND title:usb (NOT brand:acme) title:pyth*).
  std::string ToString() const;
};

// What a query's text meant beyond its tree, for the caller to say (docs/QUERY.md).
struct QueryNotes {
  bool phrase = false;                     // a quoted text of several words (matched as all)
  std::vector<std::string> dropped_words;  // words that gave no token at all ("&", "--")
};

// The part of the analyzer a query needs: the schema and settings stored in the manifest.
class QueryParser {
 public:
  QueryParser(catalog::Schema schema, analysis::AnalyzerSettings settings);

  // kUsage "query syntax error at column N: <reason>" (N counts characters from 1) for
  // malformed text, an unknown or unindexed field, unsupported syntax ("*" inside a word, "~",
  // "^"), or a query whose every word was dropped by the analyzer. *error_column (optional)
  // receives N, *notes (optional) what the caller should tell the user.
  Result<QueryNode> Parse(std::string_view text, size_t* error_column = nullptr,
                          QueryNotes* notes = nullptr) const;

  const catalog::Schema& schema() const { return schema_; }
  const analysis::Analyzer& analyzer() const { return analyzer_; }
  // Folds a keyword or category value as the analyzer does for the catalog: NFKC case folding,
  // then ASCII whitespace trimmed.
  std::string FoldValue(std::string_view value) const;

 private:
  catalog::Schema schema_;
  analysis::Analyzer analyzer_;
};

}  // namespace pidx
