#include "pidx/base/exit_code.h"

namespace pidx {

int ExitCodeFor(const Status& status) {
  switch (status.kind()) {
    case StatusKind::kOk:
      return kExitOk;
    case StatusKind::kFindings:
      return kExitFindings;
    // A damaged index is a finding of the tool, not a bug: verify/rollback refuse with 1.
    case StatusKind::kCorrupt:
      return kExitFindings;
    case StatusKind::kUsage:
      return kExitUsage;
    case StatusKind::kBadData:
      return kExitBadData;
    case StatusKind::kNotFound:
      return kExitNoInput;
    case StatusKind::kInternal:
      return kExitInternal;
    case StatusKind::kIoError:
      return kExitIoError;
    case StatusKind::kLockTimeout:
      return kExitLockTimeout;
    case StatusKind::kConfig:
      return kExitConfig;
    case StatusKind::kInterrupted:
      return 128 + 15;  // main re-raises the real signal
  }
  return kExitInternal;
}

}  // namespace pidx
