// The one table from Status kinds to the process exit codes of the contract
// (docs/CONTRACT.md section 7, docs/CLI.md). Only main() returns one.
#pragma once

#include "pidx/base/status.h"

namespace pidx {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;
inline constexpr int kExitUsage = 64;
inline constexpr int kExitBadData = 65;
inline constexpr int kExitNoInput = 66;
inline constexpr int kExitInternal = 70;
inline constexpr int kExitIoError = 74;
inline constexpr int kExitLockTimeout = 75;
inline constexpr int kExitConfig = 78;

int ExitCodeFor(const Status& status);

}  // namespace pidx
