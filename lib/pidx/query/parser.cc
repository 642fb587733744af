#include "pidx/query/parser.h"

#include <algorithm>
#include <utility>

namespace pidx {
namespace {

// Deeper nesting is refused rather than risking the stack on hostile input.
constexpr size_t kMaxDepth = 64;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool IsWordEnd(char c) { return IsSpace(c) || c == '(' || c == ')' || c == '"'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

// A field name before ':' is an identifier, optionally followed by ".key" (attributes). Words
// such as "12:30" are not field terms and are searched as text.
bool LooksLikeFieldName(std::string_view name) {
  const size_t dot = name.find('.');
  const std::string_view head = name.substr(0, dot);
  if (head.empty() || !IsNameStart(head[0])) return false;
  if (!std::all_of(head.begin(), head.end(), IsNameChar)) return false;
  return dot == std::string_view::npos || dot + 1 < name.size();
}

struct Token {
  enum class Type { kEnd, kLParen, kRParen, kMinus, kNot, kOr, kAnd, kWord, kQuoted, kField };
  Type type = Type::kEnd;
  size_t pos = 0;  // byte offset in the query
  std::string field;
  std::string text;  // word, quoted text, or field value
  size_t value_pos = 0;
  bool quoted_value = false;
  bool prefix = false;  // an unquoted word or value that ended in '*' (not in text)
};

class SyntaxError {
 public:
  explicit SyntaxError(std::string_view text) : text_(text) {}
  // Columns count characters (UTF-8 code points) from 1, as an editor shows them.
  size_t Column(size_t byte_pos) const {
    size_t column = 1;
    for (size_t i = 0; i < byte_pos && i < text_.size(); ++i) {
      if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++column;
    }
    return column;
  }
  Status At(size_t byte_pos, const std::string& why, size_t* column_out) const {
    const size_t column = Column(byte_pos);
    if (column_out != nullptr) *column_out = column;
    return Status::Usage("query syntax error at column " + std::to_string(column) + ": " + why);
  }

 private:
  std::string_view text_;
};

class Lexer {
 public:
  Lexer(std::string_view text, const SyntaxError& err, size_t* column)
      : s_(text), err_(err), column_(column) {}

  Result<std::vector<Token>> Run() {
    std::vector<Token> tokens;
    size_t p = 0;
    while (p < s_.size()) {
      const char c = s_[p];
      if (IsSpace(c)) {
        ++p;
        continue;
      }
      Token t;
      t.pos = p;
      if (c == '(' || c == ')') {
        t.type = c == '(' ? Token::Type::kLParen : Token::Type::kRParen;
        ++p;
      } else if (c == '-' && p + 1 < s_.size() && !IsSpace(s_[p + 1]) && s_[p + 1] != ')') {
        t.type = Token::Type::kMinus;
        ++p;
      } else if (c == '"') {
        t.type = Token::Type::kQuoted;
        PIDX_ASSIGN_OR_RETURN(p, ReadQuoted(p, &t.text));
      } else {
        size_t q = p;
        while (q < s_.size() && !IsWordEnd(s_[q])) ++q;
        std::string_view word = s_.substr(p, q - p);
        PIDX_RETURN_IF_ERROR(CheckSupported(word, p));
        if (word.size() > 1 && word.back() == '*') {
          t.prefix = true;
          word.remove_suffix(1);
        }
        const size_t colon = word.find(':');
        if (word == "OR" && !t.prefix) {
          t.type = Token::Type::kOr;
        } else if (word == "AND" && !t.prefix) {
          t.type = Token::Type::kAnd;
        } else if (word == "NOT" && !t.prefix) {
          t.type = Token::Type::kNot;
        } else if (colon != std::string_view::npos && LooksLikeFieldName(word.substr(0, colon))) {
          t.type = Token::Type::kField;
          t.field = std::string(word.substr(0, colon));
          t.value_pos = p + colon + 1;
          t.text = std::string(word.substr(colon + 1));
          if (t.text.empty()) {
            if (t.prefix) {
              return err_.At(q - 1, "'*' needs letters or digits before it", column_);
            }
            if (q >= s_.size() || s_[q] != '"') {
              return err_.At(p, "missing value after \"" + t.field + ":\"", column_);
            }
            t.value_pos = q;
            t.quoted_value = true;
            PIDX_ASSIGN_OR_RETURN(q, ReadQuoted(q, &t.text));
          }
        } else {
          t.type = Token::Type::kWord;
          t.text = std::string(word);
        }
        p = q;
      }
      tokens.push_back(std::move(t));
    }
    Token end;
    end.pos = s_.size();
    tokens.push_back(end);
    return tokens;
  }

 private:
  // Reads "..." starting at the quote at `open`; \" and \\ are escapes. Returns the offset
  // after the closing quote.
  Result<size_t> ReadQuoted(size_t open, std::string* out) {
    for (size_t q = open + 1; q < s_.size(); ++q) {
      if (s_[q] == '\\' && q + 1 < s_.size() && (s_[q + 1] == '"' || s_[q + 1] == '\\')) {
        out->push_back(s_[++q]);
      } else if (s_[q] == '"') {
        return q + 1;
      } else {
        out->push_back(s_[q]);
      }
    }
    return err_.At(open, "unterminated quote", column_);
  }

  // Syntax that other engines have and this one does not is an error, never a silent drop:
  // '~' (fuzzy, proximity), '^' (boosts) and '*' anywhere but at the end of a word.
  Status CheckSupported(std::string_view word, size_t pos) const {
    for (size_t i = 0; i < word.size(); ++i) {
      const char c = word[i];
      if (c == '~') {
        return err_.At(pos + i,
                       "'~' is not supported (no fuzzy or proximity search); quote the word to "
                       "search it as text",
                       column_);
      }
      if (c == '^') {
        return err_.At(pos + i,
                       "'^' is not supported (no boosts); quote the word to search it "
                       "as text",
                       column_);
      }
      if (c == '*' && (i + 1 != word.size() || i == 0)) {
        return err_.At(pos + i,
                       i == 0 ? "'*' needs letters or digits before it (prefix search: pyth*)"
                              : "'*' is only supported at the end of a word (prefix search: "
                                "pyth*); quote the word to search it as text",
                       column_);
      }
    }
    return Status::Ok();
  }

  std::string_view s_;
  const SyntaxError& err_;
  size_t* column_;
};

QueryNode MakeTerm(std::string term) {
  QueryNode n;
  n.kind = QueryNode::Kind::kTerm;
  n.term = std::move(term);
  return n;
}

// AND of `children`, flattened; kAll children drop out (they restrict nothing).
QueryNode MakeAnd(std::vector<QueryNode> children) {
  std::vector<QueryNode> kept;
  for (auto& c : children) {
    if (c.kind == QueryNode::Kind::kAll) continue;
    if (c.kind == QueryNode::Kind::kAnd) {
      for (auto& g : c.children) kept.push_back(std::move(g));
    } else {
      kept.push_back(std::move(c));
    }
  }
  if (kept.empty()) return QueryNode{};
  if (kept.size() == 1) return std::move(kept[0]);
  QueryNode n;
  n.kind = QueryNode::Kind::kAnd;
  n.children = std::move(kept);
  return n;
}

// OR of `children`, flattened; any kAll child makes the whole OR match everything.
QueryNode MakeOr(std::vector<QueryNode> children) {
  std::vector<QueryNode> kept;
  for (auto& c : children) {
    if (c.kind == QueryNode::Kind::kAll) return QueryNode{};
    if (c.kind == QueryNode::Kind::kOr) {
      for (auto& g : c.children) kept.push_back(std::move(g));
    } else {
      kept.push_back(std::move(c));
    }
  }
  if (kept.size() == 1) return std::move(kept[0]);
  QueryNode n;
  n.kind = QueryNode::Kind::kOr;
  n.children = std::move(kept);
  return n;
}

QueryNode MakePrefix(std::string prefix) {
  QueryNode n;
  n.kind = QueryNode::Kind::kPrefix;
  n.term = std::move(prefix);
  return n;
}

// True when the tree has a term or prefix anywhere: a tree without one was made of words that
// all analyzed to nothing.
bool HasTerm(const QueryNode& n) {
  if (n.kind == QueryNode::Kind::kTerm || n.kind == QueryNode::Kind::kPrefix) return true;
  return std::any_of(n.children.begin(), n.children.end(), HasTerm);
}

class Parser {
 public:
  Parser(const QueryParser& qp, std::vector<Token> tokens, const SyntaxError& err, size_t* column,
         QueryNotes* notes)
      : qp_(qp), tokens_(std::move(tokens)), err_(err), column_(column), notes_(notes) {}

  Result<QueryNode> Run() {
    if (Peek().type == Token::Type::kEnd) return err_.At(0, "empty query", column_);
    PIDX_ASSIGN_OR_RETURN(QueryNode root, ParseOr(0));
    if (Peek().type != Token::Type::kEnd) return err_.At(Peek().pos, "unexpected ')'", column_);
    if (!notes_->dropped_words.empty() && !HasTerm(root)) {
      return err_.At(first_dropped_pos_,
                     "nothing to search: \"" + notes_->dropped_words.front() +
                         "\" has no letter or digit (the analyzer drops such words)",
                     column_);
    }
    return root;
  }

 private:
  const Token& Peek() const { return tokens_[next_]; }
  const Token& Take() { return tokens_[next_++]; }

  Result<QueryNode> ParseOr(size_t depth) {
    std::vector<QueryNode> alternatives;
    PIDX_ASSIGN_OR_RETURN(QueryNode first, ParseAnd(depth));
    alternatives.push_back(std::move(first));
    while (Peek().type == Token::Type::kOr) {
      Take();
      PIDX_ASSIGN_OR_RETURN(QueryNode next, ParseAnd(depth));
      alternatives.push_back(std::move(next));
    }
    return MakeOr(std::move(alternatives));
  }

  Result<QueryNode> ParseAnd(size_t depth) {
    std::vector<QueryNode> parts;
    for (;;) {
      const Token& t = Peek();
      if (t.type == Token::Type::kEnd || t.type == Token::Type::kRParen ||
          t.type == Token::Type::kOr) {
        if (!parts.empty()) break;
        return ExpectedTerm(t);
      }
      if (t.type == Token::Type::kAnd) {
        if (parts.empty()) return err_.At(t.pos, "AND needs a term on its left", column_);
        Take();
        const Token& after = Peek();
        if (after.type == Token::Type::kEnd || after.type == Token::Type::kRParen ||
            after.type == Token::Type::kOr || after.type == Token::Type::kAnd) {
          return err_.At(after.pos, "expected a term after AND", column_);
        }
        continue;
      }
      PIDX_ASSIGN_OR_RETURN(QueryNode part, ParseUnary(depth));
      parts.push_back(std::move(part));
    }
    return MakeAnd(std::move(parts));
  }

  Status ExpectedTerm(const Token& t) const {
    switch (t.type) {
      case Token::Type::kOr:
        return err_.At(t.pos, "OR needs a term on its left", column_);
      case Token::Type::kRParen:
        return err_.At(t.pos, depth_open_ > 0 ? "empty parentheses" : "unexpected ')'", column_);
      default:
        return err_.At(t.pos, "expected a term", column_);
    }
  }

  Result<QueryNode> ParseUnary(size_t depth) {
    if (depth > kMaxDepth) return err_.At(Peek().pos, "nested too deeply", column_);
    const Token& t = Peek();
    if (t.type == Token::Type::kMinus || t.type == Token::Type::kNot) {
      const char* op = t.type == Token::Type::kMinus ? "'-'" : "NOT";
      Take();
      const Token& after = Peek();
      if (after.type == Token::Type::kOr || after.type == Token::Type::kAnd ||
          after.type == Token::Type::kEnd || after.type == Token::Type::kRParen) {
        return err_.At(after.pos, std::string("expected a term after ") + op, column_);
      }
      PIDX_ASSIGN_OR_RETURN(QueryNode child, ParseUnary(depth + 1));
      QueryNode n;
      n.kind = QueryNode::Kind::kNot;
      n.children.push_back(std::move(child));
      return n;
    }
    return ParsePrimary(depth);
  }

  Result<QueryNode> ParsePrimary(size_t depth) {
    const Token& t = Take();
    switch (t.type) {
      case Token::Type::kLParen: {
        ++depth_open_;
        PIDX_ASSIGN_OR_RETURN(QueryNode inner, ParseOr(depth + 1));
        --depth_open_;
        if (Peek().type != Token::Type::kRParen) {
          return err_.At(t.pos, "'(' is never closed", column_);
        }
        Take();
        return inner;
      }
      case Token::Type::kWord:
      case Token::Type::kQuoted:
        return BareWord(t);
      case Token::Type::kField:
        return FieldTerm(t);
      default:
        return ExpectedTerm(t);
    }
  }

  // The tokens of a word or quoted text in a text field, with what the caller should hear
  // about it: a quoted text of several tokens is matched as all of them (no positions), a
  // word of no token at all restricts nothing.
  std::vector<std::string> TextTokens(const Token& t, const std::string& text) {
    std::vector<std::string> tokens;
    qp_.analyzer().QueryTokens(text, &tokens);
    const bool quoted = t.type == Token::Type::kQuoted || t.quoted_value;
    if (quoted && tokens.size() >= 2) notes_->phrase = true;
    if (tokens.empty() && !t.prefix) {
      if (notes_->dropped_words.empty()) first_dropped_pos_ = t.pos;
      notes_->dropped_words.push_back(quoted ? "\"" + text + "\"" : text);
    }
    return tokens;
  }

  // The tree of `tokens` in the text fields `fields`: every token, each in any of the fields
  // (stemmed as that field is); with a prefix, the last token is a prefix.
  Result<QueryNode> TextQuery(const Token& t, std::vector<std::string> tokens,
                              const std::vector<const catalog::FieldSpec*>& fields) {
    if (t.prefix && tokens.empty()) {
      return err_.At(t.pos, "'*' needs letters or digits before it", column_);
    }
    std::string prefix;
    if (t.prefix) {
      prefix = std::move(tokens.back());
      tokens.pop_back();
    }
    std::sort(tokens.begin(), tokens.end());
    tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
    std::vector<QueryNode> all_tokens;
    for (const auto& token : tokens) {
      std::vector<QueryNode> any_field;
      for (const catalog::FieldSpec* f : fields) {
        std::string stemmed = token;
        qp_.analyzer().StemFor(*f, &stemmed);
        any_field.push_back(MakeTerm(f->name + ":" + stemmed));
      }
      all_tokens.push_back(MakeOr(std::move(any_field)));
    }
    if (t.prefix) {
      std::vector<QueryNode> any_field;
      any_field.reserve(fields.size());
      for (const catalog::FieldSpec* f : fields)
        any_field.push_back(MakePrefix(f->name + ":" + prefix));
      all_tokens.push_back(MakeOr(std::move(any_field)));
    }
    return MakeAnd(std::move(all_tokens));
  }

  Result<QueryNode> BareWord(const Token& t) {
    std::vector<const catalog::FieldSpec*> text_fields;
    for (const auto& f : qp_.schema().fields()) {
      if (f.role == catalog::FieldRole::kText) text_fields.push_back(&f);
    }
    if (text_fields.empty()) {
      return err_.At(t.pos, "the schema has no text field for a bare word; use field:value",
                     column_);
    }
    return TextQuery(t, TextTokens(t, t.text), text_fields);
  }

  Result<QueryNode> FieldTerm(const Token& t) {
    const catalog::Schema& schema = qp_.schema();
    int index = schema.FindName(t.field);
    std::string key;
    if (index < 0) {
      const size_t dot = t.field.find('.');
      if (dot != std::string::npos) {
        index = schema.FindName(t.field.substr(0, dot));
        if (index >= 0 && schema.fields()[index].role != catalog::FieldRole::kAttrs) index = -1;
        key = t.field.substr(dot + 1);
      }
    }
    if (index < 0) {
      std::string names;
      for (const auto& f : schema.fields()) {
        if (f.role == catalog::FieldRole::kId || f.role == catalog::FieldRole::kNumber) continue;
        names += (names.empty() ? "" : ", ") + f.name +
                 (f.role == catalog::FieldRole::kAttrs ? ".<key>" : "");
      }
      return err_.At(t.pos,
                     "unknown field \"" + t.field + "\" (fields: " + names +
                         "; quote the word to search it as text)",
                     column_);
    }
    const catalog::FieldSpec& field = schema.fields()[index];
    switch (field.role) {
      case catalog::FieldRole::kText:
        return TextQuery(t, TextTokens(t, t.text), {&field});
      case catalog::FieldRole::kKeyword:
      case catalog::FieldRole::kCategory: {
        std::string value = qp_.FoldValue(t.text);
        if (value.empty()) return err_.At(t.value_pos, "empty value for " + field.name, column_);
        if (t.prefix) return MakePrefix(field.name + ":" + value);
        QueryNode n = MakeTerm(field.name + ":" + value);
        if (field.role == catalog::FieldRole::kCategory) {
          n.is_category = true;
          n.category = std::move(value);
        }
        return n;
      }
      case catalog::FieldRole::kAttrs: {
        if (key.empty()) {
          return err_.At(t.pos, field.name + " needs a key: " + field.name + ".<key>:<value>",
                         column_);
        }
        std::string folded_key = qp_.FoldValue(key);
        std::string value = qp_.FoldValue(t.text);
        if (folded_key.empty() || value.empty()) {
          return err_.At(t.value_pos, "empty key or value for " + field.name, column_);
        }
        if (t.prefix) return MakePrefix(field.name + "." + folded_key + ":" + value);
        return MakeTerm(field.name + "." + folded_key + ":" + value);
      }
      case catalog::FieldRole::kId:
      case catalog::FieldRole::kNumber:
        break;
    }
    return err_.At(t.pos, "field \"" + field.name + "\" is not indexed", column_);
  }

  const QueryParser& qp_;
  std::vector<Token> tokens_;
  size_t next_ = 0;
  size_t depth_open_ = 0;
  const SyntaxError& err_;
  size_t* column_;
  QueryNotes* notes_;
  size_t first_dropped_pos_ = 0;
};

}  // namespace

std::string QueryNode::ToString() const {
  switch (kind) {
    case Kind::kTerm:
      return term;
    case Kind::kPrefix:
      return term + "*";
    case Kind::kAll:
      return "(ALL)";
    case Kind::kNot:
      return "(NOT " + children[0].ToString() + ")";
    case Kind::kAnd:
    case Kind::kOr: {
      std::string s = kind == Kind::kAnd ? "(AND" : "(OR";
      for (const auto& c : children) s += " " + c.ToString();
      return s + ")";
    }
  }
  return "";
}

QueryParser::QueryParser(catalog::Schema schema, analysis::AnalyzerSettings settings)
    : schema_(std::move(schema)), analyzer_(settings) {}

std::string QueryParser::FoldValue(std::string_view value) const {
  // Same as the analyzer's keyword path: fold first (it can turn U+3000 into a space), trim.
  constexpr std::string_view kSpace = " \t\n\v\f\r";
  std::string folded = analyzer_.Fold(value);
  const size_t begin = folded.find_first_not_of(kSpace);
  if (begin == std::string::npos) return "";
  const size_t end = folded.find_last_not_of(kSpace);
  return folded.substr(begin, end - begin + 1);
}

Result<QueryNode> QueryParser::Parse(std::string_view text, size_t* error_column,
                                     QueryNotes* notes) const {
  const SyntaxError err(text);
  Lexer lexer(text, err, error_column);
  PIDX_ASSIGN_OR_RETURN(std::vector<Token> tokens, lexer.Run());
  QueryNotes own;
  Parser parser(*this, std::move(tokens), err, error_column, notes != nullptr ? notes : &own);
  return parser.Run();
}

}  // namespace pidx
