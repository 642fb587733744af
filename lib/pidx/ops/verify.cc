#include "pidx/ops/verify.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "pidx/analysis/analyzer.h"
#include "pidx/base/checksum.h"
#include "pidx/base/duration.h"
#include "pidx/obs/log.h"
#include "pidx/ops/reader_retry.h"
#include "pidx/segment/segment_reader.h"
#include "pidx/shard/ingest.h"
#include "pidx/shard/shard_id.h"
#include "pidx/shard/signature.h"
#include "pidx/snapshot/index_reader.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx {
namespace {

using segment::SegmentReader;
using snapshot::Manifest;
using snapshot::ShardEntry;

// Collects findings, summing up beyond max_examples per (shard, kind).
class Findings {
 public:
  explicit Findings(size_t max_examples) : max_(max_examples) {}
  void Add(Finding f) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t& n = counts_[f.version + "\x1f" + f.shard + "\x1f" + f.kind];
    if (++n <= max_) findings_.push_back(std::move(f));
  }
  std::vector<Finding> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, n] : counts_) {
      if (n <= max_) continue;
      auto a = key.find('\x1f'), b = key.find('\x1f', a + 1);
      Finding f;
      f.version = key.substr(0, a);
      f.shard = key.substr(a + 1, b - a - 1);
      f.kind = key.substr(b + 1);
      f.detail = fmt::format("{} more findings of this kind not listed", n - max_);
      findings_.push_back(std::move(f));
    }
    counts_.clear();
    return std::move(findings_);
  }

 private:
  size_t max_;
  std::mutex mu_;
  std::map<std::string, size_t> counts_;
  std::vector<Finding> findings_;
};

struct OpenShard {
  const ShardEntry* entry = nullptr;
  std::shared_ptr<const MappedFile> mapped;
  std::optional<SegmentReader> reader;  // set only when the segment is intact
};

Finding Make(const std::string& kind, const std::string& version, const std::string& shard,
             std::string detail) {
  Finding f;
  f.kind = kind;
  f.version = version;
  f.shard = shard;
  f.detail = std::move(detail);
  return f;
}

// Integrity of one shard's segment against its manifest entry: the readers' one way to open
// a segment (snapshot::InspectSegment), each problem it finds a finding, then the deep checks
// and the facts the manifest states about the segment (categories, signatures).
void CheckShard(const snapshot::SnapshotStore& store, const std::string& vname,
                const catalog::Schema* schema, const analysis::Analyzer* analyzer, OpenShard* shard,
                Findings* findings, std::atomic<uint64_t>* bytes) {
  const ShardEntry& e = *shard->entry;
  snapshot::SegmentInspection inspection = snapshot::InspectSegment(store, e);
  *bytes += inspection.bytes_mapped;
  auto add = [&](const snapshot::SegmentProblem& p) {
    Finding f = Make(p.kind, vname, e.shard, p.status.message());
    f.expected = p.expected;
    f.found = p.found;
    findings->Add(std::move(f));
  };
  for (const auto& p : inspection.problems) add(p);
  if (!inspection.reader) return;
  auto reader = std::move(inspection.reader);
  bool bad = false;
  Status deep = reader->Validate();
  if (!deep.ok()) {
    findings->Add(Make("segment_corrupt", vname, e.shard, deep.message()));
    return;
  }
  // The recorded signatures must describe this segment's content.
  shard::ContentSignature sig;
  shard::TermBloom bloom;
  for (uint32_t d = 0; d < reader->doc_count(); ++d) {
    auto doc = reader->doc(d);
    sig.AddDoc(doc.external_id, doc.content_hash);
  }
  for (uint32_t t = 0; t < reader->term_count(); ++t) {
    sig.AddTerm(reader->term(t), reader->doc_freq(t));
    bloom.Add(reader->term(t));
  }
  if (sig.Digest() != e.signature) {
    Finding f = Make("signature_mismatch", vname, e.shard,
                     "the content signature recorded in the manifest does not match the segment");
    f.expected = Hex64(e.signature);
    f.found = Hex64(sig.Digest());
    findings->Add(std::move(f));
    bad = true;
  }
  if (bloom.ToHex() != e.term_bloom) {
    findings->Add(
        Make("signature_mismatch", vname, e.shard,
             "the term Bloom filter recorded in the manifest does not match the segment"));
    bad = true;
  }
  if (schema != nullptr && analyzer != nullptr) {
    for (const auto& p : snapshot::CheckCategoryCounts(*reader, e, *schema, *analyzer)) {
      add(p);
      bad = true;
    }
  }
  if (!bad) shard->reader = std::move(reader).value();
}

