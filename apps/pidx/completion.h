// Shell completion scripts for bash, zsh and fish, generated from the same description as
// --help (help.h): every command and every flag, and for a flag's value what the shell should
// offer (directories for DIR, files for FILE, the choices of auto|json|logfmt|text).
#pragma once

#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "pidx/base/status.h"

namespace pidx::cli {

// The script for `shell` ("bash", "zsh" or "fish"); kUsage naming the shells otherwise.
Result<std::string> CompletionScript(const CLI::App& root, std::string_view shell);

}  // namespace pidx::cli
