// End-to-end: the structured log contract (PRODUCT.md section 8).
#include <regex>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>

#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::Pidx;
using pidx::testing::RunResult;
using pidx::testing::TempDir;

namespace {
const char* kCatalog =
    "{\"id\":\"A\",\"category\":\"Books\",\"title\":\"Dune\"}\n"
    "{\"id\":\"B\",\"category\":\"Toys\",\"title\":\"Kite\"}\n";
}

TEST_CASE("every json stderr line carries TRACEPARENT's trace id and the span it was written in") {
  TempDir dir;
  auto c = dir.Write("c.jsonl", kCatalog);
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  RunResult r = Pidx({"build", "--catalog", c, "--index", dir.File("idx")},
                     {.env = {{"TRACEPARENT", "00-" + trace + "-00f067aa0ba902b7-01"}}});
  REQUIRE(r.exit_code == 0);
  size_t lines = 0;
  std::istringstream in(r.err);
  std::string line;
  std::set<std::string> spans;
  while (std::getline(in, line)) {
    ++lines;
    auto j = nlohmann::json::parse(line);  // throws (fails) on a non-JSON line
    CHECK(j["trace_id"] == trace);
    CHECK(j["service"] == "pidx");
    CHECK(j["operation"] == "build");
    CHECK(std::regex_match(j["timestamp"].get<std::string>(),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
    CHECK(std::regex_match(j["span_id"].get<std::string>(), std::regex("[0-9a-f]{16}")));
    CHECK(j["trace_flags"] == "01");
    spans.insert(j["span_id"].get<std::string>());
    CHECK((j["level"] == "info" || j["level"] == "debug" || j["level"] == "warn"));
  }
  CHECK(lines >= 3);
  REQUIRE(r.Events("index.build.started").size() == 1);
  CHECK(r.Events("shard.build.completed").size() == 2);
  // Each line names the span it was written in: the run's root, each shard's own span.
  const auto shards = r.Events("shard.build.completed");
  CHECK(shards[0]["span_id"] != shards[1]["span_id"]);
  CHECK(shards[0]["span_id"] != r.Events("index.build.started")[0]["span_id"]);
  CHECK(spans.size() >= 3);
  auto done = r.Events("index.build.completed");
  REQUIRE(done.size() == 1);
  CHECK(done[0]["version"] == "v000001");
  CHECK(done[0]["docs"] == 2);
  CHECK(done[0].contains("duration_ms"));
}

TEST_CASE("without TRACEPARENT a run starts its own trace, shared by all its events") {
  TempDir dir;
  auto c = dir.Write("c.jsonl", kCatalog);
  RunResult r = Pidx({"build", "--catalog", c, "--index", dir.File("idx")},
                     {.env = {{"TRACEPARENT", "garbage"}}});
  REQUIRE(r.exit_code == 0);
  auto events = r.Events();
  REQUIRE(!events.empty());
  std::string trace = events[0]["trace_id"];
  CHECK(std::regex_match(trace, std::regex("[0-9a-f]{32}")));
  for (const auto& e : events) CHECK(e["trace_id"] == trace);
}

TEST_CASE("logfmt and text formats, --quiet and --log-level") {
  TempDir dir;
  auto c = dir.Write("c.jsonl", kCatalog);
  RunResult r = Pidx({"build", "--catalog", c, "--index", dir.File("a"), "--log-format", "logfmt"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("event=index.build.completed") != std::string::npos);
  CHECK(r.err.find("level=info") != std::string::npos);

  r = Pidx({"build", "--catalog", c, "--index", dir.File("b"), "--log-format", "text"},
           {.env = {{"NO_COLOR", "1"}}});
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("index.build.completed") != std::string::npos);
  CHECK(r.err.find("\x1b[") == std::string::npos);

  r = Pidx({"build", "--catalog", c, "--index", dir.File("c"), "--quiet"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK(!r.out.empty());

  r = Pidx({"build", "--catalog", c, "--index", dir.File("d"), "--log-level", "loud"});
  CHECK(r.exit_code == 64);
}

TEST_CASE("stdout carries results only, logs go to stderr") {
  TempDir dir;
  auto c = dir.Write("c.jsonl", kCatalog);
  RunResult r = Pidx({"build", "--catalog", c, "--index", dir.File("idx"), "--json"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);  // the whole of stdout is one JSON document
  CHECK(j["command"] == "build");
  CHECK(r.out.find("index.build") == std::string::npos);
}
