#include "pidx/base/env.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace pidx {

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::string DirName(const std::string& path) {
  auto pos = path.rfind('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string BaseName(const std::string& path) {
  auto pos = path.rfind('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::string TempNameFor(const std::string& final_name) {
  static std::atomic<uint64_t> counter{0};
  return ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" + final_name;
}

bool IsStaleTempName(const std::string& name) {
  if (name.rfind(".tmp-", 0) != 0) return false;
  size_t end = name.find('-', 5);
  if (end == std::string::npos || end == 5) return false;
  pid_t pid = 0;
  for (size_t i = 5; i < end; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    pid = pid * 10 + (name[i] - '0');
  }
  if (pid == getpid()) return false;
  // ESRCH: no such process. EPERM means it exists (another user's): not stale.
  return kill(pid, 0) != 0 && errno == ESRCH;
}

Status WriteFileDurably(Env* env, const std::string& path, std::string_view data) {
  const std::string dir = DirName(path);
  const std::string tmp = JoinPath(dir, TempNameFor(BaseName(path)));
  auto file = env->NewWritableFile(tmp);
  if (!file.ok()) return file.status();
  Status s = (*file)->Append(data);
  if (s.ok()) s = (*file)->Sync();
  Status c = (*file)->Close();
  if (s.ok()) s = c;
  // The protocol of docs/RELIABILITY.md: the directory holding the synced temporary is
  // synced before the rename too, so the rename never outruns the file's own entry.
  if (s.ok()) s = env->SyncDir(dir);
  if (s.ok()) s = env->Rename(tmp, path);
  if (!s.ok()) {
    // Best effort: the temporary is garbage either way; a later run also sweeps it.
    (void)env->RemoveFile(tmp);
    return s;
  }
  return env->SyncDir(dir);
}

}  // namespace pidx
