// fts5_peer: the SQLite FTS5 side of scripts/bench. It indexes the same catalog with the same
// fields as pidx's default schema and answers the same query sets (query_set.h), so the two
// engines can be compared in one run on one machine.
//
//   fts5_peer build  --catalog FILE --db FILE [--optimize]
//   fts5_peer query  --db FILE --queries FILE (--count | --top 10) [--out FILE]
//   fts5_peer query1 --db FILE (--count | --top 10) KIND PART...
//
// The index: one contentless FTS5 table (content='', detail=none, columnsize=0) with one
// column per indexed field of pidx's default schema, tokenizer unicode61 with
// remove_diacritics 2, filled in one transaction. Text fields (title, description) are given
// to the tokenizer as they are. FTS5 with detail=none cannot filter by column, so a keyword
// value (category, brand, tags, attrs) is stored as one token that spells the field-scoped
// term pidx would index ("category:home & kitchen"), escaped to [0-9a-z] so unicode61 keeps
// it whole; it cannot collide with a word of the text. The catalog is read with pidx's own
// reader (simdjson On-Demand), so parsing costs the same on both sides.
//
// Row ids: the FTS5 rowid of a product is its 0-based position in the catalog, and the
// external ids live in a separate database FILE.ids (rowid -> id), reported apart like pidx's
// stored fields. pidx orders results by external id; the rowid order equals that order when
// the catalog lists products by increasing id (pidx-gen does). `build` checks it and prints
// "ids_sorted": false otherwise, and then first-10 results are not comparable (counts are).
//
// Results go to --out (default stdout), one line per query: "<i>\t<count>" or
// "<i>\t<id>,<id>,...". The summary is one JSON object on stderr.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "bench/query_set.h"
#include "pidx/catalog/catalog_reader.h"
#include "pidx/catalog/schema.h"

namespace {

using pidx::bench::BenchQuery;
using pidx::catalog::FieldRole;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "fts5_peer: %s\n", msg.c_str());
  std::exit(1);
}

void Check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    Die(std::string(what) + ": " + sqlite3_errmsg(db));
  }
}

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err != nullptr ? err : "?";
    sqlite3_free(err);
    Die(sql + ": " + m);
  }
}

// ASCII lower case and trimmed, as pidx folds a keyword value (pidx also applies NFKC case
// folding to non-ASCII text; the query sets use ASCII words and the catalog's categories).
std::string Fold(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::string s(v);
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// A field-scoped term as one unicode61 token: "zz" + the term with every byte outside
// [0-9a-y] written as 'z' + two hex digits.
std::string TermToken(std::string_view term) {
  static const char* kHex = "0123456789abcdef";
  std::string t = "zz";
  for (unsigned char c : term) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'y')) {
      t += static_cast<char>(c);
    } else {
      t += 'z';
      t += kHex[c >> 4];
      t += kHex[c & 15];
    }
  }
  return t;
}

struct Args {
  std::string cmd, catalog, db, queries, out;
  bool count = false;
  bool optimize = false;
  size_t top = 0;
  std::vector<std::string> rest;
};

Args ParseArgs(int argc, char** argv) {
  if (argc < 2) Die("usage: fts5_peer build|query|query1 ...");
  Args a;
  a.cmd = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(s + " needs a value");
      return argv[++i];
    };
    if (s == "--catalog") {
      a.catalog = value();
    } else if (s == "--db") {
      a.db = value();
    } else if (s == "--queries") {
      a.queries = value();
    } else if (s == "--out") {
      a.out = value();
    } else if (s == "--optimize") {
      a.optimize = true;
    } else if (s == "--count") {
      a.count = true;
    } else if (s == "--top") {
      a.top = std::strtoul(value().c_str(), nullptr, 10);
    } else if (s.rfind("--", 0) == 0) {
      Die("unknown option " + s);
    } else {
      a.rest.push_back(s);
    }
  }
  if (a.db.empty()) Die("--db is required");
  return a;
}

// Column names: the default schema's indexed fields, in schema order.
struct Columns {
  pidx::catalog::Schema schema = pidx::catalog::Schema::Default();
  std::vector<int> fields;  // schema field index per column (-1: the category)
  std::vector<std::string> names;
  Columns() {
    for (size_t i = 0; i < schema.fields().size(); ++i) {
      const auto& f = schema.fields()[i];
      if (f.role == FieldRole::kId || f.role == FieldRole::kNumber) continue;
      fields.push_back(f.role == FieldRole::kCategory ? -1 : static_cast<int>(i));
      names.push_back(f.name);
    }
  }
};

