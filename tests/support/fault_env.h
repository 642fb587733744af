// An Env that fails file-system operations on purpose (STYLE.md practice 9): the k-th
// counted operation (create, write, fsync, close, rename, directory fsync, remove, mkdir, and
// with count_reads also every open for reading) fails with a chosen errno, either once or
// from k on ("the process died at k": nothing after it reaches the disk, not even cleanup).
//
// It also keeps the books a power loss would read (issue 8, battery item 3): which files hold
// data written since their last fsync, and which creates, renames and removes a directory
// has not made durable yet by an fsync of that directory. SimulatePowerLoss() then turns the
// real directory into a state the disk could hold after the power went out at that point.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pidx/base/env.h"

namespace pidx::testing {

class FaultEnv final : public Env {
 public:
  enum class Mode { kNone, kFailOnce, kFailFrom };
  explicit FaultEnv(Env* base = Env::Default()) : base_(base) {}

  // Operations are counted from 1 after each Arm().
  void Arm(Mode mode, int k, int err) {
    mode_ = mode;
    k_ = k;
    err_ = err;
    count_ = 0;
    injected_ = 0;
  }
  // Also count (and fail) opens for reading: ReadFile, MapFile, ListDir.
  void set_count_reads(bool on) { count_reads_ = on; }
  int operations() const { return count_; }
  int injected() const { return injected_; }
  // The operation that was injected first ("fsync /x/.tmp-..."), for messages.
  std::string first_injected() const;
  // fsync calls on a file after an fsync of that same file failed: must stay 0
  // (a failed fsync may have dropped the dirty pages; retrying would report a false success).
  int fsync_retries() const { return fsync_retries_; }

  // Counts one operation; returns the injected error, if this one fails.
  Status Tick(const std::string& what);

  // ---- power-loss books ----
  struct PowerLoss {
    // Directories (absolute paths as the code under test named them) whose un-synced
    // namespace changes are reverted; the others keep them (every subset is possible).
    std::set<std::string> revert_dirs;
    bool revert_all_dirs = false;
    // Data written and not fsynced: dropped (file truncated to 0) or replaced by garbage.
    bool garbage = false;
    uint64_t seed = 1;
  };
  // Applies `p` to the real files. Call after the run under test returned (its crash point
  // was the first failing operation of a kFailFrom arm). Returns what it changed, for messages.
  std::vector<std::string> SimulatePowerLoss(const PowerLoss& p);
  // Directories with namespace changes not made durable yet.
  std::set<std::string> UnsyncedDirs() const;

  // Hooks for the file wrapper.
  void NoteWrite(const std::string& path);
  void NoteSync(const std::string& path, bool ok);

  Result<std::unique_ptr<WritableFile>> NewTempFile(const std::string& dir,
                                                    const std::string& label) override;
  Result<bool> RemoveAbandonedTemp(const std::string& path, bool dry_run) override;
  Result<std::string> ReadFile(const std::string& path) override;
  Result<std::shared_ptr<const MappedFile>> MapFile(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override;
  Status CreateDir(const std::string& dir) override;
  Status RemoveDir(const std::string& dir) override { return base_->RemoveDir(dir); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override;
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Result<uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  Result<int64_t> FileMtimeMs(const std::string& path) override { return base_->FileMtimeMs(path); }

 private:
  struct NsOp {
    enum Kind { kCreate, kRename, kRemove } kind;
    std::string dir;
    std::string from, to;              // kCreate/kRemove: `to` is the path
    std::optional<std::string> saved;  // kRename: old content of `to`; kRemove: content
  };
  Env* base_;
  Mode mode_ = Mode::kNone;
  int k_ = 0;
  int err_ = 0;
  bool count_reads_ = false;
  std::atomic<int> count_{0};
  std::atomic<int> injected_{0};
  std::atomic<int> fsync_retries_{0};

  mutable std::mutex mu_;
  std::string first_injected_;
  std::set<std::string> dirty_;        // paths with data not fsynced
  std::set<std::string> failed_sync_;  // paths whose fsync failed once
  std::vector<NsOp> ns_;               // namespace changes not made durable
};

}  // namespace pidx::testing
