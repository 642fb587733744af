#include "pidx/base/env.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <catch2/catch.hpp>

#include "support/temp_dir.h"

using pidx::Env;
using pidx::testing::TempDir;

TEST_CASE("WriteFileDurably leaves the complete file and no temporary") {
  TempDir dir;
  Env* env = Env::Default();
  std::string path = dir.File("f.txt");
  REQUIRE(pidx::WriteFileDurably(env, path, "hello").ok());
  CHECK(*env->ReadFile(path) == "hello");
  REQUIRE(pidx::WriteFileDurably(env, path, "replaced").ok());
  CHECK(*env->ReadFile(path) == "replaced");
  CHECK(*env->ListDir(dir.path()) == std::vector<std::string>{"f.txt"});
}

TEST_CASE("WriteFileDurably into a missing directory fails and says where") {
  TempDir dir;
  pidx::Status s = pidx::WriteFileDurably(Env::Default(), dir.File("no/such/f"), "x");
  REQUIRE(!s.ok());
  CHECK(s.kind() == pidx::StatusKind::kIoError);
  CHECK(s.message().find("no/such") != std::string::npos);
}

TEST_CASE("temporaries of a dead process are stale, ours and live ones are not") {
  std::string mine = pidx::TempNameFor("x.seg");
  CHECK(mine.rfind(".tmp-" + std::to_string(getpid()) + "-", 0) == 0);
  CHECK(!pidx::IsStaleTempName(mine));
  CHECK(!pidx::IsStaleTempName(".tmp-1-0-x.seg"));       // pid 1 is alive
  CHECK(pidx::IsStaleTempName(".tmp-4194303-0-x.seg"));  // above any pid_max in use here
  CHECK(!pidx::IsStaleTempName("x.seg"));
  CHECK(!pidx::IsStaleTempName(".tmp-abc-0-x"));
}

TEST_CASE("mapping a file gives its bytes, a missing file is not-found") {
  TempDir dir;
  auto p = dir.Write("m.bin", std::string("abc\0def", 7));
  auto m = Env::Default()->MapFile(p);
  REQUIRE(m.ok());
  CHECK((*m)->data() == std::string_view("abc\0def", 7));
  auto empty = Env::Default()->MapFile(dir.Write("e.bin", ""));
  REQUIRE(empty.ok());
  CHECK((*empty)->data().empty());
  CHECK(Env::Default()->MapFile(dir.File("none")).status().kind() == pidx::StatusKind::kNotFound);
}

TEST_CASE("mapping refuses a FIFO, a directory or a symlink at once, naming the file") {
  TempDir dir;
  const std::string fifo = dir.File("fifo.seg");
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  // Without O_NONBLOCK this open would wait for a writer for ever.
  auto f = Env::Default()->MapFile(fifo);
  REQUIRE(!f.ok());
  CHECK(f.status().kind() == pidx::StatusKind::kCorrupt);
  CHECK(f.status().message() == fifo + " is a FIFO, not a regular file");
  auto d = Env::Default()->MapFile(dir.path());
  REQUIRE(!d.ok());
  CHECK(d.status().message() == dir.path() + " is a directory, not a regular file");
  const std::string target = dir.Write("outside.seg", "bytes");
  const std::string link = dir.File("link.seg");
  std::filesystem::create_symlink(target, link);
  auto l = Env::Default()->MapFile(link);
  REQUIRE(!l.ok());
  CHECK(l.status().kind() == pidx::StatusKind::kCorrupt);
  CHECK(l.status().message() == link + " is a symbolic link, not a regular file");
}

TEST_CASE("path helpers") {
  CHECK(pidx::JoinPath("a", "b") == "a/b");
  CHECK(pidx::JoinPath("a/", "b") == "a/b");
  CHECK(pidx::DirName("a/b/c") == "a/b");
  CHECK(pidx::DirName("c") == ".");
  CHECK(pidx::BaseName("a/b/c") == "c");
}
