// The publish protocol under injected failures (issue 8, quick tier): for every mutating
// file-system operation k of a build, fail it once (ENOSPC, EIO) or "crash" at it (k and
// everything after fail, cleanup included). Afterwards CURRENT names the old or the new
// version, that version verifies, and a fresh build succeeds.
#include <cerrno>
#include <filesystem>

#include <catch2/catch.hpp>

#include "battery.h"
#include "pidx/obs/log.h"
#include "pidx/ops/build.h"
#include "pidx/ops/verify.h"
#include "support/fault_env.h"
#include "support/index_files.h"
#include "support/temp_dir.h"

using pidx::testing::FaultEnv;
using pidx::testing::ReadFile;
using pidx::testing::TempDir;
using pidx::testing::battery::BuildOpts;
using pidx::testing::battery::Catalog;
namespace fs = std::filesystem;

namespace {

void ExpectVerifies(const std::string& index) {
  pidx::VerifyOptions v;
  v.index_dir = index;
  auto r = pidx::Verify(v, pidx::Env::Default());
  REQUIRE(r.ok());
  for (const auto& f : r->findings) INFO(f.kind << ": " << f.detail);
  CHECK(r->findings.empty());
}

struct Fixture {
  TempDir dir;
  std::string base, v1_current, c2;
  int operations = 0;
  Fixture() {
    pidx::LogConfig quiet;
    quiet.level = pidx::LogLevel::kError;
    quiet.format = pidx::LogFormat::kJson;
    pidx::Log::Init(quiet);
    base = dir.File("base");
    auto c1 = dir.Write("c1.jsonl", Catalog("one"));
    c2 = dir.Write("c2.jsonl", Catalog("two"));
    REQUIRE(pidx::Build(BuildOpts(c1, base), pidx::Env::Default()).ok());
    v1_current = ReadFile(base + "/CURRENT");
    // A clean run counts the operations of the build under test.
    std::string probe = dir.File("probe");
    fs::copy(base, probe, fs::copy_options::recursive);
    FaultEnv env;
    env.Arm(FaultEnv::Mode::kNone, 0, 0);
    REQUIRE(pidx::Build(BuildOpts(c2, probe), &env).ok());
    operations = env.operations();
    REQUIRE(operations > 10);
  }
  std::string Copy(int k) {
    std::string d = dir.File("run-" + std::to_string(k));
    fs::remove_all(d);
    fs::copy(base, d, fs::copy_options::recursive);
    return d;
  }
};

}  // namespace

TEST_CASE("an I/O error at any operation of a build fails it with nothing published") {
  Fixture fx;
  int swept = 0;
  for (int err : {ENOSPC, EIO}) {
    for (int k = 1; k <= fx.operations; ++k) {
      std::string index = fx.Copy(k);
      FaultEnv env;
      env.Arm(FaultEnv::Mode::kFailOnce, k, err);
      auto r = pidx::Build(BuildOpts(fx.c2, index), &env);
      INFO("errno " << err << ", failing operation " << k << " of " << fx.operations);
      REQUIRE(env.injected() == 1);
      REQUIRE(!r.ok());
      CHECK(r.status().kind() == pidx::StatusKind::kIoError);
      if (ReadFile(index + "/CURRENT") != fx.v1_current) {
        // Only a failure after CURRENT's rename (its directory fsync) may leave the new one.
        CHECK(k == fx.operations);
      }
      CHECK(pidx::testing::TempFilesIn(index).empty());
      ++swept;
    }
  }
  CHECK(swept == 2 * fx.operations);
}

TEST_CASE("a crash at any operation of a build leaves the old or the new version, whole") {
  Fixture fx;
  int old_kept = 0, new_published = 0;
  for (int k = 1; k <= fx.operations; ++k) {
    std::string index = fx.Copy(k);
    FaultEnv env;
    env.Arm(FaultEnv::Mode::kFailFrom, k, EIO);
    auto r = pidx::Build(BuildOpts(fx.c2, index), &env);
    INFO("crash at operation " << k << " of " << fx.operations);
    REQUIRE(!r.ok());
    std::string current = ReadFile(index + "/CURRENT");
    if (current == fx.v1_current) {
      ++old_kept;
    } else {
      CHECK(current.rfind("v000002\n", 0) == 0);
      ++new_published;
    }
    ExpectVerifies(index);
    // The next run (a new process in real life) builds and publishes normally.
    auto again = pidx::Build(BuildOpts(fx.c2, index), pidx::Env::Default());
    REQUIRE(again.ok());
    ExpectVerifies(index);
  }
  CHECK(old_kept + new_published == fx.operations);
  CHECK(old_kept > 0);
}
