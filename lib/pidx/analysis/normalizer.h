// NFKC case folding of UTF-8 text (Unicode NFKC_Casefold, as ICU's
// Normalizer2::getNFKCCasefoldInstance defines it): compatibility forms are unified
// (full-width "ＡＢＣ１２３" -> "abc123"), case is folded, composed and decomposed accents
// agree ("CAFÉ" -> "café"), default-ignorable code points are removed.
//
// Contract:
//  - Output is always well-formed UTF-8. Ill-formed input sequences are replaced by U+FFFD
//    (one per maximal ill-formed subpart) before folding, so no input can crash or leak
//    invalid bytes into terms.
//  - Plain ASCII never reaches ICU: it is lowercased byte by byte, which is exactly what
//    NFKC_Casefold does to ASCII. Mixed text is folded piece by piece between ASCII
//    whitespace (which is normalization-inert), so its ASCII words also skip ICU; the result
//    equals folding the whole text at once (FoldWithIcu).
//  - All functions are thread-safe: the ICU instance is immutable and shared.
#pragma once

#include <string>
#include <string_view>

namespace pidx::analysis {

// True if every byte of `text` is below 0x80.
bool IsAscii(std::string_view text);

// Appends the NFKC case folding of `text` to *out.
void AppendFolded(std::string_view text, std::string* out);

// The same, and with `fold_accents` the accents of Latin letters are removed after folding
// ("naïve" -> "naive", "crème brûlée" -> "creme brulee", "øresund" -> "oresund", "æ" -> "ae"):
// NFD, drop the nonspacing marks (Mn) that follow a Latin letter, NFC. Marks on other scripts
// stay (the dakuten of "ガ", the breve of Cyrillic "й", Indic vowel signs change the letter).
// ASCII pieces still skip ICU entirely.
void AppendFolded(std::string_view text, bool fold_accents, std::string* out);

// The NFKC case folding of `text`.
std::string Fold(std::string_view text);

// Folds all of `text` through ICU, without any fast path. The reference the fast paths are
// tested against; not for production use.
std::string FoldWithIcu(std::string_view text, bool fold_accents = false);

}  // namespace pidx::analysis
