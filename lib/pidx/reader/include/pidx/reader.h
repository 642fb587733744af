// pidx's public C++ reader API (installed as <pidx/reader.h>, in libpidx.so; docs/READER.md).
//
// A Reader opens an index directory written by `pidx build` and serves the version CURRENT
// names: Search and Count have exactly the semantics of `pidx query` (the same parser, the
// analyzer settings and schema stored in the version, results by external id), because they
// are the same code. Refresh() switches to a new CURRENT atomically.
//
// Contract:
// - Open and Refresh open and check every segment of the version before serving it (size,
//   XXH3 checksum, structure, the manifest's counts); a version that fails is never served.
// - Search, Count, Lookup, Info and Refresh may be called from any number of threads at once.
//   Each call works on one version from start to end: a switch never mixes two versions in
//   one answer. A version replaced by Refresh stays open until the last call using it returns,
//   then its files are unmapped.
// - A failed Refresh keeps the version being served and returns why; LastRefreshError() keeps
//   saying it until a later Refresh succeeds.
// - Nothing here writes to the index, takes a lock or logs.
//
// Only standard-library types cross this header; the ABI is that of the C++ compiler and
// standard library that built libpidx.so (GCC's libstdc++ on Debian). Other languages use the
// C API (<pidx/pidx.h>).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pidx::reader {

// What went wrong. The values are those of the C API (PIDX_ERR_*) and stay fixed.
enum class ErrorCode : int {
  kOk = 0,
  kQuerySyntax = 1,      // the query does not parse (the message names the column)
  kNotFound = 2,         // no index, no published version, no such version
  kCorrupt = 3,          // a file of the index failed its checks (checksum, structure, manifest)
  kIoError = 4,          // a read failed
  kConfig = 5,           // the version's schema or analyzer settings are not supported
  kInvalidArgument = 6,  // a bad argument (a null pointer in the C API, a limit too large)
  kInternal = 7,         // a bug
};

// "ok", "query_syntax", "not_found", "corrupt", "io_error", "config", "invalid_argument",
// "internal".
const char* ErrorCodeName(ErrorCode code);

class Error {
 public:
  Error() = default;
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Column of a kQuerySyntax error (counting characters from 1); 0 otherwise.
  size_t column() const { return column_; }
  void set_column(size_t column) { column_ = column; }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  size_t column_ = 0;
};

// The facts of one version, from its manifest (docs/CONTRACT.md section 4).
struct VersionInfo {
  uint64_t version = 0;  // 42 for v000042
  std::string name;      // "v000042"
  uint64_t parent = 0;   // 0: none
  std::string created;   // RFC 3339 UTC
  std::string tool_version;
  std::string operation;        // "build", "rebuild-shard", ...
  std::string operation_shard;  // for rebuild-shard
  uint64_t shards = 0, docs = 0, terms = 0, postings = 0, bytes = 0;
  std::map<std::string, uint64_t> categories;  // raw category -> products
};

struct Hit {
  std::string id;     // external id
  std::string title;  // stored title
  std::string shard;  // shard holding it
};

struct SearchResult {
  uint64_t version = 0;   // the version that answered
  uint64_t total = 0;     // products that match
  std::vector<Hit> hits;  // the first `limit` by external id (byte order, ascending)
  uint64_t shards_searched = 0;
  uint64_t shards_total = 0;
};

struct RefreshResult {
  bool switched = false;  // a new version is now served
  uint64_t from = 0;      // the version served before
  uint64_t to = 0;        // the version served now
};

struct Stats {
  uint64_t refreshes = 0;         // Refresh calls
  uint64_t switches = 0;          // of which switched
  uint64_t failed_refreshes = 0;  // of which failed (the old version kept)
  uint64_t open_versions = 0;     // versions still open: the served one plus any in use
};

struct OpenOptions {
  // 0: the version CURRENT names, and Refresh follows CURRENT. Otherwise that version is
  // served and Refresh never switches (a pinned reader).
  uint64_t version = 0;
};

// The largest `limit` Search accepts (as `pidx query --limit`).
inline constexpr size_t kMaxLimit = 1'000'000'000;

class Reader {
 public:
  // Opens `index_dir` and the version to serve. kNotFound when the directory is not an index
  // or has no published version; kCorrupt / kIoError when the version fails its checks.
  static Error Open(const std::string& index_dir, const OpenOptions& options,
                    std::unique_ptr<Reader>* out);
  static Error Open(const std::string& index_dir, std::unique_ptr<Reader>* out) {
    return Open(index_dir, OpenOptions{}, out);
  }
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // The products matching `query` (docs/QUERY.md): the total and the first `limit` by
  // external id. limit 0 counts only. kInvalidArgument above kMaxLimit.
  Error Search(std::string_view query, size_t limit, SearchResult* out) const;
  // The number of matching products (Search with limit 0).
  Error Count(std::string_view query, uint64_t* total) const;
  // The stored fields of the product with external id `id`; *found false when the served
  // version has no such product.
  Error Lookup(std::string_view id, Hit* out, bool* found) const;
  // The served version's facts.
  VersionInfo Info() const;
  uint64_t version() const;

  // Reads CURRENT; when it names another version than the served one, opens and checks that
  // version and swaps it in. On failure the served version stays and the error is returned.
  // A pinned reader (OpenOptions::version) returns switched=false.
  Error Refresh(RefreshResult* out = nullptr);
  Error LastRefreshError() const;
  Stats GetStats() const;

  const std::string& index_dir() const;

 private:
  struct Impl;
  explicit Reader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The library's version ("0.1.0").
const char* LibraryVersion();

}  // namespace pidx::reader
