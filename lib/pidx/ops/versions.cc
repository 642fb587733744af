#include "pidx/ops/versions.h"

#include "pidx/base/duration.h"
#include "pidx/ops/publish.h"
#include "pidx/ops/verify.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx {

Result<VersionList> ListVersionInfos(const std::string& index_dir, Env* env) {
  PIDX_ASSIGN_OR_RETURN(auto store, snapshot::SnapshotStore::Open(env, index_dir, false));
  VersionList list;
  auto current = store.ReadCurrent();
  if (current.ok()) {
    list.current = *current;
  } else {
    list.current_error = current.status().message();
  }
  PIDX_ASSIGN_OR_RETURN(auto versions, store.ListVersions());
  for (uint64_t v : versions) {
    VersionInfo info;
    info.version = v;
    info.current = v == list.current;
    auto m = store.LoadManifest(v);
    if (!m.ok()) {
      info.error = m.status().message();
    } else {
      info.created = m->created;
      info.parent = m->parent;
      info.operation = m->operation;
      info.operation_shard = m->operation_shard;
      const snapshot::Totals totals = snapshot::SumTotals(m->shards);
      info.docs = totals.docs;
      info.shards = totals.shards;
      info.bytes = totals.bytes;
    }
    list.versions.push_back(std::move(info));
  }
  return list;
}

Result<RollbackResult> Rollback(const RollbackOptions& options, Env* env) {
  const int64_t start = MonotonicMs();
  const std::string vname = snapshot::VersionName(options.version);
  // Step 1: the expensive check, outside the lock so builds are not held up by it.
  VerifyOptions vo;
  vo.index_dir = options.index_dir;
  vo.version = options.version;
  vo.threads = options.threads;
  PIDX_ASSIGN_OR_RETURN(VerifyResult verified, Verify(vo, env));
  size_t damage = 0;
  const Finding* first = nullptr;
  for (const auto& f : verified.findings) {
    if (f.version != vname || f.kind == "current_dangling") continue;
    if (first == nullptr) first = &f;
    ++damage;
  }
  for (const auto& u : verified.unlisted) {
    if (u.version == vname && u.kind != "current_dangling") damage += u.total - u.listed;
  }
  if (damage > 0) {
    return Status::Corrupt(vname + " is damaged (" + std::to_string(damage) + " problems; first: " +
                           first->kind + (first->shard.empty() ? "" : " in " + first->shard) +
                           ": " + first->detail + "); CURRENT unchanged");
  }

  PIDX_ASSIGN_OR_RETURN(auto store, snapshot::SnapshotStore::Open(env, options.index_dir, false));
  // Step 2, through the one publish path: the lock, CURRENT read again, V's segments still
  // there, then CURRENT replaced.
  PublishRequest request;
  request.kind = PublishKind::kRollback;
  request.rollback_to = options.version;
  request.lock_timeout_ms = options.lock_timeout_ms;
  PIDX_ASSIGN_OR_RETURN(auto published, RunPublishTransaction(store, request));
  RollbackResult result;
  result.version = options.version;
  result.shards_checked = verified.shards_checked;
  result.previous = published.previous;
  result.changed = !published.unchanged;
  result.duration_ms = MonotonicMs() - start;
  return result;
}

}  // namespace pidx
