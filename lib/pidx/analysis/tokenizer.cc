#include "pidx/analysis/tokenizer.h"

#include <array>
#include <cstdint>

#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

#include "pidx/analysis/normalizer.h"

namespace pidx::analysis {
namespace {

enum class CharClass : uint8_t { kSeparator, kWord, kCjk, kMark };

constexpr std::array<bool, 128> kAsciiWord = [] {
  std::array<bool, 128> table{};
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  return table;
}();

bool IsAsciiWordByte(unsigned char b) { return b < 0x80 && kAsciiWord[b]; }

bool IsCjk(UChar32 c) {
  if (c < 0x1100) return false;  // U+1100 (Hangul Jamo) is the first code point of the four
  UErrorCode error = U_ZERO_ERROR;
  switch (uscript_getScript(c, &error)) {
    case USCRIPT_HAN:
    case USCRIPT_HIRAGANA:
    case USCRIPT_KATAKANA:
    case USCRIPT_HANGUL:
      return true;
    case USCRIPT_COMMON:
    case USCRIPT_INHERITED:
      // Letters shared by the CJK scripts, such as the prolonged sound mark U+30FC in
      // "ソニー", have Script=Common; only Script_Extensions says they are kana.
      return uscript_hasScript(c, USCRIPT_KATAKANA) || uscript_hasScript(c, USCRIPT_HIRAGANA) ||
             uscript_hasScript(c, USCRIPT_HAN) || uscript_hasScript(c, USCRIPT_HANGUL);
    default:
      return false;
  }
}

CharClass Classify(UChar32 c) {
  if (c < 0) return CharClass::kSeparator;  // ill-formed UTF-8
  const uint32_t mask = U_GET_GC_MASK(c);
  if (mask & (U_GC_L_MASK | U_GC_N_MASK)) return IsCjk(c) ? CharClass::kCjk : CharClass::kWord;
  if (mask & U_GC_M_MASK) return CharClass::kMark;
  return CharClass::kSeparator;
}

// One pass over the text. CJK bigrams are streamed from the starts of the last two
// characters, so a long run needs no buffer.
class Splitter {
 public:
  // `words` (optional) receives, per token, whether it is a word run (not CJK).
  Splitter(std::string_view text, const TokenizerOptions& options,
           std::vector<std::string_view>* tokens, std::vector<bool>* words = nullptr)
      : text_(text), options_(options), tokens_(tokens), words_(words) {}

  void Run() {
    const auto* s = reinterpret_cast<const uint8_t*>(text_.data());
    const size_t length = text_.size();
    for (size_t i = 0; i < length;) {
      const size_t pos = i;
      if (IsAsciiWordByte(s[i])) {
        // Most text is ASCII words: take the whole word without per-byte dispatch.
        do ++i;
        while (i < length && IsAsciiWordByte(s[i]));
        if (state_ == State::kCjk) EndRun(pos);
        if (state_ == State::kNone) StartRun(State::kWord, pos);
        continue;
      }
      UChar32 c = s[i];
      if (c < 0x80) {
        ++i;
      } else {
        U8_NEXT(s, i, length, c);
      }
      switch (c < 0x80 ? CharClass::kSeparator : Classify(c)) {
        case CharClass::kWord:
          if (state_ == State::kCjk) EndRun(pos);
          if (state_ == State::kNone) StartRun(State::kWord, pos);
          break;
        case CharClass::kCjk:
          if (state_ == State::kWord) EndRun(pos);
          if (state_ == State::kNone) StartRun(State::kCjk, pos);
          StartCjkChar(pos);
          break;
        case CharClass::kMark:
          break;  // extends the current run's last character; outside a run, dropped
        case CharClass::kSeparator:
          EndRun(pos);
          break;
      }
    }
    EndRun(length);
  }

 private:
  enum class State { kNone, kWord, kCjk };

  void StartRun(State state, size_t pos) {
    state_ = state;
    run_begin_ = pos;
    cjk_chars_ = 0;
  }

  void StartCjkChar(size_t pos) {
    if (options_.cjk_bigrams) {
      if (cjk_chars_ >= 2) Emit(prev_char_, pos);
    } else if (cjk_chars_ >= 1) {
      Emit(last_char_, pos);
    }
    prev_char_ = last_char_;
    last_char_ = pos;
    ++cjk_chars_;
  }

  void EndRun(size_t pos) {
    if (state_ == State::kWord) {
      Emit(run_begin_, pos, true);
    } else if (state_ == State::kCjk) {
      const bool bigram = options_.cjk_bigrams && cjk_chars_ >= 2;
      Emit(bigram ? prev_char_ : last_char_, pos);
    }
    state_ = State::kNone;
  }

  void Emit(size_t begin, size_t end, bool word = false) {
    if (end - begin > options_.max_token_bytes) return;
    tokens_->push_back(text_.substr(begin, end - begin));
    if (words_ != nullptr) words_->push_back(word);
  }

