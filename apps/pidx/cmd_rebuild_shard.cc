// pidx rebuild-shard SHARD --catalog FILE... --index DIR [--lock-timeout DUR]
#include <fmt/format.h>

#include "command_metrics.h"
#include "command_table.h"
#include "output.h"
#include "pidx/ops/rebuild.h"
#include "pidx/ops/values.h"
#include "progress_view.h"

namespace pidx::cli {
namespace {

struct RebuildFlags {
  std::string shard;
  std::string index;
  std::vector<std::string> catalogs;
  CatalogReadFlags read;
  ShrinkGuardFlags guard;
  std::string lock_timeout = "5s";
  int threads = 0;
  std::string memory_budget = "0";
  std::string metrics_file;
  bool force = false;
};

Status RunRebuild(const RebuildFlags& f, GlobalOptions& g, CommandMetrics* metrics) {
  g.failure_fields["shard"] = f.shard;
  if (f.shard.empty()) return Status::Usage("missing SHARD (e.g. electronics_007)");
  PIDX_RETURN_IF_ERROR(Require(f.index, "index"));
  if (f.catalogs.empty()) return Status::Usage("missing --catalog (or PIDX_CATALOG)");
  RebuildOptions o;
  o.shard = f.shard;
  o.index_dir = f.index;
  o.catalogs = f.catalogs;
  PIDX_ASSIGN_OR_RETURN(o.format, ParseFormat(f.read, g));
  o.max_bad_lines = f.read.max_bad_lines;
  o.max_line_bytes = f.read.max_line_bytes;
  PIDX_ASSIGN_OR_RETURN(o.lock_timeout_ms, ParseLockTimeout(f.lock_timeout, g));
  metrics->SetLockTimeout(o.lock_timeout_ms);
  o.threads = f.threads;
  PIDX_ASSIGN_OR_RETURN(o.memory_budget, ParseMemoryBudget(f.memory_budget, g));
  PIDX_RETURN_IF_ERROR(CheckShrinkGuard(f.guard, g));
  o.max_shrink = f.guard.max_shrink;
  o.allow_shrink = f.guard.allow_shrink;
  o.force = f.force;

  ProgressView progress(g, "reading", {{"shard", f.shard}});
  o.progress = progress.options();
  auto rebuilt = RebuildShard(o, Env::Default());
  progress.Close();
  if (!rebuilt.ok()) return WithBadRecordHint(rebuilt.status(), f.read, f.catalogs, g);
  RebuildResult r = std::move(rebuilt).value();
  metrics->SetLockWait(r.lock_wait_ms);
  metrics->AddShard(r.shard, r.docs, r.bytes);  // 0 and 0 when the shard was removed
  metrics->SetPublished(false);
  const std::string version = VersionName(r.version);
  g.Completed(r.unchanged
                  ? r.shard + " unchanged: the current version " + version + " has this content"
                  : r.shard + " " + r.action + " in " + version,
              {{"shard", r.shard},
               {"action", r.action},
               {"unchanged", r.unchanged},
               {"docs", r.docs},
               {"version", version},
               {"parent", VersionName(r.parent)},
               {"segment_unchanged", r.segment_unchanged},
               {"duration_ms", r.duration_ms}});
  if (g.json) {
    PrintJson({{"command", "rebuild-shard"},
               {"shard", r.shard},
               {"action", r.action},
               {"version", version},
               {"parent", VersionOrNull(r.parent)},
               {"unchanged", r.unchanged},
               {"docs", r.docs},
               {"terms", r.terms},
               {"bytes", r.bytes},
               {"segment", r.segment},
               {"segment_unchanged", r.segment_unchanged},
               {"bad_lines_skipped", r.bad_records},
               {"duration_ms", r.duration_ms},
               {"phases_ms", PhasesJson(r.phases, r.duration_ms)}});
  } else {
    std::string out = r.unchanged
                          ? fmt::format(
                                "{} unchanged: {} already has this content (nothing published; "
                                "--force publishes anyway)\n",
                                r.shard, version)
                          : fmt::format("{} {}: published {} (parent {})\n", r.shard, r.action,
                                        version, r.parent ? VersionName(r.parent) : "none");
    if (r.action != "removed") {
      out += fmt::format("  docs {}  terms {}  size {}{}\n", r.docs, r.terms, HumanBytes(r.bytes),
                         r.segment_unchanged && !r.unchanged ? "  (segment unchanged)" : "");
    }
    out += fmt::format("  took {:.2f}s: read+analyze {:.2f}s, shard {:.2f}s, publish {:.2f}s\n",
                       static_cast<double>(r.duration_ms) / 1000,
                       static_cast<double>(r.phases.read_ms) / 1000,
                       static_cast<double>(r.phases.shards_ms) / 1000,
                       static_cast<double>(r.phases.publish_ms) / 1000);
    PrintText(out);
  }
  return Status::Ok();
}

}  // namespace

CommandRun SetupRebuildShard(CLI::App* app, GlobalOptions* global) {
  auto f = std::make_shared<RebuildFlags>();
  app->add_option("shard", f->shard, "The shard to rebuild, e.g. electronics_007")
      ->type_name("SHARD");
  AddIndexOption(app, &f->index);
  AddCatalogOption(app, &f->catalogs);
  AddLockTimeoutOption(app, &f->lock_timeout);
  AddCatalogReadOptions(app, &f->read);
  AddShrinkGuardOptions(app, &f->guard);
  AddThreadsOption(app, &f->threads);
  AddMemoryBudgetOption(app, &f->memory_budget);
  AddMetricsFileOption(app, &f->metrics_file);
  app->add_flag("--force", f->force,
                "Publish a new version even when it equals the current one (default: report "
                "'unchanged' and publish nothing)");
  return [f, global] {
    CommandMetrics metrics("rebuild-shard");
    Status s = RunRebuild(*f, *global, &metrics);
    return metrics.Finish(f->metrics_file, f->index, std::move(s));
  };
}

}  // namespace pidx::cli
