// Errors are values: every fallible call returns a Status or a Result<T>.
// The set of kinds is closed; each maps to exactly one exit code (exit_code.h).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace pidx {

enum class StatusKind {
  kOk,
  kUsage,        // bad command line
  kBadData,      // bad catalog data
  kNotFound,     // input missing: catalog file, index, version, shard
  kInternal,     // a bug
  kIoError,      // read/write/fsync/rename failure
  kLockTimeout,  // a lock could not be taken in time
  kConfig,       // bad schema file or PIDX_* setting
  kFindings,     // verify/diff found something (not an error of the tool)
  kCorrupt,      // on-disk data failed a checksum or structure check
  kInterrupted,  // SIGINT/SIGTERM
};

const char* StatusKindName(StatusKind kind);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Usage(std::string msg) { return Status(StatusKind::kUsage, std::move(msg)); }
  static Status BadData(std::string msg) { return Status(StatusKind::kBadData, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(StatusKind::kNotFound, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(StatusKind::kInternal, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(StatusKind::kIoError, std::move(msg)); }
  static Status LockTimeout(std::string msg) {
    return Status(StatusKind::kLockTimeout, std::move(msg));
  }
  static Status Config(std::string msg) { return Status(StatusKind::kConfig, std::move(msg)); }
  static Status Findings(std::string msg) { return Status(StatusKind::kFindings, std::move(msg)); }
  static Status Corrupt(std::string msg) { return Status(StatusKind::kCorrupt, std::move(msg)); }
  static Status Interrupted(std::string msg) {
    return Status(StatusKind::kInterrupted, std::move(msg));
  }
  // errno-based I/O error: "<what>: <strerror(err)>".
  static Status FromErrno(const std::string& what, int err);

  bool ok() const { return kind_ == StatusKind::kOk; }
  StatusKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  // "kind: message", for logs and tests.
  std::string ToString() const;

  // Returns a copy whose message is "<prefix>: <message>".
  Status Annotate(const std::string& prefix) const;

 private:
  Status(StatusKind kind, std::string msg) : kind_(kind), message_(std::move(msg)) {}
  StatusKind kind_ = StatusKind::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok());
  }
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T&& operator*() && { return std::move(*value_); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace pidx

#define PIDX_CONCAT_INNER(a, b) a##b
#define PIDX_CONCAT(a, b) PIDX_CONCAT_INNER(a, b)

// Returns from the enclosing function when `expr` (a Status) is not ok.
#define PIDX_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::pidx::Status pidx_status_ = (expr);        \
    if (!pidx_status_.ok()) return pidx_status_; \
  } while (0)

// `lhs` = value of `rexpr` (a Result<T>), or returns its Status.
#define PIDX_ASSIGN_OR_RETURN(lhs, rexpr) \
  PIDX_ASSIGN_OR_RETURN_IMPL(PIDX_CONCAT(pidx_result_, __LINE__), lhs, rexpr)
#define PIDX_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                               \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
