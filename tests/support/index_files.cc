#include "support/index_files.h"

#include <filesystem>
#include <system_error>

#include "support/temp_dir.h"

namespace pidx::testing {

namespace fs = std::filesystem;

std::string CurrentOf(const std::string& index) {
  if (!fs::exists(index + "/CURRENT")) return "";
  const std::string text = ReadFile(index + "/CURRENT");
  return text.substr(0, text.find('\n'));
}

std::vector<std::string> TempFilesIn(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().filename().string().rfind(".tmp-", 0) == 0) out.push_back(e.path().string());
  }
  return out;
}

}  // namespace pidx::testing
