#include "pidx/ops/diff.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>

#include "pidx/base/checksum.h"
#include "pidx/base/duration.h"
#include "pidx/base/worker_pool.h"
#include "pidx/ops/changed_fields.h"
#include "pidx/segment/segment_reader.h"
#include "pidx/snapshot/index_reader.h"
#include "pidx/snapshot/index_settings.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx {
namespace {

using segment::SegmentReader;
using snapshot::Manifest;
using snapshot::ShardEntry;
using snapshot::SnapshotStore;

constexpr uint32_t kGone = std::numeric_limits<uint32_t>::max();

// Counts everything but keeps only the `limit` smallest strings, so a diff of a million
// products costs O(limit) memory for its examples, and the examples do not depend on the
// order in which shards or docs were visited.
class ExampleSet {
 public:
  explicit ExampleSet(size_t limit) : limit_(limit) {}
  void Add(std::string_view s) {
    ++count_;
    if (limit_ == 0) return;
    if (kept_.size() < limit_) {
      kept_.emplace(s);
    } else if (s < *kept_.rbegin()) {
      kept_.erase(std::prev(kept_.end()));
      kept_.emplace(s);
    }
  }
  DiffList Take() {
    DiffList out;
    out.count = count_;
    out.examples.assign(kept_.begin(), kept_.end());
    return out;
  }

 private:
  size_t limit_;
  uint64_t count_ = 0;
  std::set<std::string> kept_;
};

struct Side {
  SnapshotStore store;
  Manifest manifest;
};

Result<Side> LoadSide(const DiffSide& side, Env* env) {
  PIDX_ASSIGN_OR_RETURN(auto store, SnapshotStore::Open(env, side.index_dir, false));
  PIDX_ASSIGN_OR_RETURN(auto manifest, store.LoadVersionOrCurrent(side.version));
  return Side{std::move(store), std::move(manifest)};
}

DiffSideInfo InfoOf(const DiffSide& side, const Manifest& m) {
  DiffSideInfo info;
  info.index_dir = side.index_dir;
  info.version = snapshot::VersionName(m.version);
  const snapshot::Totals totals = snapshot::SumTotals(m.shards);
  info.shards = totals.shards;
  info.docs = totals.docs;
  info.shards_per_category = m.shards_per_category;
  return info;
}

// A segment that is intact but not the one the manifest names would make the diff describe
// something else than the version; that is damage for `verify` to explain, not a difference.
Result<SegmentReader> OpenCounted(const SnapshotStore& store, const ShardEntry& entry,
                                  std::atomic<uint64_t>* opened) {
  ++*opened;
  return snapshot::OpenSegment(store, entry);
}

// What comparing one shard gives, beyond its ShardDiff: every product id that differs, so
// that the version-wide totals can tell a product that moved between shards (removed from
// one, added to another) from a real addition or removal.
struct ShardWork {
  std::string shard;
  const ShardEntry* a = nullptr;  // v1's entry, null when the shard is only in v2
  const ShardEntry* b = nullptr;
  bool differs = false;
  ShardDiff diff;
  std::vector<std::string> added_ids, removed_ids, changed_ids;
  std::map<std::string, std::vector<std::string>> changed_fields;  // id -> fields (format 2)
};

// The fields of the example ids of `changed` that `fields` names.
std::map<std::string, std::vector<std::string>> FieldsOf(
    const DiffList& changed, const std::map<std::string, std::vector<std::string>>& fields) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& id : changed.examples) {
    auto it = fields.find(id);
    if (it != fields.end() && !it->second.empty()) out[id] = it->second;
  }
  return out;
}

void AllIds(const SegmentReader& r, std::vector<std::string>* out) {
  out->reserve(r.doc_count());
  for (uint32_t d = 0; d < r.doc_count(); ++d) out->emplace_back(r.doc(d).external_id);
}

