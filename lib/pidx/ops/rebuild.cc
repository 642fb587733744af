#include "pidx/ops/rebuild.h"

#include <algorithm>
#include <optional>
#include <set>

#include "pidx/analysis/analyzer.h"
#include "pidx/base/cancel.h"
#include "pidx/base/duration.h"
#include "pidx/obs/log.h"
#include "pidx/ops/guard.h"
#include "pidx/ops/publish.h"
#include "pidx/shard/ingest.h"
#include "pidx/shard/shard_id.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx {
namespace {

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Applies the rebuilt shard (or its removal) to `base`, the newest manifest.
snapshot::Manifest Apply(const snapshot::Manifest& base, const RebuildOptions& options,
                         const shard::IngestResult& ingest, const snapshot::ShardEntry* rebuilt) {
  snapshot::Manifest m = base;
  m.version = 0;
  m.parent = base.version;
  m.created = NowRfc3339();
  m.tool_version = PIDX_VERSION;
  m.operation = "rebuild-shard";
  m.operation_shard = options.shard;
  m.catalogs.clear();
  for (const auto& f : ingest.files) m.catalogs.push_back({f.path, f.size, f.xxh3, f.products});
  m.bad_lines_skipped = ingest.bad_records;
  m.shards.erase(
      std::remove_if(m.shards.begin(), m.shards.end(),
                     [&](const snapshot::ShardEntry& e) { return e.shard == options.shard; }),
      m.shards.end());
  if (rebuilt != nullptr) {
    m.shards.push_back(*rebuilt);
    std::sort(m.shards.begin(), m.shards.end(),
              [](const auto& a, const auto& b) { return a.shard < b.shard; });
  }
  return m;
}

}  // namespace

std::vector<std::string> ClosestNames(const std::string& name,
                                      const std::vector<std::string>& candidates, size_t n) {
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto& c : candidates) scored.emplace_back(EditDistance(name, c), c);
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < n; ++i) out.push_back(scored[i].second);
  return out;
}

