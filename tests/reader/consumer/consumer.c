/* A C program that uses libpidx through an installed tree (install_test.sh builds it with
 * `pkg-config --cflags --libs pidx`): prints "<version> <count>" for a query. */
#include <pidx/pidx.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: consumer INDEX QUERY\n");
    return 2;
  }
  pidx_reader* r = NULL;
  pidx_error* err = NULL;
  if (pidx_reader_open(argv[1], &r, &err) != PIDX_OK) {
    fprintf(stderr, "open: %s\n", pidx_error_message(err));
    pidx_error_free(err);
    return 1;
  }
  uint64_t total = 0;
  if (pidx_reader_count(r, argv[2], strlen(argv[2]), &total, &err) != PIDX_OK) {
    fprintf(stderr, "count: %s\n", pidx_error_message(err));
    pidx_error_free(err);
    pidx_reader_close(r);
    return 1;
  }
  printf("v%llu %llu\n", (unsigned long long)pidx_reader_version(r), (unsigned long long)total);
  pidx_reader_close(r);
  return 0;
}
