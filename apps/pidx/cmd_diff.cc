// pidx diff --index DIR V1 V2   |   pidx diff DIR1 DIR2
//           [--shard S] [--limit N] [--summary]
// Exit 0: equal; 1: different; 66: an index, a version or the shard is missing.
// The --json output is documented in docs/DIFF.md.
#include <fmt/format.h>

#include "command_table.h"
#include "output.h"
#include "pidx/obs/log.h"
#include "pidx/ops/changed_fields.h"
#include "pidx/ops/diff.h"
#include "pidx/ops/values.h"

namespace pidx::cli {
namespace {

struct DiffFlags {
  std::string index;
  std::vector<std::string> operands;  // V1 V2, or DIR1 DIR2
  std::string shard;
  size_t limit = 10;
  bool summary = false;
  int threads = 0;
};

// The form is decided by --index. PIDX_INDEX is only a default: when it comes from the
// environment and the operands are not both version names, they are two directories, so an
// operator with PIDX_INDEX exported can still compare two indexes.
Status ParseOperands(const DiffFlags& f, const GlobalOptions& g, DiffOptions* o) {
  if (f.operands.size() != 2) {
    return Status::Usage(fmt::format(
        "expected two operands (--index DIR V1 V2, or DIR1 DIR2), got {}", f.operands.size()));
  }
  auto p1 = ParseVersion(f.operands[0]);
  auto p2 = ParseVersion(f.operands[1]);
  const bool versions = p1.ok() && p2.ok();
  const uint64_t v1 = p1.ok() ? *p1 : 0, v2 = p2.ok() ? *p2 : 0;
  if (!f.index.empty() && (versions || !g.from_env.count("index"))) {
    if (!versions) {
      return Status::Usage(
          "with --index, the operands are two versions (e.g. v000041 v000042), "
          "got \"" +
          f.operands[0] + "\" \"" + f.operands[1] + "\"");
    }
    if (v1 == 0 || v2 == 0) return Status::Usage("version numbers start at 1");
    o->v1 = {f.index, v1};
    o->v2 = {f.index, v2};
    return Status::Ok();
  }
  o->v1 = {f.operands[0], 0};
  o->v2 = {f.operands[1], 0};
  return Status::Ok();
}

nlohmann::ordered_json ListJson(const DiffList& l) {
  return {{"count", l.count}, {"ids", l.examples}};
}

// changed_products also names, per example id, the fields that changed when the segments tell.
nlohmann::ordered_json ChangedJson(const ProductDiff& p) {
  nlohmann::ordered_json j = ListJson(p.changed);
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  for (const auto& [id, names] : p.changed_fields) fields[id] = names;
  j["fields"] = fields;
  return j;
}

nlohmann::ordered_json ProductsJson(const ProductDiff& p) {
  return {{"added_products", ListJson(p.added)},
          {"removed_products", ListJson(p.removed)},
          {"changed_products", ChangedJson(p)}};
}

nlohmann::ordered_json TermOnlyJson(const TermOnlyList& l) {
  nlohmann::ordered_json ex = nlohmann::ordered_json::array();
  for (const auto& t : l.examples) ex.push_back({{"term", t.term}, {"docs", t.docs}});
  return {{"count", l.count}, {"examples", ex}};
}

nlohmann::ordered_json SideJson(const DiffSideInfo& s) {
  return {{"index", s.index_dir},
          {"version", s.version},
          {"shard_count", s.shards},
          {"docs", s.docs},
          {"shards_per_category", s.shards_per_category}};
}

nlohmann::ordered_json ShardJson(const ShardDiff& s) {
  nlohmann::ordered_json j;
  j["shard"] = s.shard;
  j["change"] = ShardDiffKindName(s.kind);
  // null, not "", on the side the shard is missing from: there is no such file.
  auto segment = [](const std::string& name) {
    return name.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(name);
  };
  j["segment_v1"] = segment(s.segment_v1);
  j["segment_v2"] = segment(s.segment_v2);
  j["docs_v1"] = s.docs_v1;
  j["docs_v2"] = s.docs_v2;
  j["terms_v1"] = s.terms_v1;
  j["terms_v2"] = s.terms_v2;
  if (s.kind != ShardDiffKind::kChanged) return j;
  j["product_changes"] = ProductsJson(s.products);
  nlohmann::ordered_json changed = nlohmann::ordered_json::array();
  for (const auto& t : s.terms_changed_examples) {
    changed.push_back({{"term", t.term},
                       {"docs_v1", t.docs_v1},
                       {"docs_v2", t.docs_v2},
                       {"entered", ListJson(t.entered)},
                       {"left", ListJson(t.left)}});
  }
  j["term_changes"] = {{"only_v1", TermOnlyJson(s.terms_only_v1)},
                       {"only_v2", TermOnlyJson(s.terms_only_v2)},
                       {"postings_differ", {{"count", s.terms_changed}, {"examples", changed}}}};
  return j;
}

// The counts of a diff: the JSON result's `totals` and the fields of index.diff.completed.
nlohmann::ordered_json CountsJson(const DiffResult& r) {
  return {{"shards_equal", r.shards_equal},
          {"shards_changed", r.shards_changed},
          {"shards_added", r.shards_added},
          {"shards_removed", r.shards_removed},
          {"products_added", r.products.added.count},
          {"products_removed", r.products.removed.count},
          {"products_changed", r.products.changed.count},
          {"terms_only_v1", r.terms_only_v1},
          {"terms_only_v2", r.terms_only_v2},
          {"terms_postings_differ", r.terms_changed}};
}

nlohmann::ordered_json ResultJson(const DiffResult& r, size_t limit) {
  nlohmann::ordered_json j;
  j["command"] = "diff";
  j["equal"] = r.equal();
  j["v1"] = SideJson(r.v1);
  j["v2"] = SideJson(r.v2);
  j["settings_differ"] = r.settings_differ;
  j["settings_changed"] = r.settings_changed;
  j["level"] = r.settings_differ ? "products" : "shards";
  j["limit"] = limit;
  j["segments_opened"] = r.segments_opened;
  j["totals"] = CountsJson(r);
  j["product_changes"] = ProductsJson(r.products);
  j["shards"] = nlohmann::ordered_json::array();
  for (const auto& s : r.shards) j["shards"].push_back(ShardJson(s));
  j["duration_ms"] = r.duration_ms;
  return j;
}

std::string Label(const DiffSideInfo& s, bool same_index) {
  return same_index ? s.version : s.index_dir + " (" + s.version + ")";
}

// "a, b (price, title), c": the fields that changed after an id, when known.
std::string Examples(const DiffList& l,
                     const std::map<std::string, std::vector<std::string>>* fields = nullptr) {
  std::string s;
  for (const auto& e : l.examples) {
    s += (s.empty() ? "" : ", ") + e;
    if (fields == nullptr) continue;
    auto it = fields->find(e);
    if (it != fields->end()) s += " (" + JoinFields(it->second) + ")";
  }
  if (l.count > l.examples.size()) {
    s += fmt::format("{}(+{} more)", s.empty() ? "" : " ", l.count - l.examples.size());
  }
  return s;
}

std::string TermExamples(const TermOnlyList& l) {
  std::string s;
  for (const auto& t : l.examples) {
    s += fmt::format("{}{} ({})", s.empty() ? "" : ", ", t.term, t.docs);
  }
  if (l.count > l.examples.size()) {
    s += fmt::format("{}(+{} more)", s.empty() ? "" : " ", l.count - l.examples.size());
  }
  return s;
}

// A summary first (readable at a glance); unless --summary, a line per differing shard and
// the examples of each shard.
std::string Human(const DiffResult& r, bool summary) {
  const bool same_index = r.v1.index_dir == r.v2.index_dir;
  const std::string l1 = Label(r.v1, same_index), l2 = Label(r.v2, same_index);
  std::string out = fmt::format("{}: {} -> {}\n", r.equal() ? "EQUAL" : "DIFFERENT", l1, l2);
  if (r.settings_differ) {
    std::string which;
    for (const auto& s : r.settings_changed) which += (which.empty() ? "" : ", ") + s;
    out += fmt::format("  settings differ ({}): compared at product level, terms not compared\n",
                       which);
  } else {
    out += fmt::format(
        "  shards:   {} equal, {} changed, {} added, {} removed ({} segments opened)\n",
        r.shards_equal, r.shards_changed, r.shards_added, r.shards_removed, r.segments_opened);
  }
  out += fmt::format("  products: {} added, {} removed, {} changed\n", r.products.added.count,
                     r.products.removed.count, r.products.changed.count);
  if (r.terms_compared) {
    out += fmt::format("  terms:    {} only in {}, {} only in {}, {} with other postings\n",
                       r.terms_only_v1, l1, r.terms_only_v2, l2, r.terms_changed);
  }
  if (!summary) {
    for (const auto& [name, list] :
         {std::pair{"added", &r.products.added}, std::pair{"removed", &r.products.removed},
          std::pair{"changed", &r.products.changed}}) {
      if (list->count > 0) {
        out += fmt::format(
            "  products {}: {}\n", name,
            Examples(*list, list == &r.products.changed ? &r.products.changed_fields : nullptr));
      }
    }
  }
  // --summary is the totals above, whatever the number of shards: no row per shard.
  if (r.shards.empty() || summary) return out;

  Table t({"shard", "change", "docs_v1", "docs_v2", "added", "removed", "changed", "terms_v1_only",
           "terms_v2_only", "postings_differ"});
  for (const auto& s : r.shards) {
    const bool changed = s.kind == ShardDiffKind::kChanged;
    auto n = [changed](uint64_t v) { return changed ? std::to_string(v) : std::string("-"); };
    t.AddRow({s.shard, ShardDiffKindName(s.kind),
              s.segment_v1.empty() ? "-" : std::to_string(s.docs_v1),
              s.segment_v2.empty() ? "-" : std::to_string(s.docs_v2), n(s.products.added.count),
              n(s.products.removed.count), n(s.products.changed.count), n(s.terms_only_v1.count),
              n(s.terms_only_v2.count), n(s.terms_changed)});
  }
  out += "\n" + t.Render();

  for (const auto& s : r.shards) {
    if (s.kind != ShardDiffKind::kChanged) continue;
    out += fmt::format("\n{} ({} -> {} docs)\n", s.shard, s.docs_v1, s.docs_v2);
    if (s.products.added.count) out += "  products added: " + Examples(s.products.added) + "\n";
    if (s.products.removed.count) {
      out += "  products removed: " + Examples(s.products.removed) + "\n";
    }
    if (s.products.changed.count) {
      out += "  products changed: " + Examples(s.products.changed) + "\n";
    }
    if (s.terms_only_v1.count) {
      out += fmt::format("  terms only in {}: {}\n", l1, TermExamples(s.terms_only_v1));
    }
    if (s.terms_only_v2.count) {
      out += fmt::format("  terms only in {}: {}\n", l2, TermExamples(s.terms_only_v2));
    }
    if (s.terms_changed) out += fmt::format("  terms with other postings: {}\n", s.terms_changed);
    for (const auto& c : s.terms_changed_examples) {
      out += fmt::format("    {} ({} -> {} docs)", c.term, c.docs_v1, c.docs_v2);
      if (c.entered.count) out += "  entered: " + Examples(c.entered);
      if (c.left.count) out += "  left: " + Examples(c.left);
      out += "\n";
    }
    if (s.terms_changed > s.terms_changed_examples.size()) {
      out += fmt::format("    (+{} more)\n", s.terms_changed - s.terms_changed_examples.size());
    }
  }
  return out;
}

Status RunDiff(const DiffFlags& f, const GlobalOptions& g) {
  DiffOptions o;
  PIDX_RETURN_IF_ERROR(ParseOperands(f, g, &o));
  o.shard = f.shard;
  // --summary asks for counts only; no example is collected at all.
  o.limit = f.summary ? 0 : f.limit;
  o.threads = f.threads;
  PIDX_ASSIGN_OR_RETURN(DiffResult r, Diff(o, Env::Default()));

  const bool equal = r.equal();
  g.Completed(equal ? fmt::format("{} and {} are equal", r.v1.version, r.v2.version)
                    : fmt::format("{} and {} differ", r.v1.version, r.v2.version),
              [&] {
                LogFields fields = {{"v1", r.v1.version},
                                    {"v2", r.v2.version},
                                    {"index_v1", r.v1.index_dir},
                                    {"index_v2", r.v2.index_dir},
                                    {"equal", equal},
                                    {"settings_differ", r.settings_differ}};
                fields.update(CountsJson(r));
                fields["segments_opened"] = r.segments_opened;
                fields["duration_ms"] = r.duration_ms;
                return fields;
              }());

  if (g.json) {
    PrintJson(ResultJson(r, o.limit));
  } else {
    PrintText(Human(r, f.summary));
  }
  if (!equal) {
    return Status::Findings(fmt::format("{} and {} differ", r.v1.version, r.v2.version));
  }
  return Status::Ok();
}

}  // namespace

CommandRun SetupDiff(CLI::App* app, GlobalOptions* global) {
  auto f = std::make_shared<DiffFlags>();
  AddIndexOption(app, &f->index);
  app->add_option("operands", f->operands,
                  "V1 V2 (two versions of --index), or DIR1 DIR2 (two index directories, their "
                  "current versions)")
      ->type_name("V1 V2|DIR1 DIR2");
  app->add_option("--shard", f->shard, "Compare only this shard")->type_name("SHARD");
  AddCountOption(app, "limit", &f->limit, 0, kMaxLimit, "Examples listed per section");
  app->add_flag("--summary", f->summary, "Counts only: no examples");
  AddThreadsOption(app, &f->threads);
  return [f, global] { return RunDiff(*f, *global); };
}

}  // namespace pidx::cli
