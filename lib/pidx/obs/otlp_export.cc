#include "pidx/obs/otlp_export.h"

#include "pidx/base/cancel.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <type_traits>

#include <curl/curl.h>
#include <dlfcn.h>
#include <fmt/format.h>

#include "pidx/base/number.h"
#include "pidx/obs/log.h"

namespace pidx {
namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

// "%41" -> "A" (W3C Baggage octets, as OTEL_RESOURCE_ATTRIBUTES and _HEADERS use them).
bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// "k1=v1,k2=v2": false (and `problem` says where) on an entry without '=' or a bad escape.
bool ParseKeyValues(const std::string& variable, std::string_view text,
                    std::vector<std::pair<std::string, std::string>>* out, std::string* problem) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string entry = Trim(text.substr(pos, comma - pos));
    pos = comma + 1;
    if (entry.empty()) continue;
    const size_t eq = entry.find('=');
    std::string key, value;
    if (eq == std::string::npos || eq == 0 || !PercentDecode(Trim(entry.substr(0, eq)), &key) ||
        !PercentDecode(Trim(entry.substr(eq + 1)), &value) || key.empty()) {
      *problem = fmt::format("{}: \"{}\" is not key=value (percent-encoded)", variable, entry);
      return false;
    }
    out->emplace_back(key, value);
  }
  return true;
}

// The signal's variable when set, else the general one (OTEL_EXPORTER_OTLP_TRACES_X before
// OTEL_EXPORTER_OTLP_X); `name` receives the one used.
const char* Pick(const GetEnvFn& getenv, const char* traces, const char* general,
                 std::string* name) {
  const char* v = getenv(traces);
  if (v != nullptr && *v != '\0') {
    *name = traces;
    return v;
  }
  v = getenv(general);
  *name = general;
  return v != nullptr && *v != '\0' ? v : nullptr;
}

SpanAttributes::value_type AnyValue(const nlohmann::ordered_json& v) {
  using J = nlohmann::ordered_json;
  if (v.is_boolean()) return J{{"boolValue", v.get<bool>()}};
  if (v.is_number_unsigned()) return J{{"intValue", std::to_string(v.get<uint64_t>())}};
  if (v.is_number_integer()) return J{{"intValue", std::to_string(v.get<int64_t>())}};
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d)) return J{{"doubleValue", d}};
    return J{{"doubleValue", std::isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity"}};
  }
  if (v.is_array()) {
    J values = J::array();
    for (const auto& e : v) values.push_back(AnyValue(e));
    return J{{"arrayValue", {{"values", values}}}};
  }
  if (v.is_string()) return J{{"stringValue", v.get<std::string>()}};
  return J{{"stringValue", v.dump()}};
}

nlohmann::ordered_json KeyValues(const SpanAttributes& attributes) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& [k, v] : attributes.items()) out.push_back({{"key", k}, {"value", AnyValue(v)}});
  return out;
}

uint64_t NowUnixNano() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// The URL without "user:password@": an event must not carry a credential.
std::string Redacted(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t host = scheme + 3;
  const size_t end = url.find_first_of("/?#", host);
  const size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < host) return url;
  return url.substr(0, host) + "***@" + url.substr(at + 1);
}

void Warn(const std::string& exporter, const std::string& where_key, const std::string& where,
          const std::string& reason) {
  const std::string shown = where_key == "endpoint" ? Redacted(where) : where;
  Log::Warn("telemetry.export.failed", "traces not exported: " + reason,
            {{"exporter", exporter}, {where_key, shown}, {"reason", reason}});
}

void AppendToFile(const std::string& path, const std::string& line) {
  // O_NONBLOCK only for the open: a FIFO without a reader fails (ENXIO) instead of hanging.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0644);
  if (fd < 0)
    return Warn("file", "file", path, std::string("cannot open: ") + std::strerror(errno));
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Warn("file", "file", path, "is a directory");
  }
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR && !Cancelled()) continue;  // a FIFO nobody reads: stop
    if (n <= 0) {
      const std::string why = n < 0 ? std::strerror(errno) : "short write";
      ::close(fd);
      return Warn("file", "file", path, "write failed: " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0)
    Warn("file", "file", path, std::string("close failed: ") + std::strerror(errno));
}

