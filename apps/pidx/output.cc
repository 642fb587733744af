#include "output.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "pidx/obs/trace.h"
#include "pidx/ops/values.h"

namespace pidx::cli {

OutputSink::OutputSink(int fd, std::string name, bool closed_at_start)
    : fd_(fd), name_(std::move(name)), closed_at_start_(closed_at_start) {}

Status OutputSink::Ready() const {
  if (closed_at_start_) {
    return Status::IoError(name_ + " is closed: the result could not be written anywhere");
  }
  return Status::Ok();
}

void OutputSink::Write(std::string_view text) {
  if (!failed_.ok() || text.empty()) return;
  if (closed_at_start_) {
    failed_ = Ready();
    return;
  }
  wrote_ = true;
  while (!text.empty()) {
    const ssize_t n = ::write(fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      failed_ = Status::FromErrno("writing the result to " + name_, n < 0 ? errno : EIO);
      return;
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
}

Status OutputSink::Close() {
  if (!failed_.ok() || !wrote_) return failed_;
  // Closing a duplicate reports what closing the fd would (an NFS write-back error), while
  // fd 1 stays valid for anything that still runs.
  const int dup_fd = fcntl(fd_, F_DUPFD_CLOEXEC, 3);
  if (dup_fd >= 0 && ::close(dup_fd) != 0 && errno != EINTR) {
    failed_ = Status::FromErrno("closing the result on " + name_, errno);
  }
  return failed_;
}

namespace {
OutputSink*& StdoutSink() {
  static OutputSink* sink = nullptr;
  return sink;
}
}  // namespace

void InitStdout(bool closed_at_start) {
  StdoutSink() = new OutputSink(STDOUT_FILENO, "stdout", closed_at_start);
}

OutputSink& Stdout() {
  if (StdoutSink() == nullptr) InitStdout(false);
  return *StdoutSink();
}

Status WithResultWritten(Status outcome, const Status& written) {
  if (written.ok()) return outcome;
  if (outcome.ok() || outcome.kind() == StatusKind::kFindings) return written;
  return outcome;
}

void PrintText(std::string_view text) { Stdout().Write(text); }

void PrintJson(const nlohmann::ordered_json& j) {
  nlohmann::ordered_json out;
  out["schema_version"] = kJsonSchemaVersion;
  for (const auto& [k, v] : j.items()) out[k] = v;
  // The run's trace (obs/trace.h), to find its spans and log lines from a result.
  if (!out.contains("trace_id")) out["trace_id"] = Trace::trace_id();
  std::string s = out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  s.push_back('\n');
  Stdout().Write(s);
}

nlohmann::ordered_json VersionOrNull(uint64_t version) {
  if (version == 0) return nullptr;
  return VersionName(version);
}

nlohmann::ordered_json ShardListJson(const std::vector<std::string>& shards) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& s : shards) out.push_back({{"shard", s}});
  return out;
}

void PrintJsonError(const char* command, const Status& status, int exit_code,
                    const nlohmann::json& extra_fields) {
  nlohmann::ordered_json j;
  j["command"] = command ? nlohmann::ordered_json(command) : nlohmann::ordered_json(nullptr);
  j["ok"] = false;
  j["error"] = status.message();
  j["reason"] = StatusKindName(status.kind());
  j["exit_code"] = exit_code;
  for (const auto& [k, v] : extra_fields.items()) {
    // The event's `command` is the unknown name typed; here `command` is the command run.
    const std::string key = k == "command" ? "unknown_command" : k;
    if (!j.contains(key)) j[key] = v;
  }
  PrintJson(j);
}

Table::Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

void Table::AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

namespace {
bool LooksNumeric(const std::string& s) {
  return !s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-') &&
         s.find_first_not_of("0123456789.-% kMGTBx") == std::string::npos;
}
// Display width: one column per code point, two for East Asian wide ones (CJK, Hangul,
// full-width forms); block characters of bars are one.
size_t Width(const std::string& s) {
  size_t w = 0;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    uint32_t cp = len == 1 ? c : c & (0x7f >> len);
    for (size_t k = 1; k < len && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    }
    const bool wide = (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
                      (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
                      (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
                      (cp >= 0xffe0 && cp <= 0xffe6) || cp >= 0x20000;
    w += wide ? 2 : 1;
    i += len;
  }
  return w;
}
}  // namespace

std::string Table::Render() const {
  std::vector<size_t> widths;
  for (const auto& r : rows_) {
    if (widths.size() < r.size()) widths.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], Width(r[i]));
  }
  std::string out;
  for (size_t ri = 0; ri < rows_.size(); ++ri) {
    const auto& r = rows_[ri];
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      size_t pad = widths[i] - Width(r[i]);
      bool right = ri > 0 && LooksNumeric(r[i]);
      if (i > 0) line += "  ";
      if (right) line += std::string(pad, ' ');
      line += r[i];
      if (!right && i + 1 < r.size()) line += std::string(pad, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();  // an empty last cell
    out += line + "\n";
  }
  return out;
}

bool UnicodeBlocks() {
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::string_view(term) == "dumb") return false;
  const char* locale = nullptr;
  for (const char* name : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') {
      locale = v;
      break;
    }
  }
  if (locale == nullptr) return false;
  std::string l = locale;
  std::transform(l.begin(), l.end(), l.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return l.find("utf-8") != std::string::npos || l.find("utf8") != std::string::npos;
}

std::string Bar(uint64_t value, uint64_t max, int width, bool unicode) {
  if (max == 0 || width <= 0) return "";
  const long double frac = static_cast<long double>(std::min(value, max)) / max;
  const int units = unicode ? 8 : 1;  // eighths of a cell with block characters
  auto n = static_cast<int64_t>(frac * width * units + 0.5L);
  if (value > 0 && n == 0) n = 1;
  std::string out;
  if (!unicode) return std::string(static_cast<size_t>(n), '#');
  static const char* kEighths[] = {"",       "\u258f", "\u258e", "\u258d",
                                   "\u258c", "\u258b", "\u258a", "\u2589"};
  for (int64_t i = 0; i < n / 8; ++i) out += "\u2588";
  out += kEighths[n % 8];
  return out;
}

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

Throughput ThroughputOf(uint64_t docs, uint64_t catalog_bytes, int64_t duration_ms) {
  const double seconds = static_cast<double>(std::max<int64_t>(1, duration_ms)) / 1000;
  Throughput t;
  // Rounded (to products, to 0.01 MB/s): more digits would only be noise.
  t.products_per_second = std::round(static_cast<double>(docs) / seconds);
  t.mb_per_second = std::round(static_cast<double>(catalog_bytes) / 1e6 / seconds * 100) / 100;
  return t;
}

nlohmann::ordered_json PhasesJson(const PhaseTimes& t, int64_t duration_ms) {
  return {{"read", t.read_ms},
          {"finish_shards", t.shards_ms},
          {"publish", t.publish_ms},
          {"other", std::max<int64_t>(0, duration_ms - t.read_ms - t.shards_ms - t.publish_ms)},
          {"shard_work", {{"encode", t.encode_ms}, {"write", t.write_ms}, {"check", t.check_ms}}}};
}

std::string TimingText(int64_t duration_ms, uint64_t docs, uint64_t catalog_bytes,
                       const PhaseTimes& t) {
  const Throughput pace = ThroughputOf(docs, catalog_bytes, duration_ms);
  auto sec = [](int64_t ms) { return fmt::format("{:.2f}s", static_cast<double>(ms) / 1000); };
  auto part = [&](const char* name, int64_t ms) {
    const double pct =
        duration_ms > 0 ? 100.0 * static_cast<double>(ms) / static_cast<double>(duration_ms) : 0;
    return fmt::format("{} {} ({:.0f}%)", name, sec(ms), pct);
  };
  const int64_t other = std::max<int64_t>(0, duration_ms - t.read_ms - t.shards_ms - t.publish_ms);
  std::string out = fmt::format("  took {}: {:.0f} products/s, {:.1f} MB/s of catalog\n",
                                sec(duration_ms), pace.products_per_second, pace.mb_per_second);
  out +=
      fmt::format("  time: {}, {}, {}, {}\n", part("read+analyze", t.read_ms),
                  part("shards", t.shards_ms), part("publish", t.publish_ms), part("other", other));
  if (t.shards_ms > 0) {
    out += fmt::format("  shard work (thread time): encode {}, write {}, check {}\n",
                       sec(t.encode_ms), sec(t.write_ms), sec(t.check_ms));
  }
  return out;
}

}  // namespace pidx::cli
