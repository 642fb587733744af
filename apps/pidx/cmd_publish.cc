// pidx publish --index DIR --stage DIR --plan plan.json
#include <fmt/format.h>

#include "command_metrics.h"
#include "command_table.h"
#include "output.h"
#include "pidx/base/duration.h"
#include "pidx/publish_stage.h"
#include "pidx/snapshot/manifest.h"

namespace pidx::cli {
namespace {

struct PublishFlags {
  std::string index;
  std::string stage;
  std::string plan;
  std::string lock_timeout = "5s";
  double max_shrink = 0.2;
  bool allow_shrink = false;
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
  auto timeout = ParseDurationMs(f.lock_timeout);
  if (!timeout.ok()) return g.BadValue("lock-timeout", timeout.status().message());
  o.lock_timeout_ms = *timeout;
  metrics->SetLockTimeout(o.lock_timeout_ms);
  if (f.max_shrink < 0 || f.max_shrink > 1) {
    return g.BadValue("max-shrink", "must be between 0 and 1");
  }
  o.max_shrink = f.max_shrink;
  o.allow_shrink = f.allow_shrink;

  PIDX_ASSIGN_OR_RETURN(PublishStageResult r, PublishStage(o, Env::Default()));
  metrics->SetLockWait(r.lock_wait_ms);
  const std::string version = snapshot::VersionName(r.version);
  if (g.json) {
    PrintJson({{"command", "publish"},
               {"version", version},
               {"parent", r.parent ? snapshot::VersionName(r.parent) : ""},
               {"unchanged", r.unchanged},
               {"workers", r.workers},
               {"shards", r.shards},
               {"docs", r.docs},
               {"terms", r.terms},
               {"postings", r.postings},
               {"bytes", r.bytes},
               {"segments_copied", r.segments_copied},
               {"duration_ms", r.duration_ms}});
  } else {
    std::string out = r.unchanged ? fmt::format("unchanged: {} in {} already has this content\n",
                                                version, f.index)
                                  : fmt::format("published {} in {}\n", version, f.index);
    out +=
        fmt::format("  workers {}  shards {}  docs {}  terms {}  size {}  new segments {}\n",
                    r.workers, r.shards, r.docs, r.terms, HumanBytes(r.bytes), r.segments_copied);
    std::fputs(out.c_str(), stdout);
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
  app->add_option("--max-shrink", f->max_shrink,
                  "Refuse a version with more than this fraction fewer products than the current");
  app->add_flag("--allow-shrink", f->allow_shrink, "Publish even if products or categories shrink");
  AddMetricsFileOption(app, &f->metrics_file);
  return [f, global] {
    CommandMetrics metrics("publish");
    Status s = RunPublish(*f, *global, &metrics);
    return metrics.Finish(f->metrics_file, f->index, std::move(s));
  };
}

}  // namespace pidx::cli
