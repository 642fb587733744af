// pidx query --index DIR [--version V] [--limit N] [--count] QUERY...
// The language is in docs/QUERY.md (and, in brief, in kQueryLanguageHelp below, which
// `pidx query --help` and the man page print); results are ordered by external id.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command_table.h"
#include "output.h"
#include "pidx/ops/values.h"
#include "pidx/query/engine.h"

namespace pidx::cli {

const char* const kQueryLanguageHelp =
    R"(Query language (docs/QUERY.md has it all):
  word                every token of the word, in any text field
  "some words"        every token of the quoted text (no phrases, no positions)
  title:word          a token in that text field only
  brand:"Apple Inc."  a keyword field: its whole value is one term, folded
  category:books      the category; also searches only that category's shards
  attrs.color:red     one attribute, key and value folded
  a b, a AND b        both
  a OR b              either; looser than AND: a b OR c is (a b) OR c
  -a                  not a (the - touches the term); only negations: all
                      products without them
  ( ... )             grouping, up to 64 levels
OR and AND are operators only in capitals. A query goes through the catalog's
own analyzer (NFKC case folding, CJK runs as bigrams). Quote it for the shell,
or put -- before it when it starts with -; several arguments are joined with
spaces. Results: the total, and the first --limit products by external id
(byte order). A syntax error exits 64 naming the column:
"query syntax error at column 5: ...".
)";

namespace {

struct QueryFlags {
  std::string index;
  uint64_t version = 0;  // 0: the current one
  std::vector<std::string> words;
  size_t limit = 10;
  size_t max_prefix_terms = kDefaultMaxPrefixTerms;
  bool count = false;
};

constexpr const char* kPhraseNote = "not supported: matched as all words";

// Says what the query meant beyond its answer: words the analyzer dropped, a phrase matched as
// all its words, categories and terms the version does not have (docs/QUERY.md "Hints").
void LogNotes(const std::string& text, const QueryNotes& notes, const QueryResult& r) {
  if (!notes.dropped_words.empty()) {
    Log::Warn("index.query.words_dropped",
              fmt::format("words with no letter or digit restrict nothing: {}",
                          fmt::join(notes.dropped_words, " ")),
              {{"query", text}, {"words", notes.dropped_words}});
  }
  if (notes.phrase) {
    Log::Info("index.query.phrase_as_words",
              "a quoted phrase is matched as all its words (there are no positions)",
              {{"query", text}});
  }
  for (const auto& h : r.hints) {
    const bool category = h.kind == QueryHint::Kind::kCategory;
    const std::string closest = h.closest.empty()
                                    ? "none close"
                                    : "closest: " + fmt::format("{}", fmt::join(h.closest, ", "));
    Log::Warn(
        category ? "index.query.no_such_category" : "index.query.no_such_term",
        fmt::format("no {} \"{}\" in this version ({})", category ? "category" : "term", h.asked,
                    closest),
        {{"query", text}, {category ? "category" : "term", h.asked}, {"suggestions", h.closest}});
  }
}

Status RunQuery(const QueryFlags& f, GlobalOptions* g) {
  PIDX_RETURN_IF_ERROR(Require(f.index, "index"));
  // Several arguments form one query, so `pidx query wireless charger` needs no quotes.
  std::string text;
  for (const auto& w : f.words) text += (text.empty() ? "" : " ") + w;

  SearchOptions options;
  options.limit = f.count ? 0 : f.limit;
  options.max_prefix_terms = f.max_prefix_terms;
  QueryRunNotes run_notes;
  auto run = pidx::RunQuery(Env::Default(), f.index, f.version, text, options, &run_notes);
  if (!run.ok()) {
    if (run.status().kind() == StatusKind::kUsage) {
      g->failure_fields["query"] = text;
      if (run_notes.syntax_error) {
        if (run_notes.column > 0) g->failure_fields["column"] = run_notes.column;
      } else {  // a prefix past the cap
        g->failure_fields["max_prefix_terms"] = f.max_prefix_terms;
      }
    }
    return run.status();
  }
  const QueryResult& r = run->result;
  const std::string vname = VersionName(run->version);
  g->Completed(fmt::format("{} matches", r.total), {{"version", vname},
                                                    {"query", text},
                                                    {"total", r.total},
                                                    {"shards_searched", r.shards_searched},
                                                    {"shards", r.shards_total},
                                                    {"duration_ms", run->duration_ms}});
  const QueryNotes& notes = run_notes.query;
  LogNotes(text, notes, r);

  if (g->json) {
    nlohmann::ordered_json j;
    j["command"] = "query";
    j["version"] = vname;
    j["query"] = text;
    j["parsed"] = run->parsed;
    j["total"] = r.total;
    j["limit"] = options.limit;
    j["order"] = "external_id";
    j["shards_searched"] = r.shards_searched;
    j["shard_count"] = r.shards_total;
    if (notes.phrase) j["phrase"] = kPhraseNote;
    if (!notes.dropped_words.empty()) j["dropped_words"] = notes.dropped_words;
    if (!r.hints.empty()) {
      j["suggestions"] = nlohmann::ordered_json::array();
      for (const auto& h : r.hints) {
        nlohmann::ordered_json e;
        e[h.kind == QueryHint::Kind::kCategory ? "category" : "term"] = h.asked;
        e["closest"] = h.closest;
        j["suggestions"].push_back(std::move(e));
      }
    }
    j["hits"] = nlohmann::ordered_json::array();
    for (const auto& h : r.hits) {
      j["hits"].push_back({{"id", h.id}, {"title", h.title}, {"shard", h.shard}});
    }
    PrintJson(j);
    return Status::Ok();
  }
  if (f.count) {
    PrintText(fmt::format("{}\n", r.total));
    return Status::Ok();
  }
  std::string out = fmt::format("{} matching products in {} ({} of {} shards searched)\n", r.total,
                                vname, r.shards_searched, r.shards_total);
  if (!r.hits.empty()) {
    Table t({"id", "title"});
    for (const auto& h : r.hits) t.AddRow({h.id, h.title});
    out += "\n" + t.Render();
    if (r.total > r.hits.size()) {
      out += fmt::format("({} more; --limit N shows more)\n", r.total - r.hits.size());
    }
  }
  PrintText(out);
  return Status::Ok();
}

}  // namespace

CommandRun SetupQuery(CLI::App* app, GlobalOptions* global) {
  auto f = std::make_shared<QueryFlags>();
  AddIndexOption(app, &f->index);
  AddVersionOption(app, &f->version, "search");
  AddCountOption(app, "limit", &f->limit, 0, kMaxLimit, "Products to list, by external id");
  app->add_flag("--count", f->count, "Print only the number of matching products");
  AddCountOption(app, "max-prefix-terms", &f->max_prefix_terms, 1, kMaxLimit,
                 "Most terms one prefix (pyth*) may expand to in a shard (default 1000)");
  app->add_option("query", f->words,
                  "The query (the language is below); quote it, or put -- before it")
      ->required();
  return [f, global] { return RunQuery(*f, global); };
}

}  // namespace pidx::cli
