// A posting list (the local doc ids of one term) as a Roaring bitmap. This file and
// postings.cc are the only ones in pidx that see CRoaring (Debian 0.2.66).
// On disk a posting list is Roaring's portable serialization (run-optimized), so other
// Roaring implementations (roaring-go, RoaringBitmap for Java) read it; see docs/FORMAT.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pidx/base/status.h"

struct roaring_bitmap_s;

namespace pidx::segment {

struct ContainerMix {
  uint64_t array = 0;
  uint64_t bitmap = 0;
  uint64_t run = 0;
};

class Postings {
 public:
  Postings();  // empty
  ~Postings();
  Postings(Postings&& other) noexcept;
  Postings& operator=(Postings&& other) noexcept;
  Postings(const Postings&) = delete;
  Postings& operator=(const Postings&) = delete;

  // REQUIRES: ids strictly increasing. The result is run-optimized.
  static Postings FromSorted(const uint32_t* ids, size_t n);
  // Parses a portable serialization that must fill `bytes` exactly, then validates every
  // container itself (CRoaring 0.2.66 has no validate call): keys strictly increasing,
  // array containers sorted and unique, run containers ordered and non-overlapping,
  // cardinalities consistent, every id < doc_limit; and the bytes must be the canonical
  // serialization of the result (what SerializeTo writes). kCorrupt on any failure.
  static Result<Postings> Deserialize(std::string_view bytes, uint32_t doc_limit);

  // Proves, without building a bitmap, what Deserialize proves: `bytes` is exactly the
  // canonical portable serialization of a valid bitmap whose ids are all < doc_limit. Same
  // findings (kCorrupt, same messages for the container checks) at a fraction of the cost:
  // verify walks every posting list of an index with it. On success *cardinality is the
  // number of ids, and each id is also set in `reached` (a bitset of doc_limit bits, one
  // u64 per 64 docs) when given.
  static Status CheckBytes(std::string_view bytes, uint32_t doc_limit, uint64_t* cardinality,
                           std::vector<uint64_t>* reached = nullptr);

  // Appends the portable serialization of {id}: exactly what FromSorted(&id, 1).SerializeTo
  // writes, without building a bitmap. Most terms of a catalog occur in one product.
  static void SerializeOne(uint32_t id, std::string* out);

  // Appends the portable serialization.
  void SerializeTo(std::string* out) const;
  size_t SerializedBytes() const;

  uint64_t Cardinality() const;
  bool Contains(uint32_t id) const;
  std::vector<uint32_t> ToVector() const;
  // The n smallest ids (all of them when there are fewer), without copying the rest.
  std::vector<uint32_t> First(size_t n) const;
  ContainerMix Containers() const;

  // Set algebra (used by query and verify).
  Postings And(const Postings& other) const;
  Postings Or(const Postings& other) const;
  Postings AndNot(const Postings& other) const;
  uint64_t AndCardinality(const Postings& other) const;
  // [0, n)
  static Postings Range(uint32_t n);

  bool operator==(const Postings& other) const;

 private:
  explicit Postings(roaring_bitmap_s* bm) : bm_(bm) {}
  roaring_bitmap_s* bm_;
};

}  // namespace pidx::segment
