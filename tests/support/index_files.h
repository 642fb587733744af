// What end-to-end tests read of an index directory from the outside, the way an operator
// would: the version CURRENT names and the temporaries a writer left behind.
#pragma once

#include <string>
#include <vector>

namespace pidx::testing {

// The version name on CURRENT's first line ("v000042"); "" when the index has no CURRENT.
// Two equal values around a failed command mean it published nothing.
std::string CurrentOf(const std::string& index);

// Every temporary (a file or directory named ".tmp-...") under `dir`, at any depth, as paths;
// empty when `dir` does not exist. A command that ended, failed or not, leaves none.
std::vector<std::string> TempFilesIn(const std::string& dir);

}  // namespace pidx::testing
