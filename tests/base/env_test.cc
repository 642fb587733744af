#include "pidx/base/env.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

TEST_CASE("temporary names have a random part and only their exact form is a temporary") {
  const std::string a = pidx::TempName("x.seg");
  const std::string b = pidx::TempName("x.seg");
  CHECK(a != b);
  CHECK(a.rfind(".tmp-" + std::to_string(getpid()) + "-", 0) == 0);
  CHECK(pidx::IsTempName(a));
  CHECK(pidx::IsTempName(".tmp-1-0123456789abcdef-x.seg"));
  // The old predictable form, a user's file that looks like one, and malformed parts.
  CHECK(!pidx::IsTempName(".tmp-999999-0-notes"));
  CHECK(!pidx::IsTempName(".tmp-1-0123456789ABCDEF-x"));
  CHECK(!pidx::IsTempName(".tmp-1-0123456789abcdef-"));
  CHECK(!pidx::IsTempName(".tmp-1-0123456789abcdef-.."));
  CHECK(!pidx::IsTempName(".tmp--0123456789abcdef-x"));
  CHECK(!pidx::IsTempName("x.seg"));
  CHECK(!pidx::IsTempName(".tmp-abc-0123456789abcdef-x"));
}

TEST_CASE("plain names stay in their directory") {
  CHECK(pidx::IsPlainName("CURRENT"));
  CHECK(!pidx::IsPlainName(""));
  CHECK(!pidx::IsPlainName("."));
  CHECK(!pidx::IsPlainName(".."));
  CHECK(!pidx::IsPlainName("../x"));
  CHECK(!pidx::IsPlainName("a/b"));
  CHECK(!pidx::IsPlainName(std::string("a\0b", 3)));
}

TEST_CASE("NewTempFile creates a new file under a fresh name, never an existing one") {
  TempDir dir;
  Env* env = Env::Default();
  auto f = env->NewTempFile(dir.path(), "x.seg");
  REQUIRE(f.ok());
  const std::string path = (*f)->path();
  CHECK(pidx::DirName(path) == dir.path());
  CHECK(pidx::IsTempName(pidx::BaseName(path)));
  REQUIRE((*f)->Append("abc").ok());
  REQUIRE((*f)->Close().ok());
  CHECK(pidx::testing::ReadFile(path) == "abc");
  CHECK(env->NewTempFile(dir.path(), "../x").status().kind() == pidx::StatusKind::kUsage);
  CHECK(env->NewTempFile(dir.path(), "a/b").status().kind() == pidx::StatusKind::kUsage);
}

TEST_CASE("WriteFileDurably replaces a symlink at the final name, never its target") {
  TempDir dir;
  const std::string target = dir.Write("outside/precious", "keep me");
  const std::string link = dir.File("idx/CURRENT");
  std::filesystem::create_directories(dir.File("idx"));
  std::filesystem::create_symlink(target, link);
  REQUIRE(pidx::WriteFileDurably(Env::Default(), link, "new").ok());
  CHECK(pidx::testing::ReadFile(target) == "keep me");
  CHECK(!std::filesystem::is_symlink(link));
  CHECK(pidx::testing::ReadFile(link) == "new");
  CHECK(pidx::WriteFileDurably(Env::Default(), dir.File("idx/.."), "x").kind() ==
        pidx::StatusKind::kUsage);
}

namespace {
// A child process that creates a temporary in `dir`, reports its path through a pipe and
// keeps it (and its flock) until killed: a live writer, as another pod would be.
std::pair<pid_t, std::string> LiveWriter(const std::string& dir) {
  int p[2];
  REQUIRE(pipe(p) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    auto f = Env::Default()->NewTempFile(dir, "spill-0.run");
    std::string path = f.ok() ? (*f)->path() : "";
    if (f.ok()) (void)(*f)->Close();  // closed for writing, still owned (as spill files are)
    path += "\n";
    (void)!write(p[1], path.data(), path.size());
    for (;;) pause();
  }
  close(p[1]);
  std::string path;
  char c = 0;
  while (read(p[0], &c, 1) == 1 && c != '\n') path.push_back(c);
  close(p[0]);
  REQUIRE(!path.empty());
  return {pid, path};
}
}  // namespace

TEST_CASE("a temporary whose writer lives is kept whatever its pid, a dead writer's goes") {
  TempDir dir;
  Env* env = Env::Default();
  auto [pid, live] = LiveWriter(dir.path());
  // The pid in the name says nothing: rename the live file to a pid that does not exist here
  // (as a writer in another PID namespace looks from this one).
  const std::string foreign = dir.File(
      ".tmp-4194303-" + pidx::BaseName(live).substr(pidx::BaseName(live).find('-', 5) + 1));
  REQUIRE(::rename(live.c_str(), foreign.c_str()) == 0);
  REQUIRE(pidx::IsTempName(pidx::BaseName(foreign)));
  auto kept = env->RemoveAbandonedTemp(foreign, false);
  REQUIRE(kept.ok());
  CHECK(!*kept);
  CHECK(env->FileExists(foreign));

  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(*env->RemoveAbandonedTemp(foreign, true));  // dry run: decides only
  CHECK(env->FileExists(foreign));
  CHECK(*env->RemoveAbandonedTemp(foreign, false));
  CHECK(!env->FileExists(foreign));
}

TEST_CASE("a symlink or a FIFO under a temporary's name is not removed, nor its target") {
  TempDir dir;
  Env* env = Env::Default();
  const std::string target = dir.Write("outside/precious", "keep me");
  const std::string link = dir.File(".tmp-4194303-0123456789abcdef-x.seg");
  std::filesystem::create_symlink(target, link);
  CHECK(!*env->RemoveAbandonedTemp(link, false));
  CHECK(std::filesystem::is_symlink(link));
  CHECK(pidx::testing::ReadFile(target) == "keep me");
  const std::string fifo = dir.File(".tmp-4194303-0123456789abcdef-y.seg");
  REQUIRE(mkfifo(fifo.c_str(), 0644) == 0);
  CHECK(!*env->RemoveAbandonedTemp(fifo, false));
  CHECK(std::filesystem::is_fifo(fifo));
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
