// An index directory and its publish protocol (docs/CONTRACT.md section 4):
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
// every published version intact; its temporaries (".tmp-<pid>-<random>-...", created
// O_EXCL|O_NOFOLLOW and flocked by their writer) are swept by the next writer once nobody
// holds their flock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pidx/base/env.h"
#include "pidx/base/status.h"
#include "pidx/snapshot/lock.h"
#include "pidx/snapshot/manifest.h"

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
  // The index-wide lock every publish (and gc) takes: locks/publish.lock (CONTRACT.md section 6).
  static constexpr const char* kPublishLock = "publish";

  // The version CURRENT names; 0 when the index has no CURRENT yet. kCorrupt when CURRENT is
  // torn or damaged (its checksum line does not match).
  Result<uint64_t> ReadCurrent() const;
  // kNotFound when the version does not exist, kCorrupt when it does not parse.
  Result<Manifest> LoadManifest(uint64_t version) const;
  // The version a reader asked for (`--version V`), or the current one when `version` is 0:
  // kNotFound "<dir> has no published version" (the directory as given to Open) when it is 0
  // and the index has no CURRENT yet; otherwise ReadCurrent's and LoadManifest's errors. The
  // manifest's `version` says which one was opened.
  Result<Manifest> LoadVersionOrCurrent(uint64_t version) const;
  // Every version with a manifest file, ascending.
  Result<std::vector<uint64_t>> ListVersions() const;
  // There is no way to map a segment by name: readers open one from its manifest entry,
  // checked against that entry (snapshot/index_reader.h, OpenSegment).

  static std::string SegmentName(const std::string& shard, uint64_t checksum);
  // The exact forms pidx writes: "<slug>_<NNN>" with the slug of [a-z0-9-], and
  // "<shard>-<16 lowercase hex>.seg". Nothing else is ever created (or removed by gc) in
  // segments/.
  static bool IsShardName(std::string_view shard);
  static bool IsSegmentName(std::string_view name);
  enum class SegmentWrite { kWritten, kReused, kReplaced };
  // Step 1. kReused: the file was there with exactly `bytes`; kReplaced: it was there with
  // other bytes (damaged) and was rewritten durably; kWritten: it was new. kCorrupt when
  // `name` is not IsSegmentName (it came from a damaged or hostile fragment or manifest).
  Result<SegmentWrite> WriteSegment(const std::string& name, std::string_view bytes);
  // Step 1 for many segments at once, with the same guarantees per segment and two directory
  // fsyncs per batch instead of two per segment (a catalog of 50k categories has 50k
  // segments): StageSegment writes and fsyncs the temporary (or finds the file already there
  // with exactly these bytes: kReused, nothing pending), CommitSegments fsyncs segments/,
  // renames every pending temporary into place and fsyncs segments/ again. On failure every
  // temporary not yet renamed is removed.
  struct PendingSegment {
    std::string name;
    SegmentWrite how = SegmentWrite::kReused;
    std::unique_ptr<WritableFile> temp;  // null when reused; keeps the temporary's flock
  };
  Result<PendingSegment> StageSegment(const std::string& name, std::string_view bytes);
  Status CommitSegments(std::vector<PendingSegment>* batch);
  // Reads back and deep-checks a segment: OpenSegment (name, file type, size, checksum, shard,
  // counts against `entry`) and SegmentReader::Validate. Step 2.
  Status CheckSegment(const ShardEntry& entry) const;

  // REQUIRES: the publish lock is held. Steps 3 and 4. Sets manifest->version and returns it.
  // kCorrupt, publishing nothing, when the highest version is already kMaxVersion.
  Result<uint64_t> Publish(Manifest* manifest);
  // REQUIRES: the publish lock is held, and `version`'s manifest and segments were checked.
  // Replaces CURRENT durably (step 4 alone) so that it names an existing, older or newer,
  // version: `pidx rollback`. kNotFound when the version has no manifest.
  Status SetCurrent(uint64_t version);

  // Removes temporaries (IsTempName) whose writer is gone: their flock can be taken
  // (Env::RemoveAbandonedTemp). Failures are ignored: a sweep that misses a file leaves it for
  // the next one.
  void SweepStaleTemporaries();

  // A writer whose Open created the index directory itself (it did not exist) and then failed:
  // removes what Open made, and only that, so a failed first build leaves no empty index
  // behind. Only when the index still holds nothing but the empty layout: no CURRENT, no entry
  // in versions/ or segments/, nothing else in the directory, and in locks/ only lock files
  // nobody holds (each is taken with LOCK_NB first, publish.lock last, so a concurrent writer
  // that got in keeps everything). The parents Open made (like mkdir -p) go too, deepest first,
  // each only if empty. Best effort: whatever cannot be removed stays. Returns whether the
  // index directory was removed.
  bool RemoveIfCreatedAndEmpty();

 private:
  SnapshotStore(Env* env, std::string dir, std::string given_dir)
      : env_(env), dir_(std::move(dir)), given_dir_(std::move(given_dir)) {}
  Status WriteCurrent(uint64_t version);
  Env* env_;
  std::string dir_;
  std::string given_dir_;             // as the caller named it (trailing '/' kept), for messages
  std::vector<std::string> created_;  // directories Open made, parents first
};

}  // namespace pidx::snapshot