// Postings of one term on both sides, as sets of external ids: which products entered and
// which left. `a_to_b` maps v1's local doc ids to v2's (kGone: the product is not in v2),
// so the comparison runs on integers and only the differing ids become strings.
Status ComparePostings(const SegmentReader& a, uint32_t ta, const SegmentReader& b, uint32_t tb,
                       const std::vector<uint32_t>& a_to_b, bool same_docs, size_t limit,
                       std::optional<TermChange>* change) {
  // With the same doc table on both sides, canonical serializations are equal exactly when
  // the sets are: no bitmap needs to be decoded for the common case of an unchanged term.
  if (same_docs && a.posting_bytes(ta) == b.posting_bytes(tb)) return Status::Ok();
  PIDX_ASSIGN_OR_RETURN(auto pa, a.postings(ta));
  PIDX_ASSIGN_OR_RETURN(auto pb, b.postings(tb));
  std::vector<uint32_t> mapped;
  ExampleSet entered(limit), left(limit);
  for (uint32_t d : pa.ToVector()) {
    if (a_to_b[d] == kGone) {
      left.Add(a.doc(d).external_id);
    } else {
      mapped.push_back(a_to_b[d]);
    }
  }
  std::vector<uint32_t> vb = pb.ToVector();
  std::sort(mapped.begin(), mapped.end());
  std::vector<uint32_t> only_a, only_b;
  std::set_difference(mapped.begin(), mapped.end(), vb.begin(), vb.end(),
                      std::back_inserter(only_a));
  std::set_difference(vb.begin(), vb.end(), mapped.begin(), mapped.end(),
                      std::back_inserter(only_b));
  for (uint32_t d : only_a) left.Add(b.doc(d).external_id);  // same external id on both sides
  for (uint32_t d : only_b) entered.Add(b.doc(d).external_id);
  DiffList e = entered.Take(), l = left.Take();
  if (e.count + l.count == 0) return Status::Ok();
  TermChange c;
  c.term = std::string(a.term(ta));
  c.docs_v1 = a.doc_freq(ta);
  c.docs_v2 = b.doc_freq(tb);
  c.entered = std::move(e);
  c.left = std::move(l);
  *change = std::move(c);
  return Status::Ok();
}

// A shard on both sides whose segments and signatures differ: docs by external id, then the
// two sorted term dictionaries merged.
Status CompareShard(const SegmentReader& a, const SegmentReader& b, const catalog::Schema* schema,
                    size_t limit, ShardWork* work) {
  ShardDiff& out = work->diff;
  std::unordered_map<std::string_view, uint32_t> b_ids;
  b_ids.reserve(b.doc_count());
  for (uint32_t d = 0; d < b.doc_count(); ++d) b_ids.emplace(b.doc(d).external_id, d);
  std::vector<uint32_t> a_to_b(a.doc_count(), kGone);
  std::vector<bool> b_seen(b.doc_count(), false);
  bool same_docs = a.doc_count() == b.doc_count();
  for (uint32_t d = 0; d < a.doc_count(); ++d) {
    auto doc = a.doc(d);
    auto it = b_ids.find(doc.external_id);
    if (it == b_ids.end()) {
      work->removed_ids.emplace_back(doc.external_id);
      same_docs = false;
      continue;
    }
    a_to_b[d] = it->second;
    b_seen[it->second] = true;
    same_docs &= it->second == d;
    const segment::DocView other = b.doc(it->second);
    if (other.content_hash != doc.content_hash) {
      work->changed_ids.emplace_back(doc.external_id);
      if (schema != nullptr) {
        auto fields = ChangedFields(*schema, doc.field_hashes, other.field_hashes);
        if (!fields.empty()) work->changed_fields[std::string(doc.external_id)] = std::move(fields);
      }
    }
  }
  for (uint32_t d = 0; d < b.doc_count(); ++d) {
    if (!b_seen[d]) work->added_ids.emplace_back(b.doc(d).external_id);
  }
  auto list = [limit](const std::vector<std::string>& ids) {
    ExampleSet s(limit);
    for (const auto& id : ids) s.Add(id);
    return s.Take();
  };
  out.products.added = list(work->added_ids);
  out.products.removed = list(work->removed_ids);
  out.products.changed = list(work->changed_ids);
  out.products.changed_fields = FieldsOf(out.products.changed, work->changed_fields);

  // The dictionaries are sorted by bytes (docs/FORMAT.md), so one merge pass finds every term
  // on one side only and pairs up the rest; examples come out in term order.
  auto only = [limit](TermOnlyList* l, std::string_view term, uint32_t df) {
    if (l->count++ < limit) l->examples.push_back({std::string(term), df});
  };
  uint32_t i = 0, j = 0;
  while (i < a.term_count() || j < b.term_count()) {
    if (j == b.term_count() || (i < a.term_count() && a.term(i) < b.term(j))) {
      only(&out.terms_only_v1, a.term(i), a.doc_freq(i));
      ++i;
    } else if (i == a.term_count() || b.term(j) < a.term(i)) {
      only(&out.terms_only_v2, b.term(j), b.doc_freq(j));
      ++j;
    } else {
      std::optional<TermChange> change;
      PIDX_RETURN_IF_ERROR(ComparePostings(a, i, b, j, a_to_b, same_docs, limit, &change));
      if (change) {
        if (out.terms_changed++ < limit) out.terms_changed_examples.push_back(std::move(*change));
      }
      ++i;
      ++j;
    }
  }
  work->differs = !out.products.empty() || out.terms_only_v1.count > 0 ||
                  out.terms_only_v2.count > 0 || out.terms_changed > 0;
  return Status::Ok();
}

