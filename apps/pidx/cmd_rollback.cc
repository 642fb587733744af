// pidx rollback --index DIR V
// Verifies V, then makes it current under the publish lock (contract in pidx/ops/versions.h).
#include <fmt/format.h>

#include "command_table.h"
#include "output.h"
#include "pidx/ops/values.h"
#include "pidx/ops/versions.h"

namespace pidx::cli {
namespace {

struct RollbackFlags {
  std::string index;
  uint64_t version = 0;
  std::string lock_timeout = "5s";
  int threads = 0;
};

Status RunRollback(const RollbackFlags& f, GlobalOptions* g) {
  PIDX_RETURN_IF_ERROR(Require(f.index, "index"));
  RollbackOptions o;
  o.index_dir = f.index;
  o.version = f.version;
  PIDX_ASSIGN_OR_RETURN(o.lock_timeout_ms, ParseLockTimeout(f.lock_timeout, *g));
  o.threads = f.threads;
  g->failure_fields["version"] = VersionName(o.version);
  PIDX_ASSIGN_OR_RETURN(RollbackResult r, Rollback(o, Env::Default()));

  const std::string vname = VersionName(r.version);
  const std::string previous = r.previous > 0 ? VersionName(r.previous) : "";
  const int64_t duration = r.duration_ms;
  g->Completed(r.changed ? "CURRENT is now " + vname : vname + " was current already",
               {{"version", vname},
                {"previous", previous},
                {"changed", r.changed},
                {"shards", r.shards_checked},
                {"duration_ms", duration}});
  if (g->json) {
    nlohmann::ordered_json j;
    j["command"] = "rollback";
    j["version"] = vname;
    j["previous"] = r.previous > 0 ? nlohmann::ordered_json(previous) : nlohmann::ordered_json();
    j["changed"] = r.changed;
    j["shards_checked"] = r.shards_checked;
    j["duration_ms"] = duration;
    PrintJson(j);
  } else if (r.changed) {
    PrintText(fmt::format("CURRENT: {} -> {} ({} shards verified)\n",
                          previous.empty() ? "(none)" : previous, vname, r.shards_checked));
  } else {
    PrintText(fmt::format("{} is current already\n", vname));
  }
  return Status::Ok();
}

}  // namespace

CommandRun SetupRollback(CLI::App* app, GlobalOptions* global) {
  auto f = std::make_shared<RollbackFlags>();
  AddIndexOption(app, &f->index);
  AddLockTimeoutOption(app, &f->lock_timeout);
  AddThreadsOption(app, &f->threads);
  AddVersionOperand(app, &f->version, "The version to make current (v000042 or 42)");
  return [f, global] { return RunRollback(*f, global); };
}

}  // namespace pidx::cli
