#include "pidx/query/engine.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "pidx/base/duration.h"
#include "pidx/obs/log.h"
#include "pidx/ops/reader_retry.h"
#include "pidx/segment/segment_reader.h"
#include "pidx/shard/shard_id.h"
#include "pidx/snapshot/index_reader.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx {
namespace {

using segment::Postings;
using segment::SegmentReader;

// The categories the whole query requires, or nullopt when it can match in any category.
// An AND requires what any of its operands requires; an OR only what all branches do (the
// union of their sets); a NOT never narrows the shards it may match in.
std::optional<std::set<std::string>> RequiredCategories(const QueryNode& n) {
  switch (n.kind) {
    case QueryNode::Kind::kTerm:
      if (n.is_category) return std::set<std::string>{n.category};
      return std::nullopt;
    case QueryNode::Kind::kAnd: {
      std::optional<std::set<std::string>> out;
      for (const auto& c : n.children) {
        auto r = RequiredCategories(c);
        if (!r) continue;
        if (!out) {
          out = std::move(r);
        } else {
          std::set<std::string> both;
          std::set_intersection(out->begin(), out->end(), r->begin(), r->end(),
                                std::inserter(both, both.end()));
          out = std::move(both);
        }
      }
      return out;
    }
    case QueryNode::Kind::kOr: {
      std::set<std::string> out;
      for (const auto& c : n.children) {
        auto r = RequiredCategories(c);
        if (!r) return std::nullopt;
        out.insert(r->begin(), r->end());
      }
      return out;
    }
    case QueryNode::Kind::kNot:
    case QueryNode::Kind::kAll:
      return std::nullopt;
  }
  return std::nullopt;
}

// Evaluates a query tree on one segment.
class ShardEvaluator {
 public:
  explicit ShardEvaluator(const SegmentReader& reader) : r_(reader) {}

  Result<Postings> Eval(const QueryNode& n) {
    switch (n.kind) {
      case QueryNode::Kind::kAll:
        return Postings::Range(r_.doc_count());
      case QueryNode::Kind::kTerm: {
        auto i = FindTerm(n);
        if (!i) return Postings();
        return r_.postings(*i);
      }
      case QueryNode::Kind::kNot: {
        PIDX_ASSIGN_OR_RETURN(Postings inner, Eval(n.children[0]));
        return Postings::Range(r_.doc_count()).AndNot(inner);
      }
      case QueryNode::Kind::kOr: {
        Postings acc;
        for (const auto& c : n.children) {
          if (Estimate(c) == 0) continue;
          PIDX_ASSIGN_OR_RETURN(Postings p, Eval(c));
          acc = acc.Or(p);
        }
        return acc;
      }
      case QueryNode::Kind::kAnd:
        return EvalAnd(n);
    }
    return Status::Internal("query: unknown node kind");
  }

