// Durations as the contract writes them: "500ms", "5s", "2m", "1h", and "0" (no wait).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pidx/base/status.h"

namespace pidx {

// Milliseconds; kUsage naming the text when it is not a duration.
Result<int64_t> ParseDurationMs(std::string_view text);
// The shortest exact form: 0, 500ms, 5s, 2m, 1h.
std::string FormatDurationMs(int64_t ms);

// A byte size: a number with an optional binary unit K, M, G (also KiB/MiB/GiB, KB/MB/GB,
// all powers of 1024), e.g. 64M, 1G, 65536. kUsage on anything else.
Result<uint64_t> ParseByteSize(std::string_view text);

// The current time as RFC 3339 UTC with milliseconds: "2026-11-25T23:41:37.123Z".
std::string NowRfc3339();

// Milliseconds on a monotonic clock, for measuring durations.
int64_t MonotonicMs();

}  // namespace pidx
