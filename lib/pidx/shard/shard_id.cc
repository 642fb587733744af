#include "pidx/shard/shard_id.h"

#include <fmt/format.h>

#include "pidx/base/checksum.h"

namespace pidx::shard {

std::string CategorySlug(std::string_view folded_category) {
  std::string slug;
  slug.reserve(folded_category.size());
  bool pending_dash = false;
  for (char ch : folded_category) {
    auto c = static_cast<unsigned char>(ch);
    bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (keep) {
      if (pending_dash && !slug.empty()) slug.push_back('-');
      pending_dash = false;
      slug.push_back(static_cast<char>(c));
    } else {
      pending_dash = true;
    }
  }
  if (slug.empty()) return "c-" + Hex64(Xxh3(folded_category)).substr(0, 8);
  return slug;
}

uint32_t ShardNumber(std::string_view external_id, uint32_t shards_per_category) {
  return static_cast<uint32_t>(Xxh3(external_id) % shards_per_category);
}

uint32_t ShardCountFor(uint64_t docs, uint32_t max_shards, uint64_t target_shard_docs) {
  if (target_shard_docs == 0 || max_shards <= 1) return max_shards;
  for (uint32_t k = 1; k < max_shards; ++k) {
    if (max_shards % k == 0 && docs <= uint64_t{k} * target_shard_docs) return k;
  }
  return max_shards;
}

bool IsShardCountOf(uint32_t count, uint32_t max_shards) {
  return count >= 1 && count <= max_shards && max_shards % count == 0;
}

std::string MakeShardId(std::string_view slug, uint32_t shard_number) {
  return fmt::format("{}_{:03}", slug, shard_number);
}

bool ParseShardId(std::string_view shard_id, std::string* slug, uint32_t* number) {
  auto pos = shard_id.rfind('_');
  if (pos == std::string_view::npos || pos == 0 || shard_id.size() - pos != 4) return false;
  // Only what CategorySlug can produce: shard ids read from disk become file names, so
  // "../x_000" or "a/b_001" must not pass for one.
  const std::string_view s = shard_id.substr(0, pos);
  if (s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  uint32_t n = 0;
  for (size_t i = pos + 1; i < shard_id.size(); ++i) {
    char c = shard_id[i];
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  *slug = std::string(shard_id.substr(0, pos));
  *number = n;
  return true;
}

}  // namespace pidx::shard
