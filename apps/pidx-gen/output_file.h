// Output files, checked: a write error is an exit code, not a silently short file.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace pidx_gen {

// "-" is standard output. Close() reports any write error seen on the stream, so a full disk
// or a closed pipe is an exit code, not a silently short file.
class OutputFile {
 public:
  bool Open(const std::string& path) {
    path_ = path;
    if (path == "-") {
      file_ = stdout;
    } else {
      file_ = std::fopen(path.c_str(), "wb");
      if (file_ == nullptr) return false;
    }
    // A large buffer keeps the many small per-product writes cheap. It outlives this object
    // because stdout stays open (and may be flushed again) after Close().
    buffer_ = std::make_unique<char[]>(kBufferSize);
    std::setvbuf(file_, buffer_.get(), _IOFBF, kBufferSize);
    if (file_ == stdout) static_cast<void>(buffer_.release());
    return true;
  }

  ~OutputFile() { static_cast<void>(Close()); }

  [[nodiscard]] bool Close() {
    if (file_ == nullptr) return true;
    bool ok = std::ferror(file_) == 0;
    ok = std::fflush(file_) == 0 && ok;
    if (file_ != stdout) ok = std::fclose(file_) == 0 && ok;
    file_ = nullptr;
    return ok;
  }

  bool Write(std::string_view data) {
    return std::fwrite(data.data(), 1, data.size(), file_) == data.size();
  }

  std::FILE* get() const { return file_; }
  const std::string& path() const { return path_; }

 private:
  static constexpr size_t kBufferSize = 1 << 20;
  std::string path_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<char[]> buffer_;
};

}  // namespace pidx_gen
