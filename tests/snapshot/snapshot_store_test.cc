#include "pidx/snapshot/snapshot_store.h"

#include <algorithm>
#include <filesystem>

#include <catch2/catch.hpp>

#include "pidx/base/coding.h"
#include "pidx/segment/segment_writer.h"
#include "support/temp_dir.h"

using pidx::Env;
using pidx::snapshot::Manifest;
using pidx::snapshot::ShardEntry;
using pidx::snapshot::SnapshotStore;
using pidx::testing::TempDir;

namespace {

// A one-doc segment written into the store, with its manifest entry.
ShardEntry PutSegment(SnapshotStore& store, const std::string& shard, const std::string& id) {
  pidx::segment::SegmentWriter w(shard);
  w.AddDoc({id, "title", 7});
  uint32_t doc = 0;
  w.AddTerm("title:x", &doc, 1);
  std::string bytes = *w.Finish();
  ShardEntry e;
  e.shard = shard;
  e.checksum = pidx::DecodeFixed64(bytes.data() + bytes.size() - 8);
  e.segment = SnapshotStore::SegmentName(shard, e.checksum);
  e.size = bytes.size();
  e.docs = 1;
  e.terms = 1;
  e.postings = 1;
  e.term_bloom = std::string(512, '0');
  REQUIRE(store.WriteSegment(e.segment, bytes).ok());
  return e;
}

Manifest MakeManifest(std::vector<ShardEntry> shards) {
  Manifest m;
  m.operation = "build";
  m.created = "2026-11-25T00:00:00.000Z";
  m.schema = nlohmann::json::object();
  m.analyzer = nlohmann::json::object();
  m.shards = std::move(shards);
  for (const auto& e : m.shards) m.category_shards[e.shard.substr(0, e.shard.rfind('_'))] = 8;
  return m;
}

}  // namespace

TEST_CASE("a reader of a missing index gets not-found, a writer creates the layout") {
  TempDir dir;
  auto r = SnapshotStore::Open(Env::Default(), dir.File("idx"), false);
  REQUIRE(!r.ok());
  CHECK(r.status().kind() == pidx::StatusKind::kNotFound);
  auto w = SnapshotStore::Open(Env::Default(), dir.File("idx"), true);
  REQUIRE(w.ok());
  CHECK(*w->ReadCurrent() == 0);
  for (const char* sub : {"versions", "segments", "locks"}) {
    CHECK(Env::Default()->FileExists(dir.File(std::string("idx/") + sub)));
  }
}

namespace {
// Records directory creations and syncs, and does them on the real file system.
class DirRecordingEnv final : public Env {
 public:
  std::vector<std::string> log;
  pidx::Result<std::unique_ptr<pidx::WritableFile>> NewTempFile(const std::string& d,
                                                                const std::string& l) override {
    return base_->NewTempFile(d, l);
  }
  pidx::Result<bool> RemoveAbandonedTemp(const std::string& p, bool dry_run) override {
    return base_->RemoveAbandonedTemp(p, dry_run);
  }
  pidx::Result<std::string> ReadFile(const std::string& p) override { return base_->ReadFile(p); }
  pidx::Result<std::shared_ptr<const pidx::MappedFile>> MapFile(const std::string& p) override {
    return base_->MapFile(p);
  }
  pidx::Status Rename(const std::string& a, const std::string& b) override {
    return base_->Rename(a, b);
  }
  pidx::Status SyncDir(const std::string& d) override {
    log.push_back("sync " + d);
    return base_->SyncDir(d);
  }
  pidx::Status RemoveFile(const std::string& p) override { return base_->RemoveFile(p); }
  pidx::Status CreateDir(const std::string& d) override {
    log.push_back("mkdir " + d);
    return base_->CreateDir(d);
  }
  pidx::Result<std::vector<std::string>> ListDir(const std::string& d) override {
    return base_->ListDir(d);
  }
  bool FileExists(const std::string& p) override { return base_->FileExists(p); }
  pidx::Result<uint64_t> FileSize(const std::string& p) override { return base_->FileSize(p); }
  pidx::Result<int64_t> FileMtimeMs(const std::string& p) override { return base_->FileMtimeMs(p); }

