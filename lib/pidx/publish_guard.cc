#include "pidx/publish_guard.h"

#include <vector>

#include <fmt/format.h>

#include "pidx/log.h"

namespace pidx {

Status CheckPublishGuard(const PublishGuard& guard, const snapshot::Manifest* current,
                         uint64_t new_docs, const std::map<std::string, uint64_t>& new_categories) {
  auto refuse = [&](const std::string& reason, LogFields fields) {
    fields["reason"] = reason;
    Log::Error("index.publish.refused", "publish refused: " + reason, fields);
    return Status::BadData("publish refused: " + reason);
  };
  if (new_docs == 0) return refuse("the catalog has no products", {{"docs", 0}});
  if (current == nullptr || guard.allow_shrink) return Status::Ok();
  uint64_t old_docs = current->TotalDocs();
  double floor = (1.0 - guard.max_shrink) * static_cast<double>(old_docs);
  if (static_cast<double>(new_docs) < floor) {
    return refuse(
        fmt::format("the new version has {} products, the current {} has {} (more than "
                    "{:.0f}% fewer; --max-shrink or --allow-shrink to override)",
                    new_docs, snapshot::VersionName(current->version), old_docs,
                    guard.max_shrink * 100),
        {{"docs", new_docs}, {"current_docs", old_docs}, {"max_shrink", guard.max_shrink}});
  }
  std::vector<std::string> lost;
  for (const auto& [cat, n] : current->Categories()) {
    if (!new_categories.count(cat)) lost.push_back(cat);
  }
  if (!lost.empty()) {
    std::string names;
    for (const auto& c : lost) names += (names.empty() ? "" : ", ") + c;
    return refuse("categories would disappear: " + names + " (--allow-shrink to override)",
                  {{"lost_categories", lost}});
  }
  return Status::Ok();
}

}  // namespace pidx
