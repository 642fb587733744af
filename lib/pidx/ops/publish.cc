#include "pidx/ops/publish.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include "pidx/base/cancel.h"
#include "pidx/base/duration.h"
#include "pidx/obs/log.h"

namespace pidx {

namespace {}  // namespace

void LogSegmentReplaced(const snapshot::SnapshotStore& store, const snapshot::ShardEntry& e) {
  Log::Warn("segment.replaced",
            store.SegmentPath(e.segment) +
                " did not hold the bytes its name promises (damaged); rewritten",
            {{"shard", e.shard}, {"segment", e.segment}});
}

Result<FinishedShards> FinishShards(snapshot::SnapshotStore& store, shard::IngestResult& ingest,
                                    int threads, ProgressMeter* meter) {
  std::vector<std::pair<const std::string*, shard::ShardBuilder*>> work;
  for (auto& [id, sink] : ingest.sinks) {
    auto* builder = dynamic_cast<shard::ShardBuilder*>(sink.get());
    if (builder == nullptr)
      return Status::Internal("shard " + id + " was not built by a ShardBuilder");
    work.emplace_back(&id, builder);
  }

  if (meter != nullptr) {
    uint64_t docs = 0;
    for (const auto& [id, cats] : ingest.categories) {
      for (const auto& [c, n] : cats) docs += n;
    }
    meter->StartShards(work.size(), docs);
  }
  FinishedShards out;
  out.entries.resize(work.size());
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> written{0};
  std::mutex mu;
  Status first_error;
  auto run = [&] {
    for (;;) {
      size_t i = next++;
      if (i >= work.size()) return;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!first_error.ok()) return;
      }
      Status s;
      const int64_t t0 = MonotonicMs();
      if (Cancelled()) s = Status::Interrupted("interrupted while building shards");
      auto built = s.ok() ? work[i].second->Finish() : Result<shard::BuiltShard>(s);
      const int64_t t_encoded = MonotonicMs();
      int64_t t_written = t_encoded;
      if (built.ok()) {
        snapshot::ShardEntry& e = out.entries[i];
        e.shard = built->shard;
        e.segment = snapshot::SnapshotStore::SegmentName(e.shard, built->checksum);
        e.size = built->bytes.size();
        e.checksum = built->checksum;
        e.docs = built->docs;
        e.terms = built->terms;
        e.postings = built->postings;
        e.signature = built->signature;
        e.term_bloom = built->term_bloom;
        e.categories = ingest.categories[e.shard];
        auto how = store.WriteSegment(e.segment, built->bytes);
        built->bytes = std::string();
        t_written = MonotonicMs();
        s = how.status();
        if (s.ok() && *how == snapshot::SnapshotStore::SegmentWrite::kReplaced) {
          LogSegmentReplaced(store, e);
        }
        if (s.ok()) s = store.CheckSegment(e);
        if (s.ok() && *how != snapshot::SnapshotStore::SegmentWrite::kReused) ++written;
        if (s.ok()) {
          const int64_t t_checked = MonotonicMs();
          Log::Detail("shard.build.completed", "shard built",
                      {{"shard", e.shard},
                       {"docs", e.docs},
                       {"terms", e.terms},
                       {"bytes", e.size},
                       {"segment", e.segment},
                       {"duration_ms", t_checked - t0}});
          if (meter != nullptr) {
            meter->ShardDone(e.docs, t_encoded - t0, t_written - t_encoded, t_checked - t_written);
          }
        }
      } else {
        s = built.status();
      }
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) first_error = s.Annotate("shard " + *work[i].first);
      }
    }
  };
  int n = std::max(
      1,
      std::min<int>(threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()),
                    static_cast<int>(work.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(run);
  run();
  for (auto& t : pool) t.join();
  ingest.sinks.clear();
  if (!first_error.ok()) return first_error;
  out.segments_written = written;
  return out;
}

Result<snapshot::FileLock> AcquireLockLoudly(const snapshot::SnapshotStore& store,
                                             const std::string& lock_name, int64_t timeout_ms,
                                             const std::string& shard, int64_t* waited_ms) {
  snapshot::LockWait wait;
  const std::string path = store.LockPath(lock_name);
  auto lock = snapshot::FileLock::Acquire(path, timeout_ms, &wait);
  if (waited_ms) *waited_ms += wait.waited_ms;
  if (lock.ok()) {
    // Info when it had to wait (an operator sees what held the run up), debug otherwise.
    LogFields f = {{"lock", lock_name}, {"waited_ms", wait.waited_ms}};
    if (!shard.empty()) f["shard"] = shard;
    if (wait.waited_ms > 0) {
      Log::Info("lock.acquired", "acquired " + path, f);
    } else {
      Log::Debug("lock.acquired", "acquired " + path, f);
    }
  }
  if (!lock.ok() && lock.status().kind() == StatusKind::kLockTimeout) {
    LogFields f = {{"lock", lock_name}, {"lock_file", path}};
    if (!shard.empty()) f["shard"] = shard;
    f["waited_ms"] = wait.waited_ms;
    f["timeout_ms"] = timeout_ms;
    if (wait.holder_pid > 0) f["holder_pid"] = wait.holder_pid;
    Log::Error("lock.timeout", lock.status().message(), f);
  }
  return lock;
}

}  // namespace pidx

