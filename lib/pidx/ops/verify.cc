#include "pidx/ops/verify.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "pidx/analysis/analyzer.h"
#include "pidx/base/checksum.h"
#include "pidx/base/duration.h"
#include "pidx/base/worker_pool.h"
#include "pidx/obs/log.h"
#include "pidx/obs/trace.h"
#include "pidx/ops/changed_fields.h"
#include "pidx/ops/reader_retry.h"
#include "pidx/segment/segment_reader.h"
#include "pidx/shard/ingest.h"
#include "pidx/shard/shard_id.h"
#include "pidx/shard/signature.h"
#include "pidx/snapshot/index_reader.h"
#include "pidx/snapshot/index_settings.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx {
namespace {

using segment::SegmentReader;
using snapshot::Manifest;
using snapshot::ShardEntry;

// Collects findings: the first max_examples per (version, shard, kind) are listed, every one
// is counted. What is not listed is a count beside the findings, never a finding of its own
// (a "5 more not listed" line used to be counted as a 6th problem).
class Findings {
 public:
  explicit Findings(size_t max_examples) : max_(max_examples) {}
  void Add(Finding f) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t& n = counts_[f.version + "\x1f" + f.shard + "\x1f" + f.kind];
    if (++n <= max_) findings_.push_back(std::move(f));
  }
  // Findings so far of one shard of one version (every kind).
  size_t CountFor(const std::string& version, const std::string& shard) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string prefix = version + "\x1f" + shard + "\x1f";
    size_t n = 0;
    for (auto it = counts_.lower_bound(prefix);
         it != counts_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      n += it->second;
    }
    return n;
  }
  // Moves the listed findings into `listed` and the groups past max_examples into `unlisted`.
  void Take(std::vector<Finding>* listed, std::vector<UnlistedFindings>* unlisted) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, n] : counts_) {
      if (n <= max_) continue;
      auto a = key.find('\x1f'), b = key.find('\x1f', a + 1);
      UnlistedFindings u;
      u.version = key.substr(0, a);
      u.shard = key.substr(a + 1, b - a - 1);
      u.kind = key.substr(b + 1);
      u.total = n;
      u.listed = max_;
      unlisted->push_back(std::move(u));
    }
    counts_.clear();
    *listed = std::move(findings_);
  }

 private:
  size_t max_;
  std::mutex mu_;
  std::map<std::string, size_t> counts_;
  std::vector<Finding> findings_;
};

