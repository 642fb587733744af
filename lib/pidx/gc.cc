#include "pidx/gc.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "pidx/base/cancel.h"
#include "pidx/base/duration.h"
#include "pidx/publish.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx {
namespace {

bool IsTempName(const std::string& name) { return name.rfind(".tmp-", 0) == 0; }

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<GcResult> Gc(const GcOptions& options, Env* env) {
  const int64_t start = MonotonicMs();
  if (options.keep == 0) return Status::Usage("--keep must be at least 1");
  PIDX_ASSIGN_OR_RETURN(auto store, snapshot::SnapshotStore::Open(env, options.index_dir, false));
  int64_t lock_wait_ms = 0;
  PIDX_ASSIGN_OR_RETURN(auto lock,
                        AcquirePublishLock(store, options.lock_timeout_ms, "", &lock_wait_ms));
  if (Cancelled()) return Status::Interrupted("interrupted before removing anything");

  GcResult result;
  result.dry_run = options.dry_run;
  result.lock_wait_ms = lock_wait_ms;
  auto current = store.ReadCurrent();
  if (!current.ok()) {
    return current.status().Annotate(
        "gc removes nothing while CURRENT is damaged (pidx rollback "
        "repairs it)");
  }
  result.current = *current;
  PIDX_ASSIGN_OR_RETURN(auto versions, store.ListVersions());

  std::set<uint64_t> keep;
  const size_t newest = std::min<size_t>(options.keep, versions.size());
  keep.insert(versions.end() - static_cast<std::ptrdiff_t>(newest), versions.end());
  if (result.current > 0) keep.insert(result.current);
  for (uint64_t v : options.protect) {
    if (!std::binary_search(versions.begin(), versions.end(), v)) {
      return Status::NotFound("--protect " + snapshot::VersionName(v) + ": no such version");
    }
    keep.insert(v);
  }
  std::set<std::string> referenced;
  for (uint64_t v : keep) {
    auto m = store.LoadManifest(v);
    if (!m.ok()) {
      return m.status().Annotate("gc removes nothing: cannot tell what " +
                                 snapshot::VersionName(v) + " references");
    }
    for (const auto& e : m->shards) referenced.insert(e.segment);
  }
  result.kept.assign(keep.begin(), keep.end());

  auto remove = [&](const std::string& kind, const std::string& sub,
                    const std::string& name) -> Status {
    const std::string path = JoinPath(JoinPath(options.index_dir, sub), name);
    auto size = env->FileSize(path);
    GcRemoval r{kind, sub + "/" + name, size.ok() ? *size : 0};
    if (!options.dry_run) PIDX_RETURN_IF_ERROR(env->RemoveFile(path));
    result.bytes_freed += r.bytes;
    result.removed.push_back(std::move(r));
    return Status::Ok();
  };

  // Manifests first: once they are gone no remaining version can name the segments below.
  for (uint64_t v : versions) {
    if (keep.count(v) == 0) {
      PIDX_RETURN_IF_ERROR(remove("version", "versions", BaseName(store.ManifestPath(v))));
    }
  }
  if (!options.dry_run) PIDX_RETURN_IF_ERROR(env->SyncDir(JoinPath(options.index_dir, "versions")));

  const int64_t now = WallClockMs();
  PIDX_ASSIGN_OR_RETURN(auto segments, env->ListDir(JoinPath(options.index_dir, "segments")));
  for (const auto& name : segments) {
    // A live writer's temporary is left alone; it is about to become a segment.
    if (IsTempName(name)) {
      if (IsStaleTempName(name)) PIDX_RETURN_IF_ERROR(remove("temporary", "segments", name));
      continue;
    }
    if (!EndsWith(name, ".seg") || referenced.count(name) > 0) continue;
    auto mtime = env->FileMtimeMs(store.SegmentPath(name));
    if (!mtime.ok()) continue;  // removed by someone else meanwhile
    if (now - *mtime < options.grace_ms) {
      result.young_segments.push_back(name);
      continue;
    }
    PIDX_RETURN_IF_ERROR(remove("segment", "segments", name));
  }
  if (!options.dry_run) PIDX_RETURN_IF_ERROR(env->SyncDir(JoinPath(options.index_dir, "segments")));

  for (const char* sub : {"", "versions"}) {
    const std::string dir = *sub ? JoinPath(options.index_dir, sub) : options.index_dir;
    PIDX_ASSIGN_OR_RETURN(auto names, env->ListDir(dir));
    for (const auto& name : names) {
      if (IsStaleTempName(name)) {
        PIDX_RETURN_IF_ERROR(remove("temporary", *sub ? sub : ".", name));
      }
    }
  }
  result.duration_ms = MonotonicMs() - start;
  return result;
}

}  // namespace pidx
