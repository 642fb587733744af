#include "support/fault_env.h"

#include <filesystem>
#include <fstream>
#include <random>

namespace pidx::testing {
namespace {

class FaultFile final : public WritableFile {
 public:
  FaultFile(FaultEnv* env, std::unique_ptr<WritableFile> base)
      : env_(env), base_(std::move(base)), path_(base_->path()) {}
  const std::string& path() const override { return path_; }
  Status Append(std::string_view data) override {
    PIDX_RETURN_IF_ERROR(env_->Tick("write " + path_));
    env_->NoteWrite(path_);
    return base_->Append(data);
  }
  Status Sync() override {
    Status s = env_->Tick("fsync " + path_);
    if (s.ok()) s = base_->Sync();
    env_->NoteSync(path_, s.ok());
    return s;
  }
  Status Close() override {
    Status s = env_->Tick("close " + path_);
    Status c = base_->Close();  // the descriptor is released either way
    return s.ok() ? c : s;
  }

 private:
  FaultEnv* env_;
  std::unique_ptr<WritableFile> base_;
  std::string path_;
};

std::optional<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void Spill(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

}  // namespace

Status FaultEnv::Tick(const std::string& what) {
  int n = ++count_;
  bool fail = (mode_ == Mode::kFailOnce && n == k_) || (mode_ == Mode::kFailFrom && n >= k_);
  if (!fail) return Status::Ok();
  if (++injected_ == 1) {
    std::lock_guard<std::mutex> l(mu_);
    first_injected_ = what;
  }
  return Status::FromErrno(what + " (injected)", err_);
}

std::string FaultEnv::first_injected() const {
  std::lock_guard<std::mutex> l(mu_);
  return first_injected_;
}

void FaultEnv::NoteWrite(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  dirty_.insert(path);
}

void FaultEnv::NoteSync(const std::string& path, bool ok) {
  std::lock_guard<std::mutex> l(mu_);
  if (failed_sync_.count(path) > 0) ++fsync_retries_;
  if (ok) {
    dirty_.erase(path);
  } else {
    failed_sync_.insert(path);
  }
}

Result<std::unique_ptr<WritableFile>> FaultEnv::NewTempFile(const std::string& dir,
                                                            const std::string& label) {
  PIDX_RETURN_IF_ERROR(Tick("create " + JoinPath(dir, label) + " (temporary)"));
  PIDX_ASSIGN_OR_RETURN(auto file, base_->NewTempFile(dir, label));
  const std::string path = file->path();
  {
    std::lock_guard<std::mutex> l(mu_);
    dirty_.insert(path);  // created: its size is not durable either
    ns_.push_back({NsOp::kCreate, DirName(path), "", path, std::nullopt});
  }
  return std::unique_ptr<WritableFile>(new FaultFile(this, std::move(file)));
}

Result<bool> FaultEnv::RemoveAbandonedTemp(const std::string& path, bool dry_run) {
  if (dry_run) return base_->RemoveAbandonedTemp(path, true);
  PIDX_RETURN_IF_ERROR(Tick("remove " + path));
  std::optional<std::string> old = Slurp(path);
  PIDX_ASSIGN_OR_RETURN(bool removed, base_->RemoveAbandonedTemp(path, false));
  if (removed) {
    std::lock_guard<std::mutex> l(mu_);
    if (dirty_.erase(path) > 0) old = std::string();
    ns_.push_back({NsOp::kRemove, DirName(path), "", path, std::move(old)});
  }
  return removed;
}

Result<std::string> FaultEnv::ReadFile(const std::string& path) {
  if (count_reads_) PIDX_RETURN_IF_ERROR(Tick("open " + path));
  return base_->ReadFile(path);
}

Result<std::shared_ptr<const MappedFile>> FaultEnv::MapFile(const std::string& path) {
  if (count_reads_) PIDX_RETURN_IF_ERROR(Tick("open " + path));
  return base_->MapFile(path);
}

Result<std::vector<std::string>> FaultEnv::ListDir(const std::string& dir) {
  if (count_reads_) PIDX_RETURN_IF_ERROR(Tick("opendir " + dir));
  return base_->ListDir(dir);
}

Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  PIDX_RETURN_IF_ERROR(Tick("rename " + from));
  std::optional<std::string> old = Slurp(to);
  PIDX_RETURN_IF_ERROR(base_->Rename(from, to));
  std::lock_guard<std::mutex> l(mu_);
  if (dirty_.erase(from) > 0) dirty_.insert(to);
  ns_.push_back({NsOp::kRename, DirName(to), from, to, std::move(old)});
  return Status::Ok();
}

Status FaultEnv::SyncDir(const std::string& dir) {
  PIDX_RETURN_IF_ERROR(Tick("fsync dir " + dir));
  PIDX_RETURN_IF_ERROR(base_->SyncDir(dir));
  std::lock_guard<std::mutex> l(mu_);
  std::vector<NsOp> rest;
  for (auto& op : ns_) {
    if (op.dir != dir) rest.push_back(std::move(op));
  }
  ns_ = std::move(rest);
  return Status::Ok();
}

Status FaultEnv::RemoveFile(const std::string& path) {
  PIDX_RETURN_IF_ERROR(Tick("remove " + path));
  std::optional<std::string> old = Slurp(path);
  PIDX_RETURN_IF_ERROR(base_->RemoveFile(path));
  std::lock_guard<std::mutex> l(mu_);
  const bool was_dirty = dirty_.erase(path) > 0;
  // A file whose data never became durable comes back (if at all) empty.
  if (was_dirty) old = std::string();
  ns_.push_back({NsOp::kRemove, DirName(path), "", path, std::move(old)});
  return Status::Ok();
}

Status FaultEnv::CreateDir(const std::string& dir) {
  PIDX_RETURN_IF_ERROR(Tick("mkdir " + dir));
  return base_->CreateDir(dir);
}

std::set<std::string> FaultEnv::UnsyncedDirs() const {
  std::lock_guard<std::mutex> l(mu_);
  std::set<std::string> dirs;
  for (const auto& op : ns_) dirs.insert(op.dir);
  return dirs;
}

std::vector<std::string> FaultEnv::SimulatePowerLoss(const PowerLoss& p) {
  namespace fs = std::filesystem;
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> log;
  std::mt19937_64 rng(p.seed);
  // Namespace changes first, newest first, so each revert sees the state its change made.
  std::set<std::string> dirty = dirty_;
  for (auto it = ns_.rbegin(); it != ns_.rend(); ++it) {
    const NsOp& op = *it;
    if (!p.revert_all_dirs && p.revert_dirs.count(op.dir) == 0) continue;
    std::error_code ec;
    switch (op.kind) {
      case NsOp::kCreate:
        fs::remove(op.to, ec);
        dirty.erase(op.to);
        log.push_back("uncreated " + op.to);
        break;
      case NsOp::kRename:
        if (fs::exists(op.to)) fs::rename(op.to, op.from, ec);
        if (dirty.erase(op.to) > 0) dirty.insert(op.from);
        if (op.saved) Spill(op.to, *op.saved);
        log.push_back("unrenamed " + op.from + " -> " + op.to);
        break;
      case NsOp::kRemove:
        if (op.saved) Spill(op.to, *op.saved);
        log.push_back("unremoved " + op.to);
        break;
    }
  }
  // Then data that never reached the disk.
  for (const auto& path : dirty) {
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;
    if (p.garbage) {
      auto size = fs::file_size(path, ec);
      std::string junk(ec ? 0 : size, '\0');
      for (auto& c : junk) c = static_cast<char>(rng());
      Spill(path, junk);
      log.push_back("garbage-filled " + path);
    } else {
      fs::resize_file(path, 0, ec);
      log.push_back("emptied " + path);
    }
  }
  return log;
}

}  // namespace pidx::testing
