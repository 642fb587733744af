// pidx: builds and operates inverted indexes over product catalogs.
// main parses, dispatches to the command table, and is the only place that turns a Status into
// an exit code (pidx/exit_code.h). CLI11's own exit codes never reach the shell.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "command_table.h"
#include "options.h"
#include "pidx/base/cancel.h"
#include "pidx/exit_code.h"
#include "pidx/log.h"

namespace {

void OnSignal(int sig) { pidx::CancelSignal().store(sig); }

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns so the loop sees the signal
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "pidx: %s\nRun 'pidx --help' for usage.\n", msg.c_str());
  return pidx::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pidx;
  InstallSignalHandlers();

  CLI::App app{"pidx: build and operate inverted indexes over product catalogs"};
  app.set_version_flag("--version", std::string("pidx ") + PIDX_VERSION);
  app.require_subcommand(1);
  cli::GlobalOptions global;
  std::vector<std::pair<CLI::App*, const cli::Command*>> subs;
  std::vector<cli::CommandRun> runs;
  for (const auto& cmd : cli::Commands()) {
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.summary);
    cli::AddOutputOptions(sub, &global);
    runs.push_back(cmd.setup(sub, &global));
    subs.emplace_back(sub, &cmd);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::fputs(app.help().c_str(), stdout);
    return kExitOk;
  } catch (const CLI::CallForAllHelp& e) {
    std::fputs(app.help("", CLI::AppFormatMode::All).c_str(), stdout);
    return kExitOk;
  } catch (const CLI::Success& e) {
    // --version, or help of a subcommand.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::ParseError& e) {
    return UsageError(e.what());
  }

  size_t chosen = 0;
  while (chosen < subs.size() && !subs[chosen].first->parsed()) ++chosen;
  if (chosen == subs.size()) return UsageError("no command given");
  const cli::Command& cmd = *subs[chosen].second;

  Status status = cli::ApplyEnvironment(&app, &global);
  LogConfig log_config;
  log_config.operation = cmd.name;
  const char* tp = std::getenv("TRACEPARENT");
  log_config.traceparent = tp ? tp : "";
  log_config.quiet = global.quiet;
  if (status.ok()) {
    auto fmt = ParseLogFormat(global.log_format);
    auto lvl = ParseLogLevel(global.log_level);
    if (!fmt.ok()) status = global.BadValue("log-format", fmt.status().message());
    if (status.ok() && !lvl.ok()) status = global.BadValue("log-level", lvl.status().message());
    if (status.ok()) {
      log_config.format = *fmt;
      log_config.level = *lvl;
    }
  }
  Log::Init(log_config);
  if (status.ok()) status = runs[chosen]();

  if (status.ok() || status.kind() == StatusKind::kFindings) return ExitCodeFor(status);
  const int code = ExitCodeFor(status);
  const int sig = CancelSignal().load();
  LogFields fields = {{"reason", StatusKindName(status.kind())},
                      {"error", status.message()},
                      {"exit_code", sig ? 128 + sig : code}};
  for (const auto& [k, v] : global.failure_fields.items()) fields[k] = v;
  Log::Error(cmd.failed_event, status.message(), fields);
  if (status.kind() == StatusKind::kUsage) {
    std::fprintf(stderr, "Run 'pidx %s --help' for usage.\n", cmd.name);
  }
  if (sig != 0) {
    // Cleanup already ran on the error path; die by the signal so the shell sees 128+N.
    signal(sig, SIG_DFL);
    raise(sig);
  }
  return code;
}
