// End-to-end: what pidx says about itself (issue 18, "Discoverability" and "Install like a Unix
// tool"). `pidx help CMD` is `pidx CMD --help`; the help shows defaults, PIDX_* names, required
// flags and exit codes; misspelt commands and flags get a suggestion; --version names the
// build; and the man page and the bash, zsh and fish completions hold every flag of every
// command, checked by asking the shells themselves to complete.
#include <regex>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>

#include "support/run.h"
#include "support/temp_dir.h"

using pidx::testing::Pidx;
using pidx::testing::PidxBin;
using pidx::testing::Run;
using pidx::testing::RunOptions;
using pidx::testing::RunResult;
using pidx::testing::TempDir;

namespace {

RunOptions Plain() {
  RunOptions o;
  o.json_logs = false;
  return o;
}

// The commands `pidx --help` lists (the lines of its "Commands:" section).
std::vector<std::string> ListedCommands() {
  const RunResult r = Pidx({"--help"}, Plain());
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> out;
  std::istringstream in(r.out.substr(r.out.find("Commands:\n") + 10));
  std::string line;
  while (std::getline(in, line) && !line.empty()) {
    if (line.size() < 3 || line[2] == ' ') continue;  // a wrapped summary
    std::istringstream words(line);
    std::string name;
    words >> name;
    out.push_back(name);
  }
  return out;
}

// The flags `pidx CMD --help` lists in its "Options:" section: what the parser accepts, since
// the help is rendered from the parser's own option list.
std::set<std::string> HelpFlags(const std::string& cmd) {
  const RunResult r = Pidx({cmd, "--help"}, Plain());
  REQUIRE(r.exit_code == 0);
  std::set<std::string> flags;
  const std::string options = r.out.substr(r.out.find("\nOptions:\n"));
  const std::regex flag(R"(^  (?:-[a-z], )?(--[a-z][a-z-]*))");
  std::istringstream in(options);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, flag)) flags.insert(m[1]);
  }
  return flags;
}

std::set<std::string> Words(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string w;
  while (in >> w) out.insert(w);
  return out;
}

// Runs `script` in bash with pidx's completion loaded; returns stdout.
RunResult Bash(const std::string& script) {
  return Run(
      "/bin/bash",
      {"--norc", "--noprofile", "-c", "source <(\"$PIDX\" completion bash) || exit 9\n" + script},
      {.env = {{"PIDX", PidxBin()}}, .unset_env = {}, .stdin_data = "", .json_logs = false});
}

// What the completion function offers for the words of `line` (the cursor after the last).
std::string BashComplete(const std::vector<std::string>& words) {
  std::string array;
  for (const auto& w : words) array += " '" + w + "'";
  const RunResult r =
      Bash("COMP_WORDS=(" + array + "); COMP_CWORD=" + std::to_string(words.size() - 1) +
           "; _pidx; for w in \"${COMPREPLY[@]}\"; do echo \"$w\"; done");
  REQUIRE(r.exit_code == 0);
  return r.out;
}

// `text` with every line break and the indentation after it made one space (a wrapped
// description reads as one line).
std::string Flat(const std::string& text) {
  return std::regex_replace(text, std::regex("\n +"), " ");
}

// The candidates of fish's `complete -C` (each line: candidate, tab, description).
std::set<std::string> Candidates(const std::string& out) {
  std::set<std::string> words;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) words.insert(line.substr(0, line.find('\t')));
  return words;
}

// The full path of a program on PATH, or "".
std::string Which(const std::string& name) {
  RunResult r = Run("/bin/sh", {"-c", "command -v " + name}, Plain());
  if (r.exit_code != 0 || r.out.empty()) return "";
  return r.out.substr(0, r.out.find('\n'));
}

}  // namespace

TEST_CASE("pidx help CMD prints exactly what pidx CMD --help prints, for every command") {
  const auto commands = ListedCommands();
  REQUIRE(commands.size() >= 14);
  for (const auto& cmd : commands) {
    INFO(cmd);
    const RunResult help = Pidx({"help", cmd}, Plain());
    const RunResult flag = Pidx({cmd, "--help"}, Plain());
    CHECK(help.exit_code == 0);
    CHECK(flag.exit_code == 0);
    CHECK(help.out == flag.out);
    CHECK(help.out.rfind("pidx " + cmd + ": ", 0) == 0);
    CHECK(help.out.find("\nExit codes:\n") != std::string::npos);
  }
  CHECK(Pidx({"help"}, Plain()).out == Pidx({"--help"}, Plain()).out);
}

