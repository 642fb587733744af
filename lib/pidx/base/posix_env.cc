#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "pidx/base/env.h"
#include "pidx/base/map_limit.h"

namespace pidx {
namespace {

class PosixWritableFile final : public WritableFile {
 public:
  // `lock_fd` is a dup of `fd` holding the flock: a flock belongs to the open file
  // description, so it survives Close() of `fd` and goes with the last descriptor.
  PosixWritableFile(std::string path, int fd, int lock_fd)
      : path_(std::move(path)), fd_(fd), lock_fd_(lock_fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
    ::close(lock_fd_);
  }
  const std::string& path() const override { return path_; }
  Status Append(std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::IoError("write " + path_ + ": " + std::strerror(errno));
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  Status Sync() override {
    if (::fsync(fd_) != 0) return Status::IoError("fsync " + path_ + ": " + std::strerror(errno));
    return Status::Ok();
  }
  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Status::IoError("close " + path_ + ": " + std::strerror(errno));
    return Status::Ok();
  }

 private:
  std::string path_;
  int fd_;
  int lock_fd_;
};

// Same file (device and inode) as `st`.
bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Files mapped at this moment, and the test-only cap PIDX_TEST_MAP_LIMIT puts on them
// (base/map_limit.h): the kernel's own cap (vm.max_map_count, 65530 mappings per process)
// takes 65k segments to reach, this one a few hundred, so a test can prove cheaply that no
// command keeps every segment of a version mapped. Unset (or 0): no cap but the kernel's.
std::atomic<uint64_t> g_live_mappings{0};

class PosixMappedFile final : public MappedFile {
 public:
  PosixMappedFile(void* addr, size_t size) : addr_(addr), size_(size) {
    if (addr_ != nullptr) ++g_live_mappings;
  }
  ~PosixMappedFile() override {
    if (addr_ != nullptr) {
      ::munmap(addr_, size_);
      --g_live_mappings;
    }
  }
  std::string_view data() const override {
    return size_ == 0 ? std::string_view()
                      : std::string_view(static_cast<const char*>(addr_), size_);
  }

