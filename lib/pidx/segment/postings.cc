// The one file of pidx that sees CRoaring (Debian 0.2.66). Everything Roaring-specific,
// including how a posting list read from disk is proven sound, stays here.
#include "pidx/segment/postings.h"

#include <roaring/roaring.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <utility>

#include <fmt/format.h>

#include "pidx/base/popcount.h"

namespace pidx::segment {
namespace {

// CRoaring reports allocation failure by returning NULL; everything else in pidx treats
// running out of memory as fatal, so turn it into the usual C++ exception here rather than
// let a NULL bitmap travel.
roaring_bitmap_t* Check(roaring_bitmap_t* bm) {
  if (bm == nullptr) throw std::bad_alloc();
  return bm;
}

constexpr int32_t kMaxArrayCardinality = 4096;  // DEFAULT_MAX_SIZE of CRoaring
constexpr int32_t kContainerValues = 1 << 16;

// Walks the containers of a freshly deserialized bitmap and returns what is wrong with
// them, or an empty string. portable_deserialize_safe in 0.2.66 only guarantees it read
// within the buffer: it copies keys, array values and runs as they are, so an unsorted
// array, overlapping runs or a bitset whose stored cardinality lies would otherwise reach
// binary searches and set operations that assume these invariants.
std::string CheckContainers(const roaring_array_t& ra) {
  if (ra.size < 0 || ra.size > kContainerValues) {
    return fmt::format("{} containers", ra.size);
  }
  for (int32_t i = 0; i < ra.size; ++i) {
    const uint16_t key = ra.keys[i];
    if (i > 0 && key <= ra.keys[i - 1]) {
      return fmt::format("container keys not strictly increasing ({} after {})", key,
                         ra.keys[i - 1]);
    }
    const void* c = ra.containers[i];
    if (c == nullptr) return fmt::format("container {} is missing", key);
    switch (ra.typecodes[i]) {
      case ARRAY_CONTAINER_TYPE_CODE: {
        const auto* ac = static_cast<const array_container_t*>(c);
        if (ac->cardinality < 1 || ac->cardinality > kMaxArrayCardinality) {
          return fmt::format("array container {} has cardinality {}", key, ac->cardinality);
        }
        for (int32_t j = 1; j < ac->cardinality; ++j) {
          if (ac->array[j] <= ac->array[j - 1]) {
            return fmt::format("array container {} is not sorted and unique", key);
          }
        }
        break;
      }
      case BITSET_CONTAINER_TYPE_CODE: {
        const auto* bc = static_cast<const bitset_container_t*>(c);
        int64_t popcount = 0;
        for (int w = 0; w < BITSET_CONTAINER_SIZE_IN_WORDS; ++w) {
          popcount += std::popcount(bc->array[w]);
        }
        // A bitset that would fit an array container is not what any Roaring writer
        // produces, and the portable format could not even express it.
        if (bc->cardinality <= kMaxArrayCardinality || bc->cardinality != popcount) {
          return fmt::format("bitset container {} claims cardinality {} but holds {}", key,
                             bc->cardinality, popcount);
        }
        break;
      }
      case RUN_CONTAINER_TYPE_CODE: {
        const auto* rc = static_cast<const run_container_t*>(c);
        if (rc->n_runs < 1) return fmt::format("run container {} is empty", key);
        int32_t next_free = 0;  // smallest value the next run may start at
        for (int32_t j = 0; j < rc->n_runs; ++j) {
          const int32_t start = rc->runs[j].value;
          const int32_t last = start + rc->runs[j].length;
          if (start < next_free) {
            return fmt::format("run container {} has unordered or overlapping runs", key);
          }
          if (last >= kContainerValues) {
            return fmt::format("run container {} has a run past 65535", key);
          }
          next_free = last + 1;
        }
        break;
      }
      default:
        // Shared (copy-on-write) containers never come out of deserialization.
        return fmt::format("container {} has unknown type {}", key, ra.typecodes[i]);
    }
  }
  return {};
}

}  // namespace

Postings::Postings() : bm_(Check(roaring_bitmap_create())) {}

Postings::~Postings() {
  if (bm_ != nullptr) roaring_bitmap_free(bm_);
}

// A moved-from Postings holds no bitmap; it may only be destroyed or assigned to.
Postings::Postings(Postings&& other) noexcept : bm_(std::exchange(other.bm_, nullptr)) {}

Postings& Postings::operator=(Postings&& other) noexcept {
  std::swap(bm_, other.bm_);
  return *this;
}

Postings Postings::FromSorted(const uint32_t* ids, size_t n) {
  // Sorted input takes add_many's fast path (~110 M ids/s here, see PITFALLS.md).
  Postings p(Check(roaring_bitmap_create()));
  if (n > 0) roaring_bitmap_add_many(p.bm_, n, ids);
  // Run containers make dense posting lists (a brand every product of a shard carries)
  // tiny; the portable format stores them and other Roaring implementations read them.
  roaring_bitmap_run_optimize(p.bm_);
  roaring_bitmap_shrink_to_fit(p.bm_);
  return p;
}

Result<Postings> Postings::Deserialize(std::string_view bytes, uint32_t doc_limit) {
  // An empty view may carry a null data pointer; no bitmap is 0 bytes long anyway.
  if (bytes.empty()) return Status::Corrupt("posting list is empty (0 bytes)");
  roaring_bitmap_t* raw = roaring_bitmap_portable_deserialize_safe(bytes.data(), bytes.size());
  if (raw == nullptr) {
    return Status::Corrupt(
        fmt::format("posting list of {} bytes is not a portable Roaring bitmap", bytes.size()));
  }
  Postings p(raw);

  // Why both a structural walk and a byte comparison: the walk proves the in-memory
  // bitmap meets the invariants CRoaring's algorithms rely on (sorted keys, sorted unique
  // arrays, ordered runs inside 16 bits, honest bitset cardinality), which no byte
  // comparison can do, because 0.2.66 copies unsorted arrays in and writes them back out
  // unchanged. Re-serializing and comparing then proves the input is exactly the canonical
  // portable form of that bitmap, covering what the deserializer reads but ignores: the
  // cardinality stored for run containers, the offset table and the padding bits of the
  // run flags, which roaring-go and Java do use. Only together do they say "the bytes are
  // a valid bitmap and mean the same to every Roaring reader".
  if (std::string problem = CheckContainers(raw->high_low_container); !problem.empty()) {
    return Status::Corrupt("posting list: " + problem);
  }
  const size_t canonical_size = roaring_bitmap_portable_size_in_bytes(raw);
  if (canonical_size != bytes.size()) {
    return Status::Corrupt(fmt::format(
        "posting list is {} bytes but its bitmap serializes to {} (trailing or missing bytes)",
        bytes.size(), canonical_size));
  }
  std::string canonical(canonical_size, '\0');
  roaring_bitmap_portable_serialize(raw, canonical.data());
  if (canonical != bytes) {
    return Status::Corrupt("posting list is not in canonical portable Roaring form");
  }
  if (!roaring_bitmap_is_empty(raw)) {
    const uint32_t max_id = roaring_bitmap_maximum(raw);
    if (max_id >= doc_limit) {
      return Status::Corrupt(fmt::format("posting list holds doc id {} but the segment has {} docs",
                                         max_id, doc_limit));
    }
  }
  return p;
}

namespace {

uint16_t Get16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;  // little endian, like every other integer pidx reads
}

uint32_t Get32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

void SetRange(std::vector<uint64_t>* bits, uint32_t first, uint32_t last) {
  uint64_t* w = bits->data();
  const uint32_t fw = first >> 6, lw = last >> 6;
  const uint64_t fmask = ~uint64_t{0} << (first & 63);
  const uint64_t lmask = ~uint64_t{0} >> (63 - (last & 63));
  if (fw == lw) {
    w[fw] |= fmask & lmask;
    return;
  }
  w[fw] |= fmask;
  for (uint32_t i = fw + 1; i < lw; ++i) w[i] = ~uint64_t{0};
  w[lw] |= lmask;
}

}  // namespace

