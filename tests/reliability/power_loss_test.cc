// Battery item 3, simulated power loss (issue 8): the process dies before operation k
// (kFailFrom), then the power goes out. FaultEnv knows what was not durable at that point:
// file data written but not fsynced, and creates/renames/removes whose directory was not
// fsynced after them. Each directory independently keeps or loses its un-synced changes (every
// subset is tried), and un-synced data is dropped or replaced by garbage. Whatever the disk
// holds afterwards must be the old or the new version, never a mix: CURRENT parses and names
// one of them, and verify --all-versions finds nothing.
// Prints "power_loss: N/N old-or-new" (grepped by scripts/torture).
#include <cerrno>
#include <iostream>

#include "battery.h"
#include "support/fault_env.h"

using namespace pidx::testing::battery;
using pidx::Status;
using pidx::testing::FaultEnv;
using pidx::testing::TempDir;

TEST_CASE("a power loss at any point of build, rebuild-shard or gc leaves the old or new version") {
  TempDir dir;
  auto scenarios = Scenarios(dir);
  int total = 0, whole = 0, reverted_something = 0;
  for (const auto& s : scenarios) {
    FaultEnv probe;
    std::string p = Fresh(dir, s, "probe");
    REQUIRE(s.run(p, &probe).ok());
    const int ops = probe.operations();
    // k = ops + 1: the command completed, and then the power went out.
    for (int k = 1; k <= ops + 1; ++k) {
      std::vector<std::string> dirs;
      {
        std::string index = Fresh(dir, s, "dirs");
        FaultEnv env;
        env.Arm(FaultEnv::Mode::kFailFrom, k, EIO);
        (void)s.run(index, &env);
        for (const auto& d : env.UnsyncedDirs()) dirs.push_back(d);
        // The books name directories of the copy "dirs"; map them to the copy of each round.
        for (auto& d : dirs) d = d.substr(index.size());
      }
      const unsigned subsets = 1u << dirs.size();
      for (unsigned mask = 0; mask < subsets; ++mask) {
        for (bool garbage : {false, true}) {
          INFO(s.name << ": power loss before operation " << k << " of " << ops << ", mask " << mask
                      << (garbage ? ", garbage" : ", dropped"));
          std::string index = Fresh(dir, s, "k");
          FaultEnv env;
          env.Arm(FaultEnv::Mode::kFailFrom, k, EIO);
          (void)s.run(index, &env);
          FaultEnv::PowerLoss pl;
          for (size_t i = 0; i < dirs.size(); ++i) {
            if (mask & (1u << i)) pl.revert_dirs.insert(index + dirs[i]);
          }
          pl.garbage = garbage;
          pl.seed = static_cast<uint64_t>(k) * 131 + mask;
          auto changes = env.SimulatePowerLoss(pl);
          std::string what;
          for (const auto& c : changes) what += c + "\n";
          INFO("power loss changed:\n" << what);
          if (!changes.empty()) ++reverted_something;
          ++total;
          const int64_t current = CurrentVersion(index);
          CHECK((current == s.old_version || current == s.new_version));
          std::string findings = VerifyAll(index);
          CHECK(findings == "");
          if ((current == s.old_version || current == s.new_version) && findings.empty()) ++whole;
        }
      }
    }
  }
  std::cout << "power_loss: " << whole << "/" << total << " old-or-new" << std::endl;
  CHECK(whole == total);
  CHECK(reverted_something > 0);  // the books did find something not yet durable
}