Result<RebuildResult> RebuildShard(const RebuildOptions& options, Env* env) {
  const int64_t start = MonotonicMs();
  std::string slug;
  uint32_t number = 0;
  if (!shard::ParseShardId(options.shard, &slug, &number)) {
    return Status::Usage(
        "\"" + options.shard +
        "\" is not a shard id (expected <category-slug>_<NNN>, e.g. electronics_007)");
  }
  PIDX_ASSIGN_OR_RETURN(auto store, snapshot::SnapshotStore::Open(env, options.index_dir, false));
  PIDX_ASSIGN_OR_RETURN(uint64_t current_version, store.ReadCurrent());
  if (current_version == 0) {
    return Status::NotFound(options.index_dir + " has no published version: run pidx build first");
  }
  PIDX_ASSIGN_OR_RETURN(auto current, store.LoadManifest(current_version));

  shard::IngestOptions ingest_opts;
  auto schema = catalog::Schema::FromJson(current.schema);
  if (!schema.ok())
    return schema.status().Annotate("schema stored in " + snapshot::VersionName(current_version));
  auto analyzer = analysis::AnalyzerSettings::FromJson(current.analyzer);
  if (!analyzer.ok())
    return analyzer.status().Annotate("analyzer stored in " +
                                      snapshot::VersionName(current_version));
  ingest_opts.schema = std::move(schema).value();
  ingest_opts.analyzer = *analyzer;
  ingest_opts.shards_per_category = current.shards_per_category;
  if (number >= current.shards_per_category) {
    return Status::NotFound("shard " + options.shard + " cannot exist: the index has " +
                            std::to_string(current.shards_per_category) + " shards per category");
  }
  ingest_opts.reader.format = options.format;
  ingest_opts.reader.max_line_bytes = options.max_line_bytes;
  ingest_opts.max_bad_lines = options.max_bad_lines;
  ingest_opts.threads = options.threads;
  ingest_opts.memory_budget = options.memory_budget;
  ingest_opts.spill_dir = options.index_dir;
  ingest_opts.env = env;
  ingest_opts.shard_filter = [&](const std::string& s) { return s == options.shard; };
  ingest_opts.on_bad_record = [&](const Status& bad) {
    Log::Warn("catalog.record.skipped", bad.message(),
              {{"reason", bad.message()}, {"shard", options.shard}});
  };
  ProgressMeter meter(options.progress,
                      {ProgressPhase::kRead, ProgressPhase::kShards, ProgressPhase::kPublish});
  // One shard of the index is built: about its share of what is read.
  meter.SetBuiltShare(1.0 / static_cast<double>(std::max<size_t>(1, current.shards.size())));
  ingest_opts.progress_interval_ms = std::min<int64_t>(options.progress.interval_ms, 200);
  ingest_opts.on_progress = [&meter](const shard::IngestProgress& p) {
    meter.Read(p.products, p.bytes, p.total_bytes, p.shards);
  };

  Log::Info("index.rebuild.started", "rebuild of " + options.shard + " started",
            {{"shard", options.shard},
             {"index", options.index_dir},
             {"base_version", snapshot::VersionName(current_version)}});

  // The shard lock covers the whole rebuild: a second rebuild of the same shard waits, and
  // a timeout is loud (the seed's bug was a silent return here).
  int64_t lock_wait_ms = 0;
  PIDX_ASSIGN_OR_RETURN(auto shard_lock,
                        AcquireLockLoudly(store, "shard-" + options.shard, options.lock_timeout_ms,
                                          options.shard, &lock_wait_ms));
  store.SweepStaleTemporaries();

  PIDX_ASSIGN_OR_RETURN(auto ingest, shard::Ingest(options.catalogs, ingest_opts));
  if (ingest.spill && ingest.spill->spills() > 0) {
    Log::Info("index.build.spilled", "the shard builder spilled to stay within the memory budget",
              {{"shard", options.shard},
               {"memory_budget", ingest.spill->budget()},
               {"spills", ingest.spill->spills()},
               {"spilled_bytes", ingest.spill->spilled_bytes()}});
  }
  const bool in_catalog = ingest.sinks.count(options.shard) > 0;
  const bool in_index = current.FindShard(options.shard) != nullptr;
  if (!in_catalog && !in_index) {
    std::set<std::string> names;
    for (const auto& e : current.shards) names.insert(e.shard);
    for (const auto& [s, n] : ingest.all_shards) names.insert(s);
    auto closest = ClosestNames(options.shard, {names.begin(), names.end()}, 3);
    std::string list;
    for (const auto& c : closest) list += (list.empty() ? "" : ", ") + c;
    return Status::NotFound("shard " + options.shard +
                            " is neither in the index nor in the catalog" +
                            (list.empty() ? "" : "; closest: " + list));
  }

  RebuildResult result;
  result.shard = options.shard;
  result.bad_records = ingest.bad_records;
  // An empty catalog (an empty export, a truncated download) is refused before anything is
  // written: it would otherwise read as "the shard has no products any more" and remove it.
  PIDX_RETURN_IF_ERROR(CheckCatalogNotEmpty(ingest.products_seen));
  std::optional<snapshot::ShardEntry> rebuilt;
  if (in_catalog) {
    PIDX_ASSIGN_OR_RETURN(auto finished, FinishShards(store, ingest, options.threads, &meter));
    rebuilt = finished.entries.at(0);
  }
  if (Cancelled()) return Status::Interrupted("interrupted before publishing");

  meter.StartPublish();
  PublishRequest request;
  request.kind = PublishKind::kShard;
  request.guard = {options.max_shrink, options.allow_shrink};
  request.catalog_products = ingest.products_seen;
  request.shard = options.shard;
  request.lock_timeout_ms = options.lock_timeout_ms;
  const snapshot::ShardEntry* old_entry = nullptr;
  std::optional<snapshot::Manifest> newest;
  // Under the publish lock the shard is applied to the newest version: another rebuild may
  // have published since we started, and its shard must survive ours.
  request.make = [&](const PublishBase& base) -> Result<snapshot::Manifest> {
    if (base.baseline == nullptr) {
      return Status::NotFound(options.index_dir + " has no readable published version any more");
    }
    newest = *base.baseline;
    if (newest->schema != current.schema || newest->analyzer != current.analyzer ||
        newest->shards_per_category != current.shards_per_category) {
      return Status::Config("the index settings changed while " + options.shard +
                            " was rebuilt (a full build published " +
                            snapshot::VersionName(newest->version) + "); run the rebuild again");
    }
    old_entry = newest->FindShard(options.shard);
    return Apply(*newest, options, ingest, rebuilt ? &*rebuilt : nullptr);
  };
  auto published = RunPublishTransaction(store, request);
  lock_wait_ms += published.ok() ? published->lock_wait_ms : 0;
  if (!published.ok()) return published.status();
  shard_lock.Release();

  result.version = published->version;
  result.parent = published->baseline;
  result.lock_wait_ms = lock_wait_ms;
  result.action = !rebuilt ? "removed" : old_entry ? "rebuilt" : "added";
  if (rebuilt) {
    result.docs = rebuilt->docs;
    result.terms = rebuilt->terms;
    result.bytes = rebuilt->size;
    result.segment = rebuilt->segment;
    result.segment_unchanged = old_entry && old_entry->segment == rebuilt->segment;
  }
  meter.Done();
  result.phases = meter.times();
  result.duration_ms = MonotonicMs() - start;
  return result;
}

}  // namespace pidx