TEST_CASE("--help shows defaults, PIDX_* names, required flags and exit codes") {
  const std::string build = Flat(Pidx({"build", "--help"}, Plain()).out);
  const std::regex lock(R"(--lock-timeout DUR +.*\[default: 5s\] \[env: PIDX_LOCK_TIMEOUT\])");
  CHECK(std::regex_search(build, lock));
  CHECK(build.find("[default: 8] [env: PIDX_SHARDS_PER_CATEGORY]") != std::string::npos);
  CHECK(build.find("[default: 0.2] [env: PIDX_MAX_SHRINK]") != std::string::npos);
  CHECK(build.find("--index DIR") != std::string::npos);
  CHECK(build.find("[required unless --plan] [env: PIDX_INDEX]") != std::string::npos);
  CHECK(build.find("--format auto|jsonl|csv|tsv") != std::string::npos);
  CHECK(build.find("[default: auto] [env: PIDX_FORMAT]") != std::string::npos);
  CHECK(build.find(" 75       lock timeout") != std::string::npos);
  CHECK(build.find(" 65       bad catalog data") != std::string::npos);

  const std::string gc = Flat(Pidx({"gc", "--help"}, Plain()).out);
  CHECK(gc.find("--keep N") != std::string::npos);
  CHECK(gc.find("[required] [env: PIDX_KEEP]") != std::string::npos);  // no "default: 0"
  CHECK(gc.find("[default: 1h] [env: PIDX_GRACE]") != std::string::npos);

  const std::string verify = Flat(Pidx({"verify", "--help"}, Plain()).out);
  CHECK(verify.find(" 1        the version has problems") != std::string::npos);
  // Every line fits a terminal of 80 columns.
  for (const auto& cmd : ListedCommands()) {
    std::istringstream in(Pidx({cmd, "--help"}, Plain()).out);
    std::string line;
    while (std::getline(in, line)) {
      INFO(cmd << ": " << line);
      CHECK(line.size() <= 80);
    }
  }
}

TEST_CASE("query --help carries the query language itself") {
  const std::string q = Pidx({"query", "--help"}, Plain()).out;
  for (const char* part : {"brand:\"Apple Inc.\"", "category:books", "attrs.color:red", "a OR b",
                           "-a ", "( ... )", "by external id", "column"}) {
    INFO(part);
    CHECK(q.find(part) != std::string::npos);
  }
}

TEST_CASE("a misspelt command or flag gets the closest names, exit 64") {
  RunResult r = Pidx({"biuld"});
  CHECK(r.exit_code == 64);
  auto ev = r.Events("pidx.failed");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0]["error"].get<std::string>().find("did you mean \"build\"?") != std::string::npos);
  CHECK(ev[0]["command"] == "biuld");

  r = Pidx({"rebuild-shrad"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("did you mean \\\"rebuild-shard\\\"?") != std::string::npos);

  r = Pidx({"build", "--catalgo", "x.jsonl", "--index", "i"});
  CHECK(r.exit_code == 64);
  ev = r.Events("index.build.failed");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0]["error"] ==
        "unknown option \"--catalgo\" for pidx build; did you mean \"--catalog\"?");
  CHECK(ev[0]["option"] == "--catalgo");

  r = Pidx({"stats", "--idnex=i"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("did you mean \\\"--index\\\"?") != std::string::npos);

  // Nothing close: no guess, the list of commands.
  r = Pidx({"zzzzzz"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("did you mean") == std::string::npos);
  CHECK(r.err.find("commands: build, rebuild-shard") != std::string::npos);

  r = Pidx({"help", "biuld"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("did you mean \\\"build\\\"?") != std::string::npos);

  // The text format keeps its hint line.
  r = Pidx({"biuld", "--log-format", "text"}, Plain());
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("did you mean \"build\"?") != std::string::npos);
}

TEST_CASE("pidx --version names the version, the commit, the build and the libraries") {
  const RunResult r = Pidx({"--version"}, Plain());
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.rfind("pidx " PIDX_VERSION "\n", 0) == 0);
  CHECK(std::regex_search(r.out, std::regex("\ncommit: ([0-9a-f]{7,}|unknown)\n")));
  CHECK(std::regex_search(r.out, std::regex("\nbuild: [A-Za-z]+, (GNU|Clang) [0-9.]+, C\\+\\+20")));
  for (const char* lib : {"CRoaring 0.", "simdjson 3.", "ICU 7", "CLI11 2.", "fmt ", "spdlog 1.",
                          "nlohmann_json 3.", "xxHash 0.", "zlib 1.", "zstd 1."}) {
    INFO(lib);
    CHECK(r.out.find(lib) != std::string::npos);
  }
  // The environment never turns it into a command's --version V.
  RunOptions o = Plain();
  o.env["PIDX_VERSION"] = "v000001";
  CHECK(Pidx({"--version"}, o).out == r.out);
}

