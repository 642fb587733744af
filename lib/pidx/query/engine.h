// `pidx query`: evaluates a query (parser.h, docs/QUERY.md) on one version, shard by
// shard, with Roaring set operations. Read-only: takes no lock, works on a read-only copy.
//
// Contract:
// - Every shard of the version is searched, except that a category:x term the whole query
//   requires (it is ANDed at the top, or present in every OR branch) restricts the search to
//   the shards whose manifest entry holds category x. The category term still filters inside
//   those shards.
// - Within a shard an AND evaluates its cheapest operand first (by doc frequency, an upper
//   bound for ORs) and stops as soon as the intersection is empty; NOT operands of an AND are
//   subtracted last; a NOT on its own is taken from all docs of the shard.
// - Results are ordered by external id (byte order, ascending), across shards: deterministic
//   for one version whatever the shard count or thread count.
// - A shard whose segment is missing or damaged fails the query (kNotFound / kCorrupt naming
//   the shard), unless `allow_partial`: then it is skipped and listed in `unavailable`.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pidx/base/env.h"
#include "pidx/base/status.h"
#include "pidx/query/parser.h"

namespace pidx {

namespace segment {
class SegmentReader;
}
namespace snapshot {
class SnapshotStore;
struct Manifest;
}  // namespace snapshot

inline constexpr size_t kNoLimit = std::numeric_limits<size_t>::max();

struct QueryHit {
  std::string id;
  std::string title;
  std::string shard;
};

struct QueryResult {
  uint64_t total = 0;                    // products that match
  std::vector<QueryHit> hits;            // the first `limit` by external id
  uint64_t shards_searched = 0;          // after category pruning
  uint64_t shards_total = 0;             // in the version
  std::vector<std::string> unavailable;  // "shard: reason", only with allow_partial
};

struct SearchOptions {
  size_t limit = 10;  // hits to return; kNoLimit for all
  bool allow_partial = false;
};

class QueryEngine {
 public:
  // Opens `version` (0: the current one) of the index. kNotFound when the index or version
  // does not exist; kConfig when the stored schema or analyzer settings are not supported.
  static Result<QueryEngine> Open(Env* env, const std::string& index_dir, uint64_t version);
  ~QueryEngine();
  QueryEngine(QueryEngine&&) noexcept;
  QueryEngine& operator=(QueryEngine&&) noexcept;

  uint64_t version() const;
  const QueryParser& parser() const;

  // Segments are opened (checksum verified) on first use and kept for later queries.
  Result<QueryResult> Search(const QueryNode& query, const SearchOptions& options);

 private:
  struct State;
  explicit QueryEngine(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// One query as `pidx query` runs it: opens `version` (0: the current one) of the index, parses
// `text` with its settings and searches. Reading the current version, a concurrent gc that
// removes it starts the search again on the new CURRENT (ops/reader_retry.h, event
// index.query.restarted at debug level). A syntax error is kUsage with `*column` set (1-based).
struct QueryRun {
  uint64_t version = 0;  // the version searched
  std::string parsed;    // the query as terms, e.g. (AND title:usb brand:anker)
  QueryResult result;
  int64_t duration_ms = 0;
};
Result<QueryRun> RunQuery(Env* env, const std::string& index_dir, uint64_t version,
                          const std::string& text, const SearchOptions& options, size_t* column);

}  // namespace pidx
