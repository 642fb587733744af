// What pidx draws on a terminal, decided in one place (docs/CLI.md "Terminal output"):
// colour in text logs, and the progress bar. Both are for a person watching stderr.
//
// Colour (--color / PIDX_COLOR): `never`; `always` (text logs even into a file or pipe; the
//   json and logfmt formats never carry colour); `auto` (the default): only when stderr is a
//   terminal, NO_COLOR is unset or empty, and TERM is not `dumb`. An explicit --color or
//   PIDX_COLOR wins over NO_COLOR (no-color.org: a per-run choice overrides it).
// Progress bar: only when stderr is a terminal, TERM is not `dumb`, CI is unset, empty,
//   `0` or `false` (a CI log is a terminal only in name), and not --quiet. Otherwise progress
//   goes out as `index.build.progress` events every 5 s.
#pragma once

#include <string>

namespace pidx::cli {

struct TerminalEnv {
  bool stderr_tty = false;
  bool dumb = false;      // TERM=dumb
  bool ci = false;        // CI set, and not empty, 0 or false
  bool no_color = false;  // NO_COLOR set and not empty
};

// From isatty(2) and the environment.
TerminalEnv ProbeTerminal();

// REQUIRES: `choice` is auto, always or never.
bool UseColor(const std::string& choice, const TerminalEnv& t);
bool UseProgressBar(const TerminalEnv& t, bool quiet);

// Columns of the terminal on `fd` (TIOCGWINSZ), else $COLUMNS, else 80.
int TerminalColumns(int fd);

}  // namespace pidx::cli
