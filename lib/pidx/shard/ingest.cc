#include "pidx/shard/ingest.h"

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "pidx/base/cancel.h"
#include "pidx/base/checksum.h"
#include "pidx/base/duration.h"
#include "pidx/base/env.h"
#include "pidx/base/worker_pool.h"
#include "pidx/obs/trace.h"
#include "pidx/shard/id_set.h"
#include "pidx/shard/shard_id.h"

namespace pidx::shard {
namespace {

constexpr size_t kBatchSize = 256;
constexpr size_t kMaxBatchesInFlight = 32;
// What the batches in flight and the workers' scratch hold, roughly (32 x 256 products of
// about 500 bytes plus their terms), counted against a memory budget.
constexpr uint64_t kInFlightReserve = uint64_t{8} << 20;

struct Item {
  catalog::Product product;
  ShardSink* sink;
};
using Batch = std::vector<Item>;

// A bounded queue: the reader blocks when workers fall behind, so memory stays bounded.
class BatchQueue {
 public:
  void Push(Batch batch) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return q_.size() < kMaxBatchesInFlight; });
    q_.push_back(std::move(batch));
    not_empty_.notify_one();
  }
  bool Pop(Batch* out) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    *out = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Batch> q_;
  bool closed_ = false;
};

}  // namespace

std::string ShardOf(const analysis::Analyzer& analyzer, std::string_view category,
                    std::string_view id, uint32_t category_shards) {
  return MakeShardId(CategorySlug(analyzer.Fold(category)), ShardNumber(id, category_shards));
}

