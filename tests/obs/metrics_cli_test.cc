// End-to-end: --metrics-file / PIDX_METRICS_FILE of build, rebuild-shard, verify and gc. Every
// file is read back with a strict parser of the Prometheus text exposition format (0.0.4):
// Debian's promtool comes only with the whole prometheus server package, so the test carries
// its own parser, stricter than the real one where that costs nothing.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/index_files.h"
#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::GenCatalog;
using pidx::testing::Pidx;
using pidx::testing::ReadFile;
using pidx::testing::RunOptions;
using pidx::testing::RunResult;
using pidx::testing::TempDir;
using pidx::testing::TempFilesIn;
namespace fs = std::filesystem;

namespace {

struct Sample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types;  // family -> counter|gauge|...
  std::map<std::string, std::string> help;
  std::map<std::string, std::vector<Sample>> samples;

  // The only sample of `name`; fails the test when there is not exactly one.
  const Sample& One(const std::string& name) const {
    auto it = samples.find(name);
    if (it == samples.end() || it->second.size() != 1) {
      throw std::runtime_error("expected exactly one sample of " + name);
    }
    return it->second[0];
  }
};

[[noreturn]] void Fail(size_t line_no, const std::string& why, const std::string& line) {
  throw std::runtime_error("line " + std::to_string(line_no) + ": " + why + ": " + line);
}

// Parses "name", or "name{l="v",...}", from `s` at `pos`; returns the label set.
std::map<std::string, std::string> ParseLabels(const std::string& s, size_t* pos, size_t line_no) {
  static const std::regex kLabelName("[a-zA-Z_][a-zA-Z0-9_]*");
  std::map<std::string, std::string> labels;
  if (*pos >= s.size() || s[*pos] != '{') return labels;
  ++*pos;
  while (*pos < s.size() && s[*pos] != '}') {
    size_t eq = s.find('=', *pos);
    if (eq == std::string::npos) Fail(line_no, "label without '='", s);
    std::string name = s.substr(*pos, eq - *pos);
    if (!std::regex_match(name, kLabelName)) Fail(line_no, "bad label name '" + name + "'", s);
    if (name.rfind("__", 0) == 0) Fail(line_no, "reserved label name", s);
    *pos = eq + 1;
    if (*pos >= s.size() || s[*pos] != '"') Fail(line_no, "label value not quoted", s);
    ++*pos;
    std::string value;
    for (;;) {
      if (*pos >= s.size()) Fail(line_no, "unterminated label value", s);
      char c = s[(*pos)++];
      if (c == '"') break;
      if (c == '\\') {
        if (*pos >= s.size()) Fail(line_no, "dangling escape", s);
        char e = s[(*pos)++];
        if (e == '\\') {
          value += '\\';
        } else if (e == '"') {
          value += '"';
        } else if (e == 'n') {
          value += '\n';
        } else {
          Fail(line_no, std::string("bad escape \\") + e, s);
        }
      } else {
        value += c;
      }
    }
    if (!labels.emplace(name, value).second) Fail(line_no, "repeated label " + name, s);
    if (*pos < s.size() && s[*pos] == ',') ++*pos;
  }
  if (*pos >= s.size()) Fail(line_no, "unterminated label set", s);
  ++*pos;  // '}'
  return labels;
}

double ParseValue(const std::string& text, size_t line_no, const std::string& line) {
  static const std::regex kFloat(R"([-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?)");
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (!std::regex_match(text, kFloat)) Fail(line_no, "bad value '" + text + "'", line);
  return std::stod(text);
}

