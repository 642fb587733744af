// pidx stats --index DIR [--version V] [--shard S] [--top-terms K]
#include <algorithm>
#include <map>
#include <set>

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
  bool show_shards = false;
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

// Roaring's size against plain uint32 arrays, said so that a larger Roaring never reads as a
// saving: "0.68x (smaller)", "1.47x (larger)".
std::string RoaringVsPlain(uint64_t roaring, uint64_t plain) {
  if (plain == 0) return "-";
  const double r = static_cast<double>(roaring) / static_cast<double>(plain);
  return fmt::format("{:.2f}x ({})", r,
                     roaring < plain   ? "smaller"
                     : roaring > plain ? "larger"
                                       : "same");
}

// One line per category (shards of one slug: a category and its case variants), the most
// docs first.
struct CategoryRollup {
  std::string slug;
  std::vector<std::string> names;  // raw categories
  uint64_t shards = 0;
  uint64_t docs = 0;
  uint64_t bytes = 0;
};

std::vector<CategoryRollup> RollUp(const StatsResult& r) {
  std::map<std::string, CategoryRollup> by_slug;
  std::map<std::string, std::set<std::string>> names;
  for (const auto& s : r.shards) {
    const std::string& slug = s.category_slug;
    CategoryRollup& c = by_slug[slug];
    c.slug = slug;
    ++c.shards;
    c.docs += s.docs;
    c.bytes += s.bytes;
    for (const auto& [name, n] : s.categories) names[slug].insert(name);
  }
  std::vector<CategoryRollup> out;
  for (auto& [slug, c] : by_slug) {
    c.names.assign(names[slug].begin(), names[slug].end());
    out.push_back(std::move(c));
  }
  std::stable_sort(out.begin(), out.end(), [](const CategoryRollup& a, const CategoryRollup& b) {
    return a.docs != b.docs ? a.docs > b.docs : a.slug < b.slug;
  });
  return out;
}

nlohmann::ordered_json RollupJson(const std::vector<CategoryRollup>& rollup) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& c : rollup) {
    out.push_back({{"category", c.names.empty() ? c.slug : c.names.front()},
                   {"names", c.names},
                   {"slug", c.slug},
                   {"shard_count", c.shards},
                   {"docs", c.docs},
                   {"bytes", c.bytes}});
  }
  return out;
}

std::string ShardTable(const StatsResult& r) {
  Table t({"shard", "docs", "terms", "postings", "bytes", "array", "bitmap", "run", "roaring",
           "uint32[]", "roaring/plain"});
  auto row = [&](const ShardStats& s) {
    t.AddRow({s.shard, std::to_string(s.docs), std::to_string(s.terms), std::to_string(s.postings),
              HumanBytes(s.bytes), std::to_string(s.containers_array),
              std::to_string(s.containers_bitmap), std::to_string(s.containers_run),
              HumanBytes(s.roaring_bytes), HumanBytes(s.array_bytes),
              RoaringVsPlain(s.roaring_bytes, s.array_bytes)});
  };
  for (const auto& s : r.shards) row(s);
  row(r.total);
  return t.Render();
}

std::string CategoryChart(const std::vector<CategoryRollup>& rollup, const StatsResult& r,
                          bool unicode) {
  uint64_t max_docs = 0, max_bytes = 0;
  for (const auto& c : rollup) {
    max_docs = std::max(max_docs, c.docs);
    max_bytes = std::max(max_bytes, c.bytes);
  }
  constexpr int kBarWidth = 20;
  Table t({"category", "shards", "docs", "", "bytes", ""});
  for (const auto& c : rollup) {
    std::string name = c.names.empty() ? c.slug : c.names.front();
    if (c.names.size() > 1) name += fmt::format(" (+{} spellings)", c.names.size() - 1);
    t.AddRow({name, std::to_string(c.shards), std::to_string(c.docs),
              Bar(c.docs, max_docs, kBarWidth, unicode), HumanBytes(c.bytes),
              Bar(c.bytes, max_bytes, kBarWidth, unicode)});
  }
  t.AddRow({"total", std::to_string(r.shards.size()), std::to_string(r.total.docs), "",
            HumanBytes(r.total.bytes), ""});
  return t.Render();
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
  const std::vector<CategoryRollup> rollup = RollUp(r);

  if (g.json) {
    nlohmann::ordered_json j;
    j["command"] = "stats";
    j["version"] = VersionName(r.version);
    j["created"] = r.created;
    j["shards_per_category"] = r.shards_per_category;
    j["totals"] = ShardJson(r.total);
    j["totals"].erase("shard");
    j["totals"]["shard_count"] = r.shards.size();
    j["categories"] = nlohmann::ordered_json::object();
    for (const auto& [c, n] : r.categories) j["categories"][c] = n;
    j["category_totals"] = RollupJson(rollup);
    j["shards"] = nlohmann::ordered_json::array();
    for (const auto& s : r.shards) j["shards"].push_back(ShardJson(s));
    PrintJson(j);
    return Status::Ok();
  }
  const ShardStats& t = r.total;
  std::string out = fmt::format("{} ({}), {} shards, {} per category{}\n", VersionName(r.version),
                                r.created, r.shards.size(), r.shards_per_category,
                                f.shard.empty() ? "" : ", shard " + f.shard);
  out += fmt::format("total: {} docs, {} terms, {} postings, {} on disk\n", t.docs, t.terms,
                     t.postings, HumanBytes(t.bytes));
  out += fmt::format(
      "postings: Roaring {} ({} array, {} bitmap, {} run containers); as plain uint32 arrays "
      "{}: roaring/plain {}\n",
      HumanBytes(t.roaring_bytes), t.containers_array, t.containers_bitmap, t.containers_run,
      HumanBytes(t.array_bytes), RoaringVsPlain(t.roaring_bytes, t.array_bytes));
  out += "\n" + CategoryChart(rollup, r, UnicodeBlocks());
  if (f.show_shards || !f.shard.empty()) {
    out += "\n" + ShardTable(r);
  } else {
    out += fmt::format("\n(--shards lists the {} shards one by one)\n", r.shards.size());
  }
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
  app->add_option("--shard", f->shard, "Show only this shard (and its row)")->type_name("SHARD");
  app->add_flag("--shards", f->show_shards,
                "Also list every shard (default: the total and one line per category)");
  AddCountOption(app, "top-terms", &f->top_terms, 0, 1000000,
                 "Also list the K most frequent terms");
  return [f, global] { return RunStats(*f, *global); };
}

}  // namespace pidx::cli
