#include "pidx/catalog/jsonl_reader.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

#include "pidx/catalog/catalog_reader.h"
#include "support/read_catalog.h"
#include "support/temp_dir.h"

namespace pidx::catalog {
namespace {

using Outcome = testing::ReadOutcome;
using testing::ReadAll;

const std::vector<std::string>& Values(const Product& p, const char* name) {
  int i = Schema::Default().FindName(name);
  REQUIRE(i >= 0);
  return p.fields[static_cast<size_t>(i)];
}

using Strings = std::vector<std::string>;

TEST_CASE("jsonl: every role of the default schema is read") {
  testing::TempDir dir;
  std::string path = dir.Write(
      "c.jsonl",
      R"({"id":"A1","category":"audio/headphones","title":"Wireless \"Pro\"","description":"d",)"
      R"("brand":"Acme","tags":["bt","anc",7],"price":19.90,)"
      R"("attrs":{"color":"black","size":42,"wireless":true,"ports":["usb","jack"],"none":null}})"
      "\n");
  Outcome o = ReadAll(path);
  REQUIRE(o.errors.empty());
  REQUIRE(o.products.size() == 1);
  const Product& p = o.products[0];
  CHECK(p.id == "A1");
  CHECK(p.category == "audio/headphones");
  CHECK(p.line == 1);
  CHECK(p.fields.size() == 8);
  CHECK(Values(p, "id").empty());
  CHECK(Values(p, "category").empty());
  CHECK(Values(p, "title") == Strings{"Wireless \"Pro\""});
  CHECK(Values(p, "description") == Strings{"d"});
  CHECK(Values(p, "brand") == Strings{"Acme"});
  CHECK(Values(p, "tags") == Strings{"bt", "anc", "7"});
  CHECK(Values(p, "price") == Strings{"19.90"});
  CHECK(Values(p, "attrs") == Strings{"color\x1f"
                                      "black",
                                      "size\x1f"
                                      "42",
                                      "wireless\x1f"
                                      "true",
                                      "ports\x1fusb", "ports\x1fjack"});
}

TEST_CASE("jsonl: an integer id is kept as its decimal text") {
  testing::TempDir dir;
  Outcome o = ReadAll(dir.Write("c.jsonl",
                                "{\"id\":12345,\"category\":\"c\"}\n"
                                "{\"id\":-7,\"category\":\"c\"}\n"
                                "{\"id\":18446744073709551615,\"category\":\"c\"}\n"));
  REQUIRE(o.errors.empty());
  REQUIRE(o.products.size() == 3);
  CHECK(o.products[0].id == "12345");
  CHECK(o.products[1].id == "-7");
  CHECK(o.products[2].id == "18446744073709551615");
}

TEST_CASE("jsonl: unknown fields are ignored, null is absent, the last duplicate key wins") {
  testing::TempDir dir;
  Outcome o = ReadAll(dir.Write(
      "c.jsonl",
      R"({"id":"1","extra":{"deep":[1,2,{"x":"y"}]},"category":"c","title":null,"brand":"a","brand":"b"})"
      "\n"));
  REQUIRE(o.errors.empty());
  REQUIRE(o.products.size() == 1);
  CHECK(Values(o.products[0], "title").empty());
  CHECK(Values(o.products[0], "brand") == Strings{"b"});
}

TEST_CASE(
    "jsonl: blank lines are skipped and still counted, CRLF and a last line without newline work") {
  testing::TempDir dir;
  Outcome o = ReadAll(dir.Write("c.jsonl",
                                "\n{\"id\":\"1\",\"category\":\"c\"}\r\n   \r\n\n"
                                "{\"id\":\"2\",\"category\":\"c\"}"));
  REQUIRE(o.errors.empty());
  REQUIRE(o.products.size() == 2);
  CHECK(o.products[0].line == 2);
  CHECK(o.products[1].line == 5);
}

TEST_CASE("jsonl: values of the previous record do not leak into the next") {
  testing::TempDir dir;
  Outcome o =
      ReadAll(dir.Write("c.jsonl",
                        "{\"id\":\"1\",\"category\":\"c\",\"tags\":[\"a\",\"b\"],\"title\":\"t\"}\n"
                        "{\"id\":\"2\",\"category\":\"c\",\"tags\":[\"z\"]}\n"));
  REQUIRE(o.products.size() == 2);
  CHECK(Values(o.products[1], "tags") == Strings{"z"});
  CHECK(Values(o.products[1], "title").empty());
}

TEST_CASE("jsonl: each bad line is reported as file:line: reason and reading continues") {
  testing::TempDir dir;
  const std::string good = "{\"id\":\"ok\",\"category\":\"c\"}\n";
  std::string path =
      dir.Write("c.jsonl",
                good +                                                          // 1
                    "{\"id\":\"1\",\"category\":\"c\"\n" +                      // 2 unclosed object
                    "{\"id\":\"1\"}\n" +                                        // 3
                    "{\"category\":\"c\"}\n" +                                  // 4
                    "{\"id\":\"\",\"category\":\"c\"}\n" +                      // 5
                    "{\"id\":1.5,\"category\":\"c\"}\n" +                       // 6
                    "{\"id\":true,\"category\":\"c\"}\n" +                      // 7
                    "[1,2]\n" +                                                 // 8
                    "{\"id\":\"1\",\"category\":\"c\",\"price\":\"9\"}\n" +     // 9
                    "{\"id\":\"1\",\"category\":\"c\",\"title\":\"\xff\"}\n" +  // 10
                    "{\"id\":\"1\",\"category\":\"c\"} {}\n" +                  // 11
                    "{\"id\":\"1\",\"category\":7}\n" +                         // 12
                    "{\"id\":\"1\",\"category\":\"c\",\"attrs\":{\"a\":{\"b\":1}}}\n" +  // 13
                    "{\"id\":\"1\",\"category\":\"c\",\"tags\":[[\"x\"]]}\n" +           // 14
                    "{\"id\":\"1\",\"category\":\"\"}\n" +                               // 15
                    "{\"id\":\"1\",\"category\":\"c\",\"title\":nul}\n" +                // 16
                    good);                                                               // 17
  Outcome o = ReadAll(path);
  REQUIRE(o.products.size() == 2);
  CHECK(o.products[0].line == 1);
  CHECK(o.products[1].line == 17);
  const std::string f = path + ":";
  REQUIRE(o.errors.size() == 15);
  CHECK_THAT(o.errors[0], Catch::StartsWith(f + "2: malformed JSON ("));
  CHECK(o.errors[1] == f + "3: missing \"category\"");
  CHECK(o.errors[2] == f + "4: missing \"id\"");
  CHECK(o.errors[3] == f + "5: empty \"id\"");
  CHECK(o.errors[4] == f + "6: \"id\" must be a string or integer");
  CHECK(o.errors[5] == f + "7: \"id\" must be a string or integer");
  CHECK(o.errors[6] == f + "8: not a JSON object");
  CHECK(o.errors[7] == f + "9: \"price\" is not a number");
  CHECK(o.errors[8] == f + "10: invalid UTF-8");
  CHECK(o.errors[9] == f + "11: malformed JSON (trailing content after the object)");
  CHECK(o.errors[10] == f + "12: \"category\" must be a string");
  CHECK(o.errors[11] == f + "13: \"attrs.a\" must be a scalar or an array of scalars");
  CHECK(o.errors[12] == f + "14: \"tags\" must be a string, a number or an array of them");
  CHECK(o.errors[13] == f + "15: empty \"category\"");
  CHECK_THAT(o.errors[14], Catch::StartsWith(f + "16: malformed JSON ("));
}

TEST_CASE("jsonl: a line longer than max_line_bytes is bad and skipped without buffering it") {
  testing::TempDir dir;
  ReaderOptions options;
  options.max_line_bytes = 100;
  const std::string big =
      "{\"id\":\"1\",\"category\":\"c\",\"title\":\"" + std::string(5000000, 'x') + "\"}\n";
  const std::string prefix = "{\"id\":\"2\",\"category\":\"c\",\"title\":\"";
  const std::string edge = prefix + std::string(100 - prefix.size() - 2, 'y') + "\"}\n";
  REQUIRE(edge.size() == 101);
  std::string path = dir.Write("c.jsonl", "{\"id\":\"0\",\"category\":\"c\"}\n" + big + edge +
                                              std::string(101, ' ') + "\n" + big);
  Outcome o = ReadAll(path, Schema::Default(), options);
  REQUIRE(o.products.size() == 2);
  CHECK(o.products[1].id == "2");
  CHECK(o.products[1].line == 3);
  REQUIRE(o.errors.size() == 3);
  CHECK(o.errors[0] == path + ":2: line longer than 100 bytes");
  CHECK(o.errors[1] == path + ":4: line longer than 100 bytes");
  CHECK(o.errors[2] == path + ":5: line longer than 100 bytes");
}

TEST_CASE("jsonl: nesting deeper than max_depth is bad, even inside an unknown field") {
  testing::TempDir dir;
  auto nested = [](int depth) {  // `depth` levels in total, the record's object included
    std::string open, close;
    for (int i = 1; i < depth; ++i) open += "[", close += "]";
    return "{\"id\":\"1\",\"category\":\"c\",\"x\":" + open + "1" + close + ",\"s\":\"[[[[\"}\n";
  };
  std::string path = dir.Write("c.jsonl", nested(64) + nested(65) + nested(1000));
  Outcome o = ReadAll(path);
  REQUIRE(o.products.size() == 1);
  REQUIRE(o.errors.size() == 2);
  CHECK(o.errors[0] == path + ":2: nesting deeper than 64");
  CHECK(o.errors[1] == path + ":3: nesting deeper than 64");
}

TEST_CASE("jsonl: brackets inside strings do not count as nesting") {
  testing::TempDir dir;
  std::string path =
      dir.Write("c.jsonl", "{\"id\":\"1\",\"category\":\"c\",\"title\":\"" + std::string(200, '[') +
                               "\\\"" + std::string(200, '{') + "\"}\n");
  Outcome o = ReadAll(path);
  CHECK(o.errors.empty());
  CHECK(o.products.size() == 1);
}

TEST_CASE("jsonl: a schema can rename sources (sku -> id, name -> title)") {
  testing::TempDir dir;
  Result<Schema> schema = Schema::FromJson(nlohmann::json::parse(
      R"({"fields": [{"name": "id", "source": "sku", "role": "id"},
                     {"name": "category", "source": "dept", "role": "category"},
                     {"name": "title", "source": "name", "role": "text"}]})"));
  REQUIRE(schema.ok());
  std::string path =
      dir.Write("c.jsonl",
                "{\"sku\":\"S-1\",\"dept\":\"d\",\"name\":\"n\",\"id\":\"ignored\"}\n"
                "{\"id\":\"x\",\"dept\":\"d\"}\n");
  Outcome o = ReadAll(path, *schema);
  REQUIRE(o.products.size() == 1);
  CHECK(o.products[0].id == "S-1");
  CHECK(o.products[0].category == "d");
  CHECK(o.products[0].fields[2] == Strings{"n"});
  REQUIRE(o.errors.size() == 1);
  CHECK(o.errors[0] == path + ":2: missing \"sku\"");
}

