#include "pidx/ops/stats.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>

#include "pidx/analysis/analyzer.h"
#include "pidx/base/worker_pool.h"
#include "pidx/catalog/schema.h"
#include "pidx/segment/segment_reader.h"
#include "pidx/shard/shard_id.h"
#include "pidx/snapshot/index_reader.h"
#include "pidx/snapshot/index_settings.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx {
namespace {

void KeepTop(std::vector<TermCount>* terms, size_t k) {
  std::sort(terms->begin(), terms->end(), [](const TermCount& a, const TermCount& b) {
    return a.docs != b.docs ? a.docs > b.docs : a.term < b.term;
  });
  if (terms->size() > k) terms->resize(k);
}

// What stats reports of the manifest (docs, categories) is first proven by the segment: a
// manifest that lies is an error here, never a report of its claims.
Status ShardStatsOf(const snapshot::SnapshotStore& store, const snapshot::ShardEntry& entry,
                    const catalog::Schema& schema, const analysis::Analyzer& analyzer,
                    uint32_t top_terms, ShardStats* out,
                    std::unordered_map<std::string, uint64_t>* merged, std::mutex* merged_mu) {
  PIDX_ASSIGN_OR_RETURN(auto reader, snapshot::OpenSegment(store, entry));
  auto lies = snapshot::CheckCategoryCounts(reader, entry, schema, analyzer);
  if (!lies.empty()) return lies.front().status;
  out->shard = entry.shard;
  uint32_t number = 0;
  if (!shard::ParseShardId(entry.shard, &out->category_slug, &number)) {
    out->category_slug = entry.shard;
  }
  out->segment = entry.segment;
  out->docs = reader.doc_count();
  out->terms = reader.term_count();
  out->postings = reader.posting_count();
  out->bytes = reader.file_size();
  out->array_bytes = 4 * reader.posting_count();
  std::vector<TermCount> top;
  for (uint32_t i = 0; i < reader.term_count(); ++i) {
    PIDX_ASSIGN_OR_RETURN(auto postings, reader.postings(i));
    out->roaring_bytes += reader.posting_bytes(i).size();
    auto mix = postings.Containers();
    out->containers_array += mix.array;
    out->containers_bitmap += mix.bitmap;
    out->containers_run += mix.run;
    if (top_terms > 0) top.push_back({std::string(reader.term(i)), reader.doc_freq(i)});
  }
  if (top_terms > 0) {
    {
      std::lock_guard<std::mutex> lock(*merged_mu);
      for (const auto& t : top) (*merged)[t.term] += t.docs;
    }
    KeepTop(&top, top_terms);
    out->top_terms = std::move(top);
  }
  return Status::Ok();
}

}  // namespace

Result<StatsResult> Stats(const StatsOptions& options, Env* env) {
  PIDX_ASSIGN_OR_RETURN(auto store, snapshot::SnapshotStore::Open(env, options.index_dir, false));
  PIDX_ASSIGN_OR_RETURN(auto manifest, store.LoadVersionOrCurrent(options.version));
  const uint64_t version = manifest.version;
  const std::string vname = snapshot::VersionName(version);
  std::string failed_part;
  auto settings = snapshot::IndexSettings::FromManifest(manifest, &failed_part);
  if (!settings.ok()) {
    return Status::Corrupt(vname + ": stored " + failed_part + ": " + settings.status().message());
  }
  const analysis::Analyzer analyzer(settings->analyzer);
  std::vector<const snapshot::ShardEntry*> entries;
  for (const auto& e : manifest.shards) {
    if (options.shard.empty() || e.shard == options.shard) entries.push_back(&e);
  }
  if (!options.shard.empty() && entries.empty()) {
    return Status::NotFound("shard " + options.shard + " is not in version " +
                            snapshot::VersionName(version));
  }

  StatsResult result;
  result.version = version;
  result.created = manifest.created;
  result.shards_per_category = manifest.shards_per_category;
  result.shards.resize(entries.size());
  std::unordered_map<std::string, uint64_t> merged;
  std::mutex mu;
  PIDX_RETURN_IF_ERROR(RunJobs(entries.size(), options.threads, [&](size_t i) {
    return ShardStatsOf(store, *entries[i], settings->schema, analyzer, options.top_terms,
                        &result.shards[i], &merged, &mu);
  }));

  for (size_t i = 0; i < entries.size(); ++i) {
    result.shards[i].categories.assign(entries[i]->categories.begin(),
                                       entries[i]->categories.end());
  }
  ShardStats& total = result.total;
  total.shard = "total";
  for (const auto& s : result.shards) {
    total.docs += s.docs;
    total.terms += s.terms;
    total.postings += s.postings;
    total.bytes += s.bytes;
    total.roaring_bytes += s.roaring_bytes;
    total.array_bytes += s.array_bytes;
    total.containers_array += s.containers_array;
    total.containers_bitmap += s.containers_bitmap;
    total.containers_run += s.containers_run;
  }
  if (options.top_terms > 0) {
    for (auto& [term, docs] : merged) total.top_terms.push_back({term, docs});
    KeepTop(&total.top_terms, options.top_terms);
  }
  std::map<std::string, uint64_t> cats;
  for (const auto* e : entries) {
    for (const auto& [c, n2] : e->categories) cats[c] += n2;
  }
  result.categories.assign(cats.begin(), cats.end());
  return result;
}

}  // namespace pidx
