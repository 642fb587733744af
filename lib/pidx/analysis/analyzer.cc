#include "pidx/analysis/analyzer.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "pidx/analysis/normalizer.h"
#include "pidx/analysis/stemmer.h"
#include "pidx/analysis/tokenizer.h"

namespace pidx::analysis {
namespace {

// The versions this code produces and reads. A snapshot built with another version would get
// different terms for the same product, so it is refused rather than reinterpreted.
constexpr int kOldestVersion = 1;

TokenizerOptions ToTokenizerOptions(const AnalyzerSettings& settings) {
  return TokenizerOptions{settings.cjk_bigrams, settings.max_token_bytes, settings.version >= 2};
}

bool FoldsAccents(const AnalyzerSettings& settings) {
  return settings.version >= 2 && settings.fold_accents;
}

// Folds `text` onto the end of *buffer and trims the ASCII whitespace it produced (folding
// first turns U+3000 and U+00A0 into spaces). Returns the start of the trimmed value; the
// buffer ends right after it. An empty value leaves the buffer as it was and returns npos.
size_t AppendFoldedTrimmed(std::string_view text, std::string* buffer) {
  constexpr std::string_view kSpace = " \t\n\v\f\r";
  const size_t base = buffer->size();
  AppendFolded(text, buffer);
  const size_t begin = buffer->find_first_not_of(kSpace, base);
  if (begin == std::string::npos) {
    buffer->resize(base);
    return std::string::npos;
  }
  buffer->resize(buffer->find_last_not_of(kSpace) + 1);
  buffer->erase(base, begin - base);
  return base;
}

// Builds "<field><separator><body>" as term number *used, reusing the string (and its
// buffer) a previous call left there: a worker analyzing product after product allocates
// only when a term is longer than any before it in that position.
void AddTerm(std::string_view field, char separator, std::string_view body,
             std::vector<std::string>* terms, size_t* used) {
  if (*used == terms->size()) terms->emplace_back();
  std::string& term = (*terms)[(*used)++];
  term.clear();
  term.reserve(field.size() + 1 + body.size());
  term.append(field).push_back(separator);
  term.append(body);
}

}  // namespace

AnalyzerSettings AnalyzerSettings::Version1() {
  AnalyzerSettings settings;
  settings.version = 1;
  settings.fold_accents = false;
  return settings;
}

nlohmann::json AnalyzerSettings::ToJson() const {
  nlohmann::json j{
      {"version", version}, {"cjk_bigrams", cjk_bigrams}, {"max_token_bytes", max_token_bytes}};
  if (version >= 2) j["fold_accents"] = fold_accents;
  return j;
}

Status AnalyzerSettings::CheckSchema(const catalog::Schema& schema) const {
  for (const auto& f : schema.fields()) {
    if (!f.stem.empty() && version < 2) {
      return Status::Config("field \"" + f.name + "\" asks for stemming (\"stem\": \"" + f.stem +
                            "\"), which analyzer version " + std::to_string(version) +
                            " does not do (version 2 does)");
    }
  }
  return Status::Ok();
}

Result<AnalyzerSettings> AnalyzerSettings::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::Config("analyzer settings: not a JSON object");
  const auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer()) {
    return Status::Config("analyzer settings: \"version\" must be an integer");
  }
  const int64_t number = version->get<int64_t>();
  if (number < kOldestVersion || number > kLatestVersion) {
    return Status::Config("analyzer settings: unsupported version " + version->dump() +
                          " (this pidx supports " + std::to_string(kOldestVersion) + " to " +
                          std::to_string(kLatestVersion) + ")");
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "version" && key != "cjk_bigrams" && key != "max_token_bytes" &&
        (key != "fold_accents" || number < 2)) {
      return Status::Config("analyzer settings: unknown key \"" + key + "\" for version " +
                            std::to_string(number));
    }
  }
  const auto cjk_bigrams = j.find("cjk_bigrams");
  if (cjk_bigrams == j.end() || !cjk_bigrams->is_boolean()) {
    return Status::Config("analyzer settings: \"cjk_bigrams\" must be true or false");
  }
  const auto max_token_bytes = j.find("max_token_bytes");
  if (max_token_bytes == j.end() || !max_token_bytes->is_number_unsigned() ||
      max_token_bytes->get<uint64_t>() == 0) {
    return Status::Config("analyzer settings: \"max_token_bytes\" must be a positive integer");
  }
  AnalyzerSettings settings;
  settings.version = static_cast<int>(number);
  settings.cjk_bigrams = cjk_bigrams->get<bool>();
  settings.max_token_bytes = max_token_bytes->get<size_t>();
  settings.fold_accents = false;
  if (number >= 2) {
    const auto fold_accents = j.find("fold_accents");
    if (fold_accents == j.end() || !fold_accents->is_boolean()) {
      return Status::Config("analyzer settings: \"fold_accents\" must be true or false");
    }
    settings.fold_accents = fold_accents->get<bool>();
  }
  return settings;
}

Analyzer::Analyzer(AnalyzerSettings settings) : settings_(settings) {}