TEST_CASE("jsonl: many records across read blocks keep their line numbers and progress") {
  testing::TempDir dir;
  std::string text;
  const int n = 30000;
  for (int i = 0; i < n; ++i) {
    text += "{\"id\":" + std::to_string(i) + ",\"category\":\"c" + std::to_string(i % 7) +
            "\",\"title\":\"product number " + std::to_string(i) + "\",\"tags\":[\"t\"]}\n";
  }
  std::string path = dir.Write("big.ndjson", text);
  auto reader = CatalogReader::Open(path, Schema::Default(), {});
  REQUIRE(reader.ok());
  CHECK((*reader)->total_bytes() == text.size());
  CHECK((*reader)->display_name() == path);
  Product p;
  int count = 0;
  for (;;) {
    Result<bool> r = (*reader)->Next(&p);
    REQUIRE(r.ok());
    if (!r.value()) break;
    REQUIRE(p.id == std::to_string(count));
    REQUIRE(p.line == static_cast<uint64_t>(count + 1));
    ++count;
  }
  CHECK(count == n);
  CHECK((*reader)->bytes_consumed() == text.size());
}

TEST_CASE("CatalogReader::Open picks the format from the name and reports missing files") {
  testing::TempDir dir;
  auto missing = CatalogReader::Open(dir.File("nope.jsonl"), Schema::Default(), {});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().kind() == StatusKind::kNotFound);
  CHECK_THAT(missing.status().message(), Catch::Contains("nope.jsonl"));

  auto unknown = CatalogReader::Open(dir.Write("c.json", "{}"), Schema::Default(), {});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().kind() == StatusKind::kUsage);

  ReaderOptions jsonl;
  jsonl.format = Format::kJsonl;
  std::string path = dir.Write("c.txt", "{\"id\":\"1\",\"category\":\"c\"}\n");
  CHECK(ReadAll(path, Schema::Default(), jsonl).products.size() == 1);
  CHECK(ReadAll(dir.Write("C.JSONL", "{\"id\":\"1\",\"category\":\"c\"}\n")).products.size() == 1);
}