// What the integrity pass keeps of one shard once its segment is released again: a version
// may have 100k shards, and keeping each mapped ran out of the kernel's mappings (65530 per
// process), which turned sound segments into false segment_unreadable findings. Every later
// pass opens the segment again, one at a time per thread.
struct OpenShard {
  const ShardEntry* entry = nullptr;
  bool intact = false;              // every integrity check passed
  uint32_t docs = 0;                // when intact
  std::vector<uint64_t> id_hashes;  // when intact: XXH3 of each doc's external id, by doc
  std::set<std::string> sampled;    // when intact and asked for: the terms to compare
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
std::set<std::string> SampleTerms(const SegmentReader& r, uint32_t k, uint64_t seed);

// Opens the segment of an intact shard again for a later pass. Segments are immutable, so a
// problem now is damage since the first pass, and reported like any other.
std::optional<SegmentReader> Reopen(const snapshot::SnapshotStore& store, const std::string& vname,
                                    const ShardEntry& e, Findings* findings) {
  snapshot::SegmentInspection inspection = snapshot::InspectSegment(store, e);
  for (const auto& p : inspection.problems) {
    Finding f = Make(p.kind, vname, e.shard, p.status.message());
    f.expected = p.expected;
    f.found = p.found;
    findings->Add(std::move(f));
  }
  return std::move(inspection.reader);
}

// `sample_terms` >= 0: also keep the terms to compare with a catalog (SampleTerms).
void CheckShard(const snapshot::SnapshotStore& store, const std::string& vname,
                const catalog::Schema* schema, const analysis::Analyzer* analyzer, OpenShard* shard,
                Findings* findings, std::atomic<uint64_t>* bytes, int64_t sample_terms,
                uint64_t seed) {
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
  if (bad) return;
  shard->intact = true;
  shard->docs = reader->doc_count();
  shard->id_hashes.reserve(reader->doc_count());
  for (uint32_t d = 0; d < reader->doc_count(); ++d) {
    shard->id_hashes.push_back(Xxh3(reader->doc(d).external_id));
  }
  if (sample_terms >= 0) {
    shard->sampled = SampleTerms(*reader, static_cast<uint32_t>(sample_terms), seed);
  }
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
  const snapshot::Totals derived = snapshot::SumTotals(m.shards);
  check("shards", m.stored_totals.shards, derived.shards);
  check("docs", m.stored_totals.docs, derived.docs);
  check("terms", m.stored_totals.terms, derived.terms);
  check("postings", m.stored_totals.postings, derived.postings);
  check("bytes", m.stored_totals.bytes, derived.bytes);
}

// What a catalog scan keeps of one shard (VerifyOptions::deep: every term's postings).
class CatalogShard final : public shard::ShardSink {
 public:
  CatalogShard(const std::set<std::string>* sampled, bool deep) : sampled_(sampled), deep_(deep) {}
  void Add(std::string external_id, std::string title, uint64_t content_hash,
           const std::vector<std::string>& terms) override {
    AddWithFields(std::move(external_id), std::move(title), content_hash, {}, terms);
  }
  void AddWithFields(std::string external_id, std::string, uint64_t content_hash,
                     std::string_view field_hashes,
                     const std::vector<std::string>& terms) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& t : terms) {
      bloom.Add(t);
      if (deep_ || (sampled_ && sampled_->count(t))) postings[t].push_back(external_id);
    }
    if (!field_hashes.empty()) fields.emplace(external_id, field_hashes);
    docs.emplace(std::move(external_id), content_hash);
  }
  std::unordered_map<std::string, uint64_t> docs;
  std::unordered_map<std::string, std::string> fields;  // id -> the catalog's field hashes
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

void CompareShardWithCatalog(const std::string& vname, const catalog::Schema& schema,
                             const SegmentReader& r, const ShardEntry& entry, CatalogShard& cat,
                             const std::set<std::string>& sampled, bool deep, Findings* findings,
                             std::atomic<uint64_t>* terms_compared) {
  const std::string& shard = entry.shard;
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
      auto fh = cat.fields.find(id);
      std::vector<std::string> changed = fh == cat.fields.end()
                                             ? std::vector<std::string>()
                                             : ChangedFields(schema, doc.field_hashes, fh->second);
      Finding f = Make("doc_changed", vname, shard,
                       "product " + id + " changed since the build" +
                           (changed.empty() ? "" : ": " + JoinFields(changed)));
      f.doc = id;
      f.fields = std::move(changed);
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
  auto index_bloom = shard::TermBloom::FromHex(entry.term_bloom);
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

uint64_t FindingsTotal(const VerifyResult& r) {
  uint64_t n = r.findings.size();
  for (const auto& u : r.unlisted) n += u.total - u.listed;
  return n;
}

std::map<std::string, uint64_t> FindingsByKind(const VerifyResult& r) {
  std::map<std::string, uint64_t> out;
  for (const auto& f : r.findings) ++out[f.kind];
  for (const auto& u : r.unlisted) out[u.kind] += u.total - u.listed;
  return out;
}

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
        for (const auto& u : result.unlisted) {
          if (!u.version.empty() && !gone.count(u.version) && RemovedMeanwhile(store, u.version)) {
            gone.insert(u.version);
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
        result.unlisted.erase(
            std::remove_if(result.unlisted.begin(), result.unlisted.end(),
                           [&](const UnlistedFindings& u) { return gone.count(u.version); }),
            result.unlisted.end());
        result.versions.erase(std::remove_if(result.versions.begin(), result.versions.end(),
                                             [&](const std::string& v) { return gone.count(v); }),
                              result.versions.end());
        return result;
      });
}

