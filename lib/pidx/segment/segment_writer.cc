#include "pidx/segment/segment_writer.h"

#include <cstring>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "pidx/base/checksum.h"
#include "pidx/base/coding.h"
#include "pidx/segment/format.h"
#include "pidx/segment/postings.h"

namespace pidx::segment {
namespace {

constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

}  // namespace

SegmentWriter::SegmentWriter(std::string shard)
    : shard_(std::move(shard)), term_offsets_{0}, posting_offsets_{0} {}

void SegmentWriter::AddDoc(DocRecord doc) {
  if (!status_.ok()) return;
  // Lengths are stored as u32 and the doc count as u32; refuse rather than wrap.
  if (doc.external_id.size() > kMaxU32 || doc.title.size() > kMaxU32 || docs_.size() >= kMaxU32) {
    status_ = Status::Internal(
        fmt::format("segment {}: doc {} does not fit the segment format", shard_, docs_.size()));
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
  if (n == 1) {
    Postings::SerializeOne(ids[0], &postings_blob_);
  } else {
    Postings::FromSorted(ids, n).SerializeTo(&postings_blob_);
  }
  posting_offsets_.push_back(postings_blob_.size());
  last_term_.assign(term.data(), term.size());
  ++term_count_;
  posting_count_ += n;
}

Result<std::string> SegmentWriter::Finish() {
  if (!status_.ok()) return status_;
  if (shard_.size() > kMaxU32) return Status::Internal("segment: shard name too long");

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
