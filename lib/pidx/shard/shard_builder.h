// Collects the analyzed products of one shard and turns them into a segment. The one shard
// builder of pidx: `build`, `rebuild-shard` and scale-out workers all use it, so a shard
// rebuilt alone is byte-identical to the same shard of a full build.
//
// Determinism: local doc ids follow the byte order of external ids, whatever the order in
// which products were added (catalog order, thread interleaving), and postings are built in
// doc order (also the fast order for Roaring).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pidx/base/env.h"
#include "pidx/base/status.h"
#include "pidx/catalog/product.h"
#include "pidx/catalog/schema.h"

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

// XXH3 of a product's canonical content: every schema field's values in schema order, attrs
// entries ordered by key (an object's key order carries no meaning; the order of an array's
// values under one key is kept). Two products with equal hashes have equal indexed and stored
// content.
uint64_t ProductContentHash(const catalog::Schema& schema, const catalog::Product& product);

// One 16-bit hash per schema field, in schema order (segment format 2 stores them in each doc
// record): the low 16 bits of XXH3 over the field's part of the content hash's input (u32 value
// count, then each value length-prefixed, numbers canonical, attrs ordered by key); the id
// field hashes the id and the category field the raw category, each length-prefixed. Equal
// fields always hash equally, so a field whose hash differs did change; a changed field keeps
// its hash with probability 2^-16, which only makes diff/verify name fewer fields.
// Appends them to `out` as u16 little-endian.
void ProductFieldHashes(const catalog::Schema& schema, const catalog::Product& product,
                        std::string* out);

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
  // The same with the field hashes (ProductFieldHashes' bytes); Ingest calls this one.
  virtual void AddWithFields(std::string external_id, std::string title, uint64_t content_hash,
                             std::string_view field_hashes, const std::vector<std::string>& terms) {
    (void)field_hashes;
    Add(std::move(external_id), std::move(title), content_hash, terms);
  }
};

class ShardBuilder;

// Where the shard builders of one ingest spill when together they hold more than a memory
// budget: sorted runs in temporary files (NewTempFile, so the abandoned-temporary sweep of
// a later run removes what a crashed one left) under `dir`, written and read through `env`.
// The builders share it through shared_ptr; the last one to go removes the files, also when
// the build fails. Thread-safe.
class SpillArea {
 public:
  // `budget`: bytes all registered builders may hold before the next Add spills them all.
  SpillArea(Env* env, std::string dir, uint64_t budget);
  ~SpillArea();
  SpillArea(const SpillArea&) = delete;
  SpillArea& operator=(const SpillArea&) = delete;

  uint64_t budget() const { return budget_; }
  // Bytes the caller holds itself and counts against the same budget (Ingest: the duplicate
  // check and the batches in flight); the builders spill when theirs and these exceed it.
  void SetReserved(uint64_t bytes) { reserved_.store(static_cast<int64_t>(bytes)); }
  uint64_t spills() const;         // spill rounds so far
  uint64_t spilled_bytes() const;  // bytes written to spill files so far

 private:
  friend class ShardBuilder;
  struct RunRef {
    size_t file;
    uint64_t offset;
    uint64_t size;
  };
  void Register(ShardBuilder* builder);
  void Unregister(ShardBuilder* builder);
  // Adds `delta` to the bytes held; spills every builder when past the budget.
  Status Charge(int64_t delta);
  Result<std::string> ReadRun(const RunRef& run);

  Env* env_;
  std::string dir_;
  uint64_t budget_;
  std::atomic<int64_t> held_{0};
  std::atomic<int64_t> reserved_{0};
  mutable std::mutex mu_;  // guards everything below; taken before any builder's mutex
  std::vector<ShardBuilder*> builders_;
  std::vector<std::string> files_;
  // The one spill file, open for appending until the area is destroyed (after files_ are
  // removed): its flock tells a gc, even in another PID namespace, that it is a live build's.
  std::unique_ptr<WritableFile> file_;
  uint64_t file_size_ = 0;
  uint64_t spills_ = 0;
  uint64_t spilled_bytes_ = 0;
  uint64_t trimmed_at_ = 0;  // spilled_bytes_ at the last malloc_trim
  Status status_;            // the first spill failure, sticky
};

class ShardBuilder final : public ShardSink {
 public:
  explicit ShardBuilder(std::string shard);
  // Spills through `spill` (shared with the other builders of the same ingest) when the
  // builders together hold more than its budget. The segment is byte-identical either way.
  ShardBuilder(std::string shard, std::shared_ptr<SpillArea> spill);
  ~ShardBuilder() override;

  void Add(std::string external_id, std::string title, uint64_t content_hash,
           const std::vector<std::string>& terms) override;
  void AddWithFields(std::string external_id, std::string title, uint64_t content_hash,
                     std::string_view field_hashes, const std::vector<std::string>& terms) override;

  // Moves every product to parts[ShardNumber(id, parts.size())] (a null part drops them),
  // leaving this builder empty: Ingest collects a category whose shard count is not known yet
  // in one builder, and splits it once it is. Each part's segment is the one it would write
  // had it been given its products directly. REQUIRES: no Add runs meanwhile on this builder.
  Status SplitInto(const std::vector<ShardBuilder*>& parts);

  size_t doc_count() const;
  // Sorts, inverts and serializes. Call once, after all Adds.
  Result<BuiltShard> Finish();

 private:
  friend class SpillArea;
  // Interns `term`, returning its shard-local id (insertion order).
  uint32_t Intern(std::string_view term, uint64_t hash);
  // Makes room for `more` terms without growing during the next `more` Interns.
  void Reserve(size_t more);
  void GrowTable();
  // Bytes held by the structures below (capacities).
  int64_t HeldBytes() const;
  // Appends the held docs as one run (docs in external id order) and clears them.
  void SerializeRun(std::string* out);
  Status LoadRun(std::string_view run);
  // Adds each doc of a run to parts[ShardNumber(id, parts.size())] (null: dropped).
  Status DistributeRun(std::string_view run, const std::vector<ShardBuilder*>& parts);
  void Clear();

  std::string shard_;
  std::shared_ptr<SpillArea> spill_;
  mutable std::mutex mu_;
  // Term dictionary: bytes in `term_bytes_`, term t = [term_offsets_[t], term_offsets_[t+1]).
  std::string term_bytes_;
  std::vector<uint32_t> term_offsets_{0};
  // Open addressing, linear probing; id_plus_one 0 = empty. 8 bytes a slot: with 50k
  // categories a build holds 42k small builders, and 16-byte slots (the term's offset and
  // length in the slot) made the tables most of what they held. The term's bytes are found
  // through term_offsets_.
  struct Slot {
    uint32_t hash;  // high half of the term's XXH3
    uint32_t id_plus_one;
  };
  std::vector<Slot> table_;
  // Docs: id, title and field hashes in `doc_bytes_` (each u32 length + bytes), doc d's record
  // starts at doc_offsets_[d]; its term ids, sorted, are LEB128 deltas in
  // doc_terms_[doc_term_starts_[d], doc_term_starts_[d + 1]).
  std::vector<char> doc_bytes_;
  std::vector<uint64_t> doc_offsets_{0};
  std::vector<uint64_t> doc_hashes_;
  std::vector<char> doc_terms_;
  std::vector<uint64_t> doc_term_starts_{0};
  int64_t charged_ = 0;  // HeldBytes() last reported to spill_
  std::vector<SpillArea::RunRef> runs_;
  size_t spilled_docs_ = 0;
  Status status_;  // sticky spill failure, returned by Finish
};

}  // namespace pidx::shard
