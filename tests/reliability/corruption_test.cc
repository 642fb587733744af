// Battery item 6, corruption (issue 8): damage one file of a small index with two versions
// and run verify --all-versions in-process. Every byte of every file is covered by a checksum
// (segments, manifests, CURRENT), so every damage must be found:
// - 1000 seeded single-byte flips (XOR with a random non-zero byte) over segments, manifests
//   and CURRENT;
// - 200 truncations (to a random shorter length, 0 included), deletions and swapped files.
//   Deleting an older manifest or CURRENT is not damage: gc removes old manifests, and a first
//   build killed before CURRENT leaves exactly that; deletions pick a segment or the current
//   manifest;
// - 100 clean versions as a control: zero false positives.
// One pristine index is built once; each case damages a working copy and restores the touched
// files afterwards (cheap enough for the ASan/UBSan pass, where it also proves "no crash").
// Prints "corruption: 1000/1000 flips detected, 200/200 truncations, deletions and swaps
// detected, 0/100 false positives".
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>

#include "battery.h"

using namespace pidx::testing::battery;
using pidx::testing::TempDir;

namespace {

struct Files {
  std::vector<std::string> segments, manifests;  // relative to the index
  std::string current_manifest;
};

Files List(const std::string& index, int64_t current) {
  Files f;
  for (const auto& e : fs::directory_iterator(index + "/segments")) {
    f.segments.push_back("segments/" + e.path().filename().string());
  }
  for (const auto& e : fs::directory_iterator(index + "/versions")) {
    f.manifests.push_back("versions/" + e.path().filename().string());
  }
  std::sort(f.segments.begin(), f.segments.end());
  std::sort(f.manifests.begin(), f.manifests.end());
  char name[32];
  std::snprintf(name, sizeof name, "versions/v%06lld.manifest", static_cast<long long>(current));
  f.current_manifest = name;
  return f;
}

std::string ReadBytes(const std::string& path) { return pidx::testing::ReadFile(path); }

void WriteBytes(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// Copies the touched files back from the pristine index (and removes ones it lacks).
void Restore(const std::string& pristine, const std::string& work,
             const std::vector<std::string>& touched) {
  for (const auto& rel : touched) {
    fs::remove(work + "/" + rel);
    if (fs::exists(pristine + "/" + rel)) fs::copy_file(pristine + "/" + rel, work + "/" + rel);
  }
}

bool Detected(const std::string& index) { return !VerifyAll(index).empty(); }

}  // namespace

TEST_CASE("verify finds every flipped byte, truncation, deletion and swap, and nothing else") {
  TempDir dir;
  QuietLogs();
  const std::string pristine = dir.File("pristine");
  const std::string c1 = dir.Write("c1.jsonl", Catalog("one"));
  const std::string c2 = dir.Write("c2.jsonl", Catalog("two"));
  REQUIRE(pidx::Build(BuildOpts(c1, pristine), pidx::Env::Default()).ok());
  {
    pidx::RebuildOptions o;
    o.shard = "books_000";
    o.catalogs = {c2};
    o.index_dir = pristine;
    o.threads = 1;
    REQUIRE(pidx::RebuildShard(o, pidx::Env::Default()).ok());
  }
  REQUIRE(VerifyAll(pristine).empty());
  const Files files = List(pristine, CurrentVersion(pristine));
  REQUIRE(files.segments.size() == 5);
  REQUIRE(files.manifests.size() == 2);
  const std::string work = dir.File("work");
  fs::copy(pristine, work, fs::copy_options::recursive);

  std::mt19937_64 rng(20260426);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  std::vector<std::string> missed;

  // 1000 flips: a third each over segments, manifests and CURRENT.
  int flips = 0, flips_found = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string rel = i % 3 == 0   ? pick(files.segments)
                            : i % 3 == 1 ? pick(files.manifests)
                                         : std::string("CURRENT");
    std::string bytes = ReadBytes(pristine + "/" + rel);
    const size_t at = rng() % bytes.size();
    const auto mask = static_cast<char>(1 + rng() % 255);
    bytes[at] = static_cast<char>(bytes[at] ^ mask);
    WriteBytes(work + "/" + rel, bytes);
    ++flips;
    if (Detected(work)) {
      ++flips_found;
    } else {
      missed.push_back("flip " + rel + " byte " + std::to_string(at));
    }
    Restore(pristine, work, {rel});
  }

  // 200 truncations, deletions and swaps.
  int damages = 0, damages_found = 0;
  std::vector<std::string> all = files.segments;
  all.insert(all.end(), files.manifests.begin(), files.manifests.end());
  all.push_back("CURRENT");
  for (int i = 0; i < 200; ++i) {
    std::vector<std::string> touched;
    std::string what;
    if (i % 3 == 0) {
      const std::string rel = pick(all);
      std::string bytes = ReadBytes(pristine + "/" + rel);
      const size_t len = rng() % bytes.size();
      WriteBytes(work + "/" + rel, bytes.substr(0, len));
      touched = {rel};
      what = "truncate " + rel + " to " + std::to_string(len);
    } else if (i % 3 == 1) {
      std::vector<std::string> deletable = files.segments;
      deletable.push_back(files.current_manifest);
      const std::string rel = pick(deletable);
      fs::remove(work + "/" + rel);
      touched = {rel};
      what = "delete " + rel;
    } else {
      // Two different files of any kinds exchange their contents.
      std::string a = pick(all), b = pick(all);
      while (b == a) b = pick(all);
      WriteBytes(work + "/" + a, ReadBytes(pristine + "/" + b));
      WriteBytes(work + "/" + b, ReadBytes(pristine + "/" + a));
      touched = {a, b};
      what = "swap " + a + " and " + b;
    }
    ++damages;
    if (Detected(work)) {
      ++damages_found;
    } else {
      missed.push_back(what);
    }
    Restore(pristine, work, touched);
  }

  // The control: 100 clean versions, each published by a rebuild-shard of a changed catalog.
  int controls = 0, false_positives = 0;
  {
    const std::string index = dir.File("control");
    fs::copy(pristine, index, fs::copy_options::recursive);
    const char* shards[] = {"books_000", "books_001", "toys_000", "toys_001"};
    for (int i = 0; i < 100; ++i) {
      const std::string c = dir.Write("control.jsonl", Catalog("c" + std::to_string(i)));
      pidx::RebuildOptions o;
      o.shard = shards[i % 4];
      o.catalogs = {c};
      o.index_dir = index;
      o.threads = 1;
      REQUIRE(pidx::RebuildShard(o, pidx::Env::Default()).ok());
      pidx::VerifyOptions v;
      v.index_dir = index;
      v.threads = 1;
      auto r = pidx::Verify(v, pidx::Env::Default());
      ++controls;
      if (!r.ok() || !r->findings.empty()) ++false_positives;
    }
    CHECK(VerifyAll(index).empty());
  }

  std::string m;
  for (const auto& s : missed) m += s + "\n";
  INFO("undetected:\n" << m);
  std::cout << "corruption: " << flips_found << "/" << flips << " flips detected, " << damages_found
            << "/" << damages << " truncations, deletions and swaps detected, " << false_positives
            << "/" << controls << " false positives" << std::endl;
  CHECK(flips_found == flips);
  CHECK(damages_found == damages);
  CHECK(false_positives == 0);
}
