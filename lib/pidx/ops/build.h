// `pidx build`: reads catalogs, builds every shard, checks what it wrote and publishes one
// new version atomically (docs/CONTRACT.md sections 1-4) through the one publish transaction
// (publish.h). The guard refuses an empty catalog, a shrink beyond max_shrink and a lost
// category (kBadData, event index.publish.refused) unless allow_shrink.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pidx/analysis/analyzer.h"
#include "pidx/base/env.h"
#include "pidx/base/status.h"
#include "pidx/catalog/catalog_reader.h"
#include "pidx/ops/progress.h"
#include "pidx/snapshot/totals.h"

namespace pidx {

struct BuildOptions {
  std::vector<std::string> catalogs;
  std::string index_dir;
  catalog::Format format = catalog::Format::kAuto;
  analysis::AnalyzerSettings analyzer;  // stored in the manifest; queries use it
  std::string schema_file;              // empty: the default schema
  uint32_t shards_per_category = 8;     // S: the most shards a category gets
  // A category gets the fewest shards (a divisor of S) that keep each at most this many
  // products; 0: every category gets S (shard/shard_id.h, ShardCountFor).
  uint64_t target_shard_docs = 0;
  uint64_t max_bad_lines = 0;
  size_t max_line_bytes = 1024 * 1024;
  int64_t lock_timeout_ms = 5000;
  double max_shrink = 0.2;
  bool allow_shrink = false;
  int threads = 0;             // 0: one per core
  uint64_t memory_budget = 0;  // bytes the shard builders may hold before spilling; 0 = no limit
  ProgressOptions progress;    // phases read, shards, publish (progress.h)
  // Publish even when the result is unchanged (publish.h: the same settings and segments as
  // CURRENT); by default nothing is published then and the result says `unchanged`.
  bool force = false;
};

// What the metrics textfile reports of one shard (shard::BuiltShard is the segment itself).
struct ShardSize {
  std::string shard;
  uint64_t docs = 0;
  uint64_t bytes = 0;  // segment file size
};

struct BuildResult {
  uint64_t version = 0;  // published, or CURRENT's when unchanged
  uint64_t parent = 0;
  bool unchanged = false;         // CURRENT already had this content: nothing was published
  snapshot::Totals totals;        // of the published version (CURRENT's when unchanged)
  uint64_t segments_written = 0;  // new segment files (others were already there)
  uint64_t bad_records = 0;
  int64_t lock_wait_ms = 0;  // waiting for the publish lock
  int64_t duration_ms = 0;
  uint64_t catalog_bytes = 0;  // read from the catalogs (as stored: compressed bytes for .gz)
  PhaseTimes phases;           // where the time went
  std::vector<ShardSize> shard_sizes;  // every shard of the published version, by shard id
};

Result<BuildResult> Build(const BuildOptions& options, Env* env);

}  // namespace pidx
