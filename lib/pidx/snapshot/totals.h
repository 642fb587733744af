// The sums of a set of shards: what a manifest stores as `totals` (docs/FORMAT.md,
// "Manifest") and what the commands that publish a version report. One struct, filled in one
// place (SumTotals in manifest.h), so the figures a command prints and the ones a manifest
// stores cannot drift apart.
#pragma once

#include <cstdint>

namespace pidx::snapshot {

struct Totals {
  uint64_t shards = 0;
  uint64_t docs = 0;
  uint64_t terms = 0;
  uint64_t postings = 0;
  uint64_t bytes = 0;  // segment file sizes
};

}  // namespace pidx::snapshot
