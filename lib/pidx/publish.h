// Steps shared by every command that publishes a version (build, rebuild-shard): finishing
// shard builders into checked segment files, and taking a lock loudly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pidx/shard/ingest.h"
#include "pidx/snapshot/lock.h"
#include "pidx/snapshot/snapshot_store.h"
#include "pidx/status.h"

namespace pidx {

struct FinishedShards {
  std::vector<snapshot::ShardEntry> entries;  // sorted by shard id
  uint64_t segments_written = 0;
};

// Finishes every builder (in parallel), writes each segment durably, reads it back and
// deep-checks it. Logs shard.build.completed per shard. Releases the builders' memory.
Result<FinishedShards> FinishShards(snapshot::SnapshotStore& store, shard::IngestResult& ingest,
                                    int threads);

// Acquires locks/<lock_name>.lock within timeout_ms. On timeout logs the error event
// `lock.timeout` (lock, shard when given, waited_ms, holder_pid) and returns kLockTimeout.
// `waited_ms` (optional) is increased by the time waited, so a caller can sum its locks.
Result<snapshot::FileLock> AcquireLockLoudly(const snapshot::SnapshotStore& store,
                                             const std::string& lock_name, int64_t timeout_ms,
                                             const std::string& shard,
                                             int64_t* waited_ms = nullptr);

}  // namespace pidx
