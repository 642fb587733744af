#include "options.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace pidx::cli {

Status GlobalOptions::BadValue(const std::string& long_name, const std::string& why) const {
  if (from_env.count(long_name)) {
    const std::string var = EnvNameFor(long_name);
    const char* value = std::getenv(var.c_str());
    failure_fields["variable"] = var;
    if (value != nullptr) failure_fields["value"] = value;
    return Status::Config(var + ": " + why);
  }
  failure_fields["option"] = "--" + long_name;
  return Status::Usage("--" + long_name + ": " + why);
}

CLI::Option* AddNumberOption(CLI::App* app, const std::string& name, const char* type_name,
                             std::function<Status(const std::string&)> set,
                             const std::string& description) {
  return app
      ->add_option_function<std::string>(
          "--" + name,
          [name, set = std::move(set)](const std::string& text) {
            Status s = set(text);
            if (!s.ok()) throw BadOptionValue(name, text, s.message());
          },
          description)
      ->type_name(type_name);
}

void AddFractionOption(CLI::App* app, const std::string& name, double* target, double min,
                       double max, const std::string& description) {
  CLI::Option* opt = AddNumberOption(
      app, name, "F",
      [target, min, max](const std::string& text) -> Status {
        PIDX_ASSIGN_OR_RETURN(*target, ParseFraction(text, min, max));
        return Status::Ok();
      },
      description);
  if (*target >= min && *target <= max) opt->default_str(fmt::format("{}", *target));
}

void AddThreadsOption(CLI::App* app, int* threads) {
  AddCountOption(app, "threads", threads, 0, kMaxThreads,
                 "Worker threads, 0 to 1024 (0: one per core)");
}

void AddVersionOption(CLI::App* app, uint64_t* version, const std::string& what) {
  AddNumberOption(
      app, "version", "V",
      [version](const std::string& text) -> Status {
        PIDX_ASSIGN_OR_RETURN(*version, ParseVersion(text));
        return Status::Ok();
      },
      "Version to " + what + " (v000042 or 42; default: the current one)");
}

void AddVersionOperand(CLI::App* app, uint64_t* version, const std::string& description) {
  app->add_option_function<std::string>(
         "version",
         [version](const std::string& text) {
           auto v = ParseVersion(text);
           if (!v.ok()) throw BadOptionValue("version", text, v.status().message(), "V");
           *version = *v;
         },
         description)
      ->type_name("V")
      ->required();
}

void AddVersionListOption(CLI::App* app, const std::string& name, std::vector<uint64_t>* versions,
                          const std::string& description) {
  app->add_option_function<std::vector<std::string>>(
         "--" + name,
         [name, versions](const std::vector<std::string>& texts) {
           versions->clear();
           for (const auto& text : texts) {
             auto v = ParseVersion(text);
             if (!v.ok()) throw BadOptionValue(name, text, v.status().message());
             versions->push_back(*v);
           }
         },
         description)
      ->type_name("V");
}

void AddOutputOptions(CLI::App* app, GlobalOptions* g) {
  app->add_flag("--json", g->json, "Print a machine-readable JSON result on stdout");
  app->add_option("--log-format", g->log_format, "Log format on stderr (auto: text on a terminal)")
      ->type_name("auto|json|logfmt|text");
  app->add_option("--log-level", g->log_level, "Lowest level logged")
      ->type_name("debug|info|warn|error");
  app->add_flag("-q,--quiet", g->quiet, "Log only warnings and errors");
  AddNumberOption(
      app, "color", "WHEN",
      [g](const std::string& text) -> Status {
        if (text != "auto" && text != "always" && text != "never") {
          return Status::Usage("invalid colour choice \"" + text + "\" (auto|always|never)");
        }
        g->color = text;
        return Status::Ok();
      },
      "Colour in text logs: auto (a terminal, unless NO_COLOR or TERM=dumb), always, never");
  app->add_option("--trace-file", g->trace_file,
                  "Append this run's spans to FILE as one OTLP/JSON line (docs/OBSERVABILITY.md)")
      ->type_name("FILE");
}

void AddIndexOption(CLI::App* app, std::string* index) {
  app->add_option("--index", *index, "Index directory")->type_name("DIR");
}

void AddAnalyzerOptions(CLI::App* app, AnalyzerFlags* f) {
  AddCountOption(app, "analyzer-version", &f->version, 1, LatestAnalyzerVersion(),
                 "Analyzer version, 1-2 (default 2; docs/QUERY.md), stored in the version");
  app->add_flag("--no-accent-folding", f->no_accent_folding,
                "Analyzer 2: keep accents in text fields (naive and naïve differ)");
}

