// A fresh directory under $TMPDIR for one test, removed with everything in it afterwards.
#pragma once

#include <string>
#include <string_view>

namespace pidx::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name
  std::string File(std::string_view name) const;
  // Writes `content` to path()/name (creating parent folders) and returns the full path.
  std::string Write(std::string_view name, std::string_view content) const;

 private:
  std::string path_;
};

// Whole file as a string; fails the test (throws) when it cannot be read.
std::string ReadFile(const std::string& path);

}  // namespace pidx::testing
