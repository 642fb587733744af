// libFuzzer target: the query parser and the query side of the analyzer, for analyzer
// versions 1 and 2 and a schema with a stemmed field. Malformed text is kUsage with a column
// inside the text (or one past its end); a parsed query's terms are field-scoped and non-empty;
// a query whose words all dropped is an error, never a match-all; and every token a query word
// meets (its compounds' query forms) is among the tokens the same text is indexed as.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "pidx/query/parser.h"

namespace {

pidx::catalog::Schema StemmedSchema() {
  auto s = pidx::catalog::Schema::FromJson(nlohmann::json::parse(R"({"fields":[
      {"name":"id","role":"id"},{"name":"category","role":"category"},
      {"name":"title","role":"text","stem":"english"},{"name":"description","role":"text"},
      {"name":"brand","role":"keyword"},{"name":"attrs","role":"attrs"}]})"));
  if (!s.ok()) std::abort();
  return *s;
}

size_t Characters(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

void CheckTree(const pidx::QueryNode& n) {
  using Kind = pidx::QueryNode::Kind;
  if (n.kind == Kind::kTerm || n.kind == Kind::kPrefix) {
    const size_t colon = n.term.find(':');
    if (colon == std::string::npos || colon == 0) std::abort();
    // A term needs a body; a prefix needs at least one character after the field.
    if (colon + 1 >= n.term.size()) std::abort();
  }
  if (n.kind == Kind::kNot && n.children.size() != 1) std::abort();
  if ((n.kind == Kind::kAnd || n.kind == Kind::kOr) && n.children.size() < 2) std::abort();
  for (const auto& c : n.children) CheckTree(c);
}

bool HasTerm(const pidx::QueryNode& n) {
  if (n.kind == pidx::QueryNode::Kind::kTerm || n.kind == pidx::QueryNode::Kind::kPrefix) {
    return true;
  }
  return std::any_of(n.children.begin(), n.children.end(), HasTerm);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pidx::QueryParser parsers[] = {
      {pidx::catalog::Schema::Default(), pidx::analysis::AnalyzerSettings::Version1()},
      {pidx::catalog::Schema::Default(), pidx::analysis::AnalyzerSettings{}},
      {StemmedSchema(), pidx::analysis::AnalyzerSettings{}},
  };
  std::string text(reinterpret_cast<const char*>(data), size);
  for (const auto& parser : parsers) {
    size_t column = 0;
    pidx::QueryNotes notes;
    auto q = parser.Parse(text, &column, &notes);
    if (q.ok()) {
      CheckTree(*q);
      (void)q->ToString();
      if (!notes.dropped_words.empty() && !HasTerm(*q)) std::abort();
    } else if (q.status().kind() != pidx::StatusKind::kUsage || column == 0 ||
               column > Characters(text) + 1) {
      std::abort();
    }
  }
  const pidx::analysis::Analyzer& analyzer = parsers[1].analyzer();
  std::vector<std::string> indexed, query;
  analyzer.Tokenize(text, &indexed);
  analyzer.QueryTokens(text, &query);
  std::sort(indexed.begin(), indexed.end());
  for (const auto& t : query) {
    if (!std::binary_search(indexed.begin(), indexed.end(), t)) std::abort();
  }
  return 0;
}
