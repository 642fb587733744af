// Battery item 1, the white-box crash sweep (issue 8): for every file-system operation k of a
// build, a rebuild-shard and a gc, the process "dies" just before k (kFailFrom: k and every
// operation after it fail, cleanup included, so nothing after k reaches the disk). Then:
// CURRENT names the old or the new version, verify --all-versions finds nothing, the next
// writer (after the dead writer's temporaries are handed to a dead pid, as they would be in
// real life) sweeps every temporary, and a fresh build succeeds and verifies.
// Prints "crash_sweep: N/N intact" (grepped by scripts/torture).
#include <cerrno>
#include <iostream>

#include "battery.h"
#include "support/fault_env.h"

using namespace pidx::testing::battery;
using pidx::Status;
using pidx::testing::FaultEnv;
using pidx::testing::TempDir;
using pidx::testing::TempFilesIn;

TEST_CASE("a crash before any operation of build, rebuild-shard or gc leaves a whole index") {
  TempDir dir;
  auto scenarios = Scenarios(dir);
  const std::string c4 = dir.Write("c4.jsonl", Catalog("four"));
  int total = 0, intact = 0;
  for (const auto& s : scenarios) {
    FaultEnv probe;
    std::string p = Fresh(dir, s, "probe");
    REQUIRE(s.run(p, &probe).ok());
    const int ops = probe.operations();
    REQUIRE(ops > 5);
    int old_kept = 0, new_published = 0;
    for (int k = 1; k <= ops; ++k) {
      INFO(s.name << ": crash before operation " << k << " of " << ops);
      std::string index = Fresh(dir, s, "k");
      FaultEnv env;
      env.Arm(FaultEnv::Mode::kFailFrom, k, EIO);
      Status st = s.run(index, &env);
      INFO("first failed: " << env.first_injected());
      ++total;
      bool ok = !st.ok();
      CHECK(!st.ok());
      const int64_t current = CurrentVersion(index);
      CHECK((current == s.old_version || current == s.new_version));
      ok = ok && (current == s.old_version || current == s.new_version);
      if (current == s.old_version) ++old_kept;
      if (current == s.new_version && s.new_version != s.old_version) ++new_published;
      std::string findings = VerifyAll(index);
      CHECK(findings == "");
      ok = ok && findings.empty();
      // The next writer, a new process: the same command again, then a fresh build.
      AdoptTemporariesAsDead(index);
      Status again = s.run(index, pidx::Env::Default());
      CHECK(again.ok());
      auto rebuilt = pidx::Build(BuildOpts(c4, index), pidx::Env::Default());
      CHECK(rebuilt.ok());
      auto left = TempFilesIn(index);
      CHECK(left.empty());
      findings = VerifyAll(index);
      CHECK(findings == "");
      ok = ok && again.ok() && rebuilt.ok() && left.empty() && findings.empty();
      if (ok) ++intact;
    }
    CHECK(old_kept > 0);
    if (s.new_version != s.old_version) CHECK(new_published > 0);
  }
  std::cout << "crash_sweep: " << intact << "/" << total << " intact" << std::endl;
  CHECK(intact == total);
}
