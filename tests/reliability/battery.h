// Shared pieces of the in-process reliability battery (issue 8): small catalogs, the three
// writing commands as scenarios over a prepared index, and the checks every test repeats.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "pidx/obs/log.h"
#include "pidx/ops/build.h"
#include "pidx/ops/gc.h"
#include "pidx/ops/rebuild.h"
#include "pidx/ops/verify.h"
#include "pidx/snapshot/snapshot_store.h"
#include "support/index_files.h"
#include "support/temp_dir.h"

namespace pidx::testing::battery {

namespace fs = std::filesystem;

inline void QuietLogs() {
  LogConfig quiet;
  quiet.level = LogLevel::kError;
  quiet.format = LogFormat::kJson;
  quiet.quiet = true;
  Log::Init(quiet);
}

// Two categories; `suffix` changes every title, so every shard's segment changes with it.
inline std::string Catalog(const std::string& suffix, int n = 40) {
  std::string s;
  const char* cats[] = {"Books", "Toys"};
  for (int i = 0; i < n; ++i) {
    s += "{\"id\":\"P" + std::to_string(i) + "\",\"category\":\"" + cats[i % 2] +
         "\",\"title\":\"item " + std::to_string(i) + " " + suffix + " blue\"}\n";
  }
  return s;
}

inline BuildOptions BuildOpts(const std::string& catalog, const std::string& index) {
  BuildOptions o;
  o.catalogs = {catalog};
  o.index_dir = index;
  o.shards_per_category = 2;
  o.threads = 1;  // one thread: the same operations in the same order on every run
  o.lock_timeout_ms = 0;
  return o;
}

// A pid that belonged to a process that has exited (and was reaped).
inline pid_t DeadPid() {
  static pid_t dead = [] {
    pid_t p = fork();
    if (p == 0) _exit(0);
    int st = 0;
    waitpid(p, &st, 0);
    return p;
  }();
  return dead;
}

// In real life the crashed writer is another process, gone by the time the next one sweeps.
// Here it is this process: hand its temporaries to a dead pid so the next writer may sweep.
inline void AdoptTemporariesAsDead(const std::string& dir) {
  const std::string mine = ".tmp-" + std::to_string(getpid()) + "-";
  const std::string dead = ".tmp-" + std::to_string(DeadPid()) + "-";
  for (const auto& path : TempFilesIn(dir)) {
    fs::path p(path);
    std::string name = p.filename().string();
    if (name.rfind(mine, 0) == 0)
      fs::rename(p, p.parent_path() / (dead + name.substr(mine.size())));
  }
}

// All findings of `verify --all-versions`, as text ("" when clean). An error is a finding.
inline std::string VerifyAll(const std::string& index) {
  VerifyOptions v;
  v.index_dir = index;
  v.all_versions = true;
  v.threads = 1;
  auto r = Verify(v, Env::Default());
  if (!r.ok()) return "verify failed: " + r.status().ToString();
  std::string out;
  for (const auto& f : r->findings)
    out += f.kind + " " + f.version + " " + f.shard + ": " + f.detail + "\n";
  return out;
}

// The version CURRENT names; -1 when it is unreadable or damaged.
inline int64_t CurrentVersion(const std::string& index) {
  auto store = snapshot::SnapshotStore::Open(Env::Default(), index, false);
  if (!store.ok()) return -1;
  auto v = store->ReadCurrent();
  return v.ok() ? static_cast<int64_t>(*v) : -1;
}

inline std::string Slurp(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return "<missing>";
  return ReadFile(path);
}

// One writing command over a prepared index (`base`, copied afresh for each run).
struct Scenario {
  std::string name;
  std::string base;     // the index before the command
  int64_t old_version;  // CURRENT before
  int64_t new_version;  // CURRENT after a successful run (== old_version for gc)
  std::function<Status(const std::string& index, Env* env)> run;
};

// Prepares the three scenarios of the battery in `dir`: a build over an index with one
// version, a rebuild-shard of books_000, and a gc --keep 1 of an index with three versions.
inline std::vector<Scenario> Scenarios(const TempDir& dir) {
  QuietLogs();
  std::vector<Scenario> out;
  const std::string c1 = dir.Write("c1.jsonl", Catalog("one"));
  const std::string c2 = dir.Write("c2.jsonl", Catalog("two"));
  const std::string c3 = dir.Write("c3.jsonl", Catalog("three"));
  const std::string one = dir.File("base-one");
  REQUIRE(Build(BuildOpts(c1, one), Env::Default()).ok());
  out.push_back({"build", one, 1, 2, [c2](const std::string& index, Env* env) {
                   return Build(BuildOpts(c2, index), env).status();
                 }});
  out.push_back({"rebuild-shard", one, 1, 2, [c2](const std::string& index, Env* env) {
                   RebuildOptions o;
                   o.shard = "books_000";
                   o.catalogs = {c2};
                   o.index_dir = index;
                   o.lock_timeout_ms = 0;
                   o.threads = 1;
                   return RebuildShard(o, env).status();
                 }});
  const std::string three = dir.File("base-three");
  for (const auto& c : {c1, c2, c3}) REQUIRE(Build(BuildOpts(c, three), Env::Default()).ok());
  out.push_back({"gc", three, 3, 3, [](const std::string& index, Env* env) {
                   GcOptions o;
                   o.index_dir = index;
                   o.keep = 1;
                   o.grace_ms = 0;  // the old segments go too
                   o.lock_timeout_ms = 0;
                   return Gc(o, env).status();
                 }});
  return out;
}

inline std::string Fresh(const TempDir& dir, const Scenario& s, const std::string& tag) {
  std::string d = dir.File("run-" + s.name + "-" + tag);
  fs::remove_all(d);
  fs::copy(s.base, d, fs::copy_options::recursive);
  return d;
}

}  // namespace pidx::testing::battery