 private:
  Env* base_ = Env::Default();
};
}  // namespace

TEST_CASE("a writer makes every directory it creates durable in its parent") {
  TempDir tmp;
  DirRecordingEnv env;
  const std::string root = tmp.path() + "/a/b";
  REQUIRE(SnapshotStore::Open(&env, root + "/idx", true).ok());
  for (const std::string& d :
       {root.substr(0, root.rfind('/')), root, root + "/idx", root + "/idx/versions",
        root + "/idx/segments", root + "/idx/locks"}) {
    auto made = std::find(env.log.begin(), env.log.end(), "mkdir " + d);
    REQUIRE(made != env.log.end());
    const std::string parent = d.substr(0, d.rfind('/'));
    CHECK(std::find(made, env.log.end(), "sync " + parent) != env.log.end());
  }
  // Opening an existing index creates nothing and syncs nothing.
  env.log.clear();
  REQUIRE(SnapshotStore::Open(&env, root + "/idx", true).ok());
  CHECK(env.log.empty());
}

TEST_CASE("publish numbers versions from 1, moves CURRENT, and keeps old manifests") {
  TempDir dir;
  auto store = *SnapshotStore::Open(Env::Default(), dir.File("idx"), true);
  Manifest m1 = MakeManifest({PutSegment(store, "books_000", "A")});
  REQUIRE(*store.Publish(&m1) == 1);
  CHECK(*store.ReadCurrent() == 1);
  Manifest m2 = MakeManifest({PutSegment(store, "books_000", "B")});
  REQUIRE(*store.Publish(&m2) == 2);
  CHECK(*store.ReadCurrent() == 2);
  CHECK(store.LoadManifest(1)->shards[0].shard == "books_000");
  CHECK(*store.ListVersions() == std::vector<uint64_t>{1, 2});
  CHECK(store.LoadManifest(3).status().kind() == pidx::StatusKind::kNotFound);
}

TEST_CASE("LoadVersionOrCurrent opens a given version, or CURRENT's for 0") {
  TempDir dir;
  auto writer = *SnapshotStore::Open(Env::Default(), dir.File("idx"), true);
  // The directory as the caller named it, trailing slash kept, is what the message names.
  auto store = *SnapshotStore::Open(Env::Default(), dir.File("idx") + "/", false);
  auto none = store.LoadVersionOrCurrent(0);
  REQUIRE(!none.ok());
  CHECK(none.status().kind() == pidx::StatusKind::kNotFound);
  CHECK(none.status().message() == dir.File("idx") + "/ has no published version");
  Manifest m1 = MakeManifest({PutSegment(writer, "books_000", "A")});
  REQUIRE(*writer.Publish(&m1) == 1);
  Manifest m2 = MakeManifest({PutSegment(writer, "books_000", "B")});
  REQUIRE(*writer.Publish(&m2) == 2);
  CHECK(store.LoadVersionOrCurrent(0)->version == 2);
  CHECK(store.LoadVersionOrCurrent(1)->version == 1);
  auto missing = store.LoadVersionOrCurrent(7);
  REQUIRE(!missing.ok());
  CHECK(missing.status().kind() == pidx::StatusKind::kNotFound);
  CHECK(missing.status().message() == store.LoadManifest(7).status().message());
}

