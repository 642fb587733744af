#include "pidx/shard/shard_builder.h"

#include <malloc.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "pidx/base/checksum.h"
#include "pidx/base/coding.h"
#include "pidx/catalog/number_text.h"
#include "pidx/segment/segment_writer.h"
#include "pidx/shard/shard_id.h"
#include "pidx/shard/signature.h"

namespace pidx::shard {

uint64_t ProductContentHash(const catalog::Schema& schema, const catalog::Product& product) {
  thread_local std::string buf;  // reused: this runs for every product
  buf.clear();
  PutLengthPrefixed(&buf, product.id);
  PutLengthPrefixed(&buf, product.category);
  thread_local std::vector<const std::string*> attrs;
  for (size_t i = 0; i < schema.fields().size() && i < product.fields.size(); ++i) {
    const auto& values = product.fields[i];
    PutFixed32(&buf, static_cast<uint32_t>(values.size()));
    const catalog::FieldRole role = schema.fields()[i].role;
    if (role == catalog::FieldRole::kNumber) {
      // By value, not as written: 7, 7.0 and 7e0 are one price, in JSONL and CSV alike.
      for (const auto& v : values) PutLengthPrefixed(&buf, catalog::CanonicalNumberText(v));
      continue;
    }
    if (role != catalog::FieldRole::kAttrs) {
      for (const auto& v : values) PutLengthPrefixed(&buf, v);
      continue;
    }
    // An attrs object's keys have no order ({"a":1,"b":2} is {"b":2,"a":1}): hash its entries
    // by key, keeping the order of an array's values under one key, which does mean something.
    attrs.clear();
    for (const auto& v : values) attrs.push_back(&v);
    std::stable_sort(attrs.begin(), attrs.end(), [](const std::string* a, const std::string* b) {
      return std::string_view(*a).substr(0, a->find(catalog::kAttrSeparator)) <
             std::string_view(*b).substr(0, b->find(catalog::kAttrSeparator));
    });
    for (const std::string* v : attrs) PutLengthPrefixed(&buf, *v);
  }
  return Xxh3(buf);
}

void ProductFieldHashes(const catalog::Schema& schema, const catalog::Product& product,
                        std::string* out) {
  thread_local std::string buf;
  thread_local std::vector<const std::string*> attrs;
  for (size_t i = 0; i < schema.fields().size(); ++i) {
    buf.clear();
    const catalog::FieldRole role = schema.fields()[i].role;
    if (static_cast<int>(i) == schema.category_index()) {
      PutLengthPrefixed(&buf, product.category);
    } else if (role == catalog::FieldRole::kId) {
      PutLengthPrefixed(&buf, product.id);
    } else {
      static const std::vector<std::string> kNone;
      const auto& values = i < product.fields.size() ? product.fields[i] : kNone;
      PutFixed32(&buf, static_cast<uint32_t>(values.size()));
      if (role == catalog::FieldRole::kNumber) {
        for (const auto& v : values) PutLengthPrefixed(&buf, catalog::CanonicalNumberText(v));
      } else if (role != catalog::FieldRole::kAttrs) {
        for (const auto& v : values) PutLengthPrefixed(&buf, v);
      } else {
        attrs.clear();
        for (const auto& v : values) attrs.push_back(&v);
        std::stable_sort(attrs.begin(), attrs.end(),
                         [](const std::string* a, const std::string* b) {
                           return std::string_view(*a).substr(0, a->find(catalog::kAttrSeparator)) <
                                  std::string_view(*b).substr(0, b->find(catalog::kAttrSeparator));
                         });
        for (const std::string* v : attrs) PutLengthPrefixed(&buf, *v);
      }
    }
    const uint64_t h = Xxh3(buf);
    out->push_back(static_cast<char>(h & 0xFF));
    out->push_back(static_cast<char>((h >> 8) & 0xFF));
  }
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

namespace {

// Reads what PutLengthPrefixed / PutFixed wrote, failing on truncation.
class RunReader {
 public:
  explicit RunReader(std::string_view data) : data_(data) {}
  bool U32(uint32_t* v) {
    if (data_.size() < 4) return false;
    *v = DecodeFixed32(data_.data());
    data_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t* v) {
    if (data_.size() < 8) return false;
    *v = DecodeFixed64(data_.data());
    data_.remove_prefix(8);
    return true;
  }
  bool Bytes(std::string_view* v) {
    uint32_t n;
    if (!U32(&n) || data_.size() < n) return false;
    *v = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  bool done() const { return data_.empty(); }

 private:
  std::string_view data_;
};

template <typename T>
int64_t Capacity(const std::vector<T>& v) {
  return static_cast<int64_t>(v.capacity() * sizeof(T));
}

template <typename T>
void Release(T* v) {
  T().swap(*v);
}

void AppendLengthPrefixed(std::vector<char>* out, std::string_view s) {
  char len[4];
  const auto n = static_cast<uint32_t>(s.size());
  for (int i = 0; i < 4; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  out->insert(out->end(), len, len + 4);
  out->insert(out->end(), s.begin(), s.end());
}

// A doc's term ids are kept sorted, as LEB128 deltas from the previous id (the first from 0):
// about 1.6 bytes a term instead of 4, on the largest thing a builder holds.
void AppendIdDeltas(std::vector<char>* out, const std::vector<uint32_t>& sorted_ids) {
  uint32_t prev = 0;
  for (uint32_t id : sorted_ids) {
    uint32_t v = id - prev;
    prev = id;
    while (v >= 0x80) {
      out->push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out->push_back(static_cast<char>(v));
  }
}

// Calls f(id) for each id of the deltas in [p, end) (written by AppendIdDeltas, so well formed).
template <typename F>
void ForEachId(const char* p, const char* end, F&& f) {
  uint32_t id = 0;
  while (p < end) {
    uint32_t v = 0;
    int shift = 0;
    unsigned char c;
    do {
      c = static_cast<unsigned char>(*p++);
      v |= static_cast<uint32_t>(c & 0x7F) << shift;
      shift += 7;
    } while ((c & 0x80) != 0);
    id += v;
    f(id);
  }
}

}  // namespace

// ---- SpillArea ----

SpillArea::SpillArea(Env* env, std::string dir, uint64_t budget)
    : env_(env), dir_(std::move(dir)), budget_(budget) {}

SpillArea::~SpillArea() {
  for (const auto& f : files_) (void)env_->RemoveFile(f);
}

uint64_t SpillArea::spills() const {
  std::lock_guard<std::mutex> lock(mu_);
  return spills_;
}

uint64_t SpillArea::spilled_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return spilled_bytes_;
}

void SpillArea::Register(ShardBuilder* builder) {
  std::lock_guard<std::mutex> lock(mu_);
  builders_.push_back(builder);
}

void SpillArea::Unregister(ShardBuilder* builder) {
  std::lock_guard<std::mutex> lock(mu_);
  builders_.erase(std::remove(builders_.begin(), builders_.end(), builder), builders_.end());
}

Status SpillArea::Charge(int64_t delta) {
  const int64_t held = held_.fetch_add(delta) + delta;
  if (held + reserved_.load() <= static_cast<int64_t>(budget_)) return Status();
  std::lock_guard<std::mutex> lock(mu_);
  if (!status_.ok()) return status_;
  // Another worker may have spilled while this one waited.
  if (held_.load() + reserved_.load() <= static_cast<int64_t>(budget_)) return Status();

  // One spill file for the whole area, appended to by every spill: a file (and its locked
  // descriptor) per spill ran out of descriptors under a tiny budget (20k spills).
  if (!file_) {
    auto file = env_->NewTempFile(dir_, "spill.run");
    if (!file.ok()) {
      status_ = file.status().Annotate("spilling the shard builders");
      return status_;
    }
    file_ = std::move(*file);
    files_.push_back(file_->path());
  }
  const std::string& path = file_->path();
  const size_t file_index = files_.size() - 1;
  const uint64_t start = file_size_;
  uint64_t offset = start;
  std::string run;
  Status s;
  // Builders in a fixed order (registration), each spilled whole; the run is the builder's
  // docs in external id order, which is also the order Finish wants them in.
  for (ShardBuilder* b : builders_) {
    std::lock_guard<std::mutex> block(b->mu_);
    if (b->doc_offsets_.size() <= 1) continue;
    run.clear();
    b->SerializeRun(&run);
    s = file_->Append(run);
    if (!s.ok()) break;
    b->runs_.push_back(RunRef{file_index, offset, run.size()});
    offset += run.size();
    const int64_t now = b->HeldBytes();
    held_.fetch_add(now - b->charged_);
    b->charged_ = now;
  }
  if (!s.ok()) {
    status_ = s.Annotate("spilling the shard builders to " + path);
    return status_;
  }
  file_size_ = offset;
  ++spills_;
  spilled_bytes_ += offset - start;
  // The builders' freed vectors go back to the system, not only to malloc's free lists,
  // or the process would stay as large as it was at the spill. Blocks past the mmap
  // threshold (ingest.cc) go back on free; the small ones are trimmed once half a budget
  // has been spilled since the last trim, not at every spill: under a budget so tight that
  // every batch spills (32M at 1M products), a trim per spill walked every arena thousands
  // of times, 154 s of system time against 54 s (171 s wall against 58 s).
  if (spilled_bytes_ - trimmed_at_ >= budget_ / 2) {
    malloc_trim(0);
    trimmed_at_ = spilled_bytes_;
  }
  return Status();
}

Result<std::string> SpillArea::ReadRun(const RunRef& run) {
  std::string path;
  {
    std::lock_guard<std::mutex> lock(mu_);
    path = files_[run.file];
  }
  PIDX_ASSIGN_OR_RETURN(auto mapped, env_->MapFile(path));
  std::string_view data = mapped->data();
  if (run.offset > data.size() || data.size() - run.offset < run.size) {
    return Status::IoError("spill file " + path + " is shorter than what was written to it");
  }
  return std::string(data.substr(run.offset, run.size));
}

// ---- ShardBuilder ----

ShardBuilder::ShardBuilder(std::string shard) : shard_(std::move(shard)) {}

ShardBuilder::ShardBuilder(std::string shard, std::shared_ptr<SpillArea> spill)
    : shard_(std::move(shard)), spill_(std::move(spill)) {
  if (spill_) spill_->Register(this);
}

ShardBuilder::~ShardBuilder() {
  if (spill_) {
    spill_->Unregister(this);
    spill_->held_.fetch_sub(charged_);
  }
}

int64_t ShardBuilder::HeldBytes() const {
  return static_cast<int64_t>(term_bytes_.capacity() + doc_bytes_.capacity()) +
         Capacity(term_offsets_) + Capacity(table_) + Capacity(doc_offsets_) +
         Capacity(doc_hashes_) + Capacity(doc_terms_) + Capacity(doc_term_starts_);
}

void ShardBuilder::GrowTable() {
  std::vector<Slot> old;
  old.swap(table_);
  // Small at first: a catalog of 50k categories has 50k builders, most of a handful of docs.
  table_.assign(old.empty() ? 64 : old.size() * 2, Slot{0, 0});
  const size_t mask = table_.size() - 1;
  for (const Slot& slot : old) {
    if (slot.id_plus_one == 0) continue;
    // The table index comes from the low half of the hash; it is recomputed from the term.
    const uint32_t id = slot.id_plus_one - 1;
    const uint64_t hash = Xxh3(std::string_view(term_bytes_.data() + term_offsets_[id],
                                                term_offsets_[id + 1] - term_offsets_[id]));
    size_t i = hash & mask;
    while (table_[i].id_plus_one != 0) i = (i + 1) & mask;
    table_[i] = slot;
  }
}

void ShardBuilder::Reserve(size_t more) {
  const size_t count = term_offsets_.size() - 1;
  // At most 3/4 full, so probe sequences stay short.
  while ((count + more) * 4 > table_.size() * 3) GrowTable();
}

uint32_t ShardBuilder::Intern(std::string_view term, uint64_t hash) {
  const uint32_t count = static_cast<uint32_t>(term_offsets_.size() - 1);
  const size_t mask = table_.size() - 1;
  const auto hi = static_cast<uint32_t>(hash >> 32);
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    Slot& slot = table_[i];
    if (slot.id_plus_one == 0) {
      slot = Slot{hi, count + 1};
      term_bytes_.append(term.data(), term.size());
      term_offsets_.push_back(static_cast<uint32_t>(term_bytes_.size()));
      return count;
    }
    if (slot.hash == hi) {
      const uint32_t id = slot.id_plus_one - 1;
      const uint32_t offset = term_offsets_[id];
      if (term_offsets_[id + 1] - offset == term.size() &&
          std::memcmp(term_bytes_.data() + offset, term.data(), term.size()) == 0) {
        return id;
      }
    }
  }
}

void ShardBuilder::Add(std::string external_id, std::string title, uint64_t content_hash,
                       const std::vector<std::string>& terms) {
  AddWithFields(std::move(external_id), std::move(title), content_hash, {}, terms);
}

void ShardBuilder::AddWithFields(std::string external_id, std::string title, uint64_t content_hash,
                                 std::string_view field_hashes,
                                 const std::vector<std::string>& terms) {
  int64_t delta = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    AppendLengthPrefixed(&doc_bytes_, external_id);
    AppendLengthPrefixed(&doc_bytes_, title);
    AppendLengthPrefixed(&doc_bytes_, field_hashes);
    doc_offsets_.push_back(static_cast<uint64_t>(doc_bytes_.size()));
    doc_hashes_.push_back(content_hash);
    // The tables of 240 shards do not fit a cache, so every lookup is a miss or three. Four
    // passes overlap them: hash all terms and prefetch their slots, then prefetch the offsets
    // of the terms those slots name, then those terms' bytes, then look up with everything in
    // cache.
    Reserve(terms.size());
    const size_t mask = table_.size() - 1;
    // Scratch per thread, not per builder: 42k builders kept 42k copies of it.
    thread_local std::vector<uint64_t> hashes;
    thread_local std::vector<uint32_t> ids;
    hashes.resize(terms.size());
    for (size_t i = 0; i < terms.size(); ++i) {
      hashes[i] = Xxh3(terms[i]);
      __builtin_prefetch(&table_[hashes[i] & mask]);
    }
    for (size_t i = 0; i < terms.size(); ++i) {
      const Slot& slot = table_[hashes[i] & mask];
      if (slot.id_plus_one != 0) __builtin_prefetch(&term_offsets_[slot.id_plus_one - 1]);
    }
    for (size_t i = 0; i < terms.size(); ++i) {
      const Slot& slot = table_[hashes[i] & mask];
      if (slot.id_plus_one != 0) {
        __builtin_prefetch(term_bytes_.data() + term_offsets_[slot.id_plus_one - 1]);
      }
    }
    ids.clear();
    for (size_t i = 0; i < terms.size(); ++i) ids.push_back(Intern(terms[i], hashes[i]));
    std::sort(ids.begin(), ids.end());
    AppendIdDeltas(&doc_terms_, ids);
    doc_term_starts_.push_back(static_cast<uint64_t>(doc_terms_.size()));
    if (spill_) {
      const int64_t now = HeldBytes();
      delta = now - charged_;
      charged_ = now;
    }
  }
  if (spill_ && delta != 0) {
    Status s = spill_->Charge(delta);
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (status_.ok()) status_ = s;
    }
  }
}

Status ShardBuilder::SplitInto(const std::vector<ShardBuilder*>& parts) {
  if (parts.empty()) return Status::Internal("shard " + shard_ + ": split into no parts");
  std::vector<SpillArea::RunRef> runs;
  std::string memory;
  int64_t delta = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status_.ok()) return status_;
    runs = std::move(runs_);
    runs_.clear();
    if (doc_offsets_.size() > 1) SerializeRun(&memory);
    spilled_docs_ = 0;
    Clear();
    if (spill_) {
      const int64_t now = HeldBytes();
      delta = now - charged_;
      charged_ = now;
    }
  }
  if (spill_) spill_->held_.fetch_add(delta);
  // One run at a time: a spilled category is never all in memory twice.
  for (const auto& run : runs) {
    PIDX_ASSIGN_OR_RETURN(std::string data, spill_->ReadRun(run));
    PIDX_RETURN_IF_ERROR(DistributeRun(data, parts));
  }
  return DistributeRun(memory, parts);
}

