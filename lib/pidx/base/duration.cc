#include "pidx/base/duration.h"

#include "pidx/base/number.h"

#include <chrono>
#include <ctime>
#include <utility>

#include <fmt/format.h>

namespace pidx {

namespace {
// The digits that start `text` and the unit after them.
std::pair<std::string_view, std::string_view> SplitNumber(std::string_view text) {
  size_t n = 0;
  while (n < text.size() && text[n] >= '0' && text[n] <= '9') ++n;
  return {text.substr(0, n), text.substr(n)};
}
}  // namespace

Result<int64_t> ParseDurationMs(std::string_view text) {
  auto bad = [&] {
    return Status::Usage("invalid duration \"" + std::string(text) +
                         "\" (expected e.g. 500ms, 5s, 2m, 1h or 0)");
  };
  if (text == "0") return int64_t{0};
  auto [digits, unit] = SplitNumber(text);
  auto n = ParseUnsigned(digits, 0, INT64_MAX);
  if (!n.ok()) return bad();
  int64_t mult;
  if (unit == "ms") {
    mult = 1;
  } else if (unit == "s") {
    mult = 1000;
  } else if (unit == "m") {
    mult = 60 * 1000;
  } else if (unit == "h") {
    mult = 3600 * 1000;
  } else {
    return bad();
  }
  const auto ms = static_cast<int64_t>(*n);
  if (ms > INT64_MAX / mult) return bad();
  return ms * mult;
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  auto bad = [&] {
    return Status::Usage("invalid size \"" + std::string(text) +
                         "\" (expected e.g. 64M, 1G, 512K or a number of bytes)");
  };
  auto [digits, unit] = SplitNumber(text);
  auto parsed = ParseUnsigned(digits);
  if (!parsed.ok()) return bad();
  const uint64_t n = *parsed;
  int shift = 0;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "K" || unit == "KB" || unit == "KiB" || unit == "k") {
    shift = 10;
  } else if (unit == "M" || unit == "MB" || unit == "MiB") {
    shift = 20;
  } else if (unit == "G" || unit == "GB" || unit == "GiB") {
    shift = 30;
  } else {
    return bad();
  }
  if (n > (UINT64_MAX >> shift)) return bad();
  return n << shift;
}

std::string FormatDurationMs(int64_t ms) {
  if (ms == 0) return "0";
  if (ms % (3600 * 1000) == 0) return std::to_string(ms / (3600 * 1000)) + "h";
  if (ms % (60 * 1000) == 0) return std::to_string(ms / (60 * 1000)) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string NowRfc3339() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

int64_t MonotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace pidx
