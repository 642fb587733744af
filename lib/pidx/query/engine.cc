#include "pidx/query/engine.h"

#include <algorithm>
#include <bit>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "pidx/base/duration.h"
#include "pidx/base/map_limit.h"
#include "pidx/base/popcount.h"
#include "pidx/obs/log.h"
#include "pidx/ops/reader_retry.h"
#include "pidx/query/shard_blooms.h"
#include "pidx/segment/segment_reader.h"
#include "pidx/shard/shard_id.h"
#include "pidx/shard/signature.h"
#include "pidx/snapshot/index_reader.h"
#include "pidx/snapshot/index_settings.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx {
namespace {

using segment::Postings;
using segment::SegmentReader;
using segment::TermEntry;

// The categories the whole query requires, or nullopt when it can match in any category.
// An AND requires what any of its operands requires; an OR only what all branches do (the
// union of their sets); a NOT never narrows the shards it may match in.
std::optional<std::set<std::string>> RequiredCategories(const QueryNode& n) {
  switch (n.kind) {
    case QueryNode::Kind::kTerm:
      if (n.is_category) return std::set<std::string>{n.category};
      return std::nullopt;
    case QueryNode::Kind::kAnd: {
      std::optional<std::set<std::string>> out;
      for (const auto& c : n.children) {
        auto r = RequiredCategories(c);
        if (!r) continue;
        if (!out) {
          out = std::move(r);
        } else {
          std::set<std::string> both;
          std::set_intersection(out->begin(), out->end(), r->begin(), r->end(),
                                std::inserter(both, both.end()));
          out = std::move(both);
        }
      }
      return out;
    }
    case QueryNode::Kind::kOr: {
      std::set<std::string> out;
      for (const auto& c : n.children) {
        auto r = RequiredCategories(c);
        if (!r) return std::nullopt;
        out.insert(r->begin(), r->end());
      }
      return out;
    }
    case QueryNode::Kind::kNot:
    case QueryNode::Kind::kAll:
    case QueryNode::Kind::kPrefix:
      return std::nullopt;
  }
  return std::nullopt;
}

// Optimal string alignment distance (a swap of neighbours counts 1: "gmaes" -> "games"),
// over bytes; stops early and returns limit + 1 once the distance must exceed `limit`.
size_t EditDistance(std::string_view a, std::string_view b, size_t limit) {
  if (a.size() > b.size() + limit || b.size() > a.size() + limit) return limit + 1;
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    size_t row_min = cur[0];
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > limit) return limit + 1;
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// How far a suggestion may be from what was typed: one edit for short words, two otherwise.
size_t SuggestionLimit(std::string_view asked) { return asked.size() <= 4 ? 1 : 2; }

// Keeps the 3 best (distance, then more documents, then name) of the candidates offered.
class Closest {
 public:
  void Offer(size_t distance, uint64_t docs, std::string name) {
    entries_.push_back({distance, docs, std::move(name)});
  }
  std::vector<std::string> Take() {
    std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
      if (a.distance != b.distance) return a.distance < b.distance;
      if (a.docs != b.docs) return a.docs > b.docs;
      return a.name < b.name;
    });
    std::vector<std::string> out;
    for (const auto& e : entries_) {
      if (std::find(out.begin(), out.end(), e.name) != out.end()) continue;
      out.push_back(e.name);
      if (out.size() == 3) break;
    }
    return out;
  }

 private:
  struct Entry {
    size_t distance;
    uint64_t docs;
    std::string name;
  };
  std::vector<Entry> entries_;
};

void CollectTerms(const QueryNode& n, std::vector<const QueryNode*>* out) {
  if (n.kind == QueryNode::Kind::kTerm && !n.is_category) out->push_back(&n);
  for (const auto& c : n.children) CollectTerms(c, out);
}

// The term nodes of a query, numbered once per search (the evaluator's storage is indexed by
// the number), with the probe bits of each non-category term.
struct QueryTerms {
  explicit QueryTerms(const QueryNode& query) { Add(query); }
  // REQUIRES: `n` is a term node of the query. Nodes not numbered get a slot past the end.
  size_t Slot(const QueryNode& n) const {
    const auto it = slot.find(&n);
    return it == slot.end() ? probes.size() : it->second;
  }
  std::unordered_map<const QueryNode*, size_t> slot;
  std::vector<std::optional<shard::TermBloom::Probes>> probes;  // nullopt: a category term

 private:
  void Add(const QueryNode& n) {
    if (n.kind == QueryNode::Kind::kTerm && slot.emplace(&n, probes.size()).second) {
      probes.push_back(n.is_category ? std::nullopt
                                     : std::optional(shard::TermBloom::ProbesOf(n.term)));
    }
    for (const auto& c : n.children) Add(c);
  }
};

// Evaluates a query tree on one segment. Prepare() looks up every term and expands every
// prefix first (reading and checking the dictionary blocks they need); Eval and Count then
// read only the posting lists (their chunks checked) of the entries found.
class ShardEvaluator {
 public:
  // `terms`: the query's term nodes, numbered once per search; `blooms`: the shards' term
  // Bloom filters. One evaluator serves every shard of a search (Reset): its per-term storage
  // is allocated once, not per shard (the maps it had were a malloc per term and shard).
  ShardEvaluator(const QueryTerms& terms, size_t max_prefix_terms, const ShardBlooms* blooms,
                 bool bitsets)
      : terms_(terms),
        max_prefix_terms_(max_prefix_terms),
        blooms_(blooms),
        bitsets_(bitsets),
        found_(terms.probes.size()),
        has_(terms.probes.size(), 0) {}

