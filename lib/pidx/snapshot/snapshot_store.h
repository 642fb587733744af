// An index directory and its publish protocol (shared/spec/PRODUCT.md section 4):
//
//   INDEX/CURRENT                    "v000042\n<XXH3-64 hex of 'v000042'>\n"
//   INDEX/versions/v000042.manifest  immutable once published
//   INDEX/segments/<shard>-<16 hex of checksum>.seg   immutable, shared between versions
//   INDEX/locks/                     flock files, never deleted
//
// Publish contract (what a reader can observe):
// 1. Segments are written with WriteFileDurably (temporary name, fsync, rename, fsync of
//    segments/). A segment's name carries its checksum; a file of that name already there is
//    reused only when it holds exactly the bytes to write. Otherwise (a rotted byte, a torn
//    copy) it is rewritten the same durable way: the rename replaces the inode, so a reader
//    that has the damaged file mapped keeps its mapping and no file is modified in place.
// 2. Every new segment is read back and checked (SegmentReader::Open + Validate, checksum and
//    size as recorded) before the manifest is written.
// 3. Under the publish lock: every segment the manifest names is checked to exist (gc, which
//    takes the same lock, may have removed an old unreferenced file this build reused); the
//    new version number is the highest seen anywhere (CURRENT and
//    every file in versions/, including orphans of killed runs) plus one, never reused; the
//    manifest is written durably, read back and parsed.
// 4. CURRENT is replaced durably the same way. Only then is the version published.
// A process killed or failing at any step leaves CURRENT naming the previous version, and
// every published version intact; its temporaries (".tmp-<pid>-...") are swept by the next
// writer once that pid is gone.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pidx/base/env.h"
#include "pidx/snapshot/lock.h"
#include "pidx/snapshot/manifest.h"
#include "pidx/status.h"

namespace pidx::snapshot {

class SnapshotStore {
 public:
  // Readers (create=false): kNotFound when `dir` is not an index directory.
  // Writers (create=true): creates dir, versions/, segments/, locks/ as needed.
  static Result<SnapshotStore> Open(Env* env, std::string dir, bool create);

  const std::string& dir() const { return dir_; }
  Env* env() const { return env_; }
  std::string SegmentPath(const std::string& name) const;
  std::string ManifestPath(uint64_t version) const;
  std::string LockPath(const std::string& lock_name) const;  // locks/<lock_name>.lock

  // The version CURRENT names; 0 when the index has no CURRENT yet. kCorrupt when CURRENT is
  // torn or damaged (its checksum line does not match).
  Result<uint64_t> ReadCurrent() const;
  // kNotFound when the version does not exist, kCorrupt when it does not parse.
  Result<Manifest> LoadManifest(uint64_t version) const;
  // Every version with a manifest file, ascending.
  Result<std::vector<uint64_t>> ListVersions() const;
  Result<std::shared_ptr<const MappedFile>> MapSegment(const std::string& name) const;

  static std::string SegmentName(const std::string& shard, uint64_t checksum);
  enum class SegmentWrite { kWritten, kReused, kReplaced };
  // Step 1. kReused: the file was there with exactly `bytes`; kReplaced: it was there with
  // other bytes (damaged) and was rewritten durably; kWritten: it was new.
  Result<SegmentWrite> WriteSegment(const std::string& name, std::string_view bytes);
  // Reads back and deep-checks a segment: size, checksum, structure. Step 2.
  Status CheckSegment(const ShardEntry& entry) const;

  // REQUIRES: the publish lock is held. Steps 3 and 4. Sets manifest->version and returns it.
  Result<uint64_t> Publish(Manifest* manifest);
  // REQUIRES: the publish lock is held, and `version`'s manifest and segments were checked.
  // Replaces CURRENT durably (step 4 alone) so that it names an existing, older or newer,
  // version: `pidx rollback`. kNotFound when the version has no manifest.
  Status SetCurrent(uint64_t version);

  // Removes temporaries whose writer process is gone. Failures are ignored: a sweep that
  // misses a file leaves it for the next one.
  void SweepStaleTemporaries();

 private:
  SnapshotStore(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  Status WriteCurrent(uint64_t version);
  Env* env_;
  std::string dir_;
};

}  // namespace pidx::snapshot
