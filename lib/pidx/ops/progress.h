// How the long operations (build, rebuild-shard, build --plan, plan) report progress. lib
// measures what is done and estimates what is left; apps decide how to show it (a bar on a
// terminal, `index.build.progress` events otherwise). Nothing in lib draws on a terminal.
//
// The estimate covers the whole run, not only reading. A run is a sequence of phases:
//   read     read, parse and analyze the catalog (known: bytes read of the catalog's size)
//   shards   finish every shard: sort, encode, write the segment durably, read it back and
//            check it (known: docs of the finished shards of all docs)
//   publish  the manifest, its fsyncs and CURRENT under the publish lock (small, fixed)
// While a phase runs, its remaining time is extrapolated from its own rate; a phase not begun
// is estimated from the phases before it with the ratios below, measured on pidx's own builds
// (docs/CLI.md "Progress"). `fraction` is elapsed / (elapsed + eta), so the bar and the ETA
// always agree, and 100% is only reported when the run is over.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace pidx {

enum class ProgressPhase { kRead, kShards, kPublish, kDone };
const char* ProgressPhaseName(ProgressPhase phase);  // read, shards, publish, done

struct Progress {
  ProgressPhase phase = ProgressPhase::kRead;
  uint64_t products = 0;      // records read so far
  uint64_t bytes = 0;         // catalog bytes read so far
  uint64_t total_bytes = 0;   // the catalogs' sizes; 0 when unknown (a pipe, stdin)
  uint64_t shards_done = 0;   // shards finished (written and checked)
  uint64_t shards_total = 0;  // known once reading is over
  int64_t elapsed_ms = 0;
  double fraction = -1;  // of the whole run, in [0, 1]; -1 when unknown (unknown size)
  int64_t eta_ms = -1;   // -1 when unknown
};

struct ProgressOptions {
  // Empty: nothing is reported. Called from whichever thread made progress, never from two
  // at once.
  std::function<void(const Progress&)> report;
  int64_t interval_ms = 5000;  // between reports; a new phase and the end are always reported
};

// Where a finished run spent its time, by phase (wall clock), and the work of the shard phase
// summed over its threads (it runs in parallel, so these can add up to more than `shards_ms`).
struct PhaseTimes {
  int64_t read_ms = 0;
  int64_t shards_ms = 0;
  int64_t publish_ms = 0;
  int64_t encode_ms = 0;  // thread time: sorting and encoding segments
  int64_t write_ms = 0;   // thread time: writing segments durably
  int64_t check_ms = 0;   // thread time: reading each segment back and checking it
};

// Thread-safe. `clock` returns monotonic milliseconds (tests pass their own).
class ProgressMeter {
 public:
  // `phases`: the phases this run goes through, in order (kRead first).
  ProgressMeter(ProgressOptions options, std::vector<ProgressPhase> phases,
                std::function<int64_t()> clock = {});

  // Of all products read, the share that will be built into shards (1 for a build, a
  // rebuild's one shard, a worker's share of the plan): scales the estimate of the shard
  // phase while it has not started.
  void SetBuiltShare(double share);
  // `shards`: shards seen so far (each will be a segment to write).
  void Read(uint64_t products, uint64_t bytes, uint64_t total_bytes, uint64_t shards);
  void StartShards(uint64_t shards, uint64_t docs);
  // A shard was finished; the times are its share of PhaseTimes' thread times.
  void ShardDone(uint64_t docs, int64_t encode_ms, int64_t write_ms, int64_t check_ms);
  void StartPublish();
  void Done();

  PhaseTimes times() const;
  // The estimate now, without reporting it.
  Progress Snapshot() const;

  // The cost model of the phases not begun, measured on pidx's own builds (docs/CLI.md
  // "Progress"): finishing shards takes kShardsPerRead times the read phase (for the share
  // built) plus kMsPerShard per segment (its fsyncs); publishing kPublishMs plus
  // kPublishMsPerShard per shard of the manifest.
  static constexpr double kShardsPerRead = 0.5;
  static constexpr double kMsPerShard = 2.0;
  static constexpr double kPublishMs = 20.0;
  static constexpr double kPublishMsPerShard = 0.1;

 private:
  bool Has(ProgressPhase p) const;
  void Enter(ProgressPhase p);  // REQUIRES: mu_ held
  Progress EstimateLocked(int64_t now) const;
  void ReportLocked(bool force);

  ProgressOptions options_;
  std::vector<ProgressPhase> phases_;
  std::function<int64_t()> clock_;
  mutable std::mutex mu_;
  Progress p_;
  double built_share_ = 1.0;
  int64_t start_ = 0;
  int64_t phase_start_ = 0;
  int64_t last_report_ = 0;
  bool reported_ = false;
  uint64_t shards_seen_ = 0;
  uint64_t docs_total_ = 0;
  uint64_t docs_done_ = 0;
  PhaseTimes times_;
};

}  // namespace pidx
