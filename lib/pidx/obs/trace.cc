#include "pidx/obs/trace.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

namespace pidx {
namespace {

std::string RandomHex(size_t bytes) {
  // Never all zeros: an all-zero id is invalid in W3C trace context and OTLP.
  static const char* kHex = "0123456789abcdef";
  // Seeded once per thread from the system's entropy: a std::random_device per id cost a
  // third of the time a 42k-shard build spent outside its own work (three spans per shard).
  // Ids need to be unique, not secret.
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    std::seed_seq seed{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seed);
  }());
  std::string out;
  do {
    out.clear();
    uint64_t word = 0;
    for (size_t i = 0; i < bytes; ++i) {
      if (i % 8 == 0) word = rng();
      const unsigned v = static_cast<unsigned>(word & 0xff);
      word >>= 8;
      out.push_back(kHex[v >> 4]);
      out.push_back(kHex[v & 0xf]);
    }
  } while (out.find_first_not_of('0') == std::string::npos);
  return out;
}

bool IsLowerHex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  bool nonzero = false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    if (c != '0') nonzero = true;
  }
  return nonzero;
}

// Two lower-case hex digits (zeros allowed).
bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return s.size() == 2;
}

uint64_t NowUnixNano() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

struct TraceState {
  std::mutex mu;
  std::string trace_id = RandomHex(16);
  std::string trace_flags = "01";
  std::string remote_parent;      // TRACEPARENT's span id
  std::vector<SpanRecord> spans;  // [0] is the root once Init ran
  bool initialized = false;
};

TraceState& State() {
  static TraceState* state = new TraceState();  // never destroyed: spans end in exit paths
  return *state;
}

thread_local std::string current_span;

// Starts a span under `parent`; returns its index. REQUIRES: mu held.
size_t StartLocked(TraceState& s, std::string name, std::string parent,
                   const SpanAttributes& attributes) {
  SpanRecord r;
  r.span_id = RandomHex(8);
  r.parent_span_id = std::move(parent);
  r.name = std::move(name);
  r.start_unix_nano = NowUnixNano();
  if (attributes.is_object()) r.attributes = attributes;
  s.spans.push_back(std::move(r));
  return s.spans.size() - 1;
}

void EndLocked(SpanRecord& r, const Status& outcome) {
  if (r.end_unix_nano != 0) return;
  r.end_unix_nano = std::max(NowUnixNano(), r.start_unix_nano);
  if (!outcome.ok() && outcome.kind() != StatusKind::kFindings) {
    r.status = SpanStatus::kError;
    r.status_message = outcome.message();
  }
}

// The root of a process that never called Init (tests of the library): started on first use.
void EnsureRootLocked(TraceState& s) {
  if (!s.spans.empty()) return;
  StartLocked(s, "pidx", s.remote_parent, SpanAttributes::object());
}

}  // namespace

void Trace::Init(std::string_view tp, const std::string& root_name) {
  TraceState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.initialized) return;
  s.initialized = true;
  // W3C traceparent: "00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>"; a later
  // version may append fields after the flags. Anything else starts a fresh trace.
  if (tp.size() >= 55 && tp[2] == '-' && tp[35] == '-' && tp[52] == '-' &&
      (tp.size() == 55 || tp[55] == '-') && IsHex(tp.substr(0, 2)) && tp.substr(0, 2) != "ff" &&
      IsHex(tp.substr(53, 2)) && IsLowerHex(tp.substr(3, 32), 32) &&
      IsLowerHex(tp.substr(36, 16), 16)) {
    s.trace_id = std::string(tp.substr(3, 32));
    s.remote_parent = std::string(tp.substr(36, 16));
    const unsigned flags =
        static_cast<unsigned>(std::stoul(std::string(tp.substr(53, 2)), nullptr, 16));
    s.trace_flags = (flags & 1) ? "01" : "00";
  }
  if (s.spans.empty()) {
    StartLocked(s, root_name, s.remote_parent, SpanAttributes::object());
  } else {
    s.spans[0].name = root_name;
    s.spans[0].parent_span_id = s.remote_parent;
  }
}

const std::string& Trace::trace_id() { return State().trace_id; }
const std::string& Trace::trace_flags() { return State().trace_flags; }
bool Trace::sampled() { return State().trace_flags == "01"; }

std::string Trace::RootSpanId() {
  TraceState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  EnsureRootLocked(s);
  return s.spans[0].span_id;
}

ScopedCurrentSpan::ScopedCurrentSpan(const std::string& span_id) : previous_(current_span) {
  current_span = span_id;
}

ScopedCurrentSpan::~ScopedCurrentSpan() { current_span = previous_; }

std::string Trace::CurrentSpanId() {
  if (!current_span.empty()) return current_span;
  return RootSpanId();
}

void Trace::SetRootAttribute(const std::string& key, const nlohmann::ordered_json& value) {
  TraceState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  EnsureRootLocked(s);
  s.spans[0].attributes[key] = value;
}

void Trace::SetCurrentAndRootAttribute(const std::string& key,
                                       const nlohmann::ordered_json& value) {
  const std::string current = CurrentSpanId();
  TraceState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  s.spans[0].attributes[key] = value;
  for (auto it = s.spans.rbegin(); it != s.spans.rend(); ++it) {
    if (it->span_id == current) {
      it->attributes[key] = value;
      break;
    }
  }
}

void Trace::EndRoot(const Status& outcome) {
  TraceState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  EnsureRootLocked(s);
  EndLocked(s.spans[0], outcome);
}

std::vector<SpanRecord> Trace::Spans() {
  TraceState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.spans;
}

Span::Span(std::string name, const SpanAttributes& attributes)
    : Span(std::move(name), Trace::CurrentSpanId(), attributes) {}

Span::Span(std::string name, const std::string& parent_span_id, const SpanAttributes& attributes) {
  TraceState& s = State();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    EnsureRootLocked(s);
    index_ = StartLocked(s, std::move(name), parent_span_id, attributes);
    id_ = s.spans[index_].span_id;
  }
  previous_ = current_span;
  current_span = id_;
  active_ = true;
}

Span::~Span() { End(); }

void Span::Set(const std::string& key, const nlohmann::ordered_json& value) {
  TraceState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  s.spans[index_].attributes[key] = value;
}

void Span::End(const Status& outcome) {
  if (!active_) return;
  active_ = false;
  {
    TraceState& s = State();
    std::lock_guard<std::mutex> lock(s.mu);
    EndLocked(s.spans[index_], outcome);
  }
  if (current_span == id_) current_span = previous_;
}

}  // namespace pidx
