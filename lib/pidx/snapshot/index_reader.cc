#include "pidx/snapshot/index_reader.h"

#include <map>

#include <fmt/format.h>

#include "pidx/base/checksum.h"
#include "pidx/shard/shard_id.h"

namespace pidx::snapshot {

Result<std::string> ReadIndexFile(Env* env, const std::string& path, uint64_t max_bytes) {
  PIDX_ASSIGN_OR_RETURN(auto mapped, env->MapFile(path));
  const std::string_view data = mapped->data();
  if (data.size() > max_bytes) {
    return Status::Corrupt(fmt::format("{}: {} bytes, more than the {} a file of its kind may have",
                                       path, data.size(), max_bytes));
  }
  return std::string(data);
}

SegmentInspection InspectSegment(const SnapshotStore& store, const ShardEntry& e, bool lazy) {
  SegmentInspection out;
  const std::string path = store.SegmentPath(e.segment);
  auto problem = [&](const char* kind, Status status, std::string expected = {},
                     std::string found = {}) {
    out.problems.push_back({kind, std::move(status), std::move(expected), std::move(found)});
  };
  // The name is the entry's promise of which bytes it means: "<shard>-<checksum>.seg". It is
  // listed after what the file itself shows (missing, damaged), which says more.
  auto finish = [&]() -> SegmentInspection {
    if (e.segment != SnapshotStore::SegmentName(e.shard, e.checksum)) {
      problem("manifest_inconsistent",
              Status::Corrupt(fmt::format("segment name {} does not carry the entry's checksum {}",
                                          e.segment, Hex64(e.checksum))),
              SnapshotStore::SegmentName(e.shard, e.checksum), e.segment);
      out.reader.reset();
    }
    return std::move(out);
  };
  auto mapped = store.env()->MapFile(path);
  if (!mapped.ok()) {
    const Status& s = mapped.status();
    if (s.kind() == StatusKind::kNotFound) {
      problem("segment_missing", Status::NotFound("segment " + path + " is missing"));
    } else if (s.kind() == StatusKind::kCorrupt) {
      problem("segment_not_regular", s);  // a FIFO, directory, device or symlink
    } else {
      problem("segment_unreadable", s);
    }
    return finish();
  }
  const std::string_view data = (*mapped)->data();
  out.bytes_mapped = data.size();
  if (data.size() != e.size) {
    problem("segment_size_mismatch",
            Status::Corrupt(
                fmt::format("{}: size {}, the manifest says {}", path, data.size(), e.size)),
            std::to_string(e.size), std::to_string(data.size()));
  }
  segment::OpenOptions options;
  options.verify_all = !lazy;
  auto reader = segment::SegmentReader::Open(data, *mapped, path, options);
  if (!reader.ok()) {
    const bool checksum = reader.status().message().find("checksum") != std::string::npos;
    problem(checksum ? "segment_checksum_mismatch" : "segment_corrupt", reader.status());
    return finish();
  }
  if (reader->checksum() != e.checksum) {
    problem("segment_checksum_mismatch",
            Status::Corrupt(fmt::format("{} is intact but not the segment the manifest records "
                                        "(checksum {}, the manifest says {})",
                                        path, Hex64(reader->checksum()), Hex64(e.checksum))),
            Hex64(e.checksum), Hex64(reader->checksum()));
    return finish();
  }
  if (reader->shard() != e.shard) {
    problem(
        "segment_manifest_mismatch",
        Status::Corrupt(fmt::format("{} holds shard {}, not {}", path, reader->shard(), e.shard)),
        e.shard, reader->shard());
  }
  auto count = [&](const char* what, uint64_t expected, uint64_t found) {
    if (expected == found) return;
    problem("segment_manifest_mismatch",
            Status::Corrupt(
                fmt::format("{}: {} {}, the manifest says {}", path, what, found, expected)),
            std::to_string(expected), std::to_string(found));
  };
  count("doc count", e.docs, reader->doc_count());
  count("term count", e.terms, reader->term_count());
  count("posting count", e.postings, reader->posting_count());
  if (out.problems.empty()) out.reader = std::move(reader).value();
  return finish();
}

Result<segment::SegmentReader> OpenSegment(const SnapshotStore& store, const ShardEntry& entry,
                                           bool lazy) {
  SegmentInspection inspection = InspectSegment(store, entry, lazy);
  if (!inspection.reader)
    return inspection.problems.front().status.Annotate("shard " + entry.shard);
  return std::move(*inspection.reader);
}

std::vector<SegmentProblem> CheckCategoryCounts(const segment::SegmentReader& reader,
                                                const ShardEntry& e, const catalog::Schema& schema,
                                                const analysis::Analyzer& analyzer) {
  std::vector<SegmentProblem> out;
  auto problem = [&](std::string what, std::string expected, std::string found) {
    out.push_back({"manifest_categories_mismatch",
                   Status::Corrupt(fmt::format("shard {}: {}", e.shard, what)), std::move(expected),
                   std::move(found)});
  };
  std::string slug;
  uint32_t number = 0;
  if (!shard::ParseShardId(e.shard, &slug, &number)) return out;  // Parse refused it already
  const int category_field = schema.category_index();
  if (category_field < 0) return out;
  const std::string prefix = schema.fields()[static_cast<size_t>(category_field)].name + ":";

  // The folded term of each raw category, computed the way a build computes it.
  std::map<std::string, uint64_t> claimed;  // category term -> docs the entry claims
  uint64_t sum = 0;
  catalog::Product product;
  product.fields.resize(schema.fields().size());
  std::vector<std::string> terms;
  for (const auto& [raw, docs] : e.categories) {
    sum += docs;
    const std::string category_slug = shard::CategorySlug(analyzer.Fold(raw));
    if (category_slug != slug) {
      problem(fmt::format("the manifest lists category \"{}\", which belongs to shards {}_NNN", raw,
                          category_slug),
              slug, category_slug);
    }
    product.category = raw;
    analyzer.AnalyzeProduct(schema, product, &terms);
    for (const auto& t : terms) {
      if (t.rfind(prefix, 0) == 0) claimed[t] += docs;
    }
  }
  if (sum != reader.doc_count()) {
    problem(fmt::format("the manifest's categories sum to {} docs, the segment holds {}", sum,
                        reader.doc_count()),
            std::to_string(reader.doc_count()), std::to_string(sum));
  }
  std::map<std::string, uint64_t> indexed;  // category term -> df in the segment
  for (uint32_t i = 0; i < reader.term_count(); ++i) {
    const std::string_view t = reader.term(i);
    if (t.substr(0, prefix.size()) == prefix) indexed[std::string(t)] = reader.doc_freq(i);
  }
  for (const auto& [term, docs] : claimed) {
    auto it = indexed.find(term);
    const uint64_t found = it == indexed.end() ? 0 : it->second;
    if (found != docs) {
      problem(
          fmt::format("the manifest says {} docs have {}, the segment has {}", docs, term, found),
          std::to_string(found), std::to_string(docs));
    }
  }
  for (const auto& [term, df] : indexed) {
    if (!claimed.count(term)) {
      problem(fmt::format("the segment has {} docs with {}, a category the manifest does not list",
                          df, term),
              std::to_string(df), "0");
    }
  }
  return out;
}

}  // namespace pidx::snapshot
