// `pidx diff`: what changed between two versions, from shard signatures down to terms.
// Read-only: takes no lock, writes nothing, works on read-only copies of indexes.
//
// The two sides are versions of one index or the current versions of two index directories.
// Cheap first (the seed's flow: signature, then fine-grained diff):
//   1. a shard whose segment file name is the same on both sides is equal (the name carries
//      the segment's checksum), without opening anything;
//   2. else equal manifest content signatures mean equal content, again without opening;
//   3. only shards that still differ are opened and compared: docs by external id and
//      content hash (so renumbered local doc ids are no difference), terms by merging the two
//      sorted dictionaries, postings as sets of external ids.
// Shards on one side only are added/removed shards; they are opened only to name their
// products in the product-level totals.
//
// When the schema, the analyzer or shards_per_category differ, shards and terms are not
// comparable (products sit in other shards, text gives other terms): every shard of both
// sides is opened and the comparison is made at product level only (external id and content
// hash), with `settings_differ` set.
//
// The output is documented in docs/DIFF.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pidx/base/env.h"
#include "pidx/base/status.h"

namespace pidx {

struct DiffSide {
  std::string index_dir;
  uint64_t version = 0;  // 0: the version CURRENT names
};

struct DiffOptions {
  DiffSide v1;
  DiffSide v2;
  std::string shard;  // empty: all shards
  size_t limit = 10;  // examples per list; 0 gives counts only
  int threads = 0;    // 0: one per core
};

// A counted list: how many, and the first `limit` in byte order.
struct DiffList {
  uint64_t count = 0;
  std::vector<std::string> examples;
};

struct TermOnlyExample {
  std::string term;
  uint32_t docs = 0;
};

struct TermOnlyList {
  uint64_t count = 0;
  std::vector<TermOnlyExample> examples;
};

// A term on both sides whose postings (as sets of external ids) differ.
struct TermChange {
  std::string term;
  uint32_t docs_v1 = 0;
  uint32_t docs_v2 = 0;
  DiffList entered;  // products in v2's postings and not in v1's
  DiffList left;     // products in v1's postings and not in v2's
};

struct ProductDiff {
  DiffList added;
  DiffList removed;
  DiffList changed;  // same external id, other content hash (or another shard)
  // For the examples of `changed` whose field hashes (segment format 2) tell it: id -> the
  // schema fields that differ. An id not listed: not known (a format-1 segment, a product that
  // moved shard, or different settings).
  std::map<std::string, std::vector<std::string>> changed_fields;
  bool empty() const { return added.count + removed.count + changed.count == 0; }
};

enum class ShardDiffKind { kChanged, kAdded, kRemoved };
const char* ShardDiffKindName(ShardDiffKind kind);  // "changed" | "added" | "removed"

// Invariant: only shards that differ are listed.
struct ShardDiff {
  std::string shard;
  ShardDiffKind kind = ShardDiffKind::kChanged;
  std::string segment_v1, segment_v2;  // empty on the side the shard is missing from
  uint64_t docs_v1 = 0, docs_v2 = 0;
  uint64_t terms_v1 = 0, terms_v2 = 0;
  // Filled for kChanged only: an added or removed shard is all-new or all-gone.
  ProductDiff products;
  TermOnlyList terms_only_v1;
  TermOnlyList terms_only_v2;
  uint64_t terms_changed = 0;
  std::vector<TermChange> terms_changed_examples;
};

struct DiffSideInfo {
  std::string index_dir;
  std::string version;  // "v000042"
  uint64_t shards = 0;
  uint64_t docs = 0;
  uint32_t shards_per_category = 0;
};

struct DiffResult {
  DiffSideInfo v1, v2;
  bool settings_differ = false;
  std::vector<std::string> settings_changed;  // "schema", "analyzer", "shards_per_category"
  bool terms_compared = true;                 // false at product level (settings differ)
  uint64_t shards_equal = 0;
  uint64_t shards_changed = 0;
  uint64_t shards_added = 0;
  uint64_t shards_removed = 0;
  uint64_t segments_opened = 0;
  // Products over the whole comparison (a product that moved between shards is changed).
  ProductDiff products;
  uint64_t terms_only_v1 = 0;
  uint64_t terms_only_v2 = 0;
  uint64_t terms_changed = 0;
  std::vector<ShardDiff> shards;  // sorted by shard id
  int64_t duration_ms = 0;

  // Equal: no product and no shard differs. Different settings alone are not a difference:
  // the same catalog built with other settings gives the same products.
  bool equal() const {
    return products.empty() && shards_changed + shards_added + shards_removed == 0 &&
           terms_only_v1 + terms_only_v2 + terms_changed == 0;
  }
};

// Differences are results, not errors: the Result is ok with them listed. Errors: kNotFound
// when an index directory, a version (or no CURRENT) or the --shard is missing; kCorrupt when
// a manifest or an opened segment is damaged.
Result<DiffResult> Diff(const DiffOptions& options, Env* env);

}  // namespace pidx