// The totals a manifest stores are derived from its entries (which CheckShard proves
// against the segments); stored totals that disagree are a lie for dashboards and tools.
void CheckStoredTotals(const std::string& vname, const Manifest& m, Findings* findings) {
  auto check = [&](const char* what, uint64_t stored, uint64_t derived) {
    if (stored == derived) return;
    Finding f =
        Make("manifest_totals_mismatch", vname, "",
             fmt::format("totals.{} is {}, the shard entries add up to {}", what, stored, derived));
    f.expected = std::to_string(derived);
    f.found = std::to_string(stored);
    findings->Add(std::move(f));
  };
  check("shards", m.stored_totals.shards, m.shards.size());
  check("docs", m.stored_totals.docs, m.TotalDocs());
  check("terms", m.stored_totals.terms, m.TotalTerms());
  check("postings", m.stored_totals.postings, m.TotalPostings());
  check("bytes", m.stored_totals.bytes, m.TotalBytes());
}

// What a catalog scan keeps of one shard (VerifyOptions::deep: every term's postings).
class CatalogShard final : public shard::ShardSink {
 public:
  CatalogShard(const std::set<std::string>* sampled, bool deep) : sampled_(sampled), deep_(deep) {}
  void Add(std::string external_id, std::string, uint64_t content_hash,
           const std::vector<std::string>& terms) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& t : terms) {
      bloom.Add(t);
      if (deep_ || (sampled_ && sampled_->count(t))) postings[t].push_back(external_id);
    }
    docs.emplace(std::move(external_id), content_hash);
  }
  std::unordered_map<std::string, uint64_t> docs;
  shard::TermBloom bloom;
  std::map<std::string, std::vector<std::string>> postings;

 private:
  std::mutex mu_;
  const std::set<std::string>* sampled_;
  bool deep_;
};

// The terms of a shard to compare: top K by doc frequency and K random with df >= 5.
std::set<std::string> SampleTerms(const SegmentReader& r, uint32_t k, uint64_t seed) {
  std::set<std::string> out;
  if (k == 0) return out;
  std::vector<uint32_t> ids(r.term_count());
  for (uint32_t i = 0; i < ids.size(); ++i) ids[i] = i;
  std::stable_sort(ids.begin(), ids.end(),
                   [&](uint32_t a, uint32_t b) { return r.doc_freq(a) > r.doc_freq(b); });
  for (uint32_t i = 0; i < ids.size() && i < k; ++i) out.insert(std::string(r.term(ids[i])));
  std::vector<uint32_t> frequent;
  for (uint32_t i = 0; i < r.term_count(); ++i) {
    if (r.doc_freq(i) >= 5) frequent.push_back(i);
  }
  std::mt19937_64 rng(seed ^ Xxh3(r.shard()));
  for (uint32_t i = 0; i < k && !frequent.empty(); ++i) {
    size_t j = static_cast<size_t>(rng() % frequent.size());
    out.insert(std::string(r.term(frequent[j])));
    frequent.erase(frequent.begin() + static_cast<std::ptrdiff_t>(j));
  }
  return out;
}

std::string Sample(const std::vector<std::string>& ids, size_t n = 5) {
  std::string s;
  for (size_t i = 0; i < ids.size() && i < n; ++i) s += (s.empty() ? "" : ", ") + ids[i];
  if (ids.size() > n) s += fmt::format(" (+{} more)", ids.size() - n);
  return s;
}

