// libFuzzer target: the manifest parser on arbitrary bytes (kCorrupt, never a crash).
// When the first byte is even, the rest is taken as the body and given its right checksum line,
// so the JSON and field checks behind the checksum get fuzzed too. A manifest that parses must
// parse again after Serialize().
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "pidx/base/checksum.h"
#include "pidx/snapshot/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) bytes += "xxh3 " + pidx::Hex64(pidx::Xxh3(bytes)) + "\n";
  auto m = pidx::snapshot::Manifest::Parse(bytes, "fuzz.manifest");
  if (!m.ok()) return 0;
  auto again = pidx::snapshot::Manifest::Parse(m->Serialize(), "fuzz.manifest");
  if (!again.ok()) std::abort();  // what we write we must be able to read
  return 0;
}
