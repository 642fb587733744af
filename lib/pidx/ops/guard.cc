#include "pidx/ops/guard.h"

#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "pidx/obs/log.h"
#include "pidx/obs/trace.h"
#include "pidx/segment/segment_reader.h"
#include "pidx/snapshot/index_reader.h"

namespace pidx {
namespace {

Status Refuse(const std::string& reason, LogFields fields) {
  fields["reason"] = reason;
  Trace::SetCurrentAndRootAttribute("index.status", "refused");
  Trace::SetCurrentAndRootAttribute("index.publish.refused_reason", reason);
  Log::Error("index.publish.refused", "publish refused: " + reason, fields);
  return Status::BadData("publish refused: " + reason);
}

}  // namespace

Status CheckCatalogNotEmpty(uint64_t catalog_products) {
  if (catalog_products > 0) return Status::Ok();
  return Refuse("the catalog has no products", {{"docs", 0}});
}

Status CheckPublishGuard(const PublishGuard& guard, const snapshot::Manifest* baseline,
                         const snapshot::Manifest& next) {
  const uint64_t new_docs = snapshot::SumTotals(next.shards).docs;
  if (new_docs == 0) return Refuse("the new version has no products", {{"docs", 0}});
  if (baseline == nullptr || guard.allow_shrink) return Status::Ok();
  const uint64_t old_docs = snapshot::SumTotals(baseline->shards).docs;
  // NaN or a value outside [0, 1] never switches the check off: it counts as 0.
  const double max_shrink =
      guard.max_shrink >= 0.0 && guard.max_shrink <= 1.0 ? guard.max_shrink : 0.0;
  const double floor = (1.0 - max_shrink) * static_cast<double>(old_docs);
  if (static_cast<double>(new_docs) < floor) {
    return Refuse(
        fmt::format("the new version has {} products, {} has {} (more than "
                    "{:.0f}% fewer; --max-shrink or --allow-shrink to override)",
                    new_docs, snapshot::VersionName(baseline->version), old_docs, max_shrink * 100),
        {{"docs", new_docs}, {"current_docs", old_docs}, {"max_shrink", max_shrink}});
  }
  const auto new_categories = next.Categories();
  std::vector<std::string> lost;
  for (const auto& [cat, n] : baseline->Categories()) {
    if (!new_categories.count(cat)) lost.push_back(cat);
  }
  if (!lost.empty()) {
    std::string names;
    for (const auto& c : lost) names += (names.empty() ? "" : ", ") + c;
    return Refuse("categories would disappear: " + names + " (--allow-shrink to override)",
                  {{"lost_categories", lost}});
  }
  return Status::Ok();
}

Status CheckShardShrink(const PublishGuard& guard, const snapshot::Manifest& baseline,
                        const snapshot::Manifest& next, const std::string& shard) {
  if (guard.allow_shrink) return Status::Ok();
  const snapshot::ShardEntry* old_entry = baseline.FindShard(shard);
  if (old_entry == nullptr) return Status::Ok();
  const snapshot::ShardEntry* new_entry = next.FindShard(shard);
  const uint64_t old_docs = old_entry->docs;
  const uint64_t new_docs = new_entry ? new_entry->docs : 0;
  const double max_shrink =
      guard.max_shrink >= 0.0 && guard.max_shrink <= 1.0 ? guard.max_shrink : 0.0;
  if (static_cast<double>(new_docs) >= (1.0 - max_shrink) * static_cast<double>(old_docs)) {
    return Status::Ok();
  }
  return Refuse(
      new_entry == nullptr
          ? fmt::format("shard {} would be removed: the catalog has none of its {} products "
                        "(--allow-shrink to override)",
                        shard, old_docs)
          : fmt::format("shard {} would have {} products, {} has {} (more than {:.0f}% fewer; "
                        "--max-shrink or --allow-shrink to override)",
                        shard, new_docs, snapshot::VersionName(baseline.version), old_docs,
                        max_shrink * 100),
      {{"shard", shard},
       {"docs", new_docs},
       {"current_docs", old_docs},
       {"max_shrink", max_shrink}});
}

Status CheckShardIdsUnique(const snapshot::SnapshotStore& store, const snapshot::Manifest& next,
                           const std::string& shard) {
  const snapshot::ShardEntry* rebuilt = next.FindShard(shard);
  if (rebuilt == nullptr) return Status::Ok();  // a removal adds no id
  PIDX_ASSIGN_OR_RETURN(auto own, snapshot::OpenSegment(store, *rebuilt));
  std::unordered_set<std::string_view> ids;
  ids.reserve(own.doc_count());
  for (uint32_t d = 0; d < own.doc_count(); ++d) ids.insert(own.doc(d).external_id);
  for (const auto& e : next.shards) {
    if (e.shard == shard) continue;
    PIDX_ASSIGN_OR_RETURN(auto other, snapshot::OpenSegment(store, e));
    for (uint32_t d = 0; d < other.doc_count(); ++d) {
      const std::string_view id = other.doc(d).external_id;
      if (ids.count(id) == 0) continue;
      return Refuse(fmt::format("product {} of shard {} is also in shard {} (it moved "
                                "category?): rebuild-shard {} first, or run a full build",
                                id, shard, e.shard, e.shard),
                    {{"shard", shard}, {"doc", std::string(id)}, {"other_shard", e.shard}});
    }
  }
  return Status::Ok();
}

}  // namespace pidx