void CompareTerm(const std::string& vname, const std::string& shard, const SegmentReader& r,
                 const std::string& term, std::vector<std::string> expected, Findings* findings) {
  std::vector<std::string> found;
  if (auto t = r.FindTerm(term)) {
    auto postings = r.postings(*t);
    if (postings.ok()) {
      for (uint32_t d : postings->ToVector()) found.emplace_back(r.doc(d).external_id);
    }
  }
  std::sort(expected.begin(), expected.end());
  std::sort(found.begin(), found.end());
  if (expected == found) return;
  std::vector<std::string> missing, extra;
  std::set_difference(expected.begin(), expected.end(), found.begin(), found.end(),
                      std::back_inserter(missing));
  std::set_difference(found.begin(), found.end(), expected.begin(), expected.end(),
                      std::back_inserter(extra));
  Finding f = Make("term_mismatch", vname, shard, "");
  f.term = term;
  f.expected = std::to_string(expected.size()) + " products";
  f.found = std::to_string(found.size()) + " products";
  f.detail = "postings differ from the catalog";
  if (!missing.empty()) f.detail += "; missing: " + Sample(missing);
  if (!extra.empty()) f.detail += "; not in catalog: " + Sample(extra);
  findings->Add(std::move(f));
}

void CompareShardWithCatalog(const std::string& vname, const OpenShard& s, CatalogShard& cat,
                             const std::set<std::string>& sampled, bool deep, Findings* findings,
                             std::atomic<uint64_t>* terms_compared) {
  const SegmentReader& r = *s.reader;
  const std::string& shard = s.entry->shard;
  std::unordered_set<std::string> in_index;
  for (uint32_t d = 0; d < r.doc_count(); ++d) {
    auto doc = r.doc(d);
    std::string id(doc.external_id);
    auto it = cat.docs.find(id);
    if (it == cat.docs.end()) {
      Finding f =
          Make("doc_extra", vname, shard, "product " + id + " is indexed but not in the catalog");
      f.doc = id;
      findings->Add(std::move(f));
    } else if (it->second != doc.content_hash) {
      Finding f = Make("doc_changed", vname, shard, "product " + id + " changed since the build");
      f.doc = id;
      f.expected = Hex64(it->second);
      f.found = Hex64(doc.content_hash);
      findings->Add(std::move(f));
    }
    in_index.insert(std::move(id));
  }
  std::vector<std::string> missing;
  for (const auto& [id, hash] : cat.docs) {
    if (!in_index.count(id)) missing.push_back(id);
  }
  std::sort(missing.begin(), missing.end());
  for (const auto& id : missing) {
    Finding f =
        Make("doc_missing", vname, shard, "product " + id + " is in the catalog but not indexed");
    f.doc = id;
    findings->Add(std::move(f));
  }
  auto index_bloom = shard::TermBloom::FromHex(s.entry->term_bloom);
  if (index_bloom.ok() && !(cat.bloom == *index_bloom)) {
    Finding f = Make("term_bloom_mismatch", vname, shard,
                     fmt::format("the shard's term set differs from the catalog's ({} of {} "
                                 "Bloom bits differ)",
                                 cat.bloom.DifferingBits(*index_bloom), shard::TermBloom::kBits));
    findings->Add(std::move(f));
  }
  std::set<std::string> terms = sampled;
  if (deep) {
    for (uint32_t t = 0; t < r.term_count(); ++t) terms.insert(std::string(r.term(t)));
    for (const auto& [t, ids] : cat.postings) terms.insert(t);
  }
  for (const auto& t : terms) {
    auto it = cat.postings.find(t);
    CompareTerm(vname, shard, r, t,
                it == cat.postings.end() ? std::vector<std::string>{} : it->second, findings);
    ++*terms_compared;
  }
}

template <typename Fn>
void ParallelFor(size_t n, int threads, Fn fn) {
  int workers =
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  workers = std::max(1, std::min<int>(workers, static_cast<int>(n)));
  std::atomic<size_t> next{0};
  auto run = [&] {
    for (size_t i; (i = next++) < n;) fn(i);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < workers; ++t) pool.emplace_back(run);
  run();
  for (auto& t : pool) t.join();
}

Result<VerifyResult> VerifyOnce(const VerifyOptions& options, Env* env);

