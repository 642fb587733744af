// Reads a segment from memory (normally an mmapped file; see docs/FORMAT.md), format 1 or 2.
//
// Two ways to open:
// - fully (the default; verify, build's read-back, diff, stats): size, magic, format version,
//   the whole-file checksum, for format 2 every block and chunk checksum too, reserved fields,
//   and that every section, table and record lies within the file. The index accessors
//   (term(i), doc_freq(i), postings(i), doc(i), ...) need this; Validate() adds the deep check.
// - lazily (OpenOptions::verify_all = false; format 2 only, a query): header, footer and the
//   small sections (shard name, block index, checksum tables) under the footer's meta checksum,
//   and their structure. Every dictionary block, posting chunk and doc block is checked against
//   its own checksum the first time Lookup / ForEachEntryWithPrefix / ReadPostings / ReadDoc
//   touches it, so a query never reads bytes no checksum covered, and never hashes the rest of
//   the file. Only those four calls (and the counts) may be used on a lazily opened reader.
//   A format-1 segment has one checksum, so it is always opened fully.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pidx/base/status.h"
#include "pidx/segment/postings.h"

namespace pidx::segment {

struct DocView {
  std::string_view external_id;
  std::string_view title;
  uint64_t content_hash = 0;
  // Format 2: field_hash_count() u16 LE hashes, one per schema field (empty in format 1).
  std::string_view field_hashes;
  uint16_t field_hash(size_t i) const {
    return static_cast<uint16_t>(static_cast<unsigned char>(field_hashes[2 * i]) |
                                 (static_cast<unsigned char>(field_hashes[2 * i + 1]) << 8));
  }
};

struct OpenOptions {
  bool verify_all = true;  // false: lazy (format 2), see above
};

// One dictionary entry, found by Lookup or ForEachEntryWithPrefix.
struct TermEntry {
  std::string_view term;  // within the reader (its file or decoded blocks): valid while it lives
  uint32_t ordinal = 0;   // its index in the dictionary
  uint32_t df = 0;
  bool inline_list = false;  // `list` is a delta varint list (format 2), else portable Roaring
  std::string_view list;     // the list's bytes, within the file
};

class SegmentReader {
 public:
  // `data` must stay valid while `keepalive` lives; the reader holds `keepalive`.
  // Errors: kCorrupt naming `name` (the file name for messages) and what is wrong.
  static Result<SegmentReader> Open(std::string_view data, std::shared_ptr<const void> keepalive,
                                    std::string name);
  static Result<SegmentReader> Open(std::string_view data, std::shared_ptr<const void> keepalive,
                                    std::string name, const OpenOptions& options);

  uint32_t format_version() const { return version_; }
  bool fully_verified() const { return full_; }
  uint32_t field_hash_count() const { return field_hash_count_; }
  uint32_t doc_codec() const { return doc_codec_; }  // format 2: kDocCodecRaw or kDocCodecZstd

  // --- Usable on any reader (lazy or full). Errors are kCorrupt naming the file and block. ---
  // The entry of `term`, or nullopt when the dictionary does not hold it.
  Result<std::optional<TermEntry>> Lookup(std::string_view term) const;
  // Calls fn for the entries whose term starts with `prefix`, in dictionary order, for at most
  // `cap` of them; returns how many it visited, or cap + 1 when more have the prefix.
  Result<size_t> ForEachEntryWithPrefix(std::string_view prefix, size_t cap,
                                        const std::function<void(const TermEntry&)>& fn) const;
  // Calls fn(term, df) for every term that starts with `prefix`, in dictionary order, without
  // building entries (query hints walk whole fields with it). The view lives during the call.
  Status ForEachTermView(std::string_view prefix,
                         const std::function<void(std::string_view, uint32_t)>& fn) const;
  // The posting list of an entry of this reader (validated; its chunks' checksums checked).
  Result<Postings> ReadPostings(const TermEntry& entry) const;
  // The same list, with the same checks and findings, as bits: sets bit d of `bits` (one u64
  // per 64 docs) for each doc d of it, and builds no bitmap. A query over a small shard
  // evaluates on such bitsets (query/engine.cc). On failure `bits` may hold part of the list.
  // REQUIRES: bits->size() >= (doc_count() + 63) / 64
  Status ReadPostingsInto(const TermEntry& entry, std::vector<uint64_t>* bits) const;
  // Doc record i (its block's checksum checked). REQUIRES: i < doc_count()
  Result<DocView> ReadDoc(uint32_t i) const;

  // --- The index accessors below need a fully opened reader. ---
  const std::string& shard() const { return shard_; }
  uint32_t doc_count() const { return doc_count_; }
  uint32_t term_count() const { return term_count_; }
  uint64_t posting_count() const { return posting_count_; }  // sum of dfs
  uint64_t checksum() const { return checksum_; }            // the footer's XXH3-64
  uint64_t file_size() const { return data_.size(); }
  std::string_view bytes() const { return data_; }  // the whole file

  // REQUIRES: i < term_count()
  std::string_view term(uint32_t i) const;
  // Format 2: the list of term i is inline varints (posting_bytes are those bytes).
  bool posting_inline(uint32_t i) const;
  uint32_t doc_freq(uint32_t i) const;
  std::string_view posting_bytes(uint32_t i) const;
  Result<Postings> postings(uint32_t i) const;
  // Binary search in the sorted dictionary.
  std::optional<uint32_t> FindTerm(std::string_view term) const;
  // Calls fn(i) for the terms that start with `prefix`, in dictionary order (one binary search,
  // then a walk), for at most `cap` of them. Returns how many it visited, or cap + 1 when more
  // than `cap` terms have the prefix (fn has then been called `cap` times).
  // Like FindTerm, exact only on a dictionary Validate() proved sorted; never out of bounds.
  size_t ForEachTermWithPrefix(std::string_view prefix, size_t cap,
                               const std::function<void(uint32_t)>& fn) const;

