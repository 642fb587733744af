#include "pidx/base/status.h"

#include <cstring>

namespace pidx {

const char* StatusKindName(StatusKind kind) {
  switch (kind) {
    case StatusKind::kOk:
      return "ok";
    case StatusKind::kUsage:
      return "usage";
    case StatusKind::kBadData:
      return "bad_data";
    case StatusKind::kNotFound:
      return "not_found";
    case StatusKind::kInternal:
      return "internal";
    case StatusKind::kIoError:
      return "io_error";
    case StatusKind::kLockTimeout:
      return "lock_timeout";
    case StatusKind::kConfig:
      return "config";
    case StatusKind::kFindings:
      return "findings";
    case StatusKind::kCorrupt:
      return "corrupt";
    case StatusKind::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

Status Status::FromErrno(const std::string& what, int err) {
  std::string msg = what + ": " + std::strerror(err);
  if (err == ENOENT) return NotFound(std::move(msg));
  return IoError(std::move(msg));
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(StatusKindName(kind_)) + ": " + message_;
}

Status Status::Annotate(const std::string& prefix) const {
  if (ok()) return *this;
  return Status(kind_, prefix + ": " + message_);
}

}  // namespace pidx
