// `pidx stats`: what is inside a version, per shard and in total: docs, terms, postings,
// bytes, the Roaring container mix, and Roaring's size against a plain uint32 array of the
// same postings. Read-only: takes no lock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pidx/base/env.h"
#include "pidx/base/status.h"

namespace pidx {

struct StatsOptions {
  std::string index_dir;
  uint64_t version = 0;  // 0: current
  std::string shard;     // empty: all shards
  uint32_t top_terms = 0;
  int threads = 0;
};

struct TermCount {
  std::string term;
  uint64_t docs = 0;
};

struct ShardStats {
  std::string shard;
  std::string category_slug;  // the shard id's category part (electronics of electronics_007)
  std::string segment;
  uint64_t docs = 0;
  uint64_t terms = 0;
  uint64_t postings = 0;
  uint64_t bytes = 0;          // segment file size
  uint64_t roaring_bytes = 0;  // serialized postings
  uint64_t array_bytes = 0;    // 4 bytes per posting
  uint64_t containers_array = 0;
  uint64_t containers_bitmap = 0;
  uint64_t containers_run = 0;
  std::vector<TermCount> top_terms;
  // Raw category -> docs in this shard (the manifest's, proven by the segment); empty in total.
  std::vector<std::pair<std::string, uint64_t>> categories;
};

struct StatsResult {
  uint64_t version = 0;
  std::string created;
  uint32_t shards_per_category = 0;
  std::vector<ShardStats> shards;
  ShardStats total;  // shard = "total"; top_terms merged over the shown shards
  std::vector<std::pair<std::string, uint64_t>> categories;  // raw category -> docs
};

Result<StatsResult> Stats(const StatsOptions& options, Env* env);

}  // namespace pidx
