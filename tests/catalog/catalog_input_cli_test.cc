// End-to-end: catalogs that are not plain regular files (pipes, process substitution,
// /dev/stdin, "-", named FIFOs, compressed data through a pipe) and malformed records, read by
// the real binary. A catalog is read once; its identity comes from the bytes that were parsed.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>

#include "support/run.h"
#include "support/temp_dir.h"

using nlohmann::json;
using pidx::testing::GenCatalog;
using pidx::testing::Pidx;
using pidx::testing::PidxBin;
using pidx::testing::ReadFile;
using pidx::testing::RunResult;
using pidx::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// Runs a bash script in which $PIDX is the binary under test.
RunResult Bash(const std::string& script, const std::string& stdin_data = "") {
  return pidx::testing::Run(
      "/bin/bash", {"-c", "PIDX='" + PidxBin() + "'\n" + script},
      {.env = {}, .unset_env = {}, .stdin_data = stdin_data, .json_logs = false});
}

json ManifestOf(const std::string& index, const std::string& version = "v000001") {
  std::string text = ReadFile(index + "/versions/" + version + ".manifest");
  return json::parse(text.substr(0, text.rfind("xxh3 ")));
}

json CatalogIdentity(const std::string& index) {
  json c = ManifestOf(index)["catalogs"][0];
  c.erase("path");
  return c;
}

bool Published(const std::string& index) { return fs::exists(index + "/CURRENT"); }

}  // namespace

