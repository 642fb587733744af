// Flag groups shared by the subcommands, defined once: --index, --catalog, --json,
// --log-format/--log-level/--quiet, --lock-timeout, how catalogs are read, the publishing
// guard, --memory-budget. Every option can also come from a
// PIDX_<OPTION> environment variable (--lock-timeout -> PIDX_LOCK_TIMEOUT); a flag wins over
// the environment, the environment over the default (applied here, not by CLI11: PITFALLS.md).
#pragma once

#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "pidx/catalog/catalog_reader.h"
#include "pidx/log.h"
#include "pidx/status.h"

namespace pidx::cli {

struct GlobalOptions {
  bool json = false;
  std::string log_format = "auto";
  std::string log_level = "info";
  bool quiet = false;
  std::set<std::string> from_env;  // long names whose value came from the environment
  // Added to the command's failure event (e.g. the shard of rebuild-shard).
  LogFields failure_fields = LogFields::object();

  // kConfig when the bad value came from PIDX_*, kUsage when it came from a flag.
  Status BadValue(const std::string& long_name, const std::string& why) const;
};

void AddOutputOptions(CLI::App* app, GlobalOptions* g);  // --json, --log-*, --quiet
void AddIndexOption(CLI::App* app, std::string* index);
void AddCatalogOption(CLI::App* app, std::vector<std::string>* catalogs);
void AddLockTimeoutOption(CLI::App* app, std::string* lock_timeout);
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

// Fills options of `app` (and of its parsed subcommands) that were not given on the command
// line from their PIDX_* variables. kConfig naming the variable when a value does not parse.
Status ApplyEnvironment(CLI::App* app, GlobalOptions* g);

// kUsage "missing --index (or PIDX_INDEX)" when `value` is empty.
Status Require(const std::string& value, const std::string& long_name);

}  // namespace pidx::cli
