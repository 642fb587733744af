// Shows the progress lib reports (pidx/ops/progress.h): a one-line bar on a terminal, redrawn
// in place with \r and fitted to the terminal's width at every redraw; otherwise an
// `index.build.progress` event every 5 s. Which one: terminal.h.
//
// While the bar is up, every log event is written through Log::SetStderrGuard: the bar's line
// is cleared, the event written, the bar drawn again below it, so lines never pile up or mix.
#pragma once

#include <mutex>
#include <string>

#include "options.h"
#include "pidx/obs/log.h"
#include "pidx/ops/progress.h"

namespace pidx::cli {

class ProgressView {
 public:
  // `label`: what the run does ("building"); `event_fields`: added to every progress event
  // (the shard of a rebuild, the worker of a stage).
  ProgressView(const GlobalOptions& g, std::string label, LogFields event_fields = LogFields());
  ~ProgressView();
  ProgressView(const ProgressView&) = delete;
  ProgressView& operator=(const ProgressView&) = delete;

  // What to hand to lib.
  ProgressOptions options();
  // Clears the bar (if drawn) and stops drawing; before the result is printed.
  void Close();

  // The bar's line for `p` in `columns` columns (never more than columns - 1 characters).
  static std::string BarLine(const Progress& p, const std::string& label, int columns);

 private:
  void Report(const Progress& p);
  void DrawLocked();
  void ClearLocked();

  bool bar_ = false;
  std::string label_;
  LogFields event_fields_;
  std::mutex mu_;
  bool have_ = false;  // a progress to draw
  Progress last_;
  size_t drawn_ = 0;  // characters of the bar on screen now
  bool closed_ = false;
};

}  // namespace pidx::cli
