#include "pidx/ops/rebuild.h"

#include <algorithm>
#include <optional>
#include <set>

#include "pidx/analysis/analyzer.h"
#include "pidx/base/cancel.h"
#include "pidx/base/duration.h"
#include "pidx/obs/log.h"
#include "pidx/obs/trace.h"
#include "pidx/ops/guard.h"
#include "pidx/ops/publish.h"
#include "pidx/shard/ingest.h"
#include "pidx/shard/shard_id.h"
#include "pidx/snapshot/index_settings.h"
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
  if (m.format_version < 2) {
    // A format-1 base: every category has S shards; written down, as format 2 does.
    m.format_version = snapshot::kManifestFormatVersion;
    for (const auto& e : m.shards) {
      std::string slug;
      uint32_t number = 0;
      if (shard::ParseShardId(e.shard, &slug, &number)) {
        m.category_shards[slug] = m.shards_per_category;
      }
    }
  }
  // A category new to the index gets the count the scan decided for it.
  std::string slug;
  uint32_t number = 0;
  if (rebuilt != nullptr && shard::ParseShardId(options.shard, &slug, &number) &&
      !m.category_shards.count(slug)) {
    auto it = ingest.category_shards.find(slug);
    if (it != ingest.category_shards.end()) m.category_shards[slug] = it->second;
  }
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
  scored.reserve(candidates.size());
  for (const auto& c : candidates) scored.emplace_back(EditDistance(name, c), c);
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < n; ++i) out.push_back(scored[i].second);
  return out;
}

