// Reads catalogs and feeds every product into the builder of its shard: the pipeline shared
// by `build` (all shards) and `rebuild-shard` (one shard).
//
// Threads: the calling thread reads and parses the catalog files in order, checks ids for
// duplicates, computes each product's shard and hands batches to `threads` workers, which run
// the analyzer (the expensive part) and add to the shard builders. Products of shards the
// filter rejects are dropped before analysis, so a one-shard rebuild costs about a scan.
// Memory: bounded batches in flight, the duplicate check (id_set.h: about 30 bytes per product
// plus the id), plus what
// the shard builders hold (the index itself; bounded by memory_budget when set).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pidx/analysis/analyzer.h"
#include "pidx/base/status.h"
#include "pidx/catalog/catalog_reader.h"
#include "pidx/catalog/schema.h"
#include "pidx/shard/shard_builder.h"

namespace pidx::shard {

struct IngestProgress {
  uint64_t products = 0;
  uint64_t bytes = 0;        // consumed so far, over all files
  uint64_t total_bytes = 0;  // sum of known file sizes (0 when unknown, e.g. stdin)
  int64_t elapsed_ms = 0;
  uint64_t shards = 0;  // shards accepted so far (each one becomes a segment)
};

struct IngestOptions {
  catalog::Schema schema = catalog::Schema::Default();
  analysis::AnalyzerSettings analyzer;
  // S: the most shards a category may have (its shard count is a divisor of S).
  uint32_t shards_per_category = 8;
  // Shard counts fixed in advance, by category slug (a manifest's or a plan's). A slug not
  // listed gets ShardCountFor(its products in this catalog, S, target_shard_docs), decided
  // after the scan: its products are routed to S partitions while reading, and partition b
  // becomes shard b mod K (shard_id.h).
  std::map<std::string, uint32_t> category_shards;
  uint64_t target_shard_docs = 0;  // 0: every slug not listed gets S shards
  catalog::ReaderOptions reader;
  uint64_t max_bad_lines = 0;
  int threads = 0;  // workers; 0 = one per core
  // Makes the sink of a shard; empty = a ShardBuilder (what build and rebuild-shard use).
  std::function<std::unique_ptr<ShardSink>(const std::string& shard)> make_sink;
  // Only shards for which this returns true are built; empty = all. Called with final shard
  // ids (for a slug whose count is decided after the scan, with every id it may end up with).
  std::function<bool(const std::string& shard)> shard_filter;
  // Called for every bad record that is skipped (within max_bad_lines).
  std::function<void(const Status& bad)> on_bad_record;
  // Called from the reading thread about every `progress_interval_ms`.
  std::function<void(const IngestProgress&)> on_progress;
  int64_t progress_interval_ms = 5000;
  // Bytes the default shard builders may hold together; past it they spill sorted runs to
  // temporary files in `spill_dir` (through `env`, Env::Default() when null) and merge them
  // in Finish. 0 = no limit. Segments are byte-identical either way.
  uint64_t memory_budget = 0;
  std::string spill_dir;
  Env* env = nullptr;
};

// A catalog's identity, from the bytes the scan consumed (as stored, compressed or not): the
// same for a file, a pipe of the same bytes or standard input.
struct CatalogFileInfo {
  std::string path;
  uint64_t size = 0;  // bytes read
  std::string xxh3;   // of those bytes, 16 hex digits
  uint64_t products = 0;
};

struct IngestResult {
  std::map<std::string, std::unique_ptr<ShardSink>> sinks;  // by shard id (accepted shards)
  std::map<std::string, std::map<std::string, uint64_t>> categories;  // shard -> category -> docs
  std::vector<CatalogFileInfo> files;
  uint64_t products = 0;       // accepted by the filter
  uint64_t products_seen = 0;  // all good records
  uint64_t bad_records = 0;
  std::map<std::string, uint64_t> all_shards;  // every shard the catalog implies -> docs
  // The shard count of every slug the catalog has: as given, or as decided (IngestOptions).
  std::map<std::string, uint32_t> category_shards;
  // Spill files of the builders (shared by them, removed when the last builder goes); null
  // without a memory budget.
  std::shared_ptr<SpillArea> spill;
};

// Errors: the first bad record beyond max_bad_lines (kBadData, "file:line: reason"), a
// duplicate id (kBadData, naming both places), kNotFound/kIoError from the files,
// kInterrupted when a signal arrived.
Result<IngestResult> Ingest(const std::vector<std::string>& catalogs, const IngestOptions& options);

// The shard a product belongs to (folds the category with `analyzer`), in a category of
// `category_shards` shards.
std::string ShardOf(const analysis::Analyzer& analyzer, std::string_view category,
                    std::string_view id, uint32_t category_shards);

}  // namespace pidx::shard