// The portable format (CRoaring roaring_array.c, ra_portable_serialize), as 0.2.66 writes it:
//   with a run container: u32 cookie 12347 | (size - 1) << 16, then a bitset of size bits
//     (which containers are runs); without: u32 12346, u32 size;
//   per container u16 key, u16 cardinality - 1;
//   per container u32 offset of its data, unless there are runs and fewer than 4 containers;
//   the containers: runs (u16 count, count x (u16 start, u16 length - 1)), arrays
//     (cardinality x u16) when cardinality <= 4096, else bitsets (8 KiB).
Status Postings::CheckBytes(std::string_view bytes, uint32_t doc_limit, uint64_t* cardinality,
                            std::vector<uint64_t>* reached) {
  if (bytes.empty()) return Status::Corrupt("posting list is empty (0 bytes)");
  const char* const data = bytes.data();
  const size_t n = bytes.size();
  auto not_portable = [&] {
    return Status::Corrupt(
        fmt::format("posting list of {} bytes is not a portable Roaring bitmap", n));
  };
  auto corrupt = [](const std::string& what) { return Status::Corrupt("posting list: " + what); };
  Status not_canonical = Status::Corrupt("posting list is not in canonical portable Roaring form");

  if (n < 4) return not_portable();
  const uint32_t cookie = Get32(data);
  size_t pos = 4;
  uint32_t size = 0;
  bool has_runs = false;
  const char* run_flags = nullptr;
  if ((cookie & 0xFFFF) == SERIAL_COOKIE) {
    has_runs = true;
    size = (cookie >> 16) + 1;
    const size_t flag_bytes = (size + 7) / 8;
    if (n - pos < flag_bytes) return not_portable();
    run_flags = data + pos;
    pos += flag_bytes;
  } else if (cookie == SERIAL_COOKIE_NO_RUNCONTAINER) {
    if (n - pos < 4) return not_portable();
    size = Get32(data + pos);
    pos += 4;
    if (size > static_cast<uint32_t>(kContainerValues)) return not_portable();
  } else {
    return not_portable();
  }
  const char* header = data + pos;
  if ((n - pos) / 4 < size) return not_portable();
  pos += 4 * size_t{size};
  const bool has_offsets = !has_runs || size >= NO_OFFSET_THRESHOLD;
  const char* offsets = data + pos;
  if (has_offsets) {
    if ((n - pos) / 4 < size) return not_portable();
    pos += 4 * size_t{size};
  }

  // Canonical-form findings are kept until the structural ones had their say, the order
  // Deserialize reports them in.
  // Like CRoaring, which parses everything before its invariants are checked, a truncated
  // list is reported as such even when an earlier container is also broken.
  Status problem;
  bool canonical = true;
  bool any_run = false;
  uint64_t total = 0;
  uint32_t max_id = 0;
  for (uint32_t i = 0; i < size; ++i) {
    const uint16_t key = Get16(header + 4 * i);
    const uint32_t card = uint32_t{Get16(header + 4 * i + 2)} + 1;
    if (problem.ok() && i > 0 && key <= Get16(header + 4 * (i - 1))) {
      problem = corrupt(fmt::format("container keys not strictly increasing ({} after {})", key,
                                    Get16(header + 4 * (i - 1))));
    }
    if (has_offsets && Get32(offsets + 4 * i) != pos) canonical = false;
    const uint32_t base = uint32_t{key} << 16;
    const bool is_run = has_runs && ((static_cast<unsigned char>(run_flags[i / 8]) >> (i % 8)) & 1);
    if (is_run) {
      any_run = true;
      if (n - pos < 2) return not_portable();
      const uint32_t runs = Get16(data + pos);
      pos += 2;
      if ((n - pos) / 4 < runs) return not_portable();
      if (runs < 1 && problem.ok())
        problem = corrupt(fmt::format("run container {} is empty", key));
      bool valid = runs >= 1;
      int32_t next_free = 0;
      uint32_t run_card = 0;
      for (uint32_t j = 0; j < runs; ++j) {
        const int32_t start = Get16(data + pos + 4 * j);
        const int32_t last = start + Get16(data + pos + 4 * j + 2);
        if (start < next_free) {
          if (problem.ok()) {
            problem =
                corrupt(fmt::format("run container {} has unordered or overlapping runs", key));
          }
          valid = false;
          break;
        }
        if (last >= kContainerValues) {
          if (problem.ok())
            problem = corrupt(fmt::format("run container {} has a run past 65535", key));
          valid = false;
          break;
        }
        next_free = last + 1;
        run_card += static_cast<uint32_t>(last - start + 1);
      }
      if (run_card != card) canonical = false;
      max_id = base + static_cast<uint32_t>(next_free - 1);
      if (valid && problem.ok() && reached != nullptr && max_id < doc_limit) {
        for (uint32_t j = 0; j < runs; ++j) {
          const uint32_t start = Get16(data + pos + 4 * j);
          SetRange(reached, base + start, base + start + Get16(data + pos + 4 * j + 2));
        }
      }
      total += run_card;
      pos += 4 * size_t{runs};
    } else if (card <= static_cast<uint32_t>(kMaxArrayCardinality)) {
      if ((n - pos) / 2 < card) return not_portable();
      const char* values = data + pos;
      uint16_t prev = Get16(values);
      bool valid = true;
      for (uint32_t j = 1; j < card; ++j) {
        const uint16_t v = Get16(values + 2 * j);
        if (v <= prev) {
          if (problem.ok()) {
            problem = corrupt(fmt::format("array container {} is not sorted and unique", key));
          }
          valid = false;
          break;
        }
        prev = v;
      }
      max_id = base + prev;
      if (valid && problem.ok() && reached != nullptr && max_id < doc_limit) {
        uint64_t* w = reached->data();
        for (uint32_t j = 0; j < card; ++j) {
          const uint32_t id = base + Get16(values + 2 * j);
          w[id >> 6] |= uint64_t{1} << (id & 63);
        }
      }
      total += card;
      pos += 2 * size_t{card};
    } else {
      constexpr size_t kBitsetBytes = 8192;
      if (n - pos < kBitsetBytes) return not_portable();
      // Copied out: the list's bytes have no alignment. An all-zero bitset (never canonical)
      // reads as last word 0, like the loop that was here.
      uint64_t bitset[kBitsetBytes / 8];
      std::memcpy(bitset, data + pos, kBitsetBytes);
      const uint64_t popcount = PopcountWords(bitset, kBitsetBytes / 8);
      uint32_t last_index = 0;
      for (uint32_t w = kBitsetBytes / 8; w-- > 0;) {
        if (bitset[w] != 0) {
          last_index = w;
          break;
        }
      }
      const uint64_t last_word = bitset[last_index];
      if (popcount != card && problem.ok()) {
        problem = corrupt(fmt::format("bitset container {} claims cardinality {} but holds {}", key,
                                      card, popcount));
      }
      max_id = base + last_index * 64 + (63 - static_cast<uint32_t>(std::countl_zero(last_word)));
      if (problem.ok() && reached != nullptr && max_id < doc_limit) {
        // A container covers 65536 ids = 1024 words, aligned on a word boundary.
        uint64_t* w = reached->data() + (base >> 6);
        for (uint32_t j = 0; j <= last_index; ++j) w[j] |= bitset[j];
      }
      total += card;
      pos += kBitsetBytes;
    }
  }
  if (!problem.ok()) return problem;
  if (pos != n) {
    return Status::Corrupt(fmt::format(
        "posting list is {} bytes but its bitmap serializes to {} (trailing or missing bytes)", n,
        pos));
  }
  // CRoaring writes the run form exactly when there is a run container, and zero padding.
  if (has_runs) {
    if (!any_run) canonical = false;
    if (size % 8 != 0 && (static_cast<unsigned char>(run_flags[size / 8]) >> (size % 8)) != 0) {
      canonical = false;
    }
  }
  if (!canonical) return not_canonical;
  if (size > 0 && max_id >= doc_limit) {
    return Status::Corrupt(
        fmt::format("posting list holds doc id {} but the segment has {} docs", max_id, doc_limit));
  }
  *cardinality = total;
  return Status::Ok();
}

