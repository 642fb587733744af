// Flag groups shared by the subcommands, defined once: --index, --catalog, --json,
// --log-format/--log-level/--quiet, --lock-timeout. Every option can also come from a
// PIDX_<OPTION> environment variable (--lock-timeout -> PIDX_LOCK_TIMEOUT); a flag wins over
// the environment, the environment over the default (applied here, not by CLI11: PITFALLS.md).
#pragma once

#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

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

// "PIDX_LOCK_TIMEOUT" for "--lock-timeout".
std::string EnvNameFor(const std::string& long_name);

// Fills options of `app` (and of its parsed subcommands) that were not given on the command
// line from their PIDX_* variables. kConfig naming the variable when a value does not parse.
Status ApplyEnvironment(CLI::App* app, GlobalOptions* g);

// kUsage "missing --index (or PIDX_INDEX)" when `value` is empty.
Status Require(const std::string& value, const std::string& long_name);

}  // namespace pidx::cli
