#include "pidx/catalog/jsonl_reader.h"

#include <simdjson.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace pidx::catalog {
namespace {

namespace od = simdjson::ondemand;

static_assert(InputBuffer::kPadding >= simdjson::SIMDJSON_PADDING,
              "lines are parsed in place, so the window must carry simdjson's padding");

const char* ErrorName(simdjson::error_code e) {
  switch (e) {
    case simdjson::TAPE_ERROR:
      return "TAPE_ERROR";
    case simdjson::STRING_ERROR:
      return "STRING_ERROR";
    case simdjson::T_ATOM_ERROR:
      return "T_ATOM_ERROR";
    case simdjson::F_ATOM_ERROR:
      return "F_ATOM_ERROR";
    case simdjson::N_ATOM_ERROR:
      return "N_ATOM_ERROR";
    case simdjson::NUMBER_ERROR:
      return "NUMBER_ERROR";
    case simdjson::UNCLOSED_STRING:
      return "UNCLOSED_STRING";
    case simdjson::UNESCAPED_CHARS:
      return "UNESCAPED_CHARS";
    case simdjson::INCORRECT_TYPE:
      return "INCORRECT_TYPE";
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
      return "INCOMPLETE_ARRAY_OR_OBJECT";
    case simdjson::NUMBER_OUT_OF_RANGE:
      return "NUMBER_OUT_OF_RANGE";
    case simdjson::DEPTH_ERROR:
      return "DEPTH_ERROR";
    case simdjson::EMPTY:
      return "EMPTY";
    default:
      return "ERROR";
  }
}

std::string Malformed(simdjson::error_code e) {
  return std::string("malformed JSON (") + ErrorName(e) + ": " + simdjson::error_message(e) + ")";
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Consumes a null; false when the value only looked like one ("nul", "nulx").
bool IsNull(od::value& v) {
  bool is_null = false;
  return v.is_null().get(is_null) == simdjson::SUCCESS && is_null;
}

// Walks a value the schema does not use, so that it is validated: On-Demand checks only what
// is read, and a skipped `[1 2 3]`, `tru` or `{"a" 1}` would pass. Every scalar is decoded
// (strings unescaped, numbers parsed, atoms matched) and every container iterated. Recursion
// is bounded: lines nesting deeper than max_depth were refused before parsing.
simdjson::error_code Validate(od::value v) {
  od::json_type type;
  if (auto e = v.type().get(type)) return e;
  switch (type) {
    case od::json_type::array: {
      od::array array;
      if (auto e = v.get_array().get(array)) return e;
      for (auto element_result : array) {
        od::value element;
        // NOLINTNEXTLINE(performance-move-const-arg): simdjson's get() takes only an rvalue
        if (auto e = std::move(element_result).get(element)) return e;
        if (auto e = Validate(element)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::object: {
      od::object obj;
      if (auto e = v.get_object().get(obj)) return e;
      for (auto field_result : obj) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return e;
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return e;
        if (auto e = Validate(field.value())) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      std::string_view str;
      return v.get_string().get(str);
    }
    case od::json_type::number: {
      double d;
      return v.get_double().get(d);
    }
    case od::json_type::boolean: {
      bool b;
      return v.get_bool().get(b);
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto e = v.is_null().get(is_null)) return e;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

// Upper bound of the nesting depth: '[' and '{' bytes, strings included. Product lines rarely
// hold more than a handful, which spares the exact scan below; this runs on every line, so it
// is vectorized (SSE2 is part of x86-64; elsewhere 8 bytes at a time).
size_t CountOpeners(const char* p, size_t n) {
  size_t count = 0, i = 0;
#if defined(__SSE2__)
  const __m128i case_bit = _mm_set1_epi8(0x20);
  const __m128i brace = _mm_set1_epi8(0x7b);
  while (i + 16 <= n) {
    // Per-byte match counters (0 - (-1) per match) would overflow after 255 rounds.
    __m128i counters = _mm_setzero_si128();
    const size_t rounds_end = std::min(n - (n - i) % 16, i + 255 * 16);
    for (; i < rounds_end; i += 16) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      // '[' (0x5b) and '{' (0x7b) differ only in bit 5: with it set, both are 0x7b.
      __m128i match = _mm_cmpeq_epi8(_mm_or_si128(v, case_bit), brace);
      counters = _mm_sub_epi8(counters, match);
    }
    __m128i sums = _mm_sad_epu8(counters, _mm_setzero_si128());
    count += static_cast<size_t>(_mm_cvtsi128_si32(sums)) +
             static_cast<size_t>(_mm_cvtsi128_si32(_mm_unpackhi_epi64(sums, sums)));
  }
#else
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    uint64_t x = (w | 0x2020202020202020ULL) ^ 0x7b7b7b7b7b7b7b7bULL;
    uint64_t zero_bytes = ~(((x & kLow7) + kLow7) | x | kLow7);
    // Sum the 0x80 flags by multiplication: without -mpopcnt, std::popcount is a libgcc call.
    count += static_cast<size_t>(((zero_bytes >> 7) * 0x0101010101010101ULL) >> 56);
  }
#endif
  for (; i < n; ++i) count += (p[i] == '[' || p[i] == '{');
  return count;
}

bool NestsDeeperThan(const char* p, size_t n, size_t max_depth) {
  if (CountOpeners(p, n) <= max_depth) return false;
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < n; ++i) {
    char c = p[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

class JsonlReader final : public CatalogReader {
 public:
  JsonlReader(std::unique_ptr<InputStream> stream, const Schema& schema,
              const ReaderOptions& options)
      : in_(std::move(stream), options.max_line_bytes), schema_(schema), options_(options) {
    for (size_t i = 0; i < schema_.fields().size(); ++i) {
      sources_.push_back(schema_.fields()[i].source);
    }
    used_.resize(schema_.fields().size());
  }

  Result<bool> Next(Product* out) override;

  uint64_t bytes_consumed() const override { return in_.stream().bytes_consumed(); }
  uint64_t total_bytes() const override { return in_.stream().total_bytes(); }
  uint64_t raw_xxh3() const override { return in_.stream().raw_xxh3(); }
  const std::string& display_name() const override { return in_.stream().display_name(); }

 private:
  Status Bad(uint64_t line, const std::string& reason) const {
    return Status::BadData(display_name() + ":" + std::to_string(line) + ": " + reason);
  }
  Status SkipOverlongLine();
  // Empty string = ok; otherwise the reason the record is bad.
  std::string ParseRecord(const char* p, size_t n, Product* out);
  std::string ParseField(int index, od::value value, Product* out);
  std::string AddScalar(int index, od::value value, const FieldSpec& spec, Product* out);
  std::string ParseAttrs(int index, od::value value, Product* out);

  // Values are assigned over the strings left by the previous record, so a steady stream of
  // records reuses their capacity instead of allocating.
  void Add(Product* out, int index, std::string_view v) {
    auto& values = out->fields[static_cast<size_t>(index)];
    size_t& n = used_[static_cast<size_t>(index)];
    if (n < values.size()) {
      values[n].assign(v.data(), v.size());
    } else {
      values.emplace_back(v);
    }
    ++n;
  }

  InputBuffer in_;
  Schema schema_;
  ReaderOptions options_;
  std::vector<std::string> sources_;
  std::vector<size_t> used_;
  od::parser parser_;
  std::string scratch_;        // one attrs entry being built
  uint64_t line_ = 0;          // lines consumed so far
  size_t scanned_ = 0;         // bytes of the window known to hold no newline
  bool skip_pending_ = false;  // an overlong line was reported and is skipped next
};

Result<bool> JsonlReader::Next(Product* out) {
  if (skip_pending_) {
    skip_pending_ = false;
    PIDX_RETURN_IF_ERROR(SkipOverlongLine());
  }
  for (;;) {
    const char* data = in_.data();
    const char* nl =
        static_cast<const char*>(std::memchr(data + scanned_, '\n', in_.size() - scanned_));
    size_t len;
    size_t consume;
    if (nl != nullptr) {
      len = static_cast<size_t>(nl - data);
      consume = len + 1;
    } else if (in_.size() > options_.max_line_bytes) {
      // Reported now, skipped on the next call: a fatal error must not wait for the end of a
      // line that may never end (`--catalog <(cat /dev/zero)` read for ever).
      skip_pending_ = true;
      return Bad(line_ + 1,
                 "line longer than " + std::to_string(options_.max_line_bytes) + " bytes");
    } else if (!in_.eof()) {
      scanned_ = in_.size();
      PIDX_ASSIGN_OR_RETURN(bool more, in_.Fill());
      (void)more;
      continue;
    } else if (in_.size() == 0) {
      return false;
    } else {
      len = consume = in_.size();  // the last line has no newline
    }
    scanned_ = 0;
    ++line_;
    in_.Consume(consume);
    if (len > 0 && data[len - 1] == '\r') --len;
    // A UTF-8 byte order mark (as Windows tools write) is not part of the first record.
    if (line_ == 1 && len >= 3 && std::memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
      data += 3;
      len -= 3;
    }
    if (len > options_.max_line_bytes) {
      return Bad(line_, "line longer than " + std::to_string(options_.max_line_bytes) + " bytes");
    }
    if (IsBlank(std::string_view(data, len))) continue;
    // The consumed bytes stay in place until the next Fill, so parsing them here is safe, and
    // at least kPadding allocated bytes follow them.
    std::string reason = ParseRecord(data, len, out);
    if (!reason.empty()) return Bad(line_, reason);
    return true;
  }
}

// Drops the current line, which has no newline within max_line_bytes, without keeping it.
Status JsonlReader::SkipOverlongLine() {
  ++line_;
  scanned_ = 0;
  for (;;) {
    const char* nl = static_cast<const char*>(std::memchr(in_.data(), '\n', in_.size()));
    if (nl != nullptr) {
      in_.Consume(static_cast<size_t>(nl - in_.data()) + 1);
      return Status::Ok();
    }
    in_.Discard();
    PIDX_ASSIGN_OR_RETURN(bool more, in_.Fill());
    if (!more) return Status::Ok();
  }
}

std::string JsonlReader::ParseRecord(const char* p, size_t n, Product* out) {
  if (NestsDeeperThan(p, n, options_.max_depth)) {
    return "nesting deeper than " + std::to_string(options_.max_depth);
  }
  out->id.clear();
  out->category.clear();
  out->fields.resize(schema_.fields().size());
  out->line = line_;
  std::fill(used_.begin(), used_.end(), 0);

  od::document doc;
  auto err = parser_.iterate(p, n, n + simdjson::SIMDJSON_PADDING).get(doc);
  if (err == simdjson::UTF8_ERROR) return "invalid UTF-8";
  if (err) return Malformed(err);
  od::object obj;
  err = doc.get_object().get(obj);
  if (err == simdjson::INCORRECT_TYPE) return "not a JSON object";
  if (err) return Malformed(err);
  for (auto field_result : obj) {
    od::field field;
    if ((err = std::move(field_result).get(field))) return Malformed(err);
    std::string_view key;
    if ((err = field.unescaped_key().get(key))) return Malformed(err);
    int index = -1;
    for (size_t i = 0; i < sources_.size(); ++i) {
      if (sources_[i] == key) {
        index = static_cast<int>(i);
        break;
      }
    }
    if (index < 0) {
      // Unknown to the schema, but still JSON that must be valid: a record is strict JSON
      // everywhere, not only in the fields pidx reads.
      if ((err = Validate(field.value()))) return Malformed(err);
      continue;
    }
    std::string reason = ParseField(index, field.value(), out);
    if (!reason.empty()) return reason;
  }
  // Content after the object (a second object, stray text) is left unread by the loop.
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    return "malformed JSON (trailing content after the object)";
  }
  for (size_t i = 0; i < used_.size(); ++i) out->fields[i].resize(used_[i]);
  // Empty values were refused where they were read, so empty here means absent (or null).
  const auto& fields = schema_.fields();
  if (out->id.empty()) {
    return "missing \"" + fields[static_cast<size_t>(schema_.id_index())].source + "\"";
  }
  if (out->category.empty()) {
    return "missing \"" + fields[static_cast<size_t>(schema_.category_index())].source + "\"";
  }
  return "";
}

std::string JsonlReader::ParseField(int index, od::value value, Product* out) {
  const FieldSpec& spec = schema_.fields()[static_cast<size_t>(index)];
  // Only built for messages: this runs for every known key of every record.
  auto quoted = [&spec] { return "\"" + spec.source + "\""; };
  od::json_type type;
  auto err = value.type().get(type);
  if (err) return Malformed(err);
  // The last occurrence of a key wins.
  used_[static_cast<size_t>(index)] = 0;
  if (type == od::json_type::null) {
    // null is absent; consume it so that a malformed atom ("nul") is still caught.
    if (!IsNull(value)) return Malformed(simdjson::N_ATOM_ERROR);
    if (spec.role == FieldRole::kId) out->id.clear();
    if (spec.role == FieldRole::kCategory) out->category.clear();
    return "";
  }
  switch (spec.role) {
    case FieldRole::kId: {
      if (type == od::json_type::string) {
        std::string_view v;
        if ((err = value.get_string().get(v))) return Malformed(err);
        if (v.empty()) return "empty " + quoted();
        if (IsOnlyWhitespace(v)) return quoted() + " is only whitespace";
        out->id.assign(v.data(), v.size());
        return "";
      }
      if (type == od::json_type::number) {
        od::number_type nt;
        if ((err = value.get_number_type().get(nt))) return Malformed(err);
        char buf[24];
        std::to_chars_result r{};
        if (nt == od::number_type::signed_integer) {
          int64_t i;
          if ((err = value.get_int64().get(i))) return Malformed(err);
          r = std::to_chars(buf, buf + sizeof(buf), i);
        } else if (nt == od::number_type::unsigned_integer) {
          uint64_t u;
          if ((err = value.get_uint64().get(u))) return Malformed(err);
          r = std::to_chars(buf, buf + sizeof(buf), u);
        } else {
          return quoted() + " must be a string or integer";
        }
        out->id.assign(buf, r.ptr);
        return "";
      }
      return quoted() + " must be a string or integer";
    }
    case FieldRole::kCategory: {
      if (type != od::json_type::string) return quoted() + " must be a string";
      std::string_view v;
      if ((err = value.get_string().get(v))) return Malformed(err);
      if (v.empty()) return "empty " + quoted();
      if (IsOnlyWhitespace(v)) return quoted() + " is only whitespace";
      out->category.assign(v.data(), v.size());
      return "";
    }
    case FieldRole::kText: {
      if (type != od::json_type::string) return quoted() + " must be a string";
      std::string_view v;
      if ((err = value.get_string().get(v))) return Malformed(err);
      if (!v.empty()) Add(out, index, v);  // "" is absent, as an empty CSV cell is
      return "";
    }
    case FieldRole::kKeyword: {
      if (type != od::json_type::array) return AddScalar(index, value, spec, out);
      od::array array;
      if ((err = value.get_array().get(array))) return Malformed(err);
      for (auto element_result : array) {
        od::value element;
        // NOLINTNEXTLINE(performance-move-const-arg): simdjson's get() takes only an rvalue
        if ((err = std::move(element_result).get(element))) return Malformed(err);
        std::string reason = AddScalar(index, element, spec, out);
        if (!reason.empty()) return reason;
      }
      return "";
    }
    case FieldRole::kNumber: {
      if (type != od::json_type::number) return quoted() + " is not a number";
      // The text as written ("19.90" stays "19.90"); get_double() validates its syntax.
      std::string_view text = TrimRight(value.raw_json_token());
      double d;
      if ((err = value.get_double().get(d))) return quoted() + " is not a number";
      Add(out, index, text);
      return "";
    }
    case FieldRole::kAttrs:
      return ParseAttrs(index, value, out);
  }
  return "";
}

// A keyword value: a string, or a number as written. Anything else is bad; null is skipped.
std::string JsonlReader::AddScalar(int index, od::value value, const FieldSpec& spec,
                                   Product* out) {
  od::json_type type;
  auto err = value.type().get(type);
  if (err) return Malformed(err);
  if (type == od::json_type::string) {
    std::string_view v;
    if ((err = value.get_string().get(v))) return Malformed(err);
    if (!v.empty()) Add(out, index, v);
    return "";
  }
  if (type == od::json_type::number) {
    std::string_view text = TrimRight(value.raw_json_token());
    double d;
    if ((err = value.get_double().get(d))) return Malformed(err);
    Add(out, index, text);
    return "";
  }
  if (type == od::json_type::null) {
    if (!IsNull(value)) return Malformed(simdjson::N_ATOM_ERROR);
    return "";
  }
  return "\"" + spec.source + "\" must be a string, a number or an array of them";
}

std::string JsonlReader::ParseAttrs(int index, od::value value, Product* out) {
  const std::string& source = schema_.fields()[static_cast<size_t>(index)].source;
  od::object obj;
  auto err = value.get_object().get(obj);
  if (err == simdjson::INCORRECT_TYPE) return "\"" + source + "\" must be an object";
  if (err) return Malformed(err);
  for (auto field_result : obj) {
    od::field field;
    if ((err = std::move(field_result).get(field))) return Malformed(err);
    std::string_view key;
    if ((err = field.unescaped_key().get(key))) return Malformed(err);
    if (key.empty() || key.find(kAttrSeparator) != std::string_view::npos) {
      return "\"" + source + "\" has an empty key or one with a \\u001f";
    }
    // key<US>value, built in a reused buffer; arrays give one entry per element.
    scratch_.assign(key.data(), key.size());
    scratch_.push_back(kAttrSeparator);
    const size_t prefix = scratch_.size();
    auto add = [&](od::value v) -> std::string {
      od::json_type type;
      auto e = v.type().get(type);
      if (e) return Malformed(e);
      scratch_.resize(prefix);
      switch (type) {
        case od::json_type::string: {
          std::string_view s;
          if ((e = v.get_string().get(s))) return Malformed(e);
          scratch_.append(s);
          break;
        }
        case od::json_type::number: {
          std::string_view text = TrimRight(v.raw_json_token());
          double d;
          if ((e = v.get_double().get(d))) return Malformed(e);
          scratch_.append(text);
          break;
        }
        case od::json_type::boolean: {
          bool b;
          if ((e = v.get_bool().get(b))) return Malformed(e);
          scratch_.append(b ? "true" : "false");
          break;
        }
        case od::json_type::null:
          if (!IsNull(v)) return Malformed(simdjson::N_ATOM_ERROR);
          return "";
        default:
          return "\"" + source + "." + std::string(key) +
                 "\" must be a scalar or an array of scalars";
      }
      Add(out, index, scratch_);
      return "";
    };
    od::value v = field.value();
    od::json_type type;
    if ((err = v.type().get(type))) return Malformed(err);
    if (type == od::json_type::array) {
      od::array array;
      if ((err = v.get_array().get(array))) return Malformed(err);
      for (auto element_result : array) {
        od::value element;
        // NOLINTNEXTLINE(performance-move-const-arg): simdjson's get() takes only an rvalue
        if ((err = std::move(element_result).get(element))) return Malformed(err);
        std::string reason = add(element);
        if (!reason.empty()) return reason;
      }
    } else {
      std::string reason = add(v);
      if (!reason.empty()) return reason;
    }
  }
  return "";
}

}  // namespace

std::unique_ptr<CatalogReader> NewJsonlReader(std::unique_ptr<InputStream> stream,
                                              const Schema& schema, const ReaderOptions& options) {
  return std::make_unique<JsonlReader>(std::move(stream), schema, options);
}

}  // namespace pidx::catalog
