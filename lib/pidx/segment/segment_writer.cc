#include "pidx/segment/segment_writer.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

#include <fmt/format.h>
#include <zstd.h>

#include "pidx/base/checksum.h"
#include "pidx/base/coding.h"
#include "pidx/segment/codec.h"
#include "pidx/segment/format.h"
#include "pidx/segment/postings.h"

namespace pidx::segment {
namespace {

constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

}  // namespace

SegmentWriter::SegmentWriter(std::string shard, uint32_t format_version)
    : shard_(std::move(shard)),
      version_(format_version),
      term_offsets_{0},
      posting_offsets_{0},
      inline_offsets_{0},
      doc_codec_(kDocCodecZstd),
      doc_level_(kDocZstdLevel) {
  if (version_ != kSegmentFormatVersion && version_ != kSegmentFormatVersion2) {
    status_ = Status::Internal(fmt::format("segment: cannot write format {}", version_));
  }
}

void SegmentWriter::set_doc_codec(uint32_t codec, int level) {
  if (codec != kDocCodecRaw && codec != kDocCodecZstd) {
    status_ = Status::Internal(fmt::format("segment: no doc codec {}", codec));
    return;
  }
  doc_codec_ = codec;
  doc_level_ = level;
}

void SegmentWriter::AddDoc(DocRecord doc) {
  if (!status_.ok()) return;
  // Lengths are stored as u32 and the doc count as u32; refuse rather than wrap.
  if (doc.external_id.size() > kMaxU32 || doc.title.size() > kMaxU32 || docs_.size() >= kMaxU32) {
    status_ = Status::Internal(
        fmt::format("segment {}: doc {} does not fit the segment format", shard_, docs_.size()));
    return;
  }
  if (version_ == kSegmentFormatVersion && !doc.field_hashes.empty()) doc.field_hashes.clear();
  if (!docs_.empty() && doc.field_hashes.size() != docs_.front().field_hashes.size()) {
    status_ = Status::Internal(fmt::format("segment {}: doc {} has {} field hashes, doc 0 has {}",
                                           shard_, docs_.size(), doc.field_hashes.size(),
                                           docs_.front().field_hashes.size()));
    return;
  }
  if (doc.field_hashes.size() > kMaxFieldHashes) {
    status_ = Status::Internal(
        fmt::format("segment {}: more than {} field hashes", shard_, kMaxFieldHashes));
    return;
  }
  docs_.push_back(std::move(doc));
}

void SegmentWriter::AddTerm(std::string_view term, const uint32_t* ids, size_t n) {
  if (!status_.ok()) return;
  auto fail = [&](const std::string& why) {
    status_ = Status::Internal(fmt::format("segment {}: term \"{}\": {}", shard_, term, why));
  };
  // Readers binary-search the dictionary, so order is part of the format, not a nicety.
  if (term_count_ > 0 && term <= std::string_view(last_term_)) {
    return fail(fmt::format("not after the previous term \"{}\"", last_term_));
  }
  if (n == 0) return fail("empty posting list");
  for (size_t i = 1; i < n; ++i) {
    if (ids[i] <= ids[i - 1]) return fail(fmt::format("doc ids not increasing at {}", i));
  }
  if (ids[n - 1] >= docs_.size()) {
    return fail(fmt::format("doc id {} but only {} docs added", ids[n - 1], docs_.size()));
  }
  if (terms_blob_.size() + term.size() > kMaxU32 || term_count_ == kMaxU32) {
    return fail("term dictionary exceeds the u32 offsets of the format");
  }

  terms_blob_.append(term.data(), term.size());
  term_offsets_.push_back(static_cast<uint32_t>(terms_blob_.size()));
  term_dfs_.push_back(static_cast<uint32_t>(n));
  if (version_ == kSegmentFormatVersion2 && n <= kInlineMaxDf) {
    EncodeDeltaList(ids, n, &inline_blob_);
  } else if (n == 1) {
    Postings::SerializeOne(ids[0], &postings_blob_);
  } else {
    Postings::FromSorted(ids, n).SerializeTo(&postings_blob_);
  }
  posting_offsets_.push_back(postings_blob_.size());
  inline_offsets_.push_back(inline_blob_.size());
  last_term_.assign(term.data(), term.size());
  ++term_count_;
  posting_count_ += n;
}

Result<std::string> SegmentWriter::Finish() {
  if (!status_.ok()) return status_;
  if (shard_.size() > kMaxU32) return Status::Internal("segment: shard name too long");
  return version_ == kSegmentFormatVersion ? Finish1() : Finish2();
}

Result<std::string> SegmentWriter::Finish2() {
  // Docs: blocks of kDocBlockSize records, each block checksummed in the doc index.
  const uint32_t field_hashes =
      docs_.empty() ? 0 : static_cast<uint32_t>(docs_.front().field_hashes.size());
  std::string docs_blob;
  std::string doc_index;
  auto encode = [&](size_t d, std::string* raw) {
    const DocRecord& doc = docs_[d];
    PutVarint(raw, doc.external_id.size());
    *raw += doc.external_id;
    PutVarint(raw, doc.title.size());
    *raw += doc.title;
    PutFixed64(raw, doc.content_hash);
    for (const uint16_t h : doc.field_hashes) {
      raw->push_back(static_cast<char>(h & 0xFF));
      raw->push_back(static_cast<char>(h >> 8));
    }
  };
  // A raw block over kMaxRawDocBlock (a reader's bound) makes the whole segment codec 0, which
  // depends only on the content, so determinism holds. Sizes first, so that no block is
  // encoded twice.
  auto varint_size = [](uint64_t v) {
    size_t n = 1;
    for (; v >= 0x80; v >>= 7) ++n;
    return n;
  };
  uint32_t doc_codec = doc_codec_;
  for (size_t first = 0; first < docs_.size() && doc_codec != kDocCodecRaw;
       first += kDocBlockSize) {
    uint64_t size = 0;
    for (size_t d = first; d < docs_.size() && d < first + kDocBlockSize; ++d) {
      const DocRecord& doc = docs_[d];
      size += varint_size(doc.external_id.size()) + doc.external_id.size() +
              varint_size(doc.title.size()) + doc.title.size() + 8 + 2 * doc.field_hashes.size();
    }
    if (size > kMaxRawDocBlock) doc_codec = kDocCodecRaw;
  }
  // One context per thread, kept: creating one per segment was 3% of a 42k-shard build.
  // ZSTD_compressCCtx resets it and compresses at the given level only, so the bytes do not
  // depend on what the context compressed before.
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(nullptr, ZSTD_freeCCtx);
  if (doc_codec == kDocCodecZstd && cctx == nullptr) {
    cctx.reset(ZSTD_createCCtx());
    if (cctx == nullptr) return Status::Internal("segment: out of memory for zstd");
  }
  std::string raw;
  for (size_t first = 0, b = 0; first < docs_.size(); first += kDocBlockSize, ++b) {
    raw.clear();
    for (size_t d = first; d < docs_.size() && d < first + kDocBlockSize; ++d) encode(d, &raw);
    const size_t begin = docs_blob.size();
    if (doc_codec == kDocCodecRaw) {
      docs_blob += raw;
    } else {
      docs_blob.resize(begin + ZSTD_compressBound(raw.size()));
      // ZSTD_compressCCtx writes the content size into the frame header and no dictionary id
      // or checksum (the doc index holds the block's checksum).
      const size_t got =
          ZSTD_compressCCtx(cctx.get(), docs_blob.data() + begin, docs_blob.size() - begin,
                            raw.data(), raw.size(), doc_level_);
      if (ZSTD_isError(got)) {
        return Status::Internal(
            fmt::format("segment {}: zstd of doc block {}: {}", shard_, b, ZSTD_getErrorName(got)));
      }
      docs_blob.resize(begin + got);
    }
    const std::string_view block = std::string_view(docs_blob).substr(begin);
    PutFixed64(&doc_index, Xxh3(block));
    PutVarint(&doc_index, block.size());
  }

  // Dictionary: blocks of kTermBlockSize front-coded entries; lists of more than kInlineMaxDf
  // docs are Roaring in the postings section, in term order.
  std::string term_blocks;
  std::string block_index;
  std::vector<BlockEntry> entries;
  for (uint32_t first = 0; first < term_count_; first += kTermBlockSize) {
    entries.clear();
    const uint32_t last = std::min<uint32_t>(term_count_, first + kTermBlockSize);
    for (uint32_t t = first; t < last; ++t) {
      BlockEntry e;
      e.term = std::string_view(terms_blob_)
                   .substr(term_offsets_[t], term_offsets_[t + 1] - term_offsets_[t]);
      e.df = term_dfs_[t];
      e.inline_list = std::string_view(inline_blob_)
                          .substr(inline_offsets_[t], inline_offsets_[t + 1] - inline_offsets_[t]);
      e.roaring_size = posting_offsets_[t + 1] - posting_offsets_[t];
      entries.push_back(e);
    }
    const size_t begin = term_blocks.size();
    EncodeBlock(posting_offsets_[first], entries, kInlineMaxDf, &term_blocks);
    const std::string_view block = std::string_view(term_blocks).substr(begin);
    PutFixed64(&block_index, Xxh3(block));
    PutVarint(&block_index, block.size());
    PutVarint(&block_index, entries.front().term.size());
    block_index += entries.front().term;
  }
  std::string posting_checksums;
  for (size_t at = 0; at < postings_blob_.size(); at += kPostingChunkSize) {
    PutFixed64(&posting_checksums,
               Xxh3(std::string_view(postings_blob_).substr(at, kPostingChunkSize)));
  }

  std::string out;
  out.append(kSegmentMagic, sizeof(kSegmentMagic));
  PutFixed32(&out, kSegmentFormatVersion2);
  PutFixed32(&out, 0);  // flags: reserved
  uint64_t table[kSectionCount2][2];
  int next = 0;
  // The meta checksum covers the small sections a reader decodes on open, the header and the
  // footer; the big ones (term blocks, postings, docs) have a checksum per block or chunk.
  std::string meta(out);
  auto section = [&](const std::string& bytes, bool is_meta) {
    table[next][0] = out.size();
    out += bytes;
    table[next][1] = bytes.size();
    if (is_meta) meta += bytes;
    ++next;
  };
  std::string shard_section;
  PutLengthPrefixed(&shard_section, shard_);
  section(shard_section, true);
  section(term_blocks, false);
  section(block_index, true);
  section(postings_blob_, false);
  section(posting_checksums, true);
  section(docs_blob, false);
  section(doc_index, true);

  const size_t footer = out.size();
  for (const auto& entry : table) {
    PutFixed64(&out, entry[0]);
    PutFixed64(&out, entry[1]);
  }
  PutFixed32(&out, doc_count());
  PutFixed32(&out, term_count_);
  PutFixed64(&out, posting_count_);
  PutFixed32(&out, kTermBlockSize);
  PutFixed32(&out, kDocBlockSize);
  PutFixed32(&out, kPostingChunkSize);
  PutFixed32(&out, field_hashes);
  PutFixed32(&out, kInlineMaxDf);
  PutFixed32(&out, doc_codec);
  meta.append(out, footer, out.size() - footer);
  PutFixed64(&out, Xxh3(meta));
  out.append(kSegmentFooterMagic, sizeof(kSegmentFooterMagic));
  // The whole-file checksum (the manifest's and the file name's): verify and the build's
  // read-back check it; a query checks only the blocks it reads.
  PutFixed64(&out, Xxh3(out));
  return out;
}

Result<std::string> SegmentWriter::Finish1() {
  std::string docs_blob;
  std::vector<uint64_t> doc_offsets{0};
  doc_offsets.reserve(docs_.size() + 1);
  for (const DocRecord& doc : docs_) {
    PutLengthPrefixed(&docs_blob, doc.external_id);
    PutLengthPrefixed(&docs_blob, doc.title);
    PutFixed64(&docs_blob, doc.content_hash);
    doc_offsets.push_back(docs_blob.size());
  }

  std::string out;
  out.append(kSegmentMagic, sizeof(kSegmentMagic));
  PutFixed32(&out, kSegmentFormatVersion);
  PutFixed32(&out, 0);  // flags: reserved

  // (offset, size) of each section, in Section order, for the footer.
  uint64_t table[kSectionCount][2];
  int next = 0;
  auto section = [&](auto&& append) {
    table[next][0] = out.size();
    append();
    table[next][1] = out.size() - table[next][0];
    ++next;
  };
  section([&] { PutLengthPrefixed(&out, shard_); });
  section([&] { out += terms_blob_; });
  section([&] {
    for (uint32_t v : term_offsets_) PutFixed32(&out, v);
  });
  section([&] {
    for (uint32_t v : term_dfs_) PutFixed32(&out, v);
  });
  section([&] { out += postings_blob_; });
  section([&] {
    for (uint64_t v : posting_offsets_) PutFixed64(&out, v);
  });
  section([&] { out += docs_blob; });
  section([&] {
    for (uint64_t v : doc_offsets) PutFixed64(&out, v);
  });

  for (const auto& entry : table) {
    PutFixed64(&out, entry[0]);
    PutFixed64(&out, entry[1]);
  }
  PutFixed32(&out, doc_count());
  PutFixed32(&out, term_count_);
  PutFixed64(&out, posting_count_);
  PutFixed64(&out, 0);  // reserved
  out.append(kSegmentFooterMagic, sizeof(kSegmentFooterMagic));
  // The checksum covers every byte before it, header and footer included, so a reader that
  // verified it can trust each field it then bounds-checks.
  PutFixed64(&out, Xxh3(out));
  return out;
}

}  // namespace pidx::segment
