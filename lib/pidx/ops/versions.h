// The published versions of an index (`pidx versions`) and making an older one current again
// (`pidx rollback`).
//
// Rollback contract:
// 1. Without any lock, V is verified like `pidx verify --version V` (manifest, every segment's
//    checksum and structure, signatures). A finding about V refuses the rollback: kCorrupt,
//    CURRENT untouched. Findings about CURRENT itself do not refuse: rolling back is how an
//    operator repairs a damaged CURRENT.
// 2. Under locks/publish.lock: V's manifest is read again and every segment it names must
//    still exist with its recorded size (gc takes the same lock, so nothing it removes can slip
//    in between), then CURRENT is replaced durably (SnapshotStore::SetCurrent). A reader sees
//    the old CURRENT or the new one.
// Version numbers are not reused: the next build still numbers after the highest version.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pidx/base/env.h"
#include "pidx/base/status.h"

namespace pidx {

struct VersionInfo {
  uint64_t version = 0;
  bool current = false;
  std::string error;  // the manifest does not load: why (other fields are then empty)
  std::string created;
  uint64_t parent = 0;
  std::string operation;        // "build" | "rebuild-shard"
  std::string operation_shard;  // for rebuild-shard
  uint64_t docs = 0;
  uint64_t shards = 0;
  uint64_t bytes = 0;  // sum of its segments' sizes (shared segments count in every version)
};

struct VersionList {
  uint64_t current = 0;  // 0: none, or CURRENT is damaged (current_error says why)
  std::string current_error;
  std::vector<VersionInfo> versions;  // ascending
};

// kNotFound when `index_dir` is not an index. A manifest that does not load is listed with
// its error, not fatal: this is the command an operator runs on a damaged index.
Result<VersionList> ListVersionInfos(const std::string& index_dir, Env* env);

struct RollbackOptions {
  std::string index_dir;
  uint64_t version = 0;
  int64_t lock_timeout_ms = 5000;
  int threads = 0;  // for the verification
};

struct RollbackResult {
  uint64_t previous = 0;  // 0 when CURRENT was missing or damaged
  uint64_t version = 0;
  bool changed = false;  // false when V was current already
  uint64_t shards_checked = 0;
  int64_t duration_ms = 0;
};

// kNotFound for a missing version, kCorrupt when V is damaged, kLockTimeout (logged as
// lock.timeout) when the publish lock is not taken in time.
Result<RollbackResult> Rollback(const RollbackOptions& options, Env* env);

}  // namespace pidx
