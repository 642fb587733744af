// The small encodings of segment format 2 (docs/FORMAT.md "Format 2"): LEB128 varints,
// delta-coded doc id lists and front-coded dictionary blocks. Every decoder is bounded by
// the bytes it is given and reports malformed input instead of reading past it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pidx::segment {

// Unsigned LEB128: 7 bits per byte, low bits first, high bit set on every byte but the last.
void PutVarint(std::string* out, uint64_t v);
size_t VarintLength(uint64_t v);

// Reads from [p, end); every read fails (returns false) rather than pass `end`.
class ByteCursor {
 public:
  ByteCursor() = default;
  explicit ByteCursor(std::string_view bytes)
      : p_(reinterpret_cast<const unsigned char*>(bytes.data())), end_(p_ + bytes.size()) {}
  // At most 10 bytes; a varint longer than that, one that overflows 64 bits, or one with a
  // redundant zero continuation (not the shortest form) is malformed.
  bool Varint(uint64_t* v) {
    // One byte is the common case (deltas, lengths, small dfs): no loop, no call.
    if (p_ != end_ && *p_ < 0x80) {
      *v = *p_++;
      return true;
    }
    return VarintSlow(v);
  }
  bool Varint32(uint32_t* v);
  bool Bytes(uint64_t n, std::string_view* out);
  // Moves past n varints without decoding them: each ends at its first byte below 0x80, and
  // eight bytes are counted at a time. Their form (length, shortest encoding) is not checked:
  // that is for whoever decodes them. False, not moved, when fewer than n end before the end.
  bool SkipVarints(uint64_t n);
  bool Fixed64(uint64_t* v);
  bool Fixed16(uint16_t* v);
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool done() const { return p_ == end_; }
  const unsigned char* position() const { return p_; }

 private:
  bool VarintSlow(uint64_t* v);
  const unsigned char* p_ = nullptr;
  const unsigned char* end_ = nullptr;
};

// A delta list: n varints, the first id itself, then each id minus the one before (>= 1).
void EncodeDeltaList(const uint32_t* ids, size_t n, std::string* out);
// Decodes n ids that must be strictly increasing and < doc_limit. Appends them to `ids` when
// given. Returns false (with *why set) on malformed input.
bool DecodeDeltaList(ByteCursor* in, uint64_t n, uint32_t doc_limit, std::vector<uint32_t>* ids,
                     std::string* why);

// One dictionary entry as a block stores it.
struct BlockEntry {
  std::string_view term;
  uint32_t df = 0;
  std::string_view
      inline_list;            // the delta list's bytes (EncodeDeltaList) when df <= inline_max_df
  uint64_t roaring_size = 0;  // else: the size of its portable Roaring list
};

// Appends one front-coded block: varint postings_start, then per entry varint shared-prefix
// length (0 for the first), varint suffix length, suffix, varint df, then the delta list
// (df <= inline_max_df) or the varint byte size of its Roaring list.
void EncodeBlock(uint64_t postings_start, const std::vector<BlockEntry>& entries,
                 uint32_t inline_max_df, std::string* out);

// Walks a block's entries in order. Every field is checked against the block's bytes, dfs
// against doc_limit, Roaring ranges against postings_size; inline lists are skipped as varints
// (their ids are checked by DecodeDeltaList where they are read).
class BlockCursor {
 public:
  BlockCursor(std::string_view block, uint32_t entries, uint32_t inline_max_df, uint32_t doc_limit,
              uint64_t postings_size);
  // Reads the block's header; false when malformed (why()).
  bool Start();
  // Advances to the next entry: false at the end (why() empty) or on malformed bytes.
  bool Next();
  const std::string& term() const { return term_; }
  uint32_t df() const { return df_; }
  bool is_inline() const { return inline_; }
  // Inline: the delta list's bytes (within the block). Roaring: [offset, offset + size) of
  // the postings section.
  std::string_view inline_bytes() const { return inline_bytes_; }
  uint64_t roaring_offset() const { return roaring_offset_; }
  uint64_t roaring_size() const { return roaring_size_; }
  uint64_t postings_start() const { return postings_start_; }
  uint64_t postings_end() const { return next_roaring_; }  // after the last entry read
  uint32_t index() const { return index_ - 1; }            // of the current entry
  bool at_end() const { return index_ == entries_ && in_.done(); }
  const std::string& why() const { return why_; }

 private:
  bool Fail(std::string why);
  ByteCursor in_;
  uint32_t entries_;
  uint32_t inline_max_df_;
  uint32_t doc_limit_;
  uint64_t postings_size_;
  uint32_t index_ = 0;
  std::string term_;
  uint32_t df_ = 0;
  bool inline_ = false;
  std::string_view inline_bytes_;
  uint64_t postings_start_ = 0;
  uint64_t next_roaring_ = 0;
  uint64_t roaring_offset_ = 0;
  uint64_t roaring_size_ = 0;
  std::string why_;
};

}  // namespace pidx::segment
