#include "pidx/scaleout/plan.h"
#include "pidx/base/json_number.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "pidx/base/checksum.h"
#include "pidx/base/duration.h"
#include "pidx/base/json_read.h"
#include "pidx/base/number.h"
#include "pidx/obs/log.h"
#include "pidx/shard/ingest.h"
#include "pidx/shard/shard_id.h"
#include "pidx/snapshot/layout_json.h"

namespace pidx {
namespace {

using json = nlohmann::json;

snapshot::ShardLayoutRef LayoutOf(Plan* p) {
  return {p->format_version, &p->shards_per_category, &p->target_shard_docs, &p->category_shards};
}

// Largest first, each shard to the least loaded worker (ties: the lower index): the classic
// LPT schedule, within 4/3 of the best possible makespan. Deterministic for a given catalog.
void Assign(std::vector<PlannedShard>* shards, uint32_t workers) {
  std::vector<PlannedShard*> order;
  for (auto& s : *shards) order.push_back(&s);
  std::sort(order.begin(), order.end(), [](const PlannedShard* a, const PlannedShard* b) {
    return a->docs != b->docs ? a->docs > b->docs : a->shard < b->shard;
  });
  std::vector<uint64_t> load(workers, 0);
  for (PlannedShard* s : order) {
    uint32_t best = 0;
    for (uint32_t w = 1; w < workers; ++w) {
      if (load[w] < load[best]) best = w;
    }
    s->worker = best;
    load[best] += s->docs;
  }
}

}  // namespace

std::vector<uint64_t> Plan::WorkerDocs() const {
  std::vector<uint64_t> docs(workers, 0);
  for (const auto& s : shards) docs.at(s.worker) += s.docs;
  return docs;
}

std::vector<std::string> Plan::ShardsOf(uint32_t worker) const {
  std::vector<std::string> out;
  for (const auto& s : shards) {
    if (s.worker == worker) out.push_back(s.shard);
  }
  return out;
}

const PlannedShard* Plan::FindShard(std::string_view shard) const {
  auto it =
      std::lower_bound(shards.begin(), shards.end(), shard,
                       [](const PlannedShard& s, std::string_view id) { return s.shard < id; });
  return it != shards.end() && it->shard == shard ? &*it : nullptr;
}

snapshot::Manifest Plan::NewManifest(const std::string& operation) const {
  snapshot::Manifest m;
  m.created = NowRfc3339();
  m.tool_version = PIDX_VERSION;
  m.operation = operation;
  m.catalogs = catalogs;
  m.schema = schema;
  m.analyzer = analyzer;
  m.shards_per_category = shards_per_category;
  m.target_shard_docs = target_shard_docs;
  m.category_shards = category_shards;
  if (format_version < 2) {
    // A format-1 plan: every category has S shards, which is what a format-1 manifest says.
    for (const auto& s : shards) {
      std::string slug;
      uint32_t number = 0;
      if (shard::ParseShardId(s.shard, &slug, &number))
        m.category_shards[slug] = shards_per_category;
    }
  }
  m.bad_lines_skipped = bad_lines_skipped;
  return m;
}

std::string Plan::Serialize() const {
  nlohmann::ordered_json j;
  j["format"] = "pidx-plan";
  j["format_version"] = format_version;
  j["created"] = created;
  j["tool_version"] = tool_version;
  j["index"] = index;
  j["catalogs"] = snapshot::CatalogsToJson(catalogs);
  j["catalog_format"] = catalog_format;
  j["max_line_bytes"] = max_line_bytes;
  j["max_bad_lines"] = max_bad_lines;
  j["schema"] = schema;
  j["analyzer"] = analyzer;
  snapshot::ShardLayoutToJson(format_version, shards_per_category, target_shard_docs,
                              category_shards, &j);
  j["products"] = products;
  j["bad_lines_skipped"] = bad_lines_skipped;
  j["workers"] = workers;
  j["worker_docs"] = WorkerDocs();
  j["shards"] = json::array();
  for (const auto& s : shards) {
    nlohmann::ordered_json e;
    e["shard"] = s.shard;
    e["docs"] = s.docs;
    e["worker"] = s.worker;
    j["shards"].push_back(std::move(e));
  }
  return snapshot::WithChecksumLine(j.dump(1) + "\n");
}

Result<Plan> Plan::Parse(std::string_view bytes, const std::string& name) {
  auto corrupt = [&](const std::string& why) { return Status::Corrupt(name + ": " + why); };
  std::string_view body;
  if (std::string why = snapshot::ChecksummedBody(bytes, "plan", &body); !why.empty()) {
    return corrupt(why);
  }
  PIDX_ASSIGN_OR_RETURN(json j, ParseJson(body, name, kPlanJsonLimits));
  if (!j.is_object()) return corrupt("plan is not a JSON object");
  Plan p;
  try {
    if (j.at("format").get<std::string>() != "pidx-plan") return corrupt("not a pidx plan");
    p.format_version = JsonUnsigned<uint32_t>(j.at("format_version"));
    if (p.format_version != 1 && p.format_version != 2) {
      return corrupt("unsupported plan format version " + std::to_string(p.format_version));
    }
    p.created = j.at("created").get<std::string>();
    p.tool_version = j.at("tool_version").get<std::string>();
    p.index = j.at("index").get<std::string>();
    p.catalogs = snapshot::CatalogsFromJson(j.at("catalogs"));
    p.catalog_format = j.at("catalog_format").get<std::string>();
    p.max_line_bytes = JsonUnsigned<uint64_t>(j.at("max_line_bytes"));
    p.max_bad_lines = JsonUnsigned<uint64_t>(j.at("max_bad_lines"));
    p.schema = j.at("schema");
    p.analyzer = j.at("analyzer");
    if (std::string why = snapshot::ShardLayoutFromJson(j, LayoutOf(&p)); !why.empty()) {
      return corrupt(why);
    }
    p.products = JsonUnsigned<uint64_t>(j.at("products"));
    p.bad_lines_skipped = JsonUnsigned<uint64_t>(j.at("bad_lines_skipped"));
    p.workers = JsonUnsigned<uint32_t>(j.at("workers"));
    for (const auto& e : j.at("shards")) {
      p.shards.push_back({e.at("shard").get<std::string>(), JsonUnsigned<uint64_t>(e.at("docs")),
                          JsonUnsigned<uint32_t>(e.at("worker"))});
    }
  } catch (const json::exception& e) {
    return corrupt(std::string("bad plan field: ") + e.what());
  }
  if (p.workers == 0 || p.workers > kMaxPlanWorkers) return corrupt("bad worker count");
  // Shard ids become segment file names of the stage: only the exact form is accepted, each
  // within its category's count, each once (the same rule as a manifest's).
  std::vector<std::string_view> ids;
  ids.reserve(p.shards.size());
  for (const auto& s : p.shards) ids.push_back(s.shard);
  if (std::string why = snapshot::ShardIdsProblem(ids, LayoutOf(&p), "shards"); !why.empty()) {
    return corrupt(why);
  }
  for (size_t i = 0; i < p.shards.size(); ++i) {
    if (p.shards[i].worker >= p.workers) {
      return corrupt("shard " + p.shards[i].shard + " is assigned to worker " +
                     std::to_string(p.shards[i].worker) + " of " + std::to_string(p.workers));
    }
    if (i > 0 && !(p.shards[i - 1].shard < p.shards[i].shard)) {
      return corrupt("shards are not sorted and unique at " + p.shards[i].shard);
    }
  }
  return p;
}

Result<Plan> Plan::Load(Env* env, const std::string& path) {
  if (!env->FileExists(path)) return Status::NotFound("plan " + path + " does not exist");
  PIDX_ASSIGN_OR_RETURN(std::string bytes, env->ReadFile(path));
  return Parse(bytes, path);
}

Result<MadePlan> MakePlan(const PlanOptions& options, Env* env) {
  const int64_t start = MonotonicMs();
  if (options.catalogs.empty()) return Status::Usage("no catalog given (--catalog FILE)");
  for (const auto& c : options.catalogs) {
    if (c == "-") {
      return Status::Usage(
          "a plan cannot read standard input: every worker reads the catalog again");
    }
  }
  if (options.workers == 0 || options.workers > kMaxPlanWorkers) {
    return Status::Usage("--workers must be between 1 and " + std::to_string(kMaxPlanWorkers));
  }
  if (options.shards_per_category == 0 ||
      options.shards_per_category > shard::kMaxShardsPerCategory) {
    return Status::Usage("--shards-per-category must be between 1 and 1000");
  }
  if (options.target_shard_docs > shard::kMaxTargetShardDocs) {
    return Status::Usage("--target-shard-docs must be at most 1000000000");
  }
  if (options.out_path.empty()) return Status::Usage("missing --out FILE");
  shard::IngestOptions ingest_opts;
  if (!options.schema_file.empty()) {
    PIDX_ASSIGN_OR_RETURN(ingest_opts.schema, catalog::Schema::LoadFile(options.schema_file));
  }
  PIDX_ASSIGN_OR_RETURN(ingest_opts.reader.format, catalog::ParseFormat(options.catalog_format));
  ingest_opts.reader.max_line_bytes = options.max_line_bytes;
  ingest_opts.max_bad_lines = options.max_bad_lines;
  ingest_opts.analyzer = options.analyzer;
  ingest_opts.shards_per_category = options.shards_per_category;
  ingest_opts.target_shard_docs = options.target_shard_docs;
  ingest_opts.threads = options.threads;
  // Count only: no shard is built, every product is dropped after its shard is known.
  ingest_opts.shard_filter = [](const std::string&) { return false; };
  ingest_opts.on_bad_record = [](const Status& bad) {
    Log::Warn("catalog.record.skipped", bad.message(), {{"reason", bad.message()}});
  };
  ProgressMeter meter(options.progress, {ProgressPhase::kRead, ProgressPhase::kPublish});
  ingest_opts.progress_interval_ms = std::min<int64_t>(options.progress.interval_ms, 200);
  ingest_opts.on_progress = [&meter](const shard::IngestProgress& p) {
    meter.Read(p.products, p.bytes, p.total_bytes, p.shards);
  };
  // Workers may run in another directory: they get absolute paths.
  std::vector<std::string> paths;
  for (const auto& c : options.catalogs) {
    paths.push_back(std::filesystem::absolute(c).lexically_normal().string());
  }
  Log::Info("index.plan.started", "plan started",
            {{"catalogs", paths}, {"workers", options.workers}, {"index", options.index_dir}});
  PIDX_ASSIGN_OR_RETURN(auto ingest, shard::Ingest(paths, ingest_opts));

  Plan plan;
  plan.created = NowRfc3339();
  plan.tool_version = PIDX_VERSION;
  plan.index = options.index_dir.empty()
                   ? ""
                   : std::filesystem::absolute(options.index_dir).lexically_normal().string();
  for (const auto& f : ingest.files) {
    plan.catalogs.push_back({f.path, f.size, f.xxh3, f.products});
  }
  plan.catalog_format = options.catalog_format;
  plan.max_line_bytes = options.max_line_bytes;
  plan.max_bad_lines = options.max_bad_lines;
  plan.schema = ingest_opts.schema.ToJson();
  plan.analyzer = ingest_opts.analyzer.ToJson();
  plan.shards_per_category = options.shards_per_category;
  plan.target_shard_docs = options.target_shard_docs;
  plan.category_shards = ingest.category_shards;
  plan.products = ingest.products_seen;
  plan.bad_lines_skipped = ingest.bad_records;
  plan.workers = options.workers;
  for (const auto& [id, docs] : ingest.all_shards) plan.shards.push_back({id, docs, 0});
  Assign(&plan.shards, plan.workers);

  meter.StartPublish();
  PIDX_RETURN_IF_ERROR(WriteFileDurably(env, options.out_path, plan.Serialize()));
  meter.Done();
  MadePlan made;
  made.plan = std::move(plan);
  made.duration_ms = MonotonicMs() - start;
  return made;
}

Result<uint32_t> ResolveWorkerIndex(int64_t flag, uint32_t workers, std::string* source) {
  std::string from = "--worker";
  std::string text = std::to_string(flag);
  if (flag < 0) {
    from.clear();
    for (const char* var :
         {"SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"}) {
      const char* v = std::getenv(var);
      if (v != nullptr && *v != '\0') {
        from = var;
        text = v;
        break;
      }
    }
    if (from.empty()) {
      return Status::Usage(
          "no worker index: give --worker I, or run as a task of a job array "
          "(SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX)");
    }
  }
  if (source) *source = from;
  // The one strict number parser: " 3", "+3" or "3x" from a job array is not worker 3.
  auto v = ParseUnsigned(text);
  if (!v.ok() || workers == 0 || *v >= workers) {
    return Status::Usage("worker index " + text + " (from " + from + ") is not in [0, " +
                         std::to_string(workers) + "): the plan has " + std::to_string(workers) +
                         " workers");
  }
  return static_cast<uint32_t>(*v);
}

}  // namespace pidx