TEST_CASE("a catalog through a pipe, /dev/stdin, - or a FIFO publishes every product once") {
  TempDir dir;
  const std::string catalog = GenCatalog(dir.File("c.jsonl"), 20000, 5);
  RunResult ref = Pidx({"build", "--catalog", catalog, "--index", dir.File("ref"), "--json"});
  REQUIRE(ref.exit_code == 0);
  const json identity = CatalogIdentity(dir.File("ref"));
  CHECK(identity["products"] == 20000);

  REQUIRE(mkfifo(dir.File("fifo").c_str(), 0600) == 0);
  const std::map<std::string, std::string> scripts = {
      {"process substitution",
       "\"$PIDX\" build --catalog <(cat c.jsonl) --index idx --json --log-format json"},
      {"/dev/stdin",
       "\"$PIDX\" build --catalog /dev/stdin --index idx --json --log-format json"
       " < c.jsonl"},
      {"-", "cat c.jsonl | \"$PIDX\" build --catalog - --index idx --json --log-format json"},
      {"a named FIFO",
       "(sleep 0.3; cat c.jsonl > fifo) & \"$PIDX\" build --catalog fifo "
       "--format jsonl --index idx --json --log-format json; rc=$?; wait; "
       "exit $rc"},
  };
  for (const auto& [name, script] : scripts) {
    fs::remove_all(dir.File("idx"));
    RunResult r = Bash("cd '" + dir.path() + "' || exit 9\n" + script);
    INFO(name << "\n" << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(json::parse(r.out)["docs"] == 20000);
    CHECK(r.Events("catalog.record.skipped").empty());
    // The same bytes give the same identity, whatever the path they came through.
    CHECK(CatalogIdentity(dir.File("idx")) == identity);
    CHECK(Pidx({"verify", "--index", dir.File("idx"), "--catalog", catalog}).exit_code == 0);
  }
}

TEST_CASE("gzip and zstd catalogs through a pipe are read whole") {
  TempDir dir;
  GenCatalog(dir.File("c.jsonl"), 5000, 6);
  RunResult z = Bash("cd '" + dir.path() + "' && gzip -k c.jsonl && zstd -q c.jsonl");
  REQUIRE(z.exit_code == 0);
  for (const std::string file : {"c.jsonl.gz", "c.jsonl.zst"}) {
    fs::remove_all(dir.File("idx"));
    RunResult r = Bash("cd '" + dir.path() + "' && \"$PIDX\" build --catalog <(cat " + file +
                       ") --index idx --json --log-format json");
    INFO(file << "\n" << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(json::parse(r.out)["docs"] == 5000);
    // The identity is of the stored (compressed) bytes, as for the regular file.
    const json c = ManifestOf(dir.File("idx"))["catalogs"][0];
    CHECK(c["size"] == fs::file_size(dir.File(file)));
    fs::remove_all(dir.File("reg"));
    REQUIRE(Pidx({"build", "--catalog", dir.File(file), "--index", dir.File("reg")}).exit_code ==
            0);
    CHECK(ManifestOf(dir.File("reg"))["catalogs"][0]["xxh3"] == c["xxh3"]);
  }
}

TEST_CASE("a duplicate id through a pipe exits 65 naming both lines, as from a file") {
  TempDir dir;
  const std::string lines =
      "{\"id\":\"A\",\"category\":\"Books\",\"title\":\"one\"}\n"
      "{\"id\":\"B\",\"category\":\"Books\",\"title\":\"two\"}\n"
      "{\"id\":\"A\",\"category\":\"Toys\",\"title\":\"three\"}\n";
  const std::string file = dir.Write("d.jsonl", lines);
  RunResult from_file = Pidx({"build", "--catalog", file, "--index", dir.File("f")});
  CHECK(from_file.exit_code == 65);
  RunResult piped =
      Pidx({"build", "--catalog", "-", "--index", dir.File("p")}, {.stdin_data = lines});
  CHECK(piped.exit_code == 65);
  auto failed = piped.Events("index.build.failed");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["error"] == "<stdin>:3: duplicate id \"A\" (first seen at <stdin>:1)");
  CHECK(!Published(dir.File("p")));
  RunResult fifo =
      Bash("cd '" + dir.path() + "' && mkfifo q && (cat d.jsonl > q &) && " +
           "\"$PIDX\" build --catalog q --format jsonl --index q-idx --log-format json");
  CHECK(fifo.exit_code == 65);
  CHECK(fifo.err.find("q:3: duplicate id \\\"A\\\" (first seen at q:1)") != std::string::npos);
  CHECK(!Published(dir.File("q-idx")));
}

TEST_CASE("a build waiting on a FIFO without a writer obeys SIGTERM: exit 143, nothing published") {
  TempDir dir;
  REQUIRE(mkfifo(dir.File("fifo").c_str(), 0600) == 0);
  // No writer at all (the open would block), then a writer that opens and sends nothing (a
  // blocked read).
  for (bool writer : {false, true}) {
    const std::string index = dir.File(writer ? "w" : "n");
    pid_t holder = -1;
    if (writer) {
      holder =
          pidx::testing::Spawn("/bin/bash", {"-c", "exec 3>'" + dir.File("fifo") + "'; sleep 30"},
                               dir.File("h.out"), dir.File("h.err"));
    }
    pid_t pid = pidx::testing::Spawn(PidxBin(),
                                     {"build", "--catalog", dir.File("fifo"), "--format", "jsonl",
                                      "--index", index, "--log-format", "json"},
                                     dir.File("b.out"), dir.File("b.err"));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    kill(pid, SIGTERM);
    const auto t0 = std::chrono::steady_clock::now();
    int code = pidx::testing::Wait(pid);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
    if (holder > 0) {
      kill(holder, SIGKILL);
      pidx::testing::Wait(holder);
    }
    INFO("writer " << writer << ": " << ReadFile(dir.File("b.err")));
    CHECK(code == 143);
    CHECK(ReadFile(dir.File("b.err")).find("index.build.failed") != std::string::npos);
    CHECK(!Published(index));
  }
}

TEST_CASE(
    "plan and a worker read a FIFO once, and a worker fed other bytes refuses before staging") {
  TempDir dir;
  const std::string catalog = GenCatalog(dir.File("c.jsonl"), 3000, 8);
  GenCatalog(dir.File("o.jsonl"), 3000, 9);
  REQUIRE(mkfifo(dir.File("feed.jsonl").c_str(), 0600) == 0);
  // Each step gets the FIFO fed by a writer of its own, as a job would.
  auto fed = [&](const std::string& source, const std::string& command) {
    return Bash("cd '" + dir.path() + "' || exit 9\n(cat " + source + " > feed.jsonl) &\n" +
                "\"$PIDX\" " + command + " --log-format json; rc=$?; wait; exit $rc");
  };
  RunResult plan = fed("c.jsonl", "plan --catalog feed.jsonl --workers 1 --out p.plan --index idx");
  INFO(plan.err);
  REQUIRE(plan.exit_code == 0);
  std::string text = ReadFile(dir.File("p.plan"));
  json p = json::parse(text.substr(0, text.rfind("xxh3 ")));
  CHECK(p["products"] == 3000);
  REQUIRE(Pidx({"build", "--catalog", catalog, "--index", dir.File("ref")}).exit_code == 0);
  json planned = p["catalogs"][0];
  planned.erase("path");
  CHECK(planned == CatalogIdentity(dir.File("ref")));

  // Other bytes through the planned FIFO: known only after the scan; refused, nothing staged.
  RunResult wrong = fed("o.jsonl", "build --plan p.plan --worker 0 --stage stage");
  CHECK(wrong.exit_code == 65);
  CHECK(wrong.err.find("the catalog changed since the plan was made") != std::string::npos);
  CHECK(!fs::exists(dir.File("stage/workers/worker-00000.manifest")));
  bool any_segment = false;
  if (fs::exists(dir.File("stage/segments"))) {
    for (const auto& e : fs::directory_iterator(dir.File("stage/segments"))) {
      any_segment = any_segment || e.path().extension() == ".seg";
    }
  }
  CHECK(!any_segment);

  // The planned bytes: staged and published whole.
  RunResult right = fed("c.jsonl", "build --plan p.plan --worker 0 --stage stage");
  INFO(right.err);
  REQUIRE(right.exit_code == 0);
  RunResult pub = Pidx({"publish", "--stage", dir.File("stage"), "--plan", dir.File("p.plan"),
                        "--index", dir.File("idx"), "--json"});
  INFO(pub.err);
  REQUIRE(pub.exit_code == 0);
  CHECK(json::parse(pub.out)["docs"] == 3000);
}

TEST_CASE("reordering the keys of attrs is not a changed product") {
  TempDir dir;
  const std::string a =
      dir.Write("a.jsonl",
                "{\"id\":\"A\",\"category\":\"Audio\",\"title\":\"headphones\","
                "\"attrs\":{\"color\":\"black\",\"size\":42,\"ports\":[\"usb\",\"jack\"]}}\n");
  const std::string b =
      dir.Write("b.jsonl",
                "{\"id\":\"A\",\"category\":\"Audio\",\"title\":\"headphones\","
                "\"attrs\":{\"ports\":[\"usb\",\"jack\"],\"size\":42,\"color\":\"black\"}}\n");
  const std::string index = dir.File("idx");
  REQUIRE(Pidx({"build", "--catalog", a, "--index", index}).exit_code == 0);
  RunResult r = Pidx({"build", "--catalog", b, "--index", index, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out)["segments_written"] == 0);  // the same segment, byte for byte
  CHECK(json::parse(r.out)["unchanged"] == true);      // and so no new version (issue 18)
  CHECK(!fs::exists(index + "/versions/v000002.manifest"));
  CHECK(Pidx({"verify", "--index", index, "--catalog", a}).exit_code == 0);
}

TEST_CASE("CSV NUL bytes, stray quotes, 1e400 and whitespace-only ids exit 65 with file:line") {
  TempDir dir;
  const std::map<std::string, std::string> cases = {
      {"stray quote", "1,Books,t\"x,1\n"}, {"NUL", std::string("1,Books,a") + '\0' + "b,1\n"},
      {"1e400", "1,Books,t,1e400\n"},      {"blank id", " \t,Books,t,1\n"},
      {"blank category", "1,  ,t,1\n"},
  };
  for (const auto& [name, row] : cases) {
    const std::string f = dir.Write("c.csv", "id,category,title,price\n" + row);
    RunResult r = Pidx({"build", "--catalog", f, "--index", dir.File("idx")});
    INFO(name << "\n" << r.err);
    CHECK(r.exit_code == 65);
    auto failed = r.Events("index.build.failed");
    REQUIRE(failed.size() == 1);
    CHECK(failed[0]["error"].get<std::string>().rfind(f + ":2: ", 0) == 0);
    CHECK(!Published(dir.File("idx")));
  }
  for (const std::string line :
       {"{\"id\":\"  \",\"category\":\"Books\"}", "{\"id\":\"A\",\"category\":\"\\t\"}"}) {
    const std::string f = dir.Write("c.jsonl", line + "\n");
    RunResult r = Pidx({"build", "--catalog", f, "--index", dir.File("idx")});
    INFO(line);
    CHECK(r.exit_code == 65);
    CHECK(r.err.find("is only whitespace") != std::string::npos);
  }
}

TEST_CASE("malformed JSON in a field the schema does not use exits 65, or is skipped") {
  TempDir dir;
  const std::vector<std::string> bad = {"[1 2 3]", "tru", "{\"a\" 1}", "[1,,2]", "{\"a\":1,}"};
  std::string text = "{\"id\":\"OK\",\"category\":\"Books\",\"x\":[1,{\"b\":null}]}\n";
  for (size_t i = 0; i < bad.size(); ++i) {
    text += "{\"id\":\"B" + std::to_string(i) + "\",\"category\":\"Books\",\"x\":" + bad[i] + "}\n";
  }
  const std::string f = dir.Write("c.jsonl", text);
  RunResult r = Pidx({"build", "--catalog", f, "--index", dir.File("idx")});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find(f + ":2: malformed JSON") != std::string::npos);
  CHECK(!Published(dir.File("idx")));
  RunResult skip =
      Pidx({"build", "--catalog", f, "--index", dir.File("idx"), "--max-bad-lines", "5", "--json"});
  INFO(skip.err);
  REQUIRE(skip.exit_code == 0);
  CHECK(json::parse(skip.out)["docs"] == 1);
  CHECK(json::parse(skip.out)["bad_lines_skipped"] == 5);
  CHECK(skip.Events("catalog.record.skipped").size() == 5);
}

TEST_CASE("an endless line through a pipe fails at the line limit instead of reading for ever") {
  // The overlong line used to be skipped to its end before it was reported: a pipe of
  // /dev/zero was read until killed. Now the error comes at --max-line-bytes.
  TempDir dir;
  for (const std::string format : {"jsonl", "csv", "tsv"}) {
    const std::string header =
        format == "jsonl" ? "" : (format == "csv" ? "id,category\\n" : "id\\tcategory\\n");
    const std::string script = "(printf '" + header +
                               "'; exec cat /dev/zero) | timeout -s KILL 60 \"$0\" build "
                               "--catalog - --format " +
                               format + " --index " + dir.File("idx-" + format) +
                               " --max-line-bytes 65536 --log-format json";
    RunResult r = pidx::testing::Run("/bin/sh", {"-c", script, pidx::testing::PidxBin()});
    INFO(format << ": " << r.err);
    CHECK(r.exit_code == 65);
    CHECK(r.err.find("line longer than 65536 bytes") != std::string::npos);
    CHECK(!fs::exists(dir.File("idx-" + format + "/CURRENT")));
  }
}
