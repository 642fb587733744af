// The publishing guard (docs/CONTRACT.md section 4): the seed's recall collapse, caught
// before it serves. Applied by the one publish transaction (ops/publish.h) to every command that
// publishes a new version (`build`, `rebuild-shard`, `publish` of a staged build), so they
// refuse exactly the same things.
#pragma once

#include <cstdint>
#include <string>

#include "pidx/base/status.h"
#include "pidx/snapshot/manifest.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx {

struct PublishGuard {
  double max_shrink = 0.2;    // refuse more than this fraction fewer products than current
  bool allow_shrink = false;  // skip the shrink and lost-category checks
};

// Every refusal is kBadData after an error event `index.publish.refused` (`reason` and its
// numbers); nothing is published.

// The catalog read has no products: refused whatever the flags (an empty export or a truncated
// download is never a version, and never the removal of a shard).
Status CheckCatalogNotEmpty(uint64_t catalog_products);

// The whole new version against `baseline` (null for a new index): no products at all, or,
// unless allow_shrink, fewer than (1 - max_shrink) times the baseline's products, or a whole
// category of the baseline missing.
// REQUIRES: the publish lock is held (the comparison is with what is current now).
Status CheckPublishGuard(const PublishGuard& guard, const snapshot::Manifest* baseline,
                         const snapshot::Manifest& next);

// A partial rebuild of `shard`: unless allow_shrink, the shard itself may not shrink by more
// than max_shrink (its removal is a 100% shrink), whatever share of the index it is.
Status CheckShardShrink(const PublishGuard& guard, const snapshot::Manifest& baseline,
                        const snapshot::Manifest& next, const std::string& shard);

// A partial rebuild of `shard`: no external id of the rebuilt shard may be in another shard of
// `next` (a product that moved category is still in its old shard until that shard is rebuilt).
// Refused whatever the flags, naming the id and the other shard: publishing it would make a
// version that verify fails (duplicate_external_id). kCorrupt when a segment cannot be read.
// Reads the doc tables of every segment of `next` (no postings); holds one shard's ids.
Status CheckShardIdsUnique(const snapshot::SnapshotStore& store, const snapshot::Manifest& next,
                           const std::string& shard);

}  // namespace pidx