// Strict: every line is a HELP, a TYPE or a sample; no blank lines or free comments; the file
// ends with a newline; HELP/TYPE at most once per family and before its samples; a family's
// samples are contiguous; every sample belongs to a family with a TYPE; no repeated series.
Exposition ParseExposition(const std::string& text) {
  static const std::regex kName("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary",
                                               "untyped"};
  Exposition e;
  if (text.empty() || text.back() != '\n') throw std::runtime_error("does not end in a newline");
  std::set<std::string> closed;  // families whose samples ended
  std::string open;
  std::set<std::string> series;
  size_t start = 0, line_no = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (line.empty()) Fail(line_no, "blank line", line);
    if (line[0] == '#') {
      std::smatch m;
      static const std::regex kMeta(R"(# (HELP|TYPE) ([^ ]+) (.*))");
      if (!std::regex_match(line, m, kMeta)) Fail(line_no, "comment that is not HELP/TYPE", line);
      const std::string name = m[2];
      if (!std::regex_match(name, kName)) Fail(line_no, "bad metric name", line);
      if (e.samples.count(name)) Fail(line_no, "HELP/TYPE after the samples", line);
      if (m[1] == "TYPE") {
        if (!kTypes.count(m[3])) Fail(line_no, "unknown type", line);
        if (!e.types.emplace(name, m[3]).second) Fail(line_no, "second TYPE", line);
      } else {
        const std::string help = m[3];
        for (size_t i = 0; i < help.size(); ++i) {
          if (help[i] == '\\' &&
              (i + 1 == help.size() || (help[i + 1] != '\\' && help[i + 1] != 'n')))
            Fail(line_no, "bad escape in HELP", line);
          if (help[i] == '\\') ++i;
        }
        if (!e.help.emplace(name, help).second) Fail(line_no, "second HELP", line);
      }
      continue;
    }
    size_t pos = 0;
    while (pos < line.size() && line[pos] != '{' && line[pos] != ' ') ++pos;
    const std::string name = line.substr(0, pos);
    if (!std::regex_match(name, kName)) Fail(line_no, "bad metric name '" + name + "'", line);
    auto labels = ParseLabels(line, &pos, line_no);
    if (pos >= line.size() || line[pos] != ' ') Fail(line_no, "no space before the value", line);
    std::string rest = line.substr(pos + 1);
    std::string value_text = rest.substr(0, rest.find(' '));
    if (rest.find(' ') != std::string::npos) {
      static const std::regex kTimestamp("-?[0-9]+");
      if (!std::regex_match(rest.substr(rest.find(' ') + 1), kTimestamp))
        Fail(line_no, "bad timestamp", line);
    }
    if (!e.types.count(name)) Fail(line_no, "sample without a TYPE for its metric", line);
    if (name != open) {
      if (closed.count(name)) Fail(line_no, "samples of a family are not contiguous", line);
      if (!open.empty()) closed.insert(open);
      open = name;
    }
    std::string key = name;
    for (const auto& [k, v] : labels) key += "\x01" + k + "=" + v;
    if (!series.insert(key).second) Fail(line_no, "repeated series", line);
    e.samples[name].push_back({labels, ParseValue(value_text, line_no, line)});
  }
  return e;
}

Exposition ParseFile(const std::string& path) {
  REQUIRE(fs::exists(path));
  return ParseExposition(ReadFile(path));
}

std::string BuildIndex(const TempDir& dir, const std::string& metrics) {
  auto catalog = GenCatalog(dir.File("c.jsonl"), 400, 11);
  auto index = dir.File("idx");
  RunResult r = Pidx({"build", "--catalog", catalog, "--index", index, "--metrics-file", metrics});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return index;
}

}  // namespace

TEST_CASE("the metrics parser rejects what Prometheus rejects") {
  CHECK_NOTHROW(ParseExposition("# TYPE a gauge\na{x=\"q\\\"\\\\\\n\"} 1.5e3\n"));
  CHECK_THROWS(ParseExposition("a 1\n"));                             // no TYPE
  CHECK_THROWS(ParseExposition("# TYPE a gauge\na 1"));               // no final newline
  CHECK_THROWS(ParseExposition("# TYPE a gauge\na{x=\"\\t\"} 1\n"));  // bad escape
  CHECK_THROWS(ParseExposition("# TYPE a gauge\na{1x=\"v\"} 1\n"));   // bad label name
  CHECK_THROWS(ParseExposition("# TYPE 1a gauge\n1a 1\n"));           // bad metric name
  CHECK_THROWS(ParseExposition("# TYPE a gauge\na one\n"));           // bad value
  CHECK_THROWS(ParseExposition("# TYPE a gauge\na 1\na 2\n"));        // repeated series
  CHECK_THROWS(ParseExposition("# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 1\n"));
}

TEST_CASE("build --metrics-file writes duration, success and docs and bytes per shard") {
  TempDir dir;
  const std::string metrics = dir.File("build.prom");
  const std::string index = BuildIndex(dir, metrics);
  Exposition e = ParseFile(metrics);
  CHECK(e.types["pidx_command_duration_seconds"] == "gauge");
  CHECK(e.types["pidx_lock_timed_out"] == "gauge");
  CHECK(e.help.size() == e.types.size());
  const Sample& success = e.One("pidx_command_success");
  CHECK(success.value == 1);
  CHECK(success.labels.at("command") == "build");
  CHECK(success.labels.at("index") == index);
  CHECK(e.One("pidx_command_duration_seconds").value > 0);
  CHECK(e.One("pidx_command_last_success_timestamp_seconds").value >
        static_cast<double>(time(nullptr) - 600));
  CHECK(e.One("pidx_lock_wait_seconds").value >= 0);
  CHECK(e.One("pidx_lock_timed_out").value == 0);
  double docs = 0;
  std::set<std::string> shards;
  for (const auto& s : e.samples["pidx_index_docs"]) {
    docs += s.value;
    shards.insert(s.labels.at("shard"));
  }
  CHECK(docs == 400);
  CHECK(shards.size() > 8);
  REQUIRE(e.samples["pidx_index_bytes"].size() == shards.size());
  for (const auto& s : e.samples["pidx_index_bytes"]) CHECK(s.value > 0);
  CHECK(TempFilesIn(dir.path()).empty());
}

