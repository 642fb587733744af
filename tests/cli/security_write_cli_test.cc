// End-to-end: untrusted on-disk state, the writing side (issue 14, docs/SECURITY.md). An
// attacker with write access to the index or to a shared directory plants symlinks, FIFOs and
// look-alike names; pidx must never write, create or delete anything outside the index
// because of them, and must refuse loudly where it cannot go on.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "pidx/base/checksum.h"
#include "pidx/snapshot/snapshot_store.h"
#include "support/index_files.h"
#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::GenCatalog;
using pidx::testing::Pidx;
using pidx::testing::PidxBin;
using pidx::testing::ReadFile;
using pidx::testing::RunResult;
using pidx::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// Every regular file under `dir` with its content: what "nothing outside changed" compares.
std::map<std::string, std::string> Contents(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[e.path().string()] = ReadFile(e.path().string());
  }
  return out;
}

// pidx started behind a gate: the child exists (so its pid is known) but execs pidx only once
// Open() is called. Lets a test plant names derived from the pid the process will have.
class GatedPidx {
 public:
  GatedPidx(const TempDir& dir, std::vector<std::string> args)
      : out_(dir.File("gated.out")), err_(dir.File("gated.err")) {
    args.push_back("--log-format");
    args.push_back("json");
    std::vector<std::string> argv_s = {PidxBin()};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    int gate[2];
    REQUIRE(pipe(gate) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      close(gate[1]);
      int out = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      dup2(err, 2);
      char c;
      if (read(gate[0], &c, 1) != 1) _exit(126);
      close(gate[0]);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(gate[0]);
    gate_ = gate[1];
  }
  pid_t pid() const { return pid_; }
  RunResult Open() {
    REQUIRE(write(gate_, "g", 1) == 1);
    close(gate_);
    RunResult r;
    r.exit_code = pidx::testing::Wait(pid_);
    r.out = ReadFile(out_);
    r.err = ReadFile(err_);
    return r;
  }

 private:
  std::string out_, err_;
  pid_t pid_ = -1;
  int gate_ = -1;
};

// Symlinks under every name the old, predictable temporaries of `pid` could take:
// ".tmp-<pid>-<n>-<final name>" for n below 64.
void PlantPredictableTemps(const std::string& dir, pid_t pid, const std::string& final_name,
                           const std::string& target) {
  for (int n = 0; n < 64; ++n) {
    fs::create_symlink(
        target, dir + "/.tmp-" + std::to_string(pid) + "-" + std::to_string(n) + "-" + final_name);
  }
}

std::string BuildIndex(const TempDir& dir, int products = 300) {
  auto catalog = GenCatalog(dir.File("c.jsonl"), products, 7);
  const std::string index = dir.File("idx");
  RunResult r = Pidx({"build", "--catalog", catalog, "--index", index});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return index;
}

// A child process holding an exclusive flock on `path` until killed: a live writer (as a
// build in another PID namespace looks from here: its pid means nothing to us).
pid_t HoldFlock(const std::string& path) {
  int p[2];
  REQUIRE(pipe(p) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    char c = (fd >= 0 && flock(fd, LOCK_EX) == 0) ? 'y' : 'n';
    (void)!write(p[1], &c, 1);
    for (;;) pause();
  }
  close(p[1]);
  char c = 0;
  REQUIRE(read(p[0], &c, 1) == 1);
  close(p[0]);
  REQUIRE(c == 'y');
  return pid;
}

void Kill(pid_t pid) {
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
}

}  // namespace

TEST_CASE("build with symlinks planted for its temporaries changes nothing outside the index") {
  TempDir dir;
  const std::string index = BuildIndex(dir);
  const std::string outside = dir.File("outside");
  dir.Write("outside/precious", "another user's file\n");
  const auto before = Contents(outside);
  auto catalog = GenCatalog(dir.File("c2.jsonl"), 1500, 8);

  GatedPidx build(dir, {"build", "--catalog", catalog, "--index", index, "--memory-budget", "256K",
                        "--allow-shrink"});
  const std::string target = outside + "/precious";
  PlantPredictableTemps(index, build.pid(), "CURRENT", target);
  PlantPredictableTemps(index + "/versions", build.pid(), "v000002.manifest", target);
  for (int k = 0; k < 8; ++k) {
    PlantPredictableTemps(index, build.pid(), "spill-" + std::to_string(k) + ".run", target);
  }
  RunResult r = build.Open();
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(Contents(outside) == before);
  CHECK(fs::is_regular_file(fs::symlink_status(index + "/CURRENT")));
  RunResult v = Pidx({"verify", "--index", index});
  INFO(v.err);
  CHECK(v.exit_code == 0);
}