TEST_CASE("an orphan manifest (killed before CURRENT moved) never gets its number reused") {
  TempDir dir;
  auto store = *SnapshotStore::Open(Env::Default(), dir.File("idx"), true);
  Manifest m1 = MakeManifest({PutSegment(store, "books_000", "A")});
  REQUIRE(*store.Publish(&m1) == 1);
  // Simulate the kill: v000002 exists, CURRENT still names v000001.
  Manifest orphan = m1;
  orphan.version = 2;
  REQUIRE(pidx::WriteFileDurably(Env::Default(), store.ManifestPath(2), orphan.Serialize()).ok());
  CHECK(*store.ReadCurrent() == 1);
  Manifest m3 = MakeManifest({PutSegment(store, "books_000", "C")});
  CHECK(*store.Publish(&m3) == 3);
}

TEST_CASE("a torn or edited CURRENT is detected") {
  TempDir dir;
  auto store = *SnapshotStore::Open(Env::Default(), dir.File("idx"), true);
  Manifest m1 = MakeManifest({PutSegment(store, "books_000", "A")});
  REQUIRE(store.Publish(&m1).ok());
  for (const char* bad : {"v000001\n", "v000002\n0000000000000000\n", "", "v000001"}) {
    dir.Write("idx/CURRENT", bad);
    auto r = store.ReadCurrent();
    INFO(bad);
    REQUIRE(!r.ok());
    CHECK(r.status().kind() == pidx::StatusKind::kCorrupt);
  }
}

TEST_CASE("CheckSegment finds a missing, resized or foreign segment") {
  TempDir dir;
  auto store = *SnapshotStore::Open(Env::Default(), dir.File("idx"), true);
  ShardEntry e = PutSegment(store, "books_000", "A");
  CHECK(store.CheckSegment(e).ok());
  ShardEntry wrong_size = e;
  wrong_size.size += 1;
  CHECK(store.CheckSegment(wrong_size).message().find("size") != std::string::npos);
  ShardEntry wrong_docs = e;
  wrong_docs.docs = 5;
  CHECK(!store.CheckSegment(wrong_docs).ok());
  ShardEntry missing = e;
  missing.segment = "books_000-0000000000000000.seg";
  pidx::Status s = store.CheckSegment(missing);
  CHECK(s.kind() == pidx::StatusKind::kCorrupt);
  CHECK(s.message().find("missing") != std::string::npos);
}

TEST_CASE("the sweep removes temporaries of dead writers only, and only pidx's names") {
  TempDir dir;
  auto store = *SnapshotStore::Open(Env::Default(), dir.File("idx"), true);
  // Nobody holds its flock: a dead writer's.
  dir.Write("idx/segments/.tmp-4194303-0123456789abcdef-x.seg", "junk");
  // Not of pidx's exact form (the old predictable one): not ours to remove.
  dir.Write("idx/segments/.tmp-999999-0-notes", "a user's file");
  // In progress: this process holds its flock.
  auto mine = Env::Default()->NewTempFile(dir.File("idx/segments"), "y.seg");
  REQUIRE(mine.ok());
  store.SweepStaleTemporaries();
  CHECK(!Env::Default()->FileExists(dir.File("idx/segments/.tmp-4194303-0123456789abcdef-x.seg")));
  CHECK(Env::Default()->FileExists(dir.File("idx/segments/.tmp-999999-0-notes")));
  CHECK(Env::Default()->FileExists((*mine)->path()));
}

TEST_CASE("segment and shard names have exactly pidx's form") {
  CHECK(SnapshotStore::IsSegmentName("books_000-0123456789abcdef.seg"));
  CHECK(SnapshotStore::IsSegmentName("c-1a2b3c4d_017-0123456789abcdef.seg"));
  CHECK(!SnapshotStore::IsSegmentName("../../../OUT/evil.seg"));
  CHECK(!SnapshotStore::IsSegmentName("../x_000-0123456789abcdef.seg"));
  CHECK(!SnapshotStore::IsSegmentName("a/b_000-0123456789abcdef.seg"));
  CHECK(!SnapshotStore::IsSegmentName("user-backup.seg"));
  CHECK(!SnapshotStore::IsSegmentName("books_000-0123456789ABCDEF.seg"));
  CHECK(!SnapshotStore::IsSegmentName("books_00-0123456789abcdef.seg"));
  CHECK(!SnapshotStore::IsSegmentName("Books_000-0123456789abcdef.seg"));
  CHECK(!SnapshotStore::IsSegmentName("_000-0123456789abcdef.seg"));
  CHECK(SnapshotStore::IsShardName("home-garden_999"));
  CHECK(!SnapshotStore::IsShardName("../../outside/evil_000"));
}

