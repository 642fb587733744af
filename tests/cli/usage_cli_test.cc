// End-to-end: the command line and the process (issue 13 items 4, 8, 10, 12, 13; issue 14
// item 11). Numbers are parsed by one strict parser, a result that cannot be written is exit 74,
// closed fds 0-2 never become index files, usage errors are structured events, and
// PIDX_VERSION selects a version.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include <catch2/catch.hpp>

#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::Pidx;
using pidx::testing::PidxBin;
using pidx::testing::ReadFile;
using pidx::testing::RunOptions;
using pidx::testing::RunResult;
using pidx::testing::TempDir;
namespace fs = std::filesystem;

extern char** environ;

namespace {

const char* kCatalog =
    "{\"id\":\"A\",\"category\":\"Books\",\"title\":\"Dune\"}\n"
    "{\"id\":\"B\",\"category\":\"Toys\",\"title\":\"Kite\"}\n"
    "{\"id\":\"C\",\"category\":\"Books\",\"title\":\"Emma\"}\n";

std::string Catalog(const TempDir& dir, int products, const std::string& name = "c.jsonl") {
  std::string text;
  for (int i = 0; i < products; ++i) {
    text += "{\"id\":\"P" + std::to_string(i) + "\",\"category\":\"" + (i % 2 ? "Books" : "Toys") +
            "\",\"title\":\"thing number " + std::to_string(i) + "\"}\n";
  }
  return dir.Write(name, text);
}

bool HasCurrent(const std::string& index) { return fs::exists(index + "/CURRENT"); }

// Every stderr line is one JSON object (what `jq` on stderr needs).
void RequireJsonLines(const std::string& err) {
  std::istringstream in(err);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    INFO("stderr line: " << line);
    auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE(!j.is_discarded());
    REQUIRE(j.is_object());
  }
  REQUIRE(n > 0);
}

// The one error event of a failed run: level error, its event name, reason and exit code.
nlohmann::json FailureEvent(const RunResult& r, const std::string& event) {
  auto events = r.Events(event);
  INFO(r.err);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["level"] == "error");
  CHECK(events[0]["exit_code"] == r.exit_code);
  return events[0];
}

// pidx with its standard fds arranged by hand: `out_fd` >= 0 becomes stdout; each fd in
// `closed` is closed in the child. stderr is captured through a file unless it is closed.
RunResult RunWithFds(const std::vector<std::string>& args, int out_fd, std::vector<int> closed,
                     const TempDir& dir) {
  const std::string err_path = dir.File("stderr.txt");
  std::vector<std::string> argv_s = {PidxBin()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("PIDX_", 0) == 0 || kv.rfind("TRACEPARENT=", 0) == 0) continue;
    env_s.push_back(kv);
  }
  std::vector<char*> envp;
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int null_in = open("/dev/null", O_RDONLY);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int null_out = open("/dev/null", O_WRONLY);
    dup2(null_in, 0);
    dup2(out_fd >= 0 ? out_fd : null_out, 1);
    dup2(err, 2);
    for (int fd : closed) close(fd);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.err = ReadFile(err_path);
  return r;
}

RunResult ToDevFull(const std::vector<std::string>& args, const TempDir& dir) {
  const int full = open("/dev/full", O_WRONLY);
  REQUIRE(full >= 0);
  RunResult r = RunWithFds(args, full, {}, dir);
  close(full);
  return r;
}

}  // namespace

// ---- 13.4 + 14.11: one strict parser for every number --------------------------------------

TEST_CASE("build --max-shrink nan is exit 64 naming the flag, and the shrink guard still holds") {
  TempDir dir;
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", Catalog(dir, 100), "--index", index}).exit_code == 0);
  const std::string one = Catalog(dir, 1, "one.jsonl");
  RunResult r = Pidx({"build", "--catalog", one, "--index", index, "--max-shrink", "nan"});
  CHECK(r.exit_code == 64);
  auto e = FailureEvent(r, "index.build.failed");
  CHECK(e["reason"] == "usage");
  CHECK(e["option"] == "--max-shrink");
  CHECK(e["value"] == "nan");
  RunResult v = Pidx({"stats", "--index", index, "--json"});
  REQUIRE(v.exit_code == 0);
  CHECK(nlohmann::json::parse(v.out)["totals"]["docs"] == 100);
}

