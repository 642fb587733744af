// `pidx plan`: the first step of a scale-out build (docs/SCALE-OUT.md). One scan of the
// catalog counts the products of every shard; the shards are assigned to W workers, largest
// first, each to the least loaded worker so far (ties: the lower worker index), so that the
// workers' product counts are balanced. The plan records the catalog identity (path, size,
// XXH3 per file) and every setting that decides a segment's bytes (schema, analyzer, shards
// per category, reader options), so every worker builds with exactly the same ones and
// `publish` can check what the workers staged. On disk: docs/FORMAT.md, "Plan".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pidx/analysis/analyzer.h"
#include "pidx/base/env.h"
#include "pidx/base/status.h"
#include "pidx/ops/progress.h"
#include "pidx/snapshot/manifest.h"

namespace pidx {

// 2: per-category shard counts (category_shards, target_shard_docs); 1 still reads.
inline constexpr uint32_t kPlanFormatVersion = 2;
inline constexpr uint32_t kMaxPlanWorkers = 100000;

struct PlannedShard {
  std::string shard;
  uint64_t docs = 0;
  uint32_t worker = 0;
};

struct Plan {
  uint32_t format_version = kPlanFormatVersion;
  std::string created;  // RFC 3339 UTC
  std::string tool_version;
  std::string index;                                // the index it was planned for (informational)
  std::vector<snapshot::CatalogIdentity> catalogs;  // absolute paths
  std::string catalog_format = "auto";              // auto|jsonl|csv|tsv
  uint64_t max_line_bytes = 1024 * 1024;
  uint64_t max_bad_lines = 0;
  nlohmann::json schema;
  nlohmann::json analyzer;
  uint32_t shards_per_category = 8;
  uint64_t target_shard_docs = 0;
  std::map<std::string, uint32_t> category_shards;  // slug -> K, as in a manifest
  uint64_t products = 0;
  uint64_t bad_lines_skipped = 0;
  uint32_t workers = 1;
  std::vector<PlannedShard> shards;  // sorted by shard id

  std::vector<uint64_t> WorkerDocs() const;  // products per worker, by worker index
  std::vector<std::string> ShardsOf(uint32_t worker) const;
  const PlannedShard* FindShard(std::string_view shard) const;
  // A manifest created now by `operation` ("stage", "publish") with this plan's catalogs and
  // settings, and no shards yet: what a worker's fragment and the published version share.
  snapshot::Manifest NewManifest(const std::string& operation) const;

  // JSON, a newline, then "xxh3 <16 hex>\n" over every byte before it (as a manifest).
  std::string Serialize() const;
  // kCorrupt naming `name` for a bad checksum, JSON, field or format version.
  static Result<Plan> Parse(std::string_view bytes, const std::string& name);
  // kNotFound when the file does not exist.
  static Result<Plan> Load(Env* env, const std::string& path);
};

struct PlanOptions {
  std::vector<std::string> catalogs;
  std::string index_dir;
  std::string catalog_format = "auto";
  std::string schema_file;              // empty: the default schema
  analysis::AnalyzerSettings analyzer;  // stored in the plan; every worker builds with it
  uint32_t shards_per_category = 8;
  uint64_t target_shard_docs = 0;  // as BuildOptions
  uint64_t max_bad_lines = 0;
  uint64_t max_line_bytes = 1024 * 1024;
  uint32_t workers = 1;
  int threads = 0;
  std::string out_path;      // written durably (temporary name, fsync, rename)
  ProgressOptions progress;  // phases read, publish (writing the plan)
};

struct MadePlan {
  Plan plan;
  int64_t duration_ms = 0;
};

// Scans the catalogs and writes the plan to out_path.
// Errors: kUsage (no catalog, stdin as a catalog, workers out of range), the catalog's own
// errors (kBadData, kNotFound), kIoError writing the plan.
Result<MadePlan> MakePlan(const PlanOptions& options, Env* env);

// The worker index of this task: `flag` when >= 0, else the first of SLURM_ARRAY_TASK_ID,
// JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX that is set. kUsage when none is, or the
// value is not an integer in [0, workers). `source` (optional) gets where it came from.
Result<uint32_t> ResolveWorkerIndex(int64_t flag, uint32_t workers, std::string* source = nullptr);

}  // namespace pidx
