#include "pidx/ops/build.h"

#include <algorithm>

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

Result<BuildResult> BuildInto(snapshot::SnapshotStore& store, const BuildOptions& options,
                              shard::IngestOptions ingest_opts, int64_t start);

}  // namespace

// A first build that fails removes the index directory it created (and only that): a typo in
// --index or a bad catalog must not leave an empty index behind (SnapshotStore::
// RemoveIfCreatedAndEmpty says when).
Result<BuildResult> Build(const BuildOptions& options, Env* env) {
  const int64_t start = MonotonicMs();
  if (options.catalogs.empty()) return Status::Usage("no catalog given (--catalog FILE)");
  if (options.shards_per_category == 0 ||
      options.shards_per_category > shard::kMaxShardsPerCategory) {
    return Status::Usage("--shards-per-category must be between 1 and 1000");
  }
  if (options.target_shard_docs > shard::kMaxTargetShardDocs) {
    return Status::Usage("--target-shard-docs must be at most 1000000000");
  }
  shard::IngestOptions ingest_opts;
  if (!options.schema_file.empty()) {
    PIDX_ASSIGN_OR_RETURN(ingest_opts.schema, catalog::Schema::LoadFile(options.schema_file));
  }
  ingest_opts.analyzer = options.analyzer;
  PIDX_RETURN_IF_ERROR(ingest_opts.analyzer.CheckSchema(ingest_opts.schema));
  // Open the index before reading anything: a bad --index fails fast.
  PIDX_ASSIGN_OR_RETURN(auto store, snapshot::SnapshotStore::Open(env, options.index_dir, true));
  auto result = BuildInto(store, options, std::move(ingest_opts), start);
  if (!result.ok() && store.RemoveIfCreatedAndEmpty()) {
    Log::Info("index.build.cleaned_up",
              "removed the index directory this failed first build created",
              {{"index", options.index_dir}});
  }
  return result;
}

namespace {

Result<BuildResult> BuildInto(snapshot::SnapshotStore& store, const BuildOptions& options,
                              shard::IngestOptions ingest_opts, int64_t start) {
  store.SweepStaleTemporaries();

  Log::Info("index.build.started", "build started",
            {{"index", options.index_dir},
             {"catalogs", options.catalogs},
             {"shards_per_category", options.shards_per_category},
             {"target_shard_docs", options.target_shard_docs}});

  ingest_opts.shards_per_category = options.shards_per_category;
  ingest_opts.target_shard_docs = options.target_shard_docs;
  ingest_opts.reader.format = options.format;
  ingest_opts.reader.max_line_bytes = options.max_line_bytes;
  ingest_opts.max_bad_lines = options.max_bad_lines;
  ingest_opts.threads = options.threads;
  ingest_opts.memory_budget = options.memory_budget;
  ingest_opts.spill_dir = options.index_dir;
  ingest_opts.env = store.env();
  ingest_opts.on_bad_record = [](const Status& bad) {
    Log::Warn("catalog.record.skipped", bad.message(), {{"reason", bad.message()}});
  };
  ProgressMeter meter(options.progress,
                      {ProgressPhase::kRead, ProgressPhase::kShards, ProgressPhase::kPublish});
  ingest_opts.progress_interval_ms = std::min<int64_t>(options.progress.interval_ms, 200);
  ingest_opts.on_progress = [&meter](const shard::IngestProgress& p) {
    meter.Read(p.products, p.bytes, p.total_bytes, p.shards);
  };

  auto ingest = shard::Ingest(options.catalogs, ingest_opts);
  if (!ingest.ok()) return ingest.status();

  if (ingest->spill && ingest->spill->spills() > 0) {
    Log::Info("index.build.spilled", "the shard builders spilled to stay within the memory budget",
              {{"memory_budget", ingest->spill->budget()},
               {"spills", ingest->spill->spills()},
               {"spilled_bytes", ingest->spill->spilled_bytes()}});
  }
  BuildResult result;
  result.bad_records = ingest->bad_records;
  // An empty catalog is refused before any file is written (and again by the transaction).
  PIDX_RETURN_IF_ERROR(CheckCatalogNotEmpty(ingest->products));

  PIDX_ASSIGN_OR_RETURN(auto finished, FinishShards(store, *ingest, options.threads, &meter));
  result.segments_written = finished.segments_written;
  if (Cancelled()) return Status::Interrupted("interrupted before publishing");

  snapshot::Manifest next;
  next.created = NowRfc3339();
  next.tool_version = PIDX_VERSION;
  next.operation = "build";
  for (const auto& f : ingest->files) {
    next.catalogs.push_back({f.path, f.size, f.xxh3, f.products});
  }
  next.schema = ingest_opts.schema.ToJson();
  next.analyzer = ingest_opts.analyzer.ToJson();
  next.shards_per_category = options.shards_per_category;
  next.target_shard_docs = options.target_shard_docs;
  next.category_shards = ingest->category_shards;
  next.bad_lines_skipped = ingest->bad_records;
  next.shards = std::move(finished.entries);

  meter.StartPublish();
  PublishRequest request;
  request.kind = PublishKind::kCatalog;
  request.guard = {options.max_shrink, options.allow_shrink};
  request.catalog_products = ingest->products;
  request.lock_timeout_ms = options.lock_timeout_ms;
  request.skip_unchanged = !options.force;
  request.make = [&](const PublishBase&) -> Result<snapshot::Manifest> { return next; };
  PIDX_ASSIGN_OR_RETURN(auto published, RunPublishTransaction(store, request));
  result.lock_wait_ms = published.lock_wait_ms;
  result.version = published.version;
  result.unchanged = published.unchanged;
  const snapshot::Manifest& manifest = published.manifest;

  result.parent = manifest.parent;
  result.totals = snapshot::SumTotals(manifest.shards);
  for (const auto& e : manifest.shards) result.shard_sizes.push_back({e.shard, e.docs, e.size});
  for (const auto& f : ingest->files) result.catalog_bytes += f.size;
  meter.Done();
  result.phases = meter.times();
  result.duration_ms = MonotonicMs() - start;
  return result;
}

}  // namespace
}  // namespace pidx
