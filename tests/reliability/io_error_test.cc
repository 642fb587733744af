// Battery item 5, the I/O error sweep (issue 8): every counted operation k of a build, a
// rebuild-shard and a gc (create, write, fsync, close, rename, directory fsync, remove, mkdir,
// and every open for reading) fails with ENOSPC, EIO or EDQUOT, once or from k on. Every time:
// the command returns an I/O error (exit 74), fsync is never retried on a file whose fsync
// failed, CURRENT is unchanged (from k on, the rollback of CURRENT may itself fail, so there
// the new, whole version is also accepted), the index verifies, and no temporary survives the
// run (once) or the next writer's sweep (from k on, when even the cleanup failed).
// Prints "io_errors: N/N exit 74, CURRENT unchanged, no temporaries".
#include <cerrno>
#include <iostream>

#include "battery.h"
#include "pidx/base/exit_code.h"
#include "support/fault_env.h"

using namespace pidx::testing::battery;
using pidx::Status;
using pidx::testing::FaultEnv;
using pidx::testing::TempDir;
using pidx::testing::TempFilesIn;

TEST_CASE(
    "an I/O error at any operation of build, rebuild-shard or gc is reported, not published") {
  TempDir dir;
  auto scenarios = Scenarios(dir);
  int total = 0, good = 0, tolerated = 0;
  for (const auto& s : scenarios) {
    FaultEnv probe;
    probe.set_count_reads(true);
    std::string p = Fresh(dir, s, "probe");
    REQUIRE(s.run(p, &probe).ok());
    const int ops = probe.operations();
    for (int err : {ENOSPC, EIO, EDQUOT}) {
      for (auto mode : {FaultEnv::Mode::kFailOnce, FaultEnv::Mode::kFailFrom}) {
        const bool once = mode == FaultEnv::Mode::kFailOnce;
        for (int k = 1; k <= ops; ++k) {
          std::string index = Fresh(dir, s, "k");
          const std::string before = Slurp(index + "/CURRENT");
          FaultEnv env;
          env.set_count_reads(true);
          env.Arm(mode, k, err);
          Status st = s.run(index, &env);
          INFO(s.name << ": " << std::strerror(err) << (once ? " once at " : " from ")
                      << "operation " << k << " of " << ops << " (" << env.first_injected()
                      << "): " << st.ToString());
          ++total;
          if (st.ok() && once && env.first_injected().rfind("opendir ", 0) == 0) {
            // The sweep of dead writers' temporaries is best effort (a listing it cannot read
            // leaves them to the next sweep); the command itself must have completed.
            CHECK(CurrentVersion(index) == s.new_version);
            CHECK(VerifyAll(index).empty());
            ++tolerated;
            continue;
          }
          bool ok = true;
          auto expect = [&](bool cond, const char* what) {
            if (!cond) {
              ok = false;
              FAIL_CHECK(what);
            }
          };
          expect(env.injected() >= 1, "the fault was reached");
          expect(st.kind() == pidx::StatusKind::kIoError, "an I/O error is returned");
          expect(pidx::ExitCodeFor(st) == 74, "exit code 74");
          expect(env.fsync_retries() == 0, "fsync is never retried");
          const int64_t current = CurrentVersion(index);
          if (once) {
            expect(Slurp(index + "/CURRENT") == before, "CURRENT unchanged");
            expect(TempFilesIn(index).empty(), "no temporaries left");
          } else {
            expect(current == s.old_version || current == s.new_version, "old or new CURRENT");
          }
          expect(VerifyAll(index).empty(), "the index verifies");
          AdoptTemporariesAsDead(index);
          expect(s.run(index, pidx::Env::Default()).ok(), "the next run succeeds");
          expect(TempFilesIn(index).empty(), "no temporaries after the next run");
          if (ok) ++good;
        }
      }
    }
  }
  std::cout << "io_errors: " << good + tolerated << "/" << total
            << " exit 74, CURRENT unchanged, no temporaries (" << tolerated
            << " failed listings of the best-effort temporary sweep: run completed)" << std::endl;
  CHECK(good + tolerated == total);
}