// A SIGINT or SIGTERM (main's handler sets CancelSignal) ends the request at once: the run is
// over, and a supervisor's grace period is shorter than OTEL_EXPORTER_OTLP_TIMEOUT may be.
int StopWhenCancelled(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return Cancelled() ? 1 : 0;
}

size_t CollectBody(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() < 64 * 1024) body->append(data, size * n);
  return size * n;
}

// libcurl is loaded when a run first exports to an endpoint, not linked: linked, its 30
// libraries (TLS, Kerberos, LDAP, ...) cost every pidx process about 4 ms of dynamic loading
// (perf stat, 2026-12-01), three times what a one-query process otherwise needs. The
// functions used are looked up by name in libcurl's stable ABI (soname libcurl.so.4).
struct CurlApi {
  CURLcode (*global_init)(long);
  void (*global_cleanup)();
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  void (*easy_cleanup)(CURL*);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
};

// The API, or nullptr with *why saying what failed. The library stays loaded for the process.
const CurlApi* LoadCurl(std::string* why) {
  static CurlApi api;
  static std::string error;
  static const bool loaded = [] {
    void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* e = ::dlerror();
      error = std::string("libcurl.so.4 could not be loaded (Debian package libcurl4): ") +
              (e != nullptr ? e : "unknown error");
      return false;
    }
    bool ok = true;
    auto bind = [&](auto* fn, const char* name) {
      void* sym = ::dlsym(lib, name);
      if (sym == nullptr) {
        if (ok) error = std::string("libcurl.so.4 lacks ") + name;
        ok = false;
      }
      *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(sym);
    };
    bind(&api.global_init, "curl_global_init");
    bind(&api.global_cleanup, "curl_global_cleanup");
    bind(&api.easy_init, "curl_easy_init");
    bind(&api.easy_setopt, "curl_easy_setopt");
    bind(&api.easy_perform, "curl_easy_perform");
    bind(&api.easy_getinfo, "curl_easy_getinfo");
    bind(&api.easy_cleanup, "curl_easy_cleanup");
    bind(&api.easy_strerror, "curl_easy_strerror");
    bind(&api.slist_append, "curl_slist_append");
    bind(&api.slist_free_all, "curl_slist_free_all");
    return ok;
  }();
  if (!loaded) *why = error;
  return loaded ? &api : nullptr;
}

