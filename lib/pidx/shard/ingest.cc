#include "pidx/shard/ingest.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "pidx/base/cancel.h"
#include "pidx/base/checksum.h"
#include "pidx/base/duration.h"
#include "pidx/base/env.h"
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

// XXH3 of a whole file (runs beside the scan). Read in chunks, not through a map: a map of a
// large catalog would bring every page of it into this process's resident set.
std::string HashFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  Xxh3Stream hash;
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return "";
    }
    if (n == 0) break;
    hash.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  return Hex64(hash.Digest());
}

// The duplicate-id check: the XXH3 of every id seen, 8 bytes per product in an open-addressing
// table (a map of the id strings took ~100 bytes per product). A hit is only a candidate: the
// caller re-reads the catalog to find the first product with that very id, which both proves
// the duplicate (a hash collision is not one) and names where it was first seen.
class IdHashSet {
 public:
  // Inserts `hash`; false when it was already there.
  size_t bytes() const { return slots_.capacity() * sizeof(uint64_t); }
  bool Insert(uint64_t hash) {
    if (hash == 0) hash = 1;  // 0 marks an empty slot
    if ((count_ + 1) * 4 > slots_.size() * 3) Grow();
    const size_t mask = slots_.size() - 1;
    for (size_t i = Mix(hash) & mask;; i = (i + 1) & mask) {
      if (slots_[i] == hash) return false;
      if (slots_[i] == 0) {
        slots_[i] = hash;
        ++count_;
        return true;
      }
    }
  }

 private:
  static uint64_t Mix(uint64_t h) { return h ^ (h >> 29); }
  void Grow() {
    std::vector<uint64_t> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 4096 : old.size() * 2, 0);
    const size_t mask = slots_.size() - 1;
    for (uint64_t h : old) {
      if (h == 0) continue;
      size_t i = Mix(h) & mask;
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = h;
    }
  }
  std::vector<uint64_t> slots_;
  size_t count_ = 0;
};

struct IdLocation {
  uint32_t file;
  uint64_t line;
};

// Finds the first product with `id` in the files before position (file, line), reading them
// again. nullopt when there is none (the hash hit was a collision) or the input cannot be
// read twice (stdin), in which case *rereadable is false.
std::optional<IdLocation> FindFirst(const std::vector<std::string>& catalogs,
                                    const IngestOptions& options, const std::string& id,
                                    uint32_t file, uint64_t line, bool* rereadable) {
  *rereadable = true;
  for (uint32_t f = 0; f <= file && f < catalogs.size(); ++f) {
    if (catalogs[f] == "-") {
      *rereadable = false;
      return std::nullopt;
    }
    auto reader = catalog::CatalogReader::Open(catalogs[f], options.schema, options.reader);
    if (!reader.ok()) {
      *rereadable = false;
      return std::nullopt;
    }
    catalog::Product product;
    product.fields.resize(options.schema.fields().size());
    for (;;) {
      product.Clear();
      auto next = (*reader)->Next(&product);
      if (!next.ok()) {
        if (next.status().kind() == StatusKind::kBadData) continue;
        *rereadable = false;
        return std::nullopt;
      }
      if (!*next || (f == file && product.line >= line)) break;
      if (product.id == id) return IdLocation{f, product.line};
    }
  }
  return std::nullopt;
}

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

  // Open every file first: a missing third file should fail before minutes of work.
  std::vector<std::unique_ptr<catalog::CatalogReader>> readers;
  uint64_t total_bytes = 0;
  for (const auto& path : catalogs) {
    PIDX_ASSIGN_OR_RETURN(auto reader,
                          catalog::CatalogReader::Open(path, options.schema, options.reader));
    total_bytes += reader->total_bytes();
    readers.push_back(std::move(reader));
  }
  std::vector<std::future<std::string>> hashes;
  for (const auto& path : catalogs) {
    hashes.push_back(path == "-" ? std::async(std::launch::deferred, [] { return std::string(); })
                                 : std::async(std::launch::async, HashFile, path));
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
  IdHashSet seen_ids;
  std::unordered_map<std::string, std::string> slug_of_category;
  std::unordered_map<std::string, bool> filter_cache;
  Batch batch;
  batch.reserve(kBatchSize);
  uint64_t bytes_done = 0;
  int64_t last_progress = start;

  for (size_t f = 0; f < readers.size() && status.ok(); ++f) {
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

      bool duplicate = !seen_ids.Insert(Xxh3(product.id));
      if (result.spill && (result.products_seen & 4095) == 0) {
        result.spill->SetReserved(seen_ids.bytes() +
                                  std::min(kInFlightReserve, options.memory_budget / 8));
      }
      bool rereadable = true;
      std::optional<IdLocation> first;
      if (duplicate) {
        first = FindFirst(catalogs, options, product.id, static_cast<uint32_t>(f), product.line,
                          &rereadable);
        // A collision of two different ids' hashes (about n^2 / 2^65: 3e-8 for a million
        // products) is told apart by the re-read; only stdin, which cannot be read twice,
        // has to trust the hash.
        if (!first && rereadable) duplicate = false;
      }
      if (duplicate) {
        Status dup = Status::BadData(
            reader.display_name() + ":" + std::to_string(product.line) + ": duplicate id \"" +
            product.id + "\" (first seen at " +
            (first ? readers[first->file]->display_name() + ":" + std::to_string(first->line)
                   : "an earlier line of " + reader.display_name()) +
            ")");
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
                               total_bytes, now - start});
        }
      }
    }
    bytes_done += reader.bytes_consumed();
    info.size = reader.total_bytes() > 0 ? reader.total_bytes() : reader.bytes_consumed();
    result.files.push_back(std::move(info));
  }
  if (!batch.empty() && status.ok()) queue.Push(std::move(batch));
  queue.Close();
  for (auto& w : workers) w.join();
  for (size_t f = 0; f < hashes.size(); ++f) {
    std::string h = hashes[f].get();
    if (f < result.files.size()) result.files[f].xxh3 = std::move(h);
  }
  if (!status.ok()) return status;
  if (options.on_progress) {
    options.on_progress({result.products_seen, bytes_done, total_bytes, MonotonicMs() - start});
  }
  return result;
}

}  // namespace pidx::shard