std::string Analyzer::Fold(std::string_view text) const { return analysis::Fold(text); }

void Analyzer::Tokenize(std::string_view text, std::vector<std::string>* tokens) const {
  std::string folded;
  AppendFolded(text, FoldsAccents(settings_), &folded);
  std::string arena;
  std::vector<std::string_view> views;
  SplitFolded(folded, ToTokenizerOptions(settings_), &views, &arena);
  tokens->insert(tokens->end(), views.begin(), views.end());
}

void Analyzer::QueryTokens(std::string_view text, std::vector<std::string>* tokens) const {
  std::string folded;
  AppendFolded(text, FoldsAccents(settings_), &folded);
  SplitFoldedForQuery(folded, ToTokenizerOptions(settings_), tokens);
}

void Analyzer::StemFor(const catalog::FieldSpec& field, std::string* token) const {
  if (settings_.version >= 2 && !field.stem.empty()) Stem(field.stem, token);
}

void Analyzer::AnalyzeProduct(const catalog::Schema& schema, const catalog::Product& product,
                              std::vector<std::string>* terms) const {
  size_t used = 0;  // terms [0, used) are this product's; the rest are spare buffers
  const TokenizerOptions options = ToTokenizerOptions(settings_);
  const std::vector<catalog::FieldSpec>& fields = schema.fields();

  // Fields are visited in name order and each field's bodies are sorted and deduplicated on
  // their own, so the terms come out sorted without comparing the long, prefix-sharing terms
  // (that sort was the largest cost here). Names where one is a prefix of another ("a",
  // "a.b") can break the order; the check at the end catches that.
  std::vector<size_t> order(fields.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return fields[a].name < fields[b].name; });

  // Per thread, not per Analyzer, so concurrent calls share nothing; kept between calls so
  // that analyzing a product allocates nothing once the buffers have grown.
  thread_local std::string buffer;  // the folded values of one field
  thread_local std::vector<size_t> value_starts;
  thread_local std::vector<std::string_view> bodies;
  thread_local std::string arena;                 // catenated compounds of one field
  thread_local std::vector<std::string> stemmed;  // the stems of one field's tokens
  const bool fold_accents = FoldsAccents(settings_);

  for (const size_t i : order) {
    const catalog::FieldSpec& field = fields[i];
    static const std::vector<std::string> kNoValues;
    const std::vector<std::string>& values =
        i < product.fields.size() ? product.fields[i] : kNoValues;
    buffer.clear();
    value_starts.clear();
    bodies.clear();
    char separator = ':';
    switch (field.role) {
      case catalog::FieldRole::kCategory:
        value_starts.push_back(AppendFoldedTrimmed(product.category, &buffer));
        break;
      case catalog::FieldRole::kText:
        // A space between values is a token boundary and folds to itself.
        for (const std::string& text : values) {
          if (!buffer.empty()) buffer.push_back(' ');
          AppendFolded(text, fold_accents, &buffer);
        }
        SplitFolded(buffer, options, &bodies, &arena);
        if (settings_.version >= 2 && !field.stem.empty()) {
          stemmed.assign(bodies.begin(), bodies.end());
          for (std::string& token : stemmed) Stem(field.stem, &token);
          bodies.assign(stemmed.begin(), stemmed.end());
        }
        break;
      case catalog::FieldRole::kKeyword:
        for (const std::string& text : values) {
          value_starts.push_back(AppendFoldedTrimmed(text, &buffer));
        }
        break;
      case catalog::FieldRole::kAttrs:
        separator = '.';
        for (const std::string_view entry : values) {
          const size_t sep = entry.find(catalog::kAttrSeparator);
          if (sep == std::string_view::npos) continue;  // the readers always write one
          const size_t start = AppendFoldedTrimmed(entry.substr(0, sep), &buffer);
          if (start == std::string::npos) continue;
          buffer.push_back(':');
          if (AppendFoldedTrimmed(entry.substr(sep + 1), &buffer) == std::string::npos) {
            buffer.resize(start);
            continue;
          }
          value_starts.push_back(start);
        }
        break;
      case catalog::FieldRole::kId:
      case catalog::FieldRole::kNumber:
        break;
    }
    // Each value ends where the next begins: values are appended back to back.
    value_starts.erase(std::remove(value_starts.begin(), value_starts.end(), std::string::npos),
                       value_starts.end());
    for (size_t v = 0; v < value_starts.size(); ++v) {
      const size_t end = v + 1 < value_starts.size() ? value_starts[v + 1] : buffer.size();
      bodies.emplace_back(buffer.data() + value_starts[v], end - value_starts[v]);
    }
    std::sort(bodies.begin(), bodies.end());
    bodies.erase(std::unique(bodies.begin(), bodies.end()), bodies.end());
    for (const std::string_view body : bodies) AddTerm(field.name, separator, body, terms, &used);
  }
  terms->resize(used);  // frees only the strings past this product's count

  if (!std::is_sorted(terms->begin(), terms->end())) std::sort(terms->begin(), terms->end());
  terms->erase(std::unique(terms->begin(), terms->end()), terms->end());
}

}  // namespace pidx::analysis