namespace {

// A slug whose shard count is decided after the scan (no count given, a target shard size
// set). Its products are first collected in one builder, `early`, named as its shard 0: most
// small categories end with one shard, and one builder per slug is what 50k categories can
// afford. Once the slug has more than target_shard_docs products it cannot end with one shard,
// and later products go to S partition builders by ShardNumber(id, S) instead, named as
// shards 0..S-1. SettleDeferred then keeps partition t < K as shard t and merges partition
// b >= K and the early builder into shard b mod K, one at a time: at most one partition is
// ever held twice, never the whole category (splitting one whole-category builder did that,
// and made the build's peak memory 1.45x what fixed shard counts needed).
struct DeferredSlug {
  uint64_t docs = 0;  // all its products so far, accepted by the filter or not
  bool partitioned = false;
  ShardSink* early = nullptr;
  std::unique_ptr<ShardSink> early_owner;  // once partitioned (result->sinks holds it before)
  std::vector<ShardSink*> parts;           // S partitions, made on first use
};

// Decides the shard count K of every slug whose count was not given, now that its products
// are counted: partition b (products numbered mod S while reading) becomes shard b mod K
// (XXH3 mod K == (XXH3 mod S) mod K because K divides S), in the counts and in the builders
// (see DeferredSlug). Shards the filter rejects are dropped with their products.
Status SettleDeferred(std::unordered_map<std::string, DeferredSlug>* deferred,
                      const IngestOptions& options, uint32_t max_shards, IngestResult* result) {
  std::vector<std::string> slugs;
  slugs.reserve(deferred->size());
  for (const auto& [slug, state] : *deferred) slugs.push_back(slug);
  std::sort(slugs.begin(), slugs.end());
  for (const auto& slug : slugs) {
    DeferredSlug& state = deferred->at(slug);
    const uint32_t k = ShardCountFor(state.docs, max_shards, options.target_shard_docs);
    result->category_shards[slug] = k;
    std::vector<bool> keep(k);
    for (uint32_t t = 0; t < k; ++t) {
      keep[t] = !options.shard_filter || options.shard_filter(MakeShardId(slug, t));
    }
    std::vector<uint64_t> all(k, 0);
    std::vector<std::map<std::string, uint64_t>> categories(k);
    for (uint32_t b = 0; b < max_shards; ++b) {
      const std::string from = MakeShardId(slug, b);
      auto n = result->all_shards.find(from);
      if (n != result->all_shards.end()) {
        all[b % k] += n->second;
        result->all_shards.erase(n);
      }
      auto c = result->categories.find(from);
      if (c == result->categories.end()) continue;
      for (const auto& [category, count] : c->second) {
        if (keep[b % k]) {
          categories[b % k][category] += count;
        } else {
          result->products -= count;
        }
      }
      result->categories.erase(c);
    }
    for (uint32_t t = 0; t < k; ++t) {
      const std::string to = MakeShardId(slug, t);
      if (all[t] > 0) result->all_shards[to] = all[t];
      if (!categories[t].empty()) result->categories[to] = std::move(categories[t]);
    }

    // The builders to merge into the shards: the early one, and every partition that is not
    // shard b itself.
    const std::string first = MakeShardId(slug, 0);
    if (!state.partitioned) {
      auto whole = result->sinks.find(first);
      if (whole == result->sinks.end()) continue;  // no product was accepted
      if (k == 1 && keep[0]) continue;             // the early builder is the shard
      state.early_owner = std::move(whole->second);
      result->sinks.erase(whole);
    }
    std::vector<std::unique_ptr<ShardSink>> sources;
    if (state.early_owner) sources.push_back(std::move(state.early_owner));
    for (uint32_t b = 0; b < max_shards && state.partitioned; ++b) {
      auto part = result->sinks.find(MakeShardId(slug, b));
      if (part == result->sinks.end() || (b < k && keep[b])) continue;
      sources.push_back(std::move(part->second));
      result->sinks.erase(part);
    }
    if (sources.empty()) continue;
    std::vector<ShardBuilder*> parts(k, nullptr);
    for (uint32_t t = 0; t < k; ++t) {
      const std::string id = MakeShardId(slug, t);
      if (!keep[t] || result->categories.count(id) == 0) continue;
      auto& sink = result->sinks[id];
      if (!sink) sink = std::make_unique<ShardBuilder>(id, result->spill);
      parts[t] = dynamic_cast<ShardBuilder*>(sink.get());
      if (parts[t] == nullptr) return Status::Internal("shard " + id + ": not a shard builder");
    }
    for (auto& source : sources) {
      auto* builder = dynamic_cast<ShardBuilder*>(source.get());
      if (builder == nullptr) {
        return Status::Internal("shard " + first + ": only shard builders can be split");
      }
      PIDX_RETURN_IF_ERROR(builder->SplitInto(parts));
      source.reset();
    }
  }
  return Status();
}

// Analyzer workers: they drain the queue while the reading thread fills it (not a RunJobs
// pool: the jobs are not known in advance). Join closes the queue and waits for them.
class AnalyzerWorkers {
 public:
  // Each worker is an `analysis` span under `parent_span`.
  AnalyzerWorkers(const IngestOptions& options, const analysis::Analyzer& analyzer,
                  BatchQueue* queue, const std::string& parent_span) {
    const int nthreads = ResolveThreads(options.threads);
    for (int i = 0; i < nthreads; ++i) {
      threads_.emplace_back([&options, &analyzer, queue, parent_span, i] {
        Span analysis("analysis", parent_span, {{"analysis.worker", i}});
        uint64_t analyzed = 0;
        Batch batch;
        std::vector<std::string> terms;
        std::string fields;
        while (queue->Pop(&batch)) {
          analyzed += batch.size();
          for (auto& item : batch) {
            analyzer.AnalyzeProduct(options.schema, item.product, &terms);
            uint64_t hash = ProductContentHash(options.schema, item.product);
            std::string title(StoredTitle(options.schema, item.product));
            fields.clear();
            ProductFieldHashes(options.schema, item.product, &fields);
            item.sink->AddWithFields(std::move(item.product.id), std::move(title), hash, fields,
                                     terms);
          }
        }
        analysis.Set("analysis.products", analyzed);
      });
    }
  }
  void Join() {
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  std::vector<std::thread> threads_;
};

// One scan of the catalogs, on the calling thread: open them, read each record once, check
// its id, route it to its shard's sink in batches, report progress. Each job is one method.
class Scan {
 public:
  Scan(const std::vector<std::string>& catalogs, const IngestOptions& options,
       const analysis::Analyzer& analyzer, IngestResult* result)
      : catalogs_(catalogs),
        options_(options),
        analyzer_(analyzer),
        result_(result),
        readers_(catalogs.size()),
        start_(MonotonicMs()),
        last_progress_(start_) {
    batch_.reserve(kBatchSize);
  }

