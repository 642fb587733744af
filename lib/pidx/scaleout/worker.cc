#include "pidx/scaleout/worker.h"

#include <sys/stat.h>

#include <set>

#include <fmt/format.h>

#include "pidx/analysis/analyzer.h"
#include "pidx/base/cancel.h"
#include "pidx/base/duration.h"
#include "pidx/base/json_read.h"
#include "pidx/obs/log.h"
#include "pidx/ops/publish.h"
#include "pidx/scaleout/plan.h"
#include "pidx/shard/ingest.h"
#include "pidx/snapshot/index_reader.h"
#include "pidx/snapshot/index_settings.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx {
namespace {

Status CatalogChanged(const std::string& what) {
  return Status::BadData(what +
                         "; the catalog changed since the plan was made: run pidx plan again");
}

// Cheap checks before the scan: every planned file is there with its planned size. Standard
// input, a pipe or a FIFO has no size before it is read: its bytes are checked after the scan
// (CheckScanAgainstPlan), still before anything is staged.
Status CheckCatalogFiles(const Plan& plan, Env* env) {
  for (const auto& c : plan.catalogs) {
    if (c.path == "-") continue;
    struct stat st;
    if (::stat(c.path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) continue;
    if (!env->FileExists(c.path)) {
      return Status::NotFound("catalog " + c.path + " named by the plan does not exist");
    }
    PIDX_ASSIGN_OR_RETURN(uint64_t size, env->FileSize(c.path));
    if (size != c.size) {
      return CatalogChanged(fmt::format("{}: size {}, the plan says {}", c.path, size, c.size));
    }
  }
  return Status::Ok();
}

// After the scan, before anything is staged: the same bytes and the same shard counts.
Status CheckScanAgainstPlan(const Plan& plan, const shard::IngestResult& ingest) {
  if (ingest.files.size() != plan.catalogs.size())
    return CatalogChanged("the catalog files differ");
  for (size_t i = 0; i < plan.catalogs.size(); ++i) {
    const auto& planned = plan.catalogs[i];
    const auto& seen = ingest.files[i];
    if (seen.xxh3 != planned.xxh3 || seen.size != planned.size) {
      return CatalogChanged(
          fmt::format("{}: XXH3 {}, the plan says {}", planned.path, seen.xxh3, planned.xxh3));
    }
  }
  for (const auto& s : plan.shards) {
    auto it = ingest.all_shards.find(s.shard);
    uint64_t docs = it == ingest.all_shards.end() ? 0 : it->second;
    if (docs != s.docs) {
      return CatalogChanged(
          fmt::format("shard {} has {} products, the plan says {}", s.shard, docs, s.docs));
    }
  }
  if (ingest.all_shards.size() != plan.shards.size()) {
    return CatalogChanged("the catalog implies shards the plan does not have");
  }
  return Status::Ok();
}

Result<shard::IngestOptions> IngestOptionsOf(const Plan& plan) {
  shard::IngestOptions o;
  std::string failed_part;
  auto settings = snapshot::IndexSettings::FromJson(plan.schema, plan.analyzer,
                                                    plan.shards_per_category, &failed_part);
  if (!settings.ok()) return settings.status().Annotate(failed_part + " stored in the plan");
  o.schema = std::move(settings->schema);
  o.analyzer = settings->analyzer;
  o.shards_per_category = settings->shards_per_category;
  // Every slug of the catalog has its count in the plan (a format-1 plan: S for each).
  o.category_shards = plan.NewManifest("stage").category_shards;
  o.target_shard_docs = plan.target_shard_docs;
  auto format = catalog::ParseFormat(plan.catalog_format);
  if (!format.ok()) return format.status().Annotate("catalog format stored in the plan");
  o.reader.format = *format;
  o.reader.max_line_bytes = plan.max_line_bytes;
  o.max_bad_lines = plan.max_bad_lines;
  return o;
}

// A re-run after `publish` found a damaged segment: segment files are content-addressed and
// never rewritten once there, so the damaged files the previous fragment names are removed
// first and this run writes them again.
Status RemoveDamagedSegments(const snapshot::SnapshotStore& stage,
                             const std::string& fragment_path) {
  Env* env = stage.env();
  if (!env->FileExists(fragment_path)) return Status::Ok();
  auto bytes = snapshot::ReadIndexFile(env, fragment_path, kManifestJsonLimits.max_bytes + 64);
  if (!bytes.ok()) return bytes.status();
  auto previous = snapshot::Manifest::Parse(*bytes, fragment_path);
  if (!previous.ok()) return Status::Ok();  // replaced by this run's fragment
  for (const auto& e : previous->shards) {
    const std::string path = stage.SegmentPath(e.segment);
    if (!env->FileExists(path)) continue;
    Status check = stage.CheckSegment(e);
    if (check.ok()) continue;
    Log::Warn("index.stage.damaged_segment",
              "removing a damaged staged segment: " + check.message(),
              {{"shard", e.shard}, {"segment", e.segment}, {"reason", check.message()}});
    PIDX_RETURN_IF_ERROR(env->RemoveFile(path));
  }
  return Status::Ok();
}

}  // namespace

std::string StageFragmentPath(const std::string& stage_dir, uint32_t worker) {
  return JoinPath(JoinPath(stage_dir, "workers"), fmt::format("worker-{:05}.manifest", worker));
}

Result<StageResult> BuildStage(const StageOptions& options, Env* env) {
  const int64_t start = MonotonicMs();
  if (options.stage_dir.empty()) return Status::Usage("missing --stage DIR");
  PIDX_ASSIGN_OR_RETURN(Plan plan, Plan::Load(env, options.plan_path));
  StageResult result;
  result.workers = plan.workers;
  PIDX_ASSIGN_OR_RETURN(result.worker,
                        ResolveWorkerIndex(options.worker, plan.workers, &result.worker_source));
  result.shards = plan.ShardsOf(result.worker);
  const std::set<std::string> mine(result.shards.begin(), result.shards.end());
  PIDX_ASSIGN_OR_RETURN(shard::IngestOptions ingest_opts, IngestOptionsOf(plan));
  PIDX_RETURN_IF_ERROR(CheckCatalogFiles(plan, env));

  PIDX_ASSIGN_OR_RETURN(auto stage, snapshot::SnapshotStore::Open(env, options.stage_dir, true));
  PIDX_RETURN_IF_ERROR(env->CreateDir(JoinPath(options.stage_dir, "workers")));
  stage.SweepStaleTemporaries();
  PIDX_RETURN_IF_ERROR(
      RemoveDamagedSegments(stage, StageFragmentPath(options.stage_dir, result.worker)));

  Log::Info("index.stage.started",
            fmt::format("worker {} of {} started", result.worker, plan.workers),
            {{"worker", result.worker},
             {"workers", plan.workers},
             {"worker_source", result.worker_source},
             {"shards", result.shards},
             {"stage", options.stage_dir},
             {"plan", options.plan_path}});

  snapshot::Manifest fragment = plan.NewManifest("stage");
  ProgressMeter meter(options.progress,
                      {ProgressPhase::kRead, ProgressPhase::kShards, ProgressPhase::kPublish});

  if (!mine.empty()) {  // a worker without shards (more workers than shards) only says so
    ingest_opts.threads = options.threads;
    ingest_opts.shard_filter = [&mine](const std::string& s) { return mine.count(s) > 0; };
    ingest_opts.on_bad_record = [](const Status& bad) {
      Log::Warn("catalog.record.skipped", bad.message(), {{"reason", bad.message()}});
    };
    uint64_t my_docs = 0;
    for (const auto& s : plan.shards) my_docs += mine.count(s.shard) ? s.docs : 0;
    meter.SetBuiltShare(plan.products > 0
                            ? static_cast<double>(my_docs) / static_cast<double>(plan.products)
                            : 1.0);
    ingest_opts.progress_interval_ms = std::min<int64_t>(options.progress.interval_ms, 200);
    ingest_opts.on_progress = [&meter](const shard::IngestProgress& p) {
      meter.Read(p.products, p.bytes, p.total_bytes, p.shards);
    };
    std::vector<std::string> paths;
    for (const auto& c : plan.catalogs) paths.push_back(c.path);
    PIDX_ASSIGN_OR_RETURN(auto ingest, shard::Ingest(paths, ingest_opts));
    PIDX_RETURN_IF_ERROR(CheckScanAgainstPlan(plan, ingest));
    if (Cancelled()) return Status::Interrupted("interrupted before staging");
    PIDX_ASSIGN_OR_RETURN(auto finished, FinishShards(stage, ingest, options.threads, &meter));
    result.segments_written = finished.segments_written;
    fragment.shards = std::move(finished.entries);
  }
  if (Cancelled()) return Status::Interrupted("interrupted before the fragment was written");
  // Last, after every segment is durable: a fragment names only segments that exist.
  result.fragment = StageFragmentPath(options.stage_dir, result.worker);
  meter.StartPublish();
  PIDX_RETURN_IF_ERROR(WriteFileDurably(env, result.fragment, fragment.Serialize()));
  meter.Done();
  result.phases = meter.times();

  const snapshot::Totals totals = snapshot::SumTotals(fragment.shards);
  result.docs = totals.docs;
  result.bytes = totals.bytes;
  result.duration_ms = MonotonicMs() - start;
  return result;
}

}  // namespace pidx