  // Evaluates on `reader`, shard number `shard` in the filters, from now on.
  void Reset(const SegmentReader* reader, size_t shard) {
    r_ = reader;
    shard_ = shard;
    words_ = (static_cast<size_t>(reader->doc_count()) + 63) / 64;
    std::fill(has_.begin(), has_.end(), 0);
    expanded_.clear();
  }

  // This shard is evaluated on bitsets (EvalBits), not on Roaring bitmaps (Eval, Count).
  bool UsesBits() const { return bitsets_ && r_->doc_count() <= kBitsetMaxDocs; }

  // The matches of `n` as a bitset of the shard's docs (one u64 per 64, bits past doc_count
  // clear), valid until the next call. Each posting list is read in place into the bitset
  // (ReadPostingsInto: the checks and findings of ReadPostings), and AND, OR and NOT are word
  // loops: no bitmap is built and, after the first shards, nothing is allocated. Reads the
  // same lists as Eval, in the same order, so damage is found the same way.
  Result<const std::vector<uint64_t>*> EvalBits(const QueryNode& n) {
    std::vector<uint64_t>& out = Slot(0);
    PIDX_RETURN_IF_ERROR(BitsOf(n, &out, 1));
    return &out;
  }

  // Count on bitsets: a term's count is its df, as in Count.
  Result<uint64_t> CountBits(const QueryNode& n) {
    if (n.kind == QueryNode::Kind::kTerm) return Estimate(n);
    PIDX_ASSIGN_OR_RETURN(const std::vector<uint64_t>* bits, EvalBits(n));
    return PopcountWords(bits->data(), bits->size());
  }

  // A prefix that expands too far fails the query (kUsage) before any posting list is read,
  // whatever the evaluation order would have skipped; damage is kCorrupt naming the file.
  Status Prepare(const QueryNode& n) {
    if (n.kind == QueryNode::Kind::kPrefix) {
      PIDX_RETURN_IF_ERROR(Expand(n));
    } else if (n.kind == QueryNode::Kind::kTerm) {
      PIDX_RETURN_IF_ERROR(Find(n));
    }
    for (const auto& c : n.children) PIDX_RETURN_IF_ERROR(Prepare(c));
    return Status::Ok();
  }

  Result<Postings> Eval(const QueryNode& n) {
    switch (n.kind) {
      case QueryNode::Kind::kAll:
        return Postings::Range(r_->doc_count());
      case QueryNode::Kind::kTerm: {
        const std::optional<TermEntry>* e = Found(n);
        if (e == nullptr || !*e) return Postings();
        return r_->ReadPostings(**e);
      }
      case QueryNode::Kind::kPrefix: {
        Postings acc;
        for (const TermEntry& e : *Expanded(n)) {
          PIDX_ASSIGN_OR_RETURN(Postings p, r_->ReadPostings(e));
          acc = acc.Or(p);
        }
        return acc;
      }
      case QueryNode::Kind::kNot: {
        PIDX_ASSIGN_OR_RETURN(Postings inner, Eval(n.children[0]));
        return Postings::Range(r_->doc_count()).AndNot(inner);
      }
      case QueryNode::Kind::kOr: {
        Postings acc;
        for (const auto& c : n.children) {
          if (Estimate(c) == 0) continue;
          PIDX_ASSIGN_OR_RETURN(Postings p, Eval(c));
          acc = acc.Or(p);
        }
        return acc;
      }
      case QueryNode::Kind::kAnd:
        return EvalAnd(n);
    }
    return Status::Internal("query: unknown node kind");
  }