TEST_CASE("ParseFormat knows the format names") {
  CHECK(ParseFormat("jsonl").value() == Format::kJsonl);
  CHECK(ParseFormat("ndjson").value() == Format::kJsonl);
  CHECK(ParseFormat("csv").value() == Format::kCsv);
  CHECK(ParseFormat("tsv").value() == Format::kTsv);
  CHECK(ParseFormat("auto").value() == Format::kAuto);
  Result<Format> bad = ParseFormat("xml");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().kind() == StatusKind::kUsage);
  CHECK_THAT(bad.status().message(), Catch::Contains("\"xml\""));
}

}  // namespace
}  // namespace pidx::catalog

namespace pidx::catalog {
namespace {

TEST_CASE("jsonl: deep nesting is found far into a long line") {
  testing::TempDir dir;
  std::string deep = std::string(65, '[') + std::string(65, ']');
  std::string line = "{\"id\":\"1\",\"category\":\"c\",\"title\":\"" + std::string(9000, 'x') +
                     "\",\"x\":" + deep + "}\n";
  std::string path = dir.Write("c.jsonl", line);
  Outcome o = ReadAll(path);
  REQUIRE(o.errors.size() == 1);
  CHECK(o.errors[0] == path + ":1: nesting deeper than 64");
}

TEST_CASE("jsonl: \"-\" reads standard input as JSON Lines named <stdin>") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const int saved = dup(STDIN_FILENO);
  REQUIRE(dup2(fds[0], STDIN_FILENO) == STDIN_FILENO);
  close(fds[0]);
  const std::string text = "{\"id\":\"1\",\"category\":\"c\"}\n{\"id\":2}\n";
  REQUIRE(write(fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fds[1]);
  Outcome o = ReadAll("-");
  dup2(saved, STDIN_FILENO);
  close(saved);
  REQUIRE(o.products.size() == 1);
  CHECK(o.products[0].id == "1");
  REQUIRE(o.errors.size() == 1);
  CHECK(o.errors[0] == "<stdin>:2: missing \"category\"");
}

}  // namespace
}  // namespace pidx::catalog

