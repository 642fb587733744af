#include "pidx/catalog/csv_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "pidx/catalog/utf8.h"

namespace pidx::catalog {
namespace {

enum class ScanResult {
  kRecord,        // a whole record was split into cells
  kNeedMore,      // the window ends inside the record and more input may follow
  kUnterminated,  // the input ended inside a quoted field
  kBadQuote,      // a closing quote is followed by something other than a separator or EOL
};

// A number as catalogs write it: optional sign, digits with at most one '.', optional exponent.
// Stricter than strtod on purpose: "inf", "0x1p3", "12,50" or "$5" are not prices.
bool LooksLikeNumber(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// "1e400" looks like a number but is not a finite double: JSON readers refuse it too.
bool IsFiniteNumber(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);  // from_chars takes no '+'
  double d;
  auto r = std::from_chars(s.data(), s.data() + s.size(), d);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(d);
}

// Newlines inside quoted text are rare, so memchr (vectorized) beats a byte loop here.
uint64_t CountNewlines(const char* p, const char* end) {
  uint64_t count = 0;
  while ((p = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)))) !=
         nullptr) {
    ++count;
    ++p;
  }
  return count;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Where one column's cells go.
struct Column {
  std::string name;      // as in the header, for messages
  int field = -1;        // schema field, or -1 when the column is ignored
  std::string attr_key;  // for attrs columns: the key after "<source>."
};

class CsvReader final : public CatalogReader {
 public:
  CsvReader(std::unique_ptr<InputStream> stream, const Schema& schema, const ReaderOptions& options,
            CsvDialect dialect)
      : in_(std::move(stream), options.max_line_bytes),
        schema_(schema),
        options_(options),
        dialect_(dialect),
        used_(schema.fields().size()) {}

  Status ReadHeader();
  Result<bool> Next(Product* out) override;

  uint64_t bytes_consumed() const override { return in_.stream().bytes_consumed(); }
  uint64_t total_bytes() const override { return in_.stream().total_bytes(); }
  uint64_t raw_xxh3() const override { return in_.stream().raw_xxh3(); }
  const std::string& display_name() const override { return in_.stream().display_name(); }

 private:
  Status Bad(uint64_t line, const std::string& reason) const {
    return Status::BadData(display_name() + ":" + std::to_string(line) + ": " + reason);
  }
  std::string ColumnName(size_t c) const {
    return "column " + std::to_string(c + 1) + " (\"" + columns_[c].name + "\")";
  }
  // Splits the next non-blank record into cells_. Returns false at the end of the input;
  // a bad record is reported as kBadData after moving past it.
  Result<bool> ReadRecord();
  ScanResult ScanCsv(const char* p, size_t n, bool eof);
  ScanResult ScanTsv(const char* p, size_t n, bool eof);
  // Drops the rest of the current line so reading resumes on the next one.
  Status SkipLine();
  std::string FillProduct(Product* out);

