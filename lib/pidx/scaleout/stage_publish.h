// `pidx publish --index DIR --stage DIR --plan P`: the last step of a scale-out build
// (docs/SCALE-OUT.md). Checks that every shard of the plan was staged by its worker and is
// sound, then publishes all of them as ONE new version of the index, atomically.
//
// Contract:
// 1. Every planned shard must be in its worker's fragment (worker.h), built from the plan's
//    catalog and settings, with the planned number of products, and its staged segment must
//    pass the same deep check as a freshly built one (size, checksum, structure). Otherwise
//    nothing is published: an error event `index.publish.refused` lists every missing shard
//    (`missing_shards`) and every damaged one (`damaged_shards`, with `problems` giving the
//    reason of each); the result is kCorrupt (exit 1) when any shard is damaged, else
//    kNotFound (exit 66).
// 2. The staged segments are copied into INDEX/segments (a file of the same name is reused
//    only when it holds the same bytes, else rewritten), durably, and read back and checked.
// 3. Through the one publish transaction (ops/publish.h), as `build`: under locks/publish.lock
//    the current version is read again. If it already has exactly these segments and
//    settings, nothing is published (`unchanged`): publishing one stage twice makes one
//    version. Otherwise the publishing guard of `build` applies and the version is published. The
//    result equals a single-machine `build` of the same catalog: the same segments, byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pidx/base/env.h"
#include "pidx/base/status.h"
#include "pidx/snapshot/totals.h"

namespace pidx {

struct PublishStageOptions {
  std::string plan_path;
  std::string stage_dir;
  std::string index_dir;
  int64_t lock_timeout_ms = 5000;
  double max_shrink = 0.2;
  bool allow_shrink = false;
};

struct PublishStageResult {
  uint64_t version = 0;  // the published version, or the current one when unchanged
  uint64_t parent = 0;
  bool unchanged = false;        // CURRENT already had this content; nothing was published
  snapshot::Totals totals;       // of the published (or unchanged current) version
  uint64_t segments_copied = 0;  // new files in INDEX/segments
  uint32_t workers = 0;
  int64_t lock_wait_ms = 0;
  int64_t duration_ms = 0;
};

Result<PublishStageResult> PublishStage(const PublishStageOptions& options, Env* env);

}  // namespace pidx
