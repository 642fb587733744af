// Constants of the segment file format. The byte layout is documented in docs/FORMAT.md;
// format numbers are only ever added, never reused.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pidx::segment {

inline constexpr char kSegmentMagic[8] = {'P', 'I', 'D', 'X', 'S', 'E', 'G', '1'};
inline constexpr char kSegmentFooterMagic[8] = {'P', 'I', 'D', 'X', 'E', 'N', 'D', '1'};
inline constexpr uint32_t kSegmentFormatVersion = 1;

// Header: magic (8) | format_version u32 | flags u32 (reserved, 0).
inline constexpr size_t kHeaderVersionOffset = 8;
inline constexpr size_t kHeaderFlagsOffset = 12;
inline constexpr size_t kSegmentHeaderSize = 16;

// The sections, in file order; they tile the bytes between header and footer exactly.
enum class Section : int {
  kShardName = 0,   // u32 length + bytes
  kTerms,           // concatenated term bytes
  kTermOffsets,     // (T+1) x u32, into kTerms
  kTermDfs,         // T x u32
  kPostings,        // concatenated portable Roaring bitmaps
  kPostingOffsets,  // (T+1) x u64, into kPostings
  kDocs,            // per doc: u32 len + id, u32 len + title, u64 content_hash
  kDocOffsets,      // (D+1) x u64, into kDocs
};
inline constexpr int kSectionCount = 8;
inline constexpr const char* kSectionNames[kSectionCount] = {
    "shard name", "terms",           "term offsets", "term dfs",
    "postings",   "posting offsets", "docs",         "doc offsets"};

// Footer, at the very end of the file. Offsets are relative to the footer's first byte.
// Section i is described by (offset u64, size u64) at 16 * i.
inline constexpr size_t kFooterSectionTableSize = 16 * kSectionCount;            // 128
inline constexpr size_t kFooterDocCountOffset = kFooterSectionTableSize;         // u32
inline constexpr size_t kFooterTermCountOffset = kFooterDocCountOffset + 4;      // u32
inline constexpr size_t kFooterPostingCountOffset = kFooterTermCountOffset + 4;  // u64
inline constexpr size_t kFooterReservedOffset = kFooterPostingCountOffset + 8;   // u64, 0
inline constexpr size_t kFooterMagicOffset = kFooterReservedOffset + 8;          // 8 bytes
inline constexpr size_t kFooterChecksumOffset = kFooterMagicOffset + 8;          // u64
inline constexpr size_t kSegmentFooterSize = kFooterChecksumOffset + 8;          // 168

// Each doc record is at least its two length prefixes and its content hash.
inline constexpr size_t kMinDocRecordSize = 4 + 4 + 8;

// ---- Format 2 (docs/FORMAT.md "Format 2") ----
// Same header (magic, version 2, flags 0); seven sections; a 176-byte footer.
inline constexpr uint32_t kSegmentFormatVersion2 = 2;
// The version SegmentWriter writes by default.
inline constexpr uint32_t kDefaultSegmentFormatVersion = kSegmentFormatVersion2;

enum class Section2 : int {
  kShardName = 0,     // u32 length + bytes
  kTermBlocks,        // front-coded dictionary blocks, back to back
  kBlockIndex,        // per block: u64 checksum, varint size, varint first-term length + bytes
  kPostings,          // portable Roaring lists of the terms whose df > kInlineMaxDf
  kPostingChecksums,  // u64 XXH3 per posting chunk
  kDocs,              // doc blocks, back to back
  kDocIndex,          // per doc block: u64 checksum, varint size
};
inline constexpr int kSectionCount2 = 7;
inline constexpr const char* kSectionNames2[kSectionCount2] = {
    "shard name",        "term blocks", "block index", "postings",
    "posting checksums", "docs",        "doc index"};

// Writer parameters (recorded in the footer, so a reader never assumes them).
inline constexpr uint32_t kTermBlockSize = 32;       // terms per dictionary block
inline constexpr uint32_t kDocBlockSize = 32;        // doc records per doc block
inline constexpr uint32_t kPostingChunkSize = 4096;  // bytes of postings per checksum
inline constexpr uint32_t kInlineMaxDf = 1024;       // lists of <= 1024 docs are inline varints
// Reader limits on the recorded parameters (hostile footers).
inline constexpr uint32_t kMaxTermBlockSize = 4096;
inline constexpr uint32_t kMaxDocBlockSize = 4096;
inline constexpr uint32_t kMinPostingChunkSize = 4096;
inline constexpr uint32_t kMaxPostingChunkSize = 1u << 30;
inline constexpr uint32_t kMaxFieldHashes = 1024;
inline constexpr uint32_t kMaxInlineMaxDf = 4096;

// Footer field doc_codec (docs/FORMAT.md "Doc blocks"): how each doc block is stored.
inline constexpr uint32_t kDocCodecRaw = 0;   // the records as they are
inline constexpr uint32_t kDocCodecZstd = 1;  // one zstd frame (content size in its header)
// The zstd level pidx writes: fixed, so that one content gives one byte string. Measured on
// 100k pidx-gen products (32-doc blocks, 8.25 MB raw): level 3 gives 6.01 MB, 9 gives 5.96 MB
// for 40% more compression time, 19 gives 5.94 MB for 3x; 3 it is.
inline constexpr int kDocZstdLevel = 3;
// The largest raw doc block a codec-1 frame may declare; readers refuse more before they
// allocate anything. A writer whose raw block would be larger writes the segment with codec 0.
inline constexpr uint64_t kMaxRawDocBlock = uint64_t{16} << 20;  // 16 MiB

// Footer 2, offsets relative to its first byte; section i is (offset u64, size u64) at 16 * i.
inline constexpr size_t kF2SectionTableSize = 16 * kSectionCount2;           // 112
inline constexpr size_t kF2DocCountOffset = kF2SectionTableSize;             // u32
inline constexpr size_t kF2TermCountOffset = kF2DocCountOffset + 4;          // u32
inline constexpr size_t kF2PostingCountOffset = kF2TermCountOffset + 4;      // u64
inline constexpr size_t kF2TermBlockSizeOffset = kF2PostingCountOffset + 8;  // u32
inline constexpr size_t kF2DocBlockSizeOffset = kF2TermBlockSizeOffset + 4;  // u32
inline constexpr size_t kF2ChunkSizeOffset = kF2DocBlockSizeOffset + 4;      // u32
inline constexpr size_t kF2FieldHashCountOffset = kF2ChunkSizeOffset + 4;    // u32
inline constexpr size_t kF2InlineMaxDfOffset = kF2FieldHashCountOffset + 4;  // u32
inline constexpr size_t kF2DocCodecOffset = kF2InlineMaxDfOffset + 4;        // u32, 0 or 1
inline constexpr size_t kF2MetaChecksumOffset = kF2DocCodecOffset + 4;       // u64
inline constexpr size_t kF2MagicOffset = kF2MetaChecksumOffset + 8;          // 8 bytes
inline constexpr size_t kF2ChecksumOffset = kF2MagicOffset + 8;              // u64
inline constexpr size_t kSegmentFooterSize2 = kF2ChecksumOffset + 8;         // 176

}  // namespace pidx::segment
