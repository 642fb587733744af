// Flag groups shared by the subcommands, defined once: --index, --catalog, --json,
// --log-format/--log-level/--quiet/--color/--trace-file, --lock-timeout, --threads, --version V
// (and the V of rollback, gc's --protect V), how catalogs are read, the publishing guard,
// --memory-budget. Every option can also come from a PIDX_<OPTION> environment variable
// (--lock-timeout -> PIDX_LOCK_TIMEOUT); a flag wins over the environment, the environment
// over the default (applied here, not by CLI11: PITFALLS.md).
//
// Every numeric option is registered through AddCountOption or AddFractionOption and parsed
// by the strict parsers of pidx/ops/values.h, from a flag and from its variable alike: NaN, inf, a
// sign, trailing junk or a value out of range is refused (exit 64 for the flag, 78 for the
// variable) with an event naming the flag or variable and the value. CLI11's own conversions
// (strtoull: "-1" is 18446744073709551615, overflow saturates; strtod: "nan") are never used for a
// number.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include <optional>

#include "pidx/base/status.h"
#include "pidx/obs/log.h"
#include "pidx/ops/values.h"

namespace pidx::cli {

struct GlobalOptions {
  bool json = false;
  std::string log_format = "auto";
  std::string log_level = "info";
  bool quiet = false;
  std::string color = "auto";      // auto|always|never (checked while parsing)
  std::string trace_file;          // --trace-file: the run's spans as OTLP/JSON lines
  std::set<std::string> from_env;  // long names whose value came from the environment
  // Added to the command's failure event (e.g. the shard of rebuild-shard).
  // BadValue adds the flag or variable it names (mutable: a check on const options may add it).
  mutable LogFields failure_fields = LogFields::object();

  // The command's `.completed` event, which main logs under the command table's name once the
  // command returns (also when writing its result fails afterwards: the work was done).
  // Commands call Completed when they did their work (a verify with findings too).
  struct Completion {
    LogLevel level = LogLevel::kInfo;
    std::string msg;
    LogFields fields;
    std::string event;  // empty: the command table's; a mode with its own (index.stage.completed)
  };
  mutable std::optional<Completion> completion;
  void Completed(std::string msg, LogFields fields, LogLevel level = LogLevel::kInfo,
                 std::string event = "") const {
    completion = Completion{level, std::move(msg), std::move(fields), std::move(event)};
  }

  // kConfig when the bad value came from PIDX_*, kUsage when it came from a flag.
  Status BadValue(const std::string& long_name, const std::string& why) const;
};

// Thrown by a numeric option's callback (while CLI11 parses, or while ApplyEnvironment applies
// a variable): the option's long name, the value as given, and why it was refused.
// An operand (rollback's V) has no long name: `flag` is how the error names it.
class BadOptionValue : public CLI::ValidationError {
 public:
  BadOptionValue(const std::string& long_name, std::string value, const std::string& why,
                 std::string flag = "")
      : CLI::ValidationError(flag.empty() ? "--" + long_name : flag, why),
        long_name_(long_name),
        flag_(flag.empty() ? "--" + long_name : std::move(flag)),
        value_(std::move(value)),
        why_(why) {}
  const std::string& long_name() const { return long_name_; }
  const std::string& flag() const { return flag_; }  // "--threads", or "V" for an operand
  const std::string& value() const { return value_; }
  const std::string& why() const { return why_; }

