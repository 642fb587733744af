// The one parser for numbers that come from outside: command-line flags, PIDX_* variables and
// the job-array variables of a scale-out worker. Strict on purpose (std::stod and strtoull
// accept "nan", "inf", "1e400", " 7", "+7", "0x10", and turn "-1" into 18446744073709551615):
//   an unsigned number is one or more ASCII digits, nothing else;
//   a decimal is digits with an optional '.' and more digits ("0.2", "1", "0.05").
// No sign, exponent, whitespace, hex or suffix is accepted; a value that does not fit, or lies
// outside [min, max], is refused, never saturated.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pidx/base/status.h"

namespace pidx {

// kUsage saying why, e.g. "\"-1\" is not a whole number" or "\"9\" is not in [1, 8]".
// The caller names the flag or variable.
Result<uint64_t> ParseUnsigned(std::string_view text, uint64_t min = 0, uint64_t max = UINT64_MAX);

// REQUIRES: min <= max, both finite. The result is finite and in [min, max].
Result<double> ParseDecimal(std::string_view text, double min, double max);

}  // namespace pidx
