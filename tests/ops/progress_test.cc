// The progress estimate of a whole run (pidx/ops/progress.h), on a fake clock.
#include "pidx/ops/progress.h"

#include <catch2/catch.hpp>

using pidx::Progress;
using pidx::ProgressMeter;
using pidx::ProgressOptions;
using pidx::ProgressPhase;

namespace {

const std::vector<ProgressPhase> kBuild = {ProgressPhase::kRead, ProgressPhase::kShards,
                                           ProgressPhase::kPublish};

struct Fake {
  int64_t now = 1000;
  std::vector<Progress> reports;
  ProgressOptions Options(int64_t interval_ms) {
    ProgressOptions o;
    o.interval_ms = interval_ms;
    o.report = [this](const Progress& p) { reports.push_back(p); };
    return o;
  }
  std::function<int64_t()> Clock() {
    return [this] { return now; };
  }
};

}  // namespace

TEST_CASE(
    "at the end of reading the estimate is not 100%: finishing shards and publishing remain") {
  Fake f;
  ProgressMeter m(f.Options(0), kBuild, f.Clock());
  f.now += 1100;  // the build: 1.1 s of reading
  m.Read(60000, 100, 100, 461);
  const Progress p = m.Snapshot();
  CHECK(p.phase == ProgressPhase::kRead);
  CHECK(p.fraction < 0.9);
  // 0.5 x 1.1 s + 2 ms x 461 shards + publishing: about 1.5 s left.
  CHECK(p.eta_ms > 1000);
  CHECK(p.eta_ms < 2500);
}

TEST_CASE("a run that follows the cost model gets an ETA close to the truth in every phase") {
  Fake f;
  ProgressMeter m(f.Options(0), kBuild, f.Clock());
  const int64_t read_ms = 2000, shards = 100;
  // The model: shards 0.5 x read + 2 ms per shard = 1200 ms; publish 20 + 0.1 x 100 = 30 ms.
  const int64_t total = read_ms + 1200 + 30;
  for (int i = 1; i <= 4; ++i) {
    f.now += read_ms / 4;
    m.Read(static_cast<uint64_t>(i) * 1000, static_cast<uint64_t>(i) * 25, 100, shards);
    const Progress p = m.Snapshot();
    const int64_t truth = total - p.elapsed_ms;
    INFO("read step " << i << " eta " << p.eta_ms << " truth " << truth);
    CHECK(std::abs(p.eta_ms - truth) <= truth / 10 + 5);
  }
  m.StartShards(shards, 4000);
  for (int i = 1; i <= 100; ++i) {
    f.now += 12;
    m.ShardDone(40, 2, 9, 1);
    const Progress p = m.Snapshot();
    const int64_t truth = total - p.elapsed_ms;
    INFO("shard " << i << " eta " << p.eta_ms << " truth " << truth);
    CHECK(std::abs(p.eta_ms - truth) <= truth / 5 + 10);
    CHECK(p.fraction < 1.0);
  }
  m.StartPublish();
  f.now += 30;
  m.Done();
  const auto t = m.times();
  CHECK(t.read_ms == read_ms);
  CHECK(t.shards_ms == 1200);
  CHECK(t.publish_ms == 30);
  CHECK(t.encode_ms == 200);
  CHECK(t.write_ms == 900);
  CHECK(t.check_ms == 100);
  REQUIRE(!f.reports.empty());
  CHECK(f.reports.back().phase == ProgressPhase::kDone);
  CHECK(f.reports.back().fraction == 1.0);
  CHECK(f.reports.back().eta_ms == 0);
}

TEST_CASE("100% is reported only by Done, also when a phase overruns its estimate") {
  Fake f;
  ProgressMeter m(f.Options(0), kBuild, f.Clock());
  f.now += 10;
  m.Read(10, 100, 100, 1);
  m.StartShards(1, 10);
  f.now += 10;
  m.ShardDone(10, 1, 1, 1);
  m.StartPublish();
  f.now += 60000;  // a publish lock held by someone else for a minute
  const Progress p = m.Snapshot();
  CHECK(p.fraction < 1.0);
  CHECK(p.eta_ms == -1);  // nothing says how long is left
  for (const auto& r : f.reports) CHECK(r.fraction < 1.0);
  m.Done();
  CHECK(m.Snapshot().fraction == 1.0);
}

TEST_CASE("a catalog of unknown size has no percentage and no ETA while it is read") {
  Fake f;
  ProgressMeter m(f.Options(0), kBuild, f.Clock());
  f.now += 500;
  m.Read(1000, 123456, 0, 3);
  const Progress p = m.Snapshot();
  CHECK(p.fraction == -1);
  CHECK(p.eta_ms == -1);
  CHECK(p.bytes == 123456);
  CHECK(p.elapsed_ms == 500);
}

TEST_CASE("reports come at most once per interval, and the end always") {
  Fake f;
  ProgressMeter m(f.Options(5000), kBuild, f.Clock());
  for (int i = 1; i <= 100; ++i) {
    f.now += 100;  // 10 s of reading, reported every 200 ms
    m.Read(static_cast<uint64_t>(i), static_cast<uint64_t>(i), 100, 1);
  }
  CHECK(f.reports.size() == 2);  // at 5 s and 10 s
  m.StartShards(1, 1);
  m.ShardDone(1, 0, 0, 0);
  m.StartPublish();
  m.Done();
  CHECK(f.reports.size() == 3);
  CHECK(f.reports.back().phase == ProgressPhase::kDone);
}

TEST_CASE("a plan has no shard phase: its estimate is reading and writing the plan") {
  Fake f;
  ProgressMeter m(f.Options(0), {ProgressPhase::kRead, ProgressPhase::kPublish}, f.Clock());
  f.now += 1000;
  m.Read(1000, 50, 100, 400);
  const Progress p = m.Snapshot();
  // 1 s more of reading and the plan's write; no 2 ms x 400 segments.
  CHECK(p.eta_ms >= 1000);
  CHECK(p.eta_ms < 1100);
}