namespace {

// Which versions one run checks, and which of them is compared with the catalog.
struct VersionSelection {
  std::vector<uint64_t> versions;
  uint64_t catalog_version = 0;  // 0: none
};

// Reads CURRENT (a damaged or dangling one is a finding) and selects --all-versions, --version
// or the current version; kNotFound for a version that does not exist or an index without one.
Result<VersionSelection> SelectVersions(const snapshot::SnapshotStore& store,
                                        const VerifyOptions& options, Findings* findings) {
  uint64_t current = 0;
  auto cur = store.ReadCurrent();
  if (!cur.ok()) {
    findings->Add(Make("current_damaged", "", "", cur.status().message()));
  } else {
    current = *cur;
  }
  PIDX_ASSIGN_OR_RETURN(auto all, store.ListVersions());
  if (current > 0 && !std::binary_search(all.begin(), all.end(), current)) {
    findings->Add(
        Make("current_dangling", snapshot::VersionName(current), "",
             "CURRENT names " + snapshot::VersionName(current) + ", which has no manifest"));
  }
  VersionSelection selection;
  std::vector<uint64_t>& versions = selection.versions;
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
  if (!options.catalogs.empty()) {
    if (!options.all_versions) {
      selection.catalog_version = versions.empty() ? 0 : versions.back();
    } else if (current > 0) {
      selection.catalog_version = current;
    } else if (cur.ok()) {
      return Status::NotFound(options.index_dir +
                              " has no CURRENT: --catalog with --all-versions compares the "
                              "catalog with the current version");
    }  // else CURRENT is damaged: the current_damaged finding already fails the gate
  }
  return selection;
}

// Self-consistency of the manifest: well-formed, unique shard ids within shards_per_category,
// and stored totals that the entries add up to.
void CheckManifestEntries(const std::string& vname, const Manifest& manifest, Findings* findings) {
  std::set<std::string> seen;
  for (const auto& e : manifest.shards) {
    std::string slug;
    uint32_t n = 0;
    if (!shard::ParseShardId(e.shard, &slug, &n) || n >= manifest.ShardsOf(slug) ||
        !seen.insert(e.shard).second) {
      findings->Add(Make(
          "manifest_inconsistent", vname, e.shard,
          "shard entry " + e.shard + " (segment " + e.segment + ") is malformed or duplicated"));
    } else if (manifest.format_version >= 2 && !manifest.category_shards.count(slug)) {
      findings->Add(
          Make("manifest_inconsistent", vname, e.shard,
               "category_shards has no count for " + slug + ", the category of shard " + e.shard));
    }
  }
  CheckStoredTotals(vname, manifest, findings);
}

// Every shard of the version through CheckShard, in parallel. The category counts are checked
// with the version's own schema and analyzer (`settings`), the way its build computed them.
Result<std::vector<OpenShard>> CheckShards(const snapshot::SnapshotStore& store,
                                           const std::string& vname, const Manifest& manifest,
                                           const Result<snapshot::IndexSettings>& settings,
                                           int threads, Findings* findings,
                                           std::atomic<uint64_t>* bytes, int64_t sample_terms,
                                           uint64_t seed) {
  std::optional<analysis::Analyzer> version_analyzer;
  if (settings.ok()) version_analyzer.emplace(settings->analyzer);
  const catalog::Schema* schema_ptr = version_analyzer ? &settings->schema : nullptr;
  const analysis::Analyzer* analyzer_ptr = version_analyzer ? &*version_analyzer : nullptr;
  std::vector<OpenShard> shards(manifest.shards.size());
  for (size_t i = 0; i < shards.size(); ++i) shards[i].entry = &manifest.shards[i];
  // Checks report findings, never errors: the pool cannot fail. A shard with findings is
  // an ERROR span (docs/OBSERVABILITY.md).
  const std::string parent_span = Trace::CurrentSpanId();
  PIDX_RETURN_IF_ERROR(RunJobs(shards.size(), threads, [&](size_t i) {
    const std::string& shard_id = shards[i].entry->shard;
    Span span("shard.verify", parent_span, {{"index.shard", shard_id}, {"index.version", vname}});
    const size_t before = findings->CountFor(vname, shard_id);
    CheckShard(store, vname, schema_ptr, analyzer_ptr, &shards[i], findings, bytes, sample_terms,
               seed);
    const size_t found = findings->CountFor(vname, shard_id) - before;
    span.Set("verify.findings", found);
    span.End(found == 0 ? Status::Ok()
                        : Status::Corrupt(std::to_string(found) + " findings in " + shard_id));
    return Status::Ok();
  }));
  return shards;
}

// External ids are unique across the version. Sorting 16-byte (id hash, shard, doc) entries
// costs a fraction of a hash map of a million strings; ids with equal hashes are compared byte
// by byte, so a hash collision is never mistaken for a duplicate. Returns the docs checked.
uint64_t CheckUniqueIds(const snapshot::SnapshotStore& store, const std::string& vname,
                        std::vector<OpenShard>& shards, Findings* findings) {
  struct IdEntry {
    uint64_t hash;
    uint32_t shard;
    uint32_t doc;
  };
  uint64_t docs = 0;
  std::vector<IdEntry> ids;
  for (size_t i = 0; i < shards.size(); ++i) {
    auto& s = shards[i];
    if (!s.intact) continue;
    docs += s.docs;
    for (uint32_t d = 0; d < s.id_hashes.size(); ++d) {
      ids.push_back({s.id_hashes[d], static_cast<uint32_t>(i), d});
    }
    std::vector<uint64_t>().swap(s.id_hashes);
  }
  std::sort(ids.begin(), ids.end(), [](const IdEntry& a, const IdEntry& b) {
    return std::tie(a.hash, a.shard, a.doc) < std::tie(b.hash, b.shard, b.doc);
  });
  // Equal hashes are rare (a duplicate, or a collision): only their shards are opened again,
  // a few at a time. A shard that cannot be opened again is a finding (Reopen), and its ids
  // compare as unequal.
  std::map<uint32_t, std::optional<SegmentReader>> reopened;
  auto id_of = [&](const IdEntry& e) -> std::string {
    auto it = reopened.find(e.shard);
    if (it == reopened.end()) {
      if (reopened.size() >= 64) reopened.erase(reopened.begin());
      it = reopened.emplace(e.shard, Reopen(store, vname, *shards[e.shard].entry, findings)).first;
    }
    if (!it->second || e.doc >= it->second->doc_count()) {
      return "\x1f" + std::to_string(e.shard) + "/" + std::to_string(e.doc);
    }
    return std::string(it->second->doc(e.doc).external_id);
  };
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
    const std::string id = id_of(copy);
    const std::string& shard_id = shards[copy.shard].entry->shard;
    Finding f = Make("duplicate_external_id", vname, shard_id,
                     "product " + id + " is also in shard " + shards[first].entry->shard);
    f.doc = id;
    findings->Add(std::move(f));
  }
  return docs;
}