void AddCatalogOption(CLI::App* app, std::vector<std::string>* catalogs) {
  app->add_option("--catalog", *catalogs,
                  "Catalog file(s): .jsonl/.ndjson/.csv/.tsv[.gz|.zst], - for stdin")
      ->type_name("FILE...");
}

void AddLockTimeoutOption(CLI::App* app, std::string* lock_timeout) {
  app->add_option("--lock-timeout", *lock_timeout,
                  "How long to wait for a lock (e.g. 500ms, 5s, 0)")
      ->type_name("DUR");
}

Result<int64_t> ParseLockTimeout(const std::string& lock_timeout, const GlobalOptions& g) {
  auto ms = ParseDuration(lock_timeout);
  if (!ms.ok()) return g.BadValue("lock-timeout", ms.status().message());
  return *ms;
}

void AddCatalogReadOptions(CLI::App* app, CatalogReadFlags* f) {
  app->add_option("--format", f->format, "Catalog format (auto: by extension)")
      ->type_name("auto|jsonl|csv|tsv");
  AddCountOption(app, "max-bad-lines", &f->max_bad_lines, 0, UINT64_MAX,
                 "Skip up to N bad records (each logged) instead of failing");
  AddCountOption(app, "max-line-bytes", &f->max_line_bytes, 1, uint64_t{1} << 30,
                 "Longest accepted line/record in bytes (at most 1 GiB)");
}

Result<catalog::Format> ParseFormat(const CatalogReadFlags& f, const GlobalOptions& g) {
  auto format = ParseCatalogFormat(f.format);
  if (!format.ok()) return g.BadValue("format", format.status().message());
  return *format;
}

void AddShrinkGuardOptions(CLI::App* app, ShrinkGuardFlags* f) {
  AddFractionOption(app, "max-shrink", &f->max_shrink, 0, 1,
                    "Refuse a version with more than this fraction (0 to 1) fewer products than "
                    "the current");
  app->add_flag("--allow-shrink", f->allow_shrink, "Publish even if products or categories shrink");
}

Status CheckShrinkGuard(const ShrinkGuardFlags& f, const GlobalOptions& g) {
  if (f.max_shrink < 0 || f.max_shrink > 1) {
    return g.BadValue("max-shrink", "must be between 0 and 1");
  }
  return Status::Ok();
}

void AddMemoryBudgetOption(CLI::App* app, std::string* memory_budget) {
  app->add_option("--memory-budget", *memory_budget,
                  "Memory the shard builders may hold (e.g. 64M, 1G); past it they spill to "
                  "temporary files in the index directory (0: no limit)")
      ->type_name("SIZE");
}

Result<uint64_t> ParseMemoryBudget(const std::string& memory_budget, const GlobalOptions& g) {
  auto bytes = ParseSize(memory_budget);
  if (!bytes.ok()) return g.BadValue("memory-budget", bytes.status().message());
  return *bytes;
}

std::string EnvNameFor(const std::string& long_name) {
  std::string out = "PIDX_";
  for (char c : long_name) {
    out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

std::optional<bool> ParseFlagValue(std::string_view value) {
  std::string v;
  for (char c : value) v.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  return std::nullopt;
}

Status ApplyEnvironment(CLI::App* command, GlobalOptions* g) {
  for (CLI::Option* opt : command->get_options()) {
    if (opt->count() > 0 || opt->get_lnames().empty()) continue;
    const std::string& name = opt->get_lnames().front();
    if (name == "help") continue;
    const std::string var = EnvNameFor(name);
    const char* value = std::getenv(var.c_str());
    if (value == nullptr || *value == '\0') continue;
    std::string text = value;
    if (opt->get_expected_max() == 0) {  // a flag: on or off
      const std::optional<bool> on = ParseFlagValue(text);
      if (!on) {
        g->failure_fields["variable"] = var;
        g->failure_fields["value"] = value;
        return Status::Config(var + ": \"" + text +
                              "\" is not a flag value (1, true, yes, on or 0, false, no, off)");
      }
      text = *on ? "true" : "false";
    }
    try {
      opt->add_result(text);
      opt->run_callback();
    } catch (const BadOptionValue& e) {
      g->failure_fields["variable"] = var;
      g->failure_fields["value"] = value;
      return Status::Config(var + ": " + e.why());
    } catch (const CLI::ParseError& e) {
      g->failure_fields["variable"] = var;
      g->failure_fields["value"] = value;
      return Status::Config(var + "=" + value + ": " + e.what());
    }
    g->from_env.insert(name);
  }
  for (CLI::App* sub : command->get_subcommands()) PIDX_RETURN_IF_ERROR(ApplyEnvironment(sub, g));
  return Status::Ok();
}

namespace {

// The first value of option --`name` of `command`, or "".
std::string OptionValue(CLI::App* command, const std::string& name) {
  const CLI::Option* opt = command->get_option_no_throw("--" + name);
  if (opt == nullptr || opt->count() == 0 || opt->results().empty()) return {};
  return opt->results().front();
}

// `path` with every symlink of its existing part resolved, absolute.
std::filesystem::path Resolved(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec);
  return ec ? std::filesystem::absolute(path).lexically_normal() : p;
}

bool Within(const std::filesystem::path& inner, const std::filesystem::path& dir) {
  auto i = inner.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++i) {
    if (d->empty()) continue;  // a trailing separator
    if (i == inner.end() || *i != *d) return false;
  }
  return true;
}

}  // namespace

