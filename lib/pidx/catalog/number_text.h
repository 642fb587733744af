// The canonical text of a catalog number (a field of role `number`), so that equal numbers
// give equal content hashes whatever the catalog wrote: 7, 7.0, 7.00, 7e0, +7 and 007 (CSV)
// are all "7" (docs/FORMAT.md, "Content hash").
//
// Equality is exact decimal equality, not double rounding: 0.1 and 0.10000000000000001 are
// different numbers. The form: an optional '-', no leading or trailing zeros, plain notation
// when the decimal point moves at most 21 places right or 6 zeros left of the digits (19.9,
// 100, 0.005), else scientific with one digit before the point (1.5e300, 2e-9); zero is "0"
// (no negative zero). Text that is already in this form, as most catalogs write prices, is
// unchanged.
#pragma once

#include <string>
#include <string_view>

namespace pidx::catalog {

// REQUIRES: `text` is a number as the readers accept it (JSON's grammar, or CSV's: an optional
// sign, digits with at most one '.', an optional exponent). Anything else is returned as is.
std::string CanonicalNumberText(std::string_view text);

}  // namespace pidx::catalog
