#include "pidx/obs/log.h"

#include "pidx/base/duration.h"
#include "pidx/obs/trace.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <mutex>
#include <random>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace pidx {
namespace {

struct LogState {
  LogConfig config;
  LogFormat format = LogFormat::kJson;  // resolved (never kAuto)
  bool color = false;
  std::shared_ptr<spdlog::logger> sink;
  std::mutex guard_mu;  // one event line at a time through the guard
  Log::StderrGuard guard;
};

LogState& State() {
  static LogState* state = [] {
    auto* s = new LogState();
    s->sink =
        std::make_shared<spdlog::logger>("pidx", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    s->sink->set_pattern("%v");
    s->sink->set_level(spdlog::level::trace);
    s->sink->flush_on(spdlog::level::trace);
    return s;
  }();
  return *state;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// logfmt value: bare when safe, else a JSON-quoted string (escapes quotes and control bytes).
std::string LogfmtValue(const nlohmann::ordered_json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  bool bare = !s.empty();
  for (unsigned char c : s) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) {
      bare = false;
      break;
    }
  }
  return bare ? s
              : nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Result<LogLevel> ParseLogLevel(std::string_view s) {
  if (s == "debug") return LogLevel::kDebug;
  if (s == "info") return LogLevel::kInfo;
  if (s == "warn" || s == "warning") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  return Status::Usage("invalid log level \"" + std::string(s) + "\" (debug|info|warn|error)");
}

Result<LogFormat> ParseLogFormat(std::string_view s) {
  if (s == "auto") return LogFormat::kAuto;
  if (s == "json") return LogFormat::kJson;
  if (s == "logfmt") return LogFormat::kLogfmt;
  if (s == "text") return LogFormat::kText;
  return Status::Usage("invalid log format \"" + std::string(s) + "\" (auto|json|logfmt|text)");
}

bool Log::StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

void Log::Init(const LogConfig& config) {
  LogState& s = State();
  s.config = config;
  s.format = config.format;
  if (s.format == LogFormat::kAuto)
    s.format = StderrIsTerminal() ? LogFormat::kText : LogFormat::kJson;
  s.color = s.format == LogFormat::kText && config.color;
  // The trace (and TRACEPARENT) belong to obs/trace.h; main starts it before this.
}

LogFormat Log::format() { return State().format; }

const std::string& Log::trace_id() { return Trace::trace_id(); }
std::string Log::span_id() { return Trace::CurrentSpanId(); }

bool Log::Enabled(LogLevel level) {
  const LogState& s = State();
  LogLevel min =
      s.config.quiet && s.config.level < LogLevel::kWarn ? LogLevel::kWarn : s.config.level;
  return level >= min;
}

void Log::Event(LogLevel level, std::string_view event, std::string_view msg,
                const LogFields& fields) {
  if (!Enabled(level)) return;
  LogState& s = State();
  nlohmann::ordered_json j;
  j["timestamp"] = NowRfc3339();
  j["level"] = LevelName(level);
  j["event"] = event;
  j["msg"] = msg;
  j["service"] = "pidx";
  j["operation"] = s.config.operation;
  j["trace_id"] = Trace::trace_id();
  j["span_id"] = Trace::CurrentSpanId();
  j["trace_flags"] = Trace::trace_flags();
  for (const auto& [k, v] : fields.items()) j[k] = v;

  std::string line;
  if (s.format == LogFormat::kJson) {
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else if (s.format == LogFormat::kLogfmt) {
    for (const auto& [k, v] : j.items()) {
      if (!line.empty()) line += ' ';
      line += k + "=" + LogfmtValue(v);
    }
  } else {
    // Text: for a person at a terminal; the trace ids stay out of the way.
    std::string lvl = LevelName(level);
    for (auto& c : lvl) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (s.color) {
      const char* code = level == LogLevel::kError  ? "\x1b[31m"
                         : level == LogLevel::kWarn ? "\x1b[33m"
                                                    : "\x1b[2m";
      lvl = std::string(code) + lvl + "\x1b[0m";
    }
    line = fmt::format("{} {:5} {}: {}", j["timestamp"].get<std::string>().substr(11), lvl, event,
                       msg);
    for (const auto& [k, v] : fields.items()) line += " " + k + "=" + LogfmtValue(v);
  }
  std::lock_guard<std::mutex> lock(s.guard_mu);
  if (s.guard) {
    s.guard([&] { s.sink->info(line); });
  } else {
    s.sink->info(line);
  }
}

void Log::SetStderrGuard(StderrGuard guard) {
  LogState& s = State();
  std::lock_guard<std::mutex> lock(s.guard_mu);
  s.guard = std::move(guard);
}

}  // namespace pidx
