// Structured events, one per line on stderr (docs/CONTRACT.md section 8).
// Formats: json (one object per line), logfmt, text (for people); auto = text on a terminal,
// JSON otherwise. Every event of a run carries the same trace_id (the one of a W3C
// TRACEPARENT when set, a fresh random one otherwise), the span_id of the span it was written
// in and the trace_flags (obs/trace.h). Lines are built with nlohmann::json
// (proper escaping) and handed to spdlog as finished text (PITFALLS.md: spdlog 1.10 neither
// escapes nor knows fields).
//
// Thread-safe: events may be logged from worker threads.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "pidx/base/status.h"

namespace pidx {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kAuto, kJson, kLogfmt, kText };

Result<LogLevel> ParseLogLevel(std::string_view s);    // debug|info|warn|error
Result<LogFormat> ParseLogFormat(std::string_view s);  // auto|json|logfmt|text

struct LogConfig {
  LogFormat format = LogFormat::kAuto;
  LogLevel level = LogLevel::kInfo;
  bool quiet = false;     // only warnings and errors
  bool color = false;     // colour the level of text events (apps decide: --color)
  std::string operation;  // the command, e.g. "build"
};

using LogFields = nlohmann::ordered_json;

class Log {
 public:
  // Configures the process-wide logger. Before Init, events go out as JSON at info level.
  static void Init(const LogConfig& config);
  static const std::string& trace_id();
  // The span current on the calling thread.
  static std::string span_id();

  static void Event(LogLevel level, std::string_view event, std::string_view msg,
                    const LogFields& fields = LogFields::object());
  static void Debug(std::string_view event, std::string_view msg,
                    const LogFields& fields = LogFields::object()) {
    Event(LogLevel::kDebug, event, msg, fields);
  }
  static void Info(std::string_view event, std::string_view msg,
                   const LogFields& fields = LogFields::object()) {
    Event(LogLevel::kInfo, event, msg, fields);
  }
  static void Warn(std::string_view event, std::string_view msg,
                   const LogFields& fields = LogFields::object()) {
    Event(LogLevel::kWarn, event, msg, fields);
  }
  static void Error(std::string_view event, std::string_view msg,
                    const LogFields& fields = LogFields::object()) {
    Event(LogLevel::kError, event, msg, fields);
  }
  // A detail event: one of many per run (shard.build.completed, one per shard). Info in the
  // json and logfmt formats, where a machine keeps them; debug in the text format, where a
  // person at a terminal would get hundreds of lines (docs/CLI.md "Events").
  static void Detail(std::string_view event, std::string_view msg,
                     const LogFields& fields = LogFields::object()) {
    Event(format() == LogFormat::kText ? LogLevel::kDebug : LogLevel::kInfo, event, msg, fields);
  }
  static bool Enabled(LogLevel level);
  // Something else draws on stderr (a progress bar): every event line is written through
  // `guard(write)`, which may clear its line before calling `write` and redraw after, so an
  // event never lands in the middle of the bar. One line at a time; empty: none.
  using StderrGuard = std::function<void(const std::function<void()>& write)>;
  static void SetStderrGuard(StderrGuard guard);
  // The format events are written in (never kAuto: resolved by Init).
  static LogFormat format();
  // True when stderr is a terminal (what auto means for the format).
  static bool StderrIsTerminal();
};

}  // namespace pidx
