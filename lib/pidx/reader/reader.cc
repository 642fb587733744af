// The reader library's C++ face over the query engine (query/engine.h): nothing here parses,
// analyzes or decodes; it opens versions, checks them whole, and swaps them.
#include "pidx/reader.h"

#include <atomic>
#include <mutex>
#include <optional>
#include <utility>

#include "pidx/base/env.h"
#include "pidx/base/status.h"
#include "pidx/query/engine.h"
#include "pidx/snapshot/manifest.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx::reader {
namespace {

ErrorCode CodeOf(StatusKind kind) {
  switch (kind) {
    case StatusKind::kOk:
      return ErrorCode::kOk;
    case StatusKind::kUsage:
      return ErrorCode::kQuerySyntax;
    case StatusKind::kNotFound:
      return ErrorCode::kNotFound;
    case StatusKind::kCorrupt:
    case StatusKind::kBadData:
      return ErrorCode::kCorrupt;
    case StatusKind::kIoError:
      return ErrorCode::kIoError;
    case StatusKind::kConfig:
      return ErrorCode::kConfig;
    default:
      return ErrorCode::kInternal;
  }
}

Error ToError(const Status& s) {
  if (s.ok()) return Error();
  return Error(CodeOf(s.kind()), s.message());
}

// One open, fully checked version. Shared by the reader (while served) and by every call in
// flight that took it; the last owner unmaps it.
struct Served {
  Served(QueryEngine e, std::shared_ptr<std::atomic<uint64_t>> count)
      : engine(std::move(e)), open_count(std::move(count)) {
    open_count->fetch_add(1);
  }
  ~Served() { open_count->fetch_sub(1); }
  Served(const Served&) = delete;
  Served& operator=(const Served&) = delete;

  QueryEngine engine;  // OpenAllShards succeeded: Search is safe from many threads
  std::shared_ptr<std::atomic<uint64_t>> open_count;  // Reader::Impl's, which may go first
};

}  // namespace

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kQuerySyntax:
      return "query_syntax";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kIoError:
      return "io_error";
    case ErrorCode::kConfig:
      return "config";
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

const char* LibraryVersion() { return PIDX_VERSION; }

struct Reader::Impl {
  std::string dir;
  uint64_t pinned = 0;
  // Versions open (Stats::open_versions); shared with each Served, which may outlive the
  // Reader.
  std::shared_ptr<std::atomic<uint64_t>> open_count = std::make_shared<std::atomic<uint64_t>>(0);

  mutable std::mutex mu;  // guards `served`, `last_error`, the counters
  std::shared_ptr<Served> served;
  Error last_error;
  uint64_t refreshes = 0, switches = 0, failed = 0;

  std::mutex refresh_mu;  // one Refresh at a time

  std::shared_ptr<Served> Current() const {
    std::lock_guard<std::mutex> lock(mu);
    return served;
  }

  // Opens `version` (0: CURRENT's) and every segment of it. Readers take no lock, so a gc may
  // remove the version CURRENT named before it is open: then CURRENT is read again, as
  // `pidx query` does (a pinned version that was removed is not found).
  Result<std::shared_ptr<Served>> OpenVersion(uint64_t version) const {
    constexpr int kAttempts = 5;
    for (int attempt = 1;; ++attempt) {
      auto engine = QueryEngine::Open(Env::Default(), dir, version);
      Status s = engine.status();
      if (engine.ok()) {
        s = engine->OpenAllShards();
        if (s.ok()) return std::make_shared<Served>(std::move(*engine), open_count);
      }
      if (version != 0 || attempt >= kAttempts || s.kind() != StatusKind::kNotFound) return s;
    }
  }
};

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reader::~Reader() = default;

Error Reader::Open(const std::string& index_dir, const OpenOptions& options,
                   std::unique_ptr<Reader>* out) {
  if (out == nullptr) return Error(ErrorCode::kInvalidArgument, "Reader::Open: out is null");
  if (options.version > snapshot::kMaxVersion) {
    return Error(ErrorCode::kInvalidArgument,
                 "not a version number: " + std::to_string(options.version));
  }
  auto impl = std::make_unique<Impl>();
  impl->dir = index_dir;
  impl->pinned = options.version;
  auto served = impl->OpenVersion(options.version);
  if (!served.ok()) return ToError(served.status());
  impl->served = std::move(*served);
  out->reset(new Reader(std::move(impl)));
  return Error();
}