  // REQUIRES: i < doc_count()
  DocView doc(uint32_t i) const;

  // Deep check: terms strictly increasing, every posting deserializes and validates with ids
  // < doc_count and cardinality == df, every doc appears in at least one posting, the doc
  // table parses. kCorrupt with the first problem found.
  Status Validate() const;

 private:
  SegmentReader() = default;
  struct Block {
    uint64_t offset = 0;  // within its section
    uint64_t size = 0;
    uint64_t checksum = 0;
    std::string_view first_term;  // dictionary blocks only
  };
  static Result<SegmentReader> Open2(std::string_view data, std::string name, bool full);
  Status VerifyBlock(const char* what, size_t index, std::string_view bytes, uint64_t stored,
                     std::atomic<uint8_t>* flag) const;
  Status VerifyPostingRange(uint64_t begin, uint64_t end) const;
  Status Validate2() const;
  Status Materialize();                 // format 2, full: decode the dictionary and the doc offsets
  TermEntry EntryAt(uint32_t i) const;  // full readers
  // Lazy readers: the first dictionary block that may hold terms >= `t`, its bytes checked.
  size_t FirstBlockFor(std::string_view t) const;
  Status CheckedBlock(size_t b, std::string_view* bytes, uint32_t* entries) const;
  // Lazy readers: dictionary block b decoded (checksum and structure checked) the first time
  // a lookup needs it, then kept while the reader lives, so that a long-running engine
  // binary-searches a block it has read before instead of decoding it again. It costs about
  // the block's own bytes plus 28 bytes a term, for the blocks queries touched.
  struct DecodedBlock;
  struct DecodedBlocks;
  Result<const DecodedBlock*> Decoded(size_t b) const;
  // Doc block b's raw records: its checksum checked; codec 1 decompressed (lazy readers: once,
  // then kept in decoded_docs_ while the reader lives) and its records checked to tile it.
  Result<std::string_view> DocBlock(size_t b) const;
  // Parses the `entries` records of doc block b, which must fill `block` exactly; appends each
  // record's end (`base` + its offset in the block) to `ends` when not null.
  Status ParseDocBlock(size_t b, std::string_view block, uint64_t base,
                       std::vector<uint64_t>* ends) const;
  struct DecodedDocBlocks;
  Status Corrupt(const std::string& what) const;

  uint32_t version_ = 1;
  bool full_ = true;
  uint32_t field_hash_count_ = 0;
  uint32_t term_block_size_ = 0;
  uint32_t doc_block_size_ = 0;
  uint32_t chunk_size_ = 0;
  uint32_t inline_max_df_ = 0;
  uint32_t doc_codec_ = 0;     // footer doc_codec: kDocCodecRaw or kDocCodecZstd
  std::vector<Block> blocks_;  // dictionary blocks
  // Lazy readers. Terms are field-scoped ("title:blue"), so the blocks of one field share a
  // prefix up to its ':' and form one run (strings between two with a prefix share it, so a
  // run is contiguous). Per block: 8 bytes of its first term after its run's prefix,
  // big-endian, zero-padded (BlockKey), which a lookup compares in memory before it reads a
  // first term in the file.
  struct FieldRun {
    std::string_view prefix;  // up to and including ':'
    size_t begin = 0, end = 0;
  };
  std::vector<FieldRun> field_runs_;
  std::vector<uint64_t> block_keys_;
  // The last block whose first term is <= t, or blocks_.size() when none is.
  size_t BlockFor(std::string_view t) const;
  std::vector<Block> doc_blocks_;  // doc blocks
  const unsigned char* chunk_sums_ = nullptr;
  // Checked flags, one byte per dictionary block, posting chunk and doc block (in that order);
  // shared by copies of the reader, set at most once each (concurrent readers may both check).
  std::shared_ptr<std::atomic<uint8_t>[]> checked_;
  std::shared_ptr<DecodedBlocks> decoded_;  // lazy readers: one slot per dictionary block
  // Format 2, full: the dictionary decoded (terms, dfs, list bytes) and every doc's offset.
  std::string flat_terms_;
  std::vector<uint32_t> flat_term_offsets_;
  std::vector<uint32_t> flat_dfs_;
  std::vector<std::string_view> flat_lists_;
  std::vector<uint8_t> flat_inline_;
  std::vector<uint64_t> flat_doc_offsets_;  // into docs_blob_
  // Codec 1. Full readers: every doc block decompressed, back to back (docs_blob_ views it).
  // Lazy readers: one slot per doc block, filled by the first ReadDoc of it.
  std::shared_ptr<const std::string> docs_raw_;
  std::shared_ptr<DecodedDocBlocks> decoded_docs_;
  std::shared_ptr<const void> keepalive_;
  std::string_view data_;
  std::string name_;
  std::string shard_;
  uint32_t doc_count_ = 0;
  uint32_t term_count_ = 0;
  uint64_t posting_count_ = 0;
  uint64_t checksum_ = 0;
  // Views into data_ (see docs/FORMAT.md).
  std::string_view terms_blob_;
  const unsigned char* term_offsets_ = nullptr;  // (term_count+1) x u32 LE
  const unsigned char* term_dfs_ = nullptr;      // term_count x u32 LE
  std::string_view postings_blob_;
  const unsigned char* posting_offsets_ = nullptr;  // (term_count+1) x u64 LE
  std::string_view docs_blob_;
  const unsigned char* doc_offsets_ = nullptr;  // (doc_count+1) x u64 LE
};

}  // namespace pidx::segment