TEST_CASE("a metrics file in a shared 1777 directory never writes through a planted symlink") {
  TempDir dir;
  const std::string index = BuildIndex(dir);
  const std::string shared = dir.File("textfile");
  fs::create_directory(shared);
  REQUIRE(chmod(shared.c_str(), 01777) == 0);
  dir.Write("victim/private", "secret\n");
  const std::string victim = dir.File("victim/private");
  // At the final name, and under every predictable name of the temporary.
  fs::create_symlink(victim, shared + "/pidx.prom");
  GatedPidx verify(dir, {"verify", "--index", index, "--metrics-file", shared + "/pidx.prom"});
  PlantPredictableTemps(shared, verify.pid(), "pidx.prom.partial", victim);
  PlantPredictableTemps(shared, verify.pid(), "pidx.prom", victim);
  RunResult r = verify.Open();
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(ReadFile(victim) == "secret\n");
  // The rename replaced the symlink itself with the metrics file.
  CHECK(fs::is_regular_file(fs::symlink_status(shared + "/pidx.prom")));
  CHECK(ReadFile(shared + "/pidx.prom").find("# TYPE ") != std::string::npos);
}

TEST_CASE("gc through a symlinked segments/ removes only pidx's names there") {
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 300, 7);
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  auto c2 = GenCatalog(dir.File("c2.jsonl"), 300, 9);
  REQUIRE(Pidx({"build", "--catalog", c2, "--index", index, "--allow-shrink"}).exit_code == 0);
  // segments/ moved to "another disk" and linked back, as an operator may do on purpose.
  const std::string disk = dir.File("disk/segments");
  fs::create_directories(dir.File("disk"));
  fs::rename(index + "/segments", disk);
  fs::create_symlink(disk, index + "/segments");
  // Files that are not pidx's, in the linked directory.
  dir.Write("disk/segments/user-backup.seg", "backup");
  dir.Write("disk/segments/.tmp-999999-0-notes", "notes");
  dir.Write("disk/segments/README", "readme");
  dir.Write("disk/segments/Books_000-0123456789abcdef.seg", "not a shard name");

  RunResult r = Pidx({"gc", "--index", index, "--keep", "1", "--grace", "0", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(ReadFile(disk + "/user-backup.seg") == "backup");
  CHECK(ReadFile(disk + "/.tmp-999999-0-notes") == "notes");
  CHECK(ReadFile(disk + "/README") == "readme");
  CHECK(fs::exists(disk + "/Books_000-0123456789abcdef.seg"));
  // v1's own segments did go: the symlinked layout is supported, only pidx's names count.
  auto j = nlohmann::json::parse(r.out);
  int segments = 0;
  for (const auto& x : j["removed"]) segments += x["kind"] == "segment";
  CHECK(segments > 0);
  RunResult v = Pidx({"verify", "--index", index});
  INFO(v.err);
  CHECK(v.exit_code == 0);
}

TEST_CASE("gc leaves a temporary whose writer holds its lock whatever pid its name carries") {
  TempDir dir;
  const std::string index = BuildIndex(dir);
  // A live build's spill file as seen from another PID namespace: its pid does not exist here.
  const std::string spill = dir.Write("idx/.tmp-4194303-0123456789abcdef-spill-0.run", "run");
  const std::string seg_tmp =
      dir.Write("idx/segments/.tmp-4194303-fedcba9876543210-x_000-0123456789abcdef.seg", "seg");
  pid_t a = HoldFlock(spill);
  pid_t b = HoldFlock(seg_tmp);
  RunResult r = Pidx({"gc", "--index", index, "--keep", "1", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(ReadFile(spill) == "run");
  CHECK(ReadFile(seg_tmp) == "seg");
  // Once the writer is gone its temporaries are garbage and go.
  Kill(a);
  Kill(b);
  RunResult after = Pidx({"gc", "--index", index, "--keep", "1", "--json"});
  INFO(after.err);
  REQUIRE(after.exit_code == 0);
  CHECK(!fs::exists(spill));
  CHECK(!fs::exists(seg_tmp));
  auto j = nlohmann::json::parse(after.out);
  int temps = 0;
  for (const auto& x : j["removed"]) temps += x["kind"] == "temporary";
  CHECK(temps == 2);
}

TEST_CASE("build after the highest readable version refuses loudly and publishes nothing") {
  TempDir dir;
  const std::string index = BuildIndex(dir);
  // The last version pidx can read, with its checksums right, as an attacker or a long life
  // could leave it.
  auto store = *pidx::snapshot::SnapshotStore::Open(pidx::Env::Default(), index, false);
  auto m = *store.LoadManifest(1);
  m.version = pidx::snapshot::kMaxVersion;
  REQUIRE(pidx::WriteFileDurably(pidx::Env::Default(), store.ManifestPath(m.version), m.Serialize())
              .ok());
  REQUIRE(store.SetCurrent(m.version).ok());
  const auto before = Contents(index + "/versions");
  const std::string current = ReadFile(index + "/CURRENT");

  auto catalog = GenCatalog(dir.File("c2.jsonl"), 300, 8);
  RunResult r = Pidx({"build", "--catalog", catalog, "--index", index, "--allow-shrink"});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  auto failed = r.Events("index.build.failed");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["error"].get<std::string>().find("v999999999999999999") != std::string::npos);
  CHECK(ReadFile(index + "/CURRENT") == current);
  CHECK(Contents(index + "/versions") == before);
  // The index stays usable.
  CHECK(Pidx({"stats", "--index", index}).exit_code == 0);
}

TEST_CASE("a dangling symlink as a lock file: gc refuses and creates nothing outside") {
  TempDir dir;
  const std::string index = BuildIndex(dir);
  fs::create_directories(dir.File("outside"));
  const std::string planted = dir.File("outside/created-by-pidx");
  fs::remove(index + "/locks/publish.lock");
  fs::create_symlink(planted, index + "/locks/publish.lock");
  RunResult r = Pidx({"gc", "--index", index, "--keep", "1"});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  auto failed = r.Events("index.gc.failed");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["error"].get<std::string>().find("publish.lock") != std::string::npos);
  CHECK(failed[0]["error"].get<std::string>().find("symlink") != std::string::npos);
  CHECK(!fs::exists(planted));
  CHECK(fs::is_empty(dir.File("outside")));
}

TEST_CASE("publish of a fragment naming a segment outside the index creates nothing there") {
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 200, 5);
  const std::string plan = dir.File("plan.json");
  const std::string stage = dir.File("w/stage");
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"plan", "--catalog", catalog, "--index", index, "--workers", "1", "--out", plan})
              .exit_code == 0);
  RunResult w = Pidx({"build", "--plan", plan, "--worker", "0", "--stage", stage});
  INFO(w.err);
  REQUIRE(w.exit_code == 0);
  // The worker's fragment rewritten so that one entry climbs out of segments/, with its
  // checksum recomputed as an attacker can, and a valid segment placed where the stage
  // check looks for it (w/stage/segments/../../OUT = w/OUT). In the index the same name
  // leads to dir/OUT, outside the index.
  const std::string fragment = stage + "/workers/worker-00000.manifest";
  auto m = *pidx::snapshot::Manifest::Parse(ReadFile(fragment), fragment);
  REQUIRE(!m.shards.empty());
  const std::string real = stage + "/segments/" + m.shards[0].segment;
  m.shards[0].segment = "../../OUT/evil.seg";
  fs::create_directories(dir.File("w/OUT"));
  fs::create_directories(dir.File("OUT"));  // the attacker's target directory exists
  fs::copy_file(real, dir.File("w/OUT/evil.seg"));
  REQUIRE(pidx::WriteFileDurably(pidx::Env::Default(), fragment, m.Serialize()).ok());

  RunResult r = Pidx({"publish", "--index", index, "--stage", stage, "--plan", plan});
  INFO(r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.Events("index.publish.failed").size() == 1);
  CHECK(fs::is_empty(dir.File("OUT")));
  CHECK(!fs::exists(index + "/CURRENT"));
}