Error Reader::Search(std::string_view query, size_t limit, SearchResult* out) const {
  if (out == nullptr) return Error(ErrorCode::kInvalidArgument, "Search: out is null");
  if (limit > kMaxLimit) {
    return Error(ErrorCode::kInvalidArgument,
                 "limit " + std::to_string(limit) + " is above " + std::to_string(kMaxLimit));
  }
  const std::shared_ptr<Served> v = impl_->Current();
  size_t column = 0;
  auto parsed = v->engine.parser().Parse(query, &column);
  if (!parsed.ok()) {
    Error e = ToError(parsed.status());
    e.set_column(column);
    return e;
  }
  SearchOptions options;
  options.limit = limit;
  auto r = v->engine.Search(*parsed, options);
  if (!r.ok()) return ToError(r.status());
  out->version = v->engine.version();
  out->total = r->total;
  out->shards_searched = r->shards_searched;
  out->shards_total = r->shards_total;
  out->hits.clear();
  out->hits.reserve(r->hits.size());
  for (auto& h : r->hits)
    out->hits.push_back({std::move(h.id), std::move(h.title), std::move(h.shard)});
  return Error();
}

Error Reader::Count(std::string_view query, uint64_t* total) const {
  if (total == nullptr) return Error(ErrorCode::kInvalidArgument, "Count: total is null");
  SearchResult r;
  Error e = Search(query, 0, &r);
  if (e.ok()) *total = r.total;
  return e;
}

Error Reader::Lookup(std::string_view id, Hit* out, bool* found) const {
  if (out == nullptr || found == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "Lookup: out or found is null");
  }
  const std::shared_ptr<Served> v = impl_->Current();
  auto hit = v->engine.FindProduct(id);
  *found = hit.has_value();
  if (hit) *out = {std::move(hit->id), std::move(hit->title), std::move(hit->shard)};
  return Error();
}

VersionInfo Reader::Info() const {
  const std::shared_ptr<Served> v = impl_->Current();
  const snapshot::Manifest& m = v->engine.manifest();
  VersionInfo info;
  info.version = m.version;
  info.name = snapshot::VersionName(m.version);
  info.parent = m.parent;
  info.created = m.created;
  info.tool_version = m.tool_version;
  info.operation = m.operation;
  info.operation_shard = m.operation_shard;
  info.shards = m.shards.size();
  const snapshot::Totals totals = snapshot::SumTotals(m.shards);
  info.docs = totals.docs;
  info.terms = totals.terms;
  info.postings = totals.postings;
  info.bytes = totals.bytes;
  info.categories = m.Categories();
  return info;
}

uint64_t Reader::version() const { return impl_->Current()->engine.version(); }

Error Reader::Refresh(RefreshResult* out) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> refresh(m.refresh_mu);
  const uint64_t from = m.Current()->engine.version();
  RefreshResult result{false, from, from};
  auto fail = [&](Error e) {
    std::lock_guard<std::mutex> lock(m.mu);
    ++m.failed;
    m.last_error = e;
    if (out != nullptr) *out = result;
    return e;
  };
  {
    std::lock_guard<std::mutex> lock(m.mu);
    ++m.refreshes;
  }
  if (m.pinned == 0) {
    auto store = snapshot::SnapshotStore::Open(Env::Default(), m.dir, false);
    if (!store.ok()) return fail(ToError(store.status()));
    auto current = store->ReadCurrent();
    if (!current.ok()) return fail(ToError(current.status()));
    if (*current == 0)
      return fail(Error(ErrorCode::kNotFound, m.dir + " has no published version"));
    if (*current != from) {
      // The version CURRENT names now, opened by number: a gc racing us makes it not found,
      // and the next Refresh reads CURRENT again.
      auto next = m.OpenVersion(*current);
      if (!next.ok()) {
        return fail(
            ToError(next.status().Annotate("refresh to " + snapshot::VersionName(*current))));
      }
      std::shared_ptr<Served> old;
      {
        std::lock_guard<std::mutex> lock(m.mu);
        old = std::move(m.served);
        m.served = std::move(*next);
        ++m.switches;
      }
      // `old` is released here, or by the last call still using it.
      result.switched = true;
      result.to = *current;
    }
  }
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.last_error = Error();
  }
  if (out != nullptr) *out = result;
  return Error();
}

Error Reader::LastRefreshError() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->last_error;
}

Stats Reader::GetStats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Stats s;
  s.refreshes = impl_->refreshes;
  s.switches = impl_->switches;
  s.failed_refreshes = impl_->failed;
  s.open_versions = impl_->open_count->load();
  return s;
}

const std::string& Reader::index_dir() const { return impl_->dir; }

}  // namespace pidx::reader
