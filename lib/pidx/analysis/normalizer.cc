#include "pidx/analysis/normalizer.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

namespace pidx::analysis {
namespace {

// ICU takes int32 lengths. Only a single whitespace-free piece over 1 GiB is ever cut, and
// then only a combining sequence straddling the cut could fold differently: acceptable for
// input that no product catalog contains.
constexpr size_t kMaxIcuChunk = size_t{1} << 30;

[[noreturn]] void IcuFailure(const char* what, UErrorCode error) {
  if (error == U_MEMORY_ALLOCATION_ERROR) throw std::bad_alloc();
  // Missing ICU data or an ICU bug: folding differently would silently change every term,
  // so there is no safe way to continue.
  std::fprintf(stderr, "pidx: fatal: ICU %s failed: %s\n", what, u_errorName(error));
  std::abort();
}

const icu::Normalizer2& CasefoldNormalizer() {
  static const icu::Normalizer2* const instance = [] {
    UErrorCode error = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFKCCasefoldInstance(error);
    if (U_FAILURE(error) || n == nullptr) IcuFailure("getNFKCCasefoldInstance", error);
    return n;
  }();
  return *instance;
}

const icu::Normalizer2& NfdNormalizer() {
  static const icu::Normalizer2* const instance = [] {
    UErrorCode error = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFDInstance(error);
    if (U_FAILURE(error) || n == nullptr) IcuFailure("getNFDInstance", error);
    return n;
  }();
  return *instance;
}

const icu::Normalizer2& NfcNormalizer() {
  static const icu::Normalizer2* const instance = [] {
    UErrorCode error = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(error);
    if (U_FAILURE(error) || n == nullptr) IcuFailure("getNFCInstance", error);
    return n;
  }();
  return *instance;
}

// Latin letters that carry their accent inside (no decomposition), folded as Lucene's
// ASCIIFoldingFilter and FTS5's remove_diacritics=2 fold them. Input is already case folded.
const char* LatinBaseOf(UChar32 c) {
  switch (c) {
    case 0x00F8:
      return "o";  // ø
    case 0x0111:
      return "d";  // đ
    case 0x00F0:
      return "d";  // ð
    case 0x0142:
      return "l";  // ł
    case 0x0127:
      return "h";  // ħ
    case 0x0167:
      return "t";  // ŧ
    case 0x0131:
      return "i";  // ı (dotless i)
    case 0x00E6:
      return "ae";  // æ
    case 0x0153:
      return "oe";  // œ
    case 0x00FE:
      return "th";  // þ
    default:
      return nullptr;
  }
}

void Normalize(const icu::Normalizer2& normalizer, std::string_view text, std::string* out) {
  icu::StringByteSink<std::string> sink(out, static_cast<int32_t>(text.size()));
  UErrorCode error = U_ZERO_ERROR;
  normalizer.normalizeUTF8(0, icu::StringPiece(text.data(), static_cast<int32_t>(text.size())),
                           sink, nullptr, error);
  if (U_FAILURE(error)) IcuFailure("normalizeUTF8", error);
}

// Removes the accents of Latin letters from folded, well-formed text (one whitespace-free
// piece, so far below ICU's int32 limit in practice; longer pieces are left as they are).
// Only marks that follow a Latin letter go: a mark on a kana (the dakuten of "ガ"), on an
// Indic letter or on a Cyrillic one ("й") changes the letter, not its accent.
void FoldAccentsOfPiece(std::string_view piece, std::string* out) {
  if (piece.size() > kMaxIcuChunk / 4) {
    out->append(piece);
    return;
  }
  std::string decomposed;
  Normalize(NfdNormalizer(), piece, &decomposed);
  std::string stripped;
  stripped.reserve(decomposed.size());
  const auto* s = reinterpret_cast<const uint8_t*>(decomposed.data());
  const int32_t length = static_cast<int32_t>(decomposed.size());
  bool after_latin = false;
  for (int32_t i = 0; i < length;) {
    const int32_t start = i;
    UChar32 c;
    U8_NEXT(s, i, length, c);
    if (c < 0) {
      stripped.append(decomposed, start, i - start);
      after_latin = false;
      continue;
    }
    if ((U_GET_GC_MASK(c) & U_GC_MN_MASK) != 0) {
      if (!after_latin) stripped.append(decomposed, start, i - start);
      continue;
    }
    UErrorCode error = U_ZERO_ERROR;
    after_latin = uscript_getScript(c, &error) == USCRIPT_LATIN;
    if (const char* base = after_latin ? LatinBaseOf(c) : nullptr) {
      stripped.append(base);
    } else {
      stripped.append(decomposed, start, i - start);
    }
  }
  Normalize(NfcNormalizer(), stripped, out);
}

// The ASCII whitespace bytes; each is normalization-inert under NFKC_Casefold (no character
// combines with it on either side), so folding may be split around them.
bool IsAsciiSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

void AppendAsciiLower(std::string_view ascii, std::string* out) {
  const size_t old_size = out->size();
  out->resize(old_size + ascii.size());
  char* dst = out->data() + old_size;
  for (size_t i = 0; i < ascii.size(); ++i) {
    const auto c = static_cast<unsigned char>(ascii[i]);
    dst[i] = static_cast<char>(c + (static_cast<unsigned>(c - 'A') < 26u ? 32 : 0));
  }
}

// ICU's UTF-8 normalizer copies ill-formed bytes through unchanged, so they are replaced
// first. Returns false, without touching *out, when `text` is already well-formed: the common
// case costs one scan and no copy.
bool ReplaceIllFormed(std::string_view text, std::string* out) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const int64_t length = static_cast<int64_t>(text.size());
  int64_t copied = 0;
  bool replaced = false;
  for (int64_t i = 0; i < length;) {
    const int64_t start = i;
    UChar32 c;
    U8_NEXT(s, i, length, c);
    if (c >= 0) continue;
    if (!replaced) out->reserve(text.size() + 16);
    replaced = true;
    out->append(text.substr(copied, start - copied));
    out->append("\xEF\xBF\xBD");  // U+FFFD
    copied = i;
  }
  if (replaced) out->append(text.substr(copied));
  return replaced;
}

void NormalizeWellFormed(std::string_view text, std::string* out) {
  const icu::Normalizer2& normalizer = CasefoldNormalizer();
  icu::StringByteSink<std::string> sink(out,
                                        static_cast<int32_t>(std::min(text.size(), kMaxIcuChunk)));
  while (!text.empty()) {
    size_t cut = text.size();
    if (cut > kMaxIcuChunk) {
      cut = kMaxIcuChunk;
      while ((static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    }
    UErrorCode error = U_ZERO_ERROR;
    normalizer.normalizeUTF8(0, icu::StringPiece(text.data(), static_cast<int32_t>(cut)), sink,
                             nullptr, error);
    if (U_FAILURE(error)) IcuFailure("normalizeUTF8", error);
    text.remove_prefix(cut);
  }
}

void FoldThroughIcu(std::string_view text, std::string* out, bool fold_accents = false) {
  std::string replaced;
  if (ReplaceIllFormed(text, &replaced)) text = replaced;
  if (!fold_accents) {
    NormalizeWellFormed(text, out);
    return;
  }
  std::string folded;
  NormalizeWellFormed(text, &folded);
  if (IsAscii(folded)) {
    out->append(folded);  // "ＡＢＣ" folds to ASCII: nothing to strip
  } else {
    FoldAccentsOfPiece(folded, out);
  }
}

}  // namespace

bool IsAscii(std::string_view text) {
  const char* p = text.data();
  size_t n = text.size();
  // Eight bytes per step: this check runs on every field of every product.
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    if (word & 0x8080808080808080ull) return false;
  }
  for (; n > 0; ++p, --n) {
    if (static_cast<unsigned char>(*p) & 0x80) return false;
  }
  return true;
}

void AppendFolded(std::string_view text, std::string* out) { AppendFolded(text, false, out); }

void AppendFolded(std::string_view text, bool fold_accents, std::string* out) {
  if (IsAscii(text)) {
    AppendAsciiLower(text, out);
    return;
  }
  // Only the whitespace-separated pieces that hold a non-ASCII byte go through ICU; the
  // others are lowercased in place. Whitespace is inert, so this equals folding all at once.
  size_t i = 0;
  while (i < text.size()) {
    size_t non_ascii = i;
    while (non_ascii < text.size() && !(static_cast<unsigned char>(text[non_ascii]) & 0x80)) {
      ++non_ascii;
    }
    if (non_ascii == text.size()) {
      AppendAsciiLower(text.substr(i), out);
      return;
    }
    size_t piece_begin = non_ascii;
    while (piece_begin > i && !IsAsciiSpace(text[piece_begin - 1])) --piece_begin;
    size_t piece_end = non_ascii;
    while (piece_end < text.size() && !IsAsciiSpace(text[piece_end])) ++piece_end;
    AppendAsciiLower(text.substr(i, piece_begin - i), out);
    FoldThroughIcu(text.substr(piece_begin, piece_end - piece_begin), out, fold_accents);
    i = piece_end;
  }
}

std::string Fold(std::string_view text) {
  std::string out;
  AppendFolded(text, &out);
  return out;
}

std::string FoldWithIcu(std::string_view text, bool fold_accents) {
  std::string out;
  FoldThroughIcu(text, &out, fold_accents);
  return out;
}

}  // namespace pidx::analysis
