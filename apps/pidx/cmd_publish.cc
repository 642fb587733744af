// pidx publish --index DIR --stage DIR --plan plan.json
#include <fmt/format.h>

#include "command_metrics.h"
#include "command_table.h"
#include "output.h"
#include "pidx/ops/values.h"
#include "pidx/scaleout/stage_publish.h"

namespace pidx::cli {
namespace {

struct PublishFlags {
  std::string index;
  std::string stage;
  std::string plan;
  std::string lock_timeout = "5s";
  ShrinkGuardFlags guard;
  std::string metrics_file;
};

Status RunPublish(const PublishFlags& f, const GlobalOptions& g, CommandMetrics* metrics) {
  PIDX_RETURN_IF_ERROR(Require(f.index, "index"));
  PIDX_RETURN_IF_ERROR(Require(f.stage, "stage"));
  PIDX_RETURN_IF_ERROR(Require(f.plan, "plan"));
  PublishStageOptions o;
  o.index_dir = f.index;
  o.stage_dir = f.stage;
  o.plan_path = f.plan;
  PIDX_ASSIGN_OR_RETURN(o.lock_timeout_ms, ParseLockTimeout(f.lock_timeout, g));
  metrics->SetLockTimeout(o.lock_timeout_ms);
  PIDX_RETURN_IF_ERROR(CheckShrinkGuard(f.guard, g));
  o.max_shrink = f.guard.max_shrink;
  o.allow_shrink = f.guard.allow_shrink;

  PIDX_ASSIGN_OR_RETURN(PublishStageResult r, PublishStage(o, Env::Default()));
  metrics->SetLockWait(r.lock_wait_ms);
  const std::string version = VersionName(r.version);
  g.Completed(r.unchanged ? "the current version " + version +
                                " already has this content; nothing published"
                          : "published " + version,
              {{"version", version},
               {"parent", r.parent ? VersionName(r.parent) : ""},
               {"unchanged", r.unchanged},
               {"workers", r.workers},
               {"shards", r.totals.shards},
               {"docs", r.totals.docs},
               {"bytes", r.totals.bytes},
               {"segments_copied", r.segments_copied},
               {"duration_ms", r.duration_ms}});
  if (g.json) {
    PrintJson({{"command", "publish"},
               {"version", version},
               {"parent", VersionOrNull(r.parent)},
               {"unchanged", r.unchanged},
               {"workers", r.workers},
               {"shard_count", r.totals.shards},
               {"docs", r.totals.docs},
               {"terms", r.totals.terms},
               {"postings", r.totals.postings},
               {"bytes", r.totals.bytes},
               {"segments_copied", r.segments_copied},
               {"duration_ms", r.duration_ms}});
  } else {
    std::string out = r.unchanged ? fmt::format("unchanged: {} in {} already has this content\n",
                                                version, f.index)
                                  : fmt::format("published {} in {}\n", version, f.index);
    out += fmt::format("  workers {}  shards {}  docs {}  terms {}  size {}  new segments {}\n",
                       r.workers, r.totals.shards, r.totals.docs, r.totals.terms,
                       HumanBytes(r.totals.bytes), r.segments_copied);
    PrintText(out);
  }
  return Status::Ok();
}

}  // namespace

CommandRun SetupPublish(CLI::App* app, GlobalOptions* global) {
  auto f = std::make_shared<PublishFlags>();
  AddIndexOption(app, &f->index);
  AddLockTimeoutOption(app, &f->lock_timeout);
  app->add_option("--stage", f->stage, "Staging directory the workers built into")
      ->type_name("DIR");
  app->add_option("--plan", f->plan, "The plan the workers built from (pidx plan)")
      ->type_name("FILE");
  AddShrinkGuardOptions(app, &f->guard);
  AddMetricsFileOption(app, &f->metrics_file);
  return [f, global] {
    CommandMetrics metrics("publish");
    Status s = RunPublish(*f, *global, &metrics);
    return metrics.Finish(f->metrics_file, f->index, std::move(s));
  };
}

}  // namespace pidx::cli
