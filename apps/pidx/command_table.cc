#include "command_table.h"

namespace pidx::cli {

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"build", "Build every shard of a catalog and publish a new version", "index.build.failed",
       SetupBuild},
      {"stats", "Show what is inside a version: docs, terms, postings, bytes, containers",
       "index.stats.failed", SetupStats},
  };
  return commands;
}

}  // namespace pidx::cli