  // The number of matches of `n`, without building the result where it can be avoided: a
  // term's count is its document frequency (its dictionary block's checksum covers it), and
  // the last operand of a plain AND is only counted against the others.
  Result<uint64_t> Count(const QueryNode& n) {
    if (n.kind == QueryNode::Kind::kTerm) return Estimate(n);
    const bool plain_and =
        n.kind == QueryNode::Kind::kAnd && n.children.size() >= 2 &&
        std::none_of(n.children.begin(), n.children.end(),
                     [](const QueryNode& c) { return c.kind == QueryNode::Kind::kNot; });
    if (plain_and) {
      std::vector<std::pair<uint64_t, const QueryNode*>> positive;
      for (const auto& c : n.children) positive.emplace_back(Estimate(c), &c);
      std::stable_sort(positive.begin(), positive.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      if (positive.front().first == 0) return uint64_t{0};
      PIDX_ASSIGN_OR_RETURN(Postings acc, Eval(*positive.front().second));
      for (size_t i = 1; i + 1 < positive.size() && acc.Cardinality() > 0; ++i) {
        PIDX_ASSIGN_OR_RETURN(Postings p, Eval(*positive[i].second));
        acc = acc.And(p);
      }
      if (acc.Cardinality() == 0) return uint64_t{0};
      PIDX_ASSIGN_OR_RETURN(Postings last, Eval(*positive.back().second));
      return acc.AndCardinality(last);
    }
    PIDX_ASSIGN_OR_RETURN(Postings all, Eval(n));
    return all.Cardinality();
  }

 private:
  // An upper bound of the matches of `n` in this shard; exact 0 for a term that is absent.
  uint64_t Estimate(const QueryNode& n) {
    switch (n.kind) {
      case QueryNode::Kind::kTerm: {
        const std::optional<TermEntry>* e = Found(n);
        return e != nullptr && *e ? (*e)->df : 0;
      }
      case QueryNode::Kind::kPrefix: {
        uint64_t sum = 0;
        if (const auto* terms = Expanded(n)) {
          for (const TermEntry& e : *terms) sum += e.df;
        }
        return std::min<uint64_t>(sum, r_->doc_count());
      }
      case QueryNode::Kind::kOr: {
        uint64_t sum = 0;
        for (const auto& c : n.children) sum += Estimate(c);
        return std::min<uint64_t>(sum, r_->doc_count());
      }
      case QueryNode::Kind::kAnd: {
        uint64_t least = r_->doc_count();
        for (const auto& c : n.children) {
          if (c.kind != QueryNode::Kind::kNot) least = std::min(least, Estimate(c));
        }
        return least;
      }
      case QueryNode::Kind::kNot:
      case QueryNode::Kind::kAll:
        return r_->doc_count();
    }
    return r_->doc_count();
  }

  // An AND's operands: the positive ones by estimate, cheapest first (stable), and what its
  // NOT operands negate.
  void SplitAnd(const QueryNode& n, std::vector<std::pair<uint64_t, const QueryNode*>>* positive,
                std::vector<const QueryNode*>* negative) {
    for (const auto& c : n.children) {
      if (c.kind == QueryNode::Kind::kNot) {
        negative->push_back(&c.children[0]);
      } else {
        positive->emplace_back(Estimate(c), &c);
      }
    }
    std::stable_sort(positive->begin(), positive->end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }

  // Cheapest operand first, so each intersection works on the smallest set so far, and an
  // absent term ends the AND before any bitmap is read.
  Result<Postings> EvalAnd(const QueryNode& n) {
    std::vector<std::pair<uint64_t, const QueryNode*>> positive;
    std::vector<const QueryNode*> negative;
    SplitAnd(n, &positive, &negative);
    if (!positive.empty() && positive.front().first == 0) return Postings();
    Postings acc;
    if (positive.empty()) {
      acc = Postings::Range(r_->doc_count());
    } else {
      PIDX_ASSIGN_OR_RETURN(acc, Eval(*positive.front().second));
      for (size_t i = 1; i < positive.size() && acc.Cardinality() > 0; ++i) {
        PIDX_ASSIGN_OR_RETURN(Postings p, Eval(*positive[i].second));
        acc = acc.And(p);
      }
    }
    for (const QueryNode* neg : negative) {
      if (acc.Cardinality() == 0) break;
      if (Estimate(*neg) == 0) continue;
      PIDX_ASSIGN_OR_RETURN(Postings p, Eval(*neg));
      acc = acc.AndNot(p);
    }
    return acc;
  }

  // One dictionary lookup per term node and shard, remembered here.
  Status Find(const QueryNode& n) {
    const size_t slot = terms_.Slot(n);
    if (has_[slot]) return Status::Ok();
    // A term the shard's filter does not hold is not in the shard (a Bloom filter has no false
    // negatives; the same filter already decides which shards are opened at all): no lookup.
    const auto& probes = terms_.probes[slot];
    if (blooms_ != nullptr && probes && !blooms_->MayContain(shard_, *probes)) {
      found_[slot].reset();
    } else {
      PIDX_ASSIGN_OR_RETURN(found_[slot], r_->Lookup(n.term));
    }
    has_[slot] = 1;
    return Status::Ok();
  }
  const std::optional<TermEntry>* Found(const QueryNode& n) const {
    const size_t slot = terms_.Slot(n);
    return slot < has_.size() && has_[slot] ? &found_[slot] : nullptr;
  }

  // The dictionary entries of a prefix node, found once per node and shard.
  Status Expand(const QueryNode& n) {
    if (Expanded(n) != nullptr) return Status::Ok();
    std::vector<TermEntry> terms;
    PIDX_ASSIGN_OR_RETURN(const size_t found, r_->ForEachEntryWithPrefix(
                                                  n.term, max_prefix_terms_,
                                                  [&](const TermEntry& e) { terms.push_back(e); }));
    if (found > max_prefix_terms_) {
      return Status::Usage("prefix \"" + n.term + "*\" matches more than " +
                           std::to_string(max_prefix_terms_) + " terms in shard " + r_->shard() +
                           " (the cap, --max-prefix-terms " + std::to_string(max_prefix_terms_) +
                           "); make the prefix longer or raise the cap");
    }
    expanded_.emplace(&n, std::move(terms));
    return Status::Ok();
  }
  const std::vector<TermEntry>* Expanded(const QueryNode& n) const {
    const auto it = expanded_.find(&n);
    return it == expanded_.end() ? nullptr : &it->second;
  }

  // Slot `depth` of the bitset pool, zeroed, words_ long. A deque: growing it for a deeper
  // node keeps the slots of the nodes above in place.
  std::vector<uint64_t>& Slot(size_t depth) {
    if (pool_.size() <= depth) pool_.resize(depth + 1);
    std::vector<uint64_t>& v = pool_[depth];
    v.assign(words_, 0);
    return v;
  }

  // ORs the matches of `n` into `out`; nodes below use the pool from `depth` on.
  Status OrBitsInto(const QueryNode& n, std::vector<uint64_t>* out, size_t depth) {
    switch (n.kind) {
      case QueryNode::Kind::kTerm: {
        const std::optional<TermEntry>* e = Found(n);
        if (e == nullptr || !*e) return Status::Ok();
        return r_->ReadPostingsInto(**e, out);
      }
      case QueryNode::Kind::kPrefix:
        if (const auto* terms = Expanded(n)) {
          for (const TermEntry& e : *terms) PIDX_RETURN_IF_ERROR(r_->ReadPostingsInto(e, out));
        }
        return Status::Ok();
      case QueryNode::Kind::kOr:
        for (const auto& c : n.children) {
          if (Estimate(c) == 0) continue;
          PIDX_RETURN_IF_ERROR(OrBitsInto(c, out, depth));
        }
        return Status::Ok();
      case QueryNode::Kind::kAll:
      case QueryNode::Kind::kNot:
      case QueryNode::Kind::kAnd: {
        std::vector<uint64_t>& tmp = Slot(depth);
        PIDX_RETURN_IF_ERROR(BitsOf(n, &tmp, depth + 1));
        for (size_t w = 0; w < words_; ++w) (*out)[w] |= tmp[w];
        return Status::Ok();
      }
    }
    return Status::Internal("query: unknown node kind");
  }

  // Sets `out` (zeroed) to the matches of `n`: Eval's evaluation, on bits.
  Status BitsOf(const QueryNode& n, std::vector<uint64_t>* out, size_t depth) {
    switch (n.kind) {
      case QueryNode::Kind::kAll:
        SetAll(out);
        return Status::Ok();
      case QueryNode::Kind::kNot:
        PIDX_RETURN_IF_ERROR(OrBitsInto(n.children[0], out, depth));
        for (size_t w = 0; w < words_; ++w) (*out)[w] = ~(*out)[w];
        ClearPastEnd(out);
        return Status::Ok();
      case QueryNode::Kind::kAnd:
        return AndBits(n, out, depth);
      case QueryNode::Kind::kTerm:
      case QueryNode::Kind::kPrefix:
      case QueryNode::Kind::kOr:
        return OrBitsInto(n, out, depth);
    }
    return Status::Internal("query: unknown node kind");
  }

  // EvalAnd on bits: cheapest operand first, an absent one ends it before any list is read.
  Status AndBits(const QueryNode& n, std::vector<uint64_t>* out, size_t depth) {
    std::vector<std::pair<uint64_t, const QueryNode*>> positive;
    std::vector<const QueryNode*> negative;
    SplitAnd(n, &positive, &negative);
    if (!positive.empty() && positive.front().first == 0) return Status::Ok();
    if (positive.empty()) {
      SetAll(out);
    } else {
      PIDX_RETURN_IF_ERROR(OrBitsInto(*positive.front().second, out, depth));
      for (size_t i = 1; i < positive.size() && Any(*out); ++i) {
        std::vector<uint64_t>& tmp = Slot(depth);
        PIDX_RETURN_IF_ERROR(OrBitsInto(*positive[i].second, &tmp, depth + 1));
        for (size_t w = 0; w < words_; ++w) (*out)[w] &= tmp[w];
      }
    }
    for (const QueryNode* neg : negative) {
      if (!Any(*out)) break;
      if (Estimate(*neg) == 0) continue;
      std::vector<uint64_t>& tmp = Slot(depth);
      PIDX_RETURN_IF_ERROR(OrBitsInto(*neg, &tmp, depth + 1));
      for (size_t w = 0; w < words_; ++w) (*out)[w] &= ~tmp[w];
    }
    return Status::Ok();
  }

  void SetAll(std::vector<uint64_t>* out) const {
    std::fill(out->begin(), out->end(), ~uint64_t{0});
    ClearPastEnd(out);
  }
  void ClearPastEnd(std::vector<uint64_t>* out) const {
    const uint32_t tail = r_->doc_count() % 64;
    if (tail != 0) out->back() &= (uint64_t{1} << tail) - 1;
  }
  static bool Any(const std::vector<uint64_t>& bits) {
    return std::any_of(bits.begin(), bits.end(), [](uint64_t w) { return w != 0; });
  }

  const QueryTerms& terms_;
  size_t max_prefix_terms_;
  const ShardBlooms* blooms_;
  bool bitsets_;
  const SegmentReader* r_ = nullptr;
  size_t shard_ = 0;
  size_t words_ = 0;
  std::deque<std::vector<uint64_t>> pool_;  // EvalBits: one bitset per depth of the query
  // By term slot: one lookup per node and shard, found in O(1) (a linear search made a query
  // of 10,000 words take 9 s).
  std::vector<std::optional<TermEntry>> found_;
  std::vector<uint8_t> has_;  // found_[slot] holds this shard's answer
  std::unordered_map<const QueryNode*, std::vector<TermEntry>> expanded_;
};

// The first `limit` hits by external id over the shards searched so far: a max-heap on id
// holding at most `limit`. Doc ids follow external id order within a shard (ShardBuilder
// sorts them), so a shard's matches are read in order only until one would not enter: a shard
// searched late reads one or two doc records, not `limit`, and only entering hits are copied.
class FirstHits {
 public:
  explicit FirstHits(size_t limit) : limit_(limit) {}
  bool Wants(std::string_view id) const {
    return heap_.size() < limit_ || id < std::string_view(heap_.front().id);
  }
  void Offer(QueryHit hit) {
    if (!Wants(hit.id)) return;
    heap_.push_back(std::move(hit));
    std::push_heap(heap_.begin(), heap_.end(), ById);
    if (heap_.size() > limit_) {
      std::pop_heap(heap_.begin(), heap_.end(), ById);
      heap_.pop_back();
    }
  }
  std::vector<QueryHit> Take() {
    std::sort_heap(heap_.begin(), heap_.end(), ById);
    return std::move(heap_);
  }

 private:
  static bool ById(const QueryHit& a, const QueryHit& b) { return a.id < b.id; }
  size_t limit_;
  std::vector<QueryHit> heap_;
};

}  // namespace

size_t MaxOpenSegmentsFor(uint64_t map_limit) {
  return static_cast<size_t>(std::max<uint64_t>(1, map_limit / 2));
}

struct QueryEngine::State {
  explicit State(snapshot::SnapshotStore s) : store(std::move(s)) {}
  snapshot::SnapshotStore store;
  uint64_t version = 0;
  std::vector<snapshot::ShardEntry> shards;
  std::vector<std::string> slugs;  // per shard: the category slug of its shard id
  // Slug -> the shards with that slug, in shard order: a category query visits only those,
  // instead of comparing every shard's slug.
  std::unordered_map<std::string, std::vector<size_t>> shards_of_slug;
  // Per shard: its manifest entry's term Bloom filter, or nullopt when it does not parse (the
  // shard is then never skipped by terms).
  std::unique_ptr<ShardBlooms> blooms;
  // OpenAllShards: open segments fully (whole-file checksum, dictionary decoded), for the
  // index accessors FindProduct uses; a query alone opens them lazily.
  bool open_full = false;
  std::map<std::string, uint64_t> categories;  // raw category -> docs, for hints only
  // The categories folded as a query folds them (folded -> docs, folded -> the first raw
  // name), made on the first query that needs them; call_once keeps concurrent searches of
  // the reader library safe.
  std::once_flag folded_once;
  std::map<std::string, uint64_t> folded_docs;
  std::map<std::string, std::string> folded_raw;
  std::unique_ptr<QueryParser> parser;
  // Per shard, opened on first use: the reader, or why it could not be opened. At most
  // max_open readers stay open (each is a mapping, and the kernel allows about 65k per
  // process): the least recently used one is released first, and opened again (checksum
  // verified again) when a later query needs it.
  std::vector<std::unique_ptr<SegmentReader>> readers;
  std::vector<Status> open_errors;
  std::vector<bool> opened;
  // The shards with a reader, most recently used first: a list threaded through two arrays
  // indexed by shard (a std::list splice per shard and query, its nodes scattered over the
  // heap, was 4% of a query over 4,378 shards).
  static constexpr size_t kNone = std::numeric_limits<size_t>::max();
  std::vector<size_t> lru_prev, lru_next;
  size_t lru_head = kNone, lru_tail = kNone, open_count = 0;