Status CheckOutputsOutsideIndex(CLI::App* command, GlobalOptions* g) {
  const std::string index = OptionValue(command, "index");
  if (index.empty()) return Status::Ok();
  const std::filesystem::path dir = Resolved(index);
  for (const char* name : {"metrics-file", "out", "trace-file"}) {
    const std::string out = OptionValue(command, name);
    if (out.empty() || out == "-") continue;
    if (!Within(Resolved(out), dir)) continue;
    g->failure_fields["option"] = std::string("--") + name;
    if (std::string_view(name) == "trace-file") g->trace_file.clear();
    return Status::Usage(fmt::format(
        "--{} {} lies inside the index {}: pidx writes only its own files there (an output "
        "over CURRENT or a manifest would destroy a version); write it elsewhere",
        name, out, index));
  }
  return Status::Ok();
}

Status Require(const std::string& value, const std::string& long_name) {
  if (!value.empty()) return Status::Ok();
  return Status::Usage("missing --" + long_name + " (or " + EnvNameFor(long_name) + ")");
}

uint32_t ShardCountFlags::shards() const {
  return shards_per_category > 0 ? shards_per_category : ShardCounts().default_shards_per_category;
}

uint64_t ShardCountFlags::target() const {
  if (target_shard_docs != UINT64_MAX) return target_shard_docs;
  return shards_per_category > 0 ? 0 : ShardCounts().default_target_shard_docs;
}

void AddShardCountOptions(CLI::App* app, ShardCountFlags* f) {
  AddCountOption(app, "shards-per-category", &f->shards_per_category, 1,
                 ShardCounts().max_shards_per_category,
                 "Most shards a category gets, 1-1000 (default 8); given alone, every category "
                 "gets exactly this many");
  AddCountOption(app, "target-shard-docs", &f->target_shard_docs, 0,
                 ShardCounts().max_target_shard_docs,
                 fmt::format("Products per shard a category's shard count aims at (default "
                             "{}); 0: every category gets --shards-per-category",
                             ShardCounts().default_target_shard_docs));
}

}  // namespace pidx::cli

namespace pidx::cli {

Status WithBadRecordHint(Status s, const CatalogReadFlags& f,
                         const std::vector<std::string>& catalogs, const GlobalOptions& g) {
  if (s.kind() != StatusKind::kBadData) return s;
  const std::string& m = s.message();
  for (const auto& c : catalogs) {
    const std::string name = c == "-" ? "<stdin>" : c;  // as the readers name it
    if (m.rfind(name + ":", 0) != 0 || m.size() <= name.size() + 1 ||
        !std::isdigit(static_cast<unsigned char>(m[name.size() + 1]))) {
      continue;
    }
    std::string hint;
    const bool piped = c == "-" || c == "/dev/stdin" || c.rfind("/dev/fd/", 0) == 0;
    const bool not_json = m.find(": not a JSON object") != std::string::npos ||
                          m.find(": malformed JSON") != std::string::npos;
    if (piped && f.format == "auto" && not_json && m.rfind(name + ":1:", 0) == 0) {
      hint += "standard input is read as JSON Lines: for CSV or TSV give --format csv or tsv; ";
    }
    hint += f.max_bad_lines == 0
                ? "--max-bad-lines N skips up to N bad records, each logged"
                : "more bad records than --max-bad-lines " + std::to_string(f.max_bad_lines);
    g.failure_fields["hint"] = hint;
    return s;
  }
  return s;
}

}  // namespace pidx::cli
