#include "pidx/shard/shard_builder.h"

#include <algorithm>
#include <numeric>

#include "pidx/base/checksum.h"
#include "pidx/base/coding.h"
#include "pidx/segment/segment_writer.h"
#include "pidx/shard/signature.h"

namespace pidx::shard {

uint64_t ProductContentHash(const catalog::Schema& schema, const catalog::Product& product) {
  std::string buf;
  PutLengthPrefixed(&buf, product.id);
  PutLengthPrefixed(&buf, product.category);
  for (size_t i = 0; i < schema.fields().size() && i < product.fields.size(); ++i) {
    PutFixed32(&buf, static_cast<uint32_t>(product.fields[i].size()));
    for (const auto& v : product.fields[i]) PutLengthPrefixed(&buf, v);
  }
  return Xxh3(buf);
}

std::string_view StoredTitle(const catalog::Schema& schema, const catalog::Product& product) {
  int first_text = -1;
  const auto& fields = schema.fields();
  for (size_t i = 0; i < fields.size() && i < product.fields.size(); ++i) {
    if (fields[i].role != catalog::FieldRole::kText) continue;
    if (fields[i].name == "title") {
      return product.fields[i].empty() ? std::string_view() : product.fields[i][0];
    }
    if (first_text < 0) first_text = static_cast<int>(i);
  }
  if (first_text >= 0 && !product.fields[first_text].empty()) return product.fields[first_text][0];
  return {};
}

ShardBuilder::ShardBuilder(std::string shard) : shard_(std::move(shard)) {}

void ShardBuilder::Add(std::string external_id, std::string title, uint64_t content_hash,
                       const std::vector<std::string>& terms) {
  std::lock_guard<std::mutex> lock(mu_);
  Doc doc{std::move(external_id), std::move(title), content_hash, {}};
  doc.term_ids.reserve(terms.size());
  for (const auto& t : terms) {
    auto [it, inserted] = term_ids_.try_emplace(t, static_cast<uint32_t>(term_ids_.size()));
    doc.term_ids.push_back(it->second);
  }
  docs_.push_back(std::move(doc));
}

size_t ShardBuilder::doc_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return docs_.size();
}

Result<BuiltShard> ShardBuilder::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  std::sort(docs_.begin(), docs_.end(),
            [](const Doc& a, const Doc& b) { return a.external_id < b.external_id; });

  // Rank the terms in byte order: the dictionary's order.
  std::vector<const std::string*> by_id(term_ids_.size());
  for (const auto& [term, id] : term_ids_) by_id[id] = &term;
  std::vector<uint32_t> order(by_id.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return *by_id[a] < *by_id[b]; });

  // Invert in doc order so every posting list is already sorted.
  std::vector<std::vector<uint32_t>> postings(by_id.size());
  for (uint32_t d = 0; d < docs_.size(); ++d) {
    for (uint32_t t : docs_[d].term_ids) postings[t].push_back(d);
  }

  segment::SegmentWriter writer(shard_);
  ContentSignature signature;
  TermBloom bloom;
  for (auto& doc : docs_) {
    signature.AddDoc(doc.external_id, doc.content_hash);
    writer.AddDoc({std::move(doc.external_id), std::move(doc.title), doc.content_hash});
    doc.term_ids = {};
  }
  for (uint32_t t : order) {
    const auto& ids = postings[t];
    writer.AddTerm(*by_id[t], ids.data(), ids.size());
    signature.AddTerm(*by_id[t], static_cast<uint32_t>(ids.size()));
    bloom.Add(*by_id[t]);
    postings[t] = {};
  }
  BuiltShard out;
  out.shard = shard_;
  out.docs = writer.doc_count();
  out.terms = writer.term_count();
  out.postings = writer.posting_count();
  PIDX_ASSIGN_OR_RETURN(out.bytes, writer.Finish());
  out.checksum = out.bytes.size() >= 8 ? DecodeFixed64(out.bytes.data() + out.bytes.size() - 8) : 0;
  out.signature = signature.Digest();
  out.term_bloom = bloom.ToHex();
  docs_.clear();
  term_ids_.clear();
  return out;
}

}  // namespace pidx::shard
