// pidx: builds and operates inverted indexes over product catalogs.
// main parses, dispatches to the command table, and is the only place that turns a Status into
// an exit code (pidx/base/exit_code.h). CLI11's own exit codes never reach the shell.
//
// One path for every outcome: a parse error, a bad PIDX_* variable, the command's own status
// and a result that could not be written all become one Status, reported by Finish as the
// command's failure event in the selected --log-format and one exit code.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "command_table.h"
#include "help.h"
#include "options.h"
#include "output.h"
#include "pidx/base/cancel.h"
#include "pidx/base/exit_code.h"
#include "pidx/base/std_fds.h"
#include "pidx/obs/log.h"
#include "pidx/obs/otlp_export.h"
#include "pidx/obs/trace.h"
#include "terminal.h"
#include "version.h"

namespace {

using pidx::Status;
using pidx::StatusKind;

void OnSignal(int sig) { pidx::CancelSignal().store(sig); }

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns so the loop sees the signal
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A closed stdout pipe is a write error (EPIPE) the output sink reports as exit 74 with an
  // event, not a death by SIGPIPE without a word.
  signal(SIGPIPE, SIG_IGN);
}

// A flag as the command line gives it (the last one before "--"), else its PIDX_* variable,
// else `fallback`. Used when parsing failed, so the failure is logged in the format (and
// colour) asked for even when the flag comes after the bad one.
std::string FlagFromArgs(int argc, char** argv, std::string_view flag, const char* variable,
                         const char* fallback) {
  std::string value;
  const std::string with_equals = std::string(flag) + "=";
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") break;
    if (a == flag && i + 1 < argc) {
      value = argv[++i];
    } else if (a.rfind(with_equals, 0) == 0) {
      value = std::string(a.substr(with_equals.size()));
    }
  }
  if (value.empty()) {
    const char* env = std::getenv(variable);
    if (env != nullptr) value = env;
  }
  return value.empty() ? fallback : value;
}

// The command the arguments name, when parsing did not get far enough to say: the first
// argument that is a command's name.
const pidx::cli::Command* CommandFromArgs(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--") break;
    for (const auto& cmd : pidx::cli::Commands()) {
      if (argv[i] == std::string_view(cmd.name)) return &cmd;
    }
  }
  return nullptr;
}

// An argument of `cmd` that looks like a flag and is none of its flags ("--catalgo"), or "".
std::string UnknownFlag(const CLI::App& sub, int argc, char** argv,
                        std::vector<std::string>* names) {
  for (const CLI::Option* opt : sub.get_options()) {
    for (const auto& l : opt->get_lnames()) names->push_back("--" + l);
    for (const auto& s : opt->get_snames()) names->push_back("-" + s);
  }
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") break;
    if (a.size() < 2 || a[0] != '-') continue;
    a = a.substr(0, a.find('='));
    bool known = false;
    for (const auto& n : *names) known = known || a == n;
    if (!known) return std::string(a);
  }
  return "";
}

// The parse error as a usage Status, with the flag and value in the event when known, and the
// closest command or flag when a name was misspelt.
Status FromParseError(const CLI::ParseError& e, const CLI::App& app, int argc, char** argv,
                      pidx::cli::GlobalOptions* global) {
  using pidx::cli::CommandNames;
  using pidx::cli::DidYouMean;
  if (const auto* bad = dynamic_cast<const pidx::cli::BadOptionValue*>(&e)) {
    global->failure_fields["option"] = bad->flag();
    global->failure_fields["value"] = bad->value();
    return Status::Usage(bad->flag() + ": " + bad->why());
  }
  const std::string names = fmt::format("{}", fmt::join(CommandNames(), ", "));
  if (argc < 2) {
    return Status::Usage("no command given (commands: " + names + "; pidx help COMMAND)");
  }
  const pidx::cli::Command* cmd = CommandFromArgs(argc, argv);
  if (argv[1][0] != '-' && cmd == nullptr) {
    global->failure_fields["command"] = argv[1];
    return Status::Usage("unknown command \"" + std::string(argv[1]) + "\"" +
                         DidYouMean(argv[1], CommandNames()) + " (commands: " + names + ")");
  }
  if (cmd == nullptr) {  // only options, no command word (CLI11 says "A subcommand is required")
    global->failure_fields["option"] = argv[1];
    return Status::Usage("no command given before \"" + std::string(argv[1]) +
                         "\": the command comes first, pidx COMMAND [OPTIONS] (commands: " + names +
                         "; pidx help COMMAND)");
  }
  if (cmd != nullptr && dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    std::vector<std::string> flags;
    const std::string flag = UnknownFlag(*app.get_subcommand(cmd->name), argc, argv, &flags);
    if (!flag.empty()) {
      global->failure_fields["option"] = flag;
      return Status::Usage("unknown option \"" + flag + "\" for pidx " + cmd->name +
                           DidYouMean(flag, flags));
    }
  }
  return Status::Usage(e.what());
}

