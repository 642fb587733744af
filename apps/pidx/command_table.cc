#include "command_table.h"

namespace pidx::cli {

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"build", "Build every shard of a catalog and publish a new version", "index.build.completed",
       "index.build.failed", SetupBuild},
      {"rebuild-shard", "Rebuild one shard under its lock and publish a new version",
       "index.rebuild.completed", "index.rebuild.failed", SetupRebuildShard},
      {"stats", "Show what is inside a version: docs, terms, postings, bytes, containers",
       "index.stats.completed", "index.stats.failed", SetupStats},
      {"verify",
       "Check a version's integrity and, with --catalog, its consistency with the catalog",
       "index.verify.completed", "index.verify.failed", SetupVerify},
      {"query", "Search a version with the query language of docs/QUERY.md",
       "index.query.completed", "index.query.failed", SetupQuery},
      {"recall", "Measure recall against a query set; exit 1 below --min", "index.recall.completed",
       "index.recall.failed", SetupRecall},
      {"versions", "List the published versions and which one is current",
       "index.versions.completed", "index.versions.failed", SetupVersions},
      {"rollback", "Verify a version, then make it current under the publish lock",
       "index.rollback.completed", "index.rollback.failed", SetupRollback},
      {"gc", "Remove old versions, unreferenced segments and stale temporaries",
       "index.gc.completed", "index.gc.failed", SetupGc},
      {"diff", "Compare two versions: shard signatures first, then products and terms",
       "index.diff.completed", "index.diff.failed", SetupDiff},
      {"plan", "Scale-out: count products per shard and assign shards to W workers",
       "index.plan.completed", "index.plan.failed", SetupPlan},
      {"publish", "Scale-out: check every staged shard, then publish them as one version",
       "index.publish.completed", "index.publish.failed", SetupPublish},
  };
  return commands;
}

}  // namespace pidx::cli