TEST_CASE("PIDX_MAX_SHRINK=nan is exit 78 naming the variable and its value") {
  TempDir dir;
  const std::string index = dir.File("idx");
  RunResult r = Pidx({"build", "--catalog", Catalog(dir, 3), "--index", index},
                     {.env = {{"PIDX_MAX_SHRINK", "nan"}}});
  CHECK(r.exit_code == 78);
  auto e = FailureEvent(r, "index.build.failed");
  CHECK(e["reason"] == "config");
  CHECK(e["variable"] == "PIDX_MAX_SHRINK");
  CHECK(e["value"] == "nan");
  CHECK(e["error"].get<std::string>().find("PIDX_MAX_SHRINK") != std::string::npos);
  CHECK(!HasCurrent(index));
}

TEST_CASE("negative counts are refused with exit 64, not wrapped to 2^64-1") {
  TempDir dir;
  const std::string index = dir.File("idx");
  const std::string catalog = Catalog(dir, 4);
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  struct Case {
    std::vector<std::string> args;
    std::string event, option;
  };
  const std::vector<Case> cases = {
      {{"build", "--catalog", catalog, "--index", dir.File("t"), "--threads", "-1"},
       "index.build.failed",
       "--threads"},
      {{"query", "--index", index, "--limit", "-1", "thing"}, "index.query.failed", "--limit"},
      {{"build", "--catalog", catalog, "--index", dir.File("b"), "--max-bad-lines", "-1"},
       "index.build.failed",
       "--max-bad-lines"},
      {{"diff", "--index", index, "v1", "v1", "--limit", "-1"}, "index.diff.failed", "--limit"},
      {{"query", "--index", index, "--limit", "99999999999999999999", "thing"},
       "index.query.failed",
       "--limit"},
  };
  for (const auto& c : cases) {
    RunResult r = Pidx(c.args);
    INFO(c.args[0] << " " << c.option << "\n" << r.err);
    CHECK(r.exit_code == 64);
    CHECK(r.out.empty());
    auto e = FailureEvent(r, c.event);
    CHECK(e["option"] == c.option);
  }
  CHECK(!HasCurrent(dir.File("t")));
  CHECK(!HasCurrent(dir.File("b")));
}