TEST_CASE("the man page has a section per command holding each of its flags, and man renders it") {
  const RunResult man = Pidx({"__man"});
  REQUIRE(man.exit_code == 0);
  CHECK(man.out.rfind(".TH PIDX 1 ", 0) == 0);
  for (const auto& cmd : ListedCommands()) {
    std::string name;
    for (char c : cmd) name += c == '-' ? std::string("\\-") : std::string(1, c);
    const size_t start = man.out.find("\n.SS " + name + "\n");
    INFO(cmd);
    REQUIRE(start != std::string::npos);
    const size_t end = man.out.find("\n.S", start + 1);
    const std::string section = man.out.substr(start, end - start);
    for (const auto& flag : HelpFlags(cmd)) {
      INFO(flag);
      std::string roff;
      for (char c : flag) roff += c == '-' ? std::string("\\-") : std::string(1, c);
      CHECK(section.find(roff + "\\fR") != std::string::npos);
    }
  }
  for (const char* part : {".SH EXIT STATUS", ".SH ENVIRONMENT", "PIDX_LOCK_TIMEOUT", ".B 75"}) {
    CHECK(man.out.find(part) != std::string::npos);
  }
  // man-db renders it without a warning (an unknown macro, a bad escape).
  TempDir dir;
  const std::string page = dir.Write("pidx.1", man.out);
  const RunResult rendered =
      Run("/bin/sh", {"-c", "MANWIDTH=80 man --warnings -E UTF-8 -l -P cat \"$0\"", page},
          {.env = {{"LC_ALL", "C.UTF-8"}}, .unset_env = {}, .stdin_data = "", .json_logs = false});
  CHECK(rendered.exit_code == 0);
  CHECK(rendered.err == "");
  CHECK(rendered.out.find("rebuild-shard") != std::string::npos);
  CHECK(rendered.out.find("--lock-timeout") != std::string::npos);
}

TEST_CASE("bash completion: complete -p pidx, commands, flags and their values") {
  RunResult r = Bash("complete -p pidx");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "complete -F _pidx pidx\n");

  CHECK(BashComplete({"pidx", "bu"}) == "build\n");
  CHECK(BashComplete({"pidx", "re"}) == "rebuild-shard\nrecall\n");
  CHECK(BashComplete({"pidx", "build", "--cat"}) == "--catalog\n");
  CHECK(BashComplete({"pidx", "build", "--log-format", "j"}) == "json\n");
  CHECK(BashComplete({"pidx", "verify", "--format", ""}) == "auto\njsonl\ncsv\ntsv\n");
  CHECK(BashComplete({"pidx", "completion", "z"}) == "zsh\n");
  CHECK(BashComplete({"pidx", "help", "rol"}) == "rollback\n");
  CHECK(BashComplete({"pidx", "--ver"}) == "--version\n");
  CHECK(BashComplete({"pidx", "gc", "--keep", ""}).empty());  // a number: nothing to offer

  // Values that are paths: directories for DIR, files for FILE, also after --flag=.
  TempDir dir;
  dir.Write("idx-one/x", "");
  dir.Write("catalog.jsonl", "");
  const std::string base = dir.path() + "/";
  CHECK(BashComplete({"pidx", "stats", "--index", base + "idx"}) == base + "idx-one\n");
  CHECK(BashComplete({"pidx", "stats", "--index", "=", base + "idx"}) == base + "idx-one\n");
  CHECK(BashComplete({"pidx", "build", "--catalog", base + "cat"}) == base + "catalog.jsonl\n");
  // A further catalog of the same --catalog.
  CHECK(BashComplete({"pidx", "build", "--catalog", "a.jsonl", base + "cat"}) ==
        base + "catalog.jsonl\n");

  // Every flag of every command, as the shell completes "--".
  for (const auto& cmd : ListedCommands()) {
    INFO(cmd);
    std::set<std::string> offered = Words(BashComplete({"pidx", cmd, "--"}));
    offered.erase("-h");
    offered.erase("-q");
    CHECK(offered == HelpFlags(cmd));
  }
}

