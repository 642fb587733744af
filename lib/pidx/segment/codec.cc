#include "pidx/segment/codec.h"

#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "pidx/base/coding.h"

namespace pidx::segment {

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

size_t VarintLength(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

bool ByteCursor::VarintSlow(uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (p_ == end_) return false;
    const unsigned char byte = *p_++;
    if (shift == 63 && byte > 1) return false;  // past 64 bits
    result |= uint64_t{byte & 0x7Fu} << shift;
    if ((byte & 0x80) == 0) {
      // The shortest form only: a last byte of 0 after others is a redundant encoding, which
      // would let two byte strings mean one value.
      if (byte == 0 && shift != 0) return false;
      *v = result;
      return true;
    }
  }
  return false;
}

bool ByteCursor::Varint32(uint32_t* v) {
  uint64_t wide;
  if (!Varint(&wide) || wide > UINT32_MAX) return false;
  *v = static_cast<uint32_t>(wide);
  return true;
}

bool ByteCursor::Bytes(uint64_t n, std::string_view* out) {
  if (n > remaining()) return false;
  *out = std::string_view(reinterpret_cast<const char*>(p_), n);
  p_ += n;
  return true;
}

bool ByteCursor::SkipVarints(uint64_t n) {
  const unsigned char* p = p_;
  // A word is taken whole only while it holds fewer ends than are left to find, so that it
  // cannot hold a byte of a varint past the nth.
  while (n > 0 && end_ - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    // One in the low bit of each byte that ends a varint; the multiply sums the eight bytes
    // into the top one (baseline x86-64 has no POPCNT instruction).
    const uint64_t ends = (~w & 0x8080808080808080ull) >> 7;
    const uint64_t k = (ends * 0x0101010101010101ull) >> 56;
    if (k >= n) break;
    n -= k;
    p += 8;
  }
  for (; n > 0; ++p) {
    if (p == end_) return false;
    if (*p < 0x80) --n;
  }
  p_ = p;
  return true;
}

bool ByteCursor::Fixed64(uint64_t* v) {
  if (remaining() < 8) return false;
  *v = DecodeFixed64(p_);
  p_ += 8;
  return true;
}

bool ByteCursor::Fixed16(uint16_t* v) {
  if (remaining() < 2) return false;
  *v = static_cast<uint16_t>(p_[0] | (p_[1] << 8));
  p_ += 2;
  return true;
}

void EncodeDeltaList(const uint32_t* ids, size_t n, std::string* out) {
  uint32_t prev = 0;
  for (size_t i = 0; i < n; ++i) {
    PutVarint(out, i == 0 ? ids[0] : ids[i] - prev);
    prev = ids[i];
  }
}

bool DecodeDeltaList(ByteCursor* in, uint64_t n, uint32_t doc_limit, std::vector<uint32_t>* ids,
                     std::string* why) {
  // Every varint is at least a byte, so a list of more ids than bytes fails below: then
  // nothing is written and a hostile n is never allocated for. Otherwise the ids are written
  // in place after one resize.
  const size_t base = ids != nullptr ? ids->size() : 0;
  uint32_t* out = nullptr;
  if (ids != nullptr && n <= in->remaining()) {
    ids->resize(base + n);
    out = ids->data() + base;
  }
  auto fail = [&](std::string message) {
    if (out != nullptr) ids->resize(base);
    *why = std::move(message);
    return false;
  };
  uint64_t prev = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t v;
    if (!in->Varint(&v)) {
      return fail(fmt::format("doc id {} of an inline list is not a varint within its block", i));
    }
    if (i > 0 && v == 0) return fail(fmt::format("inline list not strictly increasing at {}", i));
    const uint64_t id = i == 0 ? v : prev + v;
    if (v >= doc_limit || id >= doc_limit) {
      return fail(
          fmt::format("inline list holds doc {} but the segment has {} docs", id, doc_limit));
    }
    if (out != nullptr) out[i] = static_cast<uint32_t>(id);
    prev = id;
  }
  return true;
}

