// The subcommands of pidx, one table (as Ninja's `struct Tool`); main only dispatches.
// Each subcommand lives in its own cmd_<name>.cc.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "options.h"
#include "pidx/base/status.h"

namespace pidx::cli {

// Runs the chosen command after parsing; prints its result on stdout.
using CommandRun = std::function<Status()>;
// Registers the command's flags on `app` and returns what to run once they are parsed.
using CommandSetup = std::function<CommandRun(CLI::App* app, GlobalOptions* global)>;

// Every command's outcome is logged by the dispatcher (main), under these names: the
// `.completed` event when the command did its work (fields from GlobalOptions::Completed),
// the `.failed` event (reason, error, exit_code) when it failed.
struct Command {
  const char* name;
  const char* summary;
  const char* completed_event;
  const char* failed_event;
  CommandSetup setup;
};

const std::vector<Command>& Commands();

CommandRun SetupBuild(CLI::App* app, GlobalOptions* global);
CommandRun SetupRebuildShard(CLI::App* app, GlobalOptions* global);
CommandRun SetupStats(CLI::App* app, GlobalOptions* global);
CommandRun SetupVerify(CLI::App* app, GlobalOptions* global);
CommandRun SetupQuery(CLI::App* app, GlobalOptions* global);
CommandRun SetupRecall(CLI::App* app, GlobalOptions* global);
CommandRun SetupVersions(CLI::App* app, GlobalOptions* global);
CommandRun SetupRollback(CLI::App* app, GlobalOptions* global);
CommandRun SetupGc(CLI::App* app, GlobalOptions* global);
CommandRun SetupDiff(CLI::App* app, GlobalOptions* global);
CommandRun SetupPlan(CLI::App* app, GlobalOptions* global);
CommandRun SetupPublish(CLI::App* app, GlobalOptions* global);

}  // namespace pidx::cli
