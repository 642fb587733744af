// Battery item 5, a real ENOSPC (issue 8): the index lives on a 2 MB tmpfs and the catalog
// does not fit. The real binary must exit 74 with exactly one error event, leave CURRENT
// naming the version it named before, and leave no temporary behind. Mounting needs root;
// otherwise (or when the mount fails, e.g. in a container without CAP_SYS_ADMIN) the test is
// skipped with a visible warning.
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <catch2/catch.hpp>

#include "support/run.h"
#include "support/temp_dir.h"

using namespace pidx::testing;
namespace fs = std::filesystem;

namespace {

struct Tmpfs {
  std::string dir;
  bool mounted = false;
  std::string why;
  Tmpfs(const std::string& d, const char* size) : dir(d) {
    fs::create_directories(dir);
    if (geteuid() != 0) {
      why = "not running as root";
      return;
    }
    std::string opts = std::string("size=") + size;
    if (mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      why = std::string("mount tmpfs failed: ") + std::strerror(errno);
      return;
    }
    mounted = true;
  }
  ~Tmpfs() {
    if (mounted) umount2(dir.c_str(), MNT_DETACH);
  }
};

}  // namespace

TEST_CASE("a build that fills the disk exits 74 and publishes nothing", "[reliability]") {
  TempDir tmp;
  Tmpfs fs2m(tmp.File("small"), "2m");
  if (!fs2m.mounted) {
    WARN("SKIPPED the real-ENOSPC test: " << fs2m.why);
    return;
  }
  const std::string index = fs2m.dir + "/idx";
  const std::string small = GenCatalog(tmp.File("small.jsonl"), 50, 1);
  const std::string big = GenCatalog(tmp.File("big.jsonl"), 40000, 2);
  REQUIRE(Pidx({"build", "--catalog", small, "--index", index}).exit_code == 0);
  const std::string before = ReadFile(index + "/CURRENT");

  RunResult r = Pidx({"build", "--catalog", big, "--index", index, "--allow-shrink"});
  INFO(r.err);
  CHECK(r.exit_code == 74);
  int errors = 0;
  for (const auto& e : r.Events()) {
    if (e.value("level", "") == "error") ++errors;
  }
  CHECK(errors == 1);
  CHECK(r.err.find("No space left on device") != std::string::npos);
  CHECK(ReadFile(index + "/CURRENT") == before);
  for (const auto& e : fs::recursive_directory_iterator(index)) {
    CHECK(e.path().filename().string().rfind(".tmp-", 0) != 0);
  }
  // The published version is still whole.
  CHECK(Pidx({"verify", "--index", index}).exit_code == 0);
}
