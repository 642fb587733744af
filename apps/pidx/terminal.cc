#include "terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <string_view>

namespace pidx::cli {
namespace {

std::string_view Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string_view() : std::string_view(v);
}

}  // namespace

TerminalEnv ProbeTerminal() {
  TerminalEnv t;
  t.stderr_tty = isatty(STDERR_FILENO) == 1;
  t.dumb = Env("TERM") == "dumb";
  const std::string_view ci = Env("CI");
  t.ci = !ci.empty() && ci != "0" && ci != "false";
  t.no_color = !Env("NO_COLOR").empty();
  return t;
}

bool UseColor(const std::string& choice, const TerminalEnv& t) {
  if (choice == "always") return true;
  if (choice == "never") return false;
  return t.stderr_tty && !t.no_color && !t.dumb;
}

bool UseProgressBar(const TerminalEnv& t, bool quiet) {
  return t.stderr_tty && !t.dumb && !t.ci && !quiet;
}

int TerminalColumns(int fd) {
  struct winsize ws {};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  const char* columns = std::getenv("COLUMNS");
  if (columns != nullptr) {
    char* end = nullptr;
    const long n = std::strtol(columns, &end, 10);
    if (end != columns && *end == '\0' && n > 0 && n < 10000) return static_cast<int>(n);
  }
  return 80;
}

}  // namespace pidx::cli