TEST_CASE("every numeric flag of every command refuses NaN, inf, signs, junk and overflow") {
  TempDir dir;
  const std::string index = dir.File("idx");
  const std::string catalog = Catalog(dir, 4);
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  const std::string q = dir.Write("q.jsonl", "{\"query\":\"thing\",\"expected\":[\"P1\"]}\n");
  const std::string plan = dir.File("plan.json");
  REQUIRE(Pidx({"plan", "--catalog", catalog, "--index", index, "--workers", "1", "--out", plan})
              .exit_code == 0);
  struct Flag {
    std::vector<std::string> base;  // a valid command line without the flag
    std::string flag;
  };
  const std::vector<std::string> build = {"build", "--catalog", catalog, "--index", dir.File("n")};
  const std::vector<std::string> plan_cmd = {"plan",    "--catalog", catalog,
                                             "--index", index,       "--workers",
                                             "1",       "--out",     dir.File("p2.json")};
  const std::vector<Flag> flags = {
      {build, "--shards-per-category"},
      {build, "--target-shard-docs"},
      {build, "--threads"},
      {build, "--max-bad-lines"},
      {build, "--max-line-bytes"},
      {build, "--max-shrink"},
      {{"build", "--plan", plan, "--stage", dir.File("stage")}, "--worker"},
      {{"rebuild-shard", "books_000", "--catalog", catalog, "--index", index}, "--threads"},
      {{"rebuild-shard", "books_000", "--catalog", catalog, "--index", index}, "--max-bad-lines"},
      {{"query", "--index", index, "thing"}, "--limit"},
      {{"diff", "--index", index, "v1", "v1"}, "--limit"},
      {{"diff", "--index", index, "v1", "v1"}, "--threads"},
      {{"verify", "--index", index}, "--sample-terms"},
      {{"verify", "--index", index}, "--seed"},
      {{"verify", "--index", index}, "--threads"},
      {{"stats", "--index", index}, "--top-terms"},
      {{"gc", "--index", index, "--dry-run"}, "--keep"},
      {{"recall", "--index", index, "--queries", q}, "--min"},
      {{"rollback", "--index", index, "v1"}, "--threads"},
      {{"plan", "--catalog", catalog, "--index", index, "--out", dir.File("p3.json")}, "--workers"},
      {plan_cmd, "--shards-per-category"},
      {plan_cmd, "--target-shard-docs"},
      {plan_cmd, "--threads"},
      {plan_cmd, "--max-line-bytes"},
      {{"publish", "--index", index, "--stage", dir.File("stage"), "--plan", plan}, "--max-shrink"},
  };
  const std::vector<std::string> bad = {"nan", "inf", "-1",   "1e400", "99999999999999999999",
                                        "5x",  " 5",  "0x10", "+3",    "",
                                        "-0",  "1e3"};
  for (const auto& f : flags) {
    for (const auto& value : bad) {
      auto args = f.base;
      args.push_back(f.flag);
      args.push_back(value);
      RunResult r = Pidx(args);
      INFO(f.base[0] << " " << f.flag << " \"" << value << "\"\n" << r.err);
      CHECK(r.exit_code == 64);
      auto events = r.Events();
      REQUIRE(!events.empty());
      CHECK(events.back()["level"] == "error");
      CHECK(events.back()["reason"] == "usage");
      if (!value.empty()) CHECK(events.back()["option"] == f.flag);
      if (value.empty()) continue;  // an empty variable is "not set"
      std::string var = "PIDX_";
      for (char c : f.flag.substr(2)) var += c == '-' ? '_' : static_cast<char>(std::toupper(c));
      RunResult e = Pidx(f.base, {.env = {{var, value}}});
      INFO(var << "=\"" << value << "\"\n" << e.err);
      CHECK(e.exit_code == 78);
      auto env_events = e.Events();
      REQUIRE(!env_events.empty());
      CHECK(env_events.back()["reason"] == "config");
      CHECK(env_events.back()["variable"] == var);
      CHECK(env_events.back()["value"] == value);
    }
  }
  CHECK(!HasCurrent(dir.File("n")));
}

TEST_CASE(
    "a job-array index is parsed as strictly as --worker: \" 0\", \"+0\", \"0x\" are exit 64") {
  TempDir dir;
  const std::string catalog = Catalog(dir, 4);
  const std::string plan = dir.File("plan.json");
  REQUIRE(Pidx({"plan", "--catalog", catalog, "--index", dir.File("idx"), "--workers", "1", "--out",
                plan})
              .exit_code == 0);
  for (const char* bad : {" 0", "+0", "0x", "-0", "nan"}) {
    RunResult r = Pidx({"build", "--plan", plan, "--stage", dir.File("stage")},
                       {.env = {{"SLURM_ARRAY_TASK_ID", bad}}});
    INFO("SLURM_ARRAY_TASK_ID=\"" << bad << "\"\n" << r.err);
    CHECK(r.exit_code == 64);
    CHECK(FailureEvent(r, "index.build.failed")["error"].get<std::string>().find(
              "SLURM_ARRAY_TASK_ID") != std::string::npos);
  }
  CHECK(Pidx({"build", "--plan", plan, "--stage", dir.File("stage")},
             {.env = {{"SLURM_ARRAY_TASK_ID", "0"}}})
            .exit_code == 0);
}

TEST_CASE("durations and sizes take the same strict digits: signs and exponents are refused") {
  TempDir dir;
  const std::string catalog = Catalog(dir, 3);
  const std::vector<std::string> build = {"build", "--catalog", catalog, "--index",
                                          dir.File("idx")};
  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, std::string>>{{"--lock-timeout", "-0s"},
                                                        {"--lock-timeout", "+5s"},
                                                        {"--lock-timeout", "5"},
                                                        {"--lock-timeout", "99999999999999999999h"},
                                                        {"--memory-budget", "-1"},
                                                        {"--memory-budget", "1e3"},
                                                        {"--memory-budget", "+64M"}}) {
    auto args = build;
    args.push_back(flag);
    args.push_back(value);
    RunResult r = Pidx(args);
    INFO(flag << " " << value << "\n" << r.err);
    CHECK(r.exit_code == 64);
    CHECK(FailureEvent(r, "index.build.failed")["option"] == flag);
    std::string var = "PIDX_";
    for (char c : flag.substr(2)) var += c == '-' ? '_' : static_cast<char>(std::toupper(c));
    RunResult e = Pidx(build, {.env = {{var, value}}});
    INFO(var << "=" << value << "\n" << e.err);
    CHECK(e.exit_code == 78);
    auto ev = FailureEvent(e, "index.build.failed");
    CHECK(ev["variable"] == var);
    CHECK(ev["value"] == value);
  }
  RunResult gc = Pidx({"gc", "--index", dir.File("idx"), "--keep", "1", "--grace", "+1h"});
  CHECK(gc.exit_code == 64);
  CHECK(!HasCurrent(dir.File("idx")));
}