namespace pidx::catalog {
namespace {

// Random JSON values for fields the schema does not use, with the edge cases of the grammar.
std::string RandomValue(std::mt19937_64& rng, int depth) {
  static const char* const kScalars[] = {
      "1",           "-0",         "3.25",     "1e5",
      "-2.5E-3",     "0",          "true",     "false",
      "null",        "\"\"",       "\"x\"",    "\"a\\\"b\"",
      "\"\\u00e9\"", "\"\\n\\t\"", "\"日本\"", "12345678901234567890",
      "1.0e+2",      "\"\\/\""};
  const int kind = static_cast<int>(rng() % (depth > 3 ? 1 : 3));
  if (kind == 0) return kScalars[rng() % (sizeof(kScalars) / sizeof(kScalars[0]))];
  const size_t n = rng() % 4;
  std::string out = kind == 1 ? "[" : "{";
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += rng() % 2 ? "," : ", ";
    if (kind == 2) out += "\"k" + std::to_string(rng() % 5) + "\":";
    out += RandomValue(rng, depth + 1);
  }
  out += kind == 1 ? "]" : "}";
  return out;
}

std::string RandomLine(std::mt19937_64& rng, int n) {
  std::string line = "{\"id\":\"P" + std::to_string(n) + "\",\"category\":\"Books\"";
  const size_t extra = rng() % 4;
  for (size_t i = 0; i < extra; ++i) {
    line +=
        rng() % 2 ? ",\"title\":\"t\"" : ",\"x" + std::to_string(i) + "\":" + RandomValue(rng, 0);
  }
  return line + "}";
}

// One random edit: a byte deleted, doubled, replaced or inserted from JSON's structure.
std::string Mutate(std::mt19937_64& rng, std::string line) {
  static const std::string kBytes = ",:[]{}\" 1etfnu\\.-+0";
  const size_t at = rng() % line.size();
  switch (rng() % 4) {
    case 0:
      line.erase(at, 1);
      break;
    case 1:
      line.insert(at, 1, line[at]);
      break;
    case 2:
      line[at] = kBytes[rng() % kBytes.size()];
      break;
    default:
      line.insert(at, 1, kBytes[rng() % kBytes.size()]);
      break;
  }
  return line;
}

bool IsJsonSyntaxError(const std::string& message) {
  return message.find("malformed JSON") != std::string::npos ||
         message.find("not a JSON object") != std::string::npos ||
         message.find("invalid UTF-8") != std::string::npos;
}

}  // namespace

