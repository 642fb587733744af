#include "pidx/publish.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "pidx/base/cancel.h"
#include "pidx/base/duration.h"
#include "pidx/log.h"

namespace pidx {

Result<FinishedShards> FinishShards(snapshot::SnapshotStore& store, shard::IngestResult& ingest,
                                    int threads) {
  std::vector<std::pair<const std::string*, shard::ShardBuilder*>> work;
  for (auto& [id, sink] : ingest.sinks) {
    auto* builder = dynamic_cast<shard::ShardBuilder*>(sink.get());
    if (builder == nullptr)
      return Status::Internal("shard " + id + " was not built by a ShardBuilder");
    work.emplace_back(&id, builder);
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
        bool existed = store.env()->FileExists(store.SegmentPath(e.segment));
        s = store.WriteSegment(e.segment, built->bytes);
        built->bytes = std::string();
        if (s.ok()) s = store.CheckSegment(e);
        if (s.ok() && !existed) ++written;
        if (s.ok()) {
          Log::Info("shard.build.completed", "shard built",
                    {{"shard", e.shard},
                     {"docs", e.docs},
                     {"terms", e.terms},
                     {"bytes", e.size},
                     {"segment", e.segment},
                     {"duration_ms", MonotonicMs() - t0}});
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
