#include "pidx/ops/publish.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "pidx/base/cancel.h"
#include "pidx/base/duration.h"
#include "pidx/base/worker_pool.h"
#include "pidx/obs/log.h"
#include "pidx/obs/trace.h"

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
  std::atomic<uint64_t> written{0};
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first_error;
  auto fail = [&](const Status& s, const std::string& shard) {
    std::lock_guard<std::mutex> lock(mu);
    if (first_error.ok()) first_error = s.Annotate("shard " + shard);
  };
  // Each thread writes its segments in batches: temporaries written and fsynced one by one,
  // then one directory fsync, the renames, one more directory fsync (CommitSegments), then
  // each is read back and checked. Per segment the protocol is WriteFileDurably's; a
  // directory fsync per segment was most of the system time of a 50k-category build.
  // Spans (obs/trace.h): one shard.build per shard, open from Finish to its read-back, with
  // segment.write and segment.readback under it. A thread's current span is a stack, so a
  // batch's shard spans end in the reverse of the order they began.
  const std::string parent_span = Trace::CurrentSpanId();
  struct Staged {
    snapshot::SnapshotStore::PendingSegment pending;
    size_t index;
    int64_t t0;
    int64_t encode_ms;  // Finish: the segment's bytes
    int64_t write_ms;   // its temporary written and fsynced
    std::unique_ptr<Span> span;
  };
  auto end_spans = [](std::vector<Staged>* batch, const Status& outcome) {
    for (auto it = batch->rbegin(); it != batch->rend(); ++it) {
      if (it->span) it->span->End(outcome);
    }
  };
  // Its own threads, not RunJobs: each thread keeps a batch of its segments between jobs.
  const int nthreads =
      std::max(1, std::min<int>(ResolveThreads(threads), static_cast<int>(work.size())));
  // A pending segment holds two descriptors (its temporary and the flock on it): a batch gets
  // at most a quarter of the descriptor limit per thread (a container may allow 64).
  size_t batch_size = 128;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    const size_t budget =
        static_cast<size_t>(rl.rlim_cur) / 4 / (2 * static_cast<size_t>(nthreads));
    batch_size = std::clamp<size_t>(budget, 1, 128);
  }
  auto commit = [&](std::vector<Staged>* batch) -> bool {
    std::vector<snapshot::SnapshotStore::PendingSegment> pending;
    for (auto& b : *batch) pending.push_back(std::move(b.pending));
    const int64_t t_commit = MonotonicMs();
    Status s = store.CommitSegments(&pending);
    // The batch's directory fsyncs and renames, shared out among its segments.
    const int64_t commit_share =
        (MonotonicMs() - t_commit) / static_cast<int64_t>(std::max<size_t>(1, batch->size()));
    if (!s.ok()) {
      fail(s, out.entries[batch->front().index].shard);
      end_spans(batch, s);
      batch->clear();
      return false;
    }
    for (size_t j = 0; j < batch->size(); ++j) {
      const snapshot::ShardEntry& e = out.entries[(*batch)[j].index];
      const auto how = pending[j].how;
      if (how == snapshot::SnapshotStore::SegmentWrite::kReplaced) LogSegmentReplaced(store, e);
      const int64_t t_check = MonotonicMs();
      {
        Span readback("segment.readback", (*batch)[j].span->id(), {{"index.segment", e.segment}});
        s = store.CheckSegment(e);
        readback.End(s);
      }
      const int64_t t_checked = MonotonicMs();
      if (!s.ok()) {
        fail(s, e.shard);
        end_spans(batch, s);
        batch->clear();
        return false;
      }
      if (how != snapshot::SnapshotStore::SegmentWrite::kReused) ++written;
      const ScopedCurrentSpan in_shard((*batch)[j].span->id());
      Log::Detail("shard.build.completed", "shard built",
                  {{"shard", e.shard},
                   {"docs", e.docs},
                   {"terms", e.terms},
                   {"bytes", e.size},
                   {"segment", e.segment},
                   {"duration_ms", t_checked - (*batch)[j].t0}});
      if (meter != nullptr) {
        meter->ShardDone(e.docs, (*batch)[j].encode_ms, (*batch)[j].write_ms + commit_share,
                         t_checked - t_check);
      }
    }
    end_spans(batch, Status::Ok());
    batch->clear();
    return true;
  };
  auto run = [&] {
    std::vector<Staged> batch;
    for (;;) {
      size_t i = next++;
      bool failed = false;
      {
        std::lock_guard<std::mutex> lock(mu);
        failed = !first_error.ok();
      }
      if (failed) {
        // Nothing is published: the temporaries of this batch go (no rename).
        for (auto& b : batch) {
          if (b.pending.temp) (void)store.env()->RemoveFile(b.pending.temp->path());
        }
        end_spans(&batch, Status::Interrupted("another shard failed"));
        return;
      }
      if (i >= work.size()) {
        if (!batch.empty()) (void)commit(&batch);
        return;
      }
      Status s;
      const int64_t t0 = MonotonicMs();
      auto span = std::make_unique<Span>("shard.build", parent_span,
                                         SpanAttributes{{"index.shard", *work[i].first}});
      if (Cancelled()) s = Status::Interrupted("interrupted while building shards");
      auto built = s.ok() ? work[i].second->Finish() : Result<shard::BuiltShard>(s);
      const int64_t t_encoded = MonotonicMs();
      if (!built.ok()) {
        span->End(built.status());
        fail(built.status(), *work[i].first);
        continue;
      }
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
      std::vector<std::string> categories;
      for (const auto& [c, n] : e.categories) categories.push_back(c);
      span->Set("index.category", categories.size() == 1 ? nlohmann::ordered_json(categories[0])
                                                         : nlohmann::ordered_json(categories));
      span->Set("index.docs", e.docs);
      span->Set("index.terms", e.terms);
      span->Set("index.bytes", e.size);
      span->Set("index.segment", e.segment);
      Span write_span("segment.write", span->id(), {{"index.segment", e.segment}});
      auto pending = store.StageSegment(e.segment, built->bytes);
      built->bytes = std::string();
      write_span.End(pending.status());
      const int64_t t_written = MonotonicMs();
      if (!pending.ok()) {
        span->End(pending.status());
        fail(pending.status(), e.shard);
        continue;
      }
      batch.push_back({std::move(pending).value(), i, t0, t_encoded - t0, t_written - t_encoded,
                       std::move(span)});
      if (batch.size() >= batch_size && !commit(&batch)) continue;
    }
  };
  const int n = nthreads;
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
  Span span("lock.wait", {{"lock.name", lock_name}, {"lock.timeout_ms", timeout_ms}});
  auto lock = snapshot::FileLock::Acquire(path, timeout_ms, &wait);
  if (waited_ms) *waited_ms += wait.waited_ms;
  span.Set("lock.waited_ms", wait.waited_ms);
  if (wait.holder_pid > 0) span.Set("lock.holder_pid", static_cast<int64_t>(wait.holder_pid));
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
  span.End(lock.status());  // after the events: they belong to the wait
  return lock;
}

}  // namespace pidx

