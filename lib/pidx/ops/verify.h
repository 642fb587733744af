// `pidx verify`: proves a version is whole, uncorrupted and, with a catalog, faithful to it.
// Read-only: takes no lock, writes nothing, works on a read-only copy of an index.
//
// Integrity (always): CURRENT, the manifest, and every segment it names: present, size,
// checksum (XXH3 over the mapped file), magic and format version, structure (sorted unique
// terms, valid postings with ids below the doc count, doc counts, every doc reachable), the
// content signature and term Bloom filter recorded in the manifest, external ids unique
// across the version. Garbage of any kind is a finding, never a crash.
//
// Consistency (--catalog): the shards the catalog implies against those present (the seed's
// skipped_shards), per shard the external ids and content hashes, the term Bloom filter
// computed from the catalog, and term sampling: the K most frequent terms and K seeded random
// terms with df >= 5 of each shard, compared posting by posting (which products). --deep
// compares every term. Without --deep the catalog scan keeps only ids, hashes, the Bloom
// filter and the sampled postings in memory, never a whole index.
//
// --all-versions: integrity of every version; with --catalog, consistency of CURRENT only
// (what is served), named by VerifyResult::catalog_version.
//
// Every finding kind is explained in docs/VERIFY.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pidx/base/env.h"
#include "pidx/base/status.h"
#include "pidx/catalog/catalog_reader.h"

namespace pidx {

struct Finding {
  std::string kind;
  std::string version;  // "v000042"; empty for index-level findings (CURRENT)
  std::string shard;
  std::string term;
  std::string doc;
  std::string expected;
  std::string found;
  std::string detail;  // one human sentence
  // doc_changed: the schema fields whose field hashes differ (segment format 2); empty when
  // they cannot be told (a format-1 segment).
  std::vector<std::string> fields;
};

// Findings of one (version, shard, kind) beyond VerifyOptions::max_examples: counted exactly,
// not listed one by one.
struct UnlistedFindings {
  std::string version;
  std::string shard;
  std::string kind;
  uint64_t total = 0;   // findings of this group, listed ones included
  uint64_t listed = 0;  // of which VerifyResult::findings holds the first `listed`
};

struct VerifyOptions {
  std::string index_dir;
  uint64_t version = 0;  // 0: current
  bool all_versions = false;
  std::vector<std::string> catalogs;
  catalog::Format format = catalog::Format::kAuto;
  size_t max_line_bytes = 1024 * 1024;
  uint32_t sample_terms = 20;
  uint64_t seed = 1;
  bool deep = false;
  int threads = 0;
  size_t max_examples = 20;  // findings of one kind per shard before they are summed up
};

struct VerifyResult {
  std::vector<std::string> versions;       // integrity checked
  std::string catalog_version;             // compared with the catalog; empty without --catalog
  std::vector<Finding> findings;           // listed findings: every one a real problem
  std::vector<UnlistedFindings> unlisted;  // groups past max_examples (a truncation, no finding)
  uint64_t shards_checked = 0;
  uint64_t docs_checked = 0;
  uint64_t bytes_checked = 0;
  uint64_t terms_compared = 0;
  uint64_t catalog_products = 0;
  int64_t duration_ms = 0;
};

// Every finding, listed or not (the exact count).
uint64_t FindingsTotal(const VerifyResult& r);
// Every finding by kind, listed or not.
std::map<std::string, uint64_t> FindingsByKind(const VerifyResult& r);

// Findings are results, not errors: the Result is ok with findings listed. Errors: kNotFound
// when the index or the requested version does not exist; catalog errors as in build.
Result<VerifyResult> Verify(const VerifyOptions& options, Env* env);

}  // namespace pidx
