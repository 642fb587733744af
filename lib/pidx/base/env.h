// Env: every file-system effect of pidx goes through this seam, so tests can inject
// failures (ENOSPC, EIO) and crashes at any write, fsync, rename (STYLE.md practice 9).
// PosixEnv (posix_env.cc) is the real one. Locks are not here: they are flock on real files
// (snapshot/lock.h) and tested on real directories.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pidx/status.h"

namespace pidx {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of `data` (looping on short writes). Any failure is final.
  virtual Status Append(std::string_view data) = 0;
  virtual Status Sync() = 0;  // fsync; never retried after a failure
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

  // Creates or truncates `path` for writing (O_CLOEXEC).
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
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
  // Names (not paths) of the entries of `dir`, sorted.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  // Last modification time in milliseconds since the Unix epoch. gc uses it to leave alone
  // segments a build in progress has written but not yet published (they are unreferenced).
  virtual Result<int64_t> FileMtimeMs(const std::string& path) = 0;
};

// The name pidx gives a temporary file for `final_name` in the same directory:
// ".tmp-<pid>-<counter>-<final_name>". The pid lets a later run tell a dead writer's leftovers
// (to clean up) from a live concurrent writer's (to leave alone).
std::string TempNameFor(const std::string& final_name);
// True when `name` is a pidx temporary whose writer process is gone.
bool IsStaleTempName(const std::string& name);

// The durable publish step for one file:
//   write `data` to a temporary name in the same directory, fsync it, close it, fsync the
//   directory, rename it to `path`, fsync the directory.
// A reader sees either no file / the old file, or the complete new one. On any failure the
// temporary is removed and the error returned (fsync is never retried).
Status WriteFileDurably(Env* env, const std::string& path, std::string_view data);

// "dir/name" helpers.
std::string JoinPath(const std::string& dir, const std::string& name);
std::string DirName(const std::string& path);
std::string BaseName(const std::string& path);

}  // namespace pidx