int Build(const Args& a) {
  if (a.catalog.empty()) Die("--catalog is required");
  const double start = Now();
  Columns cols;
  std::remove(a.db.c_str());
  const std::string ids_path = a.db + ".ids";
  std::remove(ids_path.c_str());
  sqlite3* db = nullptr;
  if (sqlite3_open(a.db.c_str(), &db) != SQLITE_OK) Die(a.db + ": cannot open");
  Exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF");
  Exec(db, "ATTACH '" + ids_path + "' AS ids");
  Exec(db, "PRAGMA ids.journal_mode=OFF; PRAGMA ids.synchronous=OFF");
  std::string names;
  for (const auto& n : cols.names) names += n + ", ";
  Exec(db, "CREATE VIRTUAL TABLE ft USING fts5(" + names +
               "content='', detail=none, columnsize=0, "
               "tokenize='unicode61 remove_diacritics 2')");
  Exec(db, "CREATE TABLE ids.ids(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL)");
  Exec(db, "BEGIN");
  std::string sql = "INSERT INTO ft(rowid";
  for (const auto& n : cols.names) sql += ", " + n;
  sql += ") VALUES (?";
  for (size_t i = 0; i < cols.names.size(); ++i) sql += ", ?";
  sql += ")";
  sqlite3_stmt* ins = nullptr;
  sqlite3_stmt* ins_id = nullptr;
  Check(db, sqlite3_prepare_v2(db, sql.c_str(), -1, &ins, nullptr), "prepare");
  Check(
      db,
      sqlite3_prepare_v2(db, "INSERT INTO ids.ids(rowid, id) VALUES (?, ?)", -1, &ins_id, nullptr),
      "prepare");

  auto reader = pidx::catalog::CatalogReader::Open(a.catalog, cols.schema, {});
  if (!reader.ok()) Die(reader.status().ToString());
  pidx::catalog::Product p;
  std::vector<std::string> values(cols.names.size());
  int64_t rowid = 0;
  bool sorted = true;
  std::string last_id;
  for (;;) {
    auto more = reader.value()->Next(&p);
    if (!more.ok()) Die(more.status().ToString());
    if (!*more) break;
    if (rowid > 0 && !(last_id < p.id)) sorted = false;
    last_id = p.id;
    for (size_t c = 0; c < cols.fields.size(); ++c) {
      std::string& v = values[c];
      v.clear();
      const int fi = cols.fields[c];
      if (fi < 0) {
        v = TermToken(cols.names[c] + ":" + Fold(p.category));
        continue;
      }
      const auto& spec = cols.schema.fields()[fi];
      for (const auto& raw : p.fields[fi]) {
        if (!v.empty()) v += ' ';
        if (spec.role == FieldRole::kText) {
          v += raw;
        } else if (spec.role == FieldRole::kAttrs) {
          const size_t sep = raw.find(pidx::catalog::kAttrSeparator);
          const std::string key = raw.substr(0, sep);
          const std::string val = sep == std::string::npos ? "" : raw.substr(sep + 1);
          v += TermToken(spec.name + "." + Fold(key) + ":" + Fold(val));
        } else {
          v += TermToken(spec.name + ":" + Fold(raw));
        }
      }
    }
    sqlite3_bind_int64(ins, 1, rowid);
    for (size_t c = 0; c < values.size(); ++c) {
      sqlite3_bind_text(ins, static_cast<int>(c + 2), values[c].data(),
                        static_cast<int>(values[c].size()), SQLITE_STATIC);
    }
    Check(db, sqlite3_step(ins), "insert");
    sqlite3_reset(ins);
    sqlite3_bind_int64(ins_id, 1, rowid);
    sqlite3_bind_text(ins_id, 2, p.id.data(), static_cast<int>(p.id.size()), SQLITE_STATIC);
    Check(db, sqlite3_step(ins_id), "insert id");
    sqlite3_reset(ins_id);
    ++rowid;
  }
  sqlite3_finalize(ins);
  sqlite3_finalize(ins_id);
  Exec(db, "COMMIT");
  // FTS5's default is to merge segments incrementally (automerge) as it goes; --optimize
  // merges them all into one at the end (slower build, faster queries).
  if (a.optimize) Exec(db, "INSERT INTO ft(ft) VALUES('optimize')");
  sqlite3_close(db);
  std::fprintf(stderr,
               "{\"command\":\"build\",\"products\":%lld,\"ids_sorted\":%s,\"seconds\":%.3f}\n",
               static_cast<long long>(rowid), sorted ? "true" : "false", Now() - start);
  return 0;
}

std::string Quote(const std::string& word) { return "\"" + word + "\""; }

// The FTS5 MATCH expression of a bench query.
std::string MatchText(const BenchQuery& q) {
  if (q.kind == "and2") return Quote(q.parts[0]) + " AND " + Quote(q.parts[1]);
  if (q.kind == "cat") {
    return Quote(q.parts[0]) + " AND " + TermToken("category:" + Fold(q.parts[1]));
  }
  return Quote(q.parts[0]);
}

