// pidx verify --index DIR [--version V | --all-versions] [--catalog FILE...] [--sample-terms K]
//             [--seed N] [--deep]
#include <fmt/format.h>

#include "command_metrics.h"
#include "command_table.h"
#include "output.h"
#include "pidx/obs/log.h"
#include "pidx/ops/values.h"
#include "pidx/ops/verify.h"

namespace pidx::cli {
namespace {

struct VerifyFlags {
  std::string index;
  uint64_t version = 0;  // 0: the current one
  bool all_versions = false;
  std::vector<std::string> catalogs;
  std::string format = "auto";
  uint32_t sample_terms = 20;
  uint64_t seed = 1;
  bool deep = false;
  int threads = 0;
  std::string metrics_file;
};

nlohmann::ordered_json FindingJson(const Finding& f) {
  nlohmann::ordered_json j;
  j["kind"] = f.kind;
  j["version"] = f.version;
  j["shard"] = f.shard;
  if (!f.term.empty()) j["term"] = f.term;
  if (!f.doc.empty()) j["doc"] = f.doc;
  if (!f.expected.empty()) j["expected"] = f.expected;
  if (!f.found.empty()) j["found"] = f.found;
  if (!f.fields.empty()) j["fields"] = f.fields;
  j["detail"] = f.detail;
  return j;
}

Status RunVerify(const VerifyFlags& f, const GlobalOptions& g, CommandMetrics* metrics) {
  PIDX_RETURN_IF_ERROR(Require(f.index, "index"));
  VerifyOptions o;
  o.index_dir = f.index;
  o.version = f.version;
  if (o.version > 0 && f.all_versions) {
    return Status::Usage("--version and --all-versions exclude each other");
  }
  o.all_versions = f.all_versions;
  o.catalogs = f.catalogs;
  auto format = ParseCatalogFormat(f.format);
  if (!format.ok()) return g.BadValue("format", format.status().message());
  o.format = *format;
  o.sample_terms = f.sample_terms;
  o.seed = f.seed;
  o.deep = f.deep;
  o.threads = f.threads;
  PIDX_ASSIGN_OR_RETURN(VerifyResult r, Verify(o, Env::Default()));
  metrics->CountFindings();
  // Exact counts: the listed findings and those past the examples alike.
  for (const auto& [kind, n] : FindingsByKind(r)) metrics->AddFinding(kind, n);
  const uint64_t total = FindingsTotal(r);

  for (const auto& x : r.findings) {
    LogFields fields = {{"kind", x.kind}, {"version", x.version}, {"shard", x.shard}};
    if (!x.term.empty()) fields["term"] = x.term;
    if (!x.doc.empty()) fields["doc"] = x.doc;
    if (!x.expected.empty()) fields["expected"] = x.expected;
    if (!x.found.empty()) fields["found"] = x.found;
    Log::Warn("verify.finding", x.detail, fields);
  }
  g.Completed(total == 0 ? "no problems found" : fmt::format("{} problems found", total),
              {{"versions", r.versions},
               {"catalog_version", r.catalog_version},
               {"findings", total},
               {"shards", r.shards_checked},
               {"docs", r.docs_checked},
               {"bytes", r.bytes_checked},
               {"terms_compared", r.terms_compared},
               {"catalog_products", r.catalog_products},
               {"duration_ms", r.duration_ms}},
              total == 0 ? LogLevel::kInfo : LogLevel::kError);

  if (g.json) {
    nlohmann::ordered_json j;
    j["command"] = "verify";
    j["ok"] = total == 0;
    j["versions_checked"] = r.versions;
    j["catalog_version"] = r.catalog_version.empty() ? nlohmann::ordered_json()
                                                     : nlohmann::ordered_json(r.catalog_version);
    j["shards_checked"] = r.shards_checked;
    j["docs_checked"] = r.docs_checked;
    j["bytes_checked"] = r.bytes_checked;
    j["terms_compared"] = r.terms_compared;
    j["catalog_products"] = r.catalog_products;
    j["duration_ms"] = r.duration_ms;
    j["findings_total"] = total;
    j["findings_listed"] = r.findings.size();
    j["truncated"] = !r.unlisted.empty();
    j["findings"] = nlohmann::ordered_json::array();
    for (const auto& x : r.findings) j["findings"].push_back(FindingJson(x));
    j["unlisted"] = nlohmann::ordered_json::array();
    for (const auto& u : r.unlisted) {
      j["unlisted"].push_back({{"kind", u.kind},
                               {"version", u.version},
                               {"shard", u.shard},
                               {"total", u.total},
                               {"listed", u.listed},
                               {"not_listed", u.total - u.listed}});
    }
    PrintJson(j);
  } else {
    std::string versions;
    for (const auto& v : r.versions) versions += (versions.empty() ? "" : ", ") + v;
    std::string out;
    if (r.findings.empty()) {
      out = fmt::format("OK: {} verified: {} shards, {} docs, {} checked{}\n", versions,
                        r.shards_checked, r.docs_checked, HumanBytes(r.bytes_checked),
                        o.catalogs.empty()
                            ? ""
                            : fmt::format(", {} catalog products, {} terms compared with {}",
                                          r.catalog_products, r.terms_compared, r.catalog_version));
    } else {
      out = fmt::format("FAILED: {} problems in {}\n\n", total, versions);
      Table t({"kind", "version", "shard", "term/doc", "expected", "found", "detail"});
      for (const auto& x : r.findings) {
        t.AddRow({x.kind, x.version, x.shard, x.term.empty() ? x.doc : x.term, x.expected, x.found,
                  x.detail});
      }
      out += t.Render();
      if (!r.unlisted.empty()) {
        out += fmt::format(
            "\n{} of the {} problems are not listed above (at most {} of one kind "
            "per shard):\n",
            total - r.findings.size(), total, r.unlisted.front().listed);
        for (const auto& u : r.unlisted) {
          out += fmt::format("  {} more {} in {}{}\n", u.total - u.listed, u.kind,
                             u.shard.empty() ? "the index" : u.shard,
                             u.version.empty() ? "" : " (" + u.version + ")");
        }
      }
    }
    PrintText(out);
  }
  if (total > 0) {
    return Status::Findings(fmt::format("{} problems found", total));
  }
  return Status::Ok();
}

}  // namespace

CommandRun SetupVerify(CLI::App* app, GlobalOptions* global) {
  auto f = std::make_shared<VerifyFlags>();
  AddIndexOption(app, &f->index);
  AddCatalogOption(app, &f->catalogs);
  AddVersionOption(app, &f->version, "verify");
  app->add_flag("--all-versions", f->all_versions, "Verify every published version");
  app->add_option("--format", f->format, "Catalog format (auto: by extension)")
      ->type_name("auto|jsonl|csv|tsv");
  AddCountOption(app, "sample-terms", &f->sample_terms, 0, 1000000,
                 "Per shard, compare the K most frequent and K random terms (df >= 5)");
  AddCountOption(app, "seed", &f->seed, 0, UINT64_MAX, "Seed of the random term sample");
  app->add_flag("--deep", f->deep, "Compare every term with the catalog");
  AddThreadsOption(app, &f->threads);
  AddMetricsFileOption(app, &f->metrics_file);
  return [f, global] {
    CommandMetrics metrics("verify");
    Status s = RunVerify(*f, *global, &metrics);
    return metrics.Finish(f->metrics_file, f->index, std::move(s));
  };
}

}  // namespace pidx::cli