// True when `vname` no longer exists and is not what CURRENT names: a concurrent `pidx gc`
// removed it while it was read (gc never removes CURRENT's version), so what was found
// missing is not damage.
bool RemovedMeanwhile(const snapshot::SnapshotStore& store, const std::string& vname) {
  uint64_t v = 0;
  if (!snapshot::ParseVersionName(vname, &v)) return false;
  if (store.env()->FileExists(store.ManifestPath(v))) return false;
  auto current = store.ReadCurrent();
  return current.ok() && *current != v;
}

}  // namespace

// Readers take no lock, so gc may remove the version being verified under it. Findings about
// a version that is gone by the end of the run are not reported as damage: verifying CURRENT
// starts again on the new CURRENT; a version asked for by --version fails with a clear
// not-found error; with --all the vanished versions are left out.
Result<VerifyResult> Verify(const VerifyOptions& options, Env* env) {
  PIDX_ASSIGN_OR_RETURN(auto store, snapshot::SnapshotStore::Open(env, options.index_dir, false));
  const bool current = options.version == 0 && !options.all_versions;
  return ReadRestartingOnGc<VerifyResult>(
      current, "index.verify.restarted", LogLevel::kInfo,
      [&](const ReaderAttempt& attempt, LogFields* removed) -> Result<VerifyResult> {
        PIDX_ASSIGN_OR_RETURN(VerifyResult result, VerifyOnce(options, env));
        std::set<std::string> gone;
        for (const auto& f : result.findings) {
          if (!f.version.empty() && !gone.count(f.version) && RemovedMeanwhile(store, f.version)) {
            gone.insert(f.version);
          }
        }
        if (gone.empty()) return result;
        const std::string what = *gone.begin();
        if (!attempt.last) {
          (*removed)["version"] = what;
          return result;
        }
        if (!options.all_versions) {
          return Status::NotFound("version " + what +
                                  " was removed (by a concurrent pidx gc) while it was verified");
        }
        result.findings.erase(
            std::remove_if(result.findings.begin(), result.findings.end(),
                           [&](const Finding& f) { return gone.count(f.version); }),
            result.findings.end());
        result.versions.erase(std::remove_if(result.versions.begin(), result.versions.end(),
                                             [&](const std::string& v) { return gone.count(v); }),
                              result.versions.end());
        return result;
      });
}