TEST_CASE("no command has a numeric option CLI11 converts itself (help shows N or F, never INT)") {
  for (const char* cmd : {"build", "rebuild-shard", "stats", "verify", "query", "recall",
                          "versions", "rollback", "gc", "diff", "plan", "publish"}) {
    RunResult r = Pidx({cmd, "--help"}, {.json_logs = false});
    INFO(cmd << "\n" << r.out);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("--index") != std::string::npos);
    for (const char* type : {" INT", " UINT", " FLOAT", " FLOAT64", " DOUBLE"}) {
      CHECK(r.out.find(type) == std::string::npos);
    }
  }
}

// ---- 13.8: a result that could not be written ----------------------------------------------

TEST_CASE("a result written to /dev/full is exit 74 with the command's error event") {
  TempDir dir;
  const std::string index = dir.File("idx");
  const std::string catalog = dir.Write("c.jsonl", kCatalog);
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", index}).exit_code == 0);
  REQUIRE(
      Pidx({"build", "--catalog", Catalog(dir, 3, "d.jsonl"), "--index", index, "--allow-shrink"})
          .exit_code == 0);
  const std::string q = dir.Write("q.jsonl", "{\"query\":\"dune\",\"expected\":[\"A\"]}\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> commands = {
      {{"stats", "--index", index}, "index.stats.failed"},
      {{"verify", "--index", index}, "index.verify.failed"},
      {{"query", "--index", index, "--version", "1", "dune"}, "index.query.failed"},
      {{"versions", "--index", index}, "index.versions.failed"},
      {{"diff", "--index", index, "v1", "v2"}, "index.diff.failed"},
      {{"recall", "--index", index, "--version", "1", "--queries", q}, "index.recall.failed"},
  };
  for (const auto& [args, event] : commands) {
    for (bool json : {false, true}) {
      auto a = args;
      if (json) a.push_back("--json");
      a.push_back("--log-format");
      a.push_back("json");
      RunResult r = ToDevFull(a, dir);
      INFO(args[0] << (json ? " --json" : "") << "\n" << r.err);
      CHECK(r.exit_code == 74);
      auto e = FailureEvent(r, event);
      CHECK(e["reason"] == "io_error");
      CHECK(e["error"].get<std::string>().find("stdout") != std::string::npos);
    }
  }
}

TEST_CASE("help and version output that cannot be written is exit 74 too") {
  TempDir dir;
  RunResult help = ToDevFull({"build", "--help", "--log-format", "json"}, dir);
  CHECK(help.exit_code == 74);
  CHECK(FailureEvent(help, "index.build.failed")["reason"] == "io_error");
  RunResult version = ToDevFull({"--version"}, dir);
  CHECK(version.exit_code == 74);
  CHECK(FailureEvent(version, "pidx.failed")["reason"] == "io_error");
}

TEST_CASE("verify findings whose report cannot be written are exit 74, not 1") {
  TempDir dir;
  const std::string index = dir.File("idx");
  REQUIRE(
      Pidx({"build", "--catalog", dir.Write("c.jsonl", kCatalog), "--index", index}).exit_code ==
      0);
  const std::string other = Catalog(dir, 3, "other.jsonl");
  REQUIRE(Pidx({"verify", "--index", index, "--catalog", other}).exit_code == 1);
  RunResult r = ToDevFull(
      {"verify", "--index", index, "--catalog", other, "--json", "--log-format", "json"}, dir);
  CHECK(r.exit_code == 74);
  CHECK(FailureEvent(r, "index.verify.failed")["reason"] == "io_error");
}