void EncodeBlock(uint64_t postings_start, const std::vector<BlockEntry>& entries,
                 uint32_t inline_max_df, std::string* out) {
  PutVarint(out, postings_start);
  std::string_view prev;
  for (size_t i = 0; i < entries.size(); ++i) {
    const BlockEntry& e = entries[i];
    size_t shared = 0;
    if (i > 0) {
      while (shared < prev.size() && shared < e.term.size() && prev[shared] == e.term[shared]) {
        ++shared;
      }
    }
    PutVarint(out, shared);
    PutVarint(out, e.term.size() - shared);
    out->append(e.term.data() + shared, e.term.size() - shared);
    PutVarint(out, e.df);
    if (e.df <= inline_max_df) {
      out->append(e.inline_list.data(), e.inline_list.size());
    } else {
      PutVarint(out, e.roaring_size);
    }
    prev = e.term;
  }
}

BlockCursor::BlockCursor(std::string_view block, uint32_t entries, uint32_t inline_max_df,
                         uint32_t doc_limit, uint64_t postings_size)
    : in_(block),
      entries_(entries),
      inline_max_df_(inline_max_df),
      doc_limit_(doc_limit),
      postings_size_(postings_size) {}

bool BlockCursor::Fail(std::string why) {
  why_ = std::move(why);
  return false;
}

bool BlockCursor::Start() {
  if (!in_.Varint(&postings_start_)) return Fail("block header is not a varint");
  if (postings_start_ > postings_size_) {
    return Fail(fmt::format("block's postings start at {}, past the {} bytes of postings",
                            postings_start_, postings_size_));
  }
  next_roaring_ = postings_start_;
  return true;
}

bool BlockCursor::Next() {
  if (index_ == entries_) {
    if (!in_.done()) return Fail("bytes after the block's last entry");
    return false;
  }
  uint64_t shared, suffix_len;
  std::string_view suffix;
  if (!in_.Varint(&shared) || !in_.Varint(&suffix_len) || !in_.Bytes(suffix_len, &suffix)) {
    return Fail(fmt::format("entry {} of the block is truncated", index_));
  }
  if ((index_ == 0 && shared != 0) || shared > term_.size()) {
    return Fail(fmt::format("entry {} shares {} bytes with a term of {}", index_, shared,
                            index_ == 0 ? 0 : term_.size()));
  }
  term_.resize(shared);
  term_.append(suffix);
  uint64_t df;
  if (!in_.Varint(&df) || df == 0 || df > doc_limit_) {
    return Fail(fmt::format("entry {} \"{}\" has a doc frequency that is not 1..{}", index_, term_,
                            doc_limit_));
  }
  df_ = static_cast<uint32_t>(df);
  inline_ = df_ <= inline_max_df_;
  if (inline_) {
    // Skipped, not decoded: the ids are checked (increasing, < doc_limit) where they are read,
    // by ReadPostings and Validate (DecodeDeltaList); a walk of the dictionary only needs the
    // list's extent.
    const unsigned char* begin = in_.position();
    if (!in_.SkipVarints(df_)) {
      return Fail(
          fmt::format("entry {} \"{}\": its inline list passes the block's end", index_, term_));
    }
    inline_bytes_ = std::string_view(reinterpret_cast<const char*>(begin),
                                     static_cast<size_t>(in_.position() - begin));
    roaring_size_ = 0;
  } else {
    uint64_t size;
    if (!in_.Varint(&size) || size > postings_size_ - next_roaring_) {
      return Fail(fmt::format("entry {} \"{}\": its posting list passes the end of postings",
                              index_, term_));
    }
    roaring_offset_ = next_roaring_;
    roaring_size_ = size;
    next_roaring_ += size;
    inline_bytes_ = {};
  }
  ++index_;
  return true;
}

}  // namespace pidx::segment