void Post(const TraceExportConfig& config, const std::string& body) {
  std::string why;
  const CurlApi* c = LoadCurl(&why);
  if (c == nullptr) return Warn("otlp", "endpoint", config.endpoint, why);
  // Once per process, at its end (one thread left): init and cleanup pair up here.
  if (c->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    return Warn("otlp", "endpoint", config.endpoint, "libcurl failed to start");
  }
  struct GlobalCleanup {
    const CurlApi* api;
    ~GlobalCleanup() { api->global_cleanup(); }
  } cleanup{c};
  CURL* curl = c->easy_init();
  if (curl == nullptr) return Warn("otlp", "endpoint", config.endpoint, "libcurl failed to start");
  curl_slist* headers = c->slist_append(nullptr, "Content-Type: application/json");
  for (const auto& [k, v] : config.headers)
    headers = c->slist_append(headers, fmt::format("{}: {}", k, v).c_str());
  std::string response;
  char error[CURL_ERROR_SIZE] = {0};
  c->easy_setopt(curl, CURLOPT_URL, config.endpoint.c_str());
  c->easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  c->easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  c->easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  // The whole request, connect included, is bounded by the timeout; no signals (threads).
  c->easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(config.timeout_ms));
  c->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config.timeout_ms));
  c->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  c->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  c->easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  c->easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
  c->easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  c->easy_setopt(curl, CURLOPT_USERAGENT, "pidx/" PIDX_VERSION);
  c->easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, StopWhenCancelled);
  c->easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  const CURLcode rc = Cancelled() ? CURLE_ABORTED_BY_CALLBACK : c->easy_perform(curl);
  long http = 0;
  c->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
  c->slist_free_all(headers);
  c->easy_cleanup(curl);
  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    return Warn("otlp", "endpoint", config.endpoint,
                "interrupted by signal " + std::to_string(CancelSignal().load()) +
                    " before the collector answered");
  }
  if (rc != CURLE_OK) {
    return Warn("otlp", "endpoint", config.endpoint,
                std::string(error[0] ? error : c->easy_strerror(rc)) +
                    (rc == CURLE_OPERATION_TIMEDOUT ? " (OTEL_EXPORTER_OTLP_TIMEOUT " +
                                                          std::to_string(config.timeout_ms) + " ms)"
                                                    : ""));
  }
  if (http < 200 || http > 299) {
    return Warn("otlp", "endpoint", config.endpoint,
                "the collector answered HTTP " + std::to_string(http));
  }
  // A partial success names the spans the collector dropped (OTLP/HTTP specification).
  auto j = nlohmann::json::parse(response, nullptr, false);
  if (j.is_object() && j.contains("partialSuccess") && j["partialSuccess"].is_object()) {
    const auto& p = j["partialSuccess"];
    const auto rejected = p.value("rejectedSpans", nlohmann::json("0"));
    const std::string n = rejected.is_string() ? rejected.get<std::string>() : rejected.dump();
    if (n != "0") {
      Warn("otlp", "endpoint", config.endpoint,
           "the collector rejected " + n + " spans: " + p.value("errorMessage", std::string()));
    }
  }
}

}  // namespace

