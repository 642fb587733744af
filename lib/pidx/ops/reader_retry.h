// Readers take no lock, so a concurrent `pidx gc` may remove the version CURRENT named when a
// read started (its manifest, or a segment not opened yet). The one loop every reader of the
// current version uses (verify, query): the read starts again on the new CURRENT, at most
// kReaderAttempts times in all. A version asked for by number is never retried: if it is
// gone, it is not found.
#pragma once

#include <string_view>

#include "pidx/base/status.h"
#include "pidx/obs/log.h"

namespace pidx {

inline constexpr int kReaderAttempts = 5;

struct ReaderAttempt {
  int number = 1;     // 1, 2, ...
  bool last = false;  // no further attempt follows: report whatever was found
};

// Calls `once(attempt, &removed)`: it reads and, when what it read was removed meanwhile,
// fills `removed` with what says so (`version`, or the `error` that was met). Unless that
// attempt was the last, the loop logs `restarted_event` at `level` with those fields and
// `attempt`, and calls it again; otherwise it returns what `once` returned.
// `current`: the read is of the current version (the only kind that is retried).
template <typename T, typename Once>
Result<T> ReadRestartingOnGc(bool current, std::string_view restarted_event, LogLevel level,
                             Once&& once) {
  for (int n = 1;; ++n) {
    const ReaderAttempt attempt{n, !current || n >= kReaderAttempts};
    LogFields removed = LogFields::object();
    Result<T> r = once(attempt, &removed);
    if (removed.empty() || attempt.last) return r;
    removed["attempt"] = n;
    Log::Event(level, restarted_event,
               "the version being read was removed by a concurrent gc; reading the new current "
               "version",
               removed);
  }
}

}  // namespace pidx