namespace {

Result<VerifyResult> VerifyOnce(const VerifyOptions& options, Env* env) {
  const int64_t start = MonotonicMs();
  PIDX_ASSIGN_OR_RETURN(auto store, snapshot::SnapshotStore::Open(env, options.index_dir, false));
  Findings findings(options.max_examples);
  VerifyResult result;

  uint64_t current = 0;
  auto cur = store.ReadCurrent();
  if (!cur.ok()) {
    findings.Add(Make("current_damaged", "", "", cur.status().message()));
  } else {
    current = *cur;
  }
  PIDX_ASSIGN_OR_RETURN(auto all, store.ListVersions());
  if (current > 0 && !std::binary_search(all.begin(), all.end(), current)) {
    findings.Add(
        Make("current_dangling", snapshot::VersionName(current), "",
             "CURRENT names " + snapshot::VersionName(current) + ", which has no manifest"));
  }
  std::vector<uint64_t> versions;
  if (options.all_versions) {
    versions = all;
  } else if (options.version > 0) {
    if (!std::binary_search(all.begin(), all.end(), options.version)) {
      return Status::NotFound("version " + snapshot::VersionName(options.version) +
                              " does not exist in " + options.index_dir);
    }
    versions = {options.version};
  } else if (current > 0) {
    versions = {current};
  }
  if (versions.empty() && cur.ok()) {
    return Status::NotFound(options.index_dir + " has no published version");
  }
  // The catalog gate asks "is what is served faithful to this catalog?": with --all-versions
  // every version's integrity is checked, but the catalog is compared with CURRENT only (the
  // highest-numbered version is not the served one after a rollback).
  uint64_t catalog_version = 0;
  if (!options.catalogs.empty()) {
    if (!options.all_versions) {
      catalog_version = versions.empty() ? 0 : versions.back();
    } else if (current > 0) {
      catalog_version = current;
    } else if (cur.ok()) {
      return Status::NotFound(options.index_dir +
                              " has no CURRENT: --catalog with --all-versions compares the "
                              "catalog with the current version");
    }  // else CURRENT is damaged: the current_damaged finding already fails the gate
  }
  if (catalog_version > 0) result.catalog_version = snapshot::VersionName(catalog_version);

  std::atomic<uint64_t> bytes{0}, terms_compared{0};
  for (uint64_t v : versions) {
    const std::string vname = snapshot::VersionName(v);
    result.versions.push_back(vname);
    auto manifest = store.LoadManifest(v);
    if (!manifest.ok()) {
      findings.Add(Make("manifest_corrupt", vname, "", manifest.status().message()));
      continue;
    }
    // Self-consistency of the manifest.
    std::set<std::string> seen;
    for (const auto& e : manifest->shards) {
      std::string slug;
      uint32_t n = 0;
      if (!shard::ParseShardId(e.shard, &slug, &n) || n >= manifest->shards_per_category ||
          !seen.insert(e.shard).second) {
        findings.Add(Make(
            "manifest_inconsistent", vname, e.shard,
            "shard entry " + e.shard + " (segment " + e.segment + ") is malformed or duplicated"));
      }
    }
    CheckStoredTotals(vname, *manifest, &findings);
    // The category counts are checked with the version's own schema and analyzer, the way
    // its build computed them.
    auto stored_schema = catalog::Schema::FromJson(manifest->schema);
    auto stored_analyzer = analysis::AnalyzerSettings::FromJson(manifest->analyzer);
    std::optional<analysis::Analyzer> version_analyzer;
    if (stored_schema.ok() && stored_analyzer.ok()) {
      version_analyzer.emplace(*stored_analyzer);
    } else {
      findings.Add(Make("manifest_corrupt", vname, "",
                        "the stored schema or analyzer settings cannot be read"));
    }
    const catalog::Schema* schema_ptr = version_analyzer ? &*stored_schema : nullptr;
    const analysis::Analyzer* analyzer_ptr = version_analyzer ? &*version_analyzer : nullptr;
    std::vector<OpenShard> shards(manifest->shards.size());
    for (size_t i = 0; i < shards.size(); ++i) shards[i].entry = &manifest->shards[i];
    ParallelFor(shards.size(), options.threads, [&](size_t i) {
      CheckShard(store, vname, schema_ptr, analyzer_ptr, &shards[i], &findings, &bytes);
    });
    result.shards_checked += shards.size();

    // External ids are unique across the version. Sorting 16-byte (id hash, shard, doc)
    // entries costs a fraction of a hash map of a million strings; ids with equal hashes are
    // compared byte by byte, so a hash collision is never mistaken for a duplicate.
    struct IdEntry {
      uint64_t hash;
      uint32_t shard;
      uint32_t doc;
    };
    std::vector<IdEntry> ids;
    for (size_t i = 0; i < shards.size(); ++i) {
      const auto& s = shards[i];
      if (!s.reader) continue;
      result.docs_checked += s.reader->doc_count();
      for (uint32_t d = 0; d < s.reader->doc_count(); ++d) {
        ids.push_back({Xxh3(s.reader->doc(d).external_id), static_cast<uint32_t>(i), d});
      }
    }
    std::sort(ids.begin(), ids.end(), [](const IdEntry& a, const IdEntry& b) {
      return std::tie(a.hash, a.shard, a.doc) < std::tie(b.hash, b.shard, b.doc);
    });
    auto id_of = [&](const IdEntry& e) { return shards[e.shard].reader->doc(e.doc).external_id; };
    std::vector<std::pair<IdEntry, uint32_t>> duplicates;  // (later copy, shard of the first)
    for (size_t i = 0; i < ids.size();) {
      size_t end = i + 1;
      while (end < ids.size() && ids[end].hash == ids[i].hash) ++end;
      for (size_t j = i + 1; j < end; ++j) {
        for (size_t k = i; k < j; ++k) {
          if (id_of(ids[k]) == id_of(ids[j])) {
            duplicates.emplace_back(ids[j], ids[k].shard);
            break;
          }
        }
      }
      i = end;
    }
    // Reported in shard and doc order, each copy against the first shard holding the id.
    std::sort(duplicates.begin(), duplicates.end(), [](const auto& a, const auto& b) {
      return std::tie(a.first.shard, a.first.doc) < std::tie(b.first.shard, b.first.doc);
    });
    for (const auto& [copy, first] : duplicates) {
      const std::string id(id_of(copy));
      const std::string& shard_id = shards[copy.shard].entry->shard;
      Finding f = Make("duplicate_external_id", vname, shard_id,
                       "product " + id + " is also in shard " + shards[first].entry->shard);
      f.doc = id;
      findings.Add(std::move(f));
    }

    if (catalog_version == 0 || v != catalog_version) continue;
    // Consistency with the catalog, using the version's own settings.
    shard::IngestOptions io;
    auto schema = catalog::Schema::FromJson(manifest->schema);
    auto analyzer = analysis::AnalyzerSettings::FromJson(manifest->analyzer);
    if (!schema.ok() || !analyzer.ok()) {
      findings.Add(Make("manifest_corrupt", vname, "",
                        "the stored schema or analyzer settings cannot be read"));
      continue;
    }
    io.schema = std::move(schema).value();
    io.analyzer = *analyzer;
    io.shards_per_category = manifest->shards_per_category;
    io.reader.format = options.format;
    io.reader.max_line_bytes = options.max_line_bytes;
    io.threads = options.threads;
    std::map<std::string, std::set<std::string>> sampled;
    std::map<std::string, const OpenShard*> by_shard;
    for (const auto& s : shards) {
      by_shard[s.entry->shard] = &s;
      if (s.reader && !options.deep) {
        sampled[s.entry->shard] = SampleTerms(*s.reader, options.sample_terms, options.seed);
      }
    }
    io.make_sink = [&](const std::string& shard_id) {
      auto it = sampled.find(shard_id);
      return std::make_unique<CatalogShard>(it == sampled.end() ? nullptr : &it->second,
                                            options.deep);
    };
    PIDX_ASSIGN_OR_RETURN(auto scan, shard::Ingest(options.catalogs, io));
    result.catalog_products = scan.products;

    std::vector<std::string> missing;
    for (const auto& [s, n] : scan.all_shards) {
      if (!by_shard.count(s)) missing.push_back(s);
    }
    for (const auto& s : missing) {
      Finding f = Make("shard_missing", vname, s,
                       fmt::format("the catalog has {} products in shard {}, the index has no such "
                                   "shard",
                                   scan.all_shards[s], s));
      f.expected = std::to_string(scan.all_shards[s]) + " products";
      f.found = "no shard";
      findings.Add(std::move(f));
    }
    for (const auto& [s, open] : by_shard) {
      if (!scan.all_shards.count(s)) {
        findings.Add(Make("shard_extra", vname, s,
                          "the index has shard " + s + " but the catalog has no product in it"));
      }
    }
    std::vector<const OpenShard*> common;
    for (const auto& [s, open] : by_shard) {
      if (open->reader && scan.sinks.count(s)) common.push_back(open);
    }
    ParallelFor(common.size(), options.threads, [&](size_t i) {
      const OpenShard& s = *common[i];
      auto& cat = static_cast<CatalogShard&>(*scan.sinks[s.entry->shard]);
      static const std::set<std::string> kNone;
      auto it = sampled.find(s.entry->shard);
      CompareShardWithCatalog(vname, s, cat, it == sampled.end() ? kNone : it->second, options.deep,
                              &findings, &terms_compared);
    });
  }

  result.findings = findings.Take();
  std::stable_sort(
      result.findings.begin(), result.findings.end(), [](const Finding& a, const Finding& b) {
        return std::tie(a.version, a.shard, a.kind) < std::tie(b.version, b.shard, b.kind);
      });
  result.bytes_checked = bytes;
  result.terms_compared = terms_compared;
  result.duration_ms = MonotonicMs() - start;
  return result;
}

}  // namespace
}  // namespace pidx
