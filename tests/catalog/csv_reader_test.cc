#include "pidx/catalog/csv_reader.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "pidx/catalog/catalog_reader.h"
#include "pidx/catalog/utf8.h"
#include "support/read_catalog.h"
#include "support/temp_dir.h"

namespace pidx::catalog {
namespace {

using Outcome = testing::ReadOutcome;
using testing::ReadAll;

Status OpenError(const std::string& path) {
  auto reader = CatalogReader::Open(path, Schema::Default(), {});
  REQUIRE_FALSE(reader.ok());
  return reader.status();
}

const std::vector<std::string>& Values(const Product& p, const char* name) {
  int i = Schema::Default().FindName(name);
  REQUIRE(i >= 0);
  return p.fields[static_cast<size_t>(i)];
}

using Strings = std::vector<std::string>;

TEST_CASE("csv: header columns map to schema sources in any order, unknown columns are ignored") {
  testing::TempDir dir;
  Outcome o = ReadAll(dir.Write("c.csv",
                                "title,unused,category,id,price,brand,tags,attrs.color,attrs.size\n"
                                "Lamp,zzz,home,42,19.90,Acme,a|b | c||,red,XL\n"
                                "Bare,,home,43,,,,,\n"));
  REQUIRE(o.errors.empty());
  REQUIRE(o.products.size() == 2);
  const Product& p = o.products[0];
  CHECK(p.id == "42");
  CHECK(p.category == "home");
  CHECK(p.line == 2);
  CHECK(Values(p, "title") == Strings{"Lamp"});
  CHECK(Values(p, "price") == Strings{"19.90"});
  CHECK(Values(p, "brand") == Strings{"Acme"});
  CHECK(Values(p, "tags") == Strings{"a", "b", "c"});
  CHECK(Values(p, "attrs") == Strings{"color\x1fred", "size\x1fXL"});
  const Product& bare = o.products[1];
  CHECK(Values(bare, "title") == Strings{"Bare"});
  CHECK(Values(bare, "price").empty());
  CHECK(Values(bare, "tags").empty());
  CHECK(Values(bare, "attrs").empty());
}

TEST_CASE("csv: quoted fields hold commas, \"\" escapes, newlines and CRLF, and lines stay right") {
  testing::TempDir dir;
  Outcome o = ReadAll(dir.Write("c.csv",
                                "id,category,title,description\r\n"
                                "1,c,\"Desk, oak\",\"He said \"\"hi\"\"\"\r\n"
                                "2,c,\"two\nline\ntitle\",\"\"\r\n"
                                "3,c,\"27\"\" monitor\",\"crlf\r\ninside\"\r\n"
                                "\r\n"
                                "4,c,last,"));
  REQUIRE(o.errors.empty());
  REQUIRE(o.products.size() == 4);
  CHECK(Values(o.products[0], "title") == Strings{"Desk, oak"});
  CHECK(Values(o.products[0], "description") == Strings{"He said \"hi\""});
  CHECK(o.products[1].line == 3);
  CHECK(Values(o.products[1], "title") == Strings{"two\nline\ntitle"});
  CHECK(Values(o.products[1], "description").empty());
  CHECK(o.products[2].line == 6);
  CHECK(Values(o.products[2], "title") == Strings{"27\" monitor"});
  CHECK(Values(o.products[2], "description") == Strings{"crlf\r\ninside"});
  CHECK(o.products[3].line == 9);
  CHECK(Values(o.products[3], "title") == Strings{"last"});
}

TEST_CASE(
    "csv: each bad record is reported as file:line, column where known, and reason and reading "
    "continues") {
  testing::TempDir dir;
  std::string path = dir.Write("catalog.csv",
                               "id,category,title,price\n"  // 1
                               "1,c,t,9\n"                  // 2
                               "2,c,t\n"                    // 3
                               "3,c,t,cheap\n"              // 4
                               "4,,t,1\n"                   // 5
                               ",c,t,1\n"                   // 6
                               "6,c,\xc3\x28,1\n"           // 7
                               "7,c,\"quoted\"x,1\n"        // 8
                               "8,c,t,1,extra\n"            // 9
                               "9,c,t,1\n"                  // 10
                               "10,c,\"open,1\n"            // 11
                               "11,c,t,2\n");               // 12
  Outcome o = ReadAll(path);
  const std::string f = path + ":";
  REQUIRE(o.errors.size() == 8);
  CHECK(o.errors[0] == f + "3: expected 4 columns, found 3");
  CHECK(o.errors[1] == f + "4: column 4 (\"price\"): not a number");
  CHECK(o.errors[2] == f + "5: missing \"category\"");
  CHECK(o.errors[3] == f + "6: missing \"id\"");
  CHECK(o.errors[4] == f + "7: column 3 (\"title\"): invalid UTF-8");
  CHECK(o.errors[5] == f + "8: column 3: unexpected character after a closing quote");
  CHECK(o.errors[6] == f + "9: expected 4 columns, found 5");
  CHECK(o.errors[7] == f + "11: unterminated quoted field");
  Strings ids;
  for (const auto& p : o.products) ids.push_back(p.id + "@" + std::to_string(p.line));
  CHECK(ids == Strings{"1@2", "9@10", "11@12"});
}

TEST_CASE("csv: a record longer than max_line_bytes is bad and reading resumes on the next line") {
  testing::TempDir dir;
  ReaderOptions options;
  options.max_line_bytes = 64;
  const std::string text =
      "id,category,title\n"
      "1,c," +
      std::string(3000000, 'x') + "\n" +
      "2,c,ok\n"
      "3,c,\"" +
      std::string(200, 'q') + "\n" +
      "4,c,ok\n"
      "5,c," +
      std::string(60, 'y') + "\r\n" +        // 64 bytes: fits
      "6,c," + std::string(61, 'z') + "\n";  // 65 bytes
  std::string path = dir.Write("c.csv", text);
  Outcome o = ReadAll(path, Schema::Default(), options);
  REQUIRE(o.errors.size() == 3);
  CHECK(o.errors[0] == path + ":2: line longer than 64 bytes");
  CHECK(o.errors[1] == path + ":4: quoted field runs past 64 bytes (unterminated quoted field?)");
  CHECK(o.errors[2] == path + ":7: line longer than 64 bytes");
  REQUIRE(o.products.size() == 3);
  CHECK(o.products[0].line == 3);
  CHECK(o.products[1].line == 5);
  CHECK(o.products[2].line == 6);
}

TEST_CASE("csv: header problems fail the open") {
  testing::TempDir dir;
  Status no_category = OpenError(dir.Write("a.csv", "id,title\n1,t\n"));
  CHECK(no_category.kind() == StatusKind::kBadData);
  CHECK(no_category.message() == dir.File("a.csv") + ":1: header has no \"category\" column");
  Status attrs = OpenError(dir.Write("b.csv", "id,category,attrs\n1,c,{}\n"));
  CHECK_THAT(attrs.message(), Catch::Contains("\"attrs.<key>\" columns"));
  Status twice = OpenError(dir.Write("c.csv", "id,category,title,title\n"));
  CHECK(twice.message() == dir.File("c.csv") + ":1: header column 4 (\"title\") repeats column 3");
}

TEST_CASE("csv: an empty file or a header alone is an empty catalog and a BOM is ignored") {
  testing::TempDir dir;
  CHECK(ReadAll(dir.Write("a.csv", "")).products.empty());
  CHECK(ReadAll(dir.Write("b.csv", "id,category\n")).products.empty());
  Outcome o = ReadAll(dir.Write("c.csv", "\xEF\xBB\xBFid,category\n1,c\n"));
  REQUIRE(o.products.size() == 1);
  CHECK(o.products[0].id == "1");
}

TEST_CASE("tsv: tab-separated, quotes are data, tags split on '|'") {
  testing::TempDir dir;
  std::string path = dir.Write("feed.tsv",
                               "id\tcategory\ttitle\ttags\tprice\r\n"
                               "A\tc\t\"quoted\", with comma\tx|y\t5\r\n"
                               "B\tc\tshort\n"
                               "C\tc\t\t\t\n");
  Outcome o = ReadAll(path);
  REQUIRE(o.products.size() == 2);
  CHECK(Values(o.products[0], "title") == Strings{"\"quoted\", with comma"});
  CHECK(Values(o.products[0], "tags") == Strings{"x", "y"});
  CHECK(Values(o.products[0], "price") == Strings{"5"});
  CHECK(o.products[1].id == "C");
  CHECK(o.products[1].line == 4);
  REQUIRE(o.errors.size() == 1);
  CHECK(o.errors[0] == path + ":3: expected 5 columns, found 3");
}

TEST_CASE("csv: a schema can rename sources (sku -> id)") {
  testing::TempDir dir;
  Result<Schema> schema = Schema::FromJson(nlohmann::json::parse(
      R"({"fields": [{"name": "id", "source": "sku", "role": "id"},
                     {"name": "category", "role": "category"},
                     {"name": "labels", "source": "kw", "role": "keyword", "multi": true},
                     {"name": "brand", "role": "keyword"},
                     {"name": "specs", "role": "attrs"}]})"));
  REQUIRE(schema.ok());
  Outcome o =
      ReadAll(dir.Write("c.csv", "sku,category,kw,brand,specs.w\nS1,c,a|b,X|Y,3\n"), *schema);
  REQUIRE(o.errors.empty());
  REQUIRE(o.products.size() == 1);
  CHECK(o.products[0].id == "S1");
  CHECK(o.products[0].fields[2] == Strings{"a", "b"});
  CHECK(o.products[0].fields[3] == Strings{"X|Y"});  // not multi: kept whole
  CHECK(o.products[0].fields[4] == Strings{"w\x1f"
                                           "3"});
}

TEST_CASE("csv: many multi-line records across read blocks keep their line numbers") {
  testing::TempDir dir;
  std::string text = "id,category,description\n";
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    text += std::to_string(i) + ",c,\"line one of " + std::to_string(i) +
            "\nline two, \"\"quoted\"\"\"\n";
  }
  Outcome o = ReadAll(dir.Write("c.csv", text));
  REQUIRE(o.errors.empty());
  REQUIRE(o.products.size() == static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    REQUIRE(o.products[static_cast<size_t>(i)].line == static_cast<uint64_t>(2 + 2 * i));
  }
  CHECK(Values(o.products[7], "description") == Strings{"line one of 7\nline two, \"quoted\""});
}

