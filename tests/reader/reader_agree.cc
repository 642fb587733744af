// reader_agree: runs a file of queries through libpidx's public C++ API (pidx/reader.h) or its
// C API (pidx/pidx.h), on one reader opened once: the in-process sides of the agreement test
// (agree.py). It includes nothing of pidx but the installed headers.
//
//   reader_agree --api cpp|c --index DIR --queries FILE [--out FILE]
//     FILE: one query a line, "<limit>\t<query text>". One JSON line per answer:
//     {"i":N,"total":T,"hits":[[id,title,shard],...]} or {"i":N,"error":CODE,"column":C};
//     a JSON summary ({"queries":N,"seconds":S,"qps":Q}) on stderr.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pidx/pidx.h"
#include "pidx/reader.h"

namespace {

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "reader_agree: %s\n", msg.c_str());
  std::exit(1);
}

struct Query {
  size_t limit;
  std::string text;
};

nlohmann::json AnswerCpp(const pidx::reader::Reader& r, size_t i, const Query& q) {
  pidx::reader::SearchResult res;
  const pidx::reader::Error e = r.Search(q.text, q.limit, &res);
  if (!e.ok()) {
    return {{"i", i}, {"error", pidx::reader::ErrorCodeName(e.code())}, {"column", e.column()}};
  }
  nlohmann::json hits = nlohmann::json::array();
  for (const auto& h : res.hits) hits.push_back({h.id, h.title, h.shard});
  return {{"i", i}, {"total", res.total}, {"hits", hits}};
}

nlohmann::json AnswerC(const pidx_reader* r, size_t i, const Query& q) {
  pidx_result* res = nullptr;
  pidx_error* err = nullptr;
  const pidx_code code = pidx_reader_search(r, q.text.data(), q.text.size(), q.limit, &res, &err);
  if (code != PIDX_OK) {
    nlohmann::json j = {{"i", i},
                        {"error", pidx_code_name(pidx_error_code(err))},
                        {"column", pidx_error_column(err)}};
    pidx_error_free(err);
    return j;
  }
  nlohmann::json hits = nlohmann::json::array();
  for (size_t h = 0; h < pidx_result_hit_count(res); ++h) {
    size_t a = 0, b = 0, c = 0;
    const char* id = pidx_result_hit_id(res, h, &a);
    const char* title = pidx_result_hit_title(res, h, &b);
    const char* shard = pidx_result_hit_shard(res, h, &c);
    hits.push_back({std::string(id, a), std::string(title, b), std::string(shard, c)});
  }
  nlohmann::json j = {{"i", i}, {"total", pidx_result_total(res)}, {"hits", hits}};
  pidx_result_free(res);
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  std::string api, index, queries, out_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Die(a + " needs a value");
    const std::string v = argv[++i];
    if (a == "--api") {
      api = v;
    } else if (a == "--index") {
      index = v;
    } else if (a == "--queries") {
      queries = v;
    } else if (a == "--out") {
      out_path = v;
    } else {
      Die("unknown argument " + a);
    }
  }
  if ((api != "cpp" && api != "c") || index.empty() || queries.empty()) {
    Die("usage: reader_agree --api cpp|c --index DIR --queries FILE [--out FILE]");
  }
  std::vector<Query> qs;
  std::ifstream in(queries);
  if (!in) Die(queries + ": cannot open");
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos || tab == 0) Die(queries + ": not \"<limit>\\t<query>\": " + line);
    qs.push_back({std::stoul(line.substr(0, tab)), line.substr(tab + 1)});
  }

  std::vector<std::string> lines;
  lines.reserve(qs.size());
  std::chrono::steady_clock::time_point start;
  if (api == "cpp") {
    std::unique_ptr<pidx::reader::Reader> r;
    const pidx::reader::Error e = pidx::reader::Reader::Open(index, &r);
    if (!e.ok()) Die(e.message());
    start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < qs.size(); ++i) lines.push_back(AnswerCpp(*r, i, qs[i]).dump());
  } else {
    pidx_reader* r = nullptr;
    pidx_error* err = nullptr;
    if (pidx_reader_open(index.c_str(), &r, &err) != PIDX_OK) Die(pidx_error_message(err));
    start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < qs.size(); ++i) lines.push_back(AnswerC(r, i, qs[i]).dump());
    pidx_reader_close(r);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  FILE* out = out_path.empty() ? stdout : std::fopen(out_path.c_str(), "w");
  if (out == nullptr) Die(out_path + ": cannot write");
  for (const auto& l : lines) std::fprintf(out, "%s\n", l.c_str());
  if (std::fflush(out) != 0 || (out != stdout && std::fclose(out) != 0)) Die("write failed");
  std::fprintf(stderr, "{\"api\":\"%s\",\"queries\":%zu,\"seconds\":%.6f,\"qps\":%.1f}\n",
               api.c_str(), qs.size(), secs, secs > 0 ? static_cast<double>(qs.size()) / secs : 0);
  return 0;
}
