#include "pidx/segment/segment_reader.h"

#include <cstring>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "pidx/base/checksum.h"
#include "pidx/base/coding.h"
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

}  // namespace

Result<SegmentReader> SegmentReader::Open(std::string_view data,
                                          std::shared_ptr<const void> keepalive, std::string name) {
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
  uint64_t expected = kSegmentHeaderSize;
  for (int i = 0; i < kSectionCount; ++i) {
    const uint64_t offset = DecodeFixed64(Bytes(data, footer + 16 * i));
    const uint64_t length = DecodeFixed64(Bytes(data, footer + 16 * i + 8));
    if (offset != expected || length > footer - offset) {
      return corrupt(fmt::format(
          "{} section at offset {} size {} is out of place (expected at {}, file body ends at {})",
          kSectionNames[i], offset, length, expected, footer));
    }
    sections[i] = data.substr(offset, length);
    expected += length;
  }
  if (expected != footer) {
    return corrupt(fmt::format("sections end at {} but the footer starts at {}", expected, footer));
  }
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
  const uint32_t begin = DecodeFixed32(term_offsets_ + 4 * uint64_t{i});
  const uint32_t end = DecodeFixed32(term_offsets_ + 4 * (uint64_t{i} + 1));
  return terms_blob_.substr(begin, end - begin);
}

uint32_t SegmentReader::doc_freq(uint32_t i) const {
  return DecodeFixed32(term_dfs_ + 4 * uint64_t{i});
}

std::string_view SegmentReader::posting_bytes(uint32_t i) const {
  const uint64_t begin = DecodeFixed64(posting_offsets_ + 8 * uint64_t{i});
  const uint64_t end = DecodeFixed64(posting_offsets_ + 8 * (uint64_t{i} + 1));
  return postings_blob_.substr(begin, end - begin);
}

Result<Postings> SegmentReader::postings(uint32_t i) const {
  Result<Postings> p = Postings::Deserialize(posting_bytes(i), doc_count_);
  if (!p.ok()) return p.status().Annotate(fmt::format("{}: term {} \"{}\"", name_, i, term(i)));
  return p;
}

std::optional<uint32_t> SegmentReader::FindTerm(std::string_view t) const {
  // Open() does not prove the dictionary sorted (Validate does); on an unsorted one this
  // may miss a term but never reads out of bounds.
  uint32_t lo = 0;
  uint32_t hi = term_count_;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (term(mid) < t) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < term_count_ && term(lo) == t) return lo;
  return std::nullopt;
}

size_t SegmentReader::ForEachTermWithPrefix(std::string_view prefix, size_t cap,
                                            const std::function<void(uint32_t)>& fn) const {
  uint32_t lo = 0;
  uint32_t hi = term_count_;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (term(mid) < prefix) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  size_t visited = 0;
  for (uint32_t i = lo; i < term_count_ && term(i).substr(0, prefix.size()) == prefix; ++i) {
    if (visited == cap) return cap + 1;
    fn(i);
    ++visited;
  }
  return visited;
}

DocView SegmentReader::doc(uint32_t i) const {
  const uint64_t begin = DecodeFixed64(doc_offsets_ + 8 * uint64_t{i});
  const uint64_t end = DecodeFixed64(doc_offsets_ + 8 * (uint64_t{i} + 1));
  DocView view;
  // Open() parsed every record, so this cannot fail.
  (void)ParseDoc(docs_blob_.substr(begin, end - begin), &view);
  return view;
}

Status SegmentReader::Validate() const {
  auto corrupt = [this](const std::string& what) { return Status::Corrupt(name_ + ": " + what); };
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
