#include "pidx/obs/metrics.h"

#include <cassert>
#include <cmath>

#include <fmt/format.h>

namespace pidx {
namespace {

// HELP text escapes only backslash and newline (a quote is literal there).
std::string EscapeHelp(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

void MetricSet::Describe(const std::string& name, MetricType type, const std::string& help) {
  for (const auto& f : families_) {
    if (f.name == name) return;
  }
  families_.push_back({name, type, help, {}});
}

void MetricSet::Add(const std::string& name, const MetricLabels& labels, double value) {
  for (auto& f : families_) {
    if (f.name != name) continue;
    std::string line = name;
    if (!labels.empty()) {
      line += '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        if (i > 0) line += ',';
        line += labels[i].first + "=\"" + EscapeLabelValue(labels[i].second) + '"';
      }
      line += '}';
    }
    line += ' ' + FormatMetricValue(value);
    f.samples.push_back(std::move(line));
    return;
  }
  assert(false && "MetricSet::Add of an undescribed family");
}

std::string MetricSet::Render() const {
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP " + f.name + ' ' + EscapeHelp(f.help) + '\n';
    out += "# TYPE " + f.name + (f.type == MetricType::kCounter ? " counter\n" : " gauge\n");
    for (const auto& s : f.samples) out += s + '\n';
  }
  return out;
}

Status WriteMetricsFile(Env* env, const std::string& path, const MetricSet& metrics) {
  // Not WriteFileDurably: its temporary keeps the final name as suffix (".tmp-...-x.prom"),
  // which the textfile collector's "*.prom" glob would read half-written. Same steps otherwise.
  // The directory is often shared (mode 1777): the temporary is a new file under a random
  // name (NewTempFile), and the rename replaces a symlink planted at `path` itself, never the
  // file it points to.
  const std::string dir = DirName(path);
  const std::string name = BaseName(path);
  if (!IsPlainName(name)) return Status::Usage("metrics file " + path + ": not a file name");
  const std::string data = metrics.Render();
  auto file = env->NewTempFile(dir, name + ".partial");
  if (!file.ok()) return file.status().Annotate("metrics file");
  const std::string tmp = (*file)->path();
  Status s = (*file)->Append(data);
  if (s.ok()) s = (*file)->Sync();
  Status c = (*file)->Close();
  if (s.ok()) s = c;
  if (s.ok()) s = env->Rename(tmp, path);
  if (!s.ok()) {
    (void)env->RemoveFile(tmp);  // best effort: the write already failed
    return s.Annotate("metrics file");
  }
  return env->SyncDir(dir).Annotate("metrics file");
}

}  // namespace pidx
