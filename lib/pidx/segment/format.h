// Constants of the segment file format. The byte layout is documented in docs/FORMAT.md;
// format numbers are only ever added, never reused.
#pragma once

#include <cstdint>

namespace pidx::segment {

inline constexpr char kSegmentMagic[8] = {'P', 'I', 'D', 'X', 'S', 'E', 'G', '1'};
inline constexpr uint32_t kSegmentFormatVersion = 1;

}  // namespace pidx::segment
