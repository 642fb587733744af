// Micro-benchmarks of pidx's hot paths (Google Benchmark), built with -DPIDX_BENCH=ON:
// JSONL parse (CatalogReader), analyzer (Analyzer::AnalyzeProduct), posting construction
// (ShardBuilder Add + Finish), segment write (SegmentWriter), segment open
// (SegmentReader::Open, checksum included) and intersection (Postings AND).
//
// Input: the catalog named by $PIDX_BENCH_CATALOG (scripts/bench passes a pidx-gen catalog);
// without it, a synthetic JSONL catalog of 20,000 products is written to a temp file. Only
// the first 50,000 products are used, as one shard.
#include <benchmark/benchmark.h>

#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "pidx/analysis/analyzer.h"
#include "pidx/catalog/catalog_reader.h"
#include "pidx/catalog/schema.h"
#include "pidx/segment/postings.h"
#include "pidx/segment/segment_reader.h"
#include "pidx/segment/segment_writer.h"
#include "pidx/shard/shard_builder.h"

namespace {

using pidx::catalog::Product;

constexpr size_t kMaxProducts = 50000;

std::string SyntheticCatalog() {
  static const char* kWords[] = {"usb",   "steel",   "cable", "wireless", "cotton", "smart",
                                 "pack",  "leather", "mini",  "portable", "white",  "set",
                                 "green", "organic", "lamp",  "charger",  "mount",  "bag"};
  constexpr size_t kN = sizeof(kWords) / sizeof(kWords[0]);
  static char path[] = "/tmp/pidx_micro_bench_XXXXXX.jsonl";
  const int fd = mkstemps(path, 6);
  if (fd < 0) std::abort();
  close(fd);
  std::atexit([] { std::remove(path); });
  std::ofstream out(path);
  uint64_t x = 88172645463325252ULL;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int i = 0; i < 20000; ++i) {
    std::string title, desc;
    for (int w = 0; w < 6; ++w) title += std::string(w ? " " : "") + kWords[next() % kN];
    for (int w = 0; w < 25; ++w) desc += std::string(w ? " " : "") + kWords[next() % kN];
    char id[32];
    std::snprintf(id, sizeof id, "SKU-%07d", i);
    out << "{\"id\":\"" << id << "\",\"category\":\"Cat " << next() % 8 << "\",\"title\":\""
        << title << "\",\"description\":\"" << desc << "\",\"brand\":\"B" << next() % 50
        << "\",\"tags\":[\"t" << next() % 20 << "\"]}\n";
  }
  return path;
}

struct Fixture {
  pidx::catalog::Schema schema = pidx::catalog::Schema::Default();
  pidx::analysis::Analyzer analyzer;
  std::string catalog;
  uint64_t catalog_bytes = 0;  // bytes of the products used
  std::vector<Product> products;
  std::vector<std::vector<std::string>> terms;
  std::string segment;  // one segment of all products
  std::vector<std::string> seg_terms;
  std::vector<std::vector<uint32_t>> seg_postings;
  std::vector<pidx::segment::DocRecord> seg_docs;

  Fixture() {
    const char* env = std::getenv("PIDX_BENCH_CATALOG");
    catalog = env != nullptr && *env != 0 ? env : SyntheticCatalog();
    auto reader = pidx::catalog::CatalogReader::Open(catalog, schema, {});
    if (!reader.ok()) {
      std::fprintf(stderr, "%s\n", reader.status().ToString().c_str());
      std::exit(1);
    }
    Product p;
    while (products.size() < kMaxProducts) {
      auto more = reader.value()->Next(&p);
      if (!more.ok() || !*more) break;
      products.push_back(p);
    }
    catalog_bytes = reader.value()->bytes_consumed();
    terms.resize(products.size());
    for (size_t i = 0; i < products.size(); ++i) {
      analyzer.AnalyzeProduct(schema, products[i], &terms[i]);
    }
    pidx::shard::ShardBuilder b("bench_000");
    for (size_t i = 0; i < products.size(); ++i) {
      b.Add(products[i].id, std::string(pidx::shard::StoredTitle(schema, products[i])), i,
            terms[i]);
    }
    auto built = b.Finish();
    if (!built.ok()) std::abort();
    segment = built.value().bytes;
    auto r = pidx::segment::SegmentReader::Open(segment, nullptr, "bench");
    if (!r.ok()) std::abort();
    for (uint32_t t = 0; t < r.value().term_count(); ++t) {
      seg_terms.emplace_back(r.value().term(t));
      seg_postings.push_back(r.value().postings(t).value().ToVector());
    }
    for (uint32_t d = 0; d < r.value().doc_count(); ++d) {
      const auto v = r.value().doc(d);
      seg_docs.push_back({std::string(v.external_id), std::string(v.title), v.content_hash});
    }
  }
};

