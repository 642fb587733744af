// `pidx rebuild-shard`: rebuilds one shard from the catalog under its lock and publishes a
// new version that reuses every other shard's segment unchanged (docs/CONTRACT.md sections 4
// and 6; the seed's incident is exactly this command failing silently), through the one
// publish transaction (ops/publish.h).
//
// Locking contract:
// - locks/shard-<SHARD>.lock is held for the whole rebuild; locks/publish.lock only while
//   publishing. Both are polled until lock_timeout_ms; on timeout: kLockTimeout after an error
//   event `lock.timeout` (lock, shard, waited_ms, holder_pid). Nothing is published.
// - Under the publish lock the newest manifest is read again and the shard is applied to it,
//   so two rebuilds of different shards that publish back to back both end up in the newest
//   version (no lost update).
// Guard (kBadData after `index.publish.refused`): an empty catalog always; unless allow_shrink,
// a version or shard shrink past max_shrink (a removal is a 100% shrink) and a lost category;
// always, a product of the shard that another shard of the new version holds.
// Settings (schema, analyzer, shards per category) come from the current manifest, so the
// segment is byte-identical to what a full build of the same catalog makes for that shard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pidx/base/env.h"
#include "pidx/base/status.h"
#include "pidx/catalog/catalog_reader.h"
#include "pidx/ops/progress.h"

namespace pidx {

struct RebuildOptions {
  std::string shard;
  std::vector<std::string> catalogs;
  std::string index_dir;
  catalog::Format format = catalog::Format::kAuto;
  uint64_t max_bad_lines = 0;
  size_t max_line_bytes = 1024 * 1024;
  int64_t lock_timeout_ms = 5000;
  int threads = 0;
  uint64_t memory_budget = 0;  // as BuildOptions::memory_budget
  double max_shrink = 0.2;     // the publishing guard, for the version and for the shard
  bool allow_shrink = false;
  ProgressOptions progress;  // phases read, shards, publish (progress.h)
  bool force = false;        // publish even when unchanged (as BuildOptions::force)
};

struct RebuildResult {
  std::string shard;
  std::string action;  // "rebuilt", "added" (new in the index) or "removed" (gone from the catalog)
  uint64_t version = 0;  // published, or CURRENT's when unchanged
  uint64_t parent = 0;
  bool unchanged = false;  // the version would equal CURRENT: nothing was published
  uint32_t docs = 0;
  uint32_t terms = 0;
  uint64_t bytes = 0;
  std::string segment;
  bool segment_unchanged = false;  // the same file as in the parent version
  uint64_t bad_records = 0;
  int64_t lock_wait_ms = 0;  // waiting for the shard lock and the publish lock
  int64_t duration_ms = 0;
  PhaseTimes phases;  // where the time went
};

// Errors: kNotFound for a missing index or a shard neither the index nor the catalog has
// (the message names the closest existing shards), kLockTimeout, kBadData for bad catalog
// data, kConfig when the stored settings cannot be read back.
Result<RebuildResult> RebuildShard(const RebuildOptions& options, Env* env);

// Up to `n` names from `candidates` closest to `name` (edit distance), closest first.
std::vector<std::string> ClosestNames(const std::string& name,
                                      const std::vector<std::string>& candidates, size_t n);

}  // namespace pidx
