// Exports the run's spans (obs/trace.h) as OTLP/JSON: POSTed to a collector over OTLP/HTTP
// (libcurl, the only file that sees it) and/or appended as one line to a --trace-file (the
// format the OpenTelemetry Collector's `otlpjsonfile` receiver reads).
//
// Configured the standard way (docs/OBSERVABILITY.md): OTEL_TRACES_EXPORTER (otlp|none),
// OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS, _TIMEOUT (ms), _PROTOCOL (only http/json),
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED.
//
// Contract: telemetry never changes a command's result. Every problem (a protocol pidx does
// not speak, a bad variable, a refused, slow or unreachable collector, an unwritable trace
// file) is one warning event `telemetry.export.failed` (exporter, reason, and endpoint or
// file); nothing here returns an error. A request takes at most the timeout.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "pidx/obs/trace.h"

namespace pidx {

struct TraceExportConfig {
  bool otlp = false;     // POST to `endpoint`
  std::string endpoint;  // the full URL, ".../v1/traces"
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timeout_ms = 10000;
  std::string file;  // append one OTLP/JSON line here when not empty
  SpanAttributes resource = SpanAttributes::object();  // service.name first
  // Problems found in the variables, each reported as telemetry.export.failed by ExportTrace.
  std::vector<std::string> problems;
};

using GetEnvFn = std::function<const char*(const char*)>;

// The configuration the variables describe (`getenv` is std::getenv outside tests).
TraceExportConfig TraceExportConfigFromEnv(const GetEnvFn& getenv);

// One ExportTraceServiceRequest (OTLP/JSON, one line): ids as hex, enums as integers, 64-bit
// integers as decimal strings. Spans still running end now.
std::string OtlpTraceJson(const std::vector<SpanRecord>& spans, const std::string& trace_id,
                          const SpanAttributes& resource);

// Writes and sends the run's spans as `config` says; logs problems as warnings. Does nothing
// for an unsampled trace (TRACEPARENT flags 00).
void ExportTrace(const TraceExportConfig& config);

}  // namespace pidx
