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

}  // namespace pidx::segment