void Postings::SerializeOne(uint32_t id, std::string* out) {
  // One array container: cookie, size 1, key, cardinality - 1 = 0, offset of the data (16),
  // the low 16 bits. A lone value is never a run container (6 bytes against 2).
  char bytes[18];
  const uint32_t cookie = SERIAL_COOKIE_NO_RUNCONTAINER;
  const uint32_t size = 1;
  const uint16_t key = static_cast<uint16_t>(id >> 16);
  const uint16_t card_minus_one = 0;
  const uint32_t offset = 16;
  const uint16_t low = static_cast<uint16_t>(id & 0xFFFF);
  std::memcpy(bytes, &cookie, 4);
  std::memcpy(bytes + 4, &size, 4);
  std::memcpy(bytes + 8, &key, 2);
  std::memcpy(bytes + 10, &card_minus_one, 2);
  std::memcpy(bytes + 12, &offset, 4);
  std::memcpy(bytes + 16, &low, 2);
  out->append(bytes, sizeof(bytes));
}

void Postings::SerializeTo(std::string* out) const {
  const size_t old_size = out->size();
  out->resize(old_size + roaring_bitmap_portable_size_in_bytes(bm_));
  roaring_bitmap_portable_serialize(bm_, out->data() + old_size);
}

size_t Postings::SerializedBytes() const { return roaring_bitmap_portable_size_in_bytes(bm_); }