TEST_CASE("WriteSegment refuses a name that is not a segment name and creates nothing") {
  TempDir dir;
  auto store = *SnapshotStore::Open(Env::Default(), dir.File("idx"), true);
  std::filesystem::create_directories(dir.File("OUT"));
  pidx::Status s = store.WriteSegment("../../OUT/evil.seg", "bytes").status();
  CHECK(s.kind() == pidx::StatusKind::kCorrupt);
  CHECK(s.message().find("../../OUT/evil.seg") != std::string::npos);
  CHECK(std::filesystem::is_empty(dir.File("OUT")));
  CHECK(std::filesystem::is_empty(dir.File("idx/segments")));
  CHECK(
      !store.WriteSegment("x_000-0123456789abcdef.seg/../../y_000-0123456789abcdef.seg", "b").ok());
}

TEST_CASE("only manifests under the exact name pidx writes are versions") {
  TempDir dir;
  auto store = *SnapshotStore::Open(Env::Default(), dir.File("idx"), true);
  dir.Write("idx/versions/v000003.manifest", "x");
  dir.Write("idx/versions/v42.manifest", "x");
  dir.Write("idx/versions/v0000007.manifest", "x");
  dir.Write("idx/versions/v1000000000000000000.manifest", "x");
  CHECK(*store.ListVersions() == std::vector<uint64_t>{3});
}

TEST_CASE("publish refuses to number a version the parser cannot read, and publishes nothing") {
  TempDir dir;
  auto store = *SnapshotStore::Open(Env::Default(), dir.File("idx"), true);
  Manifest last = MakeManifest({PutSegment(store, "books_000", "A")});
  last.version = pidx::snapshot::kMaxVersion;
  REQUIRE(pidx::WriteFileDurably(Env::Default(), store.ManifestPath(last.version), last.Serialize())
              .ok());
  REQUIRE(store.SetCurrent(last.version).ok());
  const auto before = *store.ListVersions();
  Manifest next = MakeManifest({PutSegment(store, "books_000", "B")});
  auto r = store.Publish(&next);
  REQUIRE(!r.ok());
  CHECK(r.status().kind() == pidx::StatusKind::kCorrupt);
  CHECK(r.status().message().find("v999999999999999999") != std::string::npos);
  CHECK(*store.ReadCurrent() == pidx::snapshot::kMaxVersion);
  CHECK(*store.ListVersions() == before);
  uint64_t v = 0;
  CHECK(pidx::snapshot::ParseVersionName("v999999999999999999", &v));
  CHECK(!pidx::snapshot::ParseVersionName("v1000000000000000000", &v));
}

TEST_CASE("publish over a planted CURRENT symlink replaces the link, not its target") {
  TempDir dir;
  auto store = *SnapshotStore::Open(Env::Default(), dir.File("idx"), true);
  const std::string target = dir.Write("outside/precious", "keep me");
  std::filesystem::create_symlink(target, dir.File("idx/CURRENT.tmp"));
  std::filesystem::rename(dir.File("idx/CURRENT.tmp"), dir.File("idx/CURRENT"));
  Manifest m = MakeManifest({PutSegment(store, "books_000", "A")});
  // The planted link is not a valid CURRENT: publish treats it as damage and replaces it.
  auto r = store.Publish(&m);
  REQUIRE(r.ok());
  CHECK(pidx::testing::ReadFile(target) == "keep me");
  CHECK(!std::filesystem::is_symlink(dir.File("idx/CURRENT")));
  CHECK(*store.ReadCurrent() == *r);
}