 private:
  void* addr_;
  size_t size_;
};

const char* FileTypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

Status ErrnoStatus(const std::string& what, const std::string& path) {
  return Status::FromErrno(what + " " + path, errno);
}

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> NewTempFile(const std::string& dir,
                                                    const std::string& label) override {
    if (!IsPlainName(label)) {
      return Status::Usage("refusing to create a file named \"" + label + "\" in " + dir);
    }
    // A sweep that lists the directory between our open and our flock may take the lock and
    // remove the file: then the name no longer leads to our inode, and we start over with a
    // new name. Once we hold the lock no sweep removes it.
    for (int attempt = 0;; ++attempt) {
      const std::string path = JoinPath(dir, TempName(label));
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd < 0) return Status::IoError("create " + path + ": " + std::strerror(errno));
      int lock_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
      if (lock_fd < 0) {
        Status s = Status::IoError("dup " + path + ": " + std::strerror(errno));
        ::close(fd);
        (void)::unlink(path.c_str());
        return s;
      }
      struct stat by_fd, by_name;
      const bool locked = ::flock(lock_fd, LOCK_EX | LOCK_NB) == 0;
      if (locked && ::fstat(fd, &by_fd) == 0 && ::lstat(path.c_str(), &by_name) == 0 &&
          SameFile(by_fd, by_name)) {
        return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd, lock_fd));
      }
      ::close(fd);
      ::close(lock_fd);
      if (attempt == 8) return Status::IoError("create " + path + ": removed while being created");
    }
  }

  Result<bool> RemoveAbandonedTemp(const std::string& path, bool dry_run) override {
    // O_NOFOLLOW: a symlink planted under a temporary's name is not ours; O_NONBLOCK: a FIFO
    // does not block the open.
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT || errno == ELOOP || errno == EACCES || errno == EPERM) return false;
      return ErrnoStatus("open", path);
    }
    bool removed = false;
    struct stat by_fd, by_name;
    if (::fstat(fd, &by_fd) == 0 && S_ISREG(by_fd.st_mode) && ::flock(fd, LOCK_EX | LOCK_NB) == 0 &&
        ::lstat(path.c_str(), &by_name) == 0 && SameFile(by_fd, by_name)) {
      // The writer is gone (its flock went with it). Unlinking while holding the lock: no
      // writer can own this inode again, temporaries are never reopened.
      if (dry_run) {
        removed = true;
      } else if (::unlink(path.c_str()) == 0) {
        removed = true;
      } else if (errno != ENOENT) {
        Status s = ErrnoStatus("remove", path);
        ::close(fd);
        return s;
      }
    }
    ::close(fd);
    return removed;
  }

  Result<std::string> ReadFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open", path);
    std::string out;
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        Status s = Status::IoError("read " + path + ": " + std::strerror(errno));
        ::close(fd);
        return s;
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  }

  Result<std::shared_ptr<const MappedFile>> MapFile(const std::string& path) override {
    // O_NONBLOCK: opening a FIFO put in place of an index file would otherwise wait for ever
    // for a writer. O_NOFOLLOW: a symlink in place of the file is refused, not followed out
    // of the index. The type check below then refuses anything that is not a regular file.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
      if (errno == ELOOP) return Status::Corrupt(path + " is a symbolic link, not a regular file");
      return ErrnoStatus("open", path);
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      Status s = ErrnoStatus("stat", path);
      ::close(fd);
      return s;
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status::Corrupt(path + " is " + FileTypeName(st.st_mode) + ", not a regular file");
    }
    size_t size = static_cast<size_t>(st.st_size);
    void* addr = nullptr;
    if (size > 0 && TestMapLimit() > 0 && g_live_mappings.load() >= TestMapLimit()) {
      ::close(fd);
      return Status::IoError("mmap " + path + ": " + std::strerror(ENOMEM) +
                             " (PIDX_TEST_MAP_LIMIT=" + std::to_string(TestMapLimit()) +
                             " files mapped at once)");
    }
    if (size > 0) {
      addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (addr == MAP_FAILED) {
        Status s = Status::IoError("mmap " + path + ": " + std::strerror(errno));
        ::close(fd);
        return s;
      }
    }
    ::close(fd);
    return std::shared_ptr<const MappedFile>(new PosixMappedFile(addr, size));
  }

  // Every file pidx writes (segments, manifests, CURRENT, plans, fragments, metrics files) is
  // a temporary renamed over its name. The name is replaced only when it is absent, a regular
  // file, or a symlink (replaced itself, never written through) to a regular file or to
  // nothing: a device, FIFO, socket or directory there (or behind the symlink) is refused and
  // left as it is. As root, `--metrics-file /dev/null` or `plan --out /dev/full` renamed a
  // regular file over the device node itself.
  Status Rename(const std::string& from, const std::string& to) override {
    struct stat st {};
    if (::lstat(to.c_str(), &st) == 0) {
      const char* what = nullptr;
      if (S_ISLNK(st.st_mode)) {
        struct stat target {};
        if (::stat(to.c_str(), &target) == 0 && !S_ISREG(target.st_mode)) {
          what = FileTypeName(target.st_mode);
        }
      } else if (!S_ISREG(st.st_mode)) {
        what = FileTypeName(st.st_mode);
      }
      if (what != nullptr) {
        return Status::IoError("rename " + from + " -> " + to + ": " + to + " is " + what +
                               ", not a file; refusing to replace it");
      }
    }
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return Status::IoError("rename " + from + " -> " + to + ": " + std::strerror(errno));
    }
    return Status::Ok();
  }

  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::IoError("open dir " + dir + ": " + std::strerror(errno));
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Status::IoError("fsync dir " + dir + ": " + std::strerror(err));
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus("remove", path);
    return Status::Ok();
  }

  Status CreateDir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::IoError("mkdir " + dir + ": " + std::strerror(errno));
    }
    return Status::Ok();
  }

  Status RemoveDir(const std::string& dir) override {
    if (::rmdir(dir.c_str()) != 0) return ErrnoStatus("remove directory", dir);
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return ErrnoStatus("list", dir);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path);
    return static_cast<uint64_t>(st.st_size);
  }

  Result<int64_t> FileMtimeMs(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path);
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv env;
  return &env;
}

}  // namespace pidx