TEST_CASE("an output path that is a device or a FIFO is refused and left as it is") {
  // Every file pidx writes is a temporary renamed over its name. At a name that is not a
  // regular file, that rename used to replace the node itself: as root, `--metrics-file
  // /dev/null` or `plan --out /dev/full` turned the device into a regular file, exit 0.
  TempDir dir;
  const std::string index = BuildIndex(dir);
  const std::string catalog = dir.File("c.jsonl");
  struct Kind {
    std::string name;
    std::function<bool(const std::string&)> make;  // false: cannot be made here (not root)
    mode_t type;
  };
  const std::vector<Kind> kinds = {
      {"fifo", [](const std::string& p) { return mkfifo(p.c_str(), 0644) == 0; }, S_IFIFO},
      {"char device (as /dev/null)",
       [](const std::string& p) { return mknod(p.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0; },
       S_IFCHR},
      {"symlink to a fifo",
       [&](const std::string& p) {
         const std::string target = p + ".target";
         return mkfifo(target.c_str(), 0644) == 0 && symlink(target.c_str(), p.c_str()) == 0;
       },
       S_IFIFO},
  };
  struct Writer {
    std::string name;
    std::function<std::vector<std::string>(const std::string&)> args;
  };
  const std::vector<Writer> writers = {
      {"verify --metrics-file",
       [&](const std::string& p) {
         return std::vector<std::string>{"verify", "--index", index, "--metrics-file", p};
       }},
      {"build --metrics-file",
       [&](const std::string& p) {
         return std::vector<std::string>{"build", "--catalog",      catalog, "--index",
                                         index,   "--metrics-file", p,       "--force"};
       }},
      {"gc --metrics-file",
       [&](const std::string& p) {
         return std::vector<std::string>{"gc", "--index",        index, "--keep",
                                         "9",  "--metrics-file", p};
       }},
      {"plan --out",
       [&](const std::string& p) {
         return std::vector<std::string>{"plan",      "--catalog", catalog, "--index", index,
                                         "--workers", "2",         "--out", p};
       }},
  };
  int n = 0;
  for (const auto& kind : kinds) {
    for (const auto& w : writers) {
      const std::string path = dir.File("out" + std::to_string(n++));
      if (!kind.make(path)) {
        WARN("cannot make a " << kind.name << " here (" << std::strerror(errno) << "): skipped");
        continue;
      }
      RunResult r = Pidx(w.args(path));
      INFO(w.name << " at a " << kind.name << "\n" << r.err);
      CHECK(r.exit_code == 74);
      CHECK(r.err.find("not a file; refusing to replace it") != std::string::npos);
      struct stat st {};
      REQUIRE(stat(path.c_str(), &st) == 0);
      CHECK((st.st_mode & S_IFMT) == kind.type);
      CHECK(pidx::testing::TempFilesIn(dir.path()).empty());
    }
  }
}

TEST_CASE("an output inside the index is refused before any command runs, in every spelling") {
  TempDir dir;
  auto catalog = GenCatalog(dir.File("c.jsonl"), 300, 5);
  auto index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  fs::create_symlink(index, dir.File("idx-link"));
  fs::create_symlink(index + "/CURRENT", dir.File("current-link"));
  const auto before = Contents(index);
  // Every spelling of a path in the index: plain, through "..", through a symlink to the index
  // or to a file in it, a name that does not exist yet, the index itself.
  const std::vector<std::string> inside = {index + "/CURRENT",
                                           index + "/../idx/CURRENT",
                                           dir.File("idx-link") + "/CURRENT",
                                           dir.File("current-link"),
                                           index + "/new.prom",
                                           index + "/segments/x",
                                           index};
  const std::vector<std::vector<std::string>> commands = {
      {"query", "--index", index, "--count", "x"},
      {"verify", "--index", index},
      {"stats", "--index", index},
      {"gc", "--index", index},
      {"build", "--catalog", catalog, "--index", index, "--force"},
      {"plan", "--catalog", catalog, "--index", index, "--workers", "2"}};
  int cases = 0;
  for (const auto& base : commands) {
    for (const std::string option : {"--metrics-file", "--trace-file", "--out"}) {
      const bool takes = option == "--trace-file" || (option == "--out" && base[0] == "plan") ||
                         (option == "--metrics-file" &&
                          (base[0] == "verify" || base[0] == "gc" || base[0] == "build"));
      if (!takes) continue;
      for (const std::string& path : inside) {
        auto args = base;
        args.push_back(option);
        args.push_back(path);
        if (base[0] == "plan" && option != "--out") {
          args.push_back("--out");
          args.push_back(dir.File("plan.json"));
        }
        args.push_back("--log-format");
        args.push_back("json");
        RunResult r = Pidx(args);
        std::string line;
        for (const auto& a : args) line += a + " ";
        INFO(line << ": " << r.err);
        CHECK(r.exit_code == 64);
        CHECK(r.err.find("lies inside the index") != std::string::npos);
        CHECK(Contents(index) == before);
        ++cases;
      }
    }
  }
  CHECK(cases == 10 * 7);  // 10 (command, option) pairs
  // A neighbour whose name starts like the index is outside it.
  RunResult ok = Pidx({"query", "--index", index, "--count", "x", "--trace-file", index + "x"});
  CHECK(ok.exit_code == 0);
  CHECK(fs::exists(index + "x"));
}