TEST_CASE("utf8: the validator accepts UTF-8 and finds the first invalid sequence") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("plain ascii text that is longer than eight bytes"));
  CHECK(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe5\x8d\x8e\xe4\xb8\xba"));
  CHECK(IsValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  CHECK(FindInvalidUtf8("abcdefghij\xff") == 10);
  CHECK(FindInvalidUtf8("\x80") == 0);              // lone continuation
  CHECK(FindInvalidUtf8("ab\xc0\xaf") == 2);        // overlong '/'
  CHECK(FindInvalidUtf8("\xe0\x80\xaf") == 0);      // overlong, 3 bytes
  CHECK(FindInvalidUtf8("\xed\xa0\x80") == 0);      // surrogate U+D800
  CHECK(FindInvalidUtf8("\xf4\x90\x80\x80") == 0);  // beyond U+10FFFF
  CHECK(FindInvalidUtf8("x\xe2\x82") == 1);         // truncated
  CHECK(FindInvalidUtf8("x\xe2\x28\xa1") == 1);     // bad continuation
}

}  // namespace
}  // namespace pidx::catalog

namespace pidx::catalog {

TEST_CASE("csv/tsv: NUL bytes, a stray quote, a non-finite price and blank ids are bad records") {
  testing::TempDir dir;
  const std::string f = dir.Write("b.csv", std::string("id,category,title,price\n"
                                                       "1,c,t\"x,1\n"  // 2
                                                       "2,c,nul") +
                                               '\0' +
                                               "here,1\n"             // 3
                                               "3,c,t,1e400\n"        // 4
                                               "   ,c,t,1\n"          // 5
                                               "5,\" \t \",t,1\n"     // 6
                                               "6,c,fine,-1e300\n");  // 7
  Outcome o = ReadAll(f);
  REQUIRE(o.products.size() == 1);
  CHECK(o.products[0].id == "6");
  REQUIRE(o.errors.size() == 5);
  CHECK(o.errors[0].rfind(f + ":2: column 3: a quote inside an unquoted field", 0) == 0);
  CHECK(o.errors[1] == f + ":3: column 3 (\"title\"): NUL byte");
  CHECK(o.errors[2] == f + ":4: column 4 (\"price\"): not a finite number");
  CHECK(o.errors[3] == f + ":5: column 1 (\"id\"): only whitespace");
  CHECK(o.errors[4] == f + ":6: column 2 (\"category\"): only whitespace");

  const std::string t = dir.Write("b.tsv",
                                  "id\tcategory\ttitle\n"
                                  "1\t \tx\n"
                                  "2\tc\t27\" tv\n");
  Outcome ot = ReadAll(t);
  REQUIRE(ot.products.size() == 1);  // quotes are data in TSV
  REQUIRE(ot.errors.size() == 1);
  CHECK(ot.errors[0] == t + ":2: column 2 (\"category\"): only whitespace");
}

}  // namespace pidx::catalog
