#include "pidx/catalog/input_stream.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "pidx/base/cancel.h"
#include "pidx/base/checksum.h"

namespace pidx::catalog {
namespace {

constexpr size_t kRawBlockBytes = 256 * 1024;
// How long one poll(2) waits before Cancelled() is checked again.
constexpr int kPollSliceMs = 100;

bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(suffix.begin(), suffix.end(), s.end() - static_cast<ptrdiff_t>(suffix.size()),
                    [](char a, char b) {
                      return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
                    });
}

// One descriptor, read in large blocks. Compressed data is decoded from `raw_`; plain data is
// read straight into the caller's buffer (after the few bytes kept from sniffing the magic).
class FdInputStream final : public InputStream {
 public:
  // `pollable`: the descriptor is not a regular file, so a read may wait (for a writer or for
  // data) and is preceded by a poll that observes cancellation.
  FdInputStream(int fd, bool owned, std::string name, uint64_t total, bool pollable)
      : fd_(fd), owned_(owned), pollable_(pollable), name_(std::move(name)), total_(total) {}

  ~FdInputStream() override {
    if (gzip_ready_) inflateEnd(&zs_);
    if (zstd_ != nullptr) ZSTD_freeDStream(zstd_);
    if (owned_) close(fd_);
  }

  // Reads the first bytes and picks the decoder from the magic number.
  Status Init(bool named_gzip, bool named_zstd) {
    raw_.reset(new char[kRawBlockBytes]);
    // A pipe may deliver fewer than 4 bytes per read: keep reading until the magic can be told.
    while (raw_len_ < 4 && !raw_eof_) PIDX_RETURN_IF_ERROR(ReadRaw());
    const auto* b = reinterpret_cast<const unsigned char*>(raw_.get());
    if (raw_len_ >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
      compression_ = Compression::kGzip;
    } else if (raw_len_ >= 4 &&
               ((b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) ||
                // A skippable frame (magic 0x184D2A5?, little-endian) may come
                // first, as some writers put metadata there; zstd -d skips it.
                ((b[0] & 0xf0) == 0x50 && b[1] == 0x2a && b[2] == 0x4d && b[3] == 0x18))) {
      compression_ = Compression::kZstd;
    }
    if (named_gzip && compression_ != Compression::kGzip) {
      return Status::BadData(name_ + ": not gzip data (no gzip magic at the start)");
    }
    if (named_zstd && compression_ != Compression::kZstd) {
      return Status::BadData(name_ + ": not zstd data (no zstd magic at the start)");
    }
    if (compression_ == Compression::kGzip) {
      std::memset(&zs_, 0, sizeof(zs_));
      // 15 + 16: a gzip wrapper only; a zlib or raw stream is not what .gz promises.
      if (inflateInit2(&zs_, 15 + 16) != Z_OK) return Status::Internal("inflateInit2 failed");
      gzip_ready_ = true;
    } else if (compression_ == Compression::kZstd) {
      zstd_ = ZSTD_createDStream();
      if (zstd_ == nullptr) return Status::Internal("ZSTD_createDStream failed");
      ZSTD_initDStream(zstd_);
    }
    return Status::Ok();
  }

  Result<size_t> Read(char* buf, size_t n) override {
    if (n == 0) return size_t{0};
    switch (compression_) {
      case Compression::kNone:
        return ReadPlain(buf, n);
      case Compression::kGzip:
        return ReadGzip(buf, n);
      case Compression::kZstd:
        return ReadZstd(buf, n);
    }
    return Status::Internal("unknown compression");
  }

  Compression compression() const override { return compression_; }
  uint64_t bytes_consumed() const override { return consumed_; }
  uint64_t total_bytes() const override { return total_; }
  const std::string& display_name() const override { return name_; }
  uint64_t raw_xxh3() const override { return hash_.Digest(); }

