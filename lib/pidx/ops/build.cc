#include "pidx/ops/build.h"

#include <cstdio>

#include <fmt/format.h>

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

void ReportProgress(const shard::IngestProgress& p, bool bar) {
  double pct = p.total_bytes > 0
                   ? 100.0 * static_cast<double>(p.bytes) / static_cast<double>(p.total_bytes)
                   : -1.0;
  int64_t eta_ms = -1;
  if (pct > 0.5 && pct < 100.0) {
    eta_ms = static_cast<int64_t>(static_cast<double>(p.elapsed_ms) * (100.0 - pct) / pct);
  }
  if (bar) {
    const int width = 30;
    int filled = pct < 0 ? 0 : static_cast<int>(pct * width / 100.0);
    std::string line =
        fmt::format("\r[{}{}] {:>6.1f}% {} products {:.1f} MB", std::string(filled, '#'),
                    std::string(width - filled, ' '), pct < 0 ? 0.0 : pct, p.products,
                    static_cast<double>(p.bytes) / 1e6);
    if (eta_ms >= 0) line += fmt::format(" ETA {}s ", eta_ms / 1000);
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    return;
  }
  LogFields f = {{"products", p.products}, {"bytes", p.bytes}, {"elapsed_ms", p.elapsed_ms}};
  if (pct >= 0) f["percent"] = static_cast<int64_t>(pct * 10) / 10.0;
  if (eta_ms >= 0) f["eta_ms"] = eta_ms;
  Log::Info("index.build.progress", "building", f);
}

}  // namespace

Result<BuildResult> Build(const BuildOptions& options, Env* env) {
  const int64_t start = MonotonicMs();
  if (options.catalogs.empty()) return Status::Usage("no catalog given (--catalog FILE)");
  if (options.shards_per_category == 0 ||
      options.shards_per_category > shard::kMaxShardsPerCategory) {
    return Status::Usage("--shards-per-category must be between 1 and 1000");
  }
  shard::IngestOptions ingest_opts;
  if (!options.schema_file.empty()) {
    PIDX_ASSIGN_OR_RETURN(ingest_opts.schema, catalog::Schema::LoadFile(options.schema_file));
  }
  // Open the index before reading anything: a bad --index fails fast.
  PIDX_ASSIGN_OR_RETURN(auto store, snapshot::SnapshotStore::Open(env, options.index_dir, true));
  store.SweepStaleTemporaries();

  Log::Info("index.build.started", "build started",
            {{"index", options.index_dir},
             {"catalogs", options.catalogs},
             {"shards_per_category", options.shards_per_category}});

  ingest_opts.shards_per_category = options.shards_per_category;
  ingest_opts.reader.format = options.format;
  ingest_opts.reader.max_line_bytes = options.max_line_bytes;
  ingest_opts.max_bad_lines = options.max_bad_lines;
  ingest_opts.threads = options.threads;
  ingest_opts.memory_budget = options.memory_budget;
  ingest_opts.spill_dir = options.index_dir;
  ingest_opts.env = env;
  ingest_opts.on_bad_record = [](const Status& bad) {
    Log::Warn("catalog.record.skipped", bad.message(), {{"reason", bad.message()}});
  };
  const bool bar = options.progress_bar;
  ingest_opts.progress_interval_ms = bar ? 200 : 5000;
  ingest_opts.on_progress = [bar](const shard::IngestProgress& p) { ReportProgress(p, bar); };

  auto ingest = shard::Ingest(options.catalogs, ingest_opts);
  if (bar) std::fputs("\n", stderr);
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

  PIDX_ASSIGN_OR_RETURN(auto finished, FinishShards(store, *ingest, options.threads));
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
  next.bad_lines_skipped = ingest->bad_records;
  next.shards = std::move(finished.entries);

  PublishRequest request;
  request.kind = PublishKind::kCatalog;
  request.guard = {options.max_shrink, options.allow_shrink};
  request.catalog_products = ingest->products;
  request.lock_timeout_ms = options.lock_timeout_ms;
  request.make = [&](const PublishBase&) -> Result<snapshot::Manifest> { return next; };
  PIDX_ASSIGN_OR_RETURN(auto published, RunPublishTransaction(store, request));
  result.lock_wait_ms = published.lock_wait_ms;
  result.version = published.version;
  const snapshot::Manifest& manifest = published.manifest;

  result.parent = manifest.parent;
  result.totals = snapshot::SumTotals(manifest.shards);
  for (const auto& e : manifest.shards) result.shard_sizes.push_back({e.shard, e.docs, e.size});
  result.duration_ms = MonotonicMs() - start;
  Log::Info("index.build.completed", "published " + snapshot::VersionName(result.version),
            {{"version", snapshot::VersionName(result.version)},
             {"parent", result.parent ? snapshot::VersionName(result.parent) : ""},
             {"shards", result.totals.shards},
             {"docs", result.totals.docs},
             {"terms", result.totals.terms},
             {"bytes", result.totals.bytes},
             {"bad_lines_skipped", result.bad_records},
             {"duration_ms", result.duration_ms}});
  return result;
}

}  // namespace pidx
