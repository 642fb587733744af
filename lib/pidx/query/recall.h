// `pidx recall`: measures how much of what a query set expects a version actually finds, so
// a pipeline can fail on a recall drop (the seed's incident: 92.3% -> 50.6%, unnoticed).
// Read-only: takes no lock.
//
// The query set is JSON Lines, one object per line (blank lines skipped):
//   {"query": "wireless charger category:electronics", "expected": ["SKU-1", "SKU-7"]}
// `expected` holds external ids (strings, or integers as their decimal text).
//
// `expected` must not be empty: a query that expects nothing measures nothing, and a set of
// them would report recall 1 for an index that finds nothing.
// Recall of a query: |expected ∩ found| / |expected|. Overall
// recall: found expected ids / all expected ids over the set (each expected product weighs
// the same). Extra matches do not lower recall; `matches` reports them for people.
// A shard that cannot be read is skipped (it lowers recall) and listed in `unavailable`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pidx/base/env.h"
#include "pidx/base/status.h"

namespace pidx {

struct RecallOptions {
  std::string index_dir;
  uint64_t version = 0;  // 0: current
  std::string queries_file;
  size_t max_missing = 10;  // missing ids listed per query
};

struct QueryRecall {
  uint64_t line = 0;
  std::string query;
  uint64_t expected = 0;
  uint64_t found = 0;    // expected ids the query matched
  uint64_t matches = 0;  // everything the query matched
  double recall = 1.0;
  std::vector<std::string> missing;  // first max_missing expected ids not found
};

struct RecallResult {
  uint64_t version = 0;
  std::vector<QueryRecall> queries;
  uint64_t expected = 0;
  uint64_t found = 0;
  double recall = 1.0;                   // overall: found / expected
  double mean_query_recall = 1.0;        // mean of the per-query recalls
  std::vector<std::string> unavailable;  // "shard: reason"
  int64_t duration_ms = 0;
};

// kNotFound for a missing index, version or query file; kBadData "<file>:<line>: <reason>" for
// a malformed line, a query that does not parse or an empty `expected`; kBadData when the file
// has no query (nothing to measure: never recall 1).
Result<RecallResult> Recall(const RecallOptions& options, Env* env);

}  // namespace pidx
