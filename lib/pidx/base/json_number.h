// Reading unsigned integers out of parsed JSON (manifests, plans) without undefined behaviour.
// nlohmann's get<uint32_t>() static_casts whatever number it finds: a float beyond the
// target's range is undefined behaviour, and a negative or oversized integer silently wraps
// (found by tests/fuzz/fuzz_manifest). These accept only a non-negative integer that fits,
// and throw nlohmann's own type_error otherwise, so the callers' existing
// `catch (const json::exception&)` turns it into their kCorrupt/kConfig status.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace pidx {

template <typename T>
T JsonUnsigned(const nlohmann::json& value) {
  static_assert(std::is_unsigned_v<T>);
  if (value.is_number_unsigned()) {
    const uint64_t v = value.get<uint64_t>();
    if (v <= std::numeric_limits<T>::max()) return static_cast<T>(v);
  }
  throw nlohmann::json::type_error::create(302,
                                           "expected an unsigned integer of at most " +
                                               std::to_string(std::numeric_limits<T>::max()) +
                                               ", got " + value.dump(),
                                           nullptr);
}

// {"name": unsigned integer, ...}
inline std::map<std::string, uint64_t> JsonUnsignedMap(const nlohmann::json& value) {
  if (!value.is_object()) {
    throw nlohmann::json::type_error::create(302, "expected an object, got " + value.dump(),
                                             nullptr);
  }
  std::map<std::string, uint64_t> out;
  for (auto it = value.begin(); it != value.end(); ++it) {
    out[it.key()] = JsonUnsigned<uint64_t>(it.value());
  }
  return out;
}

}  // namespace pidx
