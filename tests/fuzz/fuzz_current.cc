// libFuzzer target: CURRENT as SnapshotStore::ReadCurrent reads it, served by an in-memory Env.
// When the first byte is even, the rest is the version line and gets its right checksum line.
#include <cstddef>
#include <cstdint>
#include <string>

#include "pidx/base/checksum.h"
#include "pidx/snapshot/snapshot_store.h"

namespace {

class OneFileEnv final : public pidx::Env {
 public:
  explicit OneFileEnv(std::string current) : current_(std::move(current)) {}
  pidx::Result<std::unique_ptr<pidx::WritableFile>> NewTempFile(const std::string&,
                                                                const std::string&) override {
    return pidx::Status::IoError("read-only");
  }
  pidx::Result<bool> RemoveAbandonedTemp(const std::string&, bool) override {
    return pidx::Status::IoError("read-only");
  }
  pidx::Result<std::string> ReadFile(const std::string& path) override {
    if (path == "/idx/CURRENT") return current_;
    return pidx::Status::NotFound(path);
  }
  pidx::Result<std::shared_ptr<const pidx::MappedFile>> MapFile(const std::string& p) override {
    return pidx::Status::NotFound(p);
  }
  pidx::Status Rename(const std::string&, const std::string&) override {
    return pidx::Status::IoError("read-only");
  }
  pidx::Status SyncDir(const std::string&) override { return pidx::Status::IoError("read-only"); }
  pidx::Status RemoveFile(const std::string&) override {
    return pidx::Status::IoError("read-only");
  }
  pidx::Status CreateDir(const std::string&) override { return pidx::Status::IoError("read-only"); }
  pidx::Result<std::vector<std::string>> ListDir(const std::string&) override {
    return std::vector<std::string>{};
  }
  bool FileExists(const std::string& path) override {
    return path == "/idx" || path == "/idx/versions" || path == "/idx/CURRENT";
  }
  pidx::Result<uint64_t> FileSize(const std::string&) override { return current_.size(); }
  pidx::Result<int64_t> FileMtimeMs(const std::string&) override { return int64_t{0}; }

 private:
  std::string current_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) text += "\n" + pidx::Hex64(pidx::Xxh3(text)) + "\n";
  OneFileEnv env(std::move(text));
  auto store = pidx::snapshot::SnapshotStore::Open(&env, "/idx", false);
  if (!store.ok()) std::abort();
  auto v = store->ReadCurrent();
  (void)v;
  return 0;
}
