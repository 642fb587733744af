#include "support/run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace pidx::testing {
namespace {

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  if (v != nullptr && *v != '\0') return v;
  if (fallback != nullptr && *fallback != '\0') return fallback;
  throw std::runtime_error(std::string(name) + " is not set");
}

#ifndef PIDX_TEST_BIN
#define PIDX_TEST_BIN ""
#define PIDX_TEST_GEN ""
#define PIDX_TEST_SOURCE_DIR ""
#endif

std::vector<std::string> BuildEnv(const std::map<std::string, std::string>& add,
                                  const std::vector<std::string>& unset) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    bool drop = add.count(key) > 0;
    for (const auto& u : unset) drop = drop || key == u;
    // Tests decide the PIDX_* environment themselves.
    if (key.rfind("PIDX_", 0) == 0 && key != "PIDX_BIN" && key != "PIDX_GEN" &&
        key != "PIDX_SOURCE_DIR")
      drop = true;
    if (key == "TRACEPARENT") drop = true;
    if (!drop) out.push_back(kv);
  }
  for (const auto& [k, v] : add) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int DecodeWait(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::vector<nlohmann::json> RunResult::Events() const {
  std::vector<nlohmann::json> events;
  std::istringstream in(err);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object()) events.push_back(std::move(j));
  }
  return events;
}

std::vector<nlohmann::json> RunResult::Events(const std::string& name) const {
  std::vector<nlohmann::json> events;
  for (auto& e : Events()) {
    if (e.value("event", "") == name) events.push_back(e);
  }
  return events;
}

std::string PidxBin() { return Env("PIDX_BIN", PIDX_TEST_BIN); }
std::string GenBin() { return Env("PIDX_GEN", PIDX_TEST_GEN); }
std::string SourceDir() { return Env("PIDX_SOURCE_DIR", PIDX_TEST_SOURCE_DIR); }

RunResult Run(const std::string& bin, const std::vector<std::string>& args,
              const RunOptions& options) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> argv_s = {bin};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s = BuildEnv(options.env, options.unset_env);
  auto argv = CStrings(argv_s);
  auto envp = CStrings(env_s);

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    execve(bin.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  // Feed stdin and drain both outputs together so no pipe fills up and blocks the child.
  RunResult r;
  size_t in_off = 0;
  int in_fd = in_pipe[1];
  if (options.stdin_data.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  bool out_open = true, err_open = true;
  char buf[65536];
  signal(SIGPIPE, SIG_IGN);
  while (out_open || err_open || in_fd >= 0) {
    pollfd fds[3];
    int n = 0;
    if (out_open) fds[n++] = {out_pipe[0], POLLIN, 0};
    if (err_open) fds[n++] = {err_pipe[0], POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w =
            write(in_fd, options.stdin_data.data() + in_off, options.stdin_data.size() - in_off);
        if (w > 0) in_off += static_cast<size_t>(w);
        if (w < 0 || in_off == options.stdin_data.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      bool is_out = fds[i].fd == out_pipe[0];
      if (got <= 0) {
        (is_out ? out_open : err_open) = false;
      } else {
        (is_out ? r.out : r.err).append(buf, static_cast<size_t>(got));
      }
    }
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = DecodeWait(status);
  return r;
}

RunResult Pidx(const std::vector<std::string>& args, const RunOptions& options) {
  std::vector<std::string> a = args;
  bool has_format = false;
  for (const auto& s : a) has_format = has_format || s == "--log-format";
  if (options.json_logs && !has_format && !a.empty()) {
    a.push_back("--log-format");
    a.push_back("json");
  }
  return Run(PidxBin(), a, options);
}

pid_t Spawn(const std::string& bin, const std::vector<std::string>& args,
            const std::string& out_file, const std::string& err_file,
            const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv_s = {bin};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s = BuildEnv(env, {});
  auto argv = CStrings(argv_s);
  auto envp = CStrings(env_s);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out, 1);
    dup2(err, 2);
    execve(bin.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return DecodeWait(status);
}

std::string GenCatalog(const std::string& path, int products, int seed,
                       const std::vector<std::string>& extra) {
  std::vector<std::string> args = {
      "--products", std::to_string(products), "--seed", std::to_string(seed), "--out", path};
  args.insert(args.end(), extra.begin(), extra.end());
  RunResult r =
      Run(GenBin(), args, {.env = {}, .unset_env = {}, .stdin_data = "", .json_logs = false});
  if (r.exit_code != 0) throw std::runtime_error("pidx-gen failed: " + r.err);
  return path;
}

}  // namespace pidx::testing
