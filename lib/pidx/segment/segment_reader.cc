#include "pidx/segment/segment_reader.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <zstd.h>

#include "pidx/base/checksum.h"
#include "pidx/base/coding.h"
#include "pidx/segment/codec.h"
#include "pidx/segment/format.h"

namespace pidx::segment {
namespace {

const unsigned char* Bytes(std::string_view data, uint64_t offset) {
  return reinterpret_cast<const unsigned char*>(data.data()) + offset;
}

// Checks that an offset table of n+1 entries starts at 0, never decreases and ends at the
// size of its blob: after this, every [off[i], off[i+1]) lies inside the blob, which is what
// lets the accessors skip bounds checks.
template <typename DecodeFn>
std::string CheckOffsets(const unsigned char* table, uint64_t n, size_t width, DecodeFn decode,
                         uint64_t blob_size, const char* what) {
  uint64_t prev = decode(table);
  if (prev != 0) return fmt::format("{} start at {}, not 0", what, prev);
  for (uint64_t i = 1; i <= n; ++i) {
    const uint64_t cur = decode(table + i * width);
    if (cur < prev) return fmt::format("{} decrease at entry {}", what, i);
    prev = cur;
  }
  if (prev != blob_size) {
    return fmt::format("{} end at {} but the blob has {} bytes", what, prev, blob_size);
  }
  return {};
}

// Parses one doc record, which must fill `record` exactly. False when it does not.
bool ParseDoc(std::string_view record, DocView* doc) {
  if (record.size() < kMinDocRecordSize) return false;
  const uint64_t id_len = DecodeFixed32(record.data());
  // Compare against what is left before adding, so no length can overflow the sum.
  if (id_len > record.size() - kMinDocRecordSize) return false;
  const uint64_t title_len = DecodeFixed32(record.data() + 4 + id_len);
  if (title_len != record.size() - kMinDocRecordSize - id_len) return false;
  doc->external_id = record.substr(4, id_len);
  doc->title = record.substr(8 + id_len, title_len);
  doc->content_hash = DecodeFixed64(record.data() + 8 + id_len + title_len);
  return true;
}

// A format-2 doc record: varint id length, id, varint title length, title, u64 content hash,
// `fields` u16 field hashes.
bool ParseDoc2(ByteCursor* in, uint32_t fields, DocView* doc) {
  uint64_t id_len, title_len;
  std::string_view id, title, hashes;
  uint64_t hash;
  if (!in->Varint(&id_len) || !in->Bytes(id_len, &id) || !in->Varint(&title_len) ||
      !in->Bytes(title_len, &title) || !in->Fixed64(&hash) || !in->Bytes(2ull * fields, &hashes)) {
    return false;
  }
  doc->external_id = id;
  doc->title = title;
  doc->content_hash = hash;
  doc->field_hashes = hashes;
  return true;
}

// The first 8 bytes of `t` as a big-endian number, zero-padded: when two keys differ, they
// order as their strings do; when equal, the strings must be compared.
uint64_t BlockKey(std::string_view t) {
  uint64_t k = 0;
  for (size_t i = 0; i < 8; ++i) {
    k = (k << 8) | (i < t.size() ? static_cast<unsigned char>(t[i]) : 0u);
  }
  return k;
}

// The first index in [lo, hi) at which `before(i)` turns false, hi when it never does: a
// binary search. `before` must be true on a prefix of the range and false on the rest.
template <typename Before>
size_t PartitionPoint(size_t lo, size_t hi, Before before) {
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (before(mid)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// The field prefix of a term: up to and including its first ':', or empty.
std::string_view FieldPrefix(std::string_view t) {
  const size_t colon = t.find(':');
  return colon == std::string_view::npos ? std::string_view() : t.substr(0, colon + 1);
}

uint64_t CeilDiv(uint64_t a, uint64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

// The section table at `footer`: `count` (offset, length) pairs that must tile [header,
// footer) in order with no gap, which bounds each section, rules out overlaps and leaves no
// byte the later checks do not cover. Fills `sections`; the error names the section.
Status TileSections(std::string_view data, uint64_t footer, int count, const char* const* names,
                    std::string_view* sections, const std::string& name) {
  auto corrupt = [&name](const std::string& what) { return Status::Corrupt(name + ": " + what); };
  uint64_t expected = kSegmentHeaderSize;
  for (int i = 0; i < count; ++i) {
    const uint64_t offset = DecodeFixed64(Bytes(data, footer + 16 * i));
    const uint64_t length = DecodeFixed64(Bytes(data, footer + 16 * i + 8));
    if (offset != expected || length > footer - offset) {
      return corrupt(fmt::format(
          "{} section at offset {} size {} is out of place (expected at {}, file body ends at {})",
          names[i], offset, length, expected, footer));
    }
    sections[i] = data.substr(offset, length);
    expected += length;
  }
  if (expected != footer) {
    return corrupt(fmt::format("sections end at {} but the footer starts at {}", expected, footer));
  }
  return Status::Ok();
}

// A codec-1 doc block (docs/FORMAT.md "Doc blocks"): exactly one zstd frame that declares its
// content size, at most kMaxRawDocBlock, and decompresses to exactly that many bytes, which are
// appended to `out`. The size is checked before anything is allocated. False with `why`.
bool InflateDocBlock(std::string_view frame, std::string* out, std::string* why) {
  if (frame.size() < 4 || DecodeFixed32(frame.data()) != ZSTD_MAGICNUMBER) {
    *why = "is not a zstd frame";
    return false;
  }
  const size_t frame_size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(frame_size)) {
    *why = fmt::format("is not a whole zstd frame ({})", ZSTD_getErrorName(frame_size));
    return false;
  }
  if (frame_size != frame.size()) {
    *why = fmt::format("has {} bytes after its zstd frame", frame.size() - frame_size);
    return false;
  }
  const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN || declared == ZSTD_CONTENTSIZE_ERROR) {
    *why = "zstd frame does not declare its content size";
    return false;
  }
  if (declared > kMaxRawDocBlock) {
    *why = fmt::format("zstd frame declares {} bytes, more than the {} a doc block may hold",
                       declared, kMaxRawDocBlock);
    return false;
  }
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(),
                                                                       ZSTD_freeDCtx);
  if (dctx == nullptr) {
    *why = "cannot allocate a zstd context";
    return false;
  }
  const size_t begin = out->size();
  out->resize(begin + declared);
  const size_t got =
      ZSTD_decompressDCtx(dctx.get(), out->data() + begin, declared, frame.data(), frame.size());
  if (ZSTD_isError(got) || got != declared) {
    *why =
        ZSTD_isError(got)
            ? fmt::format("zstd frame does not decompress ({})", ZSTD_getErrorName(got))
            : fmt::format("zstd frame decompresses to {} bytes, its header says {}", got, declared);
    out->resize(begin);
    return false;
  }
  return true;
}

// A posting list's finding, naming the segment and the entry's term.
Status EntryError(const std::string& segment, const TermEntry& e, const Status& s) {
  return s.Annotate(fmt::format("{}: term {} \"{}\"", segment, e.ordinal, e.term));
}

// The ids of an inline list: exactly df varints, strictly increasing and < doc_count.
Status DecodeInline(const TermEntry& e, uint32_t doc_count, std::vector<uint32_t>* ids) {
  ByteCursor in(e.list);
  std::string why;
  if (!DecodeDeltaList(&in, e.df, doc_count, ids, &why) || !in.done()) {
    return Status::Corrupt(why.empty() ? "inline list has trailing bytes" : why);
  }
  return Status::Ok();
}

// A Roaring list must hold exactly the entry's df docs.
Status CheckDf(const TermEntry& e, uint64_t cardinality) {
  if (cardinality == e.df) return Status::Ok();
  return Status::Corrupt(
      fmt::format("df {} but the posting list holds {} docs", e.df, cardinality));
}

}  // namespace

struct SegmentReader::DecodedBlock {
  std::string text;            // the terms, concatenated
  std::vector<uint32_t> ends;  // term k is text[k == 0 ? 0 : ends[k - 1], ends[k])
  std::vector<uint32_t> dfs;
  std::vector<std::string_view> lists;  // within the file
  std::vector<uint8_t> inline_lists;
  uint32_t first_ordinal = 0;