TraceExportConfig TraceExportConfigFromEnv(const GetEnvFn& getenv) {
  TraceExportConfig c;
  std::string name;

  std::vector<std::pair<std::string, std::string>> resource;
  if (const char* ra = getenv("OTEL_RESOURCE_ATTRIBUTES"); ra != nullptr) {
    std::string problem;
    if (!ParseKeyValues("OTEL_RESOURCE_ATTRIBUTES", ra, &resource, &problem)) {
      c.problems.push_back(problem + "; the variable is ignored");
      resource.clear();
    }
  }
  std::string service = "pidx";
  for (const auto& [k, v] : resource) {
    if (k == "service.name") service = v;
  }
  if (const char* sn = getenv("OTEL_SERVICE_NAME"); sn != nullptr && *sn != '\0') service = sn;
  c.resource["service.name"] = service;
  c.resource["service.version"] = PIDX_VERSION;
  c.resource["process.pid"] = static_cast<int64_t>(::getpid());
  for (const auto& [k, v] : resource) {
    if (k != "service.name") c.resource[k] = v;
  }

  const char* disabled = getenv("OTEL_SDK_DISABLED");
  if (disabled != nullptr && std::string_view(disabled) == "true") return c;

  // The exporter: "otlp" exports, "none" does not; unset exports when an endpoint is given
  // (a batch job without a collector does not warn on every run).
  const char* exporter = getenv("OTEL_TRACES_EXPORTER");
  const char* endpoint_any =
      Pick(getenv, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", &name);
  bool want = endpoint_any != nullptr;
  if (exporter != nullptr && *exporter != '\0') {
    want = false;
    std::string list = exporter;
    size_t pos = 0;
    while (pos <= list.size()) {
      size_t comma = list.find(',', pos);
      if (comma == std::string::npos) comma = list.size();
      const std::string e = Trim(std::string_view(list).substr(pos, comma - pos));
      pos = comma + 1;
      if (e == "otlp") {
        want = true;
      } else if (e != "none" && !e.empty()) {
        c.problems.push_back("OTEL_TRACES_EXPORTER: \"" + e +
                             "\" is not an exporter pidx has (otlp, none); ignored");
      }
    }
  }
  if (!want) return c;

  const char* protocol =
      Pick(getenv, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL", &name);
  if (protocol != nullptr && std::string_view(protocol) != "http/json") {
    c.problems.push_back(name + ": \"" + protocol +
                         "\" is not a protocol pidx speaks (only http/json); nothing is exported");
    return c;
  }

  // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is the URL as is; OTEL_EXPORTER_OTLP_ENDPOINT is a
  // base to which the signal's path is added (the specification).
  std::string endpoint_name;
  if (Pick(getenv, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT",
           &endpoint_name) != nullptr &&
      endpoint_name == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
    c.endpoint = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  } else {
    endpoint_name = "OTEL_EXPORTER_OTLP_ENDPOINT";
    std::string b = endpoint_any != nullptr ? endpoint_any : "http://localhost:4318";
    while (!b.empty() && b.back() == '/') b.pop_back();
    c.endpoint = b + "/v1/traces";
  }
  if (c.endpoint.rfind("http://", 0) != 0 && c.endpoint.rfind("https://", 0) != 0) {
    c.problems.push_back(endpoint_name + ": \"" + c.endpoint +
                         "\" is not an http:// or https:// URL; nothing is exported");
    return c;
  }

  if (const char* h =
          Pick(getenv, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS", &name);
      h != nullptr) {
    std::string problem;
    std::vector<std::pair<std::string, std::string>> headers;
    if (!ParseKeyValues(name, h, &headers, &problem)) {
      c.problems.push_back(problem + "; nothing is exported");
      return c;
    }
    for (const auto& [k, v] : headers) {
      // A header line is "key: value"; CR or LF would start another one.
      if (k.find_first_of("\r\n:") != std::string::npos ||
          v.find_first_of("\r\n") != std::string::npos) {
        c.problems.push_back(fmt::format(
            "{}: header \"{}\" has a line break or colon; nothing is exported", name, k));
        return c;
      }
    }
    c.headers = std::move(headers);
  }
  if (const char* t =
          Pick(getenv, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", &name);
      t != nullptr) {
    auto ms = ParseUnsigned(t, 1, 600000);
    if (ms.ok()) {
      c.timeout_ms = static_cast<int64_t>(*ms);
    } else {
      c.problems.push_back(name + ": " + ms.status().message() +
                           " (milliseconds, 1-600000); 10000 is used");
    }
  }
  c.otlp = true;
  return c;
}

std::string OtlpTraceJson(const std::vector<SpanRecord>& spans, const std::string& trace_id,
                          const SpanAttributes& resource) {
  using J = nlohmann::ordered_json;
  J out_spans = J::array();
  const uint64_t now = NowUnixNano();
  for (const auto& s : spans) {
    J j;
    j["traceId"] = trace_id;
    j["spanId"] = s.span_id;
    if (!s.parent_span_id.empty()) j["parentSpanId"] = s.parent_span_id;
    j["name"] = s.name;
    j["kind"] = 1;  // SPAN_KIND_INTERNAL
    j["startTimeUnixNano"] = std::to_string(s.start_unix_nano);
    j["endTimeUnixNano"] = std::to_string(s.end_unix_nano ? s.end_unix_nano : now);
    j["attributes"] = KeyValues(s.attributes);
    J status = J::object();
    if (s.status != SpanStatus::kUnset) status["code"] = static_cast<int>(s.status);
    if (!s.status_message.empty()) status["message"] = s.status_message;
    j["status"] = status;
    out_spans.push_back(std::move(j));
  }
  J scope = {{"scope", {{"name", "pidx"}, {"version", PIDX_VERSION}}}, {"spans", out_spans}};
  J rs = {{"resource", {{"attributes", KeyValues(resource)}}}, {"scopeSpans", J::array({scope})}};
  J req = {{"resourceSpans", J::array({rs})}};
  return req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void ExportTrace(const TraceExportConfig& config) {
  for (const auto& p : config.problems) Warn("otlp", "endpoint", config.endpoint, p);
  if (!config.otlp && config.file.empty()) return;
  if (!Trace::sampled()) return;  // TRACEPARENT said: not sampled
  const std::string body = OtlpTraceJson(Trace::Spans(), Trace::trace_id(), config.resource);
  if (!config.file.empty()) AppendToFile(config.file, body + "\n");
  if (config.otlp) Post(config, body);
}

}  // namespace pidx