uint64_t Postings::Cardinality() const { return roaring_bitmap_get_cardinality(bm_); }

bool Postings::Contains(uint32_t id) const { return roaring_bitmap_contains(bm_, id); }

std::vector<uint32_t> Postings::ToVector() const {
  std::vector<uint32_t> ids(Cardinality());
  if (!ids.empty()) roaring_bitmap_to_uint32_array(bm_, ids.data());
  return ids;
}

std::vector<uint32_t> Postings::First(size_t n) const {
  std::vector<uint32_t> ids(std::min<uint64_t>(n, Cardinality()));
  if (ids.empty()) return ids;
  roaring_uint32_iterator_t it;
  roaring_init_iterator(bm_, &it);
  size_t got = 0;
  while (got < ids.size()) {
    const uint32_t want = static_cast<uint32_t>(std::min<size_t>(ids.size() - got, 1u << 20));
    const uint32_t read = roaring_read_uint32_iterator(&it, ids.data() + got, want);
    if (read == 0) break;
    got += read;
  }
  ids.resize(got);
  return ids;
}

ContainerMix Postings::Containers() const {
  roaring_statistics_t stats;
  roaring_bitmap_statistics(bm_, &stats);
  ContainerMix mix;
  mix.array = stats.n_array_containers;
  mix.bitmap = stats.n_bitset_containers;
  mix.run = stats.n_run_containers;
  return mix;
}

Postings Postings::And(const Postings& other) const {
  return Postings(Check(roaring_bitmap_and(bm_, other.bm_)));
}

Postings Postings::Or(const Postings& other) const {
  return Postings(Check(roaring_bitmap_or(bm_, other.bm_)));
}

Postings Postings::AndNot(const Postings& other) const {
  return Postings(Check(roaring_bitmap_andnot(bm_, other.bm_)));
}

uint64_t Postings::AndCardinality(const Postings& other) const {
  return roaring_bitmap_and_cardinality(bm_, other.bm_);
}

Postings Postings::Range(uint32_t n) {
  // from_range returns NULL for an empty range, which Check would mistake for OOM.
  if (n == 0) return Postings();
  Postings p(Check(roaring_bitmap_from_range(0, n, 1)));
  roaring_bitmap_run_optimize(p.bm_);
  return p;
}

bool Postings::operator==(const Postings& other) const {
  return roaring_bitmap_equals(bm_, other.bm_);
}

}  // namespace pidx::segment
