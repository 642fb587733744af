#include "pidx/catalog/number_text.h"

#include <cstdint>

namespace pidx::catalog {

std::string CanonicalNumberText(std::string_view text) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  std::string digits;  // every mantissa digit, the point removed
  int64_t exponent = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') digits.push_back(text[i++]);
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      digits.push_back(text[i++]);
      --exponent;
    }
  }
  if (digits.empty()) return std::string(text);
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) exp_negative = text[i++] == '-';
    if (i == text.size()) return std::string(text);
    // Saturated: a finite number's exponent is small, but its text may carry leading zeros.
    int64_t e = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (e < 1000000000000) e = e * 10 + (text[i] - '0');
    }
    exponent += exp_negative ? -e : e;
  }
  if (i != text.size()) return std::string(text);

  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return "0";
  digits.erase(0, first);
  const size_t last = digits.find_last_not_of('0');
  exponent += static_cast<int64_t>(digits.size() - 1 - last);
  digits.resize(last + 1);

  const auto n = static_cast<int64_t>(digits.size());
  std::string out = negative ? "-" : "";
  if (exponent >= 0 && exponent <= 21) {
    out += digits;
    out.append(static_cast<size_t>(exponent), '0');
  } else if (exponent < 0 && -exponent < n) {
    out += digits.substr(0, static_cast<size_t>(n + exponent));
    out += '.';
    out += digits.substr(static_cast<size_t>(n + exponent));
  } else if (exponent < 0 && -exponent - n <= 6) {
    out += "0.";
    out.append(static_cast<size_t>(-exponent - n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (n > 1) out += "." + digits.substr(1);
    out += "e" + std::to_string(exponent + n - 1);
  }
  return out;
}

}  // namespace pidx::catalog
