#include "pidx/query/recall.h"

#include <set>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "pidx/base/duration.h"
#include "pidx/base/json_read.h"
#include "pidx/obs/trace.h"
#include "pidx/query/engine.h"

namespace pidx {
namespace {

Status LineError(const std::string& file, uint64_t line, const std::string& why) {
  return Status::BadData(file + ":" + std::to_string(line) + ": " + why);
}

}  // namespace

Result<RecallResult> Recall(const RecallOptions& options, Env* env) {
  const int64_t start = MonotonicMs();
  const std::string& file = options.queries_file;
  if (!env->FileExists(file)) return Status::NotFound("query set " + file + " does not exist");
  PIDX_ASSIGN_OR_RETURN(std::string text, env->ReadFile(file));
  PIDX_ASSIGN_OR_RETURN(QueryEngine engine,
                        QueryEngine::Open(env, options.index_dir, options.version));

  RecallResult result;
  result.version = engine.version();
  std::set<std::string> unavailable;
  double recall_sum = 0;
  uint64_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;

    // No exceptions: a malformed line is reported with its number, like a catalog line.
    auto line_json = ParseJson(line, file + ":" + std::to_string(line_no), kQueryLineJsonLimits);
    if (!line_json.ok()) return Status::BadData(line_json.status().message());
    const nlohmann::json j = std::move(line_json).value();
    if (!j.is_object()) return LineError(file, line_no, "not a JSON object");
    const auto q = j.find("query");
    if (q == j.end() || !q->is_string()) {
      return LineError(file, line_no, "\"query\" must be a string");
    }
    const auto exp = j.find("expected");
    if (exp == j.end() || !exp->is_array()) {
      return LineError(file, line_no, "\"expected\" must be an array of ids");
    }
    std::set<std::string> expected;
    for (const auto& id : *exp) {
      if (id.is_string()) {
        expected.insert(id.get<std::string>());
      } else if (id.is_number_integer()) {
        expected.insert(id.dump());  // an integer id is its decimal text, as in the index
      } else {
        return LineError(file, line_no, "\"expected\" must hold strings or integers");
      }
    }

    // A query that expects nothing has nothing to measure: counting it as recall 1 let a set
    // of such queries pass any --min with an index that finds nothing.
    if (expected.empty()) {
      return LineError(file, line_no,
                       "\"expected\" is empty: a query that expects no product cannot measure "
                       "recall");
    }

    Span span("recall.query", {{"recall.line", line_no}});
    QueryRecall qr;
    qr.line = line_no;
    qr.query = q->get<std::string>();
    auto parsed = engine.parser().Parse(qr.query);
    if (!parsed.ok()) return LineError(file, line_no, parsed.status().message());
    SearchOptions search;
    search.limit = kNoLimit;
    search.allow_partial = true;
    auto searched = engine.Search(*parsed, search);
    span.End(searched.status());
    PIDX_ASSIGN_OR_RETURN(QueryResult r, std::move(searched));
    unavailable.insert(r.unavailable.begin(), r.unavailable.end());
    std::unordered_set<std::string> found;
    for (auto& h : r.hits) found.insert(std::move(h.id));

    qr.expected = expected.size();
    qr.matches = r.total;
    for (const auto& id : expected) {
      if (found.count(id) > 0) {
        ++qr.found;
      } else if (qr.missing.size() < options.max_missing) {
        qr.missing.push_back(id);
      }
    }
    qr.recall = static_cast<double>(qr.found) / static_cast<double>(qr.expected);
    span.Set("recall.expected", qr.expected);
    span.Set("recall.found", qr.found);
    span.Set("recall.recall", qr.recall);
    if (!r.unavailable.empty()) span.Set("index.unavailable_shards", r.unavailable);
    result.expected += qr.expected;
    result.found += qr.found;
    recall_sum += qr.recall;
    result.queries.push_back(std::move(qr));
  }
  if (result.queries.empty() || result.expected == 0) {
    return Status::BadData(file + ": no queries with expected products: nothing to measure");
  }
  result.recall = static_cast<double>(result.found) / static_cast<double>(result.expected);
  result.mean_query_recall = recall_sum / static_cast<double>(result.queries.size());
  result.unavailable.assign(unavailable.begin(), unavailable.end());
  result.duration_ms = MonotonicMs() - start;
  return result;
}

}  // namespace pidx