  void Unlink(size_t i) {
    (lru_prev[i] == kNone ? lru_head : lru_next[lru_prev[i]]) = lru_next[i];
    (lru_next[i] == kNone ? lru_tail : lru_prev[lru_next[i]]) = lru_prev[i];
    --open_count;
  }
  void PushFront(size_t i) {
    lru_prev[i] = kNone;
    lru_next[i] = lru_head;
    (lru_head == kNone ? lru_tail : lru_prev[lru_head]) = i;
    lru_head = i;
    ++open_count;
  }
  size_t max_open = 1;          // Open() sets it
  snapshot::Manifest manifest;  // as loaded; manifest() for the reader library
  // OpenAllShards succeeded: every reader stays open, and Reader() changes nothing, so
  // concurrent searches of the reader library share the engine without a lock.
  bool all_open = false;

  // The reader of shard i, opened when needed; null when it cannot be opened (open_errors[i]).
  const SegmentReader* Reader(size_t i) {
    if (readers[i]) {
      if (all_open) return readers[i].get();
      if (lru_head != i) {
        Unlink(i);
        PushFront(i);
      }
      return readers[i].get();
    }
    if (opened[i]) return nullptr;  // failed before: the same error, without retrying
    // Released before the new one is mapped: at no moment are more than max_open mapped.
    while (open_count >= std::max<size_t>(1, max_open)) {
      const size_t oldest = lru_tail;
      readers[oldest].reset();
      Unlink(oldest);
    }
    auto reader = snapshot::OpenSegment(store, shards[i], /*lazy=*/!open_full);
    if (!reader.ok()) {
      opened[i] = true;
      open_errors[i] = reader.status();
      return nullptr;
    }
    readers[i] = std::make_unique<SegmentReader>(std::move(*reader));
    PushFront(i);
    return readers[i].get();
  }
};

QueryEngine::QueryEngine(std::unique_ptr<State> state) : state_(std::move(state)) {}
QueryEngine::~QueryEngine() = default;
QueryEngine::QueryEngine(QueryEngine&&) noexcept = default;
QueryEngine& QueryEngine::operator=(QueryEngine&&) noexcept = default;

uint64_t QueryEngine::version() const { return state_->version; }
const QueryParser& QueryEngine::parser() const { return *state_->parser; }

Result<QueryEngine> QueryEngine::Open(Env* env, const std::string& index_dir, uint64_t version) {
  return Open(env, index_dir, version, EngineOptions());
}

Result<QueryEngine> QueryEngine::Open(Env* env, const std::string& index_dir, uint64_t version,
                                      const EngineOptions& options) {
  PIDX_ASSIGN_OR_RETURN(auto store, snapshot::SnapshotStore::Open(env, index_dir, false));
  PIDX_ASSIGN_OR_RETURN(auto manifest, store.LoadVersionOrCurrent(version));
  version = manifest.version;
  const std::string vname = snapshot::VersionName(version);
  std::string failed_part;
  auto settings = snapshot::IndexSettings::FromManifest(manifest, &failed_part);
  if (!settings.ok()) return settings.status().Annotate(vname + ": stored " + failed_part);

  auto state = std::make_unique<State>(std::move(store));
  state->version = version;
  state->parser = std::make_unique<QueryParser>(std::move(settings->schema), settings->analyzer);
  state->categories = manifest.Categories();
  state->shards = manifest.shards;
  state->manifest = std::move(manifest);
  // Shards are skipped by the slug of their id, which the segment's own shard name proves
  // (OpenSegment), not by the categories the manifest lists: a manifest that lies about
  // them must not make a query silently skip the shard holding the matches.
  std::vector<std::optional<shard::TermBloom>> filters;
  for (const auto& e : state->shards) {
    std::string slug;
    uint32_t number = 0;
    (void)shard::ParseShardId(e.shard, &slug, &number);  // Manifest::Parse checked the form
    state->shards_of_slug[slug].push_back(state->slugs.size());
    state->slugs.push_back(std::move(slug));
    auto bloom = shard::TermBloom::FromHex(e.term_bloom);
    filters.push_back(bloom.ok() ? std::optional<shard::TermBloom>(*bloom) : std::nullopt);
  }
  state->blooms = std::make_unique<ShardBlooms>(filters);
  state->readers.resize(state->shards.size());
  state->open_errors.resize(state->shards.size());
  state->opened.assign(state->shards.size(), false);
  state->lru_prev.assign(state->shards.size(), State::kNone);
  state->lru_next.assign(state->shards.size(), State::kNone);
  state->max_open = options.max_open_segments != 0 ? options.max_open_segments
                                                   : MaxOpenSegmentsFor(ProcessMapLimit(env));
  return QueryEngine(std::move(state));
}

Result<QueryResult> QueryEngine::Search(const QueryNode& query, const SearchOptions& options) {
  State& s = *state_;
  QueryResult result;
  result.shards_total = s.shards.size();
  const auto required = RequiredCategories(query);
  // A product of category c lives in a shard "<CategorySlug(c)>_NNN". A category without any
  // [a-z0-9] gets a hashed slug of its untrimmed text, which a query cannot recompute: such a
  // query searches every shard.
  std::optional<std::set<std::string>> required_slugs;
  if (required) {
    required_slugs.emplace();
    for (const auto& c : *required) {
      const bool plain = std::any_of(c.begin(), c.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
      });
      if (!plain) {
        required_slugs.reset();
        break;
      }
      required_slugs->insert(shard::CategorySlug(c));
    }
  }
  const std::optional<BloomTest> bloom_test = MakeBloomTest(query);
  const QueryTerms query_terms(query);
  ShardEvaluator evaluator(query_terms, options.max_prefix_terms, s.blooms.get(),
                           options.bitset_evaluation);
  FirstHits first_hits(options.limit);
  std::vector<size_t> searched;
  std::vector<size_t> eligible;  // after category pruning: where hints look for terms
  std::vector<size_t> picked;    // with required_slugs: the shards of those slugs, in order
  if (required_slugs) {
    for (const auto& slug : *required_slugs) {
      const auto it = s.shards_of_slug.find(slug);
      if (it == s.shards_of_slug.end()) continue;
      picked.insert(picked.end(), it->second.begin(), it->second.end());
    }
    std::sort(picked.begin(), picked.end());
  }
  const size_t visits = required_slugs ? picked.size() : s.shards.size();
  // All shards at once when the query visits all of them, else shard by shard.
  const bool bulk = bloom_test && !required_slugs;
  const std::vector<uint64_t> may_match =
      bulk ? s.blooms->MayMatch(*bloom_test) : std::vector<uint64_t>();
  for (size_t k = 0; k < visits; ++k) {
    const size_t i = required_slugs ? picked[k] : k;
    const snapshot::ShardEntry& entry = s.shards[i];
    eligible.push_back(i);
    // A shard whose Bloom filter lacks a term the query requires cannot match: it is not opened.
    if (bulk ? ((may_match[i / 64] >> (i % 64)) & 1) == 0
             : bloom_test && !s.blooms->MayMatch(i, *bloom_test)) {
      continue;
    }
    const SegmentReader* open = s.Reader(i);
    if (open == nullptr) {
      if (!options.allow_partial) return s.open_errors[i];
      result.unavailable.push_back(entry.shard + ": " + s.open_errors[i].message());
      continue;
    }
    ++result.shards_searched;
    searched.push_back(i);
    const SegmentReader& reader = *open;
    evaluator.Reset(&reader, i);
    // A block or posting list that fails its checks is damage: never a silently smaller answer.
    auto damaged = [&](const Status& st) -> Status {
      if (!options.allow_partial) return st.Annotate("shard " + entry.shard);
      result.unavailable.push_back(entry.shard + ": " + st.message());
      return Status::Ok();
    };
    {
      const Status prepared = evaluator.Prepare(query);
      if (prepared.kind() == StatusKind::kUsage) return prepared;  // the query's fault
      if (!prepared.ok()) {
        PIDX_RETURN_IF_ERROR(damaged(prepared));
        continue;
      }
    }
    if (options.limit == 0) {
      auto count = evaluator.UsesBits() ? evaluator.CountBits(query) : evaluator.Count(query);
      if (!count.ok()) {
        PIDX_RETURN_IF_ERROR(damaged(count.status()));
        continue;
      }
      result.total += *count;
      continue;
    }
    // The shard's matches: how many, and the first `limit` of them (its smallest ids).
    uint64_t matched = 0;
    std::vector<uint32_t> docs;
    if (evaluator.UsesBits()) {
      auto bits = evaluator.EvalBits(query);
      if (!bits.ok()) {
        PIDX_RETURN_IF_ERROR(damaged(bits.status()));
        continue;
      }
      const std::vector<uint64_t>& w = **bits;
      matched = PopcountWords(w.data(), w.size());
      for (size_t wi = 0; wi < w.size() && docs.size() < options.limit && matched != 0; ++wi) {
        for (uint64_t word = w[wi]; word != 0 && docs.size() < options.limit; word &= word - 1) {
          docs.push_back(static_cast<uint32_t>(wi * 64 + std::countr_zero(word)));
        }
      }
    } else {
      auto matches = evaluator.Eval(query);
      if (!matches.ok()) {
        PIDX_RETURN_IF_ERROR(damaged(matches.status()));
        continue;
      }
      matched = matches->Cardinality();
      if (matched != 0) docs = matches->First(options.limit);
    }
    result.total += matched;
    if (matched == 0) continue;
    // A shard's first `limit` matches are its smallest ids; FirstHits orders across shards.
    // They are offered only once every record read passed its checks (damage drops the shard).
    std::vector<QueryHit> entering;
    Status read = Status::Ok();
    for (const uint32_t d : docs) {
      auto doc = reader.ReadDoc(d);
      if (!doc.ok()) {
        read = doc.status();
        break;
      }
      if (!first_hits.Wants(doc->external_id)) break;  // and so would every later one
      entering.push_back({std::string(doc->external_id), std::string(doc->title), entry.shard});
    }
    if (!read.ok()) {
      result.total -= matched;
      PIDX_RETURN_IF_ERROR(damaged(read));
      continue;
    }
    for (QueryHit& h : entering) first_hits.Offer(std::move(h));
  }
  result.hits = first_hits.Take();
  if (options.hints) AddHints(query, required, eligible, &result);
  return result;
}

