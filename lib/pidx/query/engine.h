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
// - A prefix (title:pyth*) is the union of the dictionary terms that start with it; more than
//   `max_prefix_terms` of them in one shard fails the query (kUsage naming the prefix, the
//   shard and the cap) rather than answering from some of them.
// - Hints: a required category that no shard holds, and (when nothing matched) a term that no
//   searched shard holds, come back in `hints` with the closest categories or terms.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
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

// Something the query asked for that the version does not have, and what it has that is
// closest (by edit distance, then by document frequency).
struct QueryHint {
  enum class Kind { kCategory, kTerm };
  Kind kind = Kind::kTerm;
  std::string asked;                 // the folded category, or the field-scoped term
  std::vector<std::string> closest;  // at most 3; the raw categories, or field-scoped terms
};

struct QueryResult {
  uint64_t total = 0;                    // products that match
  std::vector<QueryHit> hits;            // the first `limit` by external id
  uint64_t shards_searched = 0;          // after category pruning
  uint64_t shards_total = 0;             // in the version
  std::vector<std::string> unavailable;  // "shard: reason", only with allow_partial
  std::vector<QueryHint> hints;
};

inline constexpr size_t kDefaultMaxPrefixTerms = 1000;

struct SearchOptions {
  size_t limit = 10;  // hits to return; kNoLimit for all
  bool allow_partial = false;
  size_t max_prefix_terms = kDefaultMaxPrefixTerms;  // per prefix and shard; 1 to 10^9
  bool hints = true;  // compute `hints` (costs a dictionary walk only when they apply)
  // Evaluate a shard of at most kBitsetMaxDocs docs on bitsets of its docs (engine.cc);
  // false: on CRoaring bitmaps, as larger shards always are. The answers are the same (a
  // generated test compares the two); false exists for that test.
  bool bitset_evaluation = true;
};

// The largest shard (docs) a query evaluates on bitsets: 1,024 words, 8 KiB per bitset, one
// Roaring container's range of ids. Larger ones are evaluated on CRoaring bitmaps, where a
// sparse list does not cost a bitset of the whole shard.
inline constexpr uint32_t kBitsetMaxDocs = 65536;

// The segments a QueryEngine keeps open between queries by default, in a process that may
// make `map_limit` memory mappings (base/map_limit.h: vm.max_map_count, or
// PIDX_TEST_MAP_LIMIT): half of them, at least 1. Each open segment is one mapping, and the
// kernel counts every mapping of the process against the same limit (shared libraries,
// malloc arenas, two per thread stack, a second engine of a reader that reloads): half leaves
// those 32k at the default 65530, and a test's small limit still has room for the files a
// command maps besides segments. Past the cap the least recently used segment is released,
// so an index of any number of shards is searched within the limit.
size_t MaxOpenSegmentsFor(uint64_t map_limit);

struct EngineOptions {
  // At most this many segments stay open (mapped); past it the least recently used one is
  // released and opened again, checksum verified again, when a later query needs it.
  // 0: MaxOpenSegmentsFor(ProcessMapLimit(env)), decided when the engine is opened.
  size_t max_open_segments = 0;
};

class QueryEngine {
 public:
  // Opens `version` (0: the current one) of the index. kNotFound when the index or version
  // does not exist; kConfig when the stored schema or analyzer settings are not supported.
  // No segment is opened here: each is opened when a query first needs it.
  static Result<QueryEngine> Open(Env* env, const std::string& index_dir, uint64_t version);
  static Result<QueryEngine> Open(Env* env, const std::string& index_dir, uint64_t version,
                                  const EngineOptions& options);
  ~QueryEngine();
  QueryEngine(QueryEngine&&) noexcept;
  QueryEngine& operator=(QueryEngine&&) noexcept;

  uint64_t version() const;
  const QueryParser& parser() const;

  // Segments are opened (checksum verified) on first use and kept for later queries, at most
  // EngineOptions::max_open_segments of them. A segment that could not be opened is not
  // retried by later queries of this engine.
  Result<QueryResult> Search(const QueryNode& query, const SearchOptions& options);

  // --- The in-process form, for a long-running reader (lib/pidx/reader/) ---
  // Opens every shard's segment now, with the checks Search does on first use (OpenSegment:
  // size, checksum, structure, the manifest entry's counts); the first failure is returned
  // (kNotFound / kCorrupt naming the shard). A version that fails here must not be served.
  // Invariant once it succeeded: Search and FindProduct change nothing in the engine, so any
  // number of threads may call them at once on one engine (no Open/move/destroy meanwhile).
  Status OpenAllShards();
  // The manifest of the open version (its `shards` are the entries searched).
  const snapshot::Manifest& manifest() const;
  // The stored fields of the product with external id `id`: a binary search of each open
  // shard's doc table (docs are sorted by external id within a shard). nullopt when no open
  // shard holds it. REQUIRES: OpenAllShards() succeeded (shards not yet opened are not read).
  std::optional<QueryHit> FindProduct(std::string_view id) const;

 private:
  struct State;
  explicit QueryEngine(std::unique_ptr<State> state);
  void AddHints(const QueryNode& query, const std::optional<std::set<std::string>>& required,
                const std::vector<size_t>& searched, QueryResult* result);
  std::unique_ptr<State> state_;
};

// One query as `pidx query` runs it: opens `version` (0: the current one) of the index, parses
// `text` with its settings and searches. Reading the current version, a concurrent gc that
// removes it starts the search again on the new CURRENT (ops/reader_retry.h, event
// index.query.restarted at debug level). A syntax error is kUsage with `notes->syntax_error`
// and `notes->column` (1-based) set; a prefix that expands past SearchOptions::max_prefix_terms
// is kUsage too, without them.
struct QueryRun {
  uint64_t version = 0;  // the version searched
  std::string parsed;    // the query as terms, e.g. (AND title:usb brand:anker)
  QueryResult result;
  int64_t duration_ms = 0;
};
struct QueryRunNotes {
  QueryNotes query;           // what the parser noted (dropped words, a phrase)
  bool syntax_error = false;  // the failure was the query's syntax
  size_t column = 0;          // where, 1-based
};
Result<QueryRun> RunQuery(Env* env, const std::string& index_dir, uint64_t version,
                          const std::string& text, const SearchOptions& options,
                          QueryRunNotes* notes);

}  // namespace pidx
