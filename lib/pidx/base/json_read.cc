#include "pidx/base/json_read.h"

#include <fmt/format.h>

namespace pidx {

size_t JsonNestingDepth(std::string_view text, size_t limit) {
  size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // an escaped quote does not end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Result<nlohmann::json> ParseJson(std::string_view text, const std::string& name,
                                 const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return Status::Corrupt(fmt::format("{}: {} bytes of JSON, more than the limit of {}", name,
                                       text.size(), limits.max_bytes));
  }
  if (JsonNestingDepth(text, limits.max_depth) > limits.max_depth) {
    return Status::Corrupt(
        fmt::format("{}: JSON nested deeper than {} levels", name, limits.max_depth));
  }
  // nlohmann reports where the text is malformed only through its exception; it stops here.
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corrupt(name + ": malformed JSON: " + e.what());
  }
}

}  // namespace pidx
