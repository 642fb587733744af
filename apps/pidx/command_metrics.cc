#include "command_metrics.h"

#include <utility>

#include "output.h"
#include "pidx/obs/log.h"
#include "pidx/obs/metrics.h"

namespace pidx::cli {

void AddMetricsFileOption(CLI::App* app, std::string* path) {
  app->add_option("--metrics-file", *path,
                  "Write Prometheus text metrics of this run here (textfile collector, *.prom)")
      ->type_name("PATH");
}

CommandMetrics::CommandMetrics(std::string command)
    : command_(std::move(command)), start_(std::chrono::steady_clock::now()) {}

void CommandMetrics::AddShard(const std::string& shard, uint64_t docs, uint64_t bytes) {
  shards_.push_back({shard, docs, bytes});
}

Status CommandMetrics::Finish(const std::string& path, const std::string& index,
                              Status outcome) const {
  if (path.empty()) return outcome;
  // The result is printed before this runs: a result that could not be written is the run's
  // outcome here too, so pidx_command_success says what the exit code says.
  outcome = WithResultWritten(std::move(outcome), Stdout().failure());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // `index` tells apart two jobs of the same command: node_exporter refuses a series that
  // two .prom files both carry.
  const MetricLabels labels = {{"command", command_}, {"index", index}};
  auto with = [&labels](const std::string& name, const std::string& value) {
    MetricLabels l = labels;
    l.emplace_back(name, value);
    return l;
  };

  MetricSet m;
  m.Describe("pidx_command_duration_seconds", MetricType::kGauge,
             "Wall-clock duration of the last run of the command.");
  m.Add("pidx_command_duration_seconds", labels, seconds);
  m.Describe("pidx_command_success", MetricType::kGauge,
             "1 if the last run of the command succeeded (exit 0), else 0.");
  m.Add("pidx_command_success", labels, outcome.ok() ? 1 : 0);
  if (outcome.ok()) {
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    m.Describe("pidx_command_last_success_timestamp_seconds", MetricType::kGauge,
               "Unix time at which the command last succeeded.");
    m.Add("pidx_command_last_success_timestamp_seconds", labels, now);
  }
  if (outcome.ok() && published_) {
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    m.Describe("pidx_index_last_publish_timestamp_seconds", MetricType::kGauge,
               "Unix time at which the run published the index's current version.");
    m.Add("pidx_index_last_publish_timestamp_seconds", labels, now);
  }
  if (!shards_.empty()) {
    // The category is the shard id's slug: the name every shard of a category shares.
    auto category_of = [](const std::string& shard) {
      const size_t us = shard.rfind('_');
      return us == std::string::npos ? shard : shard.substr(0, us);
    };
    auto with_shard = [&](const std::string& shard) {
      MetricLabels l = with("shard", shard);
      l.emplace_back("category", category_of(shard));
      return l;
    };
    std::map<std::string, uint64_t> per_category;
    for (const auto& s : shards_) ++per_category[category_of(s.shard)];
    m.Describe("pidx_index_docs", MetricType::kGauge, "Products in the shard as published.");
    m.Describe("pidx_index_bytes", MetricType::kGauge, "Size of the shard's segment file.");
    for (const auto& s : shards_) m.Add("pidx_index_docs", with_shard(s.shard), s.docs);
    for (const auto& s : shards_) m.Add("pidx_index_bytes", with_shard(s.shard), s.bytes);
    if (whole_version_) {
      m.Describe("pidx_index_shards", MetricType::kGauge,
                 "Shards of the category in the published version.");
      m.Describe("pidx_index_categories", MetricType::kGauge,
                 "Categories (shard id slugs) in the published version.");
      for (const auto& [c, n] : per_category) m.Add("pidx_index_shards", with("category", c), n);
      m.Add("pidx_index_categories", labels, static_cast<double>(per_category.size()));
    }
  }
  if (recall_) {
    m.Describe("pidx_recall_ratio", MetricType::kGauge,
               "Overall recall the last recall gate measured (found / expected).");
    m.Add("pidx_recall_ratio", labels, *recall_);
    m.Describe("pidx_recall_min_ratio", MetricType::kGauge, "The recall gate's --min.");
    m.Add("pidx_recall_min_ratio", labels, recall_min_);
  }
  if (lock_timeout_ms_) {
    const bool timed_out = outcome.kind() == StatusKind::kLockTimeout;
    // On a timeout the library returns no result: the wait was the timeout.
    std::optional<int64_t> waited = timed_out ? lock_timeout_ms_ : lock_wait_ms_;
    if (waited) {
      m.Describe("pidx_lock_wait_seconds", MetricType::kGauge,
                 "Time the last run waited for index locks.");
      m.Add("pidx_lock_wait_seconds", labels, static_cast<double>(*waited) / 1000);
    }
    // A 0/1 of the last run, not a counter: a _total would promise a running count.
    m.Describe("pidx_lock_timed_out", MetricType::kGauge,
               "1 if the last run ended in a lock timeout (exit 75), else 0.");
    m.Add("pidx_lock_timed_out", labels, timed_out ? 1 : 0);
  }
  if (counts_findings_) {
    m.Describe("pidx_verify_findings", MetricType::kGauge,
               "Problems the last verify found, by kind (docs/VERIFY.md).");
    for (const auto& [kind, n] : findings_) {
      m.Add("pidx_verify_findings", with("kind", kind), static_cast<double>(n));
    }
  }

  Status written = WriteMetricsFile(Env::Default(), path, m);
  if (written.ok() || !outcome.ok()) {
    if (!written.ok()) {
      Log::Error("metrics.write.failed", written.message(), {{"file", path}});
    }
    return outcome;
  }
  return written;
}

}  // namespace pidx::cli
