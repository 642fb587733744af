// `pidx gc`: keeps the disk bounded by removing old versions, the segments no remaining
// version references, and temporaries of dead writers.
//
// Contract (all under locks/publish.lock, so no publish or rollback runs meanwhile):
// - Kept: the `keep` newest versions (by number, so the highest number always stays and is
//   never reused), the current one, and every --protect version. Everything else in versions/
//   is removed, manifests first: a kill after that leaves only unreferenced segments, which
//   the next gc removes.
// - A segment is removed only when no kept manifest names it AND its mtime is older than
//   `grace_ms` (default 1 h). Why the grace: a build writes and checks its segments before it
//   takes the publish lock, so while it runs its new segments are referenced by no manifest
//   yet. The grace must exceed the longest build. (A build that finds an identical,
//   unreferenced segment on disk reuses it without rewriting it; a gc racing with exactly
//   that build could remove it. Keep at least the versions a running build may resemble.)
// - gc removes only names of pidx's exact forms: version files "v<NNNNNN>.manifest" as
//   VersionName writes them, segments "<shard>-<16 hex>.seg", and temporaries
//   ".tmp-<pid>-<16 hex>-<name>" (IsTempName). Anything else in the index (and in a
//   segments/ that is a symlink to another directory) is never touched.
// - A temporary is removed only when it is a regular file whose flock can be taken: its
//   writer holds that flock for as long as it lives (Env::NewTempFile), so liveness does not
//   depend on pids, which another PID namespace (a second pod on a shared volume) reuses.
// - Every kept manifest must load; otherwise gc removes nothing (it cannot know what the
//   damaged version references) and returns kCorrupt. A damaged CURRENT also stops it.
// - dry_run: the same decisions, nothing removed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pidx/base/env.h"
#include "pidx/base/status.h"

namespace pidx {

struct GcOptions {
  std::string index_dir;
  uint32_t keep = 0;  // >= 1
  std::vector<uint64_t> protect;
  bool dry_run = false;
  int64_t grace_ms = 3600 * 1000;
  int64_t lock_timeout_ms = 5000;
};

struct GcRemoval {
  std::string kind;  // "version" | "segment" | "temporary"
  std::string path;  // relative to the index directory, e.g. "segments/books_001-....seg"
  uint64_t bytes = 0;
};

struct GcResult {
  uint64_t current = 0;
  std::vector<uint64_t> kept;               // ascending
  std::vector<GcRemoval> removed;           // (with dry_run: what would be removed)
  std::vector<std::string> young_segments;  // unreferenced, within the grace period: kept
  uint64_t bytes_freed = 0;
  bool dry_run = false;
  int64_t lock_wait_ms = 0;  // waiting for the publish lock
  int64_t duration_ms = 0;
};

// kUsage when keep is 0; kNotFound when a --protect version does not exist; kCorrupt as
// above; kLockTimeout (logged as lock.timeout); kIoError when a removal fails (what was removed
// before it is gone; rerunning gc continues).
Result<GcResult> Gc(const GcOptions& options, Env* env);

}  // namespace pidx