  std::string_view Cell(size_t c) const {
    return std::string_view(text_).substr(cells_[c].first, cells_[c].second);
  }
  void Add(Product* out, int index, std::string_view v) {
    auto& values = out->fields[static_cast<size_t>(index)];
    size_t& n = used_[static_cast<size_t>(index)];
    // Assigning over the previous record's strings reuses their capacity.
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
  bool skip_pending_ = false;  // an overlong line was reported and is skipped next
  CsvDialect dialect_;
  std::vector<Column> columns_;
  std::vector<size_t> used_;

  // The record being read: cell texts (unquoted, unescaped) back to back, and their spans.
  std::string text_;
  std::vector<std::pair<size_t, size_t>> cells_;
  std::string attr_;  // one attrs entry being built

  // Set by the scanners for the record they split.
  size_t record_bytes_ = 0;  // bytes to consume
  uint64_t record_newlines_ = 0;
  bool record_blank_ = false;
  bool in_quote_ = false;          // where a kNeedMore scan stopped
  size_t stray_quote_column_ = 0;  // 1-based column of a quote inside an unquoted CSV field
  size_t bad_column_ = 0;

  uint64_t next_line_ = 1;    // line of the next unread byte
  uint64_t record_line_ = 0;  // line where the last record started
};

ScanResult CsvReader::ScanCsv(const char* p, size_t n, bool eof) {
  text_.clear();
  cells_.clear();
  in_quote_ = false;
  record_newlines_ = 0;
  stray_quote_column_ = 0;
  size_t i = 0;
  for (;;) {
    const size_t start = text_.size();
    if (i < n && p[i] == '"') {
      ++i;
      in_quote_ = true;
      for (;;) {
        const char* q = static_cast<const char*>(std::memchr(p + i, '"', n - i));
        const size_t j = q != nullptr ? static_cast<size_t>(q - p) : n;
        text_.append(p + i, j - i);
        record_newlines_ += CountNewlines(p + i, p + j);
        if (q == nullptr) return eof ? ScanResult::kUnterminated : ScanResult::kNeedMore;
        // A quote at the window's end may be the first half of a "" escape.
        if (j + 1 == n && !eof) return ScanResult::kNeedMore;
        if (j + 1 < n && p[j + 1] == '"') {
          text_.push_back('"');
          i = j + 2;
          continue;
        }
        i = j + 1;
        break;
      }
      in_quote_ = false;
      cells_.emplace_back(start, text_.size() - start);
      if (i == n) {
        if (!eof) return ScanResult::kNeedMore;
        break;
      }
      if (p[i] == ',') {
        ++i;
        continue;
      }
      if (p[i] == '\n') {
        ++i;
        ++record_newlines_;
        break;
      }
      if (p[i] == '\r') {
        if (i + 1 == n) {
          if (!eof) return ScanResult::kNeedMore;
          ++i;
          break;
        }
        if (p[i + 1] == '\n') {
          i += 2;
          ++record_newlines_;
          break;
        }
      }
      bad_column_ = cells_.size();
      return ScanResult::kBadQuote;
    }
    size_t j = i;
    while (j < n && p[j] != ',' && p[j] != '\n') ++j;
    if (j == n && !eof) return ScanResult::kNeedMore;
    size_t end = j;
    if ((j == n || p[j] == '\n') && end > i && p[end - 1] == '\r') --end;
    // RFC 4180: a quote belongs only in a quoted field. Kept as data it would hide a broken
    // quoting (a field cut in two), so the record is bad, as it is in JSON.
    if (stray_quote_column_ == 0 && std::memchr(p + i, '"', end - i) != nullptr) {
      stray_quote_column_ = cells_.size() + 1;
    }
    text_.append(p + i, end - i);
    cells_.emplace_back(start, end - i);
    if (j < n && p[j] == ',') {
      i = j + 1;
      continue;
    }
    if (j < n) {
      ++record_newlines_;
      i = j + 1;
    } else {
      i = j;
    }
    break;
  }
  record_bytes_ = i;
  record_blank_ = cells_.size() == 1 && cells_[0].second == 0 && (n == 0 || p[0] != '"');
  return ScanResult::kRecord;
}

ScanResult CsvReader::ScanTsv(const char* p, size_t n, bool eof) {
  const char* nl = static_cast<const char*>(std::memchr(p, '\n', n));
  if (nl == nullptr && !eof) return ScanResult::kNeedMore;
  size_t len = nl != nullptr ? static_cast<size_t>(nl - p) : n;
  record_bytes_ = nl != nullptr ? len + 1 : len;
  record_newlines_ = nl != nullptr ? 1 : 0;
  if (len > 0 && p[len - 1] == '\r') --len;
  record_blank_ = len == 0;
  // Cells are spans of the window here; they are copied to text_ so both dialects look alike.
  text_.assign(p, len);
  cells_.clear();
  size_t start = 0;
  for (;;) {
    const char* tab =
        static_cast<const char*>(std::memchr(text_.data() + start, '\t', len - start));
    size_t end = tab != nullptr ? static_cast<size_t>(tab - text_.data()) : len;
    cells_.emplace_back(start, end - start);
    if (tab == nullptr) break;
    start = end + 1;
  }
  return ScanResult::kRecord;
}

Status CsvReader::SkipLine() {
  for (;;) {
    const char* nl = static_cast<const char*>(std::memchr(in_.data(), '\n', in_.size()));
    if (nl != nullptr) {
      in_.Consume(static_cast<size_t>(nl - in_.data()) + 1);
      ++next_line_;
      return Status::Ok();
    }
    in_.Discard();
    PIDX_ASSIGN_OR_RETURN(bool more, in_.Fill());
    if (!more) return Status::Ok();
  }
}

Result<bool> CsvReader::ReadRecord() {
  if (skip_pending_) {
    skip_pending_ = false;
    PIDX_RETURN_IF_ERROR(SkipLine());
  }
  for (;;) {
    if (in_.size() == 0 && in_.eof()) return false;
    ScanResult r = dialect_ == CsvDialect::kCsv ? ScanCsv(in_.data(), in_.size(), in_.eof())
                                                : ScanTsv(in_.data(), in_.size(), in_.eof());
    if (r == ScanResult::kNeedMore) {
      if (in_.size() > options_.max_line_bytes) {
        record_line_ = next_line_;
        const bool quoted = in_quote_;
        // Reported now, skipped on the next call: a fatal error must not wait for the end of
        // a line that may never end (a pipe of /dev/zero).
        skip_pending_ = true;
        const std::string limit = std::to_string(options_.max_line_bytes);
        if (quoted) {
          return Bad(record_line_,
                     "quoted field runs past " + limit + " bytes (unterminated quoted field?)");
        }
        return Bad(record_line_, "line longer than " + limit + " bytes");
      }
      PIDX_ASSIGN_OR_RETURN(bool more, in_.Fill());
      (void)more;  // at the end, the next scan sees eof() and finishes the record
      continue;
    }
    record_line_ = next_line_;
    if (r == ScanResult::kUnterminated || r == ScanResult::kBadQuote) {
      // Resume on the next line: after a stray quote, the following lines are most likely
      // records of their own, and each gets its own verdict.
      PIDX_RETURN_IF_ERROR(SkipLine());
      if (r == ScanResult::kUnterminated) return Bad(record_line_, "unterminated quoted field");
      return Bad(record_line_, "column " + std::to_string(bad_column_) +
                                   ": unexpected character after a closing quote");
    }
    // The window holds a block more than the limit, so a whole record may still be too long.
    size_t content = record_bytes_;
    if (content > 0 && in_.data()[content - 1] == '\n') --content;
    if (content > 0 && in_.data()[content - 1] == '\r') --content;
    in_.Consume(record_bytes_);
    next_line_ += record_newlines_;
    if (content > options_.max_line_bytes) {
      return Bad(record_line_,
                 "line longer than " + std::to_string(options_.max_line_bytes) + " bytes");
    }
    if (record_blank_) continue;
    return true;
  }
}

Status CsvReader::ReadHeader() {
  Result<bool> got = ReadRecord();
  if (!got.ok()) return Status::BadData(got.status().message() + " (in the header row)");
  if (!got.value()) return Status::Ok();  // empty input: an empty catalog
  const auto& fields = schema_.fields();
  std::vector<size_t> field_column(fields.size(), SIZE_MAX);
  for (size_t c = 0; c < cells_.size(); ++c) {
    std::string_view name = Cell(c);
    // Spreadsheets often start their exports with a UTF-8 byte order mark.
    if (c == 0 && name.substr(0, 3) == "\xEF\xBB\xBF") name.remove_prefix(3);
    if (!IsValidUtf8(name)) {
      return Bad(record_line_, "header column " + std::to_string(c + 1) + ": invalid UTF-8");
    }
    Column column;
    column.name = std::string(name);
    int index = schema_.FindSource(name);
    if (index >= 0 && fields[static_cast<size_t>(index)].role == FieldRole::kAttrs) {
      return Bad(record_line_, "header column " + std::to_string(c + 1) + " (\"" + column.name +
                                   "\"): attrs in CSV/TSV come as \"" + column.name +
                                   ".<key>\" columns, one per key");
    }
    if (index < 0) {
      // "<attrs source>.<key>" feeds one attrs entry.
      size_t dot = name.find('.');
      while (dot != std::string_view::npos && index < 0) {
        int f = schema_.FindSource(name.substr(0, dot));
        if (f >= 0 && fields[static_cast<size_t>(f)].role == FieldRole::kAttrs &&
            dot + 1 < name.size()) {
          index = f;
          column.attr_key = std::string(name.substr(dot + 1));
        }
        dot = name.find('.', dot + 1);
      }
    }
    column.field = index;
    if (index >= 0 && column.attr_key.empty()) {
      size_t& first = field_column[static_cast<size_t>(index)];
      if (first != SIZE_MAX) {
        return Bad(record_line_, "header column " + std::to_string(c + 1) + " (\"" + column.name +
                                     "\") repeats column " + std::to_string(first + 1));
      }
      first = c;
    }
    columns_.push_back(std::move(column));
  }
  for (int required : {schema_.id_index(), schema_.category_index()}) {
    if (field_column[static_cast<size_t>(required)] == SIZE_MAX) {
      return Bad(record_line_,
                 "header has no \"" + fields[static_cast<size_t>(required)].source + "\" column");
    }
  }
  return Status::Ok();
}

Result<bool> CsvReader::Next(Product* out) {
  if (columns_.empty()) return false;  // the input had no header row
  PIDX_ASSIGN_OR_RETURN(bool got, ReadRecord());
  if (!got) return false;
  if (stray_quote_column_ != 0) {
    return Bad(record_line_, "column " + std::to_string(stray_quote_column_) +
                                 ": a quote inside an unquoted field (quote the field and double "
                                 "the quote: \"27\"\" monitor\")");
  }
  if (cells_.size() != columns_.size()) {
    return Bad(record_line_, "expected " + std::to_string(columns_.size()) + " columns, found " +
                                 std::to_string(cells_.size()));
  }
  std::string reason = FillProduct(out);
  if (!reason.empty()) return Bad(record_line_, reason);
  return true;
}

std::string CsvReader::FillProduct(Product* out) {
  const auto& fields = schema_.fields();
  out->id.clear();
  out->category.clear();
  out->fields.resize(fields.size());
  out->line = record_line_;
  std::fill(used_.begin(), used_.end(), 0);
  for (size_t c = 0; c < cells_.size(); ++c) {
    std::string_view cell = Cell(c);
    // Every cell, used or not, as simdjson checks every byte of a JSON line.
    if (!IsValidUtf8(cell)) return ColumnName(c) + ": invalid UTF-8";
    // JSON cannot carry a raw NUL either; as data it would cut C strings downstream.
    if (std::memchr(cell.data(), '\0', cell.size()) != nullptr) {
      return ColumnName(c) + ": NUL byte";
    }
    const Column& column = columns_[c];
    if (column.field < 0 || cell.empty()) continue;
    const FieldSpec& spec = fields[static_cast<size_t>(column.field)];
    switch (spec.role) {
      case FieldRole::kId:
      case FieldRole::kCategory:
        if (IsOnlyWhitespace(cell)) return ColumnName(c) + ": only whitespace";
        (spec.role == FieldRole::kId ? out->id : out->category).assign(cell.data(), cell.size());
        break;
      case FieldRole::kText:
        Add(out, column.field, cell);
        break;
      case FieldRole::kKeyword:
        if (!spec.multi) {
          Add(out, column.field, cell);
          break;
        }
        for (size_t start = 0; start <= cell.size();) {
          size_t bar = cell.find('|', start);
          if (bar == std::string_view::npos) bar = cell.size();
          std::string_view piece = TrimSpaces(cell.substr(start, bar - start));
          if (!piece.empty()) Add(out, column.field, piece);
          start = bar + 1;
        }
        break;
      case FieldRole::kNumber:
        if (!LooksLikeNumber(cell)) return ColumnName(c) + ": not a number";
        if (!IsFiniteNumber(cell)) return ColumnName(c) + ": not a finite number";
        Add(out, column.field, cell);
        break;
      case FieldRole::kAttrs:
        attr_.assign(column.attr_key);
        attr_.push_back(kAttrSeparator);
        attr_.append(cell);
        Add(out, column.field, attr_);
        break;
    }
  }
  for (size_t i = 0; i < used_.size(); ++i) out->fields[i].resize(used_[i]);
  if (out->id.empty())
    return "missing \"" + fields[static_cast<size_t>(schema_.id_index())].source + "\"";
  if (out->category.empty()) {
    return "missing \"" + fields[static_cast<size_t>(schema_.category_index())].source + "\"";
  }
  return "";
}

}  // namespace

Result<std::unique_ptr<CatalogReader>> NewCsvReader(std::unique_ptr<InputStream> stream,
                                                    const Schema& schema,
                                                    const ReaderOptions& options,
                                                    CsvDialect dialect) {
  auto reader = std::make_unique<CsvReader>(std::move(stream), schema, options, dialect);
  PIDX_RETURN_IF_ERROR(reader->ReadHeader());
  return std::unique_ptr<CatalogReader>(std::move(reader));
}

}  // namespace pidx::catalog