namespace pidx {
namespace {

bool SameContent(const snapshot::Manifest& a, const snapshot::Manifest& b) {
  if (a.schema != b.schema || a.analyzer != b.analyzer ||
      a.shards_per_category != b.shards_per_category || a.shards.size() != b.shards.size()) {
    return false;
  }
  for (size_t i = 0; i < a.shards.size(); ++i) {
    if (a.shards[i].shard != b.shards[i].shard || a.shards[i].segment != b.shards[i].segment) {
      return false;
    }
  }
  return true;
}

// Step 2 when CURRENT is missing: the newest version whose manifest loads, or nullopt.
Result<std::optional<snapshot::Manifest>> NewestLoadable(const snapshot::SnapshotStore& store,
                                                         bool* versions_exist) {
  PIDX_ASSIGN_OR_RETURN(auto versions, store.ListVersions());
  *versions_exist = !versions.empty();
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    auto m = store.LoadManifest(*it);
    if (m.ok()) return std::optional<snapshot::Manifest>(std::move(m).value());
  }
  return std::optional<snapshot::Manifest>();
}

// kRollback's guard: what was verified without the lock is still all there.
Status CheckStillThere(const snapshot::SnapshotStore& store, const snapshot::Manifest& m) {
  const std::string vname = snapshot::VersionName(m.version);
  for (const auto& e : m.shards) {
    auto size = store.env()->FileSize(store.SegmentPath(e.segment));
    if (!size.ok() || *size != e.size) {
      return Status::Corrupt(vname + ": segment " + e.segment +
                             " changed or disappeared after it was verified; CURRENT unchanged");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<snapshot::FileLock> AcquirePublishLock(const snapshot::SnapshotStore& store,
                                              int64_t timeout_ms, const std::string& shard,
                                              int64_t* waited_ms) {
  return AcquireLockLoudly(store, snapshot::SnapshotStore::kPublishLock, timeout_ms, shard,
                           waited_ms);
}

Result<PublishOutcome> RunPublishTransaction(snapshot::SnapshotStore& store,
                                             const PublishRequest& request) {
  const bool rollback = request.kind == PublishKind::kRollback;
  if (!rollback) PIDX_RETURN_IF_ERROR(CheckCatalogNotEmpty(request.catalog_products));
  PublishOutcome out;
  // Step 1.
  PIDX_ASSIGN_OR_RETURN(auto lock, AcquirePublishLock(store, request.lock_timeout_ms, request.shard,
                                                      &out.lock_wait_ms));
  if (Cancelled()) return Status::Interrupted("interrupted before publishing");

  // Step 2. A damaged CURRENT stops a new version (its baseline is unknown) but not a
  // rollback: rolling back is how an operator repairs it.
  auto current = store.ReadCurrent();
  if (!current.ok() && !(rollback && current.status().kind() == StatusKind::kCorrupt)) {
    return current.status();
  }
  out.previous = current.ok() ? *current : 0;
  std::optional<snapshot::Manifest> baseline;
  if (out.previous > 0) {
    auto m = store.LoadManifest(out.previous);
    if (m.ok()) {
      baseline = std::move(m).value();
    } else if (!rollback) {
      return m.status();
    }
  } else if (current.ok() && !rollback) {
    bool versions_exist = false;
    PIDX_ASSIGN_OR_RETURN(baseline, NewestLoadable(store, &versions_exist));
    if (baseline) {
      Log::Warn("index.publish.no_current",
                "CURRENT is missing; the guard compares with the newest readable version " +
                    snapshot::VersionName(baseline->version),
                {{"baseline", snapshot::VersionName(baseline->version)}});
    } else if (versions_exist && !request.guard.allow_shrink) {
      const std::string reason =
          "CURRENT is missing and no published version can be read to compare with "
          "(--allow-shrink to publish anyway)";
      Log::Error("index.publish.refused", "publish refused: " + reason, {{"reason", reason}});
      return Status::BadData("publish refused: " + reason);
    }
  }
  out.baseline = baseline ? baseline->version : 0;
  const PublishBase base{out.previous, baseline ? &*baseline : nullptr};

  if (rollback) {
    // Steps 3-6 for a rollback: the version itself is the manifest.
    PIDX_ASSIGN_OR_RETURN(out.manifest, store.LoadManifest(request.rollback_to));
    PIDX_RETURN_IF_ERROR(CheckStillThere(store, out.manifest));
    out.version = request.rollback_to;
    if (current.ok() && *current == request.rollback_to) {
      out.unchanged = true;
      return out;
    }
    if (Cancelled()) return Status::Interrupted("interrupted before changing CURRENT");
    PIDX_RETURN_IF_ERROR(store.SetCurrent(request.rollback_to));
    return out;
  }

  // Step 3.
  PIDX_ASSIGN_OR_RETURN(out.manifest, request.make(base));
  if (request.skip_unchanged && out.previous > 0 && baseline &&
      SameContent(*baseline, out.manifest)) {
    out.unchanged = true;
    out.version = out.previous;
    out.manifest.parent = baseline->parent;
    return out;
  }
  // Step 4.
  PIDX_RETURN_IF_ERROR(CheckPublishGuard(request.guard, base.baseline, out.manifest));
  if (request.kind == PublishKind::kShard) {
    if (base.baseline) {
      PIDX_RETURN_IF_ERROR(
          CheckShardShrink(request.guard, *base.baseline, out.manifest, request.shard));
    }
    PIDX_RETURN_IF_ERROR(CheckShardIdsUnique(store, out.manifest, request.shard));
  }
  // Steps 5 and 6.
  out.manifest.parent = out.baseline;
  if (Cancelled()) return Status::Interrupted("interrupted before publishing");
  PIDX_ASSIGN_OR_RETURN(out.version, store.Publish(&out.manifest));
  lock.Release();
  return out;
}

}  // namespace pidx
