// What `pidx --version` prints: the version, then how this binary was built (the git commit
// known when it was configured, build type, compiler) and the version of every library it
// uses, as loaded where the library can say so.
#pragma once

#include <string>

namespace pidx::cli {

std::string VersionText();

}  // namespace pidx::cli