namespace pidx {
namespace {

bool SameContent(const snapshot::Manifest& a, const snapshot::Manifest& b) {
  if (a.schema != b.schema || a.analyzer != b.analyzer ||
      a.shards_per_category != b.shards_per_category || a.category_shards != b.category_shards ||
      a.shards.size() != b.shards.size()) {
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

namespace {

// Steps 1-6 of RunPublishTransaction; `span` is the transaction's.
Result<PublishOutcome> PublishSteps(snapshot::SnapshotStore& store, const PublishRequest& request,
                                    Span& span) {
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
  // Step 4. Shards of the baseline the new version lacks make it partial (when the guard lets
  // it through) and are named on the spans either way (the seed's skipped_shards).
  std::vector<std::string> missing;
  if (base.baseline) {
    for (const auto& e : base.baseline->shards) {
      if (out.manifest.FindShard(e.shard) == nullptr) missing.push_back(e.shard);
    }
  }
  if (!missing.empty()) Trace::SetCurrentAndRootAttribute("index.publish.missing_shards", missing);
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
  span.Set("index.shards", out.manifest.shards.size());
  span.Set("index.docs", snapshot::SumTotals(out.manifest.shards).docs);
  Trace::SetCurrentAndRootAttribute("index.status", missing.empty() ? "complete" : "partial");
  return out;
}

const char* KindName(PublishKind kind) {
  switch (kind) {
    case PublishKind::kCatalog:
      return "catalog";
    case PublishKind::kShard:
      return "shard";
    case PublishKind::kRollback:
      return "rollback";
  }
  return "unknown";
}

}  // namespace

Result<PublishOutcome> RunPublishTransaction(snapshot::SnapshotStore& store,
                                             const PublishRequest& request) {
  Span span("index.publish", {{"publish.kind", KindName(request.kind)}});
  auto out = PublishSteps(store, request, span);
  if (out.ok()) {
    span.Set("index.version", snapshot::VersionName(out->version));
    span.Set("index.unchanged", out->unchanged);
  }
  span.End(out.status());
  return out;
}

}  // namespace pidx