  // Open every file first: a missing third file should fail before minutes of work. A pipe or
  // FIFO is only checked for now and opened when its turn comes: opening reads its first bytes,
  // which a writer feeding several FIFOs in order sends only after the earlier ones.
  Status OpenFiles() {
    for (size_t f = 0; f < catalogs_.size(); ++f) {
      struct stat st;
      const int rc =
          catalogs_[f] == "-" ? fstat(STDIN_FILENO, &st) : stat(catalogs_[f].c_str(), &st);
      if (rc != 0) return Status::FromErrno(catalogs_[f] + ": cannot open", errno);
      if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode)) continue;
      PIDX_ASSIGN_OR_RETURN(readers_[f], catalog::CatalogReader::Open(catalogs_[f], options_.schema,
                                                                      options_.reader));
      total_bytes_ += readers_[f]->total_bytes();
    }
    return Status::Ok();
  }

  void StartSpilling() {
    // glibc raises its mmap threshold each time a large block is freed, after which large
    // blocks come from the heap and stay there, fragmented: under a budget that grew the
    // process by ~35 MB at 1M products, and without one, where the builders' buffers of 50
    // categories double in step, by ~120 MB (426 MB against 298 MB peak resident at 1M
    // products in 50 categories). A fixed threshold returns them on free, and a buffer that
    // doubles is moved by mremap, not copied. Under a budget every block past 128 KiB is
    // returned; without one, 1 MiB keeps the mmap calls of mid-sized buffers off the profile.
    mallopt(M_MMAP_THRESHOLD, options_.memory_budget != 0 ? 128 * 1024 : 1024 * 1024);
    if (options_.memory_budget == 0 || options_.make_sink) return;
    result_->spill = std::make_shared<SpillArea>(options_.env ? options_.env : Env::Default(),
                                                 options_.spill_dir, options_.memory_budget);
  }

  // Reads every file in order, pushing full batches to `queue`, then the last partial one.
  Status ReadAll(BatchQueue* queue) {
    Status status;
    for (size_t f = 0; f < readers_.size() && status.ok(); ++f) status = ReadFile(f, queue);
    if (!batch_.empty() && status.ok()) queue->Push(std::move(batch_));
    return status;
  }

  // Every slug's shard count, the deferred ones decided now (SettleDeferred).
  Status Settle() {
    for (const auto& [category, route] : slug_of_category_) {
      if (!route.deferred) result_->category_shards[route.slug] = route.shards;
    }
    return SettleDeferred(&deferred_, options_, max_shards_, result_);
  }

  void ReportDone() const {
    if (options_.on_progress) {
      options_.on_progress({result_->products_seen, bytes_done_, total_bytes_,
                            MonotonicMs() - start_, result_->sinks.size()});
    }
  }

 private:
  Status ReadFile(size_t f, BatchQueue* queue) {
    if (!readers_[f]) {
      PIDX_ASSIGN_OR_RETURN(readers_[f], catalog::CatalogReader::Open(catalogs_[f], options_.schema,
                                                                      options_.reader));
    }
    auto& reader = *readers_[f];
    CatalogFileInfo info;
    info.path = catalogs_[f];
    catalog::Product product;
    product.fields.resize(options_.schema.fields().size());
    Status status;
    for (;;) {
      if (Cancelled()) {
        status = Status::Interrupted("interrupted while reading " + reader.display_name());
        break;
      }
      product.Clear();
      auto next = reader.Next(&product);
      if (!next.ok()) {
        if (next.status().kind() != StatusKind::kBadData) {
          status = next.status();
          break;
        }
        status = SkipBadRecord(next.status());
        if (!status.ok()) break;
        continue;
      }
      if (!*next) break;

      // Proven by the id bytes kept in the set, never by reading the input again.
      const std::optional<IdLocation> first =
          seen_ids_.Insert(product.id, static_cast<uint32_t>(f), product.line);
      if (result_->spill && (result_->products_seen & 4095) == 0) {
        result_->spill->SetReserved(seen_ids_.bytes() +
                                    std::min(kInFlightReserve, options_.memory_budget / 8));
      }
      if (first) {
        status = SkipBadRecord(Status::BadData(
            reader.display_name() + ":" + std::to_string(product.line) + ": duplicate id \"" +
            product.id + "\" (first seen at " + readers_[first->file]->display_name() + ":" +
            std::to_string(first->line) + ")"));
        if (!status.ok()) break;
        continue;
      }
      ++result_->products_seen;
      ++info.products;
      Route(&product, queue);
      ReportProgress(reader);
    }
    if (!status.ok()) return status;
    bytes_done_ += reader.bytes_consumed();
    // The identity of what was read, from the bytes that were parsed: a stat size or a second
    // open would describe other bytes for a pipe, or a file replaced during the scan.
    info.size = reader.bytes_consumed();
    info.xxh3 = Hex64(reader.raw_xxh3());
    result_->files.push_back(std::move(info));
    return Status::Ok();
  }

