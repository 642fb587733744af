// pidx-gen: a deterministic generator of realistic product catalogs for tests, demos and
// benchmarks.
//
// Same arguments => byte-identical output on every platform. That is why all randomness comes
// from our own xoshiro256** and all sampling is integer arithmetic: std:: distributions are
// implementation-defined and floating point sampling can differ between compilers (FMA
// contraction, libm). Output is streamed product by product so memory stays constant no matter
// how many products are written.
//
// Besides the catalog it can write:
//  --truth FILE    a JSON summary of what was written, for tests to compare with index stats;
//  --queries FILE  a recall query set (JSONL), each query with every product that must match.
//
// Exit codes follow the pidx contract: 0 ok, 64 bad usage, 74 I/O error.
//
// The files, by job: random.h (Rng, WeightedTable), catalog_data (categories, brands, tags,
// attributes, CJK pieces), vocabulary (the title words), products (ProductGenerator), formats
// (JSONL, CSV, TSV lines), truth (--truth), queries (--queries), output_file (checked writes),
// and this file: the flags and the run.

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "formats.h"
#include "output_file.h"
#include "products.h"
#include "queries.h"
#include "truth.h"
#include "vocabulary.h"

namespace {

using pidx_gen::AppendDelimited;
using pidx_gen::BuildVocabulary;
using pidx_gen::Format;
using pidx_gen::Header;
using pidx_gen::JsonlFormatter;
using pidx_gen::OutputFile;
using pidx_gen::Product;
using pidx_gen::ProductGenerator;
using pidx_gen::QuerySet;
using pidx_gen::Truth;

// Kept local because pidx-gen deliberately does not link the pidx library (see
// lib/pidx/base/exit_code.h for the table these values come from).
constexpr int kExitOk = 0;
constexpr int kExitUsage = 64;
constexpr int kExitIoError = 74;

struct Options {
  uint64_t products = 0;
  uint64_t seed = 42;
  std::string format;  // empty: from the --out extension, else jsonl
  std::string out = "-";
  std::string queries;
  size_t query_count = 100;
  std::string truth;
  double cjk_ratio = 0.05;
  uint64_t categories = 0;  // 0: the built-in categories
  uint64_t category_skew = 1;
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Format ResolveFormat(const Options& options) {
  std::string_view name = options.format;
  if (name.empty()) {
    name = EndsWith(options.out, ".csv") ? "csv" : EndsWith(options.out, ".tsv") ? "tsv" : "jsonl";
  }
  return name == "csv" ? Format::kCsv : name == "tsv" ? Format::kTsv : Format::kJsonl;
}

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "pidx-gen: %s\n", message.c_str());
  return code;
}

int Run(const Options& options) {
  const std::vector<std::string> vocabulary = BuildVocabulary();
  // The ratio becomes an integer per-million once, so sampling stays integer-only.
  const auto cjk_ppm = static_cast<uint64_t>(std::llround(options.cjk_ratio * 1'000'000));
  const Format format = ResolveFormat(options);

  std::unique_ptr<QuerySet> queries;
  if (!options.queries.empty()) {
    queries = std::make_unique<QuerySet>(options.seed, options.query_count, options.products,
                                         cjk_ppm, vocabulary, options.categories == 0);
  }
  Truth truth;

  OutputFile out;
  if (!out.Open(options.out)) return Fail(kExitIoError, "cannot open " + options.out);
  bool ok = out.Write(Header(format));
  ProductGenerator generator(options.seed, cjk_ppm, vocabulary, options.categories,
                             options.category_skew);
  Product product;
  JsonlFormatter jsonl;
  std::string line;
  for (uint64_t i = 0; i < options.products && ok; ++i) {
    generator.Next(product);
    line.clear();
    if (format == Format::kJsonl) {
      jsonl.Append(product, line);
    } else {
      AppendDelimited(product, format, line);
    }
    ok = out.Write(line);
    truth.Count(product);
    if (queries) queries->Observe(product);
  }
  const std::string out_name = options.out == "-" ? "stdout" : options.out;
  if (!out.Close() || !ok) return Fail(kExitIoError, "write error on " + out_name);

  if (queries) {
    OutputFile file;
    if (!file.Open(options.queries)) return Fail(kExitIoError, "cannot open " + options.queries);
    const size_t written = queries->Write(file.get());
    if (!file.Close()) return Fail(kExitIoError, "write error on " + options.queries);
    if (written < options.query_count) {
      std::fprintf(stderr, "pidx-gen: only %zu of %zu queries have 1..%zu matches\n", written,
                   options.query_count, QuerySet::kMaxExpected);
    }
  }
  if (!options.truth.empty()) {
    OutputFile file;
    if (!file.Open(options.truth)) return Fail(kExitIoError, "cannot open " + options.truth);
    const bool written = file.Write(truth.ToJson().dump(2) + '\n');
    if (!file.Close() || !written) return Fail(kExitIoError, "write error on " + options.truth);
  }
  std::fprintf(stderr, "pidx-gen: wrote %llu products to %s\n",
               static_cast<unsigned long long>(options.products), out_name.c_str());
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Generate a deterministic, realistic product catalog for pidx.", "pidx-gen"};
  Options options;
  app.add_option("--products", options.products, "number of products to write")->required();
  app.add_option("--seed", options.seed, "seed; same arguments give byte-identical output")
      ->capture_default_str();
  app.add_option("--format", options.format, "jsonl, csv or tsv (default: from --out, jsonl)")
      ->check(CLI::IsMember({"jsonl", "csv", "tsv"}));
  app.add_option("--out", options.out, "catalog file, - for stdout")->capture_default_str();
  auto* queries = app.add_option("--queries", options.queries, "write a recall query set (JSONL)");
  app.add_option("--query-count", options.query_count, "number of queries")
      ->capture_default_str()
      ->needs(queries);
  app.add_option("--truth", options.truth, "write a JSON summary of the catalog");
  app.add_option("--cjk-ratio", options.cjk_ratio, "fraction of CJK titles")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--categories", options.categories,
                 "leaf categories (0: the built-in ones); leaf i is \"<built-in> > i\"")
      ->check(CLI::Range(uint64_t{0}, uint64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--category-skew", options.category_skew,
                 "Zipf offset of the leaf sizes, weights 1/(rank + skew): 1 makes most leaves "
                 "tiny, larger values spread products more evenly")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}))
      ->capture_default_str();
  app.set_version_flag("--version", PIDX_VERSION);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  // Two outputs on one path would interleave into garbage.
  std::set<std::string> paths{options.out};
  for (const std::string* path : {&options.queries, &options.truth}) {
    if (!path->empty() && !paths.insert(*path).second) {
      return Fail(kExitUsage, "--out, --queries and --truth must name different files");
    }
  }
  return Run(options);
}
