#include "pidx/base/number.h"

#include <cmath>
#include <cstdlib>
#include <random>
#include <regex>
#include <string>

#include <catch2/catch.hpp>

using pidx::ParseDecimal;
using pidx::ParseUnsigned;

namespace {

// Independent oracles: what the contract says a number is, written without from_chars.
struct Expect {
  bool ok;
  uint64_t u = 0;
  double d = 0;
};

Expect UnsignedOracle(const std::string& s, uint64_t min, uint64_t max) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return {false};
  std::string digits = s.substr(std::min(s.find_first_not_of('0'), s.size()));
  const std::string kMax = "18446744073709551615";
  if (digits.size() > kMax.size() || (digits.size() == kMax.size() && digits > kMax)) {
    return {false};
  }
  uint64_t v = 0;  // cannot overflow: at most kMax, checked above as text
  for (char c : digits) v = v * 10 + static_cast<unsigned>(c - '0');
  const uint64_t u = v;
  return {u >= min && u <= max, u};
}

Expect DecimalOracle(const std::string& s, double min, double max) {
  static const std::regex kForm("[0-9]+(\\.[0-9]+)?");
  if (!std::regex_match(s, kForm)) return {false};
  const double v = std::strtod(s.c_str(), nullptr);
  return {std::isfinite(v) && v >= min && v <= max, 0, v};
}

std::string RandomText(std::mt19937_64& rng) {
  static const std::string kAlphabet = "0123456789012345678901234.-+eEinfaxNIF \t\n_";
  std::uniform_int_distribution<int> kind(0, 5);
  std::uniform_int_distribution<size_t> len(0, 24);
  std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
  std::string junk;
  const size_t n = len(rng);
  for (size_t i = 0; i < n; ++i) junk.push_back(kAlphabet[pick(rng)]);
  switch (kind(rng)) {
    case 0:
      return junk;
    case 1:
      return std::to_string(rng());  // any uint64
    case 2:
      return std::to_string(rng() % 1000);
    case 3: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(rng() % 6),
                    std::uniform_real_distribution<double>(0, 2)(rng));
      return buf;
    }
    case 4:  // a number with junk before or after it
      return (rng() % 2 ? junk.substr(0, 1) : "") + std::to_string(rng() % 100000) +
             (rng() % 2 ? junk.substr(0, 2) : "");
    default:  // at and past the edge of uint64
      return std::vector<std::string>{"18446744073709551615",
                                      "18446744073709551616",
                                      "99999999999999999999",
                                      "000000000000000000000000042",
                                      "-1",
                                      "-0",
                                      "+1",
                                      "0x10",
                                      "1e3",
                                      "nan",
                                      "inf",
                                      "1e400",
                                      "0.",
                                      ".5",
                                      ""}[rng() % 15];
  }
}

}  // namespace

TEST_CASE("ParseUnsigned agrees with an independent oracle on random text and ranges") {
  std::mt19937_64 rng(20261201);
  for (int i = 0; i < 20000; ++i) {
    const std::string text = RandomText(rng);
    uint64_t a = rng() % 3 == 0 ? rng() : rng() % 2000;
    uint64_t b = rng() % 3 == 0 ? UINT64_MAX : rng() % 2000;
    if (a > b) std::swap(a, b);
    const Expect want = UnsignedOracle(text, a, b);
    auto got = ParseUnsigned(text, a, b);
    INFO("text \"" << text << "\" range [" << a << ", " << b << "]");
    REQUIRE(got.ok() == want.ok);
    if (got.ok()) {
      CHECK(*got == want.u);
    } else {
      CHECK(got.status().kind() == pidx::StatusKind::kUsage);
    }
  }
}

TEST_CASE("ParseDecimal agrees with an independent oracle on random text and ranges") {
  std::mt19937_64 rng(1201);
  for (int i = 0; i < 20000; ++i) {
    const std::string text = RandomText(rng);
    double a = std::uniform_real_distribution<double>(0, 1.5)(rng);
    double b = rng() % 4 == 0 ? 1e300 : std::uniform_real_distribution<double>(0, 1.5)(rng);
    if (a > b) std::swap(a, b);
    const Expect want = DecimalOracle(text, a, b);
    auto got = ParseDecimal(text, a, b);
    INFO("text \"" << text << "\" range [" << a << ", " << b << "]");
    REQUIRE(got.ok() == want.ok);
    if (got.ok()) CHECK(*got == Approx(want.d).epsilon(1e-15));
  }
}

TEST_CASE("what strtoull and strtod accept is refused: sign, NaN, inf, exponent, junk, overflow") {
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "0x10", "1e3", "nan", "inf", "1.0", "1k",
                          "99999999999999999999", "18446744073709551616"}) {
    INFO(bad);
    auto r = ParseUnsigned(bad);
    REQUIRE(!r.ok());
    CHECK(r.status().message().find(std::string("\"") + bad + "\"") != std::string::npos);
  }
  CHECK(*ParseUnsigned("18446744073709551615") == UINT64_MAX);
  CHECK(*ParseUnsigned("007") == 7);
  CHECK(!ParseUnsigned("0", 1, 8).ok());
  CHECK(!ParseUnsigned("9", 1, 8).ok());
  for (const char* bad : {"nan", "NaN", "inf", "-0.1", "+0.5", "1e400", "1e-3", "0.", ".5", "0,5",
                          "0.5x", " 0.5", "1.5"}) {
    INFO(bad);
    CHECK(!ParseDecimal(bad, 0, 1).ok());
  }
  CHECK(*ParseDecimal("0.25", 0, 1) == 0.25);
  CHECK(*ParseDecimal("1", 0, 1) == 1.0);
  CHECK(*ParseDecimal("0", 0, 1) == 0.0);
  // Too small for a double is 0, not an error; too large is out of range, never infinity.
  CHECK(*ParseDecimal("0." + std::string(400, '0') + "1", 0, 1) == 0.0);
  CHECK(!ParseDecimal(std::string(400, '9'), 0, 1e308).ok());
}
