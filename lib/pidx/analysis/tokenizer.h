// Splits folded text into tokens (docs/CONTRACT.md section 2).
//
// Contract, over the code points of the folded text:
//  - A token is a maximal run of letters and digits (general categories L*, N*). Combining
//    marks (M*) stay attached to the run they follow, so decomposed accents never split a
//    word; a mark that follows no run is dropped like any other separator.
//  - Han, Hiragana, Katakana and Hangul characters (by Script or Script_Extensions, so the
//    prolonged sound mark "ー" counts as kana) form runs of their own, also when they touch
//    Latin letters or digits: "iphone15手机" -> "iphone15", "手机". A CJK run of n >= 2
//    characters gives its n-1 overlapping bigrams ("华为手机" -> 华为 为手 手机), a single
//    character gives itself. With cjk_bigrams off, every CJK character is its own token.
//  - Tokens longer than max_token_bytes are dropped (not truncated).
//  - Ill-formed UTF-8 sequences are separators.
//  - ASCII bytes are classified by table; ICU property lookups happen only for non-ASCII
//    code points. Thread-safe.
//  - With word_parts (analyzer version 2, docs/QUERY.md "Product codes"): word runs joined by
//    one inner joiner (`-`, `_`, `.`, `/`, `+`, `#`, or `++`), and a word ending in `+`, `++`
//    or `#` ("c++", "c#"), form a compound. Its parts are tokens as before; the compound adds
//    one more token, its query form: the parts catenated ("wi-fi" -> "wifi", "x86_64" ->
//    "x8664") when every join is `-` or `_`, or `.` or `/` not between two digits; otherwise
//    the compound as written ("3.5mm", "1/2", "c++", "c++11", "gpl-2+"). CJK runs never join.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pidx::analysis {

struct TokenizerOptions {
  bool cjk_bigrams = true;
  size_t max_token_bytes = 64;
  bool word_parts = false;  // compounds (above); analyzer version 2
};

// Appends to *tokens one view per token: into `folded` for words and whole compounds, into
// *arena for catenated compounds (with word_parts; *arena is cleared first and must not be
// touched while the views are used; it may be null without word_parts).
// REQUIRES: `folded` is the output of Fold/AppendFolded (splitting unfolded text works but
// the tokens are then not case folded) and outlives the views.
void SplitFolded(std::string_view folded, const TokenizerOptions& options,
                 std::vector<std::string_view>* tokens, std::string* arena = nullptr);

// The tokens a query word meets: like SplitFolded, but a compound gives only its query form
// (not its parts), so "wi-fi" is the one token "wifi" and "c++" the one token "c++". A
// compound whose query form is longer than max_token_bytes gives its parts instead.
void SplitFoldedForQuery(std::string_view folded, const TokenizerOptions& options,
                         std::vector<std::string>* tokens);

// Folds `text` and appends its tokens to *tokens.
void Tokenize(std::string_view text, const TokenizerOptions& options,
              std::vector<std::string>* tokens);

}  // namespace pidx::analysis
