// pidx versions --index DIR
// Every published version: number, creation time, parent, docs, shards, size, what made it,
// and which one is current. A damaged manifest is a row with its error, not a failure.
#include <fmt/format.h>

#include "command_table.h"
#include "output.h"
#include "pidx/ops/values.h"
#include "pidx/ops/versions.h"

namespace pidx::cli {
namespace {

struct VersionsFlags {
  std::string index;
};

Status RunVersions(const VersionsFlags& f, const GlobalOptions& g) {
  PIDX_RETURN_IF_ERROR(Require(f.index, "index"));
  PIDX_ASSIGN_OR_RETURN(VersionList list, ListVersionInfos(f.index, Env::Default()));
  g.Completed(fmt::format("{} versions", list.versions.size()),
              {{"current", list.current > 0 ? VersionName(list.current) : ""},
               {"versions", list.versions.size()}});
  auto made_by = [](const VersionInfo& v) {
    return v.operation_shard.empty() ? v.operation : v.operation + " " + v.operation_shard;
  };
  if (g.json) {
    nlohmann::ordered_json j;
    j["command"] = "versions";
    j["current"] = list.current > 0 ? nlohmann::ordered_json(VersionName(list.current))
                                    : nlohmann::ordered_json(nullptr);
    if (!list.current_error.empty()) j["current_error"] = list.current_error;
    j["versions"] = nlohmann::ordered_json::array();
    for (const auto& v : list.versions) {
      nlohmann::ordered_json x;
      x["version"] = VersionName(v.version);
      x["number"] = v.version;
      x["is_current"] = v.current;
      if (!v.error.empty()) {
        x["error"] = v.error;
      } else {
        x["created"] = v.created;
        x["parent"] = v.parent > 0 ? nlohmann::ordered_json(VersionName(v.parent))
                                   : nlohmann::ordered_json(nullptr);
        x["operation"] = v.operation;
        if (!v.operation_shard.empty()) x["operation_shard"] = v.operation_shard;
        x["docs"] = v.docs;
        x["shard_count"] = v.shards;
        x["bytes"] = v.bytes;
      }
      j["versions"].push_back(x);
    }
    PrintJson(j);
    return Status::Ok();
  }
  Table t({"", "version", "created", "parent", "docs", "shards", "bytes", "made by"});
  for (const auto& v : list.versions) {
    if (!v.error.empty()) {
      t.AddRow({v.current ? "*" : "", VersionName(v.version), "DAMAGED: " + v.error, "", "", "", "",
                ""});
      continue;
    }
    t.AddRow({v.current ? "*" : "", VersionName(v.version), v.created,
              v.parent > 0 ? VersionName(v.parent) : "-", std::to_string(v.docs),
              std::to_string(v.shards), HumanBytes(v.bytes), made_by(v)});
  }
  std::string out = t.Render();
  if (!list.current_error.empty()) out += "CURRENT is damaged: " + list.current_error + "\n";
  PrintText(out);
  return Status::Ok();
}

}  // namespace

CommandRun SetupVersions(CLI::App* app, GlobalOptions* global) {
  auto f = std::make_shared<VersionsFlags>();
  AddIndexOption(app, &f->index);
  return [f, global] { return RunVersions(*f, *global); };
}

}  // namespace pidx::cli
