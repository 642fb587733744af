#include "pidx/analysis/stemmer.h"

#include <libstemmer.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>

namespace pidx::analysis {
namespace {

struct StemmerDeleter {
  void operator()(sb_stemmer* s) const { sb_stemmer_delete(s); }
};
using StemmerPtr = std::unique_ptr<sb_stemmer, StemmerDeleter>;

sb_stemmer* StemmerFor(std::string_view language) {
  // libstemmer's state is not shareable between threads: one per thread and language.
  thread_local std::map<std::string, StemmerPtr, std::less<>> stemmers;
  auto it = stemmers.find(language);
  if (it != stemmers.end()) return it->second.get();
  sb_stemmer* s = sb_stemmer_new(std::string(language).c_str(), "UTF_8");
  if (s == nullptr) {
    // The schema's check keeps unknown names out, so this is out of memory or a bug: stemming
    // some tokens and not others would silently change terms, so do not go on.
    std::fprintf(stderr, "pidx: fatal: libstemmer has no \"%.*s\" stemmer\n",
                 static_cast<int>(language.size()), language.data());
    std::abort();
  }
  stemmers.emplace(std::string(language), StemmerPtr(s));
  return s;
}

}  // namespace

std::vector<std::string> StemmerLanguages() {
  std::vector<std::string> out;
  for (const char** name = sb_stemmer_list(); *name != nullptr; ++name) out.emplace_back(*name);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void Stem(std::string_view language, std::string* token) {
  if (token->empty()) return;
  sb_stemmer* s = StemmerFor(language);
  const sb_symbol* stemmed =
      sb_stemmer_stem(s, reinterpret_cast<const sb_symbol*>(token->data()),
                      static_cast<int>(std::min<size_t>(token->size(), 1 << 20)));
  if (stemmed == nullptr) throw std::bad_alloc();  // libstemmer's only failure
  token->assign(reinterpret_cast<const char*>(stemmed), static_cast<size_t>(sb_stemmer_length(s)));
}

}  // namespace pidx::analysis
