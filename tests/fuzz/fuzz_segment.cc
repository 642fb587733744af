// libFuzzer target: the segment reader (Open + Validate + every accessor) on arbitrary bytes.
// Garbage must be kCorrupt, never a crash, a hang or a sanitizer report. Random bytes almost
// never carry a right checksum, so when the first byte is even the target writes the right one
// into the footer: the structure checks behind it get fuzzed too (a forged checksum is a case
// the reader must survive anyway).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "pidx/base/checksum.h"
#include "pidx/base/coding.h"
#include "pidx/segment/segment_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool forge = (data[0] & 1) == 0;
  auto bytes = std::make_shared<std::string>(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (forge && bytes->size() >= 8) {
    std::string sum;
    pidx::PutFixed64(&sum, pidx::Xxh3(std::string_view(*bytes).substr(0, bytes->size() - 8)));
    bytes->replace(bytes->size() - 8, 8, sum);
  }
  auto reader = pidx::segment::SegmentReader::Open(*bytes, bytes, "fuzz.seg");
  if (!reader.ok()) return 0;
  // The prefix walk is bounds-safe on a dictionary that Open accepted but Validate would not
  // (unsorted terms): it may miss terms, never read outside the file or pass the cap.
  for (const std::string_view prefix :
       {std::string_view(""), std::string_view("t"), std::string_view(*bytes).substr(0, 3)}) {
    size_t visited = 0;
    const size_t n = reader->ForEachTermWithPrefix(prefix, 5, [&](uint32_t i) {
      if (i >= reader->term_count()) std::abort();
      (void)reader->term(i);
      ++visited;
    });
    if (visited > 5 || n > 6 || (n <= 5 && n != visited)) std::abort();
  }
  if (!reader->Validate().ok()) return 0;
  // A valid segment: every accessor must be safe.
  for (uint32_t i = 0; i < reader->term_count(); ++i) {
    (void)reader->term(i);
    (void)reader->doc_freq(i);
    auto p = reader->postings(i);
    (void)reader->FindTerm(reader->term(i));
  }
  for (uint32_t d = 0; d < reader->doc_count(); ++d) (void)reader->doc(d);
  return 0;
}
