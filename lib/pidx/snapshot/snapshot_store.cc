#include "pidx/snapshot/snapshot_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "pidx/base/checksum.h"
#include "pidx/base/json_read.h"
#include "pidx/segment/segment_reader.h"
#include "pidx/snapshot/index_reader.h"
#include "pidx/snapshot/lock.h"

namespace pidx::snapshot {

namespace {
constexpr const char* kManifestSuffix = ".manifest";
constexpr uint64_t kMaxCurrentBytes = 4096;  // a version line and a checksum line
}  // namespace

Result<SnapshotStore> SnapshotStore::Open(Env* env, std::string dir, bool create) {
  std::string given_dir = dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::vector<std::string> created;
  if (create) {
    // Like mkdir -p: every missing parent of the index directory is made too.
    std::vector<std::string> wanted;
    for (size_t pos = dir.find('/', 1); pos != std::string::npos; pos = dir.find('/', pos + 1)) {
      wanted.push_back(dir.substr(0, pos));
    }
    wanted.push_back(dir);
    for (const char* sub : {"versions", "segments", "locks"}) wanted.push_back(JoinPath(dir, sub));
    // A directory made here is durable only once its parent is synced: without that, a power
    // loss after the first publish could take the whole index (versions/, CURRENT) with it.
    std::vector<std::string> made;
    for (const auto& d : wanted) {
      if (env->FileExists(d)) continue;
      PIDX_RETURN_IF_ERROR(env->CreateDir(d));
      made.push_back(d);
    }
    created.swap(made);
    std::string synced;
    for (const auto& d : created) {
      const std::string parent = DirName(d);
      if (parent == synced) continue;
      PIDX_RETURN_IF_ERROR(env->SyncDir(parent));
      synced = parent;
    }
  } else if (!env->FileExists(JoinPath(dir, "versions"))) {
    if (!env->FileExists(dir))
      return Status::NotFound("index directory " + dir + " does not exist");
    return Status::NotFound(dir + " is not a pidx index (no versions/)");
  }
  SnapshotStore store(env, std::move(dir), std::move(given_dir));
  store.created_ = std::move(created);
  return store;
}

std::string SnapshotStore::SegmentPath(const std::string& name) const {
  return JoinPath(JoinPath(dir_, "segments"), name);
}
std::string SnapshotStore::ManifestPath(uint64_t version) const {
  return JoinPath(JoinPath(dir_, "versions"), VersionName(version) + kManifestSuffix);
}
std::string SnapshotStore::LockPath(const std::string& lock_name) const {
  return JoinPath(JoinPath(dir_, "locks"), lock_name + ".lock");
}

Result<uint64_t> SnapshotStore::ReadCurrent() const {
  const std::string path = JoinPath(dir_, "CURRENT");
  if (!env_->FileExists(path)) return uint64_t{0};
  PIDX_ASSIGN_OR_RETURN(std::string text, ReadIndexFile(env_, path, kMaxCurrentBytes));
  auto nl = text.find('\n');
  uint64_t version = 0, stored = 0;
  if (nl == std::string::npos || text.size() != nl + 1 + 16 + 1 || text.back() != '\n' ||
      !ParseHex64(std::string_view(text).substr(nl + 1, 16), &stored)) {
    return Status::Corrupt(path + ": torn or damaged (expected a version line and its checksum)");
  }
  std::string name = text.substr(0, nl);
  if (stored != Xxh3(name)) return Status::Corrupt(path + ": checksum mismatch");
  if (!ParseStoredVersionName(name, &version)) {
    return Status::Corrupt(path + ": bad version " + name);
  }
  return version;
}

Result<Manifest> SnapshotStore::LoadManifest(uint64_t version) const {
  const std::string path = ManifestPath(version);
  auto text = ReadIndexFile(env_, path, kManifestJsonLimits.max_bytes + 64);
  if (!text.ok()) {
    if (text.status().kind() == StatusKind::kNotFound) {
      return Status::NotFound("version " + VersionName(version) + " does not exist in " + dir_);
    }
    return text.status();
  }
  PIDX_ASSIGN_OR_RETURN(Manifest m, Manifest::Parse(*text, path));
  if (m.version != version) {
    return Status::Corrupt(path + ": names version " + VersionName(m.version));
  }
  return m;
}

Result<Manifest> SnapshotStore::LoadVersionOrCurrent(uint64_t version) const {
  if (version == 0) {
    PIDX_ASSIGN_OR_RETURN(version, ReadCurrent());
    if (version == 0) return Status::NotFound(given_dir_ + " has no published version");
  }
  return LoadManifest(version);
}

Result<std::vector<uint64_t>> SnapshotStore::ListVersions() const {
  PIDX_ASSIGN_OR_RETURN(auto names, env_->ListDir(JoinPath(dir_, "versions")));
  std::vector<uint64_t> out;
  for (const auto& n : names) {
    if (n.size() <= std::strlen(kManifestSuffix) || n[0] != 'v' ||
        n.compare(n.size() - std::strlen(kManifestSuffix), std::string::npos, kManifestSuffix) != 0)
      continue;
    uint64_t v = 0;
    // Only the exact name pidx writes counts: "v42.manifest" or "v0000042.manifest" is not a
    // version (gc removes ManifestPath(v), which must be this very file).
    if (ParseStoredVersionName(n.substr(0, n.size() - std::strlen(kManifestSuffix)), &v)) {
      out.push_back(v);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string SnapshotStore::SegmentName(const std::string& shard, uint64_t checksum) {
  return shard + "-" + Hex64(checksum) + ".seg";
}

bool SnapshotStore::IsShardName(std::string_view shard) {
  // "<slug>_<NNN>", the slug made of [a-z0-9-] (shard/shard_id.h).
  if (shard.size() < 5 || shard[shard.size() - 4] != '_') return false;
  for (size_t i = 0; i < shard.size(); ++i) {
    const char c = shard[i];
    const bool digit = c >= '0' && c <= '9';
    if (i >= shard.size() - 3) {
      if (!digit) return false;
    } else if (i < shard.size() - 4 && !(digit || (c >= 'a' && c <= 'z') || c == '-')) {
      return false;
    }
  }
  return true;
}

bool SnapshotStore::IsSegmentName(std::string_view name) {
  constexpr std::string_view kSuffix = ".seg";
  // "<shard>-" + 16 hex + ".seg"
  if (name.size() < 5 + 1 + 16 + kSuffix.size()) return false;
  if (name.substr(name.size() - kSuffix.size()) != kSuffix) return false;
  const std::string_view hex = name.substr(name.size() - kSuffix.size() - 16, 16);
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  const size_t dash = name.size() - kSuffix.size() - 17;
  return name[dash] == '-' && IsShardName(name.substr(0, dash));
}

Result<SnapshotStore::SegmentWrite> SnapshotStore::WriteSegment(const std::string& name,
                                                                std::string_view bytes) {
  // Second wall behind the manifest and fragment parsers: whatever names reach here, nothing
  // is created outside segments/ and nothing but a segment name is created in it.
  if (!IsSegmentName(name)) {
    return Status::Corrupt("refusing to write segment \"" + name +
                           "\": not a segment name (<shard>-<16 hex>.seg)");
  }
  const std::string path = SegmentPath(name);
  if (!env_->FileExists(path)) {
    PIDX_RETURN_IF_ERROR(WriteFileDurably(env_, path, bytes));
    return SegmentWrite::kWritten;
  }
  // The name promises these bytes, but a file can rot or be a torn copy: trusting the name
  // kept a damaged segment for ever (every later build failed its read-back). Comparing with
  // the bytes in hand is stronger than any checksum and costs one read.
  auto existing = env_->MapFile(path);
  if (existing.ok() && (*existing)->data() == bytes) return SegmentWrite::kReused;
  PIDX_RETURN_IF_ERROR(WriteFileDurably(env_, path, bytes));
  return SegmentWrite::kReplaced;
}

Result<SnapshotStore::PendingSegment> SnapshotStore::StageSegment(const std::string& name,
                                                                  std::string_view bytes) {
  if (!IsSegmentName(name)) {
    return Status::Corrupt("refusing to write segment \"" + name +
                           "\": not a segment name (<shard>-<16 hex>.seg)");
  }
  PendingSegment out;
  out.name = name;
  const std::string path = SegmentPath(name);
  if (env_->FileExists(path)) {
    auto existing = env_->MapFile(path);
    if (existing.ok() && (*existing)->data() == bytes) return out;  // kReused
    out.how = SegmentWrite::kReplaced;
  } else {
    out.how = SegmentWrite::kWritten;
  }
  PIDX_ASSIGN_OR_RETURN(out.temp, env_->NewTempFile(DirName(path), name));
  Status s = out.temp->Append(bytes);
  if (!s.ok()) {
    (void)out.temp->Close();
    (void)env_->RemoveFile(out.temp->path());
    return s;
  }
  return out;  // fsynced and closed by CommitSegments
}

Status SnapshotStore::CommitSegments(std::vector<PendingSegment>* batch) {
  const std::string dir = JoinPath(dir_, "segments");
  bool pending = false;
  for (const auto& p : *batch) pending = pending || p.temp != nullptr;
  if (!pending) return Status::Ok();
  // One writeback of the whole file system first (a hint, its result ignored): the fsyncs
  // below then find the files and their inodes clean. One fsync after another, each writing
  // its file and then its inode synchronously, was most of a 50k-segment build's wall time.
  // Durability rests on the fsyncs alone.
  if (batch->size() > 1) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      (void)::syncfs(fd);
      ::close(fd);
    }
  }
  Status s;
  for (auto& p : *batch) {
    if (!p.temp) continue;
    Status synced = p.temp->Sync();
    Status closed = p.temp->Close();
    if (s.ok()) s = synced.ok() ? closed : synced;
  }
  // As WriteFileDurably: the temporaries' entries are durable before any rename.
  if (s.ok()) s = env_->SyncDir(dir);
  size_t renamed = 0;
  for (; s.ok() && renamed < batch->size(); ++renamed) {
    auto& p = (*batch)[renamed];
    if (p.temp) s = env_->Rename(p.temp->path(), SegmentPath(p.name));
    if (!s.ok()) break;
  }
  if (!s.ok()) {
    for (size_t i = renamed; i < batch->size(); ++i) {
      if ((*batch)[i].temp) (void)env_->RemoveFile((*batch)[i].temp->path());
    }
    return s;
  }
  return env_->SyncDir(dir);
}

Status SnapshotStore::CheckSegment(const ShardEntry& entry) const {
  auto reader = OpenSegment(*this, entry);
  if (!reader.ok()) {
    // A missing segment is damage of the version (or stage) being checked, not a missing input.
    if (reader.status().kind() == StatusKind::kNotFound) {
      return Status::Corrupt(reader.status().message());
    }
    return reader.status();
  }
  return reader->Validate();
}

Status SnapshotStore::WriteCurrent(uint64_t version) {
  std::string name = VersionName(version);
  return WriteFileDurably(env_, JoinPath(dir_, "CURRENT"), name + "\n" + Hex64(Xxh3(name)) + "\n");
}

Result<uint64_t> SnapshotStore::Publish(Manifest* manifest) {
  // Never reuse a number: an orphan manifest (killed between its rename and CURRENT's) still
  // counts, so a retry cannot collide with it.
  uint64_t highest = 0;
  auto current = ReadCurrent();
  // A damaged CURRENT is replaced below (the manifests still give the highest number); a
  // CURRENT that cannot be read is an I/O error like any other, not something to skip.
  if (!current.ok() && current.status().kind() != StatusKind::kCorrupt) return current.status();
  if (current.ok()) highest = *current;
  PIDX_ASSIGN_OR_RETURN(auto versions, ListVersions());
  if (!versions.empty()) highest = std::max(highest, versions.back());
  // The parser reads up to kMaxVersion; a number above it would publish a version that
  // CURRENT, query, gc and every later build then refuse as "bad version".
  if (highest >= kMaxVersion) {
    return Status::Corrupt("cannot publish after " + VersionName(highest) + " in " + dir_ +
                           ": it is the highest version number pidx can read (" +
                           VersionName(kMaxVersion) + "); publish into a new index directory");
  }
  manifest->version = highest + 1;
  // gc runs under the same lock: a segment this version reuses (found on disk, not rewritten)
  // must still be there now, or the version would name a missing file.
  for (const auto& e : manifest->shards) {
    if (!env_->FileExists(SegmentPath(e.segment))) {
      return Status::IoError("segment " + e.segment + " of shard " + e.shard +
                             " disappeared before publishing (removed by a concurrent gc?)");
    }
  }

  const std::string path = ManifestPath(manifest->version);
  const std::string bytes = manifest->Serialize();
  PIDX_RETURN_IF_ERROR(WriteFileDurably(env_, path, bytes));
  // Read back what is on disk, not what we meant to write.
  PIDX_ASSIGN_OR_RETURN(std::string back, env_->ReadFile(path));
  PIDX_ASSIGN_OR_RETURN(Manifest parsed, Manifest::Parse(back, path));
  if (back != bytes || parsed.version != manifest->version) {
    return Status::IoError(path + ": read back differs from what was written");
  }
  Status s = WriteCurrent(manifest->version);
  if (!s.ok()) {
    // Only the directory fsync after CURRENT's rename may have failed: the new CURRENT is in
    // place but not known to be durable. A failed command publishes nothing, so put the
    // previous one back (best effort: if that fails too, CURRENT names one of two whole
    // versions, and the error is reported either way).
    auto now = ReadCurrent();
    if (now.ok() && *now == manifest->version) {
      if (current.ok() && *current > 0) {
        (void)WriteCurrent(*current);
      } else if (env_->RemoveFile(JoinPath(dir_, "CURRENT")).ok()) {
        (void)env_->SyncDir(dir_);
      }
    }
    return s;
  }
  return manifest->version;
}

Status SnapshotStore::SetCurrent(uint64_t version) {
  if (!env_->FileExists(ManifestPath(version))) {
    return Status::NotFound("version " + VersionName(version) + " does not exist in " + dir_);
  }
  return WriteCurrent(version);
}

void SnapshotStore::SweepStaleTemporaries() {
  for (const char* sub : {"", "versions", "segments"}) {
    std::string d = *sub ? JoinPath(dir_, sub) : dir_;
    auto names = env_->ListDir(d);
    if (!names.ok()) continue;
    for (const auto& n : *names) {
      if (IsTempName(n)) (void)env_->RemoveAbandonedTemp(JoinPath(d, n), false);
    }
  }
}

bool SnapshotStore::RemoveIfCreatedAndEmpty() {
  if (std::find(created_.begin(), created_.end(), dir_) == created_.end()) return false;
  const std::string locks_dir = JoinPath(dir_, "locks");
  auto top = env_->ListDir(dir_);
  if (!top.ok()) return false;
  for (const auto& name : *top) {
    if (name != "versions" && name != "segments" && name != "locks") return false;
  }
  for (const char* sub : {"versions", "segments"}) {
    auto entries = env_->ListDir(JoinPath(dir_, sub));
    if (!entries.ok() || !entries->empty()) return false;
  }
  auto lock_names = env_->ListDir(locks_dir);
  if (!lock_names.ok()) return false;
  const std::string publish_name = std::string(kPublishLock) + ".lock";
  // Every lock taken without waiting, and held until its file is gone: a writer that holds
  // one is at work here, and everything stays.
  std::vector<std::pair<std::string, FileLock>> held;
  for (const auto& name : *lock_names) {
    if (name.size() < 6 || name.compare(name.size() - 5, 5, ".lock") != 0) return false;
  }
  auto publish = FileLock::Acquire(JoinPath(locks_dir, publish_name), 0, nullptr);
  if (!publish.ok()) return false;
  for (const auto& name : *lock_names) {
    if (name == publish_name) continue;
    auto lock = FileLock::Acquire(JoinPath(locks_dir, name), 0, nullptr);
    if (!lock.ok()) return false;
    held.emplace_back(JoinPath(locks_dir, name), std::move(lock).value());
  }
  // Under the publish lock nothing publishes; look again before removing anything.
  for (const char* sub : {"versions", "segments"}) {
    auto entries = env_->ListDir(JoinPath(dir_, sub));
    if (!entries.ok() || !entries->empty()) return false;
  }
  for (auto& [path, lock] : held) {
    if (!env_->RemoveFile(path).ok()) return false;
  }
  if (!env_->RemoveFile(JoinPath(locks_dir, publish_name)).ok()) return false;
  publish->Release();
  bool removed_index = false;
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    if (!env_->RemoveDir(*it).ok()) break;  // not empty (someone else's now) or not ours
    if (*it == dir_) removed_index = true;
  }
  if (removed_index) (void)env_->SyncDir(DirName(dir_));
  created_.clear();
  return removed_index;
}

}  // namespace pidx::snapshot
