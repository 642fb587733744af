#include "progress_view.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "terminal.h"

namespace pidx::cli {
namespace {

void WriteStderr(std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to say it; the bar is only a courtesy
    s.remove_prefix(static_cast<size_t>(n));
  }
}

std::string Seconds(int64_t ms) {
  const int64_t s = (ms + 500) / 1000;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s / 60) % 60);
}

std::string Count(uint64_t n) {
  if (n < 10000) return std::to_string(n);
  if (n < 10000000) return fmt::format("{:.1f}k", static_cast<double>(n) / 1e3);
  return fmt::format("{:.1f}M", static_cast<double>(n) / 1e6);
}

}  // namespace

ProgressView::ProgressView(const GlobalOptions& g, std::string label, LogFields event_fields)
    : bar_(UseProgressBar(ProbeTerminal(), g.quiet)),
      label_(std::move(label)),
      event_fields_(event_fields.is_object() ? std::move(event_fields) : LogFields::object()) {
  if (bar_) {
    Log::SetStderrGuard([this](const std::function<void()>& write) {
      std::lock_guard<std::mutex> lock(mu_);
      ClearLocked();
      write();
      DrawLocked();
    });
  }
}

ProgressView::~ProgressView() { Close(); }

ProgressOptions ProgressView::options() {
  ProgressOptions o;
  o.interval_ms = bar_ ? 100 : 5000;
  o.report = [this](const Progress& p) { Report(p); };
  return o;
}

void ProgressView::Close() {
  if (bar_) Log::SetStderrGuard({});
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  ClearLocked();
  closed_ = true;
}

void ProgressView::Report(const Progress& p) {
  if (!bar_) {
    if (p.phase == ProgressPhase::kDone) return;  // the .completed event says it
    LogFields f = event_fields_;
    f["phase"] = ProgressPhaseName(p.phase);
    f["products"] = p.products;
    f["bytes"] = p.bytes;
    f["elapsed_ms"] = p.elapsed_ms;
    if (p.shards_total > 0) {
      f["shards_done"] = p.shards_done;
      f["shards_total"] = p.shards_total;
    }
    if (p.fraction >= 0) f["percent"] = static_cast<int64_t>(p.fraction * 1000) / 10.0;
    if (p.eta_ms >= 0) f["eta_ms"] = p.eta_ms;
    Log::Info("index.build.progress", label_, f);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  last_ = p;
  have_ = true;
  DrawLocked();
}

std::string ProgressView::BarLine(const Progress& p, const std::string& label, int columns) {
  const size_t width = static_cast<size_t>(std::max(columns, 2) - 1);
  // What is said, from the most to the least: the first that fits beside a bar.
  std::vector<std::string> whats;
  switch (p.phase) {
    case ProgressPhase::kRead: {
      const std::string mb = fmt::format("{:.1f} MB", static_cast<double>(p.bytes) / 1e6);
      whats = {fmt::format("{} {} products {}", label, Count(p.products), mb),
               fmt::format("{} {}", label, mb), label};
      break;
    }
    case ProgressPhase::kShards:
      whats = {fmt::format("shards {}/{}", p.shards_done, p.shards_total),
               fmt::format("{}/{}", p.shards_done, p.shards_total)};
      break;
    case ProgressPhase::kPublish:
      whats = {"publishing"};
      break;
    case ProgressPhase::kDone:
      whats = {"done"};
      break;
  }
  const std::string pct =
      p.fraction >= 0 ? fmt::format("{:>3}% ", static_cast<int>(p.fraction * 100)) : "";
  const std::string time = p.phase == ProgressPhase::kDone ? ""
                           : p.eta_ms >= 0                 ? "  ETA " + Seconds(p.eta_ms)
                                                           : "  " + Seconds(p.elapsed_ms);
  // The bar's cells depend on the width alone, so it does not jump as the text changes.
  const size_t cells = std::clamp<size_t>(width / 3, 10, 40);
  if (p.fraction >= 0) {
    for (const auto& what : whats) {
      std::string tail = pct;
      tail += what;
      tail += time;
      if (cells + 3 + tail.size() > width) continue;
      const size_t filled =
          std::min(cells, static_cast<size_t>(p.fraction * static_cast<double>(cells)));
      return "[" + std::string(filled, '#') + std::string(cells - filled, '.') + "] " + tail;
    }
  }
  for (const auto& what : whats) {
    std::string line = pct;
    line += what;
    line += time;
    if (line.size() <= width) return line;
  }
  std::string line = pct + whats.back() + time;
  line.resize(width);
  return line;
}

void ProgressView::DrawLocked() {
  if (!have_ || closed_) return;
  const int columns = TerminalColumns(STDERR_FILENO);
  const size_t width = static_cast<size_t>(std::max(columns, 2) - 1);
  const std::string line = BarLine(last_, label_, columns);
  std::string out = "\r" + line;
  // Overwrite what a longer line left; never write into the last column (some terminals wrap
  // there, and a wrapped line is the start of a pile).
  if (drawn_ > line.size()) {
    const size_t clear = std::min(drawn_, std::max(line.size(), width)) - line.size();
    out += std::string(clear, ' ') + "\r" + line;
  }
  WriteStderr(out);
  drawn_ = line.size();
}

void ProgressView::ClearLocked() {
  if (drawn_ == 0) return;
  // A terminal made narrower since: clear what fits on its line.
  const size_t width = static_cast<size_t>(std::max(TerminalColumns(STDERR_FILENO), 2) - 1);
  WriteStderr("\r" + std::string(std::min(drawn_, width), ' ') + "\r");
  drawn_ = 0;
}

}  // namespace pidx::cli
