#include "pidx/base/number.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include <fmt/format.h>

namespace pidx {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

// Quoted for a message; control bytes and long junk must not make the event unreadable.
std::string Shown(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, 64)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (text.size() > 64) out += "...";
  return out + "\"";
}

}  // namespace

Result<uint64_t> ParseUnsigned(std::string_view text, uint64_t min, uint64_t max) {
  if (!AllDigits(text)) return Status::Usage(Shown(text) + " is not a whole number of 0 or more");
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 10);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && (v < min || v > max))) {
    return Status::Usage(fmt::format("{} is not in [{}, {}]", Shown(text), min, max));
  }
  if (ec != std::errc() || p != text.data() + text.size()) {
    return Status::Usage(Shown(text) + " is not a whole number of 0 or more");
  }
  return v;
}

Result<double> ParseDecimal(std::string_view text, double min, double max) {
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const bool ok =
      AllDigits(whole) && (dot == std::string_view::npos || AllDigits(text.substr(dot + 1)));
  if (!ok) return Status::Usage(Shown(text) + " is not a decimal number such as 0.25");
  double v = 0;
  auto [p, ec] =
      std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::fixed);
  // Digits only, so out of range is either a value too small for a double (a whole part of
  // zeros: it is 0 for every purpose) or too large (refused as out of range, never infinity).
  if (ec == std::errc::result_out_of_range &&
      whole.find_first_not_of('0') == std::string_view::npos) {
    ec = std::errc();
    v = 0;
  }
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && !(v >= min && v <= max))) {
    return Status::Usage(fmt::format("{} is not in [{}, {}]", Shown(text), min, max));
  }
  if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v)) {
    return Status::Usage(Shown(text) + " is not a decimal number such as 0.25");
  }
  return v;
}

}  // namespace pidx
