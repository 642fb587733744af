// How many memory mappings this process may make: the kernel's vm.max_map_count, or the
// test-only PIDX_TEST_MAP_LIMIT in its place. Commands that keep files mapped (the query
// engine's open segments, docs/CLI.md "Segments open at once") size their caches from it.
#pragma once

#include <cstdint>
#include <string_view>

namespace pidx {

class Env;

// The kernel's default vm.max_map_count, used when /proc/sys/vm/max_map_count cannot be read.
inline constexpr uint64_t kDefaultKernelMapLimit = 65530;

// PIDX_TEST_MAP_LIMIT=N (N >= 1): PosixEnv::MapFile refuses to map a file while N files are
// mapped, with the error the kernel gives at its own limit, so a test reaches the limit with a
// few hundred segments instead of 65k. 0 when unset, empty, not a number or 0. Read once.
uint64_t TestMapLimit();

// The number in the text of /proc/sys/vm/max_map_count ("65530\n"); 0 when it is not a
// positive decimal number below 2^40.
uint64_t MapLimitFromText(std::string_view text);

// The mappings this process may make: TestMapLimit() when set, else the number in
// /proc/sys/vm/max_map_count (read through `env`), else kDefaultKernelMapLimit. Always >= 1.
uint64_t ProcessMapLimit(Env* env);

}  // namespace pidx