// Ends the root span with the outcome and exports the run's spans. Telemetry never changes
// the result: its problems are warnings (obs/otlp_export.h).
void FinishTrace(const pidx::Status& status, int exit_code,
                 const pidx::cli::GlobalOptions& global) {
  using namespace pidx;
  Trace::SetRootAttribute("process.exit_code", exit_code);
  Trace::EndRoot(status);
  TraceExportConfig config = TraceExportConfigFromEnv([](const char* n) { return std::getenv(n); });
  config.file = global.trace_file;
  ExportTrace(config);
}

// --json as the command line gives it (before "--"), else PIDX_JSON: for a failure before the
// options were parsed, so that it is still answered with a JSON error object.
bool JsonFromArgs(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") break;
    if (a == "--json") return true;
  }
  const char* env = std::getenv("PIDX_JSON");
  return env != nullptr && pidx::cli::ParseFlagValue(env).value_or(false);
}

// ---- The --json failure object (docs/CLI.md "JSON results") ----------------------------------
// A failed command (not findings: verify, diff and recall print their own result with ok false)
// under --json prints one error object, unless it already printed something.
void PrintJsonFailure(const Status& status, const pidx::cli::Command* cmd,
                      const pidx::cli::GlobalOptions& global, bool json) {
  using namespace pidx;
  if (!json || status.ok() || status.kind() == StatusKind::kFindings) return;
  if (cli::Stdout().wrote() || !cli::Stdout().failure().ok()) return;
  const int sig = CancelSignal().load();
  cli::PrintJsonError(cmd ? cmd->name : nullptr, status, sig ? 128 + sig : ExitCodeFor(status),
                      global.failure_fields);
}

