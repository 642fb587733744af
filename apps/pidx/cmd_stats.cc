// pidx stats --index DIR [--version V] [--shard S] [--top-terms K]
#include <fmt/format.h>

#include "command_table.h"
#include "output.h"
#include "pidx/ops/stats.h"
#include "pidx/ops/values.h"

namespace pidx::cli {
namespace {

struct StatsFlags {
  std::string index;
  uint64_t version = 0;  // 0: the current one
  std::string shard;
  uint32_t top_terms = 0;
};

nlohmann::ordered_json ShardJson(const ShardStats& s) {
  nlohmann::ordered_json j;
  j["shard"] = s.shard;
  if (!s.segment.empty()) j["segment"] = s.segment;
  j["docs"] = s.docs;
  j["terms"] = s.terms;
  j["postings"] = s.postings;
  j["bytes"] = s.bytes;
  j["containers"] = {
      {"array", s.containers_array}, {"bitmap", s.containers_bitmap}, {"run", s.containers_run}};
  j["roaring_bytes"] = s.roaring_bytes;
  j["array_bytes"] = s.array_bytes;
  if (!s.top_terms.empty()) {
    j["top_terms"] = nlohmann::ordered_json::array();
    for (const auto& t : s.top_terms)
      j["top_terms"].push_back({{"term", t.term}, {"docs", t.docs}});
  }
  return j;
}

std::string Ratio(uint64_t a, uint64_t b) {
  return b == 0 ? "-" : fmt::format("{:.2f}x", static_cast<double>(a) / static_cast<double>(b));
}

Status RunStats(const StatsFlags& f, const GlobalOptions& g) {
  PIDX_RETURN_IF_ERROR(Require(f.index, "index"));
  StatsOptions o;
  o.index_dir = f.index;
  o.version = f.version;
  o.shard = f.shard;
  o.top_terms = f.top_terms;
  PIDX_ASSIGN_OR_RETURN(StatsResult r, Stats(o, Env::Default()));
  g.Completed(fmt::format("{} shards, {} docs", r.shards.size(), r.total.docs),
              {{"version", VersionName(r.version)},
               {"shards", r.shards.size()},
               {"docs", r.total.docs},
               {"terms", r.total.terms},
               {"bytes", r.total.bytes}});

  if (g.json) {
    nlohmann::ordered_json j;
    j["command"] = "stats";
    j["version"] = VersionName(r.version);
    j["created"] = r.created;
    j["shards_per_category"] = r.shards_per_category;
    j["total"] = ShardJson(r.total);
    j["total"].erase("shard");
    j["total"]["shards"] = r.shards.size();
    j["categories"] = nlohmann::ordered_json::object();
    for (const auto& [c, n] : r.categories) j["categories"][c] = n;
    j["shards"] = nlohmann::ordered_json::array();
    for (const auto& s : r.shards) j["shards"].push_back(ShardJson(s));
    PrintJson(j);
    return Status::Ok();
  }
  Table t({"shard", "docs", "terms", "postings", "bytes", "array", "bitmap", "run", "roaring",
           "uint32[]", "saving"});
  auto row = [&](const ShardStats& s) {
    t.AddRow({s.shard, std::to_string(s.docs), std::to_string(s.terms), std::to_string(s.postings),
              HumanBytes(s.bytes), std::to_string(s.containers_array),
              std::to_string(s.containers_bitmap), std::to_string(s.containers_run),
              HumanBytes(s.roaring_bytes), HumanBytes(s.array_bytes),
              Ratio(s.array_bytes, s.roaring_bytes)});
  };
  for (const auto& s : r.shards) row(s);
  row(r.total);
  std::string out = fmt::format("{} ({}), {} shards, {} per category\n\n", VersionName(r.version),
                                r.created, r.shards.size(), r.shards_per_category);
  out += t.Render();
  if (!r.total.top_terms.empty()) {
    Table tt({"term", "docs"});
    for (const auto& x : r.total.top_terms) tt.AddRow({x.term, std::to_string(x.docs)});
    out += "\ntop terms\n" + tt.Render();
  }
  PrintText(out);
  return Status::Ok();
}

}  // namespace

CommandRun SetupStats(CLI::App* app, GlobalOptions* global) {
  auto f = std::make_shared<StatsFlags>();
  AddIndexOption(app, &f->index);
  AddVersionOption(app, &f->version, "show");
  app->add_option("--shard", f->shard, "Show only this shard");
  AddCountOption(app, "top-terms", &f->top_terms, 0, 1000000,
                 "Also list the K most frequent terms");
  return [f, global] { return RunStats(*f, *global); };
}

}  // namespace pidx::cli
