// UTF-8 validation for catalog text that simdjson does not see (CSV/TSV fields).
// Valid means RFC 3629: shortest-form sequences only, no surrogates (U+D800..U+DFFF), nothing
// above U+10FFFF. ASCII, the common case for product feeds, is checked 8 bytes at a time.
#pragma once

#include <cstddef>
#include <string_view>

namespace pidx::catalog {

// Offset of the first byte of the first invalid sequence, or npos when `s` is valid UTF-8.
size_t FindInvalidUtf8(std::string_view s);

inline bool IsValidUtf8(std::string_view s) { return FindInvalidUtf8(s) == std::string_view::npos; }

}  // namespace pidx::catalog