// Consistency with the catalog, using the version's own settings: shards missing or extra,
// then each common shard's products and (sampled or, with deep, all) terms. Errors are the
// catalog scan's (shard::Ingest); the rest are findings.
Status CompareWithCatalog(const snapshot::SnapshotStore& store, const std::string& vname,
                          const Manifest& manifest, const Result<snapshot::IndexSettings>& settings,
                          std::vector<OpenShard>& shards, const VerifyOptions& options,
                          Findings* findings, std::atomic<uint64_t>* terms_compared,
                          uint64_t* catalog_products) {
  shard::IngestOptions io;
  if (!settings.ok()) {
    findings->Add(Make("manifest_corrupt", vname, "",
                       "the stored schema or analyzer settings cannot be read"));
    return Status::Ok();
  }
  io.schema = settings->schema;
  io.analyzer = settings->analyzer;
  // The catalog's products go to the shards the version's recorded counts give them; a
  // category the version does not have gets the count a build would give it.
  io.shards_per_category = settings->shards_per_category;
  io.target_shard_docs = manifest.target_shard_docs;
  for (const auto& e : manifest.shards) {
    std::string slug;
    uint32_t n = 0;
    if (shard::ParseShardId(e.shard, &slug, &n)) io.category_shards[slug] = manifest.ShardsOf(slug);
  }
  io.reader.format = options.format;
  io.reader.max_line_bytes = options.max_line_bytes;
  io.threads = options.threads;
  std::map<std::string, std::set<std::string>> sampled;
  std::map<std::string, const OpenShard*> by_shard;
  for (auto& s : shards) {
    by_shard[s.entry->shard] = &s;
    if (s.intact && !options.deep) sampled[s.entry->shard] = std::move(s.sampled);
  }
  // Only the shards the version has are compared product by product; the others are
  // counted (shard_missing).
  io.shard_filter = [&](const std::string& shard_id) { return by_shard.count(shard_id) > 0; };
  io.make_sink = [&](const std::string& shard_id) {
    auto it = sampled.find(shard_id);
    return std::make_unique<CatalogShard>(it == sampled.end() ? nullptr : &it->second,
                                          options.deep);
  };
  PIDX_ASSIGN_OR_RETURN(auto scan, shard::Ingest(options.catalogs, io));
  *catalog_products = scan.products;

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
    findings->Add(std::move(f));
  }
  for (const auto& [s, open] : by_shard) {
    if (!scan.all_shards.count(s)) {
      findings->Add(Make("shard_extra", vname, s,
                         "the index has shard " + s + " but the catalog has no product in it"));
    }
  }
  std::vector<const OpenShard*> common;
  for (const auto& [s, open] : by_shard) {
    if (open->intact && scan.sinks.count(s)) common.push_back(open);
  }
  return RunJobs(common.size(), options.threads, [&](size_t i) {
    const OpenShard& s = *common[i];
    auto reader = Reopen(store, vname, *s.entry, findings);
    if (!reader) return Status::Ok();
    auto& cat = static_cast<CatalogShard&>(*scan.sinks.at(s.entry->shard));
    static const std::set<std::string> kNone;
    auto it = sampled.find(s.entry->shard);
    CompareShardWithCatalog(vname, settings->schema, *reader, *s.entry, cat,
                            it == sampled.end() ? kNone : it->second, options.deep, findings,
                            terms_compared);
    return Status::Ok();
  });
}