TEST_CASE("verify --metrics-file agrees with the exit code when the result could not be written") {
  TempDir dir;
  const std::string index = dir.File("idx");
  REQUIRE(
      Pidx({"build", "--catalog", dir.Write("c.jsonl", kCatalog), "--index", index}).exit_code ==
      0);
  const std::string prom = dir.File("verify.prom");
  RunResult r =
      ToDevFull({"verify", "--index", index, "--metrics-file", prom, "--log-format", "json"}, dir);
  CHECK(r.exit_code == 74);
  const std::string metrics = ReadFile(prom);
  INFO(metrics);
  CHECK(metrics.find("pidx_command_success{command=\"verify\"") != std::string::npos);
  CHECK(metrics.find("} 0\n") != std::string::npos);
  CHECK(metrics.find("pidx_command_last_success_timestamp_seconds") == std::string::npos);
}

TEST_CASE("a closed stdout pipe is exit 74 with an event, not a silent death by SIGPIPE") {
  TempDir dir;
  const std::string index = dir.File("idx");
  REQUIRE(
      Pidx({"build", "--catalog", dir.Write("c.jsonl", kCatalog), "--index", index}).exit_code ==
      0);
  int p[2];
  REQUIRE(pipe(p) == 0);
  close(p[0]);  // the reader is gone before pidx writes
  RunResult r = RunWithFds({"stats", "--index", index, "--log-format", "json"}, p[1], {}, dir);
  close(p[1]);
  CHECK(r.exit_code == 74);
  auto e = FailureEvent(r, "index.stats.failed");
  CHECK(e["error"].get<std::string>().find("Broken pipe") != std::string::npos);
}

TEST_CASE("with stdout closed (>&-) build refuses before publishing anything: exit 74") {
  TempDir dir;
  const std::string index = dir.File("idx");
  RunResult r = RunWithFds({"build", "--catalog", dir.Write("c.jsonl", kCatalog), "--index", index,
                            "--log-format", "json"},
                           -1, {1}, dir);
  CHECK(r.exit_code == 74);
  CHECK(FailureEvent(r, "index.build.failed")["error"].get<std::string>().find(
            "stdout is closed") != std::string::npos);
  CHECK(!HasCurrent(index));
}

// ---- 13.10: closed fds 0-2 -----------------------------------------------------------------

TEST_CASE(
    "a build started with fd 2 or fd 0 closed publishes segments that verify, no log in them") {
  for (std::vector<int> closed : {std::vector<int>{2}, {0}, {0, 2}}) {
    TempDir dir;
    const std::string index = dir.File("idx");
    RunResult r = RunWithFds(
        {"build", "--catalog", Catalog(dir, 50), "--index", index, "--log-format", "json"}, -1,
        closed, dir);
    INFO("closed fds: " << closed.size() << " first " << closed[0] << "\n" << r.err);
    REQUIRE(r.exit_code == 0);
    RunResult v = Pidx({"verify", "--index", index});
    INFO(v.err);
    CHECK(v.exit_code == 0);
    for (const auto& entry : fs::recursive_directory_iterator(index)) {
      if (!entry.is_regular_file()) continue;
      const std::string content = ReadFile(entry.path().string());
      INFO(entry.path());
      CHECK(content.find("\"event\"") == std::string::npos);
      CHECK(content.find("trace_id") == std::string::npos);
    }
  }
}

TEST_CASE("a build started with fds 0, 1 and 2 closed exits 74 and publishes nothing") {
  TempDir dir;
  const std::string index = dir.File("idx");
  RunResult r =
      RunWithFds({"build", "--catalog", Catalog(dir, 5), "--index", index}, -1, {0, 1, 2}, dir);
  CHECK(r.exit_code == 74);
  CHECK(r.err.empty());  // fd 2 was closed: its events went to /dev/null, not into a file
  CHECK(!HasCurrent(index));
}

// ---- 13.12: usage errors are structured ----------------------------------------------------