TEST_CASE("a build of a bad catalog exits 65 and its metrics say pidx_command_success 0") {
  TempDir dir;
  auto catalog = dir.Write("bad.jsonl", "{\"id\":\"P1\",\"title\":\"no category\"}\n");
  // The index path carries every character a label value must escape.
  const std::string index = dir.File("odd \"name\" \\ with\nnewline");
  const std::string metrics = dir.File("bad.prom");
  RunOptions env;
  env.env["PIDX_METRICS_FILE"] = metrics;
  RunResult r = Pidx({"build", "--catalog", catalog, "--index", index}, env);
  INFO(r.err);
  REQUIRE(r.exit_code == 65);
  Exposition e = ParseFile(metrics);
  const Sample& success = e.One("pidx_command_success");
  CHECK(success.value == 0);
  CHECK(success.labels.at("index") == index);
  CHECK(e.samples.count("pidx_command_last_success_timestamp_seconds") == 0);
  CHECK(e.samples.count("pidx_index_docs") == 0);
  CHECK(e.One("pidx_lock_timed_out").value == 0);
  CHECK(e.One("pidx_command_duration_seconds").value >= 0);
}

TEST_CASE("verify metrics count findings by kind") {
  TempDir dir;
  const std::string index = BuildIndex(dir, dir.File("build.prom"));
  const std::string metrics = dir.File("verify.prom");
  RunResult ok = Pidx({"verify", "--index", index, "--metrics-file", metrics});
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);
  Exposition clean = ParseFile(metrics);
  CHECK(clean.One("pidx_command_success").value == 1);
  CHECK(clean.types["pidx_verify_findings"] == "gauge");
  CHECK(clean.samples.count("pidx_verify_findings") == 0);

  std::string segment;
  for (const auto& f : fs::directory_iterator(index + "/segments")) segment = f.path().string();
  REQUIRE(!segment.empty());
  std::string bytes = ReadFile(segment);
  bytes[bytes.size() / 2] ^= 0x20;
  fs::permissions(segment, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(segment, std::ios::binary | std::ios::trunc) << bytes;

  RunResult bad = Pidx({"verify", "--index", index, "--metrics-file", metrics});
  REQUIRE(bad.exit_code == 1);
  Exposition damaged = ParseFile(metrics);
  CHECK(damaged.One("pidx_command_success").value == 0);
  REQUIRE(damaged.samples["pidx_verify_findings"].size() == 1);
  const Sample& finding = damaged.samples["pidx_verify_findings"][0];
  CHECK(finding.labels.at("kind") == "segment_checksum_mismatch");
  CHECK(finding.value == 1);
}

TEST_CASE("rebuild-shard metrics report the rebuilt shard") {
  TempDir dir;
  const std::string index = BuildIndex(dir, dir.File("build.prom"));
  const Sample first = ParseFile(dir.File("build.prom")).samples["pidx_index_docs"].at(0);
  const std::string shard = first.labels.at("shard");
  const std::string metrics = dir.File("rebuild.prom");
  RunResult r = Pidx({"rebuild-shard", shard, "--catalog", dir.File("c.jsonl"), "--index", index,
                      "--metrics-file", metrics});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  Exposition e = ParseFile(metrics);
  CHECK(e.One("pidx_command_success").labels.at("command") == "rebuild-shard");
  CHECK(e.One("pidx_index_docs").labels.at("shard") == shard);
  CHECK(e.One("pidx_index_docs").value == first.value);
  CHECK(e.One("pidx_index_bytes").value > 0);
  CHECK(e.One("pidx_lock_timed_out").value == 0);
}

TEST_CASE("gc metrics report success, and a lock timeout with exit 75") {
  TempDir dir;
  const std::string index = BuildIndex(dir, dir.File("build.prom"));
  const std::string metrics = dir.File("gc.prom");
  RunResult r = Pidx({"gc", "--index", index, "--keep", "1", "--metrics-file", metrics});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  Exposition e = ParseFile(metrics);
  CHECK(e.One("pidx_command_success").value == 1);
  CHECK(e.One("pidx_command_success").labels.at("command") == "gc");
  CHECK(e.One("pidx_lock_wait_seconds").value >= 0);
  CHECK(e.One("pidx_lock_timed_out").value == 0);

  // flock from this process: the child cannot take the publish lock.
  int fd = ::open((index + "/locks/publish.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX) == 0);
  RunResult held = Pidx({"gc", "--index", index, "--keep", "1", "--lock-timeout", "200ms",
                         "--metrics-file", metrics});
  ::close(fd);
  REQUIRE(held.exit_code == 75);
  Exposition t = ParseFile(metrics);
  CHECK(t.One("pidx_command_success").value == 0);
  CHECK(t.One("pidx_lock_timed_out").value == 1);
  CHECK(t.One("pidx_lock_wait_seconds").value == Approx(0.2));
  CHECK(t.samples.count("pidx_command_last_success_timestamp_seconds") == 0);
}