std::vector<const ShardEntry*> Selected(const Manifest& m, const std::string& shard) {
  std::vector<const ShardEntry*> out;
  for (const auto& e : m.shards) {
    if (shard.empty() || e.shard == shard) out.push_back(&e);
  }
  return out;
}

// Product-level totals from sorted, unique id lists: a product removed from one shard and
// added to another has moved (its category changed), which at product level is a change.
void ProductTotals(std::vector<std::string> added, std::vector<std::string> removed,
                   std::vector<std::string> changed, size_t limit, ProductDiff* out) {
  std::vector<std::string> moved, only_added, only_removed;
  std::set_intersection(added.begin(), added.end(), removed.begin(), removed.end(),
                        std::back_inserter(moved));
  std::set_difference(added.begin(), added.end(), moved.begin(), moved.end(),
                      std::back_inserter(only_added));
  std::set_difference(removed.begin(), removed.end(), moved.begin(), moved.end(),
                      std::back_inserter(only_removed));
  changed.insert(changed.end(), moved.begin(), moved.end());
  auto list = [limit](const std::vector<std::string>& ids) {
    ExampleSet s(limit);
    for (const auto& id : ids) s.Add(id);
    return s.Take();
  };
  out->added = list(only_added);
  out->removed = list(only_removed);
  out->changed = list(changed);
}

void SortUnique(std::vector<std::string>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

// Settings differ: every selected shard of both sides is read into external id -> content
// hash, and the two maps are compared. Memory is one entry per product and side.
Status CompareProducts(const Side& a, const Side& b, const DiffOptions& options,
                       std::atomic<uint64_t>* opened, DiffResult* result) {
  struct Job {
    const Side* side;
    const ShardEntry* entry;
    std::vector<std::pair<std::string, uint64_t>> docs;
  };
  std::vector<Job> jobs;
  for (const Side* s : {&a, &b}) {
    for (const ShardEntry* e : Selected(s->manifest, options.shard)) jobs.push_back({s, e, {}});
  }
  PIDX_RETURN_IF_ERROR(RunJobs(
      jobs.size(), options.threads,
      [&](size_t i) -> Status {
        Job& job = jobs[i];
        PIDX_ASSIGN_OR_RETURN(auto reader, OpenCounted(job.side->store, *job.entry, opened));
        job.docs.reserve(reader.doc_count());
        for (uint32_t d = 0; d < reader.doc_count(); ++d) {
          auto doc = reader.doc(d);
          job.docs.emplace_back(std::string(doc.external_id), doc.content_hash);
        }
        return Status::Ok();
      },
      "diff interrupted"));
  std::unordered_map<std::string, uint64_t> in_a;
  for (auto& job : jobs) {
    if (job.side != &a) continue;
    for (auto& [id, hash] : job.docs) in_a.emplace(std::move(id), hash);
  }
  std::vector<std::string> added, removed, changed;
  for (auto& job : jobs) {
    if (job.side != &b) continue;
    for (auto& [id, hash] : job.docs) {
      auto it = in_a.find(id);
      if (it == in_a.end()) {
        added.push_back(std::move(id));
        continue;
      }
      if (it->second != hash) changed.push_back(id);
      in_a.erase(it);
    }
  }
  for (auto& [id, hash] : in_a) removed.push_back(id);
  SortUnique(&added);
  SortUnique(&removed);
  SortUnique(&changed);
  ProductTotals(std::move(added), std::move(removed), std::move(changed), options.limit,
                &result->products);
  return Status::Ok();
}

Status CompareShards(const Side& a, const Side& b, const DiffOptions& options,
                     std::atomic<uint64_t>* opened, DiffResult* result) {
  // The settings are equal here (else the comparison is at product level), so field i is the
  // same field on both sides.
  std::string failed_part;
  auto settings = snapshot::IndexSettings::FromManifest(a.manifest, &failed_part);
  const catalog::Schema* schema = settings.ok() ? &settings->schema : nullptr;
  std::map<std::string, ShardWork> by_shard;
  for (const ShardEntry* e : Selected(a.manifest, options.shard)) by_shard[e->shard].a = e;
  for (const ShardEntry* e : Selected(b.manifest, options.shard)) by_shard[e->shard].b = e;
  // Cheap first: only what neither the segment name nor the signature proves equal is opened.
  std::vector<ShardWork*> open;
  for (auto& [shard, w] : by_shard) {
    w.shard = shard;
    if (w.a && w.b && (w.a->segment == w.b->segment || w.a->signature == w.b->signature)) {
      ++result->shards_equal;
    } else {
      open.push_back(&w);
    }
  }
  PIDX_RETURN_IF_ERROR(RunJobs(
      open.size(), options.threads,
      [&](size_t i) -> Status {
        ShardWork& w = *open[i];
        ShardDiff& d = w.diff;
        d.shard = w.shard;
        if (w.a) {
          d.segment_v1 = w.a->segment;
          d.docs_v1 = w.a->docs;
          d.terms_v1 = w.a->terms;
        }
        if (w.b) {
          d.segment_v2 = w.b->segment;
          d.docs_v2 = w.b->docs;
          d.terms_v2 = w.b->terms;
        }
        if (!w.b) {
          d.kind = ShardDiffKind::kRemoved;
          w.differs = true;
          PIDX_ASSIGN_OR_RETURN(auto ra, OpenCounted(a.store, *w.a, opened));
          AllIds(ra, &w.removed_ids);
          return Status::Ok();
        }
        if (!w.a) {
          d.kind = ShardDiffKind::kAdded;
          w.differs = true;
          PIDX_ASSIGN_OR_RETURN(auto rb, OpenCounted(b.store, *w.b, opened));
          AllIds(rb, &w.added_ids);
          return Status::Ok();
        }
        d.kind = ShardDiffKind::kChanged;
        PIDX_ASSIGN_OR_RETURN(auto ra, OpenCounted(a.store, *w.a, opened));
        PIDX_ASSIGN_OR_RETURN(auto rb, OpenCounted(b.store, *w.b, opened));
        return CompareShard(ra, rb, schema, options.limit, &w);
      },
      "diff interrupted"));

  std::vector<std::string> added, removed, changed;
  std::map<std::string, std::vector<std::string>> changed_fields;
  for (ShardWork* w : open) {
    if (!w->differs) {
      // Signatures differ but the content does not (e.g. a signature written by another
      // pidx version): equal is what matters to the reader of the diff.
      ++result->shards_equal;
      continue;
    }
    switch (w->diff.kind) {
      case ShardDiffKind::kChanged:
        ++result->shards_changed;
        break;
      case ShardDiffKind::kAdded:
        ++result->shards_added;
        break;
      case ShardDiffKind::kRemoved:
        ++result->shards_removed;
        break;
    }
    result->terms_only_v1 += w->diff.terms_only_v1.count;
    result->terms_only_v2 += w->diff.terms_only_v2.count;
    result->terms_changed += w->diff.terms_changed;
    std::move(w->added_ids.begin(), w->added_ids.end(), std::back_inserter(added));
    std::move(w->removed_ids.begin(), w->removed_ids.end(), std::back_inserter(removed));
    std::move(w->changed_ids.begin(), w->changed_ids.end(), std::back_inserter(changed));
    changed_fields.merge(w->changed_fields);
    result->shards.push_back(std::move(w->diff));
  }
  SortUnique(&added);
  SortUnique(&removed);
  SortUnique(&changed);
  ProductTotals(std::move(added), std::move(removed), std::move(changed), options.limit,
                &result->products);
  result->products.changed_fields = FieldsOf(result->products.changed, changed_fields);
  return Status::Ok();
}

}  // namespace