// The one place where a command's outcome becomes events and an exit code: its `.completed`
// event when it did its work (what it reported through GlobalOptions::Completed, with
// `duration_ms` measured here unless it gave its own), then, on failure, its `.failed` event.
// A result that could not be written after the work was done gives both: the work happened.
// Closes the result sink; returns the exit code.
int Finish(Status status, const pidx::cli::Command* cmd, const pidx::cli::GlobalOptions& global,
           std::chrono::steady_clock::time_point started, bool json) {
  using namespace pidx;
  if (cmd != nullptr && global.completion) {
    cli::GlobalOptions::Completion c = std::move(*global.completion);
    if (!c.fields.is_object()) c.fields = LogFields::object();
    if (!c.fields.contains("duration_ms")) {
      c.fields["duration_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - started)
                                    .count();
    }
    Log::Event(c.level, c.event.empty() ? cmd->completed_event : c.event, c.msg, c.fields);
  }
  PrintJsonFailure(status, cmd, global, json);
  // A report that was not written must not pass for a clean result or for findings.
  const Status written = cli::Stdout().Close();
  const bool had_failed = !status.ok() && status.kind() != StatusKind::kFindings;
  status = cli::WithResultWritten(std::move(status), written);
  if (had_failed && !written.ok()) {
    Log::Error("output.write.failed", written.message(), {{"error", written.message()}});
  }
  if (status.ok() || status.kind() == StatusKind::kFindings) {
    FinishTrace(status, ExitCodeFor(status), global);
    return ExitCodeFor(status);
  }
  const int code = ExitCodeFor(status);
  const int sig = CancelSignal().load();
  LogFields fields = {{"reason", StatusKindName(status.kind())},
                      {"error", status.message()},
                      {"exit_code", sig ? 128 + sig : code}};
  for (const auto& [k, v] : global.failure_fields.items()) fields[k] = v;
  Log::Error(cmd ? cmd->failed_event : "pidx.failed", status.message(), fields);
  // A hint for a person; never after a JSON or logfmt event (stderr stays parseable by line).
  if (status.kind() == StatusKind::kUsage && Log::format() == LogFormat::kText) {
    std::fprintf(stderr, "Run 'pidx%s%s --help' for usage.\n", cmd ? " " : "",
                 cmd ? cmd->name : "");
  }
  FinishTrace(status, sig ? 128 + sig : code, global);
  if (sig != 0) {
    // Cleanup already ran on the error path; die by the signal so the shell sees 128+N.
    signal(sig, SIG_DFL);
    raise(sig);
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pidx;
  // First of all, before anything opens a file: a closed fd 0, 1 or 2 gets /dev/null, so no
  // index file can become "stderr".
  auto fds = EnsureStdFds();
  if (!fds.ok()) return kExitIoError;  // nowhere to say it: fd 2 may be the one closed
  InstallSignalHandlers();
  cli::InitStdout(fds->stdout_closed);

  CLI::App app{"pidx: build and operate inverted indexes over product catalogs", "pidx"};
  // Inherited by every subcommand added below: --help, the man page and the completions
  // come from one description (help.h).
  app.formatter(std::make_shared<cli::HelpFormatter>());
  app.set_help_flag("-h,--help", "Print this help and exit");
  // The program's own version flag; not an option of a command, so never read from PIDX_*.
  app.set_version_flag("--version", std::function<std::string()>(cli::VersionText),
                       "Print the version and how this pidx was built, and exit");
  app.require_subcommand(1);
  cli::GlobalOptions global;
  std::vector<std::pair<CLI::App*, const cli::Command*>> subs;
  std::vector<cli::CommandRun> runs;
  for (const auto& cmd : cli::Commands()) {
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.summary);
    if (cmd.hidden) sub->group("");
    cli::AddOutputOptions(sub, &global);
    runs.push_back(cmd.setup(sub, &global));
    cli::CaptureDefaults(sub);
    subs.emplace_back(sub, &cmd);
  }

  LogConfig log_config;
  Status status = Status::Ok();
  bool parsed = false;
  try {
    app.parse(argc, argv);
    parsed = true;
  } catch (const CLI::CallForHelp&) {
    cli::PrintText(app.help());
  } catch (const CLI::CallForAllHelp&) {
    cli::PrintText(app.help("", CLI::AppFormatMode::All));
  } catch (const CLI::CallForVersion& e) {
    cli::PrintText(e.what());
  } catch (const CLI::ParseError& e) {
    status = FromParseError(e, app, argc, argv, &global);
  }

  size_t chosen = 0;
  while (chosen < subs.size() && !subs[chosen].first->parsed()) ++chosen;
  const cli::Command* cmd =
      chosen < subs.size() ? subs[chosen].second : CommandFromArgs(argc, argv);
  if (parsed && status.ok()) {
    if (chosen == subs.size()) status = Status::Usage("no command given");
    if (status.ok()) status = cli::ApplyEnvironment(subs[chosen].first, &global);
    if (status.ok()) status = cli::CheckOutputsOutsideIndex(subs[chosen].first, &global);
  }
  log_config.operation = cmd ? cmd->name : "pidx";
  log_config.quiet = global.quiet;
  // The format and level as given; when parsing or the environment failed, the format as the
  // arguments or PIDX_LOG_FORMAT say, so the failure is in the format asked for.
  const bool options_ok = parsed && status.ok();
  auto fmt = ParseLogFormat(
      options_ok ? global.log_format
                 : FlagFromArgs(argc, argv, "--log-format", "PIDX_LOG_FORMAT", "auto"));
  // --color was checked while parsing; after a parse error, as the arguments say (a value
  // that is no choice is auto).
  std::string color =
      options_ok ? global.color : FlagFromArgs(argc, argv, "--color", "PIDX_COLOR", "auto");
  if (color != "always" && color != "never") color = "auto";
  log_config.color = cli::UseColor(color, cli::ProbeTerminal());
  auto lvl = ParseLogLevel(global.log_level);
  if (fmt.ok()) log_config.format = *fmt;
  if (lvl.ok()) log_config.level = *lvl;
  if (options_ok && !fmt.ok()) status = global.BadValue("log-format", fmt.status().message());
  if (options_ok && status.ok() && !lvl.ok()) {
    status = global.BadValue("log-level", lvl.status().message());
  }
  // One root span per run, a child of TRACEPARENT's span when given.
  const char* tp = std::getenv("TRACEPARENT");
  Trace::Init(tp ? tp : "", log_config.operation);
  Trace::SetRootAttribute("pidx.command", log_config.operation);
  Log::Init(log_config);

  const auto started = std::chrono::steady_clock::now();
  if (parsed && status.ok()) status = cli::Stdout().Ready();
  if (parsed && status.ok()) status = runs[chosen]();
  const bool json = global.json || JsonFromArgs(argc, argv);
  return Finish(std::move(status), cmd, global, started, json);
}