Status ShardBuilder::DistributeRun(std::string_view data, const std::vector<ShardBuilder*>& parts) {
  if (data.empty()) return Status();
  RunReader in(data);
  Status bad = Status::IoError("shard " + shard_ + ": a run to split does not parse");
  uint32_t terms;
  if (!in.U32(&terms)) return bad;
  std::vector<std::string_view> term(terms);
  for (uint32_t t = 0; t < terms; ++t) {
    if (!in.Bytes(&term[t])) return bad;
  }
  uint32_t docs;
  if (!in.U32(&docs)) return bad;
  std::vector<std::string> doc_terms;
  const auto k = static_cast<uint32_t>(parts.size());
  for (uint32_t d = 0; d < docs; ++d) {
    std::string_view id, title, fields;
    uint64_t hash;
    uint32_t n;
    if (!in.Bytes(&id) || !in.Bytes(&title) || !in.Bytes(&fields) || !in.U64(&hash) ||
        !in.U32(&n)) {
      return bad;
    }
    doc_terms.clear();
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t t;
      if (!in.U32(&t) || t >= terms) return bad;
      doc_terms.emplace_back(term[t]);
    }
    ShardBuilder* part = parts[ShardNumber(id, k)];
    if (part != nullptr) {
      part->AddWithFields(std::string(id), std::string(title), hash, fields, doc_terms);
    }
  }
  if (!in.done()) return bad;
  return Status();
}