Fixture& F() {
  static Fixture f;
  return f;
}

void BM_JsonlParse(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) {
    auto reader = pidx::catalog::CatalogReader::Open(f.catalog, f.schema, {});
    Product p;
    size_t n = 0;
    while (n < f.products.size()) {
      auto more = reader.value()->Next(&p);
      if (!more.ok() || !*more) break;
      ++n;
    }
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.products.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.catalog_bytes));
}
BENCHMARK(BM_JsonlParse)->Unit(benchmark::kMillisecond);

void BM_Analyze(benchmark::State& state) {
  Fixture& f = F();
  std::vector<std::string> terms;
  for (auto _ : state) {
    for (const auto& p : f.products) {
      f.analyzer.AnalyzeProduct(f.schema, p, &terms);
      benchmark::DoNotOptimize(terms.data());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.products.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.catalog_bytes));
}
BENCHMARK(BM_Analyze)->Unit(benchmark::kMillisecond);

// Posting construction: every analyzed product added to one ShardBuilder, then Finish (sort,
// invert, serialize).
void BM_ShardBuild(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) {
    pidx::shard::ShardBuilder b("bench_000");
    for (size_t i = 0; i < f.products.size(); ++i) {
      b.Add(f.products[i].id, std::string(pidx::shard::StoredTitle(f.schema, f.products[i])), i,
            f.terms[i]);
    }
    auto built = b.Finish();
    benchmark::DoNotOptimize(built.value().bytes.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.products.size()));
}
BENCHMARK(BM_ShardBuild)->Unit(benchmark::kMillisecond);

void BM_SegmentWrite(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) {
    pidx::segment::SegmentWriter w("bench_000");
    for (const auto& d : f.seg_docs) w.AddDoc(d);
    for (size_t t = 0; t < f.seg_terms.size(); ++t) {
      w.AddTerm(f.seg_terms[t], f.seg_postings[t].data(), f.seg_postings[t].size());
    }
    auto bytes = w.Finish();
    benchmark::DoNotOptimize(bytes.value().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.segment.size()));
}
BENCHMARK(BM_SegmentWrite)->Unit(benchmark::kMillisecond);

void BM_SegmentOpen(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) {
    auto r = pidx::segment::SegmentReader::Open(f.segment, nullptr, "bench");
    benchmark::DoNotOptimize(r.ok());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.segment.size()));
}
BENCHMARK(BM_SegmentOpen)->Unit(benchmark::kMicrosecond);

// Intersection of two posting lists over 1M docs, each holding every k-th doc from a
// different start (density 1/k): Arg = k.
void BM_PostingsAnd(benchmark::State& state) {
  const uint32_t k = static_cast<uint32_t>(state.range(0));
  std::vector<uint32_t> a, b;
  for (uint32_t i = 0; i < 1000000; i += k) a.push_back(i);
  for (uint32_t i = k / 2; i < 1000000; i += k + 1) b.push_back(i);
  const auto pa = pidx::segment::Postings::FromSorted(a.data(), a.size());
  const auto pb = pidx::segment::Postings::FromSorted(b.data(), b.size());
  for (auto _ : state) benchmark::DoNotOptimize(pa.AndCardinality(pb));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_PostingsAnd)->Arg(3)->Arg(20)->Arg(200)->Unit(benchmark::kMicrosecond);

// Intersection of the two most frequent text terms of the fixture's segment, materialized.
void BM_PostingsAndSegment(benchmark::State& state) {
  Fixture& f = F();
  std::vector<size_t> order;
  for (size_t t = 0; t < f.seg_terms.size(); ++t) {
    if (f.seg_terms[t].rfind("title:", 0) == 0 || f.seg_terms[t].rfind("description:", 0) == 0) {
      order.push_back(t);
    }
  }
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return f.seg_postings[x].size() > f.seg_postings[y].size();
  });
  if (order.size() < 2) {
    state.SkipWithError("fewer than two text terms");
    return;
  }
  const auto& va = f.seg_postings[order[0]];
  const auto& vb = f.seg_postings[order[1]];
  const auto pa = pidx::segment::Postings::FromSorted(va.data(), va.size());
  const auto pb = pidx::segment::Postings::FromSorted(vb.data(), vb.size());
  for (auto _ : state) {
    auto r = pa.And(pb);
    benchmark::DoNotOptimize(r.Cardinality());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_PostingsAndSegment)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
