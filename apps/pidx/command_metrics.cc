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
  if (!shards_.empty()) {
    m.Describe("pidx_index_docs", MetricType::kGauge, "Products in the shard as published.");
    m.Describe("pidx_index_bytes", MetricType::kGauge, "Size of the shard's segment file.");
    for (const auto& s : shards_) m.Add("pidx_index_docs", with("shard", s.shard), s.docs);
    for (const auto& s : shards_) m.Add("pidx_index_bytes", with("shard", s.shard), s.bytes);
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
    m.Describe("pidx_lock_timeouts_total", MetricType::kCounter,
               "Lock timeouts of the last run (exit 75).");
    m.Add("pidx_lock_timeouts_total", labels, timed_out ? 1 : 0);
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
