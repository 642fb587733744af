// The manual page pidx(1), in roff (man(7) macros): one section per command, generated from
// the same description as --help (help.h), so a flag cannot be missing from it.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace pidx::cli {

// `root` is the program's App, with every subcommand set up.
std::string ManPage(const CLI::App& root);

}  // namespace pidx::cli
