// Metrics for batch jobs: a small set of samples rendered in the Prometheus text exposition
// format (version 0.0.4) and written the way node_exporter's textfile collector expects.
//
// Contract of WriteMetricsFile:
// - The text goes to a temporary name in the same directory that does NOT end in ".prom"
//   (the collector reads every "*.prom", hidden ones included), is fsynced and renamed over
//   `path`, then the directory is fsynced. A scrape sees the old file or the new one, whole.
// - Every family has a `# HELP` and a `# TYPE` line, and its samples follow it contiguously.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pidx/base/env.h"
#include "pidx/base/status.h"

namespace pidx {

enum class MetricType { kGauge, kCounter };

using MetricLabels = std::vector<std::pair<std::string, std::string>>;  // name -> value

class MetricSet {
 public:
  // Declares a family. Families render in the order they were first described.
  // REQUIRES: `name` matches [a-zA-Z_:][a-zA-Z0-9_:]*; a second call for `name` is ignored.
  void Describe(const std::string& name, MetricType type, const std::string& help);

  // Adds a sample to the family `name`.
  // REQUIRES: Describe(name, ...) was called; label names match [a-zA-Z_][a-zA-Z0-9_]*.
  void Add(const std::string& name, const MetricLabels& labels, double value);

  bool empty() const { return families_.empty(); }
  std::string Render() const;

 private:
  struct Family {
    std::string name;
    MetricType type;
    std::string help;
    std::vector<std::string> samples;  // rendered lines without the trailing newline
  };
  std::vector<Family> families_;
};

// A label value with backslash, double quote and newline escaped (\\, \", \n).
std::string EscapeLabelValue(std::string_view value);
// A sample value: shortest round-trip decimal, "NaN", "+Inf" or "-Inf".
std::string FormatMetricValue(double value);

// Writes `metrics.Render()` to `path` as described above. kIoError on failure (the temporary
// is removed).
Status WriteMetricsFile(Env* env, const std::string& path, const MetricSet& metrics);

}  // namespace pidx
