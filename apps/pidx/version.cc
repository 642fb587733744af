#include "version.h"

#include <roaring/roaring_version.h>
#include <simdjson.h>
#include <spdlog/version.h>
#include <unicode/uversion.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#include <fmt/format.h>
#include <CLI/Version.hpp>
#include <nlohmann/json.hpp>

// Set by apps/CMakeLists.txt on this file alone, so a new commit recompiles only it.
#ifndef PIDX_GIT_COMMIT
#define PIDX_GIT_COMMIT "unknown"
#endif
#ifndef PIDX_BUILD_TYPE
#define PIDX_BUILD_TYPE "unknown"
#endif
#ifndef PIDX_COMPILER
#define PIDX_COMPILER "unknown"
#endif
#ifndef PIDX_BUILD_OPTIONS
#define PIDX_BUILD_OPTIONS ""
#endif

#define PIDX_STR2(x) #x
#define PIDX_STR(x) PIDX_STR2(x)

namespace pidx::cli {

std::string VersionText() {
  UVersionInfo icu;
  u_getVersion(icu);
  char icu_text[U_MAX_VERSION_STRING_LENGTH];
  u_versionToString(icu, icu_text);
  const unsigned xxh = XXH_versionNumber();
  std::string out = fmt::format("pidx {}\n", PIDX_VERSION);
  out += fmt::format("commit: {}\n", PIDX_GIT_COMMIT);
  out += fmt::format("build: {}, {}, C++{}{}\n", PIDX_BUILD_TYPE, PIDX_COMPILER,
                     __cplusplus / 100 % 100, PIDX_BUILD_OPTIONS);
  out += "libraries:";
  // As loaded (run time) where the library has a call for it, else as compiled.
  out += fmt::format(" CRoaring {}.{}.{},", int{ROARING_VERSION_MAJOR}, int{ROARING_VERSION_MINOR},
                     int{ROARING_VERSION_REVISION});
  out += fmt::format(" simdjson {} ({}),", PIDX_STR(SIMDJSON_VERSION),
                     std::string(simdjson::get_active_implementation()->name()));
  out += fmt::format(" ICU {},", icu_text);
  out += fmt::format(" CLI11 {},", CLI11_VERSION);
  out += fmt::format(" fmt {}.{}.{},", FMT_VERSION / 10000, FMT_VERSION / 100 % 100,
                     FMT_VERSION % 100);
  out += fmt::format(" spdlog {}.{}.{},", SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH);
  out += fmt::format(" nlohmann_json {}.{}.{},", NLOHMANN_JSON_VERSION_MAJOR,
                     NLOHMANN_JSON_VERSION_MINOR, NLOHMANN_JSON_VERSION_PATCH);
  out += fmt::format(" xxHash {}.{}.{},", xxh / 10000, xxh / 100 % 100, xxh % 100);
  out += fmt::format(" zlib {},", zlibVersion());
  out += fmt::format(" zstd {}\n", ZSTD_versionString());
  return out;
}

}  // namespace pidx::cli
