#include "pidx/catalog/input_stream.h"

#include "pidx/base/checksum.h"

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <catch2/catch.hpp>

#include <string>
#include <thread>

#include "pidx/catalog/catalog_reader.h"
#include "support/temp_dir.h"

namespace pidx::catalog {
namespace {

std::string Gzip(std::string_view data) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Zstd(std::string_view data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// Some text that compresses but is not trivially repetitive, bigger than one read block.
std::string SampleText(size_t lines) {
  std::string text;
  for (size_t i = 0; i < lines; ++i) {
    text += "{\"id\":" + std::to_string(i) + ",\"category\":\"c" + std::to_string(i * 7919 % 13) +
            "\"}\n";
  }
  return text;
}

Result<std::string> ReadStream(InputStream& in, size_t chunk = 100000) {
  std::string out, buf(chunk, '\0');
  for (;;) {
    PIDX_ASSIGN_OR_RETURN(size_t n, in.Read(buf.data(), buf.size()));
    if (n == 0) return out;
    out.append(buf.data(), n);
  }
}

Result<std::string> ReadPath(const std::string& path) {
  PIDX_ASSIGN_OR_RETURN(std::unique_ptr<InputStream> in, InputStream::Open(path));
  return ReadStream(*in);
}

TEST_CASE("input_stream: a plain file is read whole and reports its size and progress") {
  testing::TempDir dir;
  const std::string text = SampleText(50000);
  std::string path = dir.Write("c.jsonl", text);
  auto in = InputStream::Open(path);
  REQUIRE(in.ok());
  CHECK((*in)->compression() == Compression::kNone);
  CHECK((*in)->total_bytes() == text.size());
  CHECK((*in)->display_name() == path);
  Result<std::string> got = ReadStream(**in, 7777);
  REQUIRE(got.ok());
  CHECK(got.value() == text);
  CHECK((*in)->bytes_consumed() == text.size());
}

TEST_CASE("input_stream: a missing file is kNotFound and a directory kIoError, both named") {
  testing::TempDir dir;
  auto missing = InputStream::Open(dir.File("nope.jsonl.gz"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().kind() == StatusKind::kNotFound);
  CHECK_THAT(missing.status().message(), Catch::StartsWith(dir.File("nope.jsonl.gz") + ": "));
  auto directory = InputStream::Open(dir.path());
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.status().kind() == StatusKind::kIoError);
  CHECK_THAT(directory.status().message(), Catch::StartsWith(dir.path() + ": "));
}

TEST_CASE("input_stream: .gz and .zst round trip, including concatenated members and frames") {
  testing::TempDir dir;
  const std::string a = SampleText(40000), b = SampleText(3);
  std::string gz = dir.Write("c.jsonl.gz", Gzip(a) + Gzip(b));
  std::string zst = dir.Write("c.jsonl.zst", Zstd(a) + Zstd(b));
  auto gz_in = InputStream::Open(gz);
  REQUIRE(gz_in.ok());
  CHECK((*gz_in)->compression() == Compression::kGzip);
  Result<std::string> got = ReadStream(**gz_in);
  REQUIRE(got.ok());
  CHECK(got.value() == a + b);
  CHECK((*gz_in)->bytes_consumed() == (*gz_in)->total_bytes());
  CHECK((*gz_in)->total_bytes() < a.size());

  Result<std::string> got_zst = ReadPath(zst);
  REQUIRE(got_zst.ok());
  CHECK(got_zst.value() == a + b);
}

TEST_CASE("input_stream: compression is told by magic bytes even without the extension") {
  testing::TempDir dir;
  const std::string text = SampleText(10);
  Result<std::string> gz = ReadPath(dir.Write("c.jsonl", Gzip(text)));
  REQUIRE(gz.ok());
  CHECK(gz.value() == text);
  Result<std::string> zst = ReadPath(dir.Write("d.jsonl", Zstd(text)));
  REQUIRE(zst.ok());
  CHECK(zst.value() == text);
}

TEST_CASE("input_stream: truncated or corrupt .gz/.zst data is bad data naming the file") {
  testing::TempDir dir;
  const std::string text = SampleText(20000);
  const std::string gz = Gzip(text), zst = Zstd(text);
  struct Case {
    std::string name, bytes, reason;
  };
  std::string corrupt_gz = gz;
  corrupt_gz[gz.size() / 2] = static_cast<char>(corrupt_gz[gz.size() / 2] ^ 0x55);
  std::string corrupt_zst = zst;
  corrupt_zst[4] = static_cast<char>(corrupt_zst[4] | 0x08);  // a reserved frame header bit
  const Case cases[] = {
      {"t.jsonl.gz", gz.substr(0, gz.size() / 2), "truncated gzip data"},
      {"t.jsonl.zst", zst.substr(0, zst.size() / 2), "truncated zstd data"},
      {"c.jsonl.gz", corrupt_gz, "corrupt gzip data"},
      {"c.jsonl.zst", corrupt_zst, "corrupt zstd data"},
      {"p.jsonl.gz", text, "not gzip data"},
      {"p.jsonl.zst", text, "not zstd data"},
      {"e.jsonl.gz", "", "not gzip data"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    std::string path = dir.Write(c.name, c.bytes);
    Result<std::string> got = ReadPath(path);
    REQUIRE_FALSE(got.ok());
    CHECK(got.status().kind() == StatusKind::kBadData);
    CHECK_THAT(got.status().message(), Catch::StartsWith(path + ": " + c.reason));
  }
}

TEST_CASE("input_stream: a pipe (as stdin) is read, compressed or not, with unknown size") {
  for (bool compress : {false, true}) {
    const std::string text = SampleText(30000);
    const std::string bytes = compress ? Zstd(text) : text;
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    // Written in small pieces so the magic arrives split across reads.
    std::thread writer([&] {
      for (size_t i = 0; i < bytes.size();) {
        size_t n = std::min<size_t>(i == 0 ? 1 : 4096, bytes.size() - i);
        ssize_t w = write(fds[1], bytes.data() + i, n);
        if (w <= 0) break;
        i += static_cast<size_t>(w);
      }
      close(fds[1]);
    });
    auto in = InputStream::FromFd(fds[0], /*owned=*/true, "<stdin>");
    REQUIRE(in.ok());
    CHECK((*in)->total_bytes() == 0);
    CHECK((*in)->display_name() == "<stdin>");
    Result<std::string> got = ReadStream(**in);
    writer.join();
    REQUIRE(got.ok());
    CHECK(got.value() == text);
  }
}

TEST_CASE("input_buffer: keeps unconsumed bytes across fills") {
  testing::TempDir dir;
  const std::string text = SampleText(100000);
  auto in = InputStream::Open(dir.Write("c.jsonl", text));
  REQUIRE(in.ok());
  InputBuffer buffer(std::move(in).value(), 1000);
  std::string seen;
  for (;;) {
    // Consume all but a tail, as a reader does with a partial record.
    size_t keep = std::min<size_t>(buffer.size(), 500);
    seen.append(buffer.data(), buffer.size() - keep);
    buffer.Consume(buffer.size() - keep);
    Result<bool> more = buffer.Fill();
    REQUIRE(more.ok());
    if (!more.value()) break;
  }
  seen.append(buffer.data(), buffer.size());
  CHECK(seen == text);
  CHECK(buffer.eof());
}

TEST_CASE("catalogs read through .gz and .zst: jsonl.gz and csv.zst give the same products") {
  testing::TempDir dir;
  std::string jsonl, csv = "id,category,title\n";
  for (int i = 0; i < 5000; ++i) {
    jsonl += "{\"id\":\"p" + std::to_string(i) + "\",\"category\":\"c\",\"title\":\"t" +
             std::to_string(i) + "\"}\n";
    csv += "p" + std::to_string(i) + ",c,t" + std::to_string(i) + "\n";
  }
  for (const std::string& path :
       {dir.Write("a.jsonl.gz", Gzip(jsonl)), dir.Write("b.csv.zst", Zstd(csv)),
        dir.Write("c.ndjson.GZ", Gzip(jsonl))}) {
    INFO(path);
    auto reader = CatalogReader::Open(path, Schema::Default(), {});
    REQUIRE(reader.ok());
    Product p;
    int n = 0;
    for (;;) {
      Result<bool> r = (*reader)->Next(&p);
      REQUIRE(r.ok());
      if (!r.value()) break;
      REQUIRE(p.id == "p" + std::to_string(n));
      REQUIRE(p.fields[2] == std::vector<std::string>{"t" + std::to_string(n)});
      ++n;
    }
    CHECK(n == 5000);
    CHECK((*reader)->bytes_consumed() == (*reader)->total_bytes());
  }
}

TEST_CASE("input_stream: a zstd stream that starts with a skippable frame is read") {
  testing::TempDir dir;
  const std::string text = SampleText(3000);
  // Magic 0x184D2A5? little-endian, then a 4-byte little-endian size, then that many bytes.
  std::string skippable("\x53\x2a\x4d\x18\x05\x00\x00\x00hello", 13);
  const std::string path = dir.Write("c.jsonl.zst", skippable + Zstd(text));
  auto in = InputStream::Open(path);
  REQUIRE(in.ok());
  CHECK((*in)->compression() == Compression::kZstd);
  Result<std::string> got = ReadStream(**in);
  REQUIRE(got.ok());
  CHECK(got.value() == text);
}

TEST_CASE("input_stream: the identity hash covers exactly the stored bytes read") {
  testing::TempDir dir;
  const std::string text = SampleText(20000);
  const std::string zst = Zstd(text);
  for (const auto& [name, bytes] :
       std::vector<std::pair<std::string, std::string>>{{"c.jsonl", text}, {"c.jsonl.zst", zst}}) {
    auto in = InputStream::Open(dir.Write(name, bytes));
    REQUIRE(in.ok());
    REQUIRE(ReadStream(**in).ok());
    CHECK((*in)->bytes_consumed() == bytes.size());
    CHECK((*in)->raw_xxh3() == Xxh3(bytes));
  }
}

}  // namespace
}  // namespace pidx::catalog
