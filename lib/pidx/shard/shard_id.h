// Shard ids (docs/CONTRACT.md section 3): "<category-slug>_<NNN>".
//   slug: the case-folded category with runs of characters outside [a-z0-9] turned into '-'
//         and leading/trailing '-' dropped; a category without any [a-z0-9] character
//         gets "c-" + the first 8 hex digits of XXH3 of its folded UTF-8 text.
//   NNN:  XXH3_64(id) mod K (seed 0, over the id's UTF-8 text; an integer id is hashed as its
//         decimal text), zero-padded to 3 digits, where K is the category's shard count:
//         ShardCountFor below, recorded per category slug in the manifest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pidx/base/status.h"

namespace pidx::shard {

inline constexpr uint32_t kMaxShardsPerCategory = 1000;  // NNN has 3 digits
// The default shards per category (S) and target shard size (docs/CLI.md, build).
inline constexpr uint32_t kDefaultShardsPerCategory = 8;
inline constexpr uint64_t kDefaultTargetShardDocs = 32768;
inline constexpr uint64_t kMaxTargetShardDocs = 1'000'000'000;

// REQUIRES: `folded_category` is already case folded (analysis::Analyzer::Fold).
std::string CategorySlug(std::string_view folded_category);
uint32_t ShardNumber(std::string_view external_id, uint32_t shards_per_category);

// The shard count of a category holding `docs` products, at most `max_shards` (S,
// --shards-per-category): the smallest divisor K of S with docs <= K * target_shard_docs, or S
// when none is. target_shard_docs 0: always S (every category has S shards, as before
// per-category counts). Only divisors of S, so that XXH3(id) mod K == (XXH3(id) mod S) mod K:
// a build can route products to S partitions before it knows a category's size, then merge
// partitions b into shard b mod K.
// REQUIRES: max_shards >= 1.
uint32_t ShardCountFor(uint64_t docs, uint32_t max_shards, uint64_t target_shard_docs);
// True when `count` can be a shard count under max_shards: a divisor of it.
bool IsShardCountOf(uint32_t count, uint32_t max_shards);
std::string MakeShardId(std::string_view slug, uint32_t shard_number);

// Splits "electronics_007" into slug and number; false when it is not a shard id: the slug
// must be of CategorySlug's form (a-z, 0-9 and inner '-') and NNN exactly 3 digits.
bool ParseShardId(std::string_view shard_id, std::string* slug, uint32_t* number);

}  // namespace pidx::shard
