// The subcommands of pidx, one table (as Ninja's `struct Tool`); main only dispatches.
// Each subcommand lives in its own cmd_<name>.cc.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "options.h"
#include "pidx/base/status.h"

namespace pidx::cli {

// Runs the chosen command after parsing; prints its result on stdout.
using CommandRun = std::function<Status()>;
// Registers the command's flags on `app` and returns what to run once they are parsed.
using CommandSetup = std::function<CommandRun(CLI::App* app, GlobalOptions* global)>;

// A flag or positional the command cannot run without. It may come from the command line or
// from its PIDX_* variable, so CLI11 is not told (it would refuse the variable); the help, the
// man page and the completions show it.
struct RequiredArg {
  const char* name;              // long name without "--" ("index"), or a positional's name
  const char* unless = nullptr;  // "--plan": not required when that flag is given
};

// Every command's outcome is logged by the dispatcher (main), under these names: the
// `.completed` event when the command did its work (fields from GlobalOptions::Completed),
// the `.failed` event (reason, error, exit_code) when it failed.
struct Command {
  const char* name;
  const char* summary;
  const char* completed_event;
  const char* failed_event;
  CommandSetup setup;
  // What the help, the man page and the completions say about the command (help.h).
  const char* synopsis = "";               // after "pidx ": "build --catalog FILE... --index DIR"
  std::vector<RequiredArg> required = {};  // flags and positionals it needs
  const char* findings = nullptr;          // what exit 1 means for it, when it can mean anything
  const char* details = nullptr;           // more text after the options (the query language)
  bool hidden = false;                     // not listed, not completed (pidx __man)
};

const std::vector<Command>& Commands();
// The command named `name`, or nullptr.
const Command* FindCommand(std::string_view name);

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
CommandRun SetupHelp(CLI::App* app, GlobalOptions* global);
CommandRun SetupCompletion(CLI::App* app, GlobalOptions* global);
CommandRun SetupManPage(CLI::App* app, GlobalOptions* global);

// The query language in brief, for `pidx query --help` and the man page (docs/QUERY.md).
extern const char* const kQueryLanguageHelp;

}  // namespace pidx::cli