  std::string_view text_;
  const TokenizerOptions& options_;
  std::vector<std::string_view>* tokens_;
  std::vector<bool>* words_;
  State state_ = State::kNone;
  size_t run_begin_ = 0;
  size_t cjk_chars_ = 0;  // CJK characters seen in the current run
  size_t last_char_ = 0;  // start of the run's last CJK character
  size_t prev_char_ = 0;  // start of the one before it
};

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsJoiner(char c) {
  return c == '-' || c == '_' || c == '.' || c == '/' || c == '+' || c == '#';
}

// A run of word tokens joined by inner joiners, or one word with a symbol suffix.
struct Compound {
  size_t first = 0;  // index of its first part in the token list
  size_t parts = 0;
  std::string_view whole;  // as written, suffix included
  bool catenable = false;
};

// Finds the compounds among the word tokens of `folded` (views into it, in order).
void FindCompounds(std::string_view folded, const std::vector<std::string_view>& tokens,
                   const std::vector<bool>& words, std::vector<Compound>* out) {
  auto begin_of = [&](size_t i) { return static_cast<size_t>(tokens[i].data() - folded.data()); };
  auto end_of = [&](size_t i) { return begin_of(i) + tokens[i].size(); };
  // A word "touches" the text after it when that text is not a letter, digit or mark: the
  // suffix of "c++" must end the word ("c++x" is not "c++" followed by "x").
  auto free_after = [&](size_t pos) {
    if (pos >= folded.size()) return true;
    const auto b = static_cast<unsigned char>(folded[pos]);
    return b < 0x80 && !IsAsciiWordByte(b);
  };
  for (size_t i = 0; i < tokens.size();) {
    if (!words[i]) {
      ++i;
      continue;
    }
    Compound c;
    c.first = i;
    c.parts = 1;
    c.catenable = true;
    size_t j = i;
    while (j + 1 < tokens.size() && words[j + 1]) {
      const size_t gap_begin = end_of(j), gap_end = begin_of(j + 1);
      const std::string_view gap = folded.substr(gap_begin, gap_end - gap_begin);
      const bool one = gap.size() == 1 && IsJoiner(gap[0]);
      if (!one && gap != "++") break;
      const char before = folded[gap_begin - 1], after = folded[gap_end];
      const bool between_digits = IsAsciiDigit(before) && IsAsciiDigit(after);
      if (gap[0] == '+' || gap[0] == '#' || ((gap[0] == '.' || gap[0] == '/') && between_digits)) {
        c.catenable = false;
      }
      ++j;
      ++c.parts;
    }
    size_t end = end_of(j);
    for (std::string_view suffix : {"++", "+", "#"}) {
      if (folded.substr(end, suffix.size()) == suffix && free_after(end + suffix.size())) {
        end += suffix.size();
        c.catenable = false;
        break;
      }
    }
    if (c.parts >= 2 || end > end_of(j)) {
      c.whole = folded.substr(begin_of(i), end - begin_of(i));
      out->push_back(c);
    }
    i = j + 1;
  }
}

void AppendCatenated(const std::vector<std::string_view>& tokens, const Compound& c,
                     std::string* out) {
  for (size_t k = c.first; k < c.first + c.parts; ++k) out->append(tokens[k]);
}

}  // namespace

void SplitFolded(std::string_view folded, const TokenizerOptions& options,
                 std::vector<std::string_view>* tokens, std::string* arena) {
  if (!options.word_parts) {
    Splitter(folded, options, tokens).Run();
    return;
  }
  thread_local std::vector<std::string_view> own;
  thread_local std::vector<bool> words;
  thread_local std::vector<Compound> compounds;
  own.clear();
  words.clear();
  compounds.clear();
  Splitter(folded, options, &own, &words).Run();
  FindCompounds(folded, own, words, &compounds);
  tokens->insert(tokens->end(), own.begin(), own.end());
  if (compounds.empty()) return;
  std::string own_arena;
  if (arena == nullptr) arena = &own_arena;  // only when nothing catenates (documented)
  // Catenations are never longer than the text, so the arena never reallocates under the
  // views handed out below.
  arena->clear();
  arena->reserve(folded.size());
  for (const Compound& c : compounds) {
    if (!c.catenable) {
      if (c.whole.size() <= options.max_token_bytes) tokens->push_back(c.whole);
      continue;
    }
    const size_t start = arena->size();
    AppendCatenated(own, c, arena);
    if (arena->size() - start > options.max_token_bytes) {
      arena->resize(start);
      continue;
    }
    tokens->emplace_back(arena->data() + start, arena->size() - start);
  }
}

void SplitFoldedForQuery(std::string_view folded, const TokenizerOptions& options,
                         std::vector<std::string>* tokens) {
  std::vector<std::string_view> own;
  std::vector<bool> words;
  std::vector<Compound> compounds;
  Splitter(folded, options, &own, &words).Run();
  if (options.word_parts) FindCompounds(folded, own, words, &compounds);
  size_t next = 0;  // the next compound
  for (size_t i = 0; i < own.size();) {
    if (next < compounds.size() && compounds[next].first == i) {
      const Compound& c = compounds[next++];
      std::string form;
      if (c.catenable) {
        AppendCatenated(own, c, &form);
      } else {
        form = std::string(c.whole);
      }
      if (form.size() <= options.max_token_bytes) {
        tokens->push_back(std::move(form));
        i += c.parts;
        continue;
      }
      // Too long to be indexed whole: its parts were indexed, so they are what it meets.
    }
    tokens->emplace_back(own[i]);
    ++i;
  }
}

void Tokenize(std::string_view text, const TokenizerOptions& options,
              std::vector<std::string>* tokens) {
  std::string folded;
  AppendFolded(text, &folded);
  std::vector<std::string_view> views;
  std::string arena;
  SplitFolded(folded, options, &views, &arena);
  tokens->insert(tokens->end(), views.begin(), views.end());
}

}  // namespace pidx::analysis
