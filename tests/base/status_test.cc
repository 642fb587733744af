#include "pidx/base/status.h"

#include <catch2/catch.hpp>

#include "pidx/base/exit_code.h"

using pidx::ExitCodeFor;
using pidx::Status;

TEST_CASE("every status kind maps to its documented exit code") {
  CHECK(ExitCodeFor(Status::Ok()) == 0);
  CHECK(ExitCodeFor(Status::Findings("x")) == 1);
  CHECK(ExitCodeFor(Status::Corrupt("x")) == 1);
  CHECK(ExitCodeFor(Status::Usage("x")) == 64);
  CHECK(ExitCodeFor(Status::BadData("x")) == 65);
  CHECK(ExitCodeFor(Status::NotFound("x")) == 66);
  CHECK(ExitCodeFor(Status::Internal("x")) == 70);
  CHECK(ExitCodeFor(Status::IoError("x")) == 74);
  CHECK(ExitCodeFor(Status::LockTimeout("x")) == 75);
  CHECK(ExitCodeFor(Status::Config("x")) == 78);
}

TEST_CASE("errno statuses name the operation and tell missing files apart") {
  CHECK(Status::FromErrno("open a.jsonl", ENOENT).kind() == pidx::StatusKind::kNotFound);
  Status s = Status::FromErrno("write a", ENOSPC);
  CHECK(s.kind() == pidx::StatusKind::kIoError);
  CHECK(s.message() == "write a: No space left on device");
  CHECK(s.Annotate("shard x").message() == "shard x: write a: No space left on device");
}

namespace {
pidx::Result<int> Half(int x) {
  if (x % 2) return Status::BadData("odd");
  return x / 2;
}
pidx::Result<int> Quarter(int x) {
  PIDX_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}
}  // namespace

TEST_CASE("Result carries a value or the first error") {
  CHECK(*Quarter(8) == 2);
  CHECK(Quarter(6).status().message() == "odd");
  CHECK(!Quarter(3).ok());
}
