#include "support/fault_env.h"

namespace pidx::testing {
namespace {

class FaultFile final : public WritableFile {
 public:
  FaultFile(FaultEnv* env, std::unique_ptr<WritableFile> base, std::string path)
      : env_(env), base_(std::move(base)), path_(std::move(path)) {}
  Status Append(std::string_view data) override {
    PIDX_RETURN_IF_ERROR(env_->Tick("write " + path_));
    return base_->Append(data);
  }
  Status Sync() override {
    PIDX_RETURN_IF_ERROR(env_->Tick("fsync " + path_));
    return base_->Sync();
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

}  // namespace

Status FaultEnv::Tick(const std::string& what) {
  int n = ++count_;
  bool fail = (mode_ == Mode::kFailOnce && n == k_) || (mode_ == Mode::kFailFrom && n >= k_);
  if (!fail) return Status::Ok();
  ++injected_;
  return Status::FromErrno(what + " (injected)", err_);
}

Result<std::unique_ptr<WritableFile>> FaultEnv::NewWritableFile(const std::string& path) {
  PIDX_RETURN_IF_ERROR(Tick("create " + path));
  PIDX_ASSIGN_OR_RETURN(auto file, base_->NewWritableFile(path));
  return std::unique_ptr<WritableFile>(new FaultFile(this, std::move(file), path));
}

Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  PIDX_RETURN_IF_ERROR(Tick("rename " + from));
  return base_->Rename(from, to);
}

Status FaultEnv::SyncDir(const std::string& dir) {
  PIDX_RETURN_IF_ERROR(Tick("fsync dir " + dir));
  return base_->SyncDir(dir);
}

Status FaultEnv::RemoveFile(const std::string& path) {
  PIDX_RETURN_IF_ERROR(Tick("remove " + path));
  return base_->RemoveFile(path);
}

Status FaultEnv::CreateDir(const std::string& dir) {
  PIDX_RETURN_IF_ERROR(Tick("mkdir " + dir));
  return base_->CreateDir(dir);
}

}  // namespace pidx::testing