size_t ShardBuilder::doc_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return spilled_docs_ + doc_offsets_.size() - 1;
}

void ShardBuilder::Clear() {
  Release(&term_bytes_);
  term_offsets_ = {0};
  term_offsets_.shrink_to_fit();
  Release(&table_);
  Release(&doc_bytes_);
  doc_offsets_ = {0};
  doc_offsets_.shrink_to_fit();
  Release(&doc_hashes_);
  Release(&doc_terms_);
  doc_term_starts_ = {0};
  doc_term_starts_.shrink_to_fit();
}

namespace {

// The external id of a doc record at `p` (u32 length + bytes).
std::string_view IdAt(const char* p) { return {p + 4, DecodeFixed32(p)}; }

}  // namespace

// Run layout: u32 term count, each term length-prefixed (run-local id = position); u32 doc
// count, then per doc in external id order: id, title and field hashes length-prefixed, u64
// content hash,
// u32 term count, u32 run-local term ids.
void ShardBuilder::SerializeRun(std::string* out) {
  const uint32_t terms = static_cast<uint32_t>(term_offsets_.size() - 1);
  PutFixed32(out, terms);
  for (uint32_t t = 0; t < terms; ++t) {
    PutLengthPrefixed(out, std::string_view(term_bytes_.data() + term_offsets_[t],
                                            term_offsets_[t + 1] - term_offsets_[t]));
  }
  const size_t docs = doc_offsets_.size() - 1;
  std::vector<uint32_t> order(docs);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return IdAt(doc_bytes_.data() + doc_offsets_[a]) < IdAt(doc_bytes_.data() + doc_offsets_[b]);
  });
  PutFixed32(out, static_cast<uint32_t>(docs));
  for (uint32_t d : order) {
    out->append(doc_bytes_.data() + doc_offsets_[d], doc_offsets_[d + 1] - doc_offsets_[d]);
    PutFixed64(out, doc_hashes_[d]);
    const size_t count_at = out->size();
    PutFixed32(out, 0);
    uint32_t n = 0;
    ForEachId(doc_terms_.data() + doc_term_starts_[d], doc_terms_.data() + doc_term_starts_[d + 1],
              [&](uint32_t id) {
                PutFixed32(out, id);
                ++n;
              });
    for (int i = 0; i < 4; ++i) (*out)[count_at + i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  }
  spilled_docs_ += docs;
  Clear();
}

