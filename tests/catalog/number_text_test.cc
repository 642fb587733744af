// CanonicalNumberText: equal decimal numbers get one text, different ones never share it
// (docs/FORMAT.md, "Content hash").
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "pidx/catalog/number_text.h"

using pidx::catalog::CanonicalNumberText;

TEST_CASE("equal numbers written differently have one canonical text") {
  for (const char* seven : {"7", "7.0", "7.00", "7e0", "7E0", "7e+0", "7e-0", "+7", "007", "0.7e1",
                            "700e-2", "70000000e-7", "0007.000"}) {
    INFO(seven);
    CHECK(CanonicalNumberText(seven) == "7");
  }
  CHECK(CanonicalNumberText("19.90") == "19.9");
  CHECK(CanonicalNumberText("19.9") == "19.9");
  CHECK(CanonicalNumberText("-19.90") == "-19.9");
  CHECK(CanonicalNumberText("100") == "100");
  CHECK(CanonicalNumberText("1e2") == "100");
  CHECK(CanonicalNumberText("0.005") == "0.005");
  CHECK(CanonicalNumberText("5e-3") == "0.005");
  CHECK(CanonicalNumberText("1e21") == "1000000000000000000000");
  CHECK(CanonicalNumberText("1e22") == "1e22");
  CHECK(CanonicalNumberText("1.5e300") == "1.5e300");
  CHECK(CanonicalNumberText("15e299") == "1.5e300");
  CHECK(CanonicalNumberText("2e-9") == "2e-9");
  CHECK(CanonicalNumberText("0.0000002") == "0.0000002");
  CHECK(CanonicalNumberText("0.00000002") == "2e-8");
  CHECK(CanonicalNumberText("0.000002") == "0.000002");
  CHECK(CanonicalNumberText("1e0000000000000000000000002") == "100");
}

TEST_CASE("zero has one text, without a sign") {
  for (const char* zero : {"0", "-0", "+0", "0.0", "-0.000", "0e5", "-0e-5", "000"}) {
    INFO(zero);
    CHECK(CanonicalNumberText(zero) == "0");
  }
}

TEST_CASE("numbers that differ keep different texts, also beyond double precision") {
  CHECK(CanonicalNumberText("0.1") != CanonicalNumberText("0.10000000000000001"));
  CHECK(CanonicalNumberText("12345678901234567890") != CanonicalNumberText("12345678901234567891"));
  CHECK(CanonicalNumberText("7") != CanonicalNumberText("-7"));
  CHECK(CanonicalNumberText("7") != CanonicalNumberText("70"));
  CHECK(CanonicalNumberText("7.01") != CanonicalNumberText("7.1"));
}

TEST_CASE("a canonical text is its own canonical text, and round-trips the value") {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    // A random decimal: mantissa digits, a point somewhere, an exponent.
    std::string digits = std::to_string(rng() % 100000000);
    const int point = static_cast<int>(rng() % (digits.size() + 1));
    std::string text = (rng() % 2 ? "-" : "") + digits.substr(0, point) +
                       (point < static_cast<int>(digits.size()) ? "." + digits.substr(point) : "");
    if (text == "-" || text.empty() || text.back() == '.' || text.front() == '.' ||
        text.rfind("-.", 0) == 0) {
      text = digits;
    }
    if (rng() % 2) text += "e" + std::to_string(static_cast<int>(rng() % 60) - 30);
    INFO(text);
    const std::string c = CanonicalNumberText(text);
    CHECK(CanonicalNumberText(c) == c);
    CHECK(std::stold(c) == Approx(std::stold(text)).epsilon(1e-12));
  }
}

TEST_CASE("text that is not a number is returned as is") {
  for (const char* junk : {"", "-", "abc", "1.2.3", "1e", "e5", "1e+", "0x10", "1,5"}) {
    INFO(junk);
    CHECK(CanonicalNumberText(junk) == junk);
  }
}
