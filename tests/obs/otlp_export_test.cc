// The OTEL_* configuration and the OTLP/JSON encoding (obs/otlp_export.h), and the span
// bookkeeping (obs/trace.h). End to end against a receiver: tests/obs/otlp_test.py.
#include "pidx/obs/otlp_export.h"

#include <cmath>
#include <map>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "pidx/obs/trace.h"

namespace pidx {
namespace {

TraceExportConfig FromVars(const std::map<std::string, std::string>& vars) {
  return TraceExportConfigFromEnv([&vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST_CASE("no OTEL variable exports nothing and warns about nothing") {
  auto c = FromVars({});
  CHECK_FALSE(c.otlp);
  CHECK(c.problems.empty());
  CHECK(c.resource["service.name"] == "pidx");
}

TEST_CASE("OTEL_EXPORTER_OTLP_ENDPOINT is a base, the traces endpoint a full URL") {
  CHECK(FromVars({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/"}}).endpoint ==
        "http://c:4318/v1/traces");
  auto c = FromVars({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
                     {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://t/x"}});
  CHECK(c.otlp);
  CHECK(c.endpoint == "https://t/x");
  CHECK(FromVars({{"OTEL_TRACES_EXPORTER", "otlp"}}).endpoint == "http://localhost:4318/v1/traces");
  CHECK_FALSE(
      FromVars({{"OTEL_TRACES_EXPORTER", "none"}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}})
          .otlp);
  CHECK_FALSE(
      FromVars({{"OTEL_SDK_DISABLED", "true"}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}})
          .otlp);
}

TEST_CASE("a protocol pidx does not speak is a problem and nothing is exported") {
  for (const char* p : {"http/protobuf", "grpc", "json"}) {
    auto c = FromVars(
        {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_EXPORTER_OTLP_PROTOCOL", p}});
    CHECK_FALSE(c.otlp);
    REQUIRE(c.problems.size() == 1);
    CHECK(c.problems[0].find(p) != std::string::npos);
  }
  CHECK(FromVars({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
                  {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"},
                  {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}})
            .otlp);
}

TEST_CASE("headers, timeout and resource attributes are parsed strictly") {
  auto c = FromVars({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
                     {"OTEL_EXPORTER_OTLP_HEADERS", "a=1, b = x%20y"},
                     {"OTEL_EXPORTER_OTLP_TIMEOUT", "250"},
                     {"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,env=ci"}});
  CHECK(c.otlp);
  CHECK(c.headers == std::vector<std::pair<std::string, std::string>>{{"a", "1"}, {"b", "x y"}});
  CHECK(c.timeout_ms == 250);
  CHECK(c.resource["service.name"] == "from-attrs");
  CHECK(c.resource["env"] == "ci");
  CHECK(FromVars({{"OTEL_SERVICE_NAME", "svc"}, {"OTEL_RESOURCE_ATTRIBUTES", "service.name=x"}})
            .resource["service.name"] == "svc");

  auto bad = FromVars(
      {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_EXPORTER_OTLP_TIMEOUT", "1e3"}});
  CHECK(bad.otlp);
  CHECK(bad.timeout_ms == 10000);
  CHECK(bad.problems.size() == 1);
  // A header with a line break would inject another header: refused, nothing exported.
  CHECK_FALSE(FromVars({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
                        {"OTEL_EXPORTER_OTLP_HEADERS", "a=1%0d%0aHost: evil"}})
                  .otlp);
  CHECK_FALSE(FromVars({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
                        {"OTEL_EXPORTER_OTLP_HEADERS", "novalue"}})
                  .otlp);
  CHECK_FALSE(FromVars({{"OTEL_EXPORTER_OTLP_ENDPOINT", "file:///etc/passwd"}}).otlp);
  CHECK(FromVars({{"OTEL_RESOURCE_ATTRIBUTES", "a=%zz"}}).problems.size() == 1);
}

TEST_CASE("OTLP/JSON: hex ids, integer enums, 64-bit integers as strings") {
  SpanRecord root;
  root.span_id = "00f067aa0ba902b7";
  root.name = "build";
  root.start_unix_nano = 1700000000000000001ULL;
  root.end_unix_nano = 1700000000000000009ULL;
  root.attributes = {
      {"n", 5}, {"ok", true}, {"r", 0.5}, {"bad", std::nan("")}, {"list", {"a", "b"}}, {"s", "x"}};
  root.status = SpanStatus::kError;
  root.status_message = "boom";
  SpanRecord child;
  child.span_id = "1111111111111111";
  child.parent_span_id = root.span_id;
  child.name = "lock.wait";
  child.start_unix_nano = 1700000000000000002ULL;  // still running: ends at export time
  const auto j = nlohmann::json::parse(
      OtlpTraceJson({root, child}, "4bf92f3577b34da6a3ce929d0e0e4736", {{"service.name", "p"}}));
  const auto& rs = j["resourceSpans"][0];
  CHECK(rs["resource"]["attributes"][0] ==
        nlohmann::json{{"key", "service.name"}, {"value", {{"stringValue", "p"}}}});
  const auto& spans = rs["scopeSpans"][0]["spans"];
  REQUIRE(spans.size() == 2);
  CHECK(spans[0]["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK_FALSE(spans[0].contains("parentSpanId"));
  CHECK(spans[0]["kind"] == 1);
  CHECK(spans[0]["startTimeUnixNano"] == "1700000000000000001");
  CHECK(spans[0]["status"] == nlohmann::json{{"code", 2}, {"message", "boom"}});
  const auto& a = spans[0]["attributes"];
  CHECK(a[0]["value"] == nlohmann::json{{"intValue", "5"}});
  CHECK(a[1]["value"] == nlohmann::json{{"boolValue", true}});
  CHECK(a[2]["value"] == nlohmann::json{{"doubleValue", 0.5}});
  CHECK(a[3]["value"] == nlohmann::json{{"doubleValue", "NaN"}});
  CHECK(a[4]["value"]["arrayValue"]["values"][1] == nlohmann::json{{"stringValue", "b"}});
  CHECK(spans[1]["parentSpanId"] == root.span_id);
  CHECK(std::stoull(spans[1]["endTimeUnixNano"].get<std::string>()) >= child.start_unix_nano);
  CHECK(spans[1]["status"] == nlohmann::json::object());
}

TEST_CASE("spans nest on their thread and name their parent across threads") {
  const std::string root = Trace::RootSpanId();
  CHECK(Trace::CurrentSpanId() == root);
  std::string outer_id, inner_id, worker_parent, worker_current;
  {
    Span outer("outer");
    outer_id = outer.id();
    CHECK(Trace::CurrentSpanId() == outer_id);
    {
      Span inner("inner");
      inner_id = inner.id();
      CHECK(Trace::CurrentSpanId() == inner_id);
      inner.End(Status::NotFound("gone"));
      CHECK(Trace::CurrentSpanId() == outer_id);
    }
    std::thread([&] {
      worker_current = Trace::CurrentSpanId();  // a fresh thread: the root's
      Span w("worker", outer_id);
      worker_parent = outer_id;
    }).join();
  }
  CHECK(Trace::CurrentSpanId() == root);
  CHECK(worker_current == root);
  std::map<std::string, SpanRecord> by_name;
  for (const auto& s : Trace::Spans()) by_name[s.name] = s;
  CHECK(by_name["outer"].parent_span_id == root);
  CHECK(by_name["inner"].parent_span_id == outer_id);
  CHECK(by_name["inner"].status == SpanStatus::kError);
  CHECK(by_name["inner"].status_message == "gone");
  CHECK(by_name["outer"].status == SpanStatus::kUnset);
  CHECK(by_name["worker"].parent_span_id == outer_id);
  CHECK(by_name["inner"].end_unix_nano >= by_name["inner"].start_unix_nano);
  CHECK(by_name["outer"].end_unix_nano >= by_name["inner"].end_unix_nano);
  CHECK(Trace::trace_id().size() == 32);
}

}  // namespace
}  // namespace pidx