Status ShardBuilder::LoadRun(std::string_view data) {
  RunReader in(data);
  Status bad = Status::IoError("shard " + shard_ + ": a spill run does not parse");
  uint32_t terms;
  if (!in.U32(&terms)) return bad;
  std::vector<uint32_t> remap(terms);
  for (uint32_t t = 0; t < terms; ++t) {
    std::string_view term;
    if (!in.Bytes(&term)) return bad;
    Reserve(1);
    remap[t] = Intern(term, Xxh3(term));
  }
  uint32_t docs;
  if (!in.U32(&docs)) return bad;
  for (uint32_t d = 0; d < docs; ++d) {
    std::string_view id, title, fields;
    uint64_t hash;
    uint32_t n;
    if (!in.Bytes(&id) || !in.Bytes(&title) || !in.Bytes(&fields) || !in.U64(&hash) ||
        !in.U32(&n)) {
      return bad;
    }
    AppendLengthPrefixed(&doc_bytes_, id);
    AppendLengthPrefixed(&doc_bytes_, title);
    AppendLengthPrefixed(&doc_bytes_, fields);
    doc_offsets_.push_back(static_cast<uint64_t>(doc_bytes_.size()));
    doc_hashes_.push_back(hash);
    thread_local std::vector<uint32_t> ids;
    ids.clear();
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t t;
      if (!in.U32(&t) || t >= terms) return bad;
      ids.push_back(remap[t]);
    }
    std::sort(ids.begin(), ids.end());
    AppendIdDeltas(&doc_terms_, ids);
    doc_term_starts_.push_back(static_cast<uint64_t>(doc_terms_.size()));
  }
  if (!in.done()) return bad;
  spilled_docs_ -= docs;
  return Status();
}