Result<VerifyResult> VerifyOnce(const VerifyOptions& options, Env* env) {
  const int64_t start = MonotonicMs();
  PIDX_ASSIGN_OR_RETURN(auto store, snapshot::SnapshotStore::Open(env, options.index_dir, false));
  Findings findings(options.max_examples);
  VerifyResult result;
  PIDX_ASSIGN_OR_RETURN(auto selection, SelectVersions(store, options, &findings));
  if (selection.catalog_version > 0) {
    result.catalog_version = snapshot::VersionName(selection.catalog_version);
  }

  std::atomic<uint64_t> bytes{0}, terms_compared{0};
  for (uint64_t v : selection.versions) {
    const std::string vname = snapshot::VersionName(v);
    result.versions.push_back(vname);
    auto manifest = store.LoadManifest(v);
    if (!manifest.ok()) {
      findings.Add(Make("manifest_corrupt", vname, "", manifest.status().message()));
      continue;
    }
    CheckManifestEntries(vname, *manifest, &findings);
    auto settings = snapshot::IndexSettings::FromManifest(*manifest);
    if (!settings.ok()) {
      findings.Add(Make("manifest_corrupt", vname, "",
                        "the stored schema or analyzer settings cannot be read"));
    }
    // Terms to compare with the catalog are chosen while each segment is open anyway.
    const int64_t sample_terms = v == selection.catalog_version && !options.deep
                                     ? static_cast<int64_t>(options.sample_terms)
                                     : -1;
    PIDX_ASSIGN_OR_RETURN(auto shards,
                          CheckShards(store, vname, *manifest, settings, options.threads, &findings,
                                      &bytes, sample_terms, options.seed));
    result.shards_checked += shards.size();
    result.docs_checked += CheckUniqueIds(store, vname, shards, &findings);
    if (v != selection.catalog_version) continue;
    PIDX_RETURN_IF_ERROR(CompareWithCatalog(store, vname, *manifest, settings, shards, options,
                                            &findings, &terms_compared, &result.catalog_products));
  }

  findings.Take(&result.findings, &result.unlisted);
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