  // The number of matches of `n`, without building the result where it can be avoided: a
  // term's count is its document frequency (the term dictionary is covered by the segment's
  // checksum), and the last operand of a plain AND is only counted against the others.
  Result<uint64_t> Count(const QueryNode& n) {
    if (n.kind == QueryNode::Kind::kTerm) return Estimate(n);
    const bool plain_and =
        n.kind == QueryNode::Kind::kAnd && n.children.size() >= 2 &&
        std::none_of(n.children.begin(), n.children.end(),
                     [](const QueryNode& c) { return c.kind == QueryNode::Kind::kNot; });
    if (plain_and) {
      std::vector<std::pair<uint64_t, const QueryNode*>> positive;
      for (const auto& c : n.children) positive.emplace_back(Estimate(c), &c);
      std::stable_sort(positive.begin(), positive.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      if (positive.front().first == 0) return uint64_t{0};
      PIDX_ASSIGN_OR_RETURN(Postings acc, Eval(*positive.front().second));
      for (size_t i = 1; i + 1 < positive.size() && acc.Cardinality() > 0; ++i) {
        PIDX_ASSIGN_OR_RETURN(Postings p, Eval(*positive[i].second));
        acc = acc.And(p);
      }
      if (acc.Cardinality() == 0) return uint64_t{0};
      PIDX_ASSIGN_OR_RETURN(Postings last, Eval(*positive.back().second));
      return acc.AndCardinality(last);
    }
    PIDX_ASSIGN_OR_RETURN(Postings all, Eval(n));
    return all.Cardinality();
  }

 private:
  // An upper bound of the matches of `n` in this shard; exact 0 for a term that is absent.
  uint64_t Estimate(const QueryNode& n) {
    switch (n.kind) {
      case QueryNode::Kind::kTerm: {
        auto i = FindTerm(n);
        return i ? r_.doc_freq(*i) : 0;
      }
      case QueryNode::Kind::kOr: {
        uint64_t sum = 0;
        for (const auto& c : n.children) sum += Estimate(c);
        return std::min<uint64_t>(sum, r_.doc_count());
      }
      case QueryNode::Kind::kAnd: {
        uint64_t least = r_.doc_count();
        for (const auto& c : n.children) {
          if (c.kind != QueryNode::Kind::kNot) least = std::min(least, Estimate(c));
        }
        return least;
      }
      case QueryNode::Kind::kNot:
      case QueryNode::Kind::kAll:
        return r_.doc_count();
    }
    return r_.doc_count();
  }

  // Cheapest operand first, so each intersection works on the smallest set so far, and an
  // absent term ends the AND before any bitmap is read.
  Result<Postings> EvalAnd(const QueryNode& n) {
    std::vector<std::pair<uint64_t, const QueryNode*>> positive;
    std::vector<const QueryNode*> negative;
    for (const auto& c : n.children) {
      if (c.kind == QueryNode::Kind::kNot) {
        negative.push_back(&c.children[0]);
      } else {
        positive.emplace_back(Estimate(c), &c);
      }
    }
    std::stable_sort(positive.begin(), positive.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    if (!positive.empty() && positive.front().first == 0) return Postings();
    Postings acc;
    if (positive.empty()) {
      acc = Postings::Range(r_.doc_count());
    } else {
      PIDX_ASSIGN_OR_RETURN(acc, Eval(*positive.front().second));
      for (size_t i = 1; i < positive.size() && acc.Cardinality() > 0; ++i) {
        PIDX_ASSIGN_OR_RETURN(Postings p, Eval(*positive[i].second));
        acc = acc.And(p);
      }
    }
    for (const QueryNode* neg : negative) {
      if (acc.Cardinality() == 0) break;
      if (Estimate(*neg) == 0) continue;
      PIDX_ASSIGN_OR_RETURN(Postings p, Eval(*neg));
      acc = acc.AndNot(p);
    }
    return acc;
  }

  // A query asks for each term's size (to order an AND) and then for its postings: one
  // dictionary search per term node and shard, remembered here, not two.
  std::optional<uint32_t> FindTerm(const QueryNode& n) {
    for (const auto& [node, index] : found_) {
      if (node == &n) return index;
    }
    auto index = r_.FindTerm(n.term);
    found_.emplace_back(&n, index);
    return index;
  }

  const SegmentReader& r_;
  std::vector<std::pair<const QueryNode*, std::optional<uint32_t>>> found_;
};

}  // namespace

struct QueryEngine::State {
  explicit State(snapshot::SnapshotStore s) : store(std::move(s)) {}
  snapshot::SnapshotStore store;
  uint64_t version = 0;
  std::vector<snapshot::ShardEntry> shards;
  std::vector<std::string> slugs;  // per shard: the category slug of its shard id
  std::unique_ptr<QueryParser> parser;
  // Per shard, opened on first use: the reader, or why it could not be opened.
  std::vector<std::unique_ptr<SegmentReader>> readers;
  std::vector<Status> open_errors;
  std::vector<bool> opened;
};

QueryEngine::QueryEngine(std::unique_ptr<State> state) : state_(std::move(state)) {}
QueryEngine::~QueryEngine() = default;
QueryEngine::QueryEngine(QueryEngine&&) noexcept = default;
QueryEngine& QueryEngine::operator=(QueryEngine&&) noexcept = default;

uint64_t QueryEngine::version() const { return state_->version; }
const QueryParser& QueryEngine::parser() const { return *state_->parser; }

Result<QueryEngine> QueryEngine::Open(Env* env, const std::string& index_dir, uint64_t version) {
  PIDX_ASSIGN_OR_RETURN(auto store, snapshot::SnapshotStore::Open(env, index_dir, false));
  if (version == 0) {
    PIDX_ASSIGN_OR_RETURN(version, store.ReadCurrent());
    if (version == 0) return Status::NotFound(index_dir + " has no published version");
  }
  PIDX_ASSIGN_OR_RETURN(auto manifest, store.LoadManifest(version));
  const std::string vname = snapshot::VersionName(version);
  auto schema = catalog::Schema::FromJson(manifest.schema);
  if (!schema.ok()) return schema.status().Annotate(vname + ": stored schema");
  auto settings = analysis::AnalyzerSettings::FromJson(manifest.analyzer);
  if (!settings.ok()) return settings.status().Annotate(vname + ": stored analyzer");

  auto state = std::make_unique<State>(std::move(store));
  state->version = version;
  state->parser = std::make_unique<QueryParser>(std::move(*schema), std::move(*settings));
  state->shards = std::move(manifest.shards);
  // Shards are skipped by the slug of their id, which the segment's own shard name proves
  // (OpenSegment), not by the categories the manifest lists: a manifest that lies about
  // them must not make a query silently skip the shard holding the matches.
  for (const auto& e : state->shards) {
    std::string slug;
    uint32_t number = 0;
    (void)shard::ParseShardId(e.shard, &slug, &number);  // Manifest::Parse checked the form
    state->slugs.push_back(std::move(slug));
  }
  state->readers.resize(state->shards.size());
  state->open_errors.resize(state->shards.size());
  state->opened.assign(state->shards.size(), false);
  return QueryEngine(std::move(state));
}

Result<QueryResult> QueryEngine::Search(const QueryNode& query, const SearchOptions& options) {
  State& s = *state_;
  QueryResult result;
  result.shards_total = s.shards.size();
  const auto required = RequiredCategories(query);
  // A product of category c lives in a shard "<CategorySlug(c)>_NNN". A category without any
  // [a-z0-9] gets a hashed slug of its untrimmed text, which a query cannot recompute: such a
  // query searches every shard.
  std::optional<std::set<std::string>> required_slugs;
  if (required) {
    required_slugs.emplace();
    for (const auto& c : *required) {
      const bool plain = std::any_of(c.begin(), c.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
      });
      if (!plain) {
        required_slugs.reset();
        break;
      }
      required_slugs->insert(shard::CategorySlug(c));
    }
  }
  std::vector<QueryHit> candidates;
  for (size_t i = 0; i < s.shards.size(); ++i) {
    const snapshot::ShardEntry& entry = s.shards[i];
    if (required_slugs && required_slugs->count(s.slugs[i]) == 0) continue;
    if (!s.opened[i]) {
      s.opened[i] = true;
      auto reader = snapshot::OpenSegment(s.store, entry);
      if (reader.ok()) {
        s.readers[i] = std::make_unique<SegmentReader>(std::move(*reader));
      } else {
        s.open_errors[i] = reader.status();
      }
    }
    if (!s.readers[i]) {
      if (!options.allow_partial) return s.open_errors[i];
      result.unavailable.push_back(entry.shard + ": " + s.open_errors[i].message());
      continue;
    }
    ++result.shards_searched;
    const SegmentReader& reader = *s.readers[i];
    ShardEvaluator evaluator(reader);
    // A posting list that fails validation is damage: never a silently smaller answer.
    auto damaged = [&](const Status& st) -> Status {
      if (!options.allow_partial) return st.Annotate("shard " + entry.shard);
      result.unavailable.push_back(entry.shard + ": " + st.message());
      return Status::Ok();
    };
    if (options.limit == 0) {
      auto count = evaluator.Count(query);
      if (!count.ok()) {
        PIDX_RETURN_IF_ERROR(damaged(count.status()));
        continue;
      }
      result.total += *count;
      continue;
    }
    auto matches = evaluator.Eval(query);
    if (!matches.ok()) {
      PIDX_RETURN_IF_ERROR(damaged(matches.status()));
      continue;
    }
    result.total += matches->Cardinality();
    if (options.limit == 0 || matches->Cardinality() == 0) continue;
    // Local doc ids follow external id order (ShardBuilder sorts them), so a shard's first
    // `limit` matches are its smallest ids; the merge below orders across shards.
    const std::vector<uint32_t> docs = matches->ToVector();
    const size_t take = std::min(docs.size(), options.limit);
    for (size_t d = 0; d < take; ++d) {
      const segment::DocView doc = reader.doc(docs[d]);
      candidates.push_back({std::string(doc.external_id), std::string(doc.title), entry.shard});
    }
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const QueryHit& a, const QueryHit& b) { return a.id < b.id; });
  if (candidates.size() > options.limit) candidates.resize(options.limit);
  result.hits = std::move(candidates);
  return result;
}

Result<QueryRun> RunQuery(Env* env, const std::string& index_dir, uint64_t version,
                          const std::string& text, const SearchOptions& options, size_t* column) {
  const int64_t start = MonotonicMs();
  auto run = ReadRestartingOnGc<QueryRun>(
      version == 0, "index.query.restarted", LogLevel::kDebug,
      [&](const ReaderAttempt&, LogFields* removed) -> Result<QueryRun> {
        auto opened = QueryEngine::Open(env, index_dir, version);
        Status s = opened.status();
        QueryRun out;
        if (opened.ok()) {
          QueryEngine engine = std::move(*opened);
          out.version = engine.version();
          auto parsed = engine.parser().Parse(text, column);
          if (!parsed.ok()) return parsed.status();  // the same on every version: not retried
          out.parsed = parsed->ToString();
          auto searched = engine.Search(*parsed, options);
          if (searched.ok()) {
            out.result = std::move(*searched);
            return out;
          }
          s = searched.status();
        }
        if (s.kind() == StatusKind::kNotFound) (*removed)["error"] = s.message();
        return s;
      });
  if (run.ok()) run->duration_ms = MonotonicMs() - start;
  return run;
}

}  // namespace pidx
