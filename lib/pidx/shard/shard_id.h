// Shard ids (docs/CONTRACT.md section 3): "<category-slug>_<NNN>".
//   slug: the case-folded category with runs of characters outside [a-z0-9] turned into '-'
//         and leading/trailing '-' dropped; a category without any [a-z0-9] character
//         gets "c-" + the first 8 hex digits of XXH3 of its folded UTF-8 text.
//   NNN:  XXH3_64(id) mod shards_per_category (seed 0, over the id's UTF-8 text; an integer id
//         is hashed as its decimal text), zero-padded to 3 digits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pidx/base/status.h"

namespace pidx::shard {

inline constexpr uint32_t kMaxShardsPerCategory = 1000;  // NNN has 3 digits

// REQUIRES: `folded_category` is already case folded (analysis::Analyzer::Fold).
std::string CategorySlug(std::string_view folded_category);
uint32_t ShardNumber(std::string_view external_id, uint32_t shards_per_category);
std::string MakeShardId(std::string_view slug, uint32_t shard_number);

// Splits "electronics_007" into slug and number; false when it is not a shard id: the slug
// must be of CategorySlug's form (a-z, 0-9 and inner '-') and NNN exactly 3 digits.
bool ParseShardId(std::string_view shard_id, std::string* slug, uint32_t* number);

}  // namespace pidx::shard