void QueryEngine::AddHints(const QueryNode& query,
                           const std::optional<std::set<std::string>>& required,
                           const std::vector<size_t>& searched, QueryResult* result) {
  State& s = *state_;
  const QueryParser& parser = *s.parser;
  // A required category that the version does not list. The manifest's category lists only
  // name the closest ones here; which shards are searched never depends on them.
  if (required) {
    // Folded once per engine, not per query: with 5,000 categories, folding them and filling
    // two maps was most of a category query's time.
    std::call_once(s.folded_once, [&] {
      for (const auto& [raw, docs] : s.categories) {
        const std::string f = parser.FoldValue(raw);
        s.folded_docs[f] += docs;
        s.folded_raw.emplace(f, raw);
      }
    });
    const std::map<std::string, uint64_t>& folded = s.folded_docs;
    const std::map<std::string, std::string>& raw_of = s.folded_raw;
    for (const auto& c : *required) {
      if (folded.count(c) != 0) continue;
      // The categories within a few edits; when none is, the nearest one all the same (a
      // version has few categories, and naming one beats naming none).
      const size_t near = std::max<size_t>(2, c.size() / 3);
      Closest within, nearest;
      for (const auto& [f, docs] : folded) {
        const size_t d = EditDistance(c, f, std::max(c.size(), f.size()));
        const std::string& raw = raw_of.at(f);
        if (d <= near) within.Offer(d, docs, raw);
        nearest.Offer(d, docs, raw);
      }
      std::vector<std::string> names = within.Take();
      if (names.empty()) {
        names = nearest.Take();
        names.resize(std::min<size_t>(names.size(), 1));
      }
      result->hints.push_back({QueryHint::Kind::kCategory, c, std::move(names)});
    }
  }
  if (result->total != 0 || searched.empty()) return;
  // Nothing matched: name the terms that no searched shard holds, and the closest ones in the
  // same field.
  std::vector<const QueryNode*> terms;
  CollectTerms(query, &terms);
  // Each hint walks a field's dictionary in every searched shard: a long query of misspelt
  // words is hinted for its first few terms, so a hint never costs more than a few walks.
  constexpr size_t kMaxTermHints = 8;
  std::set<std::string> seen;
  for (const QueryNode* t : terms) {
    if (result->hints.size() >= kMaxTermHints) break;
    if (!seen.insert(t->term).second) continue;
    const shard::TermBloom::Probes probes = shard::TermBloom::ProbesOf(t->term);
    const bool present = std::any_of(searched.begin(), searched.end(), [&](size_t i) {
      if (!s.blooms->MayContain(i, probes)) return false;
      const SegmentReader* r = s.Reader(i);  // reopened if released since (max_open)
      if (r == nullptr) return false;
      auto e = r->Lookup(t->term);
      return e.ok() && e->has_value();
    });
    if (present) continue;
    const size_t colon = t->term.find(':');
    const std::string field = t->term.substr(0, colon + 1);
    const std::string_view body = std::string_view(t->term).substr(colon + 1);
    const size_t limit = SuggestionLimit(body);
    std::map<std::string, uint64_t> docs;  // candidate term -> docs over the searched shards
    for (const size_t i : searched) {
      const SegmentReader* open = s.Reader(i);
      if (open == nullptr) continue;
      const SegmentReader& r = *open;
      // A damaged block only loses suggestions; the query's answer did not read it.
      (void)r.ForEachTermView(field, [&](std::string_view term, uint32_t df) {
        if (EditDistance(body, term.substr(field.size()), limit) <= limit) {
          docs[std::string(term)] += df;
        }
      });
    }
    Closest closest;
    for (const auto& [name, n] : docs) {
      closest.Offer(EditDistance(body, std::string_view(name).substr(field.size()), limit), n,
                    name);
    }
    result->hints.push_back({QueryHint::Kind::kTerm, t->term, closest.Take()});
  }
}

