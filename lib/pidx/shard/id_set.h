// The set of external ids a catalog scan has seen, with where each was first seen: what proves
// a duplicate id and names both places without reading the input a second time (a pipe or a
// FIFO cannot be read again).
//
// Layout: an open-addressing table of (XXH3 of the id, entry offset), 16 bytes per slot at most
// 3/4 full, over an arena of entries [file varint][line varint][length varint][id bytes] in
// 1 MiB chunks (no reallocation copies). About 30 bytes per product plus the id's bytes.
// A hash match is only a candidate: the id bytes decide, so a collision of two ids' hashes
// is never taken for a duplicate.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace pidx::shard {

struct IdLocation {
  uint32_t file = 0;
  uint64_t line = 0;
};

class IdSet {
 public:
  using HashFn = uint64_t (*)(std::string_view);
  // `hash` replaces XXH3 in tests (to force collisions); null = XXH3.
  explicit IdSet(HashFn hash = nullptr);

  // Records `id` as seen at (file, line) and returns nullopt; or, when `id` was seen before,
  // returns where it was first seen and records nothing.
  std::optional<IdLocation> Insert(std::string_view id, uint32_t file, uint64_t line);

  size_t size() const { return count_; }
  // Bytes held (table and arena), counted against a memory budget.
  uint64_t bytes() const;

 private:
  struct Slot {
    uint64_t hash;
    uint64_t entry;  // chunk << 32 | offset, plus one; 0 = empty
  };
  struct Entry {
    IdLocation where;
    std::string_view id;
  };
  Entry Decode(uint64_t entry) const;
  uint64_t Append(std::string_view id, uint32_t file, uint64_t line);
  void Grow();

  HashFn hash_;
  std::vector<Slot> slots_;
  size_t count_ = 0;
  std::vector<std::unique_ptr<char[]>> chunks_;
  std::vector<size_t> chunk_sizes_;
  size_t used_ = 0;  // bytes used in the last chunk
  uint64_t arena_bytes_ = 0;
};

}  // namespace pidx::shard
