// --metrics-file PATH (or PIDX_METRICS_FILE) of build, rebuild-shard, verify, gc and recall: what a
// run did, as Prometheus text for node_exporter's textfile collector (pidx/obs/metrics.h).
// The file is written when the outcome is known, on success and on failure alike, so a
// failed run shows up as pidx_command_success 0. Metric names: docs/CLI.md "Metrics".
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "pidx/base/status.h"

namespace pidx::cli {

void AddMetricsFileOption(CLI::App* app, std::string* path);

class CommandMetrics {
 public:
  explicit CommandMetrics(std::string command);  // starts the clock

  // A shard of the version the run published (build, rebuild-shard): docs, bytes, and its
  // category (the shard id's slug) count towards pidx_index_shards.
  void AddShard(const std::string& shard, uint64_t docs, uint64_t bytes);
  // The run published a version (pidx_index_last_publish_timestamp_seconds); with
  // `whole_version` the shards added are all of it (build), which pidx_index_shards and
  // pidx_index_categories count.
  void SetPublished(bool whole_version) {
    published_ = true;
    whole_version_ = whole_version;
  }
  // The recall gate's measured recall and its --min (recall).
  void SetRecall(double recall, double min) {
    recall_ = recall;
    recall_min_ = min;
  }
  // The command takes locks with this timeout; a kLockTimeout outcome is one timeout.
  void SetLockTimeout(int64_t timeout_ms) { lock_timeout_ms_ = timeout_ms; }
  void SetLockWait(int64_t waited_ms) { lock_wait_ms_ = waited_ms; }
  // REQUIRES: called once per finding.
  void AddFinding(const std::string& kind, uint64_t n = 1) { findings_[kind] += n; }
  // Enables pidx_verify_findings (also with no finding at all).
  void CountFindings() { counts_findings_ = true; }

  // Writes the metrics to `path` when it is not empty and returns `outcome`. When the write
  // fails, a successful outcome becomes the write's error; a failed one stays (the write's
  // error is logged as metrics.write.failed). A result that could not be written on stdout
  // (output.h) counts as the outcome, so the metrics agree with the exit code (74).
  Status Finish(const std::string& path, const std::string& index, Status outcome) const;

 private:
  struct ShardSize {
    std::string shard;
    uint64_t docs;
    uint64_t bytes;
  };
  std::string command_;
  std::chrono::steady_clock::time_point start_;
  std::vector<ShardSize> shards_;
  std::optional<int64_t> lock_timeout_ms_;
  std::optional<int64_t> lock_wait_ms_;
  bool counts_findings_ = false;
  bool published_ = false;
  bool whole_version_ = false;
  std::optional<double> recall_;
  double recall_min_ = 0;
  std::map<std::string, uint64_t> findings_;
};

}  // namespace pidx::cli
