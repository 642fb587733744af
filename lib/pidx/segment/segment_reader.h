// Reads a segment from memory (normally an mmapped file; see docs/FORMAT.md).
// Open() checks what is cheap and needed to use the file safely: size, magic, format
// version, footer checksum over the whole file, reserved fields, and that every section and
// offset table lies within the file and is monotonic. Posting bitmaps are validated when
// they are read (Postings::Deserialize) and, for all of them, by Validate().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pidx/base/status.h"
#include "pidx/segment/postings.h"

namespace pidx::segment {

struct DocView {
  std::string_view external_id;
  std::string_view title;
  uint64_t content_hash = 0;
};

class SegmentReader {
 public:
  // `data` must stay valid while `keepalive` lives; the reader holds `keepalive`.
  // Errors: kCorrupt naming `name` (the file name for messages) and what is wrong.
  static Result<SegmentReader> Open(std::string_view data, std::shared_ptr<const void> keepalive,
                                    std::string name);

  const std::string& shard() const { return shard_; }
  uint32_t doc_count() const { return doc_count_; }
  uint32_t term_count() const { return term_count_; }
  uint64_t posting_count() const { return posting_count_; }  // sum of dfs
  uint64_t checksum() const { return checksum_; }            // the footer's XXH3-64
  uint64_t file_size() const { return data_.size(); }
  std::string_view bytes() const { return data_; }  // the whole file

  // REQUIRES: i < term_count()
  std::string_view term(uint32_t i) const;
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
