// Steps shared by every command that publishes a version: finishing shard builders into
// checked segment files, taking a lock loudly, and the one publish transaction.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pidx/base/status.h"
#include "pidx/ops/guard.h"
#include "pidx/ops/progress.h"
#include "pidx/shard/ingest.h"
#include "pidx/snapshot/lock.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx {

struct FinishedShards {
  std::vector<snapshot::ShardEntry> entries;  // sorted by shard id
  uint64_t segments_written = 0;
};

// Finishes every builder (in parallel), writes each segment durably, reads it back and
// deep-checks it. Logs shard.build.completed per shard (a detail event: Log::Detail) and,
// with a `meter`, starts its shard phase and reports every shard done with the time it took
// to encode, write and check. Releases the builders' memory.
Result<FinishedShards> FinishShards(snapshot::SnapshotStore& store, shard::IngestResult& ingest,
                                    int threads, ProgressMeter* meter = nullptr);

// The warn event `segment.replaced`: a segment file that did not hold its bytes was rewritten.
void LogSegmentReplaced(const snapshot::SnapshotStore& store, const snapshot::ShardEntry& e);

// Acquires locks/<lock_name>.lock within timeout_ms. On timeout logs the error event
// `lock.timeout` (lock, shard when given, waited_ms, holder_pid) and returns kLockTimeout;
// kInterrupted when a signal arrives while waiting (nothing was changed).
// `waited_ms` (optional) is increased by the time waited, so a caller can sum its locks.
Result<snapshot::FileLock> AcquireLockLoudly(const snapshot::SnapshotStore& store,
                                             const std::string& lock_name, int64_t timeout_ms,
                                             const std::string& shard,
                                             int64_t* waited_ms = nullptr);

// locks/publish.lock: serializes everything that changes CURRENT or versions/ (the publish
// transaction below, gc).
Result<snapshot::FileLock> AcquirePublishLock(const snapshot::SnapshotStore& store,
                                              int64_t timeout_ms, const std::string& shard,
                                              int64_t* waited_ms = nullptr);

// ---- The publish transaction -------------------------------------------------------------
// The one path by which build, rebuild-shard, publish --stage and rollback change what is
// served. In order, each step a reason for the next:
// 1. Take locks/publish.lock (timeout: kLockTimeout after `lock.timeout`; a signal while
//    waiting: kInterrupted). Nothing else publishes or collects garbage meanwhile.
// 2. Re-read CURRENT and its manifest: the guard compares with what is current now, not when
//    the command started. When CURRENT is missing while versions exist (a restore that lost
//    it, a hand edit), the baseline is the newest version whose manifest loads (event
//    `index.publish.no_current`, warn); when none loads, a new version is refused unless
//    --allow-shrink.
// 3. `make` returns the manifest to publish, built on that baseline (rebuild-shard applies its
//    shard to it, so no concurrent update is lost).
// 4. The guard of the kind (guard.h):
//    - kCatalog (build, publish --stage): empty catalog, shrink, lost categories;
//    - kShard (rebuild-shard): the same for the whole version, plus the shard's own shrink
//      (a removal is a 100% shrink) and its ids in no other shard;
//    - kRollback: the version's manifest loads and every segment it names is still there with
//      its recorded size (it was verified before the lock; gc may have run since). No shrink
//      check: rolling back is the repair path.
// 5. A signal since the start: kInterrupted, nothing published.
// 6. SnapshotStore::Publish (a new version, CURRENT replaced) or, for kRollback,
//    SnapshotStore::SetCurrent. A refusal at any step changes nothing.
enum class PublishKind { kCatalog, kShard, kRollback };

// What the transaction found current under the lock.
struct PublishBase {
  uint64_t current = 0;                          // CURRENT's version; 0 when missing
  const snapshot::Manifest* baseline = nullptr;  // null for an index without a version
};

struct PublishRequest {
  PublishKind kind = PublishKind::kCatalog;
  PublishGuard guard;
  uint64_t catalog_products = 0;  // kCatalog, kShard: products read; 0 is refused
  std::string shard;              // kShard: the shard rebuilt (lock events, shard guard)
  int64_t lock_timeout_ms = 5000;
  // kCatalog, kShard: when the manifest `make` returns is unchanged, publish nothing (the
  // outcome says `unchanged`, its version is CURRENT's). Unchanged means: CURRENT names a
  // version whose manifest loads, and the new one has the same schema, analyzer and shards per
  // category, and the same shards with the same segment files (a segment's name carries the
  // checksum of its bytes). Catalog identity, bad lines skipped and the operation are
  // provenance, not content: they do not count (docs/CONTRACT.md section 4). Checked before the
  // guard: an unchanged version passes any guard the current one passed. build and
  // rebuild-shard set it unless --force; publish --stage always.
  bool skip_unchanged = false;
  uint64_t rollback_to = 0;  // kRollback: the version to make current
  // kCatalog, kShard: called under the lock; the version to publish (version and parent are
  // set by the transaction).
  std::function<Result<snapshot::Manifest>(const PublishBase&)> make;
};

struct PublishOutcome {
  snapshot::Manifest manifest;  // as published (kRollback: the version made current)
  uint64_t version = 0;         // published or made current; CURRENT's when unchanged
  uint64_t previous = 0;        // what CURRENT named before (0: missing or damaged)
  uint64_t baseline = 0;        // the version the guard compared with (0: none)
  bool unchanged = false;       // nothing was published: CURRENT already had it
  int64_t lock_wait_ms = 0;
};

Result<PublishOutcome> RunPublishTransaction(snapshot::SnapshotStore& store,
                                             const PublishRequest& request);

}  // namespace pidx
