#include "pidx/scaleout/stage_publish.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "pidx/base/cancel.h"
#include "pidx/base/duration.h"
#include "pidx/base/json_read.h"
#include "pidx/obs/log.h"
#include "pidx/obs/trace.h"
#include "pidx/ops/guard.h"
#include "pidx/ops/publish.h"
#include "pidx/scaleout/plan.h"
#include "pidx/scaleout/worker.h"
#include "pidx/snapshot/index_reader.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx {
namespace {

struct ShardProblem {
  std::string shard;
  uint32_t worker = 0;
  bool damaged = false;  // false: missing
  std::string reason;
};

bool SameIdentity(const std::vector<snapshot::CatalogIdentity>& a,
                  const std::vector<snapshot::CatalogIdentity>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].path != b[i].path || a[i].size != b[i].size || a[i].xxh3 != b[i].xxh3) return false;
  }
  return true;
}

// Checks one worker's fragment and segments against the plan; appends what is wrong and the
// sound entries.
void CheckWorker(const Plan& plan, uint32_t worker, const snapshot::SnapshotStore& stage,
                 std::vector<ShardProblem>* problems, std::vector<snapshot::ShardEntry>* entries) {
  const std::vector<std::string> planned = plan.ShardsOf(worker);
  if (planned.empty()) return;
  Env* env = stage.env();
  const std::string path = StageFragmentPath(stage.dir(), worker);
  auto all = [&](bool damaged, const std::string& reason) {
    for (const auto& s : planned) problems->push_back({s, worker, damaged, reason});
  };
  if (!env->FileExists(path)) {
    return all(false, fmt::format("worker {} has not staged (no {})", worker, path));
  }
  auto bytes = snapshot::ReadIndexFile(env, path, kManifestJsonLimits.max_bytes + 64);
  if (!bytes.ok()) return all(true, bytes.status().message());
  auto fragment = snapshot::Manifest::Parse(*bytes, path);
  if (!fragment.ok()) return all(true, fragment.status().message());
  if (fragment->operation != "stage" || !SameIdentity(fragment->catalogs, plan.catalogs) ||
      fragment->schema != plan.schema || fragment->analyzer != plan.analyzer ||
      fragment->shards_per_category != plan.shards_per_category ||
      fragment->category_shards != plan.NewManifest("stage").category_shards) {
    return all(false,
               fmt::format("{} was staged for another plan (catalog or settings differ)", path));
  }
  for (const auto& e : fragment->shards) {
    const PlannedShard* p = plan.FindShard(e.shard);
    if (p == nullptr || p->worker != worker) {
      problems->push_back(
          {e.shard, worker, true,
           fmt::format("{} names shard {}, which the plan does not give to worker {}", path,
                       e.shard, worker)});
    }
  }
  for (const auto& s : planned) {
    const snapshot::ShardEntry* e = fragment->FindShard(s);
    if (e == nullptr) {
      problems->push_back({s, worker, false, fmt::format("{} does not list {}", path, s)});
      continue;
    }
    const uint64_t planned_docs = plan.FindShard(s)->docs;
    if (e->docs != planned_docs) {
      problems->push_back(
          {s, worker, true, fmt::format("{} docs staged, {} planned", e->docs, planned_docs)});
      continue;
    }
    if (!env->FileExists(stage.SegmentPath(e->segment))) {
      problems->push_back({s, worker, false, "segment " + e->segment + " is not in the stage"});
      continue;
    }
    Status check = stage.CheckSegment(*e);
    if (!check.ok()) {
      problems->push_back({s, worker, true, check.message()});
      continue;
    }
    entries->push_back(*e);
  }
}

Status Refuse(const std::string& stage_dir, const std::vector<ShardProblem>& problems) {
  std::vector<std::string> missing, damaged;
  std::set<uint32_t> workers;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& p : problems) {
    workers.insert(p.worker);
    (p.damaged ? damaged : missing).push_back(p.shard);
    list.push_back({{"shard", p.shard},
                    {"worker", p.worker},
                    {"problem", p.damaged ? "damaged" : "missing"},
                    {"reason", p.reason}});
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  std::string reason;
  if (!missing.empty())
    reason = fmt::format("{} planned shards missing: {}", missing.size(), join(missing));
  if (!damaged.empty()) {
    reason += fmt::format("{}{} staged shards damaged: {}", reason.empty() ? "" : "; ",
                          damaged.size(), join(damaged));
  }
  std::string rerun;
  for (uint32_t w : workers) rerun += (rerun.empty() ? "" : ", ") + std::to_string(w);
  reason += " (re-run worker" + std::string(workers.size() > 1 ? "s " : " ") + rerun + ")";
  Trace::SetCurrentAndRootAttribute("index.status", "refused");
  Trace::SetCurrentAndRootAttribute("index.publish.refused_reason", reason);
  Trace::SetCurrentAndRootAttribute("index.publish.missing_shards", missing);
  Trace::SetCurrentAndRootAttribute("index.publish.damaged_shards", damaged);
  Log::Error("index.publish.refused", "publish refused: " + reason,
             {{"reason", reason},
              {"stage", stage_dir},
              {"missing_shards", missing},
              {"damaged_shards", damaged},
              {"workers_to_rerun", workers},
              {"problems", list}});
  std::string msg = "publish refused, nothing published: " + reason;
  return damaged.empty() ? Status::NotFound(msg) : Status::Corrupt(msg);
}

}  // namespace