struct Engine {
  sqlite3* db = nullptr;
  sqlite3_stmt* count = nullptr;
  sqlite3_stmt* top = nullptr;
  sqlite3_stmt* id = nullptr;

  explicit Engine(const std::string& path, size_t limit) {
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      Die(path + ": cannot open");
    }
    Exec(db, "ATTACH 'file:" + path + ".ids?mode=ro' AS ids");
    Check(db,
          sqlite3_prepare_v2(db, "SELECT count(*) FROM ft WHERE ft MATCH ?", -1, &count, nullptr),
          "prepare");
    const std::string sql =
        "SELECT rowid FROM ft WHERE ft MATCH ? ORDER BY rowid LIMIT " + std::to_string(limit);
    Check(db, sqlite3_prepare_v2(db, sql.c_str(), -1, &top, nullptr), "prepare");
    Check(db, sqlite3_prepare_v2(db, "SELECT id FROM ids.ids WHERE rowid = ?", -1, &id, nullptr),
          "prepare");
  }
  ~Engine() {
    sqlite3_finalize(count);
    sqlite3_finalize(top);
    sqlite3_finalize(id);
    sqlite3_close(db);
  }

  int64_t Count(const std::string& match) {
    sqlite3_bind_text(count, 1, match.data(), static_cast<int>(match.size()), SQLITE_STATIC);
    Check(db, sqlite3_step(count), "count");
    const int64_t n = sqlite3_column_int64(count, 0);
    sqlite3_reset(count);
    return n;
  }

  std::vector<std::string> Top(const std::string& match) {
    std::vector<int64_t> rows;
    sqlite3_bind_text(top, 1, match.data(), static_cast<int>(match.size()), SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(top)) == SQLITE_ROW) rows.push_back(sqlite3_column_int64(top, 0));
    Check(db, rc, "top");
    sqlite3_reset(top);
    std::vector<std::string> ids;
    for (int64_t r : rows) {
      sqlite3_bind_int64(id, 1, r);
      if (sqlite3_step(id) == SQLITE_ROW) {
        ids.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(id, 0)));
      }
      sqlite3_reset(id);
    }
    return ids;
  }
};

int Query(const Args& a) {
  if (a.queries.empty()) Die("--queries is required");
  if (a.count == (a.top > 0)) Die("give exactly one of --count and --top N");
  std::vector<BenchQuery> qs;
  if (!pidx::bench::LoadQueries(a.queries, &qs)) return 1;
  std::vector<std::string> matches;
  for (const auto& q : qs) matches.push_back(MatchText(q));
  const double t0 = Now();
  Engine e(a.db, a.top);
  const double t1 = Now();
  std::vector<std::string> lines;
  lines.reserve(qs.size());
  for (size_t i = 0; i < qs.size(); ++i) {
    if (a.count) {
      lines.push_back(std::to_string(i) + "\t" + std::to_string(e.Count(matches[i])));
    } else {
      lines.push_back(std::to_string(i) + "\t" + pidx::bench::JoinIds(e.Top(matches[i])));
    }
  }
  const double t2 = Now();
  FILE* out = a.out.empty() ? stdout : std::fopen(a.out.c_str(), "w");
  if (out == nullptr) Die(a.out + ": cannot write");
  for (const auto& l : lines) std::fprintf(out, "%s\n", l.c_str());
  if (out != stdout) std::fclose(out);
  const double secs = t2 - t1;
  std::fprintf(stderr,
               "{\"command\":\"query\",\"queries\":%zu,\"open_seconds\":%.6f,\"seconds\":%.6f,"
               "\"qps\":%.1f}\n",
               qs.size(), t1 - t0, secs, secs > 0 ? static_cast<double>(qs.size()) / secs : 0.0);
  return 0;
}

int Query1(const Args& a) {
  if (a.count == (a.top > 0)) Die("give exactly one of --count and --top N");
  std::string line;
  for (const auto& r : a.rest) line += (line.empty() ? "" : "\t") + r;
  BenchQuery q;
  if (!pidx::bench::ParseQueryLine(line, &q)) Die("not a query: " + line);
  Engine e(a.db, a.top);
  if (a.count) {
    std::printf("%lld\n", static_cast<long long>(e.Count(MatchText(q))));
  } else {
    for (const auto& id : e.Top(MatchText(q))) std::printf("%s\n", id.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = ParseArgs(argc, argv);
  if (a.cmd == "build") return Build(a);
  if (a.cmd == "query") return Query(a);
  if (a.cmd == "query1") return Query1(a);
  Die("unknown command " + a.cmd + " (build, query, query1)");
}