TEST_CASE("parser errors are one JSON event per line with exit 64, and no plain hint after it") {
  TempDir dir;
  const std::string index = dir.File("idx");
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string event;
  };
  const std::vector<Case> cases = {
      // unknown flag, --log-format after it
      {{"build", "--bogus", "--index", index, "--log-format", "json"}, {}, "index.build.failed"},
      // unconvertible value
      {{"stats", "--index", index, "--top-terms", "many", "--log-format=json"},
       {},
       "index.stats.failed"},
      // unknown subcommand
      {{"bogus", "--log-format", "json"}, {}, "pidx.failed"},
      // no subcommand
      {{"--log-format", "json"}, {}, "pidx.failed"},
      // missing required argument (the version of rollback, the query of query)
      {{"rollback", "--index", index, "--log-format", "json"}, {}, "index.rollback.failed"},
      {{"query", "--index", index}, {{"PIDX_LOG_FORMAT", "json"}}, "index.query.failed"},
      // a usage error found after parsing, format from the environment
      {{"stats"}, {{"PIDX_LOG_FORMAT", "json"}}, "index.stats.failed"},
      // an unknown flag with the format from the environment
      {{"verify", "--nope"}, {{"PIDX_LOG_FORMAT", "json"}}, "index.verify.failed"},
  };
  for (const auto& c : cases) {
    RunResult r = Pidx(c.args, {.env = c.env, .json_logs = false});
    INFO(c.args[0] << "\n" << r.err);
    CHECK(r.exit_code == 64);
    CHECK(r.out.empty());
    RequireJsonLines(r.err);
    auto e = FailureEvent(r, c.event);
    CHECK(e["reason"] == "usage");
    CHECK(r.err.find("--help") == std::string::npos);
  }
}

TEST_CASE("in text format a usage error keeps its human hint") {
  RunResult r = Pidx({"build", "--bogus", "--log-format", "text"},
                     {.env = {{"NO_COLOR", "1"}}, .json_logs = false});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("index.build.failed") != std::string::npos);
  CHECK(r.err.find("--bogus") != std::string::npos);
  CHECK(r.err.find("Run 'pidx build --help' for usage.") != std::string::npos);
}

// ---- 13.13: PIDX_VERSION -------------------------------------------------------------------

TEST_CASE("PIDX_VERSION selects the version of verify, stats, query and recall") {
  TempDir dir;
  const std::string index = dir.File("idx");
  REQUIRE(
      Pidx({"build", "--catalog", dir.Write("c.jsonl", kCatalog), "--index", index}).exit_code ==
      0);
  REQUIRE(
      Pidx({"build", "--catalog", Catalog(dir, 3, "d.jsonl"), "--index", index, "--allow-shrink"})
          .exit_code == 0);
  const std::string q = dir.Write("q.jsonl", "{\"query\":\"dune\",\"expected\":[\"A\"]}\n");
  const RunOptions v1 = {.env = {{"PIDX_VERSION", "v000001"}}};

  RunResult stats = Pidx({"stats", "--index", index, "--json"}, v1);
  INFO(stats.err);
  REQUIRE(stats.exit_code == 0);
  CHECK(nlohmann::json::parse(stats.out)["version"] == "v000001");
  CHECK(nlohmann::json::parse(stats.out)["totals"]["docs"] == 3);

  RunResult verify = Pidx({"verify", "--index", index, "--json"}, v1);
  INFO(verify.err);
  REQUIRE(verify.exit_code == 0);
  CHECK(nlohmann::json::parse(verify.out)["versions_checked"] ==
        nlohmann::json::array({"v000001"}));

  // "dune" exists only in v1: the query finds it only when v1 is searched.
  RunResult query = Pidx({"query", "--index", index, "--json", "dune"}, v1);
  INFO(query.err);
  REQUIRE(query.exit_code == 0);
  CHECK(nlohmann::json::parse(query.out)["total"] == 1);
  CHECK(nlohmann::json::parse(Pidx({"query", "--index", index, "--json", "dune"}).out)["total"] ==
        0);

  RunResult recall = Pidx({"recall", "--index", index, "--queries", q, "--min", "1", "--json"}, v1);
  INFO(recall.err);
  REQUIRE(recall.exit_code == 0);
  CHECK(nlohmann::json::parse(recall.out)["version"] == "v000001");

  // A flag wins over the variable; a version that does not exist is not found (66).
  RunResult flag = Pidx({"stats", "--index", index, "--json", "--version", "2"}, v1);
  REQUIRE(flag.exit_code == 0);
  CHECK(nlohmann::json::parse(flag.out)["version"] == "v000002");
  CHECK(Pidx({"stats", "--index", index}, {.env = {{"PIDX_VERSION", "9"}}}).exit_code == 66);
}

