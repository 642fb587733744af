#include "formats.h"

#include <iterator>

namespace pidx_gen {

namespace {

// RFC 4180 quoting: only fields with a comma, quote or line break are quoted, and quotes are
// doubled. Lines end in LF, which every CSV reader we target accepts.
void AppendCsvField(std::string_view value, std::string& line) {
  // A plain loop: find_first_of with a character set calls memchr once per character.
  const bool needs_quotes = std::any_of(value.begin(), value.end(), [](char c) {
    return c == ',' || c == '"' || c == '\r' || c == '\n';
  });
  if (!needs_quotes) {
    line += value;
    return;
  }
  line += '"';
  for (char c : value) {
    if (c == '"') line += '"';
    line += c;
  }
  line += '"';
}

}  // namespace

// Shared by CSV and TSV: the same columns, the tags joined with '|'. TSV has no quoting at
// all, which is safe because no generated value contains a tab or a line break.
void AppendDelimited(const Product& p, Format format, std::string& line) {
  const char separator = format == Format::kCsv ? ',' : '\t';
  auto field = [&](std::string_view value, bool last = false) {
    if (format == Format::kCsv) {
      AppendCsvField(value, line);
    } else {
      line += value;
    }
    line += last ? '\n' : separator;
  };
  std::string tags;
  for (std::string_view tag : p.tags) {
    if (!tags.empty()) tags += '|';
    tags += tag;
  }
  char price[32];
  std::snprintf(price, sizeof price, "%llu.%02llu",
                static_cast<unsigned long long>(p.price_cents / 100),
                static_cast<unsigned long long>(p.price_cents % 100));
  field(p.id);
  field(p.category_name);
  field(p.title);
  field(p.description);
  field(p.brand);
  field(tags);
  field(price, /*last=*/true);
}

constexpr std::string_view kDelimitedHeader[] = {"id",    "category", "title", "description",
                                                 "brand", "tags",     "price"};

std::string Header(Format format) {
  if (format == Format::kJsonl) return "";
  std::string header;
  for (std::string_view column : kDelimitedHeader) {
    if (!header.empty()) header += format == Format::kCsv ? ',' : '\t';
    header += column;
  }
  return header + '\n';
}

}  // namespace pidx_gen
