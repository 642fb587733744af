// pidx gc --index DIR --keep N [--protect V]... [--grace DUR] [--dry-run]
// Contract in pidx/ops/gc.h: what is kept, why young unreferenced segments are left alone.
#include <fmt/format.h>

#include "command_metrics.h"
#include "command_table.h"
#include "output.h"
#include "pidx/ops/gc.h"
#include "pidx/ops/values.h"

namespace pidx::cli {
namespace {

struct GcFlags {
  std::string index;
  uint32_t keep = 0;
  std::vector<uint64_t> protect;
  std::string grace = "1h";
  bool dry_run = false;
  std::string lock_timeout = "5s";
  std::string metrics_file;
};

Status RunGc(const GcFlags& f, const GlobalOptions& g, CommandMetrics* metrics) {
  PIDX_RETURN_IF_ERROR(Require(f.index, "index"));
  GcOptions o;
  o.index_dir = f.index;
  if (f.keep == 0) return g.BadValue("keep", "--keep N is required and must be at least 1");
  o.keep = f.keep;
  o.protect = f.protect;
  auto grace = ParseDuration(f.grace);
  if (!grace.ok()) return g.BadValue("grace", grace.status().message());
  o.grace_ms = *grace;
  PIDX_ASSIGN_OR_RETURN(o.lock_timeout_ms, ParseLockTimeout(f.lock_timeout, g));
  metrics->SetLockTimeout(o.lock_timeout_ms);
  o.dry_run = f.dry_run;
  PIDX_ASSIGN_OR_RETURN(GcResult r, Gc(o, Env::Default()));
  metrics->SetLockWait(r.lock_wait_ms);

  std::vector<std::string> kept;
  for (uint64_t v : r.kept) kept.push_back(VersionName(v));
  size_t versions = 0, segments = 0, temporaries = 0;
  for (const auto& x : r.removed) {
    if (x.kind == "version") ++versions;
    if (x.kind == "segment") ++segments;
    if (x.kind == "temporary") ++temporaries;
  }
  g.Completed(fmt::format("{}{} versions, {} segments, {} temporaries, {} bytes",
                          r.dry_run ? "would remove " : "removed ", versions, segments, temporaries,
                          r.bytes_freed),
              {{"dry_run", r.dry_run},
               {"kept", kept},
               {"versions_removed", versions},
               {"segments_removed", segments},
               {"temporaries_removed", temporaries},
               {"young_segments_kept", r.young_segments.size()},
               {"bytes_freed", r.bytes_freed},
               {"duration_ms", r.duration_ms}});
  if (g.json) {
    nlohmann::ordered_json j;
    j["command"] = "gc";
    j["dry_run"] = r.dry_run;
    j["current"] =
        r.current > 0 ? nlohmann::ordered_json(VersionName(r.current)) : nlohmann::ordered_json();
    j["kept"] = kept;
    j["removed"] = nlohmann::ordered_json::array();
    for (const auto& x : r.removed) {
      j["removed"].push_back({{"kind", x.kind}, {"path", x.path}, {"bytes", x.bytes}});
    }
    j["young_segments"] = r.young_segments;
    j["bytes_freed"] = r.bytes_freed;
    j["duration_ms"] = r.duration_ms;
    PrintJson(j);
    return Status::Ok();
  }
  std::string out;
  const char* verb = r.dry_run ? "would remove" : "removed";
  for (const auto& x : r.removed) {
    out += fmt::format("{} {} {} ({})\n", verb, x.kind, x.path, HumanBytes(x.bytes));
  }
  for (const auto& s : r.young_segments) {
    out += fmt::format("kept unreferenced segment {} (younger than --grace {})\n", s, f.grace);
  }
  std::string kept_list;
  for (const auto& k : kept) kept_list += (kept_list.empty() ? "" : ", ") + k;
  out += fmt::format("{}: {} versions, {} segments, {} temporaries; {} freed; kept {}\n",
                     r.dry_run ? "dry run" : "done", versions, segments, temporaries,
                     HumanBytes(r.bytes_freed), kept_list.empty() ? "nothing" : kept_list);
  PrintText(out);
  return Status::Ok();
}

}  // namespace

CommandRun SetupGc(CLI::App* app, GlobalOptions* global) {
  auto f = std::make_shared<GcFlags>();
  AddIndexOption(app, &f->index);
  AddLockTimeoutOption(app, &f->lock_timeout);
  AddCountOption(app, "keep", &f->keep, 1, 1000000,
                 "Keep the N newest versions (and the current one), 1 or more");
  AddVersionListOption(app, "protect", &f->protect, "Never remove this version (repeatable)");
  app->add_option("--grace", f->grace,
                  "Leave unreferenced segments younger than this (a build in progress)")
      ->type_name("DUR");
  app->add_flag("--dry-run", f->dry_run, "Print what would be removed, remove nothing");
  AddMetricsFileOption(app, &f->metrics_file);
  return [f, global] {
    CommandMetrics metrics("gc");
    Status s = RunGc(*f, *global, &metrics);
    return metrics.Finish(f->metrics_file, f->index, std::move(s));
  };
}

}  // namespace pidx::cli
