// `pidx build --plan P --worker I --stage DIR`: one worker of a scale-out build
// (docs/SCALE-OUT.md). Builds only the shards the plan assigns to worker I, with the plan's
// settings, into a staging directory that `pidx publish` later checks and publishes:
//
//   STAGE/segments/<shard>-<16 hex of checksum>.seg   as in an index (content-addressed)
//   STAGE/workers/worker-NNNNN.manifest             this worker's fragment
//   STAGE/versions/, STAGE/locks/                   present, unused
//
// The fragment is a manifest (docs/FORMAT.md) with operation "stage", version 0 and only this
// worker's shards. Every file is written to a temporary name, fsynced and renamed (segments
// first, the fragment last), so a task killed at any point leaves either its old fragment or
// none, never a torn one, and a re-run (a requeue) rewrites the same bytes: harmless.
//
// The catalog must still be the one planned: a missing file is kNotFound; a size or XXH3 that
// differs from the plan is kBadData, before anything is written to the stage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pidx/base/env.h"
#include "pidx/base/status.h"
#include "pidx/ops/progress.h"

namespace pidx {

struct StageOptions {
  std::string plan_path;
  std::string stage_dir;
  int64_t worker = -1;  // < 0: from SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, ...
  int threads = 0;
  ProgressOptions progress;  // phases read, shards, publish (writing the fragment)
};

struct StageResult {
  uint32_t worker = 0;
  uint32_t workers = 0;
  std::string worker_source;  // "--worker" or the environment variable
  std::vector<std::string> shards;
  uint64_t docs = 0;
  uint64_t bytes = 0;
  uint64_t segments_written = 0;  // new files (a re-run finds them there already)
  std::string fragment;           // path of the fragment written
  int64_t duration_ms = 0;
  PhaseTimes phases;  // where the time went
};

Result<StageResult> BuildStage(const StageOptions& options, Env* env);

// STAGE/workers/worker-00003.manifest
std::string StageFragmentPath(const std::string& stage_dir, uint32_t worker);

}  // namespace pidx