const char* ShardDiffKindName(ShardDiffKind kind) {
  switch (kind) {
    case ShardDiffKind::kChanged:
      return "changed";
    case ShardDiffKind::kAdded:
      return "added";
    case ShardDiffKind::kRemoved:
      return "removed";
  }
  return "changed";
}

Result<DiffResult> Diff(const DiffOptions& options, Env* env) {
  const int64_t start = MonotonicMs();
  PIDX_ASSIGN_OR_RETURN(Side a, LoadSide(options.v1, env));
  PIDX_ASSIGN_OR_RETURN(Side b, LoadSide(options.v2, env));
  if (!options.shard.empty() && !a.manifest.FindShard(options.shard) &&
      !b.manifest.FindShard(options.shard)) {
    return Status::NotFound("shard " + options.shard + " is in neither " +
                            snapshot::VersionName(a.manifest.version) + " nor " +
                            snapshot::VersionName(b.manifest.version));
  }

  DiffResult result;
  result.v1 = InfoOf(options.v1, a.manifest);
  result.v2 = InfoOf(options.v2, b.manifest);
  if (a.manifest.schema != b.manifest.schema) result.settings_changed.emplace_back("schema");
  if (a.manifest.analyzer != b.manifest.analyzer) result.settings_changed.emplace_back("analyzer");
  if (a.manifest.shards_per_category != b.manifest.shards_per_category) {
    result.settings_changed.emplace_back("shards_per_category");
  }
  result.settings_differ = !result.settings_changed.empty();

  std::atomic<uint64_t> opened{0};
  if (result.settings_differ) {
    result.terms_compared = false;
    PIDX_RETURN_IF_ERROR(CompareProducts(a, b, options, &opened, &result));
  } else {
    PIDX_RETURN_IF_ERROR(CompareShards(a, b, options, &opened, &result));
  }
  result.segments_opened = opened;
  result.duration_ms = MonotonicMs() - start;
  return result;
}

}  // namespace pidx
