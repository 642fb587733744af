#include "pidx/snapshot/snapshot_store.h"

#include <algorithm>

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
  pidx::Result<std::unique_ptr<pidx::WritableFile>> NewWritableFile(const std::string& p) override {
    return base_->NewWritableFile(p);
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

TEST_CASE("the sweep removes temporaries of dead writers only") {
  TempDir dir;
  auto store = *SnapshotStore::Open(Env::Default(), dir.File("idx"), true);
  dir.Write("idx/segments/.tmp-4194303-0-x.seg", "junk");
  std::string mine = pidx::TempNameFor("y.seg");
  dir.Write("idx/segments/" + mine, "in progress");
  store.SweepStaleTemporaries();
  CHECK(!Env::Default()->FileExists(dir.File("idx/segments/.tmp-4194303-0-x.seg")));
  CHECK(Env::Default()->FileExists(dir.File("idx/segments/" + mine)));
}
