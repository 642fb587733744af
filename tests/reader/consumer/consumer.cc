// A C++ program that uses libpidx through an installed tree (install_test.sh builds it with
// find_package(pidx)): prints "<version> <count>" for a query, then the first hit's title.
#include <pidx/reader.h>

#include <cstdio>
#include <memory>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: consumer INDEX QUERY\n");
    return 2;
  }
  std::unique_ptr<pidx::reader::Reader> r;
  pidx::reader::Error e = pidx::reader::Reader::Open(argv[1], &r);
  if (!e.ok()) {
    std::fprintf(stderr, "open: %s\n", e.message().c_str());
    return 1;
  }
  pidx::reader::SearchResult res;
  e = r->Search(argv[2], 1, &res);
  if (!e.ok()) {
    std::fprintf(stderr, "search: %s\n", e.message().c_str());
    return 1;
  }
  std::printf("v%llu %llu\n", static_cast<unsigned long long>(res.version),
              static_cast<unsigned long long>(res.total));
  return 0;
}