TEST_CASE("pidx --version prints the program's version and never reads PIDX_VERSION") {
  RunResult r = Pidx({"--version"}, {.env = {{"PIDX_VERSION", "v000001"}}, .json_logs = false});
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("pidx ", 0) == 0);
  CHECK(r.err.empty());
  // A command without --version ignores the variable.
  TempDir dir;
  RunResult b =
      Pidx({"build", "--catalog", dir.Write("c.jsonl", kCatalog), "--index", dir.File("idx")},
           {.env = {{"PIDX_VERSION", "garbage"}}});
  CHECK(b.exit_code == 0);
}

TEST_CASE("the variable of an on/off flag is read strictly: junk is exit 78, never a guess") {
  // CLI11's flag conversion (stoll) took PIDX_ALLOW_SHRINK=2x or 1e400 as on and 0x1 as off,
  // and --json's early reading disagreed with it on TRUE (a usage error then printed no JSON).
  TempDir dir;
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", Catalog(dir, 100), "--index", index}).exit_code == 0);
  const std::string one = Catalog(dir, 1, "one.jsonl");
  for (const std::string var : {"PIDX_ALLOW_SHRINK", "PIDX_FORCE", "PIDX_JSON", "PIDX_QUIET"}) {
    for (const std::string bad :
         {"2x", "0x1", "1e400", "-3", "+", "enable", " 1", "t", "n", "99999999999999999999"}) {
      RunResult r = Pidx({"build", "--catalog", one, "--index", index}, {.env = {{var, bad}}});
      INFO(var << "=" << bad << "\n" << r.err);
      CHECK(r.exit_code == 78);
      auto e = FailureEvent(r, "index.build.failed");
      CHECK(e["variable"] == var);
      CHECK(e["value"] == bad);
    }
  }
  // The shrink guard still holds under a refused value, and honours the accepted ones.
  RunResult s = Pidx({"stats", "--index", index, "--json"});
  CHECK(nlohmann::json::parse(s.out)["totals"]["docs"] == 100);
  for (const std::string off : {"0", "false", "No", "OFF"}) {
    RunResult r =
        Pidx({"build", "--catalog", one, "--index", index}, {.env = {{"PIDX_ALLOW_SHRINK", off}}});
    INFO("PIDX_ALLOW_SHRINK=" << off << "\n" << r.err);
    CHECK(r.exit_code == 65);
  }
  for (const std::string on : {"1", "TRUE", "Yes", "on"}) {
    // PIDX_JSON on: a usage error is still one JSON error object on stdout.
    RunResult r = Pidx({"query", "--index", index, "--bogus", "x"}, {.env = {{"PIDX_JSON", on}}});
    INFO("PIDX_JSON=" << on << "\n" << r.err);
    CHECK(r.exit_code == 64);
    CHECK(nlohmann::json::parse(r.out)["ok"] == false);
  }
  RunResult r =
      Pidx({"build", "--catalog", one, "--index", index}, {.env = {{"PIDX_ALLOW_SHRINK", "True"}}});
  CHECK(r.exit_code == 0);
}

TEST_CASE("build refuses --no-accent-folding with --analyzer-version 1 instead of ignoring it") {
  TempDir dir;
  const std::string index = dir.File("idx");
  const std::string catalog = Catalog(dir, 3);
  RunResult r = Pidx({"build", "--catalog", catalog, "--index", index, "--analyzer-version", "1",
                      "--no-accent-folding"});
  CHECK(r.exit_code == 64);
  CHECK(FailureEvent(r, "index.build.failed")["option"] == "--no-accent-folding");
  RunResult e = Pidx({"build", "--catalog", catalog, "--index", index, "--analyzer-version", "1"},
                     {.env = {{"PIDX_NO_ACCENT_FOLDING", "1"}}});
  CHECK(e.exit_code == 78);
  CHECK(FailureEvent(e, "index.build.failed")["variable"] == "PIDX_NO_ACCENT_FOLDING");
  CHECK(!HasCurrent(index));
}
