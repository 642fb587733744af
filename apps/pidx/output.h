// Result output: human tables, or one JSON object with a schema_version when --json is given
// (fields are only ever added). Logs never go here.
//
// One sink serves every result pidx prints (PrintText, PrintJson, help, --version): it writes
// with write(2) on fd 1, no stdio buffer in between, and remembers the first failure (ENOSPC
// from /dev/full or a full disk, EPIPE from a closed pipe: SIGPIPE is ignored, so a closed pipe
// is an error, not a silent death). main closes it after the command and turns a failure into
// kIoError (exit 74, with the command's failure event), also over a command's findings (exit 1):
// a report that was not written must not pass for a clean or a failed result.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pidx/base/status.h"
#include "pidx/ops/progress.h"

namespace pidx::cli {

// 2: one type per key in every command (docs/CLI.md "JSON results"): `shard_count` is a number,
// `shards` an array of objects with a `shard`; `parent` is null when there is none; a failure
// is one error object. docs/schemas/ has each command's JSON Schema.
inline constexpr int kJsonSchemaVersion = 2;

class OutputSink {
 public:
  // `name` says where the result goes in errors ("stdout"). `closed_at_start`: the fd was
  // closed when pidx started (main put /dev/null there): every write fails.
  OutputSink(int fd, std::string name, bool closed_at_start = false);

  // kIoError when nothing written here can arrive (the fd was closed at start); checked
  // before a command runs, so a build does not publish a version it cannot report.
  Status Ready() const;
  // Appends `text`. After a failure it writes nothing more; Close reports the failure.
  void Write(std::string_view text);
  // The first failed write, or a failure the close reports (a file system that writes back at
  // close). The fd itself stays open (on /dev/null semantics it is still fd 1).
  Status Close();
  // The first failed write so far (Ok while every write went through).
  const Status& failure() const { return failed_; }
  // Whether anything was written (or tried) since the start.
  bool wrote() const { return wrote_; }

 private:
  int fd_;
  std::string name_;
  bool closed_at_start_;
  Status failed_ = Status::Ok();
  bool wrote_ = false;
};

// The process's stdout sink; InitStdout must run first (main).
void InitStdout(bool closed_at_start);
OutputSink& Stdout();

// The outcome once the result has been written with `written` (a sink's failure): a failed
// write turns a success or findings into that kIoError; any other failure stands. The one rule,
// used by main and by --metrics-file (so the metrics agree with the exit code).
Status WithResultWritten(Status outcome, const Status& written);

// Prints `text` on stdout as is.
void PrintText(std::string_view text);
// Prints `j` (with "schema_version" first, "trace_id" added at the end) and a newline on stdout.
void PrintJson(const nlohmann::ordered_json& j);

// The conventions of schema_version 2, in one place.
// A version's name, or null for 0 (no version: a first build's parent).
nlohmann::ordered_json VersionOrNull(uint64_t version);
// `shards` as an array of objects: [{"shard": "books_000"}, ...].
nlohmann::ordered_json ShardListJson(const std::vector<std::string>& shards);

// A failed command under --json: one error object on stdout, so that a script always reads
// one object (docs/schemas/error.schema.json): schema_version, command (null when none could
// be told), ok false, error, reason, exit_code, and the failure event's extra fields (option,
// value, shard, ...). Written only when the command printed nothing yet.
void PrintJsonError(const char* command, const Status& status, int exit_code,
                    const nlohmann::json& extra_fields);

// A text table with right-aligned numeric columns.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void AddRow(std::vector<std::string> row);
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// Whether bars may use Unicode block characters: not under TERM=dumb, and only with a UTF-8
// locale (LC_ALL, else LC_CTYPE, else LANG names UTF-8); otherwise Bar draws ASCII '#'.
bool UnicodeBlocks();
// A horizontal bar of `value / max` of `width` cells: full blocks and an eighth-block end
// (Unicode), or '#' (ASCII). A non-zero value gets at least a sliver.
std::string Bar(uint64_t value, uint64_t max, int width, bool unicode);

// 1234567 -> "1.2 MB"
std::string HumanBytes(uint64_t bytes);

// A build's pace over its whole duration (at least 1 ms): products and catalog megabytes
// (10^6 bytes, as read: compressed for .gz) per second.
struct Throughput {
  double products_per_second = 0;
  double mb_per_second = 0;
};
Throughput ThroughputOf(uint64_t docs, uint64_t catalog_bytes, int64_t duration_ms);
// {"read", "shards", "publish", "other"}: wall-clock ms by phase; "other" is the rest of
// duration_ms (opening the index, checks). Then "shard_work": thread time of the shard phase
// {"encode", "write", "check"} (summed over threads: it can exceed "shards").
nlohmann::ordered_json PhasesJson(const PhaseTimes& t, int64_t duration_ms);
// "  took 3.40s: 2941 products/s, 12.3 MB/s\n  time: read 1.10s (32%) ..." for the summary.
std::string TimingText(int64_t duration_ms, uint64_t docs, uint64_t catalog_bytes,
                       const PhaseTimes& t);

}  // namespace pidx::cli
