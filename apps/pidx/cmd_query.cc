// pidx query --index DIR [--version V] [--limit N] [--count] QUERY...
// The language is in docs/QUERY.md; results are ordered by external id.
#include <fmt/format.h>

#include "command_table.h"
#include "output.h"
#include "pidx/ops/values.h"
#include "pidx/query/engine.h"

namespace pidx::cli {
namespace {

struct QueryFlags {
  std::string index;
  uint64_t version = 0;  // 0: the current one
  std::vector<std::string> words;
  size_t limit = 10;
  bool count = false;
};

Status RunQuery(const QueryFlags& f, GlobalOptions* g) {
  PIDX_RETURN_IF_ERROR(Require(f.index, "index"));
  // Several arguments form one query, so `pidx query wireless charger` needs no quotes.
  std::string text;
  for (const auto& w : f.words) text += (text.empty() ? "" : " ") + w;

  SearchOptions options;
  options.limit = f.count ? 0 : f.limit;
  size_t column = 0;
  auto run = pidx::RunQuery(Env::Default(), f.index, f.version, text, options, &column);
  if (!run.ok()) {
    if (run.status().kind() == StatusKind::kUsage) {
      g->failure_fields["query"] = text;
      if (column > 0) g->failure_fields["column"] = column;
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
    j["shards"] = r.shards_total;
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
  AddCountOption(app, "limit", &f->limit, 0, kMaxLimit,
                 "Products to list, by external id (default 10)");
  app->add_flag("--count", f->count, "Print only the number of matching products");
  app->add_option("query", f->words, "The query (docs/QUERY.md); quote it, or put -- before it")
      ->required();
  return [f, global] { return RunQuery(*f, global); };
}

}  // namespace pidx::cli