Result<BuiltShard> ShardBuilder::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!status_.ok()) return status_;
  // Merge the spilled runs back in. Whatever mix of runs and memory the docs come from,
  // the segment depends only on the set of docs: they are ordered by external id and the
  // terms by bytes below, so spilling never changes a byte.
  for (const auto& run : runs_) {
    PIDX_ASSIGN_OR_RETURN(std::string data, spill_->ReadRun(run));
    PIDX_RETURN_IF_ERROR(LoadRun(data));
  }
  runs_.clear();
  Release(&table_);

  const uint32_t docs = static_cast<uint32_t>(doc_offsets_.size() - 1);
  std::vector<uint32_t> doc_order(docs);
  std::iota(doc_order.begin(), doc_order.end(), 0u);
  std::sort(doc_order.begin(), doc_order.end(), [&](uint32_t a, uint32_t b) {
    return IdAt(doc_bytes_.data() + doc_offsets_[a]) < IdAt(doc_bytes_.data() + doc_offsets_[b]);
  });

  // Rank the terms in byte order: the dictionary's order.
  const uint32_t terms = static_cast<uint32_t>(term_offsets_.size() - 1);
  auto term_at = [&](uint32_t t) {
    return std::string_view(term_bytes_.data() + term_offsets_[t],
                            term_offsets_[t + 1] - term_offsets_[t]);
  };
  std::vector<uint32_t> term_order(terms);
  std::iota(term_order.begin(), term_order.end(), 0u);
  std::sort(term_order.begin(), term_order.end(),
            [&](uint32_t a, uint32_t b) { return term_at(a) < term_at(b); });

  // Invert in doc order into one flat array (counting sort by term), so every posting list
  // is already sorted and nothing is allocated per term.
  std::vector<uint64_t> starts(static_cast<size_t>(terms) + 1, 0);
  for (uint32_t d = 0; d < docs; ++d) {
    ForEachId(doc_terms_.data() + doc_term_starts_[d], doc_terms_.data() + doc_term_starts_[d + 1],
              [&](uint32_t t) { ++starts[t + 1]; });
  }
  for (uint32_t t = 0; t < terms; ++t) starts[t + 1] += starts[t];
  std::vector<uint32_t> postings(starts[terms]);
  {
    std::vector<uint64_t> fill(starts.begin(), starts.end() - 1);
    for (uint32_t local = 0; local < docs; ++local) {
      const uint32_t d = doc_order[local];
      ForEachId(doc_terms_.data() + doc_term_starts_[d],
                doc_terms_.data() + doc_term_starts_[d + 1],
                [&](uint32_t t) { postings[fill[t]++] = local; });
    }
  }
  Release(&doc_terms_);

  segment::SegmentWriter writer(shard_);
  ContentSignature signature;
  TermBloom bloom;
  for (uint32_t d : doc_order) {
    const char* p = doc_bytes_.data() + doc_offsets_[d];
    const std::string_view id = IdAt(p);
    const std::string_view title = IdAt(p + 4 + id.size());
    const std::string_view fields = IdAt(p + 8 + id.size() + title.size());
    signature.AddDoc(id, doc_hashes_[d]);
    segment::DocRecord record{std::string(id), std::string(title), doc_hashes_[d], {}};
    record.field_hashes.resize(fields.size() / 2);
    for (size_t f = 0; f < record.field_hashes.size(); ++f) {
      record.field_hashes[f] =
          static_cast<uint16_t>(static_cast<unsigned char>(fields[2 * f]) |
                                (static_cast<unsigned char>(fields[2 * f + 1]) << 8));
    }
    writer.AddDoc(std::move(record));
  }
  for (uint32_t t : term_order) {
    const std::string_view term = term_at(t);
    const uint64_t n = starts[t + 1] - starts[t];
    writer.AddTerm(term, postings.data() + starts[t], n);
    signature.AddTerm(term, static_cast<uint32_t>(n));
    bloom.Add(term);
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
  Clear();
  if (spill_) {
    spill_->held_.fetch_sub(charged_);
    charged_ = 0;
  }
  return out;
}

}  // namespace pidx::shard
