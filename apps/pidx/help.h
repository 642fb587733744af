// What pidx says about itself: the --help text, the manual page (man_page.h) and the shell
// completions (completion.h) are all rendered from one description, taken from the command
// table (command_table.h) and from the flags each command registered with CLI11, so the three
// cannot drift from what the parser accepts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "command_table.h"

namespace pidx::cli {

// How a shell completes an argument's value.
enum class ValueKind { kNone, kDirectory, kFile, kChoice, kCommand, kText };

struct ArgDoc {
  std::string long_name;   // "lock-timeout" (a positional: its name, "query")
  std::string short_name;  // "q", or empty
  std::string value;       // the placeholder ("DUR", "FILE..."), empty for a flag
  std::string description;
  std::string default_value;          // empty when there is none to show
  std::string env;                    // "PIDX_LOCK_TIMEOUT"; empty for positionals and --help
  std::string required;               // "" no, "yes", or "unless --plan"
  std::vector<std::string> choices;   // "auto|json|logfmt|text" -> auto, json, logfmt, text
  ValueKind kind = ValueKind::kNone;  // kNone: a flag
  bool positional = false;
  bool repeatable = false;  // takes several values (--catalog a b) or may be given again

  // "--lock-timeout DUR", "-q, --quiet", "QUERY..."
  std::string Spelling() const;
};

struct CommandDoc {
  const Command* command = nullptr;
  std::vector<ArgDoc> args;  // positionals first, then flags in registration order
};

struct ExitCodeDoc {
  int code;
  const char* meaning;
};
// Every exit code of the contract (docs/CONTRACT.md section 7).
const std::vector<ExitCodeDoc>& ExitCodes();

// Records every option's default (the value of its variable before parsing) for the help;
// numeric options set theirs when they are registered (options.h).
void CaptureDefaults(CLI::App* app);

// The description of `sub`, the subcommand of `cmd`.
CommandDoc Describe(const CLI::App& sub, const Command& cmd);
// Every command that is not hidden, in table order (`root` is the program's App).
std::vector<CommandDoc> DescribeAll(const CLI::App& root);
// The program's own options (--help, --version).
std::vector<ArgDoc> DescribeProgram(const CLI::App& root);

// The text of `pidx CMD --help` and of `pidx --help`.
std::string CommandHelp(const CommandDoc& doc);
std::string ProgramHelp(const CLI::App& root);
// The help of `name` (`pidx help NAME`); kUsage with a suggestion for an unknown name.
Result<std::string> HelpFor(const CLI::App& root, const std::string& name);

// Renders the help of pidx and of its subcommands (installed on the program's App before the
// subcommands are added, which inherit it).
class HelpFormatter : public CLI::FormatterBase {
 public:
  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override;
};

// The candidates closest to `word` by edit distance (a swap of two neighbours counts as one
// edit), for "did you mean": at most 2 edits, and fewer than half of the word; best first.
std::vector<std::string> Suggest(std::string_view word, const std::vector<std::string>& candidates);
// " (did you mean \"build\"?)" or "" when nothing is close.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// The names of the visible commands, in table order.
std::vector<std::string> CommandNames();

}  // namespace pidx::cli