 private:
  // Appends to raw_ (after moving unread bytes to the front). Sets raw_eof_ at the end.
  Status ReadRaw() {
    if (raw_pos_ > 0) {
      std::memmove(raw_.get(), raw_.get() + raw_pos_, raw_len_ - raw_pos_);
      raw_len_ -= raw_pos_;
      raw_pos_ = 0;
    }
    PIDX_ASSIGN_OR_RETURN(size_t got, ReadFd(raw_.get() + raw_len_, kRawBlockBytes - raw_len_));
    if (got == 0) raw_eof_ = true;
    raw_len_ += got;
    return Status::Ok();
  }

  // Every byte read from the descriptor passes here, so the identity hash covers exactly the
  // bytes that were parsed.
  Result<size_t> ReadFd(char* buf, size_t n) {
    for (;;) {
      if (pollable_) PIDX_RETURN_IF_ERROR(WaitReadable());
      ssize_t got = ::read(fd_, buf, n);
      if (got >= 0) {
        consumed_ += static_cast<uint64_t>(got);
        hash_.Update(std::string_view(buf, static_cast<size_t>(got)));
        return static_cast<size_t>(got);
      }
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status::IoError(name_ + ": read: " + std::strerror(errno));
    }
  }

  // Returns once a read will not block: data, or the end (every writer gone, after one came).
  // A FIFO opened without blocking reports no hang-up before its first writer, so waiting
  // here is also how a FIFO with no writer yet is waited for.
  Status WaitReadable() {
    for (;;) {
      if (Cancelled()) return Status::Interrupted(name_ + ": interrupted while waiting for data");
      struct pollfd p {};
      p.fd = fd_;
      p.events = POLLIN;
      int rc = ::poll(&p, 1, kPollSliceMs);
      if (rc > 0) return Status::Ok();
      if (rc == 0 || errno == EINTR) continue;
      return Status::IoError(name_ + ": poll: " + std::strerror(errno));
    }
  }

  Result<size_t> ReadPlain(char* buf, size_t n) {
    if (raw_pos_ < raw_len_) {
      size_t k = std::min(n, raw_len_ - raw_pos_);
      std::memcpy(buf, raw_.get() + raw_pos_, k);
      raw_pos_ += k;
      return k;
    }
    if (raw_eof_) return size_t{0};
    PIDX_ASSIGN_OR_RETURN(size_t got, ReadFd(buf, n));
    if (got == 0) raw_eof_ = true;
    return got;
  }

  Result<size_t> ReadGzip(char* buf, size_t n) {
    zs_.next_out = reinterpret_cast<Bytef*>(buf);
    zs_.avail_out = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    const uInt out_start = zs_.avail_out;
    while (zs_.avail_out == out_start) {
      if (raw_pos_ == raw_len_) {
        if (!raw_eof_) PIDX_RETURN_IF_ERROR(ReadRaw());
        if (raw_pos_ == raw_len_) {
          if (member_open_) return Status::BadData(name_ + ": truncated gzip data");
          return size_t{0};
        }
      }
      if (!member_open_) {
        // The previous member ended and more bytes follow: a concatenated member.
        if (member_done_) inflateReset(&zs_);
        member_open_ = true;
      }
      zs_.next_in = reinterpret_cast<Bytef*>(raw_.get() + raw_pos_);
      zs_.avail_in = static_cast<uInt>(raw_len_ - raw_pos_);
      int rc = inflate(&zs_, Z_NO_FLUSH);
      raw_pos_ = raw_len_ - zs_.avail_in;
      if (rc == Z_STREAM_END) {
        member_open_ = false;
        member_done_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return Status::BadData(name_ + ": corrupt gzip data (" +
                               (zs_.msg != nullptr ? zs_.msg : zError(rc)) + ")");
      }
    }
    return static_cast<size_t>(out_start - zs_.avail_out);
  }

