#include "pidx/shard/id_set.h"

#include <algorithm>
#include <cstring>

#include "pidx/base/checksum.h"

namespace pidx::shard {
namespace {

constexpr size_t kChunkBytes = size_t{1} << 20;
constexpr size_t kMaxVarint = 10;

char* PutVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

const char* GetVarint(const char* p, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0;; shift += 7) {
    const auto byte = static_cast<unsigned char>(*p++);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  *v = result;
  return p;
}

uint64_t Mix(uint64_t h) { return h ^ (h >> 29); }

}  // namespace

IdSet::IdSet(HashFn hash) : hash_(hash != nullptr ? hash : &Xxh3) {}

uint64_t IdSet::bytes() const { return slots_.capacity() * sizeof(Slot) + arena_bytes_; }

std::optional<IdLocation> IdSet::Insert(std::string_view id, uint32_t file, uint64_t line) {
  if ((count_ + 1) * 4 > slots_.size() * 3) Grow();
  const uint64_t h = hash_(id);
  const size_t mask = slots_.size() - 1;
  for (size_t i = Mix(h) & mask;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.entry == 0) {
      s.hash = h;
      s.entry = Append(id, file, line);
      ++count_;
      return std::nullopt;
    }
    if (s.hash != h) continue;
    Entry e = Decode(s.entry);
    if (e.id == id) return e.where;
    // Same hash, different id: a collision, not a duplicate; keep probing.
  }
}

uint64_t IdSet::Append(std::string_view id, uint32_t file, uint64_t line) {
  const size_t need = 3 * kMaxVarint + id.size();
  if (chunks_.empty() || chunk_sizes_.back() - used_ < need) {
    const size_t size = std::max(kChunkBytes, need);
    chunks_.emplace_back(new char[size]);
    chunk_sizes_.push_back(size);
    arena_bytes_ += size;
    used_ = 0;
  }
  char* base = chunks_.back().get();
  const uint64_t entry = ((static_cast<uint64_t>(chunks_.size() - 1) << 32) | used_) + 1;
  char* p = base + used_;
  p = PutVarint(p, file);
  p = PutVarint(p, line);
  p = PutVarint(p, id.size());
  std::memcpy(p, id.data(), id.size());
  used_ = static_cast<size_t>(p - base) + id.size();
  return entry;
}

IdSet::Entry IdSet::Decode(uint64_t entry) const {
  --entry;
  const char* p = chunks_[entry >> 32].get() + (entry & 0xffffffffu);
  uint64_t file, line, len;
  p = GetVarint(p, &file);
  p = GetVarint(p, &line);
  p = GetVarint(p, &len);
  return Entry{{static_cast<uint32_t>(file), line}, std::string_view(p, len)};
}

void IdSet::Grow() {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(old.empty() ? 4096 : old.size() * 2, Slot{0, 0});
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.entry == 0) continue;
    size_t i = Mix(s.hash) & mask;
    while (slots_[i].entry != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

}  // namespace pidx::shard
