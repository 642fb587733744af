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

// Decides the shard count K of every slug whose count was not given, now that its products
// are counted: partition b (products numbered mod S while reading) becomes shard b mod K
// (XXH3 mod K == (XXH3 mod S) mod K because K divides S), in the counts; the slug's one
// builder is the shard when K is 1, else it is split. Shards the filter rejects are dropped
// with their products.
Status SettleDeferred(const std::unordered_map<std::string, uint64_t>& deferred_docs,
                      const IngestOptions& options, uint32_t max_shards, IngestResult* result) {
  std::vector<std::pair<std::string, uint64_t>> slugs(deferred_docs.begin(), deferred_docs.end());
  std::sort(slugs.begin(), slugs.end());
  for (const auto& [slug, docs] : slugs) {
    const uint32_t k = ShardCountFor(docs, max_shards, options.target_shard_docs);
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
    auto sink = result->sinks.find(MakeShardId(slug, 0));
    if (sink == result->sinks.end()) continue;
    if (k == 1 && keep[0]) continue;  // the builder is the shard
    std::unique_ptr<ShardSink> whole = std::move(sink->second);
    result->sinks.erase(sink);
    auto* builder = dynamic_cast<ShardBuilder*>(whole.get());
    if (builder == nullptr) {
      return Status::Internal("shard " + slug + "_000: only shard builders can be split");
    }
    std::vector<ShardBuilder*> parts(k, nullptr);
    for (uint32_t t = 0; t < k; ++t) {
      if (!keep[t] || result->categories.count(MakeShardId(slug, t)) == 0) continue;
      auto part = std::make_unique<ShardBuilder>(MakeShardId(slug, t), result->spill);
      parts[t] = part.get();
      result->sinks[MakeShardId(slug, t)] = std::move(part);
    }
    PIDX_RETURN_IF_ERROR(builder->SplitInto(parts));
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
    if (options_.memory_budget == 0 || options_.make_sink) return;
    result_->spill = std::make_shared<SpillArea>(options_.env ? options_.env : Env::Default(),
                                                 options_.spill_dir, options_.memory_budget);
    // glibc raises its mmap threshold each time a large block is freed, after which large
    // blocks come from the heap and stay there, fragmented: under a budget that grew the
    // process by ~35 MB at 1M products. A fixed threshold returns them on free.
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
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
    return SettleDeferred(deferred_docs_, options_, max_shards_, result_);
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
  // slug whose count is decided after the scan collects every accepted product in one
  // builder, named as its shard 0 (which it is when the slug ends with one shard, as most
  // small categories do), and is split by SettleDeferred otherwise.
  void Route(catalog::Product* product, BatchQueue* queue) {
    auto slug_it = slug_of_category_.find(product->category);
    if (slug_it == slug_of_category_.end()) {
      CategoryRoute route;
      route.slug = CategorySlug(analyzer_.Fold(product->category));
      auto given = options_.category_shards.find(route.slug);
      // Without a target every slug has S shards: nothing to decide after the scan.
      route.deferred = given == options_.category_shards.end() && options_.target_shard_docs > 0;
      route.shards = given != options_.category_shards.end() ? given->second : max_shards_;
      route.slots.resize(route.shards);
      slug_it = slug_of_category_.emplace(product->category, std::move(route)).first;
    }
    CategoryRoute& route = slug_it->second;
    if (route.deferred) ++deferred_docs_[route.slug];
    const uint32_t number = ShardNumber(product->id, route.shards);
    Slot& slot = route.slots[number];
    if (!slot.init) {
      slot.init = true;
      const std::string shard = MakeShardId(route.slug, number);
      slot.all = &result_->all_shards[shard];
      slot.accept = Accepts(route.slug, number, route.deferred);
      if (slot.accept) {
        slot.category = &result_->categories[shard][product->category];
        const std::string sink_name = route.deferred ? MakeShardId(route.slug, 0) : shard;
        auto& sink = result_->sinks[sink_name];
        if (!sink) {
          if (options_.make_sink) {
            sink = options_.make_sink(sink_name);
          } else {
            sink = std::make_unique<ShardBuilder>(sink_name, result_->spill);
          }
        }
        slot.sink = sink.get();
      }
    }
    ++*slot.all;
    if (!slot.accept) return;
    ++*slot.category;
    ++result_->products;
    batch_.push_back(Item{std::move(*product), slot.sink});
    *product = catalog::Product();
    product->fields.resize(options_.schema.fields().size());
    if (batch_.size() == kBatchSize) {
      queue->Push(std::move(batch_));
      batch_ = Batch();
      batch_.reserve(kBatchSize);
    }
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
    bool deferred = false;
    std::vector<Slot> slots;
  };
  std::unordered_map<std::string, CategoryRoute> slug_of_category_;
  std::unordered_map<std::string, uint64_t> deferred_docs_;  // slug -> products, all of them
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