  Result<size_t> ReadZstd(char* buf, size_t n) {
    ZSTD_outBuffer out{buf, n, 0};
    while (out.pos == 0) {
      if (raw_pos_ == raw_len_) {
        if (!raw_eof_) PIDX_RETURN_IF_ERROR(ReadRaw());
        if (raw_pos_ == raw_len_) {
          if (frame_open_) return Status::BadData(name_ + ": truncated zstd data");
          return size_t{0};
        }
      }
      ZSTD_inBuffer in{raw_.get(), raw_len_, raw_pos_};
      size_t rc = ZSTD_decompressStream(zstd_, &out, &in);
      raw_pos_ = in.pos;
      if (ZSTD_isError(rc)) {
        return Status::BadData(name_ + ": corrupt zstd data (" + ZSTD_getErrorName(rc) + ")");
      }
      // 0 means a frame just ended; anything else that more of it is expected.
      frame_open_ = rc != 0;
    }
    return out.pos;
  }

  int fd_;
  bool owned_;
  bool pollable_;
  std::string name_;
  uint64_t total_;
  uint64_t consumed_ = 0;
  Xxh3Stream hash_;
  Compression compression_ = Compression::kNone;

  std::unique_ptr<char[]> raw_;
  size_t raw_pos_ = 0;
  size_t raw_len_ = 0;
  bool raw_eof_ = false;

  z_stream zs_;
  bool gzip_ready_ = false;
  bool member_open_ = false;
  bool member_done_ = false;

  ZSTD_DStream* zstd_ = nullptr;
  bool frame_open_ = false;
};

Result<std::unique_ptr<InputStream>> Make(int fd, bool owned, std::string name, bool named_gzip,
                                          bool named_zstd) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    if (owned) close(fd);
    return Status::IoError(name + ": stat: " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    if (owned) close(fd);
    return Status::IoError(name + ": cannot read: is a directory");
  }
  const bool regular = S_ISREG(st.st_mode);
  const uint64_t total = regular ? static_cast<uint64_t>(st.st_size) : 0;
  auto stream = std::make_unique<FdInputStream>(fd, owned, std::move(name), total, !regular);
  PIDX_RETURN_IF_ERROR(stream->Init(named_gzip, named_zstd));
  return std::unique_ptr<InputStream>(std::move(stream));
}

}  // namespace

std::string_view StripCompressionSuffix(std::string_view path) {
  if (EndsWithNoCase(path, ".gz")) return path.substr(0, path.size() - 3);
  if (EndsWithNoCase(path, ".zst")) return path.substr(0, path.size() - 4);
  return path;
}

Result<std::unique_ptr<InputStream>> InputStream::Open(const std::string& path) {
  if (path == "-") return Make(STDIN_FILENO, /*owned=*/false, "<stdin>", false, false);
  // O_NONBLOCK: opening a FIFO without a writer would block in open(2), out of reach of a
  // signal's flag; the wait moves to poll(2) instead. It is this descriptor's own flag (an open
  // of /dev/stdin or /dev/fd/N makes a new file description for a pipe), and reads handle
  // EAGAIN by polling.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Status::FromErrno(path + ": cannot open", errno);
  return Make(fd, /*owned=*/true, path, EndsWithNoCase(path, ".gz"), EndsWithNoCase(path, ".zst"));
}

Result<std::unique_ptr<InputStream>> InputStream::FromFd(int fd, bool owned,
                                                         std::string display_name) {
  return Make(fd, owned, std::move(display_name), false, false);
}

InputBuffer::InputBuffer(std::unique_ptr<InputStream> stream, size_t max_record_bytes)
    : stream_(std::move(stream)),
      capacity_(max_record_bytes + 1 + kBlockBytes),
      buf_(new char[capacity_ + kPadding]) {
  // The padding is never parsed, but sanitizers and simdjson's loads may read it.
  std::memset(buf_.get() + capacity_, 0, kPadding);
}

Result<bool> InputBuffer::Fill() {
  if (eof_) return false;
  if (begin_ > 0 && capacity_ - end_ < kBlockBytes) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  PIDX_ASSIGN_OR_RETURN(size_t got, stream_->Read(buf_.get() + end_, capacity_ - end_));
  if (got == 0) {
    eof_ = true;
    return false;
  }
  end_ += got;
  return true;
}

}  // namespace pidx::catalog