namespace {

// The version the rebuild starts from: the current one, which must exist.
Result<snapshot::Manifest> LoadCurrentVersion(const snapshot::SnapshotStore& store,
                                              const RebuildOptions& options) {
  PIDX_ASSIGN_OR_RETURN(uint64_t current_version, store.ReadCurrent());
  if (current_version == 0) {
    return Status::NotFound(options.index_dir + " has no published version: run pidx build first");
  }
  return store.LoadManifest(current_version);
}

// The scan of a rebuild: the current version's settings, and only the products of the shard.
Result<shard::IngestOptions> RebuildScanOptions(const snapshot::Manifest& current, uint32_t number,
                                                const RebuildOptions& options, Env* env) {
  shard::IngestOptions ingest_opts;
  std::string failed_part;
  auto settings = snapshot::IndexSettings::FromManifest(current, &failed_part);
  if (!settings.ok()) {
    return settings.status().Annotate(failed_part + " stored in " +
                                      snapshot::VersionName(current.version));
  }
  ingest_opts.schema = std::move(settings->schema);
  ingest_opts.analyzer = settings->analyzer;
  ingest_opts.shards_per_category = settings->shards_per_category;
  // The shard of a product comes from its category's recorded count: a category keeps its
  // count across rebuilds, however it grew; only a full build decides it again. A category the
  // index does not have gets the count a build would give it in this catalog.
  ingest_opts.target_shard_docs = current.target_shard_docs;
  std::string slug;
  uint32_t parsed_number = 0;
  (void)shard::ParseShardId(options.shard, &slug, &parsed_number);  // checked by the caller
  for (const auto& e : current.shards) {
    std::string s;
    uint32_t n = 0;
    if (shard::ParseShardId(e.shard, &s, &n)) ingest_opts.category_shards[s] = current.ShardsOf(s);
  }
  for (const auto& [s, k] : current.category_shards) ingest_opts.category_shards[s] = k;
  const uint32_t slug_shards = ingest_opts.category_shards.count(slug)
                                   ? ingest_opts.category_shards[slug]
                                   : current.shards_per_category;
  if (number >= slug_shards) {
    return Status::NotFound(
        "shard " + options.shard + " cannot exist: " +
        (ingest_opts.category_shards.count(slug)
             ? "category " + slug + " has " + std::to_string(slug_shards) + " shards"
             : "the index has at most " + std::to_string(slug_shards) + " shards per category"));
  }
  ingest_opts.reader.format = options.format;
  ingest_opts.reader.max_line_bytes = options.max_line_bytes;
  ingest_opts.max_bad_lines = options.max_bad_lines;
  ingest_opts.threads = options.threads;
  ingest_opts.memory_budget = options.memory_budget;
  ingest_opts.spill_dir = options.index_dir;
  ingest_opts.env = env;
  const std::string shard = options.shard;
  ingest_opts.shard_filter = [shard](const std::string& s) { return s == shard; };
  ingest_opts.on_bad_record = [shard](const Status& bad) {
    Log::Warn("catalog.record.skipped", bad.message(),
              {{"reason", bad.message()}, {"shard", shard}});
  };
  return ingest_opts;
}

void LogSpilled(const shard::IngestResult& ingest, const std::string& shard) {
  if (!ingest.spill || ingest.spill->spills() == 0) return;
  Log::Info("index.build.spilled", "the shard builder spilled to stay within the memory budget",
            {{"shard", shard},
             {"memory_budget", ingest.spill->budget()},
             {"spills", ingest.spill->spills()},
             {"spilled_bytes", ingest.spill->spilled_bytes()}});
}

// kNotFound naming the closest existing shards when neither the index nor the catalog has it.
Status CheckShardExists(const std::string& shard, const snapshot::Manifest& current,
                        const shard::IngestResult& ingest) {
  if (ingest.sinks.count(shard) > 0 || current.FindShard(shard) != nullptr) return Status::Ok();
  std::set<std::string> names;
  for (const auto& e : current.shards) names.insert(e.shard);
  for (const auto& [s, n] : ingest.all_shards) names.insert(s);
  auto closest = ClosestNames(shard, {names.begin(), names.end()}, 3);
  std::string list;
  for (const auto& c : closest) list += (list.empty() ? "" : ", ") + c;
  return Status::NotFound("shard " + shard + " is neither in the index nor in the catalog" +
                          (list.empty() ? "" : "; closest: " + list));
}

struct ShardPublished {
  uint64_t version = 0;
  uint64_t parent = 0;
  bool unchanged = false;  // nothing published: the version would equal CURRENT's
  int64_t lock_wait_ms = 0;
  std::optional<snapshot::ShardEntry> old_entry;  // the shard in the version it was applied to
};

// Publishes the rebuilt shard (or its removal, `rebuilt` null) through the one publish
// transaction. Under the publish lock the shard is applied to the newest version: another
// rebuild may have published since we started, and its shard must survive ours.
Result<ShardPublished> PublishShard(snapshot::SnapshotStore& store, const RebuildOptions& options,
                                    const snapshot::Manifest& current,
                                    const shard::IngestResult& ingest,
                                    const snapshot::ShardEntry* rebuilt) {
  PublishRequest request;
  request.kind = PublishKind::kShard;
  request.guard = {options.max_shrink, options.allow_shrink};
  request.catalog_products = ingest.products_seen;
  request.shard = options.shard;
  request.lock_timeout_ms = options.lock_timeout_ms;
  request.skip_unchanged = !options.force;
  ShardPublished out;
  request.make = [&](const PublishBase& base) -> Result<snapshot::Manifest> {
    if (base.baseline == nullptr) {
      return Status::NotFound(options.index_dir + " has no readable published version any more");
    }
    const snapshot::Manifest& newest = *base.baseline;
    // A full build since may also have given the shard's category another shard count.
    std::string slug;
    uint32_t number = 0;
    const bool parsed = shard::ParseShardId(options.shard, &slug, &number);
    if (newest.schema != current.schema || newest.analyzer != current.analyzer ||
        newest.shards_per_category != current.shards_per_category ||
        (parsed && current.FindShard(options.shard) != nullptr &&
         newest.ShardsOf(slug) != current.ShardsOf(slug))) {
      return Status::Config("the index settings changed while " + options.shard +
                            " was rebuilt (a full build published " +
                            snapshot::VersionName(newest.version) + "); run the rebuild again");
    }
    const snapshot::ShardEntry* old_entry = newest.FindShard(options.shard);
    out.old_entry.reset();
    if (old_entry != nullptr) out.old_entry = *old_entry;
    return Apply(newest, options, ingest, rebuilt);
  };
  PIDX_ASSIGN_OR_RETURN(auto published, RunPublishTransaction(store, request));
  out.version = published.version;
  out.unchanged = published.unchanged;
  // Unchanged: CURRENT is the version, and its parent is the parent.
  out.parent = published.unchanged ? published.manifest.parent : published.baseline;
  out.lock_wait_ms = published.lock_wait_ms;
  return out;
}

}  // namespace

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
  PIDX_ASSIGN_OR_RETURN(auto current, LoadCurrentVersion(store, options));
  PIDX_ASSIGN_OR_RETURN(auto ingest_opts, RebuildScanOptions(current, number, options, env));
  ProgressMeter meter(options.progress,
                      {ProgressPhase::kRead, ProgressPhase::kShards, ProgressPhase::kPublish});
  // One shard of the index is built: about its share of what is read.
  meter.SetBuiltShare(1.0 / static_cast<double>(std::max<size_t>(1, current.shards.size())));
  ingest_opts.progress_interval_ms = std::min<int64_t>(options.progress.interval_ms, 200);
  ingest_opts.on_progress = [&meter](const shard::IngestProgress& p) {
    meter.Read(p.products, p.bytes, p.total_bytes, p.shards);
  };

  Trace::SetRootAttribute("index.shard", options.shard);
  Log::Info("index.rebuild.started", "rebuild of " + options.shard + " started",
            {{"shard", options.shard},
             {"index", options.index_dir},
             {"base_version", snapshot::VersionName(current.version)}});

  // The shard lock covers the whole rebuild: a second rebuild of the same shard waits, and
  // a timeout is loud (the seed's bug was a silent return here).
  int64_t lock_wait_ms = 0;
  PIDX_ASSIGN_OR_RETURN(auto shard_lock,
                        AcquireLockLoudly(store, "shard-" + options.shard, options.lock_timeout_ms,
                                          options.shard, &lock_wait_ms));
  store.SweepStaleTemporaries();

  PIDX_ASSIGN_OR_RETURN(auto ingest, shard::Ingest(options.catalogs, ingest_opts));
  LogSpilled(ingest, options.shard);
  PIDX_RETURN_IF_ERROR(CheckShardExists(options.shard, current, ingest));

  RebuildResult result;
  result.shard = options.shard;
  result.bad_records = ingest.bad_records;
  // An empty catalog (an empty export, a truncated download) is refused before anything is
  // written: it would otherwise read as "the shard has no products any more" and remove it.
  PIDX_RETURN_IF_ERROR(CheckCatalogNotEmpty(ingest.products_seen));
  std::optional<snapshot::ShardEntry> rebuilt;
  if (ingest.sinks.count(options.shard) > 0) {
    PIDX_ASSIGN_OR_RETURN(auto finished, FinishShards(store, ingest, options.threads, &meter));
    rebuilt = finished.entries.at(0);
  }
  if (Cancelled()) return Status::Interrupted("interrupted before publishing");

  meter.StartPublish();
  PIDX_ASSIGN_OR_RETURN(
      auto published, PublishShard(store, options, current, ingest, rebuilt ? &*rebuilt : nullptr));
  shard_lock.Release();

  result.version = published.version;
  result.unchanged = published.unchanged;
  result.parent = published.parent;
  result.lock_wait_ms = lock_wait_ms + published.lock_wait_ms;
  result.action = !rebuilt ? "removed" : published.old_entry ? "rebuilt" : "added";
  if (rebuilt) {
    result.docs = rebuilt->docs;
    result.terms = rebuilt->terms;
    result.bytes = rebuilt->size;
    result.segment = rebuilt->segment;
    result.segment_unchanged =
        published.old_entry && published.old_entry->segment == rebuilt->segment;
  }
  meter.Done();
  result.phases = meter.times();
  result.duration_ms = MonotonicMs() - start;
  return result;
}

}  // namespace pidx