TEST_CASE("jsonl: invalid JSON in a field the schema does not use is a bad record") {
  testing::TempDir dir;
  const std::vector<std::string> bad = {
      R"({"id":"A","category":"c","x":[1 2 3]})",  R"({"id":"A","category":"c","x":tru})",
      R"({"id":"A","category":"c","x":{"a" 1}})",  R"({"id":"A","category":"c","x":[1,,2]})",
      R"({"id":"A","category":"c","x":{"a":1,}})", R"({"id":"A","category":"c","x":"\q"})",
      R"({"id":"A","category":"c","x":01})",       R"({"id":"A","category":"c","x":nul})",
      R"({"id":"A","category":"c","x":[1,]})",     R"({"id":"A","category":"c","x":-})"};
  std::string text;
  for (const auto& l : bad) text += l + "\n";
  const std::string path = dir.Write("bad.jsonl", text);
  Outcome o = ReadAll(path);
  CHECK(o.products.empty());
  REQUIRE(o.errors.size() == bad.size());
  for (size_t i = 0; i < bad.size(); ++i) {
    INFO(bad[i] << " -> " << o.errors[i]);
    CHECK(o.errors[i].rfind(path + ":" + std::to_string(i + 1) + ": malformed JSON", 0) == 0);
  }
}

TEST_CASE("jsonl: the reader agrees with a strict JSON validator on random and mutated lines") {
  testing::TempDir dir;
  std::mt19937_64 rng(20261201);
  std::vector<std::string> lines;
  for (int i = 0; i < 20000; ++i) {
    std::string line = RandomLine(rng, i);
    if (i % 3 != 0) line = Mutate(rng, line);
    if (rng() % 5 == 0) line = Mutate(rng, line);
    // The reader skips blank lines and a first-line byte order mark: not what is tested here.
    if (line.find_first_not_of(" \t\r") == std::string::npos) line = "{}";
    lines.push_back(line);
  }
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  const std::string path = dir.Write("random.jsonl", text);
  auto reader = CatalogReader::Open(path, Schema::Default(), {});
  REQUIRE(reader.ok());
  std::vector<std::string> verdict(lines.size());  // "" = accepted, else the error
  Product p;
  for (;;) {
    Result<bool> r = (*reader)->Next(&p);
    if (r.ok() && !*r) break;
    if (r.ok()) continue;  // accepted: verdict stays ""
    REQUIRE(r.status().kind() == StatusKind::kBadData);
    const std::string& m = r.status().message();
    const size_t colon = m.find(':', path.size() + 1);
    const size_t line = std::stoul(m.substr(path.size() + 1, colon - path.size() - 1));
    REQUIRE(line >= 1);
    REQUIRE(line <= lines.size());
    verdict[line - 1] = m;
  }
  size_t rejected = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const bool valid = nlohmann::json::accept(lines[i]);
    INFO(lines[i] << " -> " << (verdict[i].empty() ? "accepted" : verdict[i]));
    if (!valid) {
      CHECK(!verdict[i].empty());  // never indexed
      ++rejected;
    } else if (!verdict[i].empty()) {
      CHECK(!IsJsonSyntaxError(verdict[i]));  // refused for the schema, never as JSON
    }
  }
  CHECK(rejected > 5000);  // the mutations do reach the grammar
}

}  // namespace pidx::catalog

namespace pidx::catalog {

TEST_CASE("jsonl: an id or category of only whitespace is a bad record") {
  testing::TempDir dir;
  const std::string f = dir.Write("w.jsonl",
                                  "{\"id\":\" \\t\",\"category\":\"c\"}\n"
                                  "{\"id\":\"A\",\"category\":\"\\n \"}\n"
                                  "{\"id\":\" A \",\"category\":\" c\"}\n");
  Outcome o = ReadAll(f);
  REQUIRE(o.products.size() == 1);
  REQUIRE(o.errors.size() == 2);
  CHECK(o.errors[0] == f + ":1: \"id\" is only whitespace");
  CHECK(o.errors[1] == f + ":2: \"category\" is only whitespace");
}

}  // namespace pidx::catalog