Status QueryEngine::OpenAllShards() {
  State& s = *state_;
  s.max_open = std::max(s.max_open, s.shards.size());
  s.open_full = true;
  for (size_t i = 0; i < s.shards.size(); ++i) {
    if (s.readers[i] && !s.readers[i]->fully_verified()) {
      s.readers[i].reset();
      s.Unlink(i);
    }
  }
  for (size_t i = 0; i < s.shards.size(); ++i) {
    if (s.Reader(i) == nullptr) return s.open_errors[i];
  }
  s.all_open = true;
  return Status::Ok();
}

const snapshot::Manifest& QueryEngine::manifest() const { return state_->manifest; }

std::optional<QueryHit> QueryEngine::FindProduct(std::string_view id) const {
  const State& s = *state_;
  for (size_t i = 0; i < s.shards.size(); ++i) {
    if (!s.readers[i]) continue;
    const SegmentReader& reader = *s.readers[i];
    uint32_t lo = 0, hi = reader.doc_count();
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo) / 2;
      const segment::DocView doc = reader.doc(mid);
      if (doc.external_id == id) {
        return QueryHit{std::string(doc.external_id), std::string(doc.title), s.shards[i].shard};
      }
      if (doc.external_id < id) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
  }
  return std::nullopt;
}

Result<QueryRun> RunQuery(Env* env, const std::string& index_dir, uint64_t version,
                          const std::string& text, const SearchOptions& options,
                          QueryRunNotes* notes) {
  const int64_t start = MonotonicMs();
  auto run = ReadRestartingOnGc<QueryRun>(
      version == 0, "index.query.restarted", LogLevel::kDebug,
      [&](const ReaderAttempt&, LogFields* removed) -> Result<QueryRun> {
        auto opened = QueryEngine::Open(env, index_dir, version);
        Status s = opened.status();
        QueryRun out;
        if (opened.ok()) {
          QueryEngine engine = std::move(*opened);
          out.version = engine.version();
          *notes = QueryRunNotes{};
          auto parsed = engine.parser().Parse(text, &notes->column, &notes->query);
          if (!parsed.ok()) {  // the same on every version: not retried
            notes->syntax_error = true;
            return parsed.status();
          }
          out.parsed = parsed->ToString();
          auto searched = engine.Search(*parsed, options);
          if (searched.ok()) {
            out.result = std::move(*searched);
            return out;
          }
          s = searched.status();
        }
        if (s.kind() == StatusKind::kNotFound) (*removed)["error"] = s.message();
        return s;
      });
  if (run.ok()) run->duration_ms = MonotonicMs() - start;
  return run;
}

}  // namespace pidx