  // A bad record is counted; within max_bad_lines it is reported and skipped (Ok), beyond it
  // it is the scan's error.
  Status SkipBadRecord(Status bad) {
    ++result_->bad_records;
    if (result_->bad_records > options_.max_bad_lines) return bad;
    if (options_.on_bad_record) options_.on_bad_record(bad);
    return Status::Ok();
  }

  // Counts the product in its shard and, when the filter accepts the shard, moves it into the
  // current batch for its sink (made on first use); a full batch goes to the queue. The map
  // lookups and the shard id are made once per (category, shard number), not per product. A
  // slug whose count is decided after the scan goes to its early builder, then to its
  // partitions (DeferredSlug).
  void Route(catalog::Product* product, BatchQueue* queue) {
    auto slug_it = slug_of_category_.find(product->category);
    if (slug_it == slug_of_category_.end()) {
      CategoryRoute route;
      route.slug = CategorySlug(analyzer_.Fold(product->category));
      auto given = options_.category_shards.find(route.slug);
      // Without a target every slug has S shards: nothing to decide after the scan.
      const bool deferred =
          given == options_.category_shards.end() && options_.target_shard_docs > 0;
      if (deferred) route.deferred = &deferred_[route.slug];
      route.shards = given != options_.category_shards.end() ? given->second : max_shards_;
      route.slots.resize(route.shards);
      slug_it = slug_of_category_.emplace(product->category, std::move(route)).first;
    }
    CategoryRoute& route = slug_it->second;
    if (route.deferred != nullptr) ++route.deferred->docs;
    const uint32_t number = ShardNumber(product->id, route.shards);
    Slot& slot = route.slots[number];
    if (!slot.init) {
      slot.init = true;
      const std::string shard = MakeShardId(route.slug, number);
      slot.all = &result_->all_shards[shard];
      slot.accept = Accepts(route.slug, number, route.deferred != nullptr);
      if (slot.accept) {
        slot.category = &result_->categories[shard][product->category];
        if (route.deferred == nullptr) slot.sink = SinkFor(shard);
      }
    }
    ++*slot.all;
    if (!slot.accept) return;
    ++*slot.category;
    ++result_->products;
    ShardSink* sink =
        route.deferred != nullptr ? DeferredSink(route.slug, number, route.deferred) : slot.sink;
    batch_.push_back(Item{std::move(*product), sink});
    *product = catalog::Product();
    product->fields.resize(options_.schema.fields().size());
    if (batch_.size() == kBatchSize) {
      queue->Push(std::move(batch_));
      batch_ = Batch();
      batch_.reserve(kBatchSize);
    }
  }

  // The sink of shard (or partition) `name`, made on first use.
  ShardSink* SinkFor(const std::string& name) {
    auto& sink = result_->sinks[name];
    if (!sink) {
      if (options_.make_sink) {
        sink = options_.make_sink(name);
      } else {
        sink = std::make_unique<ShardBuilder>(name, result_->spill);
      }
    }
    return sink.get();
  }

