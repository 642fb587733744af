// Process-wide cancellation: main's SIGINT/SIGTERM handler records the signal; long loops
// check Cancelled() and return Status::Interrupted, so cleanup runs on the normal error
// path and main re-raises the signal (exit 130/143). The seed lists "cancellation that nobody
// checks" as a silent-failure cause: every stage loop checks it.
#pragma once

#include <atomic>

namespace pidx {

inline std::atomic<int>& CancelSignal() {
  static std::atomic<int> sig{0};
  return sig;
}
inline bool Cancelled() { return CancelSignal().load(std::memory_order_relaxed) != 0; }

}  // namespace pidx
