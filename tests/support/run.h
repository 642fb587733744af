// Runs the real binaries for end-to-end tests: arguments, environment, stdin; captures
// stdout, stderr and how the process ended.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pidx::testing {

struct RunResult {
  int exit_code = -1;  // 128+N when killed by signal N (as a shell reports it)
  std::string out;
  std::string err;
  // Every stderr line parsed as JSON (lines that are not JSON are skipped).
  std::vector<nlohmann::json> Events() const;
  // The events whose "event" field equals `name`.
  std::vector<nlohmann::json> Events(const std::string& name) const;
};

struct RunOptions {
  std::map<std::string, std::string> env;  // added to (or replacing in) the environment
  std::vector<std::string> unset_env;
  std::string stdin_data;
  bool json_logs = true;  // adds --log-format json unless args already choose one
};

// $PIDX_BIN / $PIDX_GEN, set by ctest.
std::string PidxBin();
std::string GenBin();
std::string SourceDir();

RunResult Run(const std::string& bin, const std::vector<std::string>& args,
              const RunOptions& options = {});
// pidx with `args`; --log-format json is appended to the subcommand's args by default.
RunResult Pidx(const std::vector<std::string>& args, const RunOptions& options = {});

// Starts a process in the background with stdout/stderr to files; returns its pid.
pid_t Spawn(const std::string& bin, const std::vector<std::string>& args,
            const std::string& out_file, const std::string& err_file,
            const std::map<std::string, std::string>& env = {});
// Waits for `pid`; returns the exit code (128+N for a signal).
int Wait(pid_t pid);

// Generates a catalog with pidx-gen; returns its path.
std::string GenCatalog(const std::string& path, int products, int seed,
                       const std::vector<std::string>& extra = {});

}  // namespace pidx::testing
