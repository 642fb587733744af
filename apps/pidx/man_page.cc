#include "man_page.h"

#include <cctype>
#include <map>
#include <set>

#include <fmt/format.h>

#include "help.h"

namespace pidx::cli {
namespace {

// Text for roff: a backslash is \e, a hyphen a real minus (so a copied flag works), and a line
// may not start with a control character.
std::string Roff(std::string_view text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    line_start = c == '\n';
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  return out;
}

std::string ArgItem(const ArgDoc& a) {
  std::string out = ".TP\n";
  if (a.positional) {
    out += ".I " + Roff(a.value) + "\n";
  } else {
    out += "\\fB" + Roff(a.short_name.empty() ? "" : "-" + a.short_name + ", ") +
           Roff("--" + a.long_name) + "\\fR";
    if (!a.value.empty()) out += " \\fI" + Roff(a.value) + "\\fR";
    out += "\n";
  }
  out += Roff(a.description);
  if (!a.description.empty() && a.description.back() != '.') out += ".";
  std::vector<std::string> notes;
  if (a.required == "yes") notes.emplace_back("Required.");
  if (!a.required.empty() && a.required != "yes") notes.push_back("Required " + a.required + ".");
  if (!a.default_value.empty()) notes.push_back("Default: " + a.default_value + ".");
  if (!a.env.empty()) notes.push_back("Environment: " + a.env + ".");
  for (const auto& n : notes) out += " " + Roff(n);
  return out + "\n";
}

std::string Preformatted(std::string_view text) {
  return ".PP\n.nf\n" + Roff(text) + (text.empty() || text.back() == '\n' ? "" : "\n") + ".fi\n";
}

}  // namespace

std::string ManPage(const CLI::App& root) {
  const std::vector<CommandDoc> docs = DescribeAll(root);
  std::string out = fmt::format(".TH PIDX 1 \"\" \"pidx {}\" \"pidx manual\"\n", PIDX_VERSION);
  out += ".nh\n.ad l\n";  // no hyphenation of flags and variables, ragged right
  out += ".SH NAME\npidx \\- build and operate inverted indexes over product catalogs\n";
  out += ".SH SYNOPSIS\n.nf\n";
  out += "\\fBpidx\\fR \\fICOMMAND\\fR [\\fIoptions\\fR]\n";
  out += "\\fBpidx help\\fR [\\fICOMMAND\\fR]\n";
  out += "\\fBpidx\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR\n";
  out += "\\fBpidx \\-\\-version\\fR\n.fi\n";
  out += ".SH DESCRIPTION\n" +
         Roff(
             "pidx builds inverted indexes over e-commerce product catalogs (JSON Lines, CSV, "
             "TSV, optionally gzip or zstd compressed), publishes each build as an immutable "
             "version atomically, and operates them: verify, diff, stats, query, recall, "
             "versions, rollback, gc, and a build spread over many machines (plan, build "
             "--plan, publish).") +
         "\n.PP\n" +
         Roff(
             "Stdout carries results only: a table, or with --json one JSON object with a "
             "schema_version. Logs go to stderr, one event per line (--log-format "
             "auto|json|logfmt|text; auto is text on a terminal, JSON otherwise). A failure is "
             "never silent: a nonzero exit code and an error event, and a half-built index is "
             "never published.") +
         "\n.PP\n" +
         Roff(
             "Every option of a command can also be set as PIDX_<OPTION> (--lock-timeout: "
             "PIDX_LOCK_TIMEOUT). A flag wins over the variable, the variable over the "
             "default. A value that does not parse is exit 64 as a flag and 78 as a "
             "variable.") +
         "\n";

  out += ".SH COMMANDS\n";
  for (const auto& doc : docs) {
    const Command& cmd = *doc.command;
    out += ".SS " + Roff(cmd.name) + "\n" + Roff(cmd.summary) + ".\n";
    std::string synopsis;
    std::string_view rest = cmd.synopsis;
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      synopsis += "pidx " + std::string(rest.substr(0, nl)) + "\n";
      rest = nl == std::string_view::npos ? "" : rest.substr(nl + 1);
    }
    out += Preformatted(synopsis);
    for (const auto& a : doc.args) out += ArgItem(a);
    if (cmd.details != nullptr) out += Preformatted(cmd.details);
    if (cmd.findings != nullptr)
      out += ".PP\n" + Roff(std::string("Exit 1: ") + cmd.findings) + ".\n";
  }

  // Every variable, with the commands that read it.
  std::map<std::string, std::set<std::string>> vars;
  for (const auto& doc : docs) {
    for (const auto& a : doc.args) {
      if (!a.env.empty()) vars[a.env].insert(doc.command->name);
    }
  }
  out += ".SH ENVIRONMENT\n";
  for (const auto& [var, cmds] : vars) {
    std::string text = cmds.size() == docs.size()
                           ? "every command"
                           : fmt::format("{}", fmt::join(cmds.begin(), cmds.end(), ", "));
    std::string flag = "--" + var.substr(5);
    for (char& c : flag) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
    out += ".TP\n.B " + Roff(var) + "\n" + Roff("The " + flag + " of " + text + ".") + "\n";
  }
  out += ".TP\n.B PIDX_VERSION\n" +
         Roff(
             "Is the --version V of verify, stats, query and recall; pidx --version ignores "
             "it.") +
         "\n";
  out += ".TP\n.B TRACEPARENT\n" +
         Roff("A W3C trace context: every event of the run carries its trace_id.") + "\n";
  out += ".TP\n.B NO_COLOR\n" + Roff("When set, no colour on the terminal.") + "\n";
  out += ".TP\n.B SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX\n" +
         Roff("The worker index of build --plan when --worker is not given.") + "\n";

  out += ".SH EXIT STATUS\n";
  for (const auto& e : ExitCodes()) {
    out += ".TP\n.B " + std::string(e.code == 130 ? "130, 143" : std::to_string(e.code)) + "\n";
    out += Roff(e.code == 1 ? "findings: verify found problems, diff found differences, recall "
                              "fell below --min, rollback refused a damaged version"
                            : e.meaning) +
           "\n";
  }
  out += ".SH FILES\n" +
         Preformatted(
             "INDEX/CURRENT                     the published version and its checksum\n"
             "INDEX/versions/v000042.manifest   immutable once published\n"
             "INDEX/segments/<shard>-<hash>.seg immutable shard segments\n"
             "INDEX/locks/                      flock files, never deleted\n");
  out += ".SH EXAMPLES\n" +
         Preformatted(
             "pidx build --catalog products.jsonl --index /srv/idx\n"
             "zcat dump.jsonl.gz | pidx build --catalog - --index /srv/idx\n"
             "pidx verify --index /srv/idx --catalog products.jsonl || exit 1\n"
             "pidx query --index /srv/idx 'wireless charger category:electronics -refurbished'\n"
             "pidx recall --index /srv/idx --queries golden.jsonl --min 0.95\n"
             "pidx gc --index /srv/idx --keep 7\n"
             "flock /srv/idx/locks/publish.lock -c 'maintenance'   # pause publishing\n");
  out += ".SH SEE ALSO\n" +
         Roff(
             "flock(1). The project's README.md and docs/ (CLI.md, QUERY.md, FORMAT.md, "
             "VERIFY.md, SCALE-OUT.md) say more.") +
         "\n";
  return out;
}

}  // namespace pidx::cli
