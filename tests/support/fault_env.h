// An Env that fails file-system operations on purpose (STYLE.md practice 9): the k-th
// mutating operation (create, write, fsync, close, rename, directory fsync, remove, mkdir)
// fails with a chosen errno, either once or from k on ("the process died at k": nothing
// after it reaches the disk, not even cleanup).
#pragma once

#include <atomic>
#include <string>

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
  int operations() const { return count_; }
  int injected() const { return injected_; }

  // Counts one mutating operation; returns the injected error, if this one fails.
  Status Tick(const std::string& what);

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::string> ReadFile(const std::string& path) override { return base_->ReadFile(path); }
  Result<std::shared_ptr<const MappedFile>> MapFile(const std::string& path) override {
    return base_->MapFile(path);
  }
  Status Rename(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override;
  Status CreateDir(const std::string& dir) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Result<uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  Result<int64_t> FileMtimeMs(const std::string& path) override { return base_->FileMtimeMs(path); }

 private:
  Env* base_;
  Mode mode_ = Mode::kNone;
  int k_ = 0;
  int err_ = 0;
  std::atomic<int> count_{0};
  std::atomic<int> injected_{0};
};

}  // namespace pidx::testing