Result<PublishStageResult> PublishStage(const PublishStageOptions& options, Env* env) {
  const int64_t start = MonotonicMs();
  if (options.stage_dir.empty()) return Status::Usage("missing --stage DIR");
  PIDX_ASSIGN_OR_RETURN(Plan plan, Plan::Load(env, options.plan_path));
  if (!env->FileExists(options.stage_dir)) {
    return Status::NotFound("stage directory " + options.stage_dir +
                            " does not exist: no worker has run");
  }
  auto opened = snapshot::SnapshotStore::Open(env, options.stage_dir, false);
  if (!opened.ok()) {
    return Status::NotFound("stage directory " + options.stage_dir +
                            " was not made by pidx build --plan (no versions/)");
  }
  snapshot::SnapshotStore stage = std::move(opened).value();
  if (!plan.index.empty() &&
      std::filesystem::absolute(options.index_dir).lexically_normal().string() != plan.index) {
    Log::Warn("index.publish.other_index",
              "the plan was made for " + plan.index + ", publishing into " + options.index_dir,
              {{"plan_index", plan.index}, {"index", options.index_dir}});
  }
  Log::Info("index.publish.started", "checking the stage",
            {{"stage", options.stage_dir},
             {"index", options.index_dir},
             {"plan", options.plan_path},
             {"workers", plan.workers},
             {"shards", plan.shards.size()}});

  std::vector<ShardProblem> problems;
  std::vector<snapshot::ShardEntry> entries;
  for (uint32_t w = 0; w < plan.workers; ++w) CheckWorker(plan, w, stage, &problems, &entries);
  if (!problems.empty()) return Refuse(options.stage_dir, problems);
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.shard < b.shard; });

  PIDX_ASSIGN_OR_RETURN(auto store, snapshot::SnapshotStore::Open(env, options.index_dir, true));
  store.SweepStaleTemporaries();
  PublishStageResult result;
  result.workers = plan.workers;
  uint64_t staged_products = 0;
  for (const auto& e : entries) {
    staged_products += e.docs;
    if (Cancelled()) return Status::Interrupted("interrupted before publishing");
    // Opened through its fragment entry (name, file type, size, checksum, shard, counts), then
    // written into the index: reused when the same bytes are there, rewritten when damaged.
    PIDX_ASSIGN_OR_RETURN(auto staged, snapshot::OpenSegment(stage, e));
    PIDX_ASSIGN_OR_RETURN(auto how, store.WriteSegment(e.segment, staged.bytes()));
    if (how == snapshot::SnapshotStore::SegmentWrite::kReplaced) LogSegmentReplaced(store, e);
    if (how != snapshot::SnapshotStore::SegmentWrite::kReused) ++result.segments_copied;
    PIDX_RETURN_IF_ERROR(store.CheckSegment(e));
  }

  snapshot::Manifest manifest = plan.NewManifest("publish");
  manifest.shards = std::move(entries);

  PublishRequest request;
  request.kind = PublishKind::kCatalog;
  request.guard = {options.max_shrink, options.allow_shrink};
  request.catalog_products = staged_products;
  request.lock_timeout_ms = options.lock_timeout_ms;
  request.skip_unchanged = true;  // publishing one stage twice makes one version
  request.make = [&](const PublishBase&) -> Result<snapshot::Manifest> { return manifest; };
  PIDX_ASSIGN_OR_RETURN(auto published, RunPublishTransaction(store, request));
  result.lock_wait_ms = published.lock_wait_ms;
  result.unchanged = published.unchanged;
  result.version = published.version;
  result.parent = published.unchanged ? published.manifest.parent : published.baseline;
  manifest = std::move(published.manifest);

  result.totals = snapshot::SumTotals(manifest.shards);
  result.duration_ms = MonotonicMs() - start;
  return result;
}

}  // namespace pidx
