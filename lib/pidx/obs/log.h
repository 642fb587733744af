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
  static bool Enabled(LogLevel level);
  // The format events are written in (never kAuto: resolved by Init).
  static LogFormat format();
  // True when stderr is a terminal (progress bars, colour).
  static bool StderrIsTerminal();
};

}  // namespace pidx