  // Where a product of partition b of a deferred slug goes: the early builder until the slug
  // has more than target_shard_docs products, then partition b's builder. The early builder
  // leaves result_->sinks then (workers may still add to it: batches in flight point to it),
  // so that the name of shard 0 is free for partition 0.
  ShardSink* DeferredSink(const std::string& slug, uint32_t b, DeferredSlug* state) {
    if (!state->partitioned && state->docs > options_.target_shard_docs) {
      state->partitioned = true;
      state->parts.assign(max_shards_, nullptr);
      auto early = result_->sinks.find(MakeShardId(slug, 0));
      if (early != result_->sinks.end()) {
        state->early_owner = std::move(early->second);
        result_->sinks.erase(early);
      }
    }
    if (!state->partitioned) {
      if (state->early == nullptr) state->early = SinkFor(MakeShardId(slug, 0));
      return state->early;
    }
    if (state->parts[b] == nullptr) state->parts[b] = SinkFor(MakeShardId(slug, b));
    return state->parts[b];
  }

  // A partition of a deferred slug is read when any shard it may end up in is accepted.
  bool Accepts(const std::string& slug, uint32_t b, bool deferred) const {
    if (!options_.shard_filter) return true;
    if (!deferred) return options_.shard_filter(MakeShardId(slug, b));
    for (uint32_t k = 1; k <= max_shards_; ++k) {
      if (max_shards_ % k == 0 && options_.shard_filter(MakeShardId(slug, b % k))) return true;
    }
    return false;
  }

  void ReportProgress(const catalog::CatalogReader& reader) {
    if (!options_.on_progress || (result_->products_seen & 1023) != 0) return;
    const int64_t now = MonotonicMs();
    if (now - last_progress_ < options_.progress_interval_ms) return;
    last_progress_ = now;
    options_.on_progress({result_->products_seen, bytes_done_ + reader.bytes_consumed(),
                          total_bytes_, now - start_, result_->sinks.size()});
  }

  const std::vector<std::string>& catalogs_;
  const IngestOptions& options_;
  const analysis::Analyzer& analyzer_;
  IngestResult* result_;
  std::vector<std::unique_ptr<catalog::CatalogReader>> readers_;
  uint64_t total_bytes_ = 0;
  uint64_t bytes_done_ = 0;
  const int64_t start_;
  int64_t last_progress_;
  IdSet seen_ids_;
  // Per raw category: its slug, the shard count its products are numbered with (S for a slug
  // decided after the scan), and per shard number where its counters and sink are.
  struct Slot {
    bool init = false;
    bool accept = false;
    uint64_t* all = nullptr;       // result_->all_shards entry
    uint64_t* category = nullptr;  // result_->categories entry of this raw category
    ShardSink* sink = nullptr;
  };
  struct CategoryRoute {
    std::string slug;
    uint32_t shards = 1;
    DeferredSlug* deferred = nullptr;  // null when the slug's count is given
    std::vector<Slot> slots;
  };
  std::unordered_map<std::string, CategoryRoute> slug_of_category_;
  std::unordered_map<std::string, DeferredSlug> deferred_;  // by slug
  const uint32_t max_shards_ = std::max<uint32_t>(1, options_.shards_per_category);
  Batch batch_;
};

}  // namespace

Result<IngestResult> Ingest(const std::vector<std::string>& catalogs,
                            const IngestOptions& options) {
  const analysis::Analyzer analyzer(options.analyzer);
  IngestResult result;
  // Reading runs on this thread, analysis on the workers, at the same time: two sibling
  // phases under the caller's span (docs/OBSERVABILITY.md).
  const std::string parent_span = Trace::CurrentSpanId();
  Span read_span("catalog.read", {{"catalog.files", catalogs.size()}});
  Scan scan(catalogs, options, analyzer, &result);
  if (Status opened = scan.OpenFiles(); !opened.ok()) {
    read_span.End(opened);
    return opened;
  }
  BatchQueue queue;
  AnalyzerWorkers workers(options, analyzer, &queue, parent_span);
  scan.StartSpilling();
  Status status = scan.ReadAll(&queue);
  uint64_t bytes = 0;
  for (const auto& f : result.files) bytes += f.size;
  read_span.Set("catalog.products", result.products_seen);
  read_span.Set("catalog.bytes", bytes);
  read_span.Set("catalog.bad_records", result.bad_records);
  read_span.End(status);
  queue.Close();
  workers.Join();
  if (!status.ok()) return status;
  PIDX_RETURN_IF_ERROR(scan.Settle());
  scan.ReportDone();
  return result;
}

}  // namespace pidx::shard
