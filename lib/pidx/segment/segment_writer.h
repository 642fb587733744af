// Builds the bytes of one shard's segment file in memory (layout: docs/FORMAT.md).
// The output depends only on what is added: no timestamps or other run-dependent bytes,
// so the same shard content always gives a byte-identical segment.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pidx/base/status.h"

namespace pidx::segment {

// One row of the doc table; local doc id = position.
struct DocRecord {
  std::string external_id;
  std::string title;          // stored so that query can show results
  uint64_t content_hash = 0;  // XXH3 of the product's canonical content (diff/verify)
  // Format 2: one 16-bit hash per schema field (ProductFieldHashes), so that diff and verify
  // can name the fields that changed. Every doc of a segment has the same number.
  std::vector<uint16_t> field_hashes;
};

class SegmentWriter {
 public:
  // `format_version`: 2 (the default) or 1 (still written for tests of the format-1 reader;
  // format 1 has no field hashes).
  explicit SegmentWriter(std::string shard, uint32_t format_version = 2);

  // Docs are added in local doc id order (0, 1, 2, ...).
  void AddDoc(DocRecord doc);

  // REQUIRES: terms in strictly increasing byte order; ids strictly increasing, non-empty,
  // each < number of docs added (AddDoc first). Violations are a sticky kInternal status.
  void AddTerm(std::string_view term, const uint32_t* ids, size_t n);

  // The whole file: header, sections, footer with XXH3-64 checksum.
  // Returns the sticky status when an Add call was invalid.
  Result<std::string> Finish();

  // Format 2: how doc blocks are stored, kDocCodecZstd (the default) or kDocCodecRaw (for tests
  // of readers of segments written before the codec; also what Finish falls back to when a raw
  // block exceeds kMaxRawDocBlock). `level` is the zstd level (tests measure others).
  void set_doc_codec(uint32_t codec, int level);

  uint32_t doc_count() const { return static_cast<uint32_t>(docs_.size()); }
  uint32_t term_count() const { return term_count_; }
  uint64_t posting_count() const { return posting_count_; }

 private:
  Result<std::string> Finish1();
  Result<std::string> Finish2();

  std::string shard_;
  uint32_t version_;
  std::vector<DocRecord> docs_;
  std::string terms_blob_;  // concatenated term bytes
  std::vector<uint32_t> term_offsets_;
  std::vector<uint32_t> term_dfs_;
  std::string postings_blob_;  // concatenated portable bitmaps
  std::vector<uint64_t> posting_offsets_;
  // Format 2: per term, the inline delta list (df <= kInlineMaxDf), in inline_blob_.
  std::string inline_blob_;
  std::vector<uint64_t> inline_offsets_;
  std::string last_term_;
  uint32_t term_count_ = 0;
  uint64_t posting_count_ = 0;
  uint32_t doc_codec_;
  int doc_level_;
  Status status_;
};

}  // namespace pidx::segment
