#include "pidx/ops/progress.h"

#include <algorithm>
#include <cmath>

#include "pidx/base/duration.h"

namespace pidx {
namespace {

// The prior gives way to the measured rate as the phase advances (all measured from a third
// of the way on): early on one fast or slow shard says little.
double Blend(double prior, double measured, double done) {
  const double w = std::min(1.0, 3 * done);
  return (1 - w) * prior + w * measured;
}

}  // namespace

const char* ProgressPhaseName(ProgressPhase phase) {
  switch (phase) {
    case ProgressPhase::kRead:
      return "read";
    case ProgressPhase::kShards:
      return "shards";
    case ProgressPhase::kPublish:
      return "publish";
    case ProgressPhase::kDone:
      return "done";
  }
  return "read";
}

ProgressMeter::ProgressMeter(ProgressOptions options, std::vector<ProgressPhase> phases,
                             std::function<int64_t()> clock)
    : options_(std::move(options)),
      phases_(std::move(phases)),
      clock_(clock ? std::move(clock) : std::function<int64_t()>(MonotonicMs)) {
  start_ = phase_start_ = last_report_ = clock_();
}

bool ProgressMeter::Has(ProgressPhase p) const {
  return std::find(phases_.begin(), phases_.end(), p) != phases_.end();
}

void ProgressMeter::SetBuiltShare(double share) {
  std::lock_guard<std::mutex> lock(mu_);
  built_share_ = std::clamp(share, 0.0, 1.0);
}

void ProgressMeter::Enter(ProgressPhase p) {
  const int64_t now = clock_();
  const int64_t spent = now - phase_start_;
  switch (p_.phase) {
    case ProgressPhase::kRead:
      times_.read_ms += spent;
      break;
    case ProgressPhase::kShards:
      times_.shards_ms += spent;
      break;
    case ProgressPhase::kPublish:
      times_.publish_ms += spent;
      break;
    case ProgressPhase::kDone:
      break;
  }
  p_.phase = p;
  phase_start_ = now;
}

void ProgressMeter::Read(uint64_t products, uint64_t bytes, uint64_t total_bytes, uint64_t shards) {
  std::lock_guard<std::mutex> lock(mu_);
  shards_seen_ = shards;
  p_.products = products;
  p_.bytes = bytes;
  p_.total_bytes = total_bytes;
  ReportLocked(false);
}

void ProgressMeter::StartShards(uint64_t shards, uint64_t docs) {
  std::lock_guard<std::mutex> lock(mu_);
  Enter(ProgressPhase::kShards);
  p_.shards_total = shards;
  docs_total_ = docs;
  ReportLocked(false);
}

void ProgressMeter::ShardDone(uint64_t docs, int64_t encode_ms, int64_t write_ms,
                              int64_t check_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  ++p_.shards_done;
  docs_done_ += docs;
  times_.encode_ms += encode_ms;
  times_.write_ms += write_ms;
  times_.check_ms += check_ms;
  ReportLocked(false);
}

void ProgressMeter::StartPublish() {
  std::lock_guard<std::mutex> lock(mu_);
  Enter(ProgressPhase::kPublish);
  ReportLocked(false);
}

void ProgressMeter::Done() {
  std::lock_guard<std::mutex> lock(mu_);
  if (p_.phase == ProgressPhase::kDone) return;
  Enter(ProgressPhase::kDone);
  ReportLocked(true);
}

PhaseTimes ProgressMeter::times() const {
  std::lock_guard<std::mutex> lock(mu_);
  return times_;
}

Progress ProgressMeter::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return EstimateLocked(clock_());
}

Progress ProgressMeter::EstimateLocked(int64_t now) const {
  Progress p = p_;
  p.elapsed_ms = now - start_;
  if (p.phase == ProgressPhase::kDone) {
    p.fraction = 1.0;
    p.eta_ms = 0;
    return p;
  }
  const double in_phase = static_cast<double>(now - phase_start_);
  const double shards = static_cast<double>(p.shards_total > 0 ? p.shards_total : shards_seen_);
  // The shard phase before it starts: from the read phase's time and the shards seen.
  auto shards_prior = [&](double read_ms) {
    if (!Has(ProgressPhase::kShards)) return 0.0;
    return kShardsPerRead * read_ms * built_share_ + kMsPerShard * shards;
  };
  auto publish_estimate = [&] {
    if (!Has(ProgressPhase::kPublish)) return 0.0;
    return kPublishMs + kPublishMsPerShard * shards;
  };
  double remaining = -1;  // unknown
  switch (p.phase) {
    case ProgressPhase::kRead: {
      if (p.total_bytes == 0 || p.bytes == 0) break;
      const double f =
          std::min(1.0, static_cast<double>(p.bytes) / static_cast<double>(p.total_bytes));
      const double read_total = in_phase / f;
      remaining = (read_total - in_phase) + shards_prior(read_total) + publish_estimate();
      break;
    }
    case ProgressPhase::kShards: {
      // The prior gives way to the measured rate as shards finish. Done counts docs (the
      // encoding) and shards (the fsyncs) alike.
      const double prior = std::max(in_phase, shards_prior(static_cast<double>(times_.read_ms)));
      double done = 0;
      if (p.shards_total > 0) {
        done = static_cast<double>(p.shards_done) / static_cast<double>(p.shards_total);
        if (docs_total_ > 0) {
          done =
              0.5 * done + 0.5 * static_cast<double>(docs_done_) / static_cast<double>(docs_total_);
        }
      }
      const double estimate = done > 0 ? Blend(prior, in_phase / done, done) : prior;
      remaining = std::max(0.0, estimate - in_phase) + publish_estimate();
      break;
    }
    case ProgressPhase::kPublish: {
      const double estimate = publish_estimate();
      // Past its estimate (a lock held by another publisher) nothing says how long is left.
      if (in_phase < estimate) remaining = estimate - in_phase;
      break;
    }
    case ProgressPhase::kDone:
      break;
  }
  if (remaining >= 0) {
    p.eta_ms = std::llround(remaining);
    const double elapsed = static_cast<double>(p.elapsed_ms);
    const double total = elapsed + remaining;
    // 100% means over: until Done, at most 99.9%.
    p.fraction = total > 0 ? std::min(0.999, elapsed / total) : 0.0;
  } else if (p.phase == ProgressPhase::kPublish) {
    p.fraction = 0.999;
  }
  return p;
}

void ProgressMeter::ReportLocked(bool force) {
  if (!options_.report) return;
  const int64_t now = clock_();
  if (!force && reported_ && now - last_report_ < options_.interval_ms) return;
  if (!force && !reported_ && now - start_ < options_.interval_ms) return;
  reported_ = true;
  last_report_ = now;
  options_.report(EstimateLocked(now));
}

}  // namespace pidx
