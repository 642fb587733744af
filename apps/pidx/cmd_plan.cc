// pidx plan --catalog FILE... --index DIR --workers W --out plan.json
#include <algorithm>

#include <fmt/format.h>

#include "command_metrics.h"
#include "command_table.h"
#include "output.h"
#include "pidx/scaleout/plan.h"
#include "progress_view.h"

namespace pidx::cli {
namespace {

struct PlanFlags {
  std::string index;
  std::vector<std::string> catalogs;
  CatalogReadFlags read;
  std::string schema;
  AnalyzerFlags analyzer;
  ShardCountFlags shard_counts;
  uint32_t workers = 0;
  std::string out;
  int threads = 0;
};

Status RunPlan(const PlanFlags& f, const GlobalOptions& g) {
  PIDX_RETURN_IF_ERROR(Require(f.index, "index"));
  if (f.catalogs.empty()) return Status::Usage("missing --catalog (or PIDX_CATALOG)");
  if (f.workers == 0) return Status::Usage("missing --workers W (1 or more)");
  PIDX_RETURN_IF_ERROR(Require(f.out, "out"));
  PlanOptions o;
  o.catalogs = f.catalogs;
  o.index_dir = f.index;
  o.catalog_format = f.read.format;
  o.schema_file = f.schema;
  PIDX_RETURN_IF_ERROR(ApplyAnalyzerFlags(f.analyzer, g, &o.analyzer));
  o.shards_per_category = f.shard_counts.shards();
  o.target_shard_docs = f.shard_counts.target();
  o.max_bad_lines = f.read.max_bad_lines;
  o.max_line_bytes = f.read.max_line_bytes;
  o.workers = f.workers;
  o.threads = f.threads;
  o.out_path = f.out;
  ProgressView progress(g, "planning");
  o.progress = progress.options();
  auto made = MakePlan(o, Env::Default());
  progress.Close();
  if (!made.ok()) return WithBadRecordHint(made.status(), f.read, f.catalogs, g);
  MadePlan m = std::move(made).value();
  const Plan& p = m.plan;
  const std::vector<uint64_t> docs = p.WorkerDocs();
  g.Completed("plan written to " + f.out,
              {{"plan", f.out},
               {"workers", p.workers},
               {"shards", p.shards.size()},
               {"products", p.products},
               {"worker_docs", docs},
               {"max_worker_docs", *std::max_element(docs.begin(), docs.end())},
               {"duration_ms", m.duration_ms}});
  if (g.json) {
    nlohmann::json workers = nlohmann::json::array();
    for (uint32_t w = 0; w < p.workers; ++w) {
      workers.push_back({{"worker", w},
                         {"docs", docs[w]},
                         {"shard_count", p.ShardsOf(w).size()},
                         {"shards", ShardListJson(p.ShardsOf(w))}});
    }
    PrintJson({{"command", "plan"},
               {"plan", f.out},
               {"workers", p.workers},
               {"shard_count", p.shards.size()},
               {"products", p.products},
               {"bad_lines_skipped", p.bad_lines_skipped},
               {"assignments", workers}});
  } else {
    std::string out = fmt::format("plan {}: {} shards, {} products, {} workers\n", f.out,
                                  p.shards.size(), p.products, p.workers);
    for (uint32_t w = 0; w < p.workers; ++w) {
      out +=
          fmt::format("  worker {:>3}  shards {:>4}  docs {}\n", w, p.ShardsOf(w).size(), docs[w]);
    }
    PrintText(out);
  }
  return Status::Ok();
}

}  // namespace

CommandRun SetupPlan(CLI::App* app, GlobalOptions* global) {
  auto f = std::make_shared<PlanFlags>();
  AddIndexOption(app, &f->index);
  AddCatalogOption(app, &f->catalogs);
  AddCountOption(app, "workers", &f->workers, 1, kMaxWorkers,
                 "Number of workers (tasks of the job array)");
  app->add_option("--out", f->out, "Where to write the plan")->type_name("FILE");
  AddCatalogReadOptions(app, &f->read);
  app->add_option("--schema", f->schema, "Schema file (JSON) renaming fields or changing roles")
      ->type_name("FILE");
  AddAnalyzerOptions(app, &f->analyzer);
  AddShardCountOptions(app, &f->shard_counts);
  AddThreadsOption(app, &f->threads);
  return [f, global] { return RunPlan(*f, *global); };
}

}  // namespace pidx::cli
