// Spans of one run, kept in memory and exported once at the end (obs/otlp_export.h) as
// OpenTelemetry traces. The run is one trace: its id is TRACEPARENT's when one is given (the
// root span is then a child of TRACEPARENT's span), a fresh random one otherwise.
// docs/OBSERVABILITY.md lists the span tree and the attributes.
//
// Contract:
// - Each thread has a current span: a Span becomes current on its thread when it starts and
//   hands back to the one before when it ends. A thread that has none (a worker) uses the
//   root's; a span started on a worker names its parent explicitly. Log lines carry the current
//   span's id (obs/log.h).
// - A Span that is never ended explicitly ends when destroyed; ending twice does nothing.
// - Recording never fails and never changes a command's outcome.
//
// Thread-safe: spans may start, change and end on any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pidx/base/status.h"

namespace pidx {

// Attribute values: strings, integers, doubles, booleans, or arrays of strings.
using SpanAttributes = nlohmann::ordered_json;

enum class SpanStatus { kUnset = 0, kOk = 1, kError = 2 };  // OTLP Status.code

struct SpanRecord {
  std::string span_id;         // 16 lower-case hex digits
  std::string parent_span_id;  // empty for a root without TRACEPARENT
  std::string name;
  uint64_t start_unix_nano = 0;
  uint64_t end_unix_nano = 0;  // 0 while the span runs
  SpanAttributes attributes = SpanAttributes::object();
  SpanStatus status = SpanStatus::kUnset;
  std::string status_message;
};

class Trace {
 public:
  // Joins `traceparent` (W3C "00-<trace>-<span>-<flags>") when it is valid, else starts a
  // fresh trace, and starts the root span `root_name`. Called once, by main, before any span.
  static void Init(std::string_view traceparent, const std::string& root_name);
  static const std::string& trace_id();
  // "01" when sampled (the default, and TRACEPARENT's flags when it is given), else "00".
  static const std::string& trace_flags();
  static bool sampled();
  // The span current on this thread (the root's when the thread has none).
  static std::string CurrentSpanId();
  static std::string RootSpanId();
  // Sets an attribute on the root span.
  static void SetRootAttribute(const std::string& key, const nlohmann::ordered_json& value);
  // Sets an attribute on this thread's current span and on the root (a refused publish says
  // so on the span where it was refused and on the run).
  static void SetCurrentAndRootAttribute(const std::string& key,
                                         const nlohmann::ordered_json& value);
  // Ends the root span with `outcome` (ERROR with its message unless ok or findings).
  static void EndRoot(const Status& outcome);
  // Every span recorded so far (ended or not), the root first.
  static std::vector<SpanRecord> Spans();
};

// Makes `span_id` (a running span's) the thread's current span for its lifetime, then restores
// the one before: for work done on behalf of a span that is not the innermost one, e.g. the log
// line of a shard whose segment is committed in a batch after later shards' spans began.
class ScopedCurrentSpan {
 public:
  explicit ScopedCurrentSpan(const std::string& span_id);
  ~ScopedCurrentSpan();
  ScopedCurrentSpan(const ScopedCurrentSpan&) = delete;
  ScopedCurrentSpan& operator=(const ScopedCurrentSpan&) = delete;

 private:
  std::string previous_;
};

class Span {
 public:
  // Starts `name` as a child of this thread's current span.
  explicit Span(std::string name, const SpanAttributes& attributes = SpanAttributes::object());
  // Starts `name` as a child of `parent_span_id` (a span that started on another thread).
  Span(std::string name, const std::string& parent_span_id,
       const SpanAttributes& attributes = SpanAttributes::object());
  ~Span();
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

  const std::string& id() const { return id_; }
  void Set(const std::string& key, const nlohmann::ordered_json& value);
  // Ends the span: status ERROR with the message when `outcome` failed (kFindings is not a
  // failure of the span), else leaves it unset.
  void End(const Status& outcome = Status::Ok());

 private:
  size_t index_ = 0;
  std::string id_;
  std::string previous_;  // the thread's current span before this one
  bool active_ = false;
};

}  // namespace pidx
