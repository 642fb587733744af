#include "pidx/shard/ingest.h"

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "pidx/base/cancel.h"
#include "pidx/base/checksum.h"
#include "pidx/base/duration.h"
#include "pidx/base/env.h"
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
                    std::string_view id, uint32_t shards_per_category) {
  return MakeShardId(CategorySlug(analyzer.Fold(category)), ShardNumber(id, shards_per_category));
}

Result<IngestResult> Ingest(const std::vector<std::string>& catalogs,
                            const IngestOptions& options) {
  const analysis::Analyzer analyzer(options.analyzer);
  IngestResult result;
  const int64_t start = MonotonicMs();

  // Open every file first: a missing third file should fail before minutes of work. A pipe or
  // FIFO is only checked for now and opened when its turn comes: opening reads its first bytes,
  // which a writer feeding several FIFOs in order sends only after the earlier ones.
  std::vector<std::unique_ptr<catalog::CatalogReader>> readers(catalogs.size());
  uint64_t total_bytes = 0;
  for (size_t f = 0; f < catalogs.size(); ++f) {
    struct stat st;
    const int rc = catalogs[f] == "-" ? fstat(STDIN_FILENO, &st) : stat(catalogs[f].c_str(), &st);
    if (rc != 0) return Status::FromErrno(catalogs[f] + ": cannot open", errno);
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode)) continue;
    PIDX_ASSIGN_OR_RETURN(
        readers[f], catalog::CatalogReader::Open(catalogs[f], options.schema, options.reader));
    total_bytes += readers[f]->total_bytes();
  }

  BatchQueue queue;
  int nthreads = options.threads > 0
                     ? options.threads
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> workers;
  for (int i = 0; i < nthreads; ++i) {
    workers.emplace_back([&] {
      Batch batch;
      std::vector<std::string> terms;
      while (queue.Pop(&batch)) {
        for (auto& item : batch) {
          analyzer.AnalyzeProduct(options.schema, item.product, &terms);
          uint64_t hash = ProductContentHash(options.schema, item.product);
          std::string title(StoredTitle(options.schema, item.product));
          item.sink->Add(std::move(item.product.id), std::move(title), hash, terms);
        }
      }
    });
  }

  if (options.memory_budget > 0 && !options.make_sink) {
    result.spill = std::make_shared<SpillArea>(options.env ? options.env : Env::Default(),
                                               options.spill_dir, options.memory_budget);
    // glibc raises its mmap threshold each time a large block is freed, after which large
    // blocks come from the heap and stay there, fragmented: under a budget that grew the
    // process by ~35 MB at 1M products. A fixed threshold returns them on free.
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  }

  Status status;
  IdSet seen_ids;
  std::unordered_map<std::string, std::string> slug_of_category;
  std::unordered_map<std::string, bool> filter_cache;
  Batch batch;
  batch.reserve(kBatchSize);
  uint64_t bytes_done = 0;
  int64_t last_progress = start;

  for (size_t f = 0; f < readers.size() && status.ok(); ++f) {
    if (!readers[f]) {
      auto opened = catalog::CatalogReader::Open(catalogs[f], options.schema, options.reader);
      if (!opened.ok()) {
        status = opened.status();
        break;
      }
      readers[f] = std::move(opened).value();
    }
    auto& reader = *readers[f];
    CatalogFileInfo info;
    info.path = catalogs[f];
    catalog::Product product;
    product.fields.resize(options.schema.fields().size());
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
        ++result.bad_records;
        if (result.bad_records > options.max_bad_lines) {
          status = next.status();
          break;
        }
        if (options.on_bad_record) options.on_bad_record(next.status());
        continue;
      }
      if (!*next) break;

      // Proven by the id bytes kept in the set, never by reading the input again.
      const std::optional<IdLocation> first =
          seen_ids.Insert(product.id, static_cast<uint32_t>(f), product.line);
      if (result.spill && (result.products_seen & 4095) == 0) {
        result.spill->SetReserved(seen_ids.bytes() +
                                  std::min(kInFlightReserve, options.memory_budget / 8));
      }
      if (first) {
        Status dup = Status::BadData(reader.display_name() + ":" + std::to_string(product.line) +
                                     ": duplicate id \"" + product.id + "\" (first seen at " +
                                     readers[first->file]->display_name() + ":" +
                                     std::to_string(first->line) + ")");
        ++result.bad_records;
        if (result.bad_records > options.max_bad_lines) {
          status = dup;
          break;
        }
        if (options.on_bad_record) options.on_bad_record(dup);
        continue;
      }
      ++result.products_seen;
      ++info.products;

      auto slug_it = slug_of_category.find(product.category);
      if (slug_it == slug_of_category.end()) {
        slug_it = slug_of_category
                      .emplace(product.category, CategorySlug(analyzer.Fold(product.category)))
                      .first;
      }
      std::string shard =
          MakeShardId(slug_it->second, ShardNumber(product.id, options.shards_per_category));
      ++result.all_shards[shard];
      bool accept = true;
      if (options.shard_filter) {
        auto fit = filter_cache.find(shard);
        if (fit == filter_cache.end())
          fit = filter_cache.emplace(shard, options.shard_filter(shard)).first;
        accept = fit->second;
      }
      if (accept) {
        auto& sink = result.sinks[shard];
        if (!sink) {
          if (options.make_sink) {
            sink = options.make_sink(shard);
          } else {
            sink = std::make_unique<ShardBuilder>(shard, result.spill);
          }
        }
        ++result.categories[shard][product.category];
        ++result.products;
        batch.push_back(Item{std::move(product), sink.get()});
        product = catalog::Product();
        product.fields.resize(options.schema.fields().size());
        if (batch.size() == kBatchSize) {
          queue.Push(std::move(batch));
          batch = Batch();
          batch.reserve(kBatchSize);
        }
      }
      if (options.on_progress && (result.products_seen & 1023) == 0) {
        int64_t now = MonotonicMs();
        if (now - last_progress >= options.progress_interval_ms) {
          last_progress = now;
          options.on_progress({result.products_seen, bytes_done + reader.bytes_consumed(),
                               total_bytes, now - start, result.sinks.size()});
        }
      }
    }
    bytes_done += reader.bytes_consumed();
    // The identity of what was read, from the bytes that were parsed: a stat size or a second
    // open would describe other bytes for a pipe, or a file replaced during the scan.
    info.size = reader.bytes_consumed();
    info.xxh3 = Hex64(reader.raw_xxh3());
    result.files.push_back(std::move(info));
  }
  if (!batch.empty() && status.ok()) queue.Push(std::move(batch));
  queue.Close();
  for (auto& w : workers) w.join();
  if (!status.ok()) return status;
  if (options.on_progress) {
    options.on_progress({result.products_seen, bytes_done, total_bytes, MonotonicMs() - start,
                         result.sinks.size()});
  }
  return result;
}

}  // namespace pidx::shard
