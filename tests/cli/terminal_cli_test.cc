// End-to-end, the real binary under a pseudo-terminal (issue 18, "Progress and terminal
// output"; docs/CLI.md "Terminal output"): the progress bar is one line redrawn with \r that
// fits the terminal's width, it is not drawn for CI, TERM=dumb or --quiet, colour follows
// --color / PIDX_COLOR / NO_COLOR / TERM, a build's summary says where the time went, and at
// the default level a text log does not list every shard. Also the shared flag groups and the
// dispatcher's events (issue 15): every command's .completed event, once.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::GenCatalog;
using pidx::testing::Pidx;
using pidx::testing::PidxBin;
using pidx::testing::RunResult;
using pidx::testing::TempDir;

extern char** environ;

namespace {

struct PtyResult {
  int exit_code = -1;
  std::string out;  // everything the terminal received (stdout and stderr)
};

// Runs pidx with stdin, stdout and stderr on a new pseudo-terminal of `columns` columns, the
// environment changed by `set` (an empty value unsets the variable).
PtyResult RunInPty(const std::vector<std::string>& args, int columns,
                   const std::map<std::string, std::string>& set = {}) {
  struct winsize ws {};
  ws.ws_row = 24;
  ws.ws_col = static_cast<unsigned short>(columns);
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (const auto& [k, v] : set) {
      if (v.empty()) {
        unsetenv(k.c_str());
      } else {
        setenv(k.c_str(), v.c_str(), 1);
      }
    }
    std::vector<std::string> full = {PidxBin()};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  PtyResult r;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(master, buf, sizeof buf);
    if (n > 0) {
      r.out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // EIO once the child closed the terminal
  }
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// The pieces of terminal output between \r and \n: what is on one line after each redraw.
std::vector<std::string> Segments(const std::string& out) {
  std::vector<std::string> segs;
  std::string cur;
  for (char c : out) {
    if (c == '\r' || c == '\n') {
      if (!cur.empty()) segs.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) segs.push_back(cur);
  return segs;
}

bool IsBar(const std::string& seg) {
  return seg.find("ETA") != std::string::npos || seg.find("% ") != std::string::npos ||
         seg.rfind("[", 0) == 0;
}

const std::map<std::string, std::string> kTerminal = {
    {"TERM", "xterm"}, {"CI", ""}, {"NO_COLOR", ""}, {"PIDX_COLOR", ""}, {"COLUMNS", ""}};

std::map<std::string, std::string> With(std::map<std::string, std::string> extra) {
  auto env = kTerminal;
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

const std::string& SharedCatalog() {
  static TempDir* dir = new TempDir();
  static const std::string path = GenCatalog(dir->File("c.jsonl"), 6000, 7);
  return path;
}

}  // namespace

TEST_CASE(
    "on a terminal a build draws one bar line, redrawn in place, and says where the time went") {
  TempDir dir;
  PtyResult r =
      RunInPty({"build", "--catalog", SharedCatalog(), "--index", dir.File("i"), "--threads", "1"},
               80, kTerminal);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  size_t bars = 0;
  for (const auto& seg : Segments(r.out)) {
    if (!IsBar(seg)) continue;
    ++bars;
    CHECK(seg.size() <= 79);  // never the last column: no wrap, no pile
  }
  CHECK(bars >= 1);
  CHECK(r.out.find("100% done") != std::string::npos);  // 100% only at the end
  // Every bar is redrawn with \r, never followed by a newline of its own: the line after the
  // last draw is cleared before the summary.
  CHECK(r.out.find("done\n") == std::string::npos);
  CHECK(r.out.find("products/s") != std::string::npos);
  CHECK(r.out.find("MB/s") != std::string::npos);
  CHECK(r.out.find("read+analyze") != std::string::npos);
  CHECK(r.out.find("publish") != std::string::npos);
  // The text log at the default level does not list every shard.
  CHECK(r.out.find("shard.build.completed") == std::string::npos);
  CHECK(r.out.find("index.build.completed") != std::string::npos);
}

TEST_CASE("the bar fits a narrow terminal: at 40 columns no bar line is wider than 39") {
  for (int columns : {40, 50, 20}) {
    TempDir dir;
    PtyResult r = RunInPty(
        {"build", "--catalog", SharedCatalog(), "--index", dir.File("i"), "--threads", "1"},
        columns, kTerminal);
    INFO(columns << " columns\n" << r.out);
    REQUIRE(r.exit_code == 0);
    size_t bars = 0;
    for (const auto& seg : Segments(r.out)) {
      if (!IsBar(seg)) continue;
      ++bars;
      CHECK(seg.size() <= static_cast<size_t>(columns - 1));
    }
    CHECK(bars >= 1);
  }
}

TEST_CASE("COLUMNS is the width when the terminal does not say (a size of 0)") {
  TempDir dir;
  PtyResult r =
      RunInPty({"build", "--catalog", SharedCatalog(), "--index", dir.File("i"), "--threads", "1"},
               0, With({{"COLUMNS", "30"}}));
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  size_t bars = 0;
  for (const auto& seg : Segments(r.out)) {
    if (!IsBar(seg)) continue;
    ++bars;
    CHECK(seg.size() <= 29);
  }
  CHECK(bars >= 1);
}

TEST_CASE("no bar with CI set, TERM=dumb or --quiet; CI=false and CI=0 are not CI") {
  struct Case {
    std::map<std::string, std::string> env;
    std::vector<std::string> extra;
    bool bar;
  };
  const std::vector<Case> cases = {
      {With({{"CI", "true"}}), {}, false},   {With({{"CI", "1"}}), {}, false},
      {With({{"TERM", "dumb"}}), {}, false}, {kTerminal, {"--quiet"}, false},
      {With({{"CI", "false"}}), {}, true},   {With({{"CI", "0"}}), {}, true},
  };
  for (const auto& c : cases) {
    TempDir dir;
    std::vector<std::string> args = {"build", "--catalog", SharedCatalog(), "--index",
                                     dir.File("i")};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    PtyResult r = RunInPty(args, 80, c.env);
    INFO((c.env.count("CI") ? "CI=" + c.env.at("CI") : "") << " TERM=" << c.env.at("TERM") << "\n"
                                                           << r.out);
    REQUIRE(r.exit_code == 0);
    CHECK((r.out.find("100% done") != std::string::npos) == c.bar);
    CHECK((r.out.find('\r') != std::string::npos && r.out.find("ETA") != std::string::npos) ==
          c.bar);
    CHECK(r.out.find("published v000001") != std::string::npos);
  }
}

TEST_CASE(
    "colour: auto on a terminal, off with NO_COLOR or TERM=dumb, --color and PIDX_COLOR win") {
  TempDir dir;
  const std::string index = dir.File("i");
  REQUIRE(Pidx({"build", "--catalog", SharedCatalog(), "--index", index}).exit_code == 0);
  auto coloured = [&](const std::vector<std::string>& extra,
                      const std::map<std::string, std::string>& env) {
    std::vector<std::string> args = {"versions", "--index", index, "--log-level", "debug"};
    args.insert(args.end(), extra.begin(), extra.end());
    PtyResult r = RunInPty(args, 80, env);
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    REQUIRE(r.out.find("index.versions.completed") != std::string::npos);
    return r.out.find("\x1b[") != std::string::npos;
  };
  CHECK(coloured({}, kTerminal));
  CHECK(!coloured({}, With({{"NO_COLOR", "1"}})));
  CHECK(!coloured({}, With({{"TERM", "dumb"}})));
  CHECK(!coloured({"--color", "never"}, kTerminal));
  CHECK(!coloured({}, With({{"PIDX_COLOR", "never"}})));
  CHECK(coloured({"--color", "always"}, With({{"NO_COLOR", "1"}})));
  CHECK(coloured({"--color", "always"}, With({{"TERM", "dumb"}})));
  CHECK(!coloured({"--color", "always", "--log-format", "json"}, kTerminal));

  // Without a terminal: auto is off, always colours the text format only.
  RunResult plain =
      Pidx({"versions", "--index", index, "--log-format", "text"}, {.json_logs = false});
  CHECK(plain.err.find("\x1b[") == std::string::npos);
  RunResult forced =
      Pidx({"versions", "--index", index, "--log-format", "text", "--color", "always"},
           {.json_logs = false});
  CHECK(forced.err.find("\x1b[") != std::string::npos);
  RunResult json = Pidx({"versions", "--index", index, "--color", "always"});
  CHECK(json.err.find("\x1b[") == std::string::npos);
}

TEST_CASE("the colour choice takes auto, always or never: a flag is exit 64, PIDX_COLOR exit 78") {
  TempDir dir;
  RunResult flag = Pidx({"versions", "--index", dir.path(), "--color", "sometimes"});
  INFO(flag.err);
  CHECK(flag.exit_code == 64);
  REQUIRE(!flag.Events("index.versions.failed").empty());
  CHECK(flag.Events("index.versions.failed")[0]["option"] == "--color");
  CHECK(flag.Events("index.versions.failed")[0]["value"] == "sometimes");
  RunResult env = Pidx({"versions", "--index", dir.path()}, {.env = {{"PIDX_COLOR", "yes"}}});
  INFO(env.err);
  CHECK(env.exit_code == 78);
  REQUIRE(!env.Events("index.versions.failed").empty());
  CHECK(env.Events("index.versions.failed")[0]["variable"] == "PIDX_COLOR");
}

TEST_CASE(
    "without a terminal, per-shard events stay in json logs and build --json says where the time "
    "went") {
  TempDir dir;
  RunResult r = Pidx({"build", "--catalog", SharedCatalog(), "--index", dir.File("i"), "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["shard_count"].get<uint64_t>() == r.Events("shard.build.completed").size());
  CHECK(j["catalog_bytes"].get<uint64_t>() > 0);
  CHECK(j["products_per_second"].get<double>() > 0);
  CHECK(j["catalog_mb_per_second"].get<double>() >= 0);
  const auto& p = j["phases_ms"];
  const int64_t sum = p["read"].get<int64_t>() + p["finish_shards"].get<int64_t>() +
                      p["publish"].get<int64_t>() + p["other"].get<int64_t>();
  CHECK(sum >= j["duration_ms"].get<int64_t>() - 1);
  CHECK(sum <= j["duration_ms"].get<int64_t>() + 1);
  CHECK(p["shard_work"]["write"].get<int64_t>() >= 0);
  CHECK(r.err.find('\r') == std::string::npos);  // no bar into a pipe

  // In the text format the shard events are debug: shown with --log-level debug.
  RunResult text = Pidx(
      {"build", "--catalog", SharedCatalog(), "--index", dir.File("t"), "--log-format", "text"});
  CHECK(text.err.find("shard.build.completed") == std::string::npos);
  RunResult debug = Pidx({"build", "--catalog", SharedCatalog(), "--index", dir.File("d"),
                          "--log-format", "text", "--log-level", "debug"});
  CHECK(debug.err.find("shard.build.completed") != std::string::npos);
}

TEST_CASE("every command that succeeds logs its .completed event exactly once") {
  TempDir dir;
  const std::string index = dir.File("i");
  const std::string catalog = SharedCatalog();
  const std::string q = dir.Write("q.jsonl", "{\"query\":\"a\",\"expected\":[\"x\"]}\n");
  const std::string plan = dir.File("plan.json");
  const std::string stage = dir.File("stage");
  struct Case {
    std::vector<std::string> args;
    std::string event;
    int exit_code;
  };
  const std::vector<Case> cases = {
      {{"build", "--catalog", catalog, "--index", index}, "index.build.completed", 0},
      // unchanged: publishes nothing, and still logs its .completed event once
      {{"build", "--catalog", catalog, "--index", index}, "index.build.completed", 0},
      {{"build", "--catalog", catalog, "--index", index, "--force"}, "index.build.completed", 0},
      {{"stats", "--index", index}, "index.stats.completed", 0},
      {{"versions", "--index", index}, "index.versions.completed", 0},
      {{"query", "--index", index, "a"}, "index.query.completed", 0},
      {{"verify", "--index", index}, "index.verify.completed", 0},
      {{"recall", "--index", index, "--queries", q}, "index.recall.completed", 0},
      {{"diff", "--index", index, "1", "2"}, "index.diff.completed", 0},
      {{"rollback", "--index", index, "1"}, "index.rollback.completed", 0},
      {{"gc", "--index", index, "--keep", "1", "--dry-run"}, "index.gc.completed", 0},
      {{"plan", "--catalog", catalog, "--index", index, "--workers", "1", "--out", plan},
       "index.plan.completed",
       0},
      {{"build", "--plan", plan, "--worker", "0", "--stage", stage}, "index.stage.completed", 0},
      {{"publish", "--index", index, "--stage", stage, "--plan", plan},
       "index.publish.completed",
       0},
  };
  for (const auto& c : cases) {
    RunResult r = Pidx(c.args);
    INFO(c.args[0] << "\n" << r.err);
    REQUIRE(r.exit_code == c.exit_code);
    size_t completed = 0;
    for (const auto& e : r.Events()) {
      const std::string name = e["event"];
      if (name.size() > 10 && name.substr(name.size() - 10) == ".completed" &&
          name != "shard.build.completed") {
        ++completed;
        CHECK(name == c.event);
        CHECK(e.contains("duration_ms"));
      }
    }
    CHECK(completed == 1);
  }
  // A failure logs the .failed event and no .completed one.
  RunResult bad = Pidx({"stats", "--index", dir.File("nothing")});
  CHECK(bad.exit_code == 66);
  CHECK(bad.Events("index.stats.failed").size() == 1);
  CHECK(bad.Events("index.stats.completed").empty());
}

TEST_CASE(
    "the version flag group (--version V): the same error in verify, stats, query, recall and "
    "rollback") {
  TempDir dir;
  const std::string index = dir.File("i");
  const std::string q = dir.Write("q.jsonl", "{\"query\":\"a\",\"expected\":[\"x\"]}\n");
  const std::string why = "not a version: \"v1x\" (e.g. v000042 or 42)";
  const std::vector<std::vector<std::string>> commands = {
      {"verify", "--index", index},
      {"stats", "--index", index},
      {"query", "--index", index, "a"},
      {"recall", "--index", index, "--queries", q},
  };
  for (const auto& base : commands) {
    auto args = base;
    args.insert(args.end(), {"--version", "v1x"});
    RunResult r = Pidx(args);
    INFO(base[0] << "\n" << r.err);
    CHECK(r.exit_code == 64);
    auto events = r.Events();
    REQUIRE(!events.empty());
    CHECK(events.back()["error"] == "--version: " + why);
    CHECK(events.back()["option"] == "--version");
    CHECK(events.back()["value"] == "v1x");
    RunResult e = Pidx(base, {.env = {{"PIDX_VERSION", "v1x"}}});
    INFO(e.err);
    CHECK(e.exit_code == 78);
    REQUIRE(!e.Events().empty());
    CHECK(e.Events().back()["error"] == "PIDX_VERSION: " + why);
    CHECK(e.Events().back()["variable"] == "PIDX_VERSION");
  }
  // rollback's V: the same message, naming the operand (PIDX_VERSION is not its V).
  RunResult r = Pidx({"rollback", "--index", index, "v1x"});
  INFO(r.err);
  CHECK(r.exit_code == 64);
  REQUIRE(!r.Events("index.rollback.failed").empty());
  CHECK(r.Events("index.rollback.failed")[0]["error"] == "V: " + why);
  CHECK(r.Events("index.rollback.failed")[0]["option"] == "V");
  CHECK(r.Events("index.rollback.failed")[0]["value"] == "v1x");
  RunResult zero = Pidx({"rollback", "--index", index, "0"});
  CHECK(zero.exit_code == 64);
  RunResult protect = Pidx({"gc", "--index", index, "--keep", "1", "--protect", "v1x"});
  CHECK(protect.exit_code == 64);
  REQUIRE(!protect.Events("index.gc.failed").empty());
  CHECK(protect.Events("index.gc.failed")[0]["error"] == "--protect: " + why);
}

TEST_CASE("the threads flag group (--threads N): the same range and error in all six commands") {
  TempDir dir;
  const std::string index = dir.File("i");
  const std::string c = SharedCatalog();
  const std::vector<std::vector<std::string>> commands = {
      {"build", "--catalog", c, "--index", index},
      {"rebuild-shard", "books_000", "--catalog", c, "--index", index},
      {"verify", "--index", index},
      {"rollback", "--index", index, "1"},
      {"diff", "--index", index, "1", "2"},
      {"plan", "--catalog", c, "--index", index, "--workers", "1", "--out", dir.File("p")},
  };
  std::string first;
  for (const auto& base : commands) {
    auto args = base;
    args.insert(args.end(), {"--threads", "1025"});
    RunResult r = Pidx(args);
    INFO(base[0] << "\n" << r.err);
    CHECK(r.exit_code == 64);
    REQUIRE(!r.Events().empty());
    const std::string error = r.Events().back()["error"];
    if (first.empty()) first = error;
    CHECK(error == first);
    CHECK(r.Events().back()["option"] == "--threads");
  }
  CHECK(first.find("--threads") == 0);
}
