// libFuzzer target: the segment reader (Open + Validate + every accessor) on arbitrary bytes,
// formats 1 and 2, opened fully and (format 2) lazily. Garbage must be kCorrupt, never a crash,
// a hang or a sanitizer report. Random bytes almost never carry a right checksum, so when the
// first byte is even the target writes the right ones into the footer (format 2: the meta
// checksum, then the whole-file one): the structure checks behind them get fuzzed too (a forged
// checksum is a case the reader must survive anyway). Format 2's doc block checksums are forged
// as well, so that mutated zstd frames (doc_codec 1) reach the decompression and its bounds.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "pidx/base/checksum.h"
#include "pidx/base/coding.h"
#include "pidx/segment/codec.h"
#include "pidx/segment/format.h"
#include "pidx/segment/segment_reader.h"

namespace {

using pidx::segment::kSegmentFooterSize2;

// Format 2: the meta checksum over the header, the small sections and the footer's first part,
// when the section table is in bounds (else the reader refuses it before the checksum).
void ForgeMeta(std::string* bytes) {
  if (bytes->size() < pidx::segment::kSegmentHeaderSize + kSegmentFooterSize2) return;
  if (pidx::DecodeFixed32(bytes->data() + pidx::segment::kHeaderVersionOffset) != 2) return;
  const size_t footer = bytes->size() - kSegmentFooterSize2;
  pidx::Xxh3Stream meta;
  meta.Update(std::string_view(*bytes).substr(0, pidx::segment::kSegmentHeaderSize));
  for (int i : {0, 2, 4, 6}) {
    const uint64_t off = pidx::DecodeFixed64(bytes->data() + footer + 16 * i);
    const uint64_t size = pidx::DecodeFixed64(bytes->data() + footer + 16 * i + 8);
    if (off > footer || size > footer - off) return;
    meta.Update(std::string_view(*bytes).substr(off, size));
  }
  meta.Update(std::string_view(*bytes).substr(footer, pidx::segment::kF2MetaChecksumOffset));
  std::string sum;
  pidx::PutFixed64(&sum, meta.Digest());
  bytes->replace(footer + pidx::segment::kF2MetaChecksumOffset, 8, sum);
}

// Format 2: each doc index entry's checksum set to the XXH3-64 of its block, for the entries
// whose sizes stay within the docs section (sizes are not changed, so the file keeps its shape).
void ForgeDocIndex(std::string* bytes) {
  if (bytes->size() < pidx::segment::kSegmentHeaderSize + kSegmentFooterSize2) return;
  if (pidx::DecodeFixed32(bytes->data() + pidx::segment::kHeaderVersionOffset) != 2) return;
  const size_t footer = bytes->size() - kSegmentFooterSize2;
  uint64_t off[2], size[2];
  for (int k = 0; k < 2; ++k) {
    const int i = k == 0 ? static_cast<int>(pidx::segment::Section2::kDocs)
                         : static_cast<int>(pidx::segment::Section2::kDocIndex);
    off[k] = pidx::DecodeFixed64(bytes->data() + footer + 16 * i);
    size[k] = pidx::DecodeFixed64(bytes->data() + footer + 16 * i + 8);
    if (off[k] > footer || size[k] > footer - off[k]) return;
  }
  pidx::segment::ByteCursor in(std::string_view(*bytes).substr(off[1], size[1]));
  uint64_t at = 0;
  while (!in.done()) {
    const size_t entry = off[1] + (size[1] - in.remaining());
    uint64_t sum, n;
    if (!in.Fixed64(&sum) || !in.Varint(&n) || n > size[0] - at) return;
    std::string fixed;
    pidx::PutFixed64(&fixed, pidx::Xxh3(std::string_view(*bytes).substr(off[0] + at, n)));
    bytes->replace(entry, 8, fixed);
    at += n;
  }
}

void Exercise(const pidx::segment::SegmentReader& r, std::string_view bytes) {
  // The prefix walk is bounds-safe on a dictionary that Open accepted but Validate would not
  // (unsorted terms): it may miss terms, never read outside the file or pass the cap.
  for (const std::string_view prefix :
       {std::string_view(""), std::string_view("t"), bytes.substr(0, 3)}) {
    size_t visited = 0;
    auto n = r.ForEachEntryWithPrefix(prefix, 5, [&](const pidx::segment::TermEntry& e) {
      if (e.ordinal >= r.term_count()) std::abort();
      (void)r.ReadPostings(e);
      (void)r.Lookup(e.term);
      ++visited;
    });
    if (n.ok() && (visited > 5 || *n > 6 || (*n <= 5 && *n != visited))) std::abort();
  }
  for (uint32_t d = 0; d < std::min<uint32_t>(r.doc_count(), 5000); ++d) (void)r.ReadDoc(d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool forge = (data[0] & 1) == 0;
  auto bytes = std::make_shared<std::string>(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (forge && bytes->size() >= 8) {
    ForgeDocIndex(bytes.get());
    ForgeMeta(bytes.get());
    std::string sum;
    pidx::PutFixed64(&sum, pidx::Xxh3(std::string_view(*bytes).substr(0, bytes->size() - 8)));
    bytes->replace(bytes->size() - 8, 8, sum);
  }
  pidx::segment::OpenOptions lazy_options;
  lazy_options.verify_all = false;
  auto lazy = pidx::segment::SegmentReader::Open(*bytes, bytes, "fuzz.seg", lazy_options);
  if (lazy.ok()) Exercise(*lazy, *bytes);
  auto reader = pidx::segment::SegmentReader::Open(*bytes, bytes, "fuzz.seg");
  if (!reader.ok()) return 0;
  Exercise(*reader, *bytes);
  for (const std::string_view prefix : {std::string_view(""), std::string_view("t")}) {
    (void)reader->ForEachTermWithPrefix(prefix, 5, [&](uint32_t i) {
      if (i >= reader->term_count()) std::abort();
      (void)reader->term(i);
    });
  }
  if (!reader->Validate().ok()) return 0;
  // A valid segment: every accessor must be safe.
  for (uint32_t i = 0; i < reader->term_count(); ++i) {
    (void)reader->term(i);
    (void)reader->doc_freq(i);
    (void)reader->posting_inline(i);
    auto p = reader->postings(i);
    (void)reader->FindTerm(reader->term(i));
  }
  for (uint32_t d = 0; d < reader->doc_count(); ++d) (void)reader->doc(d);
  return 0;
}
