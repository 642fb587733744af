// pidx build --catalog FILE... --index DIR
// pidx build --plan plan.json [--worker I] --stage DIR   (one worker of a scale-out build)
#include <fmt/format.h>

#include "command_metrics.h"
#include "command_table.h"
#include "output.h"
#include "pidx/obs/log.h"
#include "pidx/ops/build.h"
#include "pidx/ops/values.h"
#include "pidx/scaleout/worker.h"
#include "progress_view.h"

namespace pidx::cli {
namespace {

struct BuildFlags {
  std::string index;
  std::vector<std::string> catalogs;
  CatalogReadFlags read;
  std::string schema;
  AnalyzerFlags analyzer;
  ShardCountFlags shard_counts;
  std::string lock_timeout = "5s";
  ShrinkGuardFlags guard;
  int threads = 0;
  std::string memory_budget = "0";
  std::string metrics_file;
  bool force = false;
  std::string plan;
  std::string stage;
  int64_t worker = -1;
};

// A worker of a scale-out build: every setting comes from the plan.
Status RunStage(const BuildFlags& f, const GlobalOptions& g) {
  PIDX_RETURN_IF_ERROR(Require(f.stage, "stage"));
  if (!f.catalogs.empty() && !g.from_env.count("catalog")) {
    return Status::Usage("--catalog cannot be combined with --plan: the plan names the catalog");
  }
  if (!f.schema.empty() && !g.from_env.count("schema")) {
    return Status::Usage("--schema cannot be combined with --plan: the plan carries the schema");
  }
  if ((f.analyzer.version != 0 && !g.from_env.count("analyzer-version")) ||
      (f.analyzer.no_accent_folding && !g.from_env.count("no-accent-folding"))) {
    return Status::Usage(
        "--analyzer-version and --no-accent-folding cannot be combined with --plan: the plan "
        "carries the analyzer");
  }
  StageOptions o;
  o.plan_path = f.plan;
  o.stage_dir = f.stage;
  o.worker = f.worker;
  o.threads = f.threads;
  ProgressView progress(g, "staging",
                        f.worker >= 0 ? LogFields{{"worker", f.worker}} : LogFields());
  o.progress = progress.options();
  auto staged = BuildStage(o, Env::Default());
  progress.Close();
  PIDX_ASSIGN_OR_RETURN(StageResult r, std::move(staged));
  g.Completed(fmt::format("worker {} of {} staged {} shards", r.worker, r.workers, r.shards.size()),
              {{"worker", r.worker},
               {"workers", r.workers},
               {"shards", r.shards.size()},
               {"docs", r.docs},
               {"bytes", r.bytes},
               {"segments_written", r.segments_written},
               {"fragment", r.fragment},
               {"duration_ms", r.duration_ms}},
              LogLevel::kInfo, "index.stage.completed");
  if (g.json) {
    PrintJson({{"command", "build"},
               {"mode", "stage"},
               {"worker", r.worker},
               {"workers", r.workers},
               {"worker_source", r.worker_source},
               {"shard_count", r.shards.size()},
               {"shards", ShardListJson(r.shards)},
               {"docs", r.docs},
               {"bytes", r.bytes},
               {"segments_written", r.segments_written},
               {"fragment", r.fragment},
               {"duration_ms", r.duration_ms}});
  } else {
    std::string out =
        fmt::format("staged worker {} of {} in {}\n  shards {}  docs {}  size {}  took {:.2f}s\n",
                    r.worker, r.workers, f.stage, r.shards.size(), r.docs, HumanBytes(r.bytes),
                    static_cast<double>(r.duration_ms) / 1000);
    PrintText(out);
  }
  return Status::Ok();
}

Status RunBuild(const BuildFlags& f, const GlobalOptions& g, CommandMetrics* metrics) {
  if (!f.plan.empty()) return RunStage(f, g);
  if (!f.stage.empty()) return Status::Usage("--stage needs --plan (a worker builds from a plan)");
  PIDX_RETURN_IF_ERROR(Require(f.index, "index"));
  if (f.catalogs.empty()) return Status::Usage("missing --catalog (or PIDX_CATALOG)");
  BuildOptions o;
  o.catalogs = f.catalogs;
  o.index_dir = f.index;
  PIDX_ASSIGN_OR_RETURN(o.format, ParseFormat(f.read, g));
  o.schema_file = f.schema;
  PIDX_RETURN_IF_ERROR(ApplyAnalyzerFlags(f.analyzer, g, &o.analyzer));
  o.shards_per_category = f.shard_counts.shards();
  o.target_shard_docs = f.shard_counts.target();
  o.max_bad_lines = f.read.max_bad_lines;
  o.max_line_bytes = f.read.max_line_bytes;
  PIDX_ASSIGN_OR_RETURN(o.lock_timeout_ms, ParseLockTimeout(f.lock_timeout, g));
  metrics->SetLockTimeout(o.lock_timeout_ms);
  PIDX_RETURN_IF_ERROR(CheckShrinkGuard(f.guard, g));
  o.max_shrink = f.guard.max_shrink;
  o.allow_shrink = f.guard.allow_shrink;
  o.force = f.force;
  o.threads = f.threads;
  PIDX_ASSIGN_OR_RETURN(o.memory_budget, ParseMemoryBudget(f.memory_budget, g));
  ProgressView progress(g, "reading");
  o.progress = progress.options();
  auto built = Build(o, Env::Default());
  progress.Close();
  if (!built.ok()) return WithBadRecordHint(built.status(), f.read, f.catalogs, g);
  BuildResult r = std::move(built).value();
  metrics->SetLockWait(r.lock_wait_ms);
  for (const auto& s : r.shard_sizes) metrics->AddShard(s.shard, s.docs, s.bytes);
  metrics->SetPublished(true);
  const std::string version = VersionName(r.version);
  g.Completed(r.unchanged ? "unchanged: the current version " + version + " has this content"
                          : "published " + version,
              {{"version", version},
               {"parent", r.parent ? VersionName(r.parent) : ""},
               {"unchanged", r.unchanged},
               {"shards", r.totals.shards},
               {"docs", r.totals.docs},
               {"terms", r.totals.terms},
               {"bytes", r.totals.bytes},
               {"bad_lines_skipped", r.bad_records},
               {"duration_ms", r.duration_ms}});
  const Throughput t = ThroughputOf(r.totals.docs, r.catalog_bytes, r.duration_ms);
  if (g.json) {
    PrintJson({{"command", "build"},
               {"version", version},
               {"parent", VersionOrNull(r.parent)},
               {"unchanged", r.unchanged},
               {"shard_count", r.totals.shards},
               {"docs", r.totals.docs},
               {"terms", r.totals.terms},
               {"postings", r.totals.postings},
               {"bytes", r.totals.bytes},
               {"segments_written", r.segments_written},
               {"bad_lines_skipped", r.bad_records},
               {"duration_ms", r.duration_ms},
               {"catalog_bytes", r.catalog_bytes},
               {"products_per_second", t.products_per_second},
               {"catalog_mb_per_second", t.mb_per_second},
               {"phases_ms", PhasesJson(r.phases, r.duration_ms)}});
  } else {
    std::string out = r.unchanged ? fmt::format(
                                        "unchanged: {} in {} already has this content "
                                        "(nothing published; --force publishes anyway)\n",
                                        version, f.index)
                                  : fmt::format("published {} in {}\n", version, f.index);
    out +=
        fmt::format("  shards {}  docs {}  terms {}  postings {}  size {}\n", r.totals.shards,
                    r.totals.docs, r.totals.terms, r.totals.postings, HumanBytes(r.totals.bytes));
    out +=
        fmt::format("  new segments {}  bad lines skipped {}\n", r.segments_written, r.bad_records);
    out += TimingText(r.duration_ms, r.totals.docs, r.catalog_bytes, r.phases);
    PrintText(out);
  }
  return Status::Ok();
}

}  // namespace

CommandRun SetupBuild(CLI::App* app, GlobalOptions* global) {
  auto f = std::make_shared<BuildFlags>();
  AddIndexOption(app, &f->index);
  AddCatalogOption(app, &f->catalogs);
  AddLockTimeoutOption(app, &f->lock_timeout);
  AddCatalogReadOptions(app, &f->read);
  app->add_option("--schema", f->schema, "Schema file (JSON) renaming fields or changing roles")
      ->type_name("FILE");
  AddAnalyzerOptions(app, &f->analyzer);
  AddShardCountOptions(app, &f->shard_counts);
  AddShrinkGuardOptions(app, &f->guard);
  AddThreadsOption(app, &f->threads);
  AddMemoryBudgetOption(app, &f->memory_budget);
  AddMetricsFileOption(app, &f->metrics_file);
  app->add_flag("--force", f->force,
                "Publish a new version even when it equals the current one (default: report "
                "'unchanged' and publish nothing)");
  app->add_option("--plan", f->plan, "Build one worker's shards of this plan (pidx plan)")
      ->type_name("FILE");
  AddCountOption(app, "worker", &f->worker, 0, kMaxWorkers - 1,
                 "Worker index (default: SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or "
                 "AWS_BATCH_JOB_ARRAY_INDEX)");
  app->add_option("--stage", f->stage, "Staging directory for the worker's segments (with --plan)")
      ->type_name("DIR");
  return [f, global] {
    CommandMetrics metrics("build");
    Status s = RunBuild(*f, *global, &metrics);
    return metrics.Finish(f->metrics_file, f->index, std::move(s));
  };
}

}  // namespace pidx::cli
