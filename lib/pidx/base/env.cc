#include "pidx/base/env.h"

#include <sys/random.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "pidx/base/checksum.h"

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

bool IsPlainName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos;
}

std::string TempName(const std::string& label) {
  uint64_t random = 0;
  // getrandom on a small buffer does not fail once the pool is initialized; if it ever did,
  // the counter still makes the name unique within the process, and O_EXCL makes any
  // collision (or planted name) an error instead of a hijack.
  static std::atomic<uint64_t> counter{0};
  if (getrandom(&random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) {
    random = counter.fetch_add(1) ^ (static_cast<uint64_t>(getpid()) << 32);
  }
  return ".tmp-" + std::to_string(getpid()) + "-" + Hex64(random) + "-" + label;
}

bool IsTempName(std::string_view name) {
  constexpr std::string_view kPrefix = ".tmp-";
  if (name.substr(0, kPrefix.size()) != kPrefix) return false;
  name.remove_prefix(kPrefix.size());
  size_t digits = 0;
  while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9') ++digits;
  if (digits == 0 || digits > 10 || digits >= name.size() || name[digits] != '-') return false;
  name.remove_prefix(digits + 1);
  if (name.size() < 17 || name[16] != '-') return false;
  for (size_t i = 0; i < 16; ++i) {
    const char c = name[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return IsPlainName(name.substr(17));
}

Status WriteFileDurably(Env* env, const std::string& path, std::string_view data) {
  const std::string dir = DirName(path);
  const std::string name = BaseName(path);
  if (!IsPlainName(name)) return Status::Usage("refusing to write " + path + ": not a file name");
  auto file = env->NewTempFile(dir, name);
  if (!file.ok()) return file.status();
  const std::string tmp = (*file)->path();
  Status s = (*file)->Append(data);
  if (s.ok()) s = (*file)->Sync();
  Status c = (*file)->Close();
  if (s.ok()) s = c;
  // The protocol of docs/RELIABILITY.md: the directory holding the synced temporary is
  // synced before the rename too, so the rename never outruns the file's own entry.
  if (s.ok()) s = env->SyncDir(dir);
  if (s.ok()) s = env->Rename(tmp, path);
  if (!s.ok()) {
    // Best effort: the temporary is garbage either way; a later run also sweeps it (the flock
    // is still held here, so no sweep can take it before this removal).
    (void)env->RemoveFile(tmp);
    return s;
  }
  // `file` (and its flock) lives until here: between Close and the rename the temporary is
  // still visibly owned by a live writer.
  return env->SyncDir(dir);
}

}  // namespace pidx
