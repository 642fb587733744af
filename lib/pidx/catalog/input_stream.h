// Bytes of one catalog file, decompressed, read in large blocks.
//
// InputStream is the byte source: a path, or "-" for standard input, with gzip (.gz, zlib) and
// zstd (.zst, libzstd streaming) decompressed transparently. Compression is told by the magic
// bytes at the start of the data (1f 8b = gzip, 28 b5 2f fd = zstd), so a compressed stdin
// works too; a name ending in .gz/.zst whose data lacks the magic is bad data. Concatenated
// gzip members and zstd frames are read one after the other, as gzip -d and zstd -d do.
//
// InputBuffer is the window the readers parse in place: it holds at least one whole record of
// up to `max_record_bytes` plus a block, followed by simdjson's padding, so memory stays
// bounded whatever the file's size.
//
// Each input is opened once and read once: a pipe, /dev/stdin or a FIFO cannot be read again,
// so the file's identity (size and XXH3 of its bytes as stored, compressed or not) is computed
// from the very bytes the reader consumes. A descriptor that is not a regular file is waited on
// with poll(2) in short slices that check Cancelled(), and a FIFO is opened without blocking: a
// FIFO with no writer yet (at open or while reading) waits for one, and SIGINT/SIGTERM end the
// wait with kInterrupted.
//
// Errors: a missing file is kNotFound, any other open/read failure kIoError, a truncated or
// corrupt .gz/.zst stream kBadData, a signal while waiting for data kInterrupted; every message
// starts with the display name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pidx/base/status.h"

namespace pidx::catalog {

enum class Compression { kNone, kGzip, kZstd };

class InputStream {
 public:
  virtual ~InputStream() = default;

  // Opens `path` ("-" = standard input, which is not closed afterwards).
  static Result<std::unique_ptr<InputStream>> Open(const std::string& path);
  // Reads from an open descriptor; takes ownership when `owned` (closes it). For stdin and
  // pipes in tests. The size is known when it is a regular file (fstat).
  static Result<std::unique_ptr<InputStream>> FromFd(int fd, bool owned, std::string display_name);

  // Reads up to `n` decompressed bytes into `buf`. Returns the count; 0 only at the end.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;

  virtual Compression compression() const = 0;
  // Bytes of the file consumed so far (compressed bytes for .gz/.zst).
  virtual uint64_t bytes_consumed() const = 0;
  // The file's size, 0 when unknown (stdin, pipes).
  virtual uint64_t total_bytes() const = 0;
  // The path as given, or "<stdin>".
  virtual const std::string& display_name() const = 0;
  // XXH3-64 of the bytes of the file consumed so far (as stored: compressed bytes for
  // .gz/.zst). At the end of the input it is the whole file's, with bytes_consumed() its size.
  virtual uint64_t raw_xxh3() const = 0;
};

// The name without a trailing ".gz"/".zst" (case-insensitive): what tells the format.
std::string_view StripCompressionSuffix(std::string_view path);

class InputBuffer {
 public:
  // Bytes guaranteed readable (of unspecified value) after data() + size(): what simdjson
  // needs to parse in place.
  static constexpr size_t kPadding = 64;
  static constexpr size_t kBlockBytes = 256 * 1024;

  InputBuffer(std::unique_ptr<InputStream> stream, size_t max_record_bytes);

  // The unconsumed bytes.
  const char* data() const { return buf_.get() + begin_; }
  size_t size() const { return end_ - begin_; }
  // REQUIRES: n <= size().
  void Consume(size_t n) { begin_ += n; }
  bool eof() const { return eof_; }

  // Appends more bytes after the unconsumed ones (moving them to the front when needed).
  // Returns false, with eof() set, when the stream is exhausted.
  // REQUIRES: size() <= max_record_bytes + 1, so a block always fits.
  Result<bool> Fill();
  // Drops the unconsumed bytes; used to skip an over-long record without keeping it.
  void Discard() { begin_ = end_ = 0; }

  InputStream& stream() { return *stream_; }
  const InputStream& stream() const { return *stream_; }

 private:
  std::unique_ptr<InputStream> stream_;
  size_t capacity_;  // bytes usable for data, padding excluded
  std::unique_ptr<char[]> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
};

}  // namespace pidx::catalog
