// Env: every file-system effect of pidx goes through this seam, so tests can inject
// failures (ENOSPC, EIO) and crashes at any write, fsync, rename (STYLE.md practice 9).
// PosixEnv (posix_env.cc) is the real one. Index locks are not here: they are flock on real
// files (snapshot/lock.h) and tested on real directories. The flock each temporary carries
// for its writer's lifetime is here, because creating and sweeping temporaries is.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pidx/base/status.h"

namespace pidx {

// A file pidx is creating. It exists only under a temporary name (TempName below) until the
// caller renames it into place. Invariant: while this object lives, its writer holds an
// exclusive flock on the file, so a sweep in another process (or PID namespace) can tell a
// live writer's temporary from a dead one's by trying that lock, never by its pid.
class WritableFile {
 public:
  virtual ~WritableFile() = default;  // releases the flock
  // The temporary's path: "<dir>/<TempName>".
  virtual const std::string& path() const = 0;
  // Writes all of `data` (looping on short writes). Any failure is final.
  virtual Status Append(std::string_view data) = 0;
  virtual Status Sync() = 0;  // fsync; never retried after a failure
  // Closes the descriptor used for writing (and reports its error). The flock stays held until
  // the object is destroyed: keep it alive until the file is renamed or removed.
  virtual Status Close() = 0;
};

// A read-only view of a whole file (mmap'd by PosixEnv).
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual std::string_view data() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  static Env* Default();  // PosixEnv, process-wide

  // The only way pidx creates a file: a new file "<dir>/<TempName(label)>", opened
  // O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC (a planted file or symlink under that name is never
  // opened, let alone truncated or followed) and flocked before it is handed out.
  // kUsage when `label` is not a plain name (IsPlainName).
  virtual Result<std::unique_ptr<WritableFile>> NewTempFile(const std::string& dir,
                                                            const std::string& label) = 0;
  // Removes the temporary `path` when its writer is gone: it is a regular file (not a symlink)
  // whose flock can be taken; the unlink happens while holding that lock. With dry_run only
  // decides. Returns whether it was (or would be) removed; a live writer's file, a symlink or
  // anything else gives false.
  // REQUIRES: IsTempName(BaseName(path)).
  virtual Result<bool> RemoveAbandonedTemp(const std::string& path, bool dry_run) = 0;
  // For files a user names (plans, query sets): follows symlinks and reads what is there.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // For files pidx wrote itself under an index or stage directory (segments, manifests,
  // CURRENT, fragments, spill files), which may have been replaced by anything: never blocks
  // (a FIFO is opened non-blocking), never follows a symlink at `path` itself, and refuses
  // anything but a regular file with kCorrupt naming the file and what it is.
  virtual Result<std::shared_ptr<const MappedFile>> MapFile(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Creates `dir` if it does not exist (one level).
  virtual Status CreateDir(const std::string& dir) = 0;
  // Removes the empty directory `dir` (rmdir). The default refuses (kIoError): an Env that
  // cannot remove a directory leaves it.
  virtual Status RemoveDir(const std::string& dir) {
    return Status::IoError("cannot remove directory " + dir + " through this Env");
  }
  // Names (not paths) of the entries of `dir`, sorted.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  // Last modification time in milliseconds since the Unix epoch. gc uses it to leave alone
  // segments a build in progress has written but not yet published (they are unreferenced).
  virtual Result<int64_t> FileMtimeMs(const std::string& path) = 0;
};

// A name that stays inside its directory: not empty, not "." or "..", no '/' and no NUL.
bool IsPlainName(std::string_view name);

// The name of a new temporary for `label`: ".tmp-<pid>-<16 hex from getrandom>-<label>".
// The random part makes the name unpredictable (nobody can plant a file or symlink under it
// ahead of time); the pid is only for people reading a directory listing.
// REQUIRES: IsPlainName(label).
std::string TempName(const std::string& label);
// True when `name` has exactly the form TempName gives. Sweeps consider nothing else.
bool IsTempName(std::string_view name);

// The durable publish step for one file:
//   write `data` to a new temporary (NewTempFile) in the same directory, fsync it, close it, fsync
//   the directory, rename it to `path`, fsync the directory.
// A reader sees either no file / the old file, or the complete new one. The rename replaces
// whatever `path` names, a symlink included, and never writes through it. On any failure the
// temporary is removed and the error returned (fsync is never retried).
// kUsage when BaseName(path) is not a plain name.
Status WriteFileDurably(Env* env, const std::string& path, std::string_view data);

// "dir/name" helpers.
std::string JoinPath(const std::string& dir, const std::string& name);
std::string DirName(const std::string& path);
std::string BaseName(const std::string& path);

}  // namespace pidx
