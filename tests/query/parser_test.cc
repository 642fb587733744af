// The query parser (query/parser.h), checked against a model: random query trees over a small
// vocabulary are written out as text, parsed, and the parsed tree is evaluated on random
// documents by an evaluator written here. It must select exactly the documents the generated
// tree selects, whatever shape (flattening, ordering) the parser chooses for its tree. Then
// the fixed cases: what a bare word, a field, a keyword mean, and where each error points.
#include "pidx/query/parser.h"

#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using pidx::QueryNode;
using pidx::QueryParser;
using pidx::StatusKind;

namespace {

QueryParser DefaultParser() {
  return QueryParser(pidx::catalog::Schema::Default(), pidx::analysis::AnalyzerSettings{});
}

// A document as the evaluator sees it: the set of its field-scoped terms.
using Doc = std::set<std::string>;

bool Matches(const QueryNode& n, const Doc& doc) {
  switch (n.kind) {
    case QueryNode::Kind::kAll:
      return true;
    case QueryNode::Kind::kTerm:
      return doc.count(n.term) > 0;
    case QueryNode::Kind::kPrefix:
      for (const auto& t : doc) {
        if (t.rfind(n.term, 0) == 0) return true;
      }
      return false;
    case QueryNode::Kind::kNot:
      return !Matches(n.children.at(0), doc);
    case QueryNode::Kind::kAnd:
      for (const auto& c : n.children) {
        if (!Matches(c, doc)) return false;
      }
      return true;
    case QueryNode::Kind::kOr:
      for (const auto& c : n.children) {
        if (Matches(c, doc)) return true;
      }
      return false;
  }
  return false;
}

// Plain lowercase words every analyzer version keeps as themselves: no operator words, no
// symbols, nothing a stemmer or a product-code rule would touch.
const std::vector<std::string> kWords = {"lamp", "desk", "chair", "oak", "red", "usb"};
const std::vector<std::string> kBrands = {"acme", "zenith"};

// The generated query: its text and its meaning, written independently of the parser.
struct Gen {
  std::string text;
  std::function<bool(const Doc&)> eval;
};

class QueryGen {
 public:
  explicit QueryGen(uint32_t seed) : rng_(seed) {}

  Gen Any(int depth) {
    const int pick = Pick(depth <= 0 ? 3 : 8);
    switch (pick) {
      case 0:
      case 1: {  // a bare word: in any text field
        const std::string w = kWords[Pick(kWords.size())];
        return {w, [w](const Doc& d) {
                  return d.count("title:" + w) > 0 || d.count("description:" + w) > 0;
                }};
      }
      case 2: {  // field:value, on a text field or the keyword field
        if (Pick(2) == 0) {
          const std::string w = kWords[Pick(kWords.size())];
          const std::string field = Pick(2) == 0 ? "title" : "description";
          const std::string term = field + ":" + w;
          return {field + ":" + w, [term](const Doc& d) { return d.count(term) > 0; }};
        }
        const std::string b = kBrands[Pick(kBrands.size())];
        const std::string term = "brand:" + b;
        return {"brand:" + b, [term](const Doc& d) { return d.count(term) > 0; }};
      }
      case 3: {  // -x
        Gen inner = Primary(depth - 1);
        auto f = inner.eval;
        return {"-" + inner.text, [f](const Doc& d) { return !f(d); }};
      }
      case 4:
      case 5: {  // a AND b, or juxtaposition
        Gen a = Unary(depth - 1);
        Gen b = Unary(depth - 1);
        auto fa = a.eval, fb = b.eval;
        const std::string op = Pick(2) == 0 ? " " : " AND ";
        return {a.text + op + b.text, [fa, fb](const Doc& d) { return fa(d) && fb(d); }};
      }
      default: {  // a OR b, parenthesized so that it composes with whatever is around it
        Gen a = Any(depth - 1);
        Gen b = Any(depth - 1);
        auto fa = a.eval, fb = b.eval;
        return {"(" + a.text + " OR " + b.text + ")",
                [fa, fb](const Doc& d) { return fa(d) || fb(d); }};
      }
    }
  }

 private:
  // Something that can stand after '-' or beside another term without changing meaning.
  Gen Primary(int depth) {
    Gen g = Any(depth);
    return {"(" + g.text + ")", g.eval};
  }
  Gen Unary(int depth) { return Pick(3) == 0 ? Primary(depth) : Any(0); }

  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  std::mt19937 rng_;
};

std::vector<Doc> RandomDocs(uint32_t seed, int count) {
  std::mt19937 rng(seed);
  std::vector<Doc> docs;
  for (int i = 0; i < count; ++i) {
    Doc d;
    for (const auto& w : kWords) {
      if (rng() % 3 == 0) d.insert("title:" + w);
      if (rng() % 3 == 0) d.insert("description:" + w);
    }
    if (rng() % 2 == 0) d.insert("brand:" + kBrands[rng() % kBrands.size()]);
    docs.push_back(std::move(d));
  }
  return docs;
}

}  // namespace

TEST_CASE("a parsed query selects exactly the documents its text means (model, 2000 queries)") {
  const QueryParser parser = DefaultParser();
  const std::vector<Doc> docs = RandomDocs(7, 64);
  for (uint32_t seed = 1; seed <= 2000; ++seed) {
    QueryGen gen(seed);
    const Gen q = gen.Any(4);
    auto parsed = parser.Parse(q.text);
    INFO("seed " << seed << ": " << q.text);
    REQUIRE(parsed.ok());
    for (size_t i = 0; i < docs.size(); ++i) {
      INFO("doc " << i << " tree " << parsed.value().ToString());
      REQUIRE(Matches(parsed.value(), docs[i]) == q.eval(docs[i]));
    }
  }
}

