// Snowball stemming (Debian's libstemmer, the one file that sees it) for the text fields whose
// schema entry asks for it ("stem": "english", docs/QUERY.md "Stemming"). The catalog's tokens
// and a query's tokens on that field go through the same stemmer, so "browsers" meets
// "browser". Thread-safe: each thread keeps its own libstemmer state per language.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pidx::analysis {

// The algorithms libstemmer offers ("english", "french", "porter", ...), sorted.
std::vector<std::string> StemmerLanguages();

// Replaces *token (folded UTF-8) with its stem in `language`.
// REQUIRES: `language` is one of StemmerLanguages() (catalog::Schema checks the name against
// the same list, which a test keeps equal to libstemmer's).
void Stem(std::string_view language, std::string* token);

}  // namespace pidx::analysis