 private:
  std::string long_name_;
  std::string flag_;
  std::string value_;
  std::string why_;
};

// A whole-number option "--name" stored in `*target`, accepted in [min, max] (help: N).
template <typename T>
void AddCountOption(CLI::App* app, const std::string& name, T* target, uint64_t min, uint64_t max,
                    const std::string& description);
// A decimal option in [min, max] (help: F), e.g. a fraction in [0, 1].
void AddFractionOption(CLI::App* app, const std::string& name, double* target, double min,
                       double max, const std::string& description);

void AddOutputOptions(CLI::App* app, GlobalOptions* g);  // --json, --log-*, --quiet, --color,
                                                         // --trace-file
void AddIndexOption(CLI::App* app, std::string* index);
void AddCatalogOption(CLI::App* app, std::vector<std::string>* catalogs);
void AddLockTimeoutOption(CLI::App* app, std::string* lock_timeout);
// Upper bounds of counts that have no natural one: a larger value is a typo or an overflow,
// never a request (docs/CLI.md).
inline constexpr uint64_t kMaxThreads = 1024;      // --threads; 0 is one per core
inline constexpr uint64_t kMaxLimit = 1000000000;  // query --limit, diff --limit
inline constexpr uint64_t kMaxWorkers = 100000;    // plan --workers, build --worker
// --threads N, 0 to kMaxThreads (0: one per core): the one definition of every command's.
void AddThreadsOption(CLI::App* app, int* threads);

// --version V of verify, stats, query, recall (`what` completes "Version to ..."): stored in
// `*version`, 0 when not given (the current one). One parser (pidx/ops/values.h) for the flag,
// PIDX_VERSION, rollback's V and gc's --protect: `not a version: "x" (e.g. v000042 or 42)`,
// exit 64 for a flag or operand, 78 for the variable, the failure event naming it and the value.
void AddVersionOption(CLI::App* app, uint64_t* version, const std::string& what);
// The version operand V (rollback): required; the error names "V".
void AddVersionOperand(CLI::App* app, uint64_t* version, const std::string& description);
// A repeatable version flag (gc --protect V).
void AddVersionListOption(CLI::App* app, const std::string& name, std::vector<uint64_t>* versions,
                          const std::string& description);

// --shards-per-category N, 1 to 1000 (build, plan).

// The milliseconds of a --lock-timeout value; BadValue naming it when it does not parse.
Result<int64_t> ParseLockTimeout(const std::string& lock_timeout, const GlobalOptions& g);

// How catalogs are read (build, rebuild-shard, plan): --format, --max-bad-lines,
// --max-line-bytes.
struct CatalogReadFlags {
  std::string format = "auto";
  uint64_t max_bad_lines = 0;
  uint64_t max_line_bytes = 1024 * 1024;
};
void AddCatalogReadOptions(CLI::App* app, CatalogReadFlags* f);
// The --format value; BadValue naming it when it is not a known format.
Result<catalog::Format> ParseFormat(const CatalogReadFlags& f, const GlobalOptions& g);

// The publishing guard (build, publish): --max-shrink, --allow-shrink.
struct ShrinkGuardFlags {
  double max_shrink = 0.2;
  bool allow_shrink = false;
};
void AddShrinkGuardOptions(CLI::App* app, ShrinkGuardFlags* f);
// BadValue naming --max-shrink when it is outside [0, 1].
Status CheckShrinkGuard(const ShrinkGuardFlags& f, const GlobalOptions& g);

// --memory-budget SIZE (build, rebuild-shard) and its bytes (0: no limit).
void AddMemoryBudgetOption(CLI::App* app, std::string* memory_budget);
Result<uint64_t> ParseMemoryBudget(const std::string& memory_budget, const GlobalOptions& g);

// "PIDX_LOCK_TIMEOUT" for "--lock-timeout".
std::string EnvNameFor(const std::string& long_name);

// The value of a flag's PIDX_* variable (PIDX_JSON, PIDX_FORCE, PIDX_ALLOW_SHRINK, ...), read
// as strictly as the numbers: 1, true, yes, on or 0, false, no, off, in any case; anything
// else is nullopt (exit 78). CLI11's own conversion took "2x" and "1e400" as on and "0x1" as
// off, and --json's early reading (for a usage error) disagreed with it on "TRUE".
std::optional<bool> ParseFlagValue(std::string_view value);

// Fills options of the chosen `command` (and of its parsed subcommands) that were not given on
// the command line from their PIDX_* variables. kConfig naming the variable when a value does
// not parse (and `variable`, `value` in the failure event). Only a command's options read the
// environment: the program's own --help and --version do not, so PIDX_VERSION selects the
// version of `verify --version V` and friends and never means "print pidx's version".
Status ApplyEnvironment(CLI::App* command, GlobalOptions* g);

// --analyzer-version and --no-accent-folding, as build and plan take them.
struct AnalyzerFlags {
  int version = 0;  // 0: the latest
  bool no_accent_folding = false;
};
void AddAnalyzerOptions(CLI::App* app, AnalyzerFlags* f);
// Applies the flags to `settings` (an analysis::AnalyzerSettings, which the app layer sees
// through ops/ and scaleout/ only). kUsage when --no-accent-folding meets analyzer 1.
template <typename Settings>
Status ApplyAnalyzerFlags(const AnalyzerFlags& f, const GlobalOptions& g, Settings* settings) {
  if (f.version != 0) settings->version = f.version;
  if (f.no_accent_folding && settings->version < 2) {
    return g.BadValue("no-accent-folding", "analyzer version 1 folds no accents to keep");
  }
  if (f.no_accent_folding || settings->version < 2) settings->fold_accents = false;
  return Status::Ok();
}

// kUsage "missing --index (or PIDX_INDEX)" when `value` is empty.
Status Require(const std::string& value, const std::string& long_name);
// The files a run writes besides the index (--metrics-file, --out, --trace-file) must lie
// outside its --index directory: pidx writes only its own files there, and an output over
// CURRENT or a manifest would destroy a version, even from a read-only command. Compared
// after resolving symlinks. kUsage naming the option; the trace file is then not written.
Status CheckOutputsOutsideIndex(CLI::App* command, GlobalOptions* g);

// The one registration path of checked options (counts, fractions, versions, --color): `set`
// parses the text and stores it; a refusal is a BadOptionValue naming the flag and the value.
// Returns the option, so a caller can set what the help shows as its default.
CLI::Option* AddNumberOption(CLI::App* app, const std::string& name, const char* type_name,
                             std::function<Status(const std::string&)> set,
                             const std::string& description);

template <typename T>
void AddCountOption(CLI::App* app, const std::string& name, T* target, uint64_t min, uint64_t max,
                    const std::string& description) {
  static_assert(std::is_integral_v<T>);
  if (max > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
    max = static_cast<uint64_t>(std::numeric_limits<T>::max());
  }
  CLI::Option* opt = AddNumberOption(
      app, name, "N",
      [target, min, max](const std::string& text) -> Status {
        PIDX_ASSIGN_OR_RETURN(uint64_t v, ParseCount(text, min, max));
        *target = static_cast<T>(v);
        return Status::Ok();
      },
      description);
  // The help shows the value before parsing as the default; one outside the range (gc --keep
  // 0, build --worker -1) means "none: required, or taken from elsewhere".
  const T initial = *target;
  if constexpr (std::is_signed_v<T>) {
    if (initial < 0) return;
  }
  if (static_cast<uint64_t>(initial) >= min && static_cast<uint64_t>(initial) <= max) {
    opt->default_str(std::to_string(initial));
  }
}

// --shards-per-category S and --target-shard-docs T of build and plan. S alone is an explicit
// count (every category gets S shards, target 0); otherwise S (default 8) is the maximum and
// a category gets the fewest divisors of S that keep its shards at most T products (default
// shard::kDefaultTargetShardDocs).
struct ShardCountFlags {
  uint32_t shards_per_category = 0;         // 0: not given
  uint64_t target_shard_docs = UINT64_MAX;  // UINT64_MAX: not given
  uint32_t shards() const;
  uint64_t target() const;
};
void AddShardCountOptions(CLI::App* app, ShardCountFlags* f);

}  // namespace pidx::cli

namespace pidx::cli {

// When `s` is a bad record that failed the run ("<file>:<line>: <reason>"), adds a "hint" to
// the failure event saying what to do about it: --max-bad-lines N skips bad records, and, when
// standard input (read as JSON Lines unless --format says otherwise) starts with a line that is
// not a JSON object, --format csv|tsv. The error itself is unchanged. Returns `s`.
Status WithBadRecordHint(Status s, const CatalogReadFlags& f,
                         const std::vector<std::string>& catalogs, const GlobalOptions& g);

}  // namespace pidx::cli