TEST_CASE("a bare word matches any text field, a field:value only that field") {
  const QueryParser parser = DefaultParser();
  auto word = parser.Parse("Lamp");
  REQUIRE(word.ok());
  CHECK(Matches(word.value(), {"title:lamp"}));
  CHECK(Matches(word.value(), {"description:lamp"}));
  CHECK_FALSE(Matches(word.value(), {"brand:lamp"}));

  auto field = parser.Parse("title:LAMP");
  REQUIRE(field.ok());
  CHECK(Matches(field.value(), {"title:lamp"}));
  CHECK_FALSE(Matches(field.value(), {"description:lamp"}));
}

TEST_CASE("a keyword or category value is one folded term, and a category term is marked") {
  const QueryParser parser = DefaultParser();
  auto brand = parser.Parse("brand:\"Apple Inc.\"");
  REQUIRE(brand.ok());
  CHECK(brand.value().kind == QueryNode::Kind::kTerm);
  CHECK(brand.value().term == "brand:apple inc.");
  CHECK_FALSE(brand.value().is_category);

  auto category = parser.Parse("category:Books");
  REQUIRE(category.ok());
  CHECK(category.value().term == "category:books");
  CHECK(category.value().is_category);
  CHECK(category.value().category == "books");

  auto attr = parser.Parse("attrs.Color:Red");
  REQUIRE(attr.ok());
  CHECK(attr.value().term == "attrs.color:red");
}

TEST_CASE("malformed queries are usage errors that name their column") {
  const QueryParser parser = DefaultParser();
  struct Case {
    std::string text;
    size_t column;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"(lamp", 1, "never closed"},
      {"lamp)", 5, "unexpected ')'"},
      {"()", 2, "empty parentheses"},
      {"OR lamp", 1, "OR needs a term"},
      {"lamp OR", 8, "expected a term"},
      {"AND lamp", 1, "AND needs a term"},
      {"lamp AND", 9, "expected a term after AND"},
      {"color:red", 1, "unknown field"},
      {"attrs:red", 1, "needs a key"},
      {"price:10", 1, "not indexed"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    size_t column = 0;
    auto r = parser.Parse(c.text, &column);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().kind() == StatusKind::kUsage);
    CHECK_THAT(r.status().message(), Catch::Contains(c.says));
    CHECK(column == c.column);
  }
}

TEST_CASE("analyzer 2 syntax: NOT, prefixes, compounds, phrases and dropped words") {
  const QueryParser parser = DefaultParser();
  auto parsed = [&](const std::string& text, pidx::QueryNotes* notes = nullptr) {
    auto r = parser.Parse(text, nullptr, notes);
    INFO(text);
    REQUIRE(r.ok());
    return r.value();
  };
  CHECK(parsed("lamp NOT desk").ToString() ==
        "(AND (OR title:lamp description:lamp) (NOT (OR title:desk description:desk)))");
  CHECK(parsed("lamp not desk").children.size() == 3);  // lowercase: a word
  CHECK(parsed("la*").ToString() == "(OR title:la* description:la*)");
  CHECK(parsed("title:La*").ToString() == "title:la*");
  CHECK(parsed("brand:Ac*").ToString() == "brand:ac*");
  CHECK(parsed("Wi-Fi").ToString() == "(OR title:wifi description:wifi)");
  CHECK(parsed("title:C++").ToString() == "title:c++");
  CHECK(parsed("title:naïve").ToString() == "title:naive");
  CHECK(Matches(parsed("lamp NOT desk"), {"title:lamp"}));
  CHECK_FALSE(Matches(parsed("lamp NOT desk"), {"title:lamp", "description:desk"}));
  CHECK(Matches(parsed("la*"), {"description:lamp"}));

  pidx::QueryNotes notes;
  parsed("\"red lamp\" & desk", &notes);
  CHECK(notes.phrase);
  CHECK(notes.dropped_words == std::vector<std::string>{"&"});
  pidx::QueryNotes single;
  parsed("\"lamp\"", &single);
  CHECK_FALSE(single.phrase);  // one word: nothing was lost

  // Version 1 keeps its meaning for the same text.
  const QueryParser v1(pidx::catalog::Schema::Default(),
                       pidx::analysis::AnalyzerSettings::Version1());
  auto old = v1.Parse("title:Wi-Fi");
  REQUIRE(old.ok());
  CHECK(old.value().ToString() == "(AND title:fi title:wi)");

  for (const auto& [text, column] : std::vector<std::pair<std::string, size_t>>{
           {"la*mp", 3}, {"*", 1}, {"lamp~", 5}, {"lamp^2", 5}, {"NOT", 4}, {"& --", 1}}) {
    INFO(text);
    size_t col = 0;
    auto r = parser.Parse(text, &col);
    REQUIRE_FALSE(r.ok());
    CHECK(col == column);
  }
}

TEST_CASE("nesting is bounded: deep parentheses are an error, not a stack overflow") {
  const QueryParser parser = DefaultParser();
  const std::string deep = std::string(100000, '(') + "lamp" + std::string(100000, ')');
  auto r = parser.Parse(deep);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("nested too deeply"));
  const std::string negations = std::string(100000, '-') + "lamp";
  auto n = parser.Parse(negations);
  REQUIRE_FALSE(n.ok());
  CHECK_THAT(n.status().message(), Catch::Contains("nested too deeply"));
}
