#include "help.h"

#include <algorithm>

#include <fmt/format.h>

#include "options.h"

namespace pidx::cli {
namespace {

constexpr size_t kWidth = 80;
constexpr size_t kColumn = 28;     // where option descriptions start
constexpr char kNoBreak = '\x01';  // a space Wrap never breaks a line at

// `text` wrapped to kWidth, every line but the first indented by `indent`; the first line
// continues after `used` characters already on it.
std::string Wrap(std::string_view text, size_t indent, size_t used) {
  std::string out;
  size_t col = used;
  bool line_start = true;
  size_t i = 0;
  while (i <= text.size()) {
    const size_t end = std::min(text.find_first_of(" \n", i), text.size());
    const std::string_view word = text.substr(i, end - i);
    if (!word.empty()) {
      if (!line_start && col + 1 + word.size() > kWidth) {
        out += '\n' + std::string(indent, ' ');
        col = indent;
        line_start = true;
      }
      if (!line_start) {
        out += ' ';
        ++col;
      }
      for (char c : word) out += c == kNoBreak ? ' ' : c;
      col += word.size();
      line_start = false;
    }
    if (end < text.size() && text[end] == '\n') {
      out += '\n' + std::string(indent, ' ');
      col = indent;
      line_start = true;
    }
    i = end + 1;
  }
  return out;
}

std::vector<std::string> SplitChoices(const std::string& type_name) {
  std::vector<std::string> out;
  if (type_name.find('|') == std::string::npos || type_name.find(' ') != std::string::npos) {
    return out;
  }
  size_t start = 0;
  for (;;) {
    const size_t bar = type_name.find('|', start);
    out.push_back(type_name.substr(start, bar - start));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  return out;
}

ValueKind KindOf(const std::string& value, const std::vector<std::string>& choices) {
  if (value.empty()) return ValueKind::kNone;
  if (!choices.empty()) return ValueKind::kChoice;
  if (value == "COMMAND") return ValueKind::kCommand;
  if (value.rfind("DIR", 0) == 0) return ValueKind::kDirectory;
  if (value.rfind("FILE", 0) == 0 || value == "PATH") return ValueKind::kFile;
  return ValueKind::kText;
}

ArgDoc DescribeOption(const CLI::Option& opt, const Command* cmd) {
  ArgDoc a;
  a.positional = opt.get_positional() && opt.get_lnames().empty() && opt.get_snames().empty();
  a.long_name = a.positional ? opt.get_name(true) : opt.get_lnames().front();
  if (!opt.get_snames().empty()) a.short_name = opt.get_snames().front();
  a.description = opt.get_description();
  // A flag expects no value (CLI11: expected(0)); several values or a repeated option make
  // a list.
  const bool takes_value = opt.get_expected_max() != 0;
  a.repeatable = takes_value && (opt.get_expected_max() > 1 ||
                                 opt.get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll);
  if (takes_value) {
    a.value = opt.get_type_name();
    if (a.value.empty() || a.value == "TEXT") {
      a.value = a.positional ? a.long_name : "VALUE";
      for (char& c : a.value) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    if (a.repeatable && a.value.find("...") == std::string::npos &&
        a.value.find(' ') == std::string::npos) {
      a.value += "...";
    }
    a.choices = SplitChoices(a.value);
    a.kind = KindOf(a.value, a.choices);
    if (a.kind == ValueKind::kNone) a.kind = ValueKind::kText;
    a.default_value = opt.get_default_str();
    if (a.default_value == "[]" || a.default_value == "\"\"") a.default_value.clear();
  }
  // Only a command's options read the environment (pidx --version never reads PIDX_VERSION).
  if (cmd != nullptr && !a.positional && a.long_name != "help") a.env = EnvNameFor(a.long_name);
  if (opt.get_required()) a.required = "yes";
  if (cmd != nullptr) {
    for (const auto& r : cmd->required) {
      if (a.long_name != r.name) continue;
      a.required = r.unless ? std::string("unless ") + r.unless : "yes";
    }
  }
  if (!a.required.empty()) a.default_value.clear();
  return a;
}

// " [required] [default: 5s] [env: PIDX_LOCK_TIMEOUT]"
std::string Annotations(const ArgDoc& a) {
  std::string out;
  if (a.required == "yes") out += " [required]";
  if (!a.required.empty() && a.required != "yes") out += " [required " + a.required + "]";
  if (!a.default_value.empty()) out += " [default: " + a.default_value + "]";
  if (!a.env.empty()) out += " [env: " + a.env + "]";
  // Each [...] stays on one line.
  bool inside = false;
  for (char& c : out) {
    if (c == '[') inside = true;
    if (c == ']') inside = false;
    if (inside && c == ' ') c = kNoBreak;
  }
  return out;
}

std::string ArgLines(const std::vector<ArgDoc>& args) {
  std::string out;
  for (const auto& a : args) {
    std::string left = "  " + a.Spelling();
    if (left.size() + 2 > kColumn) {
      out += left + "\n" + std::string(kColumn, ' ');
    } else {
      out += left + std::string(kColumn - left.size(), ' ');
    }
    out += Wrap(a.description + Annotations(a), kColumn, kColumn) + "\n";
  }
  return out;
}

std::string ExitCodeLines(const Command* cmd) {
  std::string out = "Exit codes:\n";
  for (const auto& e : ExitCodes()) {
    std::string meaning = e.meaning;
    if (e.code == 1) {
      if (cmd == nullptr) {
        meaning = "findings: verify found problems, diff differences, recall below --min";
      } else if (cmd->findings != nullptr) {
        meaning = cmd->findings;
      } else {
        continue;
      }
    }
    const std::string code = e.code == 130 ? "130/143" : std::to_string(e.code);
    out += fmt::format("  {:<9}", code) + Wrap(meaning, 11, 11) + "\n";
  }
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  // Optimal string alignment: insert, delete, substitute, swap of two neighbours.
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string ArgDoc::Spelling() const {
  if (positional) return value;
  std::string out = short_name.empty() ? "" : "-" + short_name + ", ";
  out += "--" + long_name;
  if (!value.empty()) out += " " + value;
  return out;
}

const std::vector<ExitCodeDoc>& ExitCodes() {
  static const std::vector<ExitCodeDoc> codes = {
      {0, "success"},
      {1, "findings"},  // each command says what (Command::findings)
      {64, "usage error: unknown command or flag, missing or malformed argument"},
      {65, "bad catalog data, or the publishing guard refused the version"},
      {66, "input missing: catalog file, index directory, version, shard"},
      {70, "internal error (a bug)"},
      {74, "I/O error, also a result that could not be written to stdout"},
      {75, "lock timeout (retry later)"},
      {78, "configuration error: bad schema file or PIDX_* setting"},
      {130, "interrupted by SIGINT/SIGTERM: cleaned up, nothing published"},
  };
  return codes;
}

void CaptureDefaults(CLI::App* app) {
  for (CLI::Option* opt : app->get_options()) {
    // Numeric options have no variable CLI11 knows; they set their default when registered.
    if (opt->get_default_str().empty()) opt->capture_default_str();
  }
}

CommandDoc Describe(const CLI::App& sub, const Command& cmd) {
  CommandDoc doc;
  doc.command = &cmd;
  std::vector<ArgDoc> flags;
  for (const CLI::Option* opt : sub.get_options()) {
    ArgDoc a = DescribeOption(*opt, &cmd);
    (a.positional ? doc.args : flags).push_back(std::move(a));
  }
  for (auto& f : flags) doc.args.push_back(std::move(f));
  return doc;
}

std::vector<CommandDoc> DescribeAll(const CLI::App& root) {
  std::vector<CommandDoc> docs;
  for (const auto& cmd : Commands()) {
    if (cmd.hidden) continue;
    const CLI::App* sub = root.get_subcommand(cmd.name);
    docs.push_back(Describe(*sub, cmd));
  }
  return docs;
}

std::vector<ArgDoc> DescribeProgram(const CLI::App& root) {
  std::vector<ArgDoc> args;
  for (const CLI::Option* opt : root.get_options()) args.push_back(DescribeOption(*opt, nullptr));
  return args;
}

std::vector<std::string> CommandNames() {
  std::vector<std::string> names;
  for (const auto& cmd : Commands()) {
    if (!cmd.hidden) names.emplace_back(cmd.name);
  }
  return names;
}

std::string CommandHelp(const CommandDoc& doc) {
  const Command& cmd = *doc.command;
  std::string out = Wrap(fmt::format("pidx {}: {}", cmd.name, cmd.summary), 2, 0) + "\n\nUsage:\n";
  std::string_view synopsis = cmd.synopsis;
  while (!synopsis.empty()) {
    const size_t nl = synopsis.find('\n');
    out += Wrap("  pidx " + std::string(synopsis.substr(0, nl)), 9, 0) + "\n";
    synopsis = nl == std::string_view::npos ? "" : synopsis.substr(nl + 1);
  }
  std::vector<ArgDoc> positionals, flags;
  for (const auto& a : doc.args) (a.positional ? positionals : flags).push_back(a);
  if (!positionals.empty()) out += "\nArguments:\n" + ArgLines(positionals);
  out += "\nOptions:\n" + ArgLines(flags);
  out += "\n" +
         Wrap(
             "Every option can also be set as its PIDX_* variable; a flag wins over the "
             "variable, the variable over the default.",
             0, 0) +
         "\n";
  if (cmd.details != nullptr) out += "\n" + std::string(cmd.details);
  out += "\n" + ExitCodeLines(&cmd);
  return out;
}

std::string ProgramHelp(const CLI::App& root) {
  std::string out =
      "pidx: build and operate inverted indexes over product catalogs\n\n"
      "Usage:\n"
      "  pidx COMMAND [options]\n"
      "  pidx help COMMAND          (the same as pidx COMMAND --help)\n"
      "  pidx --version\n\nCommands:\n";
  for (const auto& cmd : Commands()) {
    if (cmd.hidden) continue;
    out += fmt::format("  {:<16}", cmd.name) + Wrap(cmd.summary, 18, 18) + "\n";
  }
  out += "\nOptions:\n" + ArgLines(DescribeProgram(root));
  out += "\n" +
         Wrap(
             "Every command takes --json (one JSON object on stdout), --log-format, "
             "--log-level and --quiet. Every option of a command can also be set as "
             "PIDX_<OPTION> (--lock-timeout: PIDX_LOCK_TIMEOUT); a flag wins over the "
             "variable, the variable over the default. The manual: man pidx.",
             0, 0) +
         "\n\n";
  out += ExitCodeLines(nullptr);
  return out;
}

Result<std::string> HelpFor(const CLI::App& root, const std::string& name) {
  const Command* cmd = FindCommand(name);
  if (cmd == nullptr || cmd->hidden) {
    return Status::Usage("unknown command \"" + name + "\"" + DidYouMean(name, CommandNames()) +
                         " (commands: " + fmt::format("{}", fmt::join(CommandNames(), ", ")) + ")");
  }
  return CommandHelp(Describe(*root.get_subcommand(name), *cmd));
}

std::string HelpFormatter::make_help(const CLI::App* app, std::string /*name*/,
                                     CLI::AppFormatMode /*mode*/) const {
  if (app->get_parent() == nullptr) return ProgramHelp(*app);
  const Command* cmd = FindCommand(app->get_name());
  if (cmd == nullptr) return app->get_description() + "\n";
  return CommandHelp(Describe(*app, *cmd));
}

std::vector<std::string> Suggest(std::string_view word,
                                 const std::vector<std::string>& candidates) {
  std::vector<std::pair<size_t, std::string>> close;
  const size_t limit = std::min<size_t>(2, (word.size() + 1) / 2);
  for (const auto& c : candidates) {
    const size_t d = EditDistance(word, c);
    // A prefix of a name is close however short ("reb" for "rebuild-shard").
    const bool prefix = word.size() >= 2 && c.rfind(word, 0) == 0;
    if (d <= limit || prefix) close.emplace_back(prefix ? 0 : d, c);
  }
  std::stable_sort(close.begin(), close.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  out.reserve(close.size());
  for (auto& [d, c] : close) out.push_back(std::move(c));
  return out;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  const auto s = Suggest(word, candidates);
  if (s.empty()) return "";
  std::string out = "; did you mean ";
  for (size_t i = 0; i < s.size() && i < 3; ++i) {
    if (i > 0) out += i + 1 == std::min<size_t>(s.size(), 3) ? " or " : ", ";
    out += "\"" + s[i] + "\"";
  }
  return out + "?";
}

}  // namespace pidx::cli
