// The publishing guard (docs/CONTRACT.md section 4): the seed's recall collapse, caught
// before it serves. Shared by every command that publishes a whole catalog as a new version
// (`build`, `publish` of a staged build), so they refuse exactly the same things.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "pidx/snapshot/manifest.h"
#include "pidx/status.h"

namespace pidx {

struct PublishGuard {
  double max_shrink = 0.2;    // refuse more than this fraction fewer products than current
  bool allow_shrink = false;  // skip the shrink and lost-category checks
};

// kBadData after an error event `index.publish.refused` (reason and its numbers) when the new
// version has no products, or, unless allow_shrink, fewer than (1 - max_shrink) times the
// current version's products, or loses a whole category of `current`.
// `current` is null when the index has no version yet.
// REQUIRES: the publish lock is held (the comparison is with what is current now).
Status CheckPublishGuard(const PublishGuard& guard, const snapshot::Manifest* current,
                         uint64_t new_docs, const std::map<std::string, uint64_t>& new_categories);

}  // namespace pidx
