// pidx recall --index DIR --queries FILE [--version V] [--min R]
// The recall gate: exit 1 when overall recall is below --min, or when a shard of the version
// could not be read (a damaged index must not pass a gate just because its queries were lucky).
#include <fmt/format.h>

#include "command_metrics.h"
#include "command_table.h"
#include "output.h"
#include "pidx/obs/log.h"
#include "pidx/ops/values.h"
#include "pidx/query/recall.h"

namespace pidx::cli {
namespace {

struct RecallFlags {
  std::string index;
  uint64_t version = 0;  // 0: the current one
  std::string queries;
  double min = 0.0;
  std::string metrics_file;
};

Status RunRecall(const RecallFlags& f, const GlobalOptions& g, CommandMetrics* metrics) {
  PIDX_RETURN_IF_ERROR(Require(f.index, "index"));
  PIDX_RETURN_IF_ERROR(Require(f.queries, "queries"));
  if (!(f.min >= 0.0 && f.min <= 1.0)) {
    return g.BadValue("min", fmt::format("must be between 0 and 1, not {}", f.min));
  }
  RecallOptions o;
  o.index_dir = f.index;
  o.queries_file = f.queries;
  o.version = f.version;
  PIDX_ASSIGN_OR_RETURN(RecallResult r, Recall(o, Env::Default()));
  const std::string vname = VersionName(r.version);
  const bool below = r.recall < f.min;
  const bool pass = !below && r.unavailable.empty();
  metrics->SetRecall(r.recall, f.min);

  for (const auto& u : r.unavailable) {
    Log::Error("index.query.shard_unavailable", "a shard could not be searched: " + u,
               {{"version", vname}, {"shard", u.substr(0, u.find(':'))}, {"error", u}});
  }
  g.Completed(fmt::format("recall {:.4f} over {} queries{}", r.recall, r.queries.size(),
                          below ? fmt::format(" is below --min {}", f.min) : ""),
              {{"version", vname},
               {"recall", r.recall},
               {"mean_query_recall", r.mean_query_recall},
               {"min", f.min},
               {"queries", r.queries.size()},
               {"expected", r.expected},
               {"found", r.found},
               {"unavailable_shards", r.unavailable.size()},
               {"duration_ms", r.duration_ms}},
              pass ? LogLevel::kInfo : LogLevel::kError);

  if (g.json) {
    nlohmann::ordered_json j;
    j["command"] = "recall";
    j["version"] = vname;
    j["ok"] = pass;
    j["recall"] = r.recall;
    j["mean_query_recall"] = r.mean_query_recall;
    j["min"] = f.min;
    j["expected_count"] = r.expected;
    j["found_count"] = r.found;
    j["unavailable_shards"] = r.unavailable;
    j["duration_ms"] = r.duration_ms;
    j["queries"] = nlohmann::ordered_json::array();
    for (const auto& q : r.queries) {
      j["queries"].push_back({{"line", q.line},
                              {"query", q.query},
                              {"recall", q.recall},
                              {"expected_count", q.expected},
                              {"found_count", q.found},
                              {"matches", q.matches},
                              {"missing_count", q.expected - q.found},
                              {"missing", q.missing}});
    }
    PrintJson(j);
  } else {
    Table t({"recall", "found", "expected", "matches", "query"});
    for (const auto& q : r.queries) {
      t.AddRow({fmt::format("{:.3f}", q.recall), std::to_string(q.found),
                std::to_string(q.expected), std::to_string(q.matches), q.query});
    }
    std::string out = t.Render();
    // The ids a person goes looking for: per query, the first of them and how many there are.
    constexpr size_t kQueriesListed = 20;
    size_t with_missing = 0;
    for (const auto& q : r.queries) {
      if (q.found >= q.expected) continue;
      if (++with_missing > kQueriesListed) continue;
      if (with_missing == 1) out += "\nmissing products (expected, not found):\n";
      std::string ids;
      for (const auto& id : q.missing) ids += (ids.empty() ? "" : ", ") + id;
      const uint64_t missing = q.expected - q.found;
      out += fmt::format(
          "  line {}: {} of {} missing: {}{}  ({})\n", q.line, missing, q.expected, ids,
          missing > q.missing.size() ? fmt::format(" and {} more", missing - q.missing.size()) : "",
          q.query);
    }
    if (with_missing > kQueriesListed) {
      out += fmt::format("  ... and {} more queries with missing products (--json lists them)\n",
                         with_missing - kQueriesListed);
    }
    out += fmt::format(
        "\n{}: recall {:.4f} ({} of {} expected products found, {} queries, "
        "mean per query {:.4f}) in {}\n",
        pass ? "OK" : "FAILED", r.recall, r.found, r.expected, r.queries.size(),
        r.mean_query_recall, vname);
    if (below) out += fmt::format("recall is below --min {}\n", f.min);
    for (const auto& u : r.unavailable) out += "unavailable shard: " + u + "\n";
    PrintText(out);
  }
  if (below) return Status::Findings(fmt::format("recall {:.4f} is below {}", r.recall, f.min));
  if (!r.unavailable.empty()) {
    return Status::Findings(fmt::format("{} shards could not be searched", r.unavailable.size()));
  }
  return Status::Ok();
}

}  // namespace

CommandRun SetupRecall(CLI::App* app, GlobalOptions* global) {
  auto f = std::make_shared<RecallFlags>();
  AddIndexOption(app, &f->index);
  app->add_option("--queries", f->queries,
                  "Query set: JSONL of {\"query\": ..., \"expected\": [ids]}")
      ->type_name("FILE");
  AddVersionOption(app, &f->version, "measure");
  AddFractionOption(app, "min", &f->min, 0, 1, "Exit 1 when overall recall is below this (0 to 1)");
  AddMetricsFileOption(app, &f->metrics_file);
  return [f, global] {
    CommandMetrics metrics("recall");
    Status s = RunRecall(*f, *global, &metrics);
    return metrics.Finish(f->metrics_file, f->index, std::move(s));
  };
}

}  // namespace pidx::cli