TEST_CASE("zsh and fish completion: the shells load them and complete every flag") {
  // scripts/test installs both (Debian packages zsh, fish).
  const std::string zsh_bin = Which("zsh");
  const std::string fish_bin = Which("fish");
  REQUIRE(!zsh_bin.empty());
  REQUIRE(!fish_bin.empty());
  const RunOptions env{
      .env = {{"PIDX", PidxBin()}}, .unset_env = {}, .stdin_data = "", .json_logs = false};

  RunResult z = Run(zsh_bin,
                    {"-f", "-c",
                     "autoload -Uz compinit && compinit -u -D && "
                     "source <(\"$PIDX\" completion zsh) && print -r -- $_comps[pidx]"},
                    env);
  CHECK(z.exit_code == 0);
  CHECK(z.err == "");
  CHECK(z.out == "_pidx\n");
  const std::string zsh = Pidx({"completion", "zsh"}).out;

  RunResult f = Run(
      fish_bin, {"--no-config", "-c", "$PIDX completion fish | source; complete -C'pidx bu'"}, env);
  CHECK(f.exit_code == 0);
  CHECK(f.out.rfind("build\t", 0) == 0);
  f = Run(fish_bin,
          {"--no-config", "-c",
           "$PIDX completion fish | source; complete -C'pidx build --log-format '"},
          env);
  CHECK(Candidates(f.out) == std::set<std::string>{"auto", "json", "logfmt", "text"});

  for (const auto& cmd : ListedCommands()) {
    INFO(cmd);
    const std::set<std::string> flags = HelpFlags(cmd);
    // zsh: each flag is in the command's _arguments block.
    const size_t start = zsh.find("\n        " + cmd + ")\n");
    REQUIRE(start != std::string::npos);
    const std::string block = zsh.substr(start, zsh.find(";;", start) - start);
    for (const auto& flag : flags) {
      INFO(flag);
      CHECK(block.find(flag) != std::string::npos);
    }
    // fish: the shell completes exactly these flags after "--".
    f = Run(
        fish_bin,
        {"--no-config", "-c", "$PIDX completion fish | source; complete -C'pidx " + cmd + " --'"},
        env);
    CHECK(Candidates(f.out) == flags);
  }
}

TEST_CASE("a bad record that fails the run says how to skip it, and CSV on stdin names --format") {
  TempDir dir;
  const std::string bad =
      dir.Write("bad.jsonl", "{\"id\":\"A\",\"category\":\"Books\"}\n{\"id\":\"B\",\n{\"id\":3\n");
  RunResult r = Pidx({"build", "--catalog", bad, "--index", dir.File("idx")});
  CHECK(r.exit_code == 65);
  auto ev = r.Events("index.build.failed");
  REQUIRE(ev.size() == 1);
  const std::string error = ev[0]["error"];
  CHECK(error.rfind(bad + ":2: malformed JSON", 0) == 0);
  CHECK(error.find("--max-bad-lines") == std::string::npos);  // the error stays as it was
  CHECK(ev[0]["hint"] == "--max-bad-lines N skips up to N bad records, each logged");

  r = Pidx({"build", "--catalog", bad, "--index", dir.File("idx"), "--max-bad-lines", "1"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find(":3: ") != std::string::npos);
  CHECK(r.Events("index.build.failed").at(0)["hint"] == "more bad records than --max-bad-lines 1");

  RunOptions csv;
  csv.stdin_data = "id,category,title\n1,Books,Dune\n";
  r = Pidx({"build", "--catalog", "-", "--index", dir.File("idx")}, csv);
  CHECK(r.exit_code == 65);
  ev = r.Events("index.build.failed");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0]["error"].get<std::string>().rfind("<stdin>:1: ", 0) == 0);
  CHECK(ev[0]["hint"] ==
        "standard input is read as JSON Lines: for CSV or TSV give --format csv or tsv; "
        "--max-bad-lines N skips up to N bad records, each logged");
  // With the format given, the same bytes build.
  r = Pidx({"build", "--catalog", "-", "--format", "csv", "--index", dir.File("idx")}, csv);
  CHECK(r.exit_code == 0);

  // A refusal of the publishing guard is no bad record: no hint.
  r = Pidx({"build", "--catalog", dir.Write("empty.jsonl", ""), "--index", dir.File("idx")});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("--max-bad-lines") == std::string::npos);
  CHECK(r.err.find("\"hint\"") == std::string::npos);
}

TEST_CASE("pidx without a command lists the commands, exit 64") {
  const RunResult r = Pidx({}, Plain());
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("no command given (commands: build, rebuild-shard") != std::string::npos);
}

TEST_CASE("options without a command say the command comes first, also under --json") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--bogus", "--json"}, {"--json"}, {"--index", "x", "--json"}}) {
    const RunResult r = Pidx(args, Plain());
    INFO(r.out << r.err);
    CHECK(r.exit_code == 64);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["ok"] == false);
    CHECK(j["option"] == args[0]);
    const std::string error = j["error"];
    CHECK(error.find("no command given before \"" + args[0] + "\"") != std::string::npos);
    CHECK(error.find("commands: build, rebuild-shard") != std::string::npos);
    CHECK(r.err.find("A subcommand is required") == std::string::npos);
  }
}
