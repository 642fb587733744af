#include "pidx/ops/gc.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "pidx/base/cancel.h"
#include "pidx/base/duration.h"
#include "pidx/obs/trace.h"
#include "pidx/ops/publish.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx {
namespace {

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
    Span span("gc.manifest", {{"index.version", snapshot::VersionName(v)}});
    auto m = store.LoadManifest(v);
    span.End(m.status());
    if (!m.ok()) {
      return m.status().Annotate("gc removes nothing: cannot tell what " +
                                 snapshot::VersionName(v) + " references");
    }
    for (const auto& e : m->shards) referenced.insert(e.segment);
  }
  result.kept.assign(keep.begin(), keep.end());

  auto record = [&](const std::string& kind, const std::string& sub, const std::string& name,
                    uint64_t bytes) {
    result.bytes_freed += bytes;
    result.removed.push_back(GcRemoval{kind, sub + "/" + name, bytes});
  };
  auto remove = [&](const std::string& kind, const std::string& sub,
                    const std::string& name) -> Status {
    const std::string path = JoinPath(JoinPath(options.index_dir, sub), name);
    auto size = env->FileSize(path);
    if (!options.dry_run) PIDX_RETURN_IF_ERROR(env->RemoveFile(path));
    record(kind, sub, name, size.ok() ? *size : 0);
    return Status::Ok();
  };
  // Only a temporary nobody holds (its writer is gone, whatever its pid says: the writer may
  // live in another PID namespace) is removed, and only a regular file under pidx's exact
  // temporary name.
  auto remove_abandoned = [&](const std::string& sub, const std::string& name) -> Status {
    const std::string dir = sub == "." ? options.index_dir : JoinPath(options.index_dir, sub);
    const std::string path = JoinPath(dir, name);
    auto size = env->FileSize(path);
    PIDX_ASSIGN_OR_RETURN(bool removed, env->RemoveAbandonedTemp(path, options.dry_run));
    if (removed) record("temporary", sub, name, size.ok() ? *size : 0);
    return Status::Ok();
  };

  // Manifests first: once they are gone no remaining version can name the segments below.
  // ListVersions gives only names of the exact form pidx writes.
  for (uint64_t v : versions) {
    if (keep.count(v) == 0) {
      PIDX_RETURN_IF_ERROR(remove("version", "versions", BaseName(store.ManifestPath(v))));
    }
  }
  if (!options.dry_run) PIDX_RETURN_IF_ERROR(env->SyncDir(JoinPath(options.index_dir, "versions")));

  // segments/ may be a symlink to another disk (docs/SECURITY.md): whatever it points to, gc
  // removes only names of pidx's exact forms there, never another file.
  const int64_t now = WallClockMs();
  PIDX_ASSIGN_OR_RETURN(auto segments, env->ListDir(JoinPath(options.index_dir, "segments")));
  for (const auto& name : segments) {
    if (IsTempName(name)) {
      PIDX_RETURN_IF_ERROR(remove_abandoned("segments", name));
      continue;
    }
    if (!snapshot::SnapshotStore::IsSegmentName(name) || referenced.count(name) > 0) continue;
    auto mtime = env->FileMtimeMs(store.SegmentPath(name));
    if (!mtime.ok()) continue;  // removed by someone else meanwhile
    if (now - *mtime < options.grace_ms) {
      result.young_segments.push_back(name);
      continue;
    }
    PIDX_RETURN_IF_ERROR(remove("segment", "segments", name));
  }
  if (!options.dry_run) PIDX_RETURN_IF_ERROR(env->SyncDir(JoinPath(options.index_dir, "segments")));

  for (const char* sub : {".", "versions"}) {
    const std::string dir =
        std::string(sub) == "." ? options.index_dir : JoinPath(options.index_dir, sub);
    PIDX_ASSIGN_OR_RETURN(auto names, env->ListDir(dir));
    for (const auto& name : names) {
      if (IsTempName(name)) PIDX_RETURN_IF_ERROR(remove_abandoned(sub, name));
    }
  }
  result.duration_ms = MonotonicMs() - start;
  return result;
}

}  // namespace pidx