  size_t size() const { return ends.size(); }
  std::string_view term(size_t k) const {
    const uint32_t begin = k == 0 ? 0 : ends[k - 1];
    return std::string_view(text).substr(begin, ends[k] - begin);
  }
  TermEntry Entry(size_t k) const {
    TermEntry e;
    e.term = term(k);
    e.ordinal = first_ordinal + static_cast<uint32_t>(k);
    e.df = dfs[k];
    e.inline_list = inline_lists[k] != 0;
    e.list = lists[k];
    return e;
  }
  // The first entry whose term is >= t (size() when none is).
  size_t LowerBound(std::string_view t) const {
    return PartitionPoint(0, size(), [&](size_t k) { return term(k) < t; });
  }
};

// Slots published once each with a compare-exchange: readers of one segment may run on
// several threads, and the loser of a race frees its own copy.
struct SegmentReader::DecodedBlocks {
  explicit DecodedBlocks(size_t n) : slots(new std::atomic<const DecodedBlock*>[n]), count(n) {
    for (size_t i = 0; i < n; ++i) slots[i].store(nullptr, std::memory_order_relaxed);
  }
  ~DecodedBlocks() {
    for (size_t i = 0; i < count; ++i) delete slots[i].load(std::memory_order_relaxed);
  }
  DecodedBlocks(const DecodedBlocks&) = delete;
  DecodedBlocks& operator=(const DecodedBlocks&) = delete;
  std::unique_ptr<std::atomic<const DecodedBlock*>[]> slots;
  size_t count;
};

// Lazy readers, codec 1: each doc block decompressed once, published like DecodedBlocks.
struct SegmentReader::DecodedDocBlocks {
  explicit DecodedDocBlocks(size_t n) : slots(new std::atomic<const std::string*>[n]), count(n) {
    for (size_t i = 0; i < n; ++i) slots[i].store(nullptr, std::memory_order_relaxed);
  }
  ~DecodedDocBlocks() {
    for (size_t i = 0; i < count; ++i) delete slots[i].load(std::memory_order_relaxed);
  }
  DecodedDocBlocks(const DecodedDocBlocks&) = delete;
  DecodedDocBlocks& operator=(const DecodedDocBlocks&) = delete;
  std::unique_ptr<std::atomic<const std::string*>[]> slots;
  size_t count;
};

Status SegmentReader::Corrupt(const std::string& what) const {
  return Status::Corrupt(name_ + ": " + what);
}

Result<SegmentReader> SegmentReader::Open2(std::string_view data, std::string name, bool full) {
  auto corrupt = [&name](const std::string& what) { return Status::Corrupt(name + ": " + what); };
  const uint64_t size = data.size();
  if (size < kSegmentHeaderSize + kSegmentFooterSize2) {
    return corrupt(fmt::format("{} bytes is too short for a format-2 segment (at least {})", size,
                               kSegmentHeaderSize + kSegmentFooterSize2));
  }
  const uint64_t footer = size - kSegmentFooterSize2;
  if (std::memcmp(Bytes(data, footer + kF2MagicOffset), kSegmentFooterMagic,
                  sizeof(kSegmentFooterMagic)) != 0) {
    return corrupt("bad footer magic (truncated or not a pidx segment)");
  }
  const uint64_t stored = DecodeFixed64(Bytes(data, footer + kF2ChecksumOffset));
  if (full) {
    const uint64_t computed = Xxh3(data.substr(0, footer + kF2ChecksumOffset));
    if (stored != computed) {
      return corrupt(fmt::format("checksum mismatch (stored {}, computed {})", Hex64(stored),
                                 Hex64(computed)));
    }
  }
  // The section table first (bounded, tiling), since the meta checksum covers sections it names.
  std::string_view sections[kSectionCount2];
  PIDX_RETURN_IF_ERROR(TileSections(data, footer, kSectionCount2, kSectionNames2, sections, name));
  auto section = [&sections](Section2 s) { return sections[static_cast<int>(s)]; };
  {
    Xxh3Stream meta;
    meta.Update(data.substr(0, kSegmentHeaderSize));
    for (Section2 s : {Section2::kShardName, Section2::kBlockIndex, Section2::kPostingChecksums,
                       Section2::kDocIndex}) {
      meta.Update(section(s));
    }
    meta.Update(data.substr(footer, kF2MetaChecksumOffset));
    const uint64_t want = DecodeFixed64(Bytes(data, footer + kF2MetaChecksumOffset));
    if (meta.Digest() != want) {
      return corrupt(fmt::format(
          "meta checksum mismatch (stored {}, computed {}): header, footer or a table is damaged",
          Hex64(want), Hex64(meta.Digest())));
    }
  }
  if (const uint32_t flags = DecodeFixed32(Bytes(data, kHeaderFlagsOffset)); flags != 0) {
    return corrupt(fmt::format("reserved header flags are {:#x}, not 0", flags));
  }
  const uint32_t doc_codec = DecodeFixed32(Bytes(data, footer + kF2DocCodecOffset));
  if (doc_codec != kDocCodecRaw && doc_codec != kDocCodecZstd) {
    return corrupt(fmt::format("footer doc_codec is {}, not 0 (raw) or 1 (zstd)", doc_codec));
  }

  SegmentReader r;
  r.doc_codec_ = doc_codec;
  r.version_ = kSegmentFormatVersion2;
  r.full_ = full;
  r.name_ = std::move(name);
  r.data_ = data;
  r.checksum_ = stored;
  r.doc_count_ = DecodeFixed32(Bytes(data, footer + kF2DocCountOffset));
  r.term_count_ = DecodeFixed32(Bytes(data, footer + kF2TermCountOffset));
  r.posting_count_ = DecodeFixed64(Bytes(data, footer + kF2PostingCountOffset));
  r.term_block_size_ = DecodeFixed32(Bytes(data, footer + kF2TermBlockSizeOffset));
  r.doc_block_size_ = DecodeFixed32(Bytes(data, footer + kF2DocBlockSizeOffset));
  r.chunk_size_ = DecodeFixed32(Bytes(data, footer + kF2ChunkSizeOffset));
  r.field_hash_count_ = DecodeFixed32(Bytes(data, footer + kF2FieldHashCountOffset));
  r.inline_max_df_ = DecodeFixed32(Bytes(data, footer + kF2InlineMaxDfOffset));
  if (r.term_block_size_ < 1 || r.term_block_size_ > kMaxTermBlockSize || r.doc_block_size_ < 1 ||
      r.doc_block_size_ > kMaxDocBlockSize || r.chunk_size_ < kMinPostingChunkSize ||
      r.chunk_size_ > kMaxPostingChunkSize || r.field_hash_count_ > kMaxFieldHashes ||
      r.inline_max_df_ > kMaxInlineMaxDf) {
    return r.Corrupt(fmt::format(
        "footer parameters out of range (term block {}, doc block {}, chunk {}, field hashes {}, "
        "inline df {})",
        r.term_block_size_, r.doc_block_size_, r.chunk_size_, r.field_hash_count_,
        r.inline_max_df_));
  }
  if (r.posting_count_ < r.term_count_) {
    return r.Corrupt(fmt::format("footer posting count {} is less than the term count {}",
                                 r.posting_count_, r.term_count_));
  }

  const std::string_view shard = section(Section2::kShardName);
  if (shard.size() < 4 || DecodeFixed32(shard.data()) != shard.size() - 4) {
    return r.Corrupt("shard name section is malformed");
  }
  r.shard_ = std::string(shard.substr(4));
  r.terms_blob_ = section(Section2::kTermBlocks);
  r.postings_blob_ = section(Section2::kPostings);
  r.docs_blob_ = section(Section2::kDocs);

  // Block index: ceil(T / B) entries whose sizes tile the term blocks, first terms increasing.
  const uint64_t nblocks = CeilDiv(r.term_count_, r.term_block_size_);
  {
    ByteCursor in(section(Section2::kBlockIndex));
    uint64_t at = 0;
    r.blocks_.reserve(std::min<uint64_t>(nblocks, in.remaining() / 10 + 1));
    for (uint64_t b = 0; b < nblocks; ++b) {
      Block block;
      uint64_t len;
      if (!in.Fixed64(&block.checksum) || !in.Varint(&block.size) || !in.Varint(&len) ||
          !in.Bytes(len, &block.first_term)) {
        return r.Corrupt(fmt::format("block index entry {} of {} is truncated", b, nblocks));
      }
      if (block.size > r.terms_blob_.size() - at) {
        return r.Corrupt(fmt::format("term block {} passes the end of the term blocks", b));
      }
      if (b > 0 && !(r.blocks_.back().first_term < block.first_term)) {
        return r.Corrupt(fmt::format("block index first terms not increasing at block {}", b));
      }
      block.offset = at;
      at += block.size;
      r.blocks_.push_back(block);
    }
    if (!in.done() || at != r.terms_blob_.size()) {
      return r.Corrupt("block index does not tile the term blocks exactly");
    }
  }
  const uint64_t nchunks = CeilDiv(r.postings_blob_.size(), r.chunk_size_);
  if (section(Section2::kPostingChecksums).size() != nchunks * 8) {
    return r.Corrupt(fmt::format("posting checksums have {} bytes, expected {} for {} chunks",
                                 section(Section2::kPostingChecksums).size(), nchunks * 8,
                                 nchunks));
  }
  r.chunk_sums_ = Bytes(section(Section2::kPostingChecksums), 0);
  const uint64_t ndocblocks = CeilDiv(r.doc_count_, r.doc_block_size_);
  {
    ByteCursor in(section(Section2::kDocIndex));
    uint64_t at = 0;
    r.doc_blocks_.reserve(std::min<uint64_t>(ndocblocks, in.remaining() / 9 + 1));
    for (uint64_t b = 0; b < ndocblocks; ++b) {
      Block block;
      if (!in.Fixed64(&block.checksum) || !in.Varint(&block.size)) {
        return r.Corrupt(fmt::format("doc index entry {} of {} is truncated", b, ndocblocks));
      }
      if (block.size > r.docs_blob_.size() - at) {
        return r.Corrupt(fmt::format("doc block {} passes the end of the docs", b));
      }
      block.offset = at;
      at += block.size;
      r.doc_blocks_.push_back(block);
    }
    if (!in.done() || at != r.docs_blob_.size()) {
      return r.Corrupt("doc index does not tile the docs exactly");
    }
  }
  const size_t flags = r.blocks_.size() + nchunks + r.doc_blocks_.size();
  r.checked_ = std::shared_ptr<std::atomic<uint8_t>[]>(new std::atomic<uint8_t>[flags + 1]);
  for (size_t i = 0; i <= flags; ++i) r.checked_[i].store(0, std::memory_order_relaxed);
  if (full) PIDX_RETURN_IF_ERROR(r.Materialize());
  if (!full) {
    r.decoded_ = std::make_shared<DecodedBlocks>(r.blocks_.size());
    if (r.doc_codec_ == kDocCodecZstd) {
      r.decoded_docs_ = std::make_shared<DecodedDocBlocks>(r.doc_blocks_.size());
    }
    r.block_keys_.reserve(r.blocks_.size());
    for (size_t b = 0; b < r.blocks_.size(); ++b) {
      const std::string_view first = r.blocks_[b].first_term;
      const std::string_view prefix = FieldPrefix(first);
      if (!prefix.empty()) {
        if (r.field_runs_.empty() || r.field_runs_.back().prefix != prefix ||
            r.field_runs_.back().end != b) {
          r.field_runs_.push_back({prefix, b, b});
        }
        r.field_runs_.back().end = b + 1;
      }
      r.block_keys_.push_back(BlockKey(first.substr(prefix.size())));
    }
  }
  return r;
}

Status SegmentReader::VerifyBlock(const char* what, size_t index, std::string_view bytes,
                                  uint64_t stored, std::atomic<uint8_t>* flag) const {
  if (flag->load(std::memory_order_acquire) != 0) return Status::Ok();
  const uint64_t computed = Xxh3(bytes);
  if (computed != stored) {
    return Corrupt(fmt::format("{} {} checksum mismatch (stored {}, computed {})", what, index,
                               Hex64(stored), Hex64(computed)));
  }
  flag->store(1, std::memory_order_release);
  return Status::Ok();
}

Status SegmentReader::VerifyPostingRange(uint64_t begin, uint64_t end) const {
  if (begin >= end) return Status::Ok();
  std::atomic<uint8_t>* flags = checked_.get() + blocks_.size();
  for (uint64_t c = begin / chunk_size_; c <= (end - 1) / chunk_size_; ++c) {
    PIDX_RETURN_IF_ERROR(VerifyBlock("posting chunk", c,
                                     postings_blob_.substr(c * chunk_size_, chunk_size_),
                                     DecodeFixed64(chunk_sums_ + 8 * c), flags + c));
  }
  return Status::Ok();
}

Status SegmentReader::Materialize() {
  // Every block and chunk against its own checksum too: verify proves what a query will check.
  for (size_t b = 0; b < blocks_.size(); ++b) {
    PIDX_RETURN_IF_ERROR(VerifyBlock("term block", b,
                                     terms_blob_.substr(blocks_[b].offset, blocks_[b].size),
                                     blocks_[b].checksum, &checked_[b]));
  }
  PIDX_RETURN_IF_ERROR(VerifyPostingRange(0, postings_blob_.size()));
  std::atomic<uint8_t>* doc_flags =
      checked_.get() + blocks_.size() + CeilDiv(postings_blob_.size(), chunk_size_);
  for (size_t b = 0; b < doc_blocks_.size(); ++b) {
    PIDX_RETURN_IF_ERROR(VerifyBlock("doc block", b,
                                     docs_blob_.substr(doc_blocks_[b].offset, doc_blocks_[b].size),
                                     doc_blocks_[b].checksum, doc_flags + b));
  }
  flat_term_offsets_.assign(1, 0);
  flat_term_offsets_.reserve(uint64_t{term_count_} + 1);
  flat_dfs_.reserve(term_count_);
  flat_lists_.reserve(term_count_);
  flat_inline_.reserve(term_count_);
  uint64_t postings_end = 0;
  uint64_t df_sum = 0;
  for (size_t b = 0; b < blocks_.size(); ++b) {
    const uint32_t entries = static_cast<uint32_t>(
        std::min<uint64_t>(term_block_size_, term_count_ - b * uint64_t{term_block_size_}));
    BlockCursor cursor(terms_blob_.substr(blocks_[b].offset, blocks_[b].size), entries,
                       inline_max_df_, doc_count_, postings_blob_.size());
    if (!cursor.Start()) return Corrupt(fmt::format("term block {}: {}", b, cursor.why()));
    if (cursor.postings_start() != postings_end) {
      return Corrupt(
          fmt::format("term block {}: postings start at {}, not {} where the block "
                      "before ends",
                      b, cursor.postings_start(), postings_end));
    }
    while (cursor.Next()) {
      if (cursor.index() == 0 && cursor.term() != blocks_[b].first_term) {
        return Corrupt(fmt::format("term block {} starts with \"{}\", its index says \"{}\"", b,
                                   cursor.term(), blocks_[b].first_term));
      }
      if (flat_terms_.size() + cursor.term().size() > UINT32_MAX) {
        return Corrupt("term dictionary exceeds 4 GiB");
      }
      flat_terms_ += cursor.term();
      flat_term_offsets_.push_back(static_cast<uint32_t>(flat_terms_.size()));
      flat_dfs_.push_back(cursor.df());
      df_sum += cursor.df();
      flat_inline_.push_back(cursor.is_inline() ? 1 : 0);
      flat_lists_.push_back(cursor.is_inline() ? cursor.inline_bytes()
                                               : postings_blob_.substr(cursor.roaring_offset(),
                                                                       cursor.roaring_size()));
    }
    if (!cursor.why().empty()) return Corrupt(fmt::format("term block {}: {}", b, cursor.why()));
    if (!cursor.at_end()) return Corrupt(fmt::format("term block {} ends early", b));
    postings_end = cursor.postings_end();
  }
  if (postings_end != postings_blob_.size()) {
    return Corrupt(fmt::format("posting lists end at {} but the postings have {} bytes",
                               postings_end, postings_blob_.size()));
  }
  if (df_sum != posting_count_) {
    return Corrupt(
        fmt::format("footer posting count {} but the dfs sum to {}", posting_count_, df_sum));
  }
  // Codec 1: every block decompressed into one buffer, which the flat offsets point into.
  std::string raw;
  flat_doc_offsets_.assign(1, 0);
  flat_doc_offsets_.reserve(uint64_t{doc_count_} + 1);
  for (size_t b = 0; b < doc_blocks_.size(); ++b) {
    const std::string_view stored = docs_blob_.substr(doc_blocks_[b].offset, doc_blocks_[b].size);
    std::string_view block = stored;
    uint64_t base = doc_blocks_[b].offset;
    if (doc_codec_ == kDocCodecZstd) {
      base = raw.size();
      std::string why;
      if (!InflateDocBlock(stored, &raw, &why)) {
        return Corrupt(fmt::format("doc block {}: {}", b, why));
      }
      block = std::string_view(raw).substr(base);
    }
    PIDX_RETURN_IF_ERROR(ParseDocBlock(b, block, base, &flat_doc_offsets_));
  }
  if (doc_codec_ == kDocCodecZstd) {
    docs_raw_ = std::make_shared<const std::string>(std::move(raw));
    docs_blob_ = *docs_raw_;
  }
  return Status::Ok();
}

Status SegmentReader::ParseDocBlock(size_t b, std::string_view block, uint64_t base,
                                    std::vector<uint64_t>* ends) const {
  const uint64_t entries =
      std::min<uint64_t>(doc_block_size_, doc_count_ - b * uint64_t{doc_block_size_});
  ByteCursor in(block);
  for (uint64_t k = 0; k < entries; ++k) {
    DocView view;
    if (!ParseDoc2(&in, field_hash_count_, &view)) {
      return Corrupt(
          fmt::format("doc block {}: doc {} record is malformed", b, b * doc_block_size_ + k));
    }
    if (ends != nullptr) ends->push_back(base + block.size() - in.remaining());
  }
  if (!in.done()) return Corrupt(fmt::format("doc block {} has bytes after its records", b));
  return Status::Ok();
}

Result<std::string_view> SegmentReader::DocBlock(size_t b) const {
  const Block& blk = doc_blocks_[b];
  const std::string_view bytes = docs_blob_.substr(blk.offset, blk.size);
  std::atomic<uint8_t>* doc_flags =
      checked_.get() + blocks_.size() + CeilDiv(postings_blob_.size(), chunk_size_);
  PIDX_RETURN_IF_ERROR(VerifyBlock("doc block", b, bytes, blk.checksum, doc_flags + b));
  if (doc_codec_ == kDocCodecRaw) return bytes;
  std::atomic<const std::string*>& slot = decoded_docs_->slots[b];
  if (const std::string* done = slot.load(std::memory_order_acquire))
    return std::string_view(*done);
  auto raw = std::make_unique<std::string>();
  std::string why;
  if (!InflateDocBlock(bytes, raw.get(), &why)) {
    return Corrupt(fmt::format("doc block {}: {}", b, why));
  }
  PIDX_RETURN_IF_ERROR(ParseDocBlock(b, *raw, 0, nullptr));
  const std::string* expected = nullptr;
  if (slot.compare_exchange_strong(expected, raw.get(), std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
    return std::string_view(*raw.release());
  }
  return std::string_view(*expected);  // another thread published it first; ours is freed
}

TermEntry SegmentReader::EntryAt(uint32_t i) const {
  TermEntry e;
  e.term = term(i);
  e.ordinal = i;
  e.df = doc_freq(i);
  e.inline_list = posting_inline(i);
  e.list = posting_bytes(i);
  return e;
}

size_t SegmentReader::FirstBlockFor(std::string_view t) const {
  // The last block whose first term is < t may still hold terms >= t; blocks before it hold
  // only smaller ones.
  size_t b = static_cast<size_t>(
      std::lower_bound(blocks_.begin(), blocks_.end(), t,
                       [](const Block& blk, std::string_view p) { return blk.first_term < p; }) -
      blocks_.begin());
  return b > 0 ? b - 1 : 0;
}

Status SegmentReader::CheckedBlock(size_t b, std::string_view* bytes, uint32_t* entries) const {
  const Block& blk = blocks_[b];
  *bytes = terms_blob_.substr(blk.offset, blk.size);
  PIDX_RETURN_IF_ERROR(VerifyBlock("term block", b, *bytes, blk.checksum, &checked_[b]));
  *entries = static_cast<uint32_t>(
      std::min<uint64_t>(term_block_size_, term_count_ - b * uint64_t{term_block_size_}));
  return Status::Ok();
}

Result<const SegmentReader::DecodedBlock*> SegmentReader::Decoded(size_t b) const {
  std::atomic<const DecodedBlock*>& slot = decoded_->slots[b];
  if (const DecodedBlock* done = slot.load(std::memory_order_acquire)) return done;
  std::string_view bytes;
  uint32_t entries = 0;
  PIDX_RETURN_IF_ERROR(CheckedBlock(b, &bytes, &entries));
  BlockCursor cursor(bytes, entries, inline_max_df_, doc_count_, postings_blob_.size());
  if (!cursor.Start()) return Corrupt(fmt::format("term block {}: {}", b, cursor.why()));
  auto block = std::make_unique<DecodedBlock>();
  block->first_ordinal = static_cast<uint32_t>(b * term_block_size_);
  block->ends.reserve(entries);
  block->dfs.reserve(entries);
  block->lists.reserve(entries);
  block->inline_lists.reserve(entries);
  while (cursor.Next()) {
    if (cursor.index() == 0 && cursor.term() != blocks_[b].first_term) {
      return Corrupt(fmt::format("term block {} starts with \"{}\", its index says \"{}\"", b,
                                 cursor.term(), blocks_[b].first_term));
    }
    block->text += cursor.term();
    block->ends.push_back(static_cast<uint32_t>(block->text.size()));
    block->dfs.push_back(cursor.df());
    block->inline_lists.push_back(cursor.is_inline() ? 1 : 0);
    block->lists.push_back(
        cursor.is_inline() ? cursor.inline_bytes()
                           : postings_blob_.substr(cursor.roaring_offset(), cursor.roaring_size()));
  }
  if (!cursor.why().empty()) return Corrupt(fmt::format("term block {}: {}", b, cursor.why()));
  const DecodedBlock* expected = nullptr;
  if (slot.compare_exchange_strong(expected, block.get(), std::memory_order_acq_rel)) {
    return block.release();
  }
  return expected;  // another thread decoded it first; ours is freed
}

size_t SegmentReader::BlockFor(std::string_view t) const {
  const std::string_view prefix = FieldPrefix(t);
  // Runs follow dictionary order, and so do their prefixes (two terms with different field
  // prefixes order as their prefixes do): a binary search finds t's.
  auto run =
      prefix.empty()
          ? field_runs_.end()
          : std::lower_bound(field_runs_.begin(), field_runs_.end(), prefix,
                             [](const FieldRun& r, std::string_view p) { return r.prefix < p; });
  if (run != field_runs_.end() && run->prefix != prefix) run = field_runs_.end();
  // The first block whose first term is > t: within t's field run, on the keys; else (a term
  // of no run's field) on the first terms themselves.
  size_t lo;
  if (run != field_runs_.end()) {
    const uint64_t key = BlockKey(t.substr(prefix.size()));
    lo = PartitionPoint(run->begin, run->end, [&](size_t b) {
      return block_keys_[b] != key ? block_keys_[b] < key : blocks_[b].first_term <= t;
    });
  } else {
    lo = PartitionPoint(0, blocks_.size(), [&](size_t b) { return blocks_[b].first_term <= t; });
  }
  return lo == 0 ? blocks_.size() : lo - 1;
}

Result<std::optional<TermEntry>> SegmentReader::Lookup(std::string_view t) const {
  if (full_) {
    auto i = FindTerm(t);
    if (!i) return std::optional<TermEntry>();
    return std::optional<TermEntry>(EntryAt(*i));
  }
  if (blocks_.empty()) return std::optional<TermEntry>();
  // One block holds t if any does: the last one whose first term is <= t.
  const size_t b = BlockFor(t);
  if (b == blocks_.size()) return std::optional<TermEntry>();
  PIDX_ASSIGN_OR_RETURN(const DecodedBlock* block, Decoded(b));
  const size_t k = block->LowerBound(t);
  if (k == block->size() || block->term(k) != t) return std::optional<TermEntry>();
  return std::optional<TermEntry>(block->Entry(k));
}

Status SegmentReader::ForEachTermView(
    std::string_view prefix, const std::function<void(std::string_view, uint32_t)>& fn) const {
  if (full_) {
    (void)ForEachTermWithPrefix(prefix, term_count_, [&](uint32_t i) { fn(term(i), doc_freq(i)); });
    return Status::Ok();
  }
  for (size_t b = FirstBlockFor(prefix); b < blocks_.size(); ++b) {
    std::string_view bytes;
    uint32_t entries = 0;
    PIDX_RETURN_IF_ERROR(CheckedBlock(b, &bytes, &entries));
    BlockCursor cursor(bytes, entries, inline_max_df_, doc_count_, postings_blob_.size());
    if (!cursor.Start()) return Corrupt(fmt::format("term block {}: {}", b, cursor.why()));
    while (cursor.Next()) {
      const std::string_view t = cursor.term();
      if (t < prefix) continue;
      if (t.substr(0, prefix.size()) != prefix) return Status::Ok();
      fn(t, cursor.df());
    }
    if (!cursor.why().empty()) return Corrupt(fmt::format("term block {}: {}", b, cursor.why()));
  }
  return Status::Ok();
}

Result<size_t> SegmentReader::ForEachEntryWithPrefix(
    std::string_view prefix, size_t cap, const std::function<void(const TermEntry&)>& fn) const {
  if (full_) {
    return ForEachTermWithPrefix(prefix, cap, [&](uint32_t i) { fn(EntryAt(i)); });
  }
  size_t visited = 0;
  for (size_t b = FirstBlockFor(prefix); b < blocks_.size(); ++b) {
    PIDX_ASSIGN_OR_RETURN(const DecodedBlock* block, Decoded(b));
    for (size_t k = block->LowerBound(prefix); k < block->size(); ++k) {
      if (block->term(k).substr(0, prefix.size()) != prefix) return visited;
      if (visited == cap) return cap + 1;
      fn(block->Entry(k));
      ++visited;
    }
  }
  return visited;
}

Result<Postings> SegmentReader::ReadPostings(const TermEntry& entry) const {
  if (entry.inline_list) {
    std::vector<uint32_t> ids;
    ids.reserve(entry.df);
    const Status decoded = DecodeInline(entry, doc_count_, &ids);
    if (!decoded.ok()) return EntryError(name_, entry, decoded);
    return Postings::FromSorted(ids.data(), ids.size());
  }
  if (version_ != kSegmentFormatVersion) {
    const uint64_t begin = static_cast<uint64_t>(entry.list.data() - postings_blob_.data());
    PIDX_RETURN_IF_ERROR(VerifyPostingRange(begin, begin + entry.list.size()));
  }
  Result<Postings> p = Postings::Deserialize(entry.list, doc_count_);
  if (!p.ok()) return EntryError(name_, entry, p.status());
  const Status df = CheckDf(entry, p->Cardinality());
  if (!df.ok()) return EntryError(name_, entry, df);
  return p;
}

Status SegmentReader::ReadPostingsInto(const TermEntry& entry, std::vector<uint64_t>* bits) const {
  if (entry.inline_list) {
    thread_local std::vector<uint32_t> ids;
    ids.clear();
    const Status decoded = DecodeInline(entry, doc_count_, &ids);
    if (!decoded.ok()) return EntryError(name_, entry, decoded);
    uint64_t* w = bits->data();
    for (const uint32_t d : ids) w[d >> 6] |= uint64_t{1} << (d & 63);
    return Status::Ok();
  }
  if (version_ != kSegmentFormatVersion) {
    const uint64_t begin = static_cast<uint64_t>(entry.list.data() - postings_blob_.data());
    PIDX_RETURN_IF_ERROR(VerifyPostingRange(begin, begin + entry.list.size()));
  }
  // CheckBytes proves what Deserialize proves, with the same findings (postings.h).
  uint64_t cardinality = 0;
  const Status checked = Postings::CheckBytes(entry.list, doc_count_, &cardinality, bits);
  if (!checked.ok()) return EntryError(name_, entry, checked);
  const Status df = CheckDf(entry, cardinality);
  if (!df.ok()) return EntryError(name_, entry, df);
  return Status::Ok();
}

Result<DocView> SegmentReader::ReadDoc(uint32_t i) const {
  if (full_) return doc(i);
  const size_t b = i / doc_block_size_;
  Result<std::string_view> bytes = DocBlock(b);
  if (!bytes.ok()) return bytes.status();
  ByteCursor in(*bytes);
  DocView view;
  for (uint32_t k = 0; k <= i % doc_block_size_; ++k) {
    if (!ParseDoc2(&in, field_hash_count_, &view)) {
      return Corrupt(fmt::format("doc {} record is malformed", b * doc_block_size_ + k));
    }
  }
  return view;
}

Status SegmentReader::Validate2() const {
  for (uint32_t i = 1; i < term_count_; ++i) {
    if (!(term(i - 1) < term(i))) {
      return Corrupt(fmt::format("terms not strictly increasing: term {} \"{}\" after \"{}\"", i,
                                 term(i), term(i - 1)));
    }
  }
  std::vector<uint64_t> reached((uint64_t{doc_count_} + 63) / 64, 0);
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < term_count_; ++i) {
    uint64_t cardinality = 0;
    if (flat_inline_[i]) {
      ByteCursor in(flat_lists_[i]);
      ids.clear();
      std::string why;
      if (!DecodeDeltaList(&in, flat_dfs_[i], doc_count_, &ids, &why) || !in.done()) {
        return Corrupt(fmt::format("term {} \"{}\": {}", i, term(i),
                                   why.empty() ? "inline list has trailing bytes" : why));
      }
      for (uint32_t d : ids) reached[d >> 6] |= uint64_t{1} << (d & 63);
      cardinality = ids.size();
    } else {
      Status s = Postings::CheckBytes(flat_lists_[i], doc_count_, &cardinality, &reached);
      if (!s.ok()) return s.Annotate(fmt::format("{}: term {} \"{}\"", name_, i, term(i)));
      // A list that fits inline must be inline: one content, one encoding.
      if (flat_dfs_[i] <= inline_max_df_) {
        return Corrupt(
            fmt::format("term {} \"{}\" has a Roaring list of {} docs", i, term(i), flat_dfs_[i]));
      }
    }
    if (cardinality != flat_dfs_[i] || flat_dfs_[i] == 0) {
      return Corrupt(fmt::format("term {} \"{}\" has df {} but its posting list holds {} docs", i,
                                 term(i), flat_dfs_[i], cardinality));
    }
  }
  for (uint32_t d = 0; d < doc_count_; ++d) {
    if (!((reached[d >> 6] >> (d & 63)) & 1)) {
      return Corrupt(
          fmt::format("doc {} \"{}\" appears in no posting list", d, doc(d).external_id));
    }
  }
  return Status::Ok();
}

Result<SegmentReader> SegmentReader::Open(std::string_view data,
                                          std::shared_ptr<const void> keepalive, std::string name) {
  return Open(data, std::move(keepalive), std::move(name), OpenOptions());
}

Result<SegmentReader> SegmentReader::Open(std::string_view data,
                                          std::shared_ptr<const void> keepalive, std::string name,
                                          const OpenOptions& options) {
  auto corrupt = [&name](const std::string& what) { return Status::Corrupt(name + ": " + what); };
  const uint64_t size = data.size();
  if (size < kSegmentHeaderSize + kSegmentFooterSize) {
    return corrupt(fmt::format("{} bytes is too short for a segment (at least {})", size,
                               kSegmentHeaderSize + kSegmentFooterSize));
  }
  if (std::memcmp(data.data(), kSegmentMagic, sizeof(kSegmentMagic)) != 0) {
    return corrupt("not a pidx segment (bad magic)");
  }
  // The version decides the footer's layout, so it is checked before anything is read
  // from the footer: a future format must be reported as such, not as a bad checksum.
  const uint32_t version = DecodeFixed32(Bytes(data, kHeaderVersionOffset));
  if (version == kSegmentFormatVersion2) {
    PIDX_ASSIGN_OR_RETURN(SegmentReader r, Open2(data, std::move(name), options.verify_all));
    r.keepalive_ = std::move(keepalive);
    return r;
  }
  if (version != kSegmentFormatVersion) {
    return corrupt(fmt::format("unsupported segment format version {}", version));
  }
  const uint64_t footer = size - kSegmentFooterSize;
  if (std::memcmp(Bytes(data, footer + kFooterMagicOffset), kSegmentFooterMagic,
                  sizeof(kSegmentFooterMagic)) != 0) {
    return corrupt("bad footer magic (truncated or not a pidx segment)");
  }
  const uint64_t stored = DecodeFixed64(Bytes(data, footer + kFooterChecksumOffset));
  const uint64_t computed = Xxh3(data.substr(0, footer + kFooterChecksumOffset));
  if (stored != computed) {
    return corrupt(
        fmt::format("checksum mismatch (stored {}, computed {})", Hex64(stored), Hex64(computed)));
  }
  // From here on the bytes are what the writer wrote (or a forgery with a fixed checksum):
  // the structural checks below are what make every accessor safe on either.
  if (const uint32_t flags = DecodeFixed32(Bytes(data, kHeaderFlagsOffset)); flags != 0) {
    return corrupt(fmt::format("reserved header flags are {:#x}, not 0", flags));
  }
  if (const uint64_t reserved = DecodeFixed64(Bytes(data, footer + kFooterReservedOffset));
      reserved != 0) {
    return corrupt(fmt::format("reserved footer field is {:#x}, not 0", reserved));
  }

  SegmentReader r;
  r.doc_count_ = DecodeFixed32(Bytes(data, footer + kFooterDocCountOffset));
  r.term_count_ = DecodeFixed32(Bytes(data, footer + kFooterTermCountOffset));
  r.posting_count_ = DecodeFixed64(Bytes(data, footer + kFooterPostingCountOffset));
  const uint64_t terms = r.term_count_;
  const uint64_t docs = r.doc_count_;

  // Sections must tile [header, footer) in order with no gap: that bounds each one, rules
  // out overlaps, and leaves no byte the checks below do not cover.
  std::string_view sections[kSectionCount];
  PIDX_RETURN_IF_ERROR(TileSections(data, footer, kSectionCount, kSectionNames, sections, name));
  auto section = [&sections](Section s) { return sections[static_cast<int>(s)]; };

  const std::string_view shard = section(Section::kShardName);
  if (shard.size() < 4 || DecodeFixed32(shard.data()) != shard.size() - 4) {
    return corrupt("shard name section is malformed");
  }
  r.shard_ = std::string(shard.substr(4));

  struct TableSize {
    Section section;
    uint64_t expected;
  };
  for (const TableSize& t :
       {TableSize{Section::kTermOffsets, (terms + 1) * 4}, TableSize{Section::kTermDfs, terms * 4},
        TableSize{Section::kPostingOffsets, (terms + 1) * 8},
        TableSize{Section::kDocOffsets, (docs + 1) * 8}}) {
    if (section(t.section).size() != t.expected) {
      return corrupt(fmt::format("{} section has {} bytes, expected {} for {} terms and {} docs",
                                 kSectionNames[static_cast<int>(t.section)],
                                 section(t.section).size(), t.expected, terms, docs));
    }
  }
  r.terms_blob_ = section(Section::kTerms);
  r.term_offsets_ = Bytes(section(Section::kTermOffsets), 0);
  r.term_dfs_ = Bytes(section(Section::kTermDfs), 0);
  r.postings_blob_ = section(Section::kPostings);
  r.posting_offsets_ = Bytes(section(Section::kPostingOffsets), 0);
  r.docs_blob_ = section(Section::kDocs);
  r.doc_offsets_ = Bytes(section(Section::kDocOffsets), 0);

  auto decode32 = [](const unsigned char* p) -> uint64_t { return DecodeFixed32(p); };
  auto decode64 = [](const unsigned char* p) -> uint64_t { return DecodeFixed64(p); };
  for (const std::string& problem :
       {CheckOffsets(r.term_offsets_, terms, 4, decode32, r.terms_blob_.size(), "term offsets"),
        CheckOffsets(r.posting_offsets_, terms, 8, decode64, r.postings_blob_.size(),
                     "posting offsets"),
        CheckOffsets(r.doc_offsets_, docs, 8, decode64, r.docs_blob_.size(), "doc offsets")}) {
    if (!problem.empty()) return corrupt(problem);
  }

  uint64_t df_sum = 0;
  for (uint64_t i = 0; i < terms; ++i) df_sum += DecodeFixed32(r.term_dfs_ + 4 * i);
  if (df_sum != r.posting_count_) {
    return corrupt(
        fmt::format("footer posting count {} but the dfs sum to {}", r.posting_count_, df_sum));
  }
  // doc() cannot report an error, so every record is parsed once here; it costs far less
  // than the checksum pass over the same bytes.
  for (uint64_t i = 0; i < docs; ++i) {
    const uint64_t begin = DecodeFixed64(r.doc_offsets_ + 8 * i);
    const uint64_t end = DecodeFixed64(r.doc_offsets_ + 8 * (i + 1));
    DocView doc;
    if (!ParseDoc(r.docs_blob_.substr(begin, end - begin), &doc)) {
      return corrupt(fmt::format("doc {} record is malformed", i));
    }
  }

  r.keepalive_ = std::move(keepalive);
  r.data_ = data;
  r.name_ = std::move(name);
  r.checksum_ = stored;
  return r;
}

std::string_view SegmentReader::term(uint32_t i) const {
  if (version_ != kSegmentFormatVersion) {
    return std::string_view(flat_terms_)
        .substr(flat_term_offsets_[i], flat_term_offsets_[i + 1] - flat_term_offsets_[i]);
  }
  const uint32_t begin = DecodeFixed32(term_offsets_ + 4 * uint64_t{i});
  const uint32_t end = DecodeFixed32(term_offsets_ + 4 * (uint64_t{i} + 1));
  return terms_blob_.substr(begin, end - begin);
}

bool SegmentReader::posting_inline(uint32_t i) const {
  return version_ != kSegmentFormatVersion && flat_inline_[i] != 0;
}

uint32_t SegmentReader::doc_freq(uint32_t i) const {
  if (version_ != kSegmentFormatVersion) return flat_dfs_[i];
  return DecodeFixed32(term_dfs_ + 4 * uint64_t{i});
}

std::string_view SegmentReader::posting_bytes(uint32_t i) const {
  if (version_ != kSegmentFormatVersion) return flat_lists_[i];
  const uint64_t begin = DecodeFixed64(posting_offsets_ + 8 * uint64_t{i});
  const uint64_t end = DecodeFixed64(posting_offsets_ + 8 * (uint64_t{i} + 1));
  return postings_blob_.substr(begin, end - begin);
}

Result<Postings> SegmentReader::postings(uint32_t i) const {
  if (version_ != kSegmentFormatVersion) return ReadPostings(EntryAt(i));
  Result<Postings> p = Postings::Deserialize(posting_bytes(i), doc_count_);
  if (!p.ok()) return p.status().Annotate(fmt::format("{}: term {} \"{}\"", name_, i, term(i)));
  return p;
}

std::optional<uint32_t> SegmentReader::FindTerm(std::string_view t) const {
  // Open() does not prove the dictionary sorted (Validate does); on an unsorted one this
  // may miss a term but never reads out of bounds.
  const auto lo = static_cast<uint32_t>(
      PartitionPoint(0, term_count_, [&](size_t i) { return term(static_cast<uint32_t>(i)) < t; }));
  if (lo < term_count_ && term(lo) == t) return lo;
  return std::nullopt;
}

size_t SegmentReader::ForEachTermWithPrefix(std::string_view prefix, size_t cap,
                                            const std::function<void(uint32_t)>& fn) const {
  const auto lo = static_cast<uint32_t>(PartitionPoint(
      0, term_count_, [&](size_t i) { return term(static_cast<uint32_t>(i)) < prefix; }));
  size_t visited = 0;
  for (uint32_t i = lo; i < term_count_ && term(i).substr(0, prefix.size()) == prefix; ++i) {
    if (visited == cap) return cap + 1;
    fn(i);
    ++visited;
  }
  return visited;
}

DocView SegmentReader::doc(uint32_t i) const {
  if (version_ != kSegmentFormatVersion) {
    DocView view;
    const uint64_t begin = flat_doc_offsets_[i];
    ByteCursor in(docs_blob_.substr(begin, flat_doc_offsets_[i + 1] - begin));
    (void)ParseDoc2(&in, field_hash_count_, &view);  // Materialize parsed it
    return view;
  }
  const uint64_t begin = DecodeFixed64(doc_offsets_ + 8 * uint64_t{i});
  const uint64_t end = DecodeFixed64(doc_offsets_ + 8 * (uint64_t{i} + 1));
  DocView view;
  // Open() parsed every record, so this cannot fail.
  (void)ParseDoc(docs_blob_.substr(begin, end - begin), &view);
  return view;
}

Status SegmentReader::Validate() const {
  auto corrupt = [this](const std::string& what) { return Status::Corrupt(name_ + ": " + what); };
  if (!full_) return Status::Internal(name_ + ": Validate on a lazily opened segment");
  if (version_ != kSegmentFormatVersion) return Validate2();
  for (uint32_t i = 1; i < term_count_; ++i) {
    if (!(term(i - 1) < term(i))) {
      return corrupt(fmt::format("terms not strictly increasing: term {} \"{}\" after \"{}\"", i,
                                 term(i), term(i - 1)));
    }
  }
  // A structural walk of each posting list's bytes (Postings::CheckBytes), not a deserialize and
  // re-serialize: the same findings at the speed of reading the bytes once.
  std::vector<uint64_t> reached((uint64_t{doc_count_} + 63) / 64, 0);
  for (uint32_t i = 0; i < term_count_; ++i) {
    uint64_t cardinality = 0;
    Status s = Postings::CheckBytes(posting_bytes(i), doc_count_, &cardinality, &reached);
    if (!s.ok()) return s.Annotate(fmt::format("{}: term {} \"{}\"", name_, i, term(i)));
    if (cardinality != doc_freq(i) || doc_freq(i) == 0) {
      return corrupt(fmt::format("term {} \"{}\" has df {} but its posting list holds {} docs", i,
                                 term(i), doc_freq(i), cardinality));
    }
  }
  for (uint32_t d = 0; d < doc_count_; ++d) {
    DocView view;
    const uint64_t begin = DecodeFixed64(doc_offsets_ + 8 * uint64_t{d});
    const uint64_t end = DecodeFixed64(doc_offsets_ + 8 * (uint64_t{d} + 1));
    if (!ParseDoc(docs_blob_.substr(begin, end - begin), &view)) {
      return corrupt(fmt::format("doc {} record is malformed", d));
    }
    if (!((reached[d >> 6] >> (d & 63)) & 1)) {
      return corrupt(fmt::format("doc {} \"{}\" appears in no posting list", d, view.external_id));
    }
  }
  return Status::Ok();
}

}  // namespace pidx::segment
