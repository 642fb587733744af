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
  Splitter(std::string_view text, const TokenizerOptions& options,
           std::vector<std::string_view>* tokens)
      : text_(text), options_(options), tokens_(tokens) {}

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
      Emit(run_begin_, pos);
    } else if (state_ == State::kCjk) {
      const bool bigram = options_.cjk_bigrams && cjk_chars_ >= 2;
      Emit(bigram ? prev_char_ : last_char_, pos);
    }
    state_ = State::kNone;
  }

  void Emit(size_t begin, size_t end) {
    if (end - begin <= options_.max_token_bytes)
      tokens_->push_back(text_.substr(begin, end - begin));
  }

  std::string_view text_;
  const TokenizerOptions& options_;
  std::vector<std::string_view>* tokens_;
  State state_ = State::kNone;
  size_t run_begin_ = 0;
  size_t cjk_chars_ = 0;  // CJK characters seen in the current run
  size_t last_char_ = 0;  // start of the run's last CJK character
  size_t prev_char_ = 0;  // start of the one before it
};

}  // namespace

void SplitFolded(std::string_view folded, const TokenizerOptions& options,
                 std::vector<std::string_view>* tokens) {
  Splitter(folded, options, tokens).Run();
}

void Tokenize(std::string_view text, const TokenizerOptions& options,
              std::vector<std::string>* tokens) {
  std::string folded;
  AppendFolded(text, &folded);
  std::vector<std::string_view> views;
  SplitFolded(folded, options, &views);
  tokens->insert(tokens->end(), views.begin(), views.end());
}

}  // namespace pidx::analysis
