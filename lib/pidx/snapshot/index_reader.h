// Reading what lies under an index or stage directory. Everything there is input that may be
// hostile or simply wrong (restored from a backup, rsynced, written by another host): names,
// file types, sizes, checksums and the facts a manifest states. This is the one way to
// open a segment for reading, and the one way to read a small metadata file (manifest,
// fragment, CURRENT); query, recall, stats, verify, diff, rebuild-shard and publish all go
// through it. docs/SECURITY.md ("Reading an index") states the contract.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pidx/analysis/analyzer.h"
#include "pidx/base/status.h"
#include "pidx/catalog/schema.h"
#include "pidx/segment/segment_reader.h"
#include "pidx/snapshot/manifest.h"
#include "pidx/snapshot/snapshot_store.h"

namespace pidx::snapshot {

// Reads a metadata file of an index or stage (Env::MapFile: a FIFO, directory, device or
// symlink there is kCorrupt naming the file, never a hang), at most `max_bytes` of it
// (kCorrupt beyond). kNotFound when it does not exist.
Result<std::string> ReadIndexFile(Env* env, const std::string& path, uint64_t max_bytes);

// One disagreement between a segment and its manifest entry, named with verify's finding
// kinds (docs/VERIFY.md): segment_missing, segment_unreadable, segment_not_regular,
// segment_size_mismatch, segment_checksum_mismatch, segment_corrupt,
// segment_manifest_mismatch, manifest_inconsistent.
struct SegmentProblem {
  std::string kind;
  Status status;  // kNotFound (missing), kIoError (unreadable) or kCorrupt, naming the file
  std::string expected, found;
};

struct SegmentInspection {
  // Set only when the segment is intact (size, footer checksum, structure) and is the one
  // the entry names: its file name carries the entry's checksum, and its checksum, shard,
  // doc, term and posting counts are the entry's. Posting lists are not deep-checked here
  // (SegmentReader::Validate).
  std::optional<segment::SegmentReader> reader;
  std::vector<SegmentProblem> problems;  // empty exactly when `reader` is set
  uint64_t bytes_mapped = 0;
};

// REQUIRES: `entry` comes from Manifest::Parse (its segment name is of the checked form).
// `lazy`: open a format-2 segment lazily (segment::OpenOptions): the whole-file checksum is not
// computed, each block is checked when first read. The entry's checksum is still compared with
// the footer's, under the footer's meta checksum.
SegmentInspection InspectSegment(const SnapshotStore& store, const ShardEntry& entry,
                                 bool lazy = false);

// InspectSegment's reader, or its first problem's status prefixed with "shard <id>".
Result<segment::SegmentReader> OpenSegment(const SnapshotStore& store, const ShardEntry& entry,
                                           bool lazy = false);

// The entry's `categories` against the segment it describes: they sum to the shard's docs,
// each raw category belongs to this shard (its slug is the shard's), and for each folded
// category the segment's "<category field>:<folded>" term has exactly the docs the entry
// claims, with no category term in the segment that the entry does not list. Each
// disagreement is a manifest_categories_mismatch problem.
std::vector<SegmentProblem> CheckCategoryCounts(const segment::SegmentReader& reader,
                                                const ShardEntry& entry,
                                                const catalog::Schema& schema,
                                                const analysis::Analyzer& analyzer);

}  // namespace pidx::snapshot
