// Collects the analyzed products of one shard and turns them into a segment. The one shard
// builder of pidx: `build`, `rebuild-shard` and scale-out workers all use it, so a shard
// rebuilt alone is byte-identical to the same shard of a full build.
//
// Determinism: local doc ids follow the byte order of external ids, whatever the order in
// which products were added (catalog order, thread interleaving), and postings are built in
// doc order (also the fast order for Roaring).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pidx/catalog/product.h"
#include "pidx/catalog/schema.h"
#include "pidx/status.h"

namespace pidx::shard {

struct BuiltShard {
  std::string shard;
  std::string bytes;  // the segment file
  uint32_t docs = 0;
  uint32_t terms = 0;
  uint64_t postings = 0;
  uint64_t checksum = 0;   // the segment footer's XXH3
  uint64_t signature = 0;  // ContentSignature
  std::string term_bloom;  // TermBloom hex
};

// XXH3 of a product's canonical content: every schema field's values in schema order.
// Two products with equal hashes have equal indexed and stored content.
uint64_t ProductContentHash(const catalog::Schema& schema, const catalog::Product& product);

// The title shown in query results: the first text field named "title", else the first text
// field, else empty.
std::string_view StoredTitle(const catalog::Schema& schema, const catalog::Product& product);

// Receives the analyzed products of one shard (from Ingest's workers, concurrently).
class ShardSink {
 public:
  virtual ~ShardSink() = default;
  // Thread-safe. `terms` sorted and unique (Analyzer::AnalyzeProduct).
  virtual void Add(std::string external_id, std::string title, uint64_t content_hash,
                   const std::vector<std::string>& terms) = 0;
};

class ShardBuilder final : public ShardSink {
 public:
  explicit ShardBuilder(std::string shard);

  void Add(std::string external_id, std::string title, uint64_t content_hash,
           const std::vector<std::string>& terms) override;

  size_t doc_count() const;
  // Sorts, inverts and serializes. Call once, after all Adds.
  Result<BuiltShard> Finish();

 private:
  struct Doc {
    std::string external_id;
    std::string title;
    uint64_t content_hash;
    std::vector<uint32_t> term_ids;  // into term_ids_ (shard-local, insertion order)
  };
  std::string shard_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint32_t> term_ids_;
  std::vector<Doc> docs_;
};

}  // namespace pidx::shard
