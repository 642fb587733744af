/* pidx's C API (installed as <pidx/pidx.h>, in libpidx.so.0; docs/READER.md).
 *
 * The bridge for every language that is not C++: opaque handles, integer error codes and
 * messages, no C++ type across it. It wraps the C++ reader (<pidx/reader.h>) one to one, so
 * Search and Count have exactly the semantics of `pidx query`.
 *
 * Conventions:
 * - Every fallible function returns a pidx_code: PIDX_OK (0) or an error. When `err` is not
 *   NULL, an error also sets *err to a new pidx_error (code, message), freed with
 *   pidx_error_free; on success *err is left untouched.
 * - Strings in: pointer and length (need not be NUL-terminated; invalid UTF-8 is replaced as
 *   the analyzer does). Strings out: owned by the object they come from, NUL-terminated, with
 *   their length, valid until that object is freed.
 * - Threads: a pidx_reader may be used from any number of threads at once (search, count,
 *   lookup, info, refresh), except pidx_reader_close, which REQUIRES that no other call on
 *   that reader is in flight or follows. Result, product, info and error objects belong to
 *   the caller and are not shared.
 */
#ifndef PIDX_PIDX_H_
#define PIDX_PIDX_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version: the SONAME's number (libpidx.so.0). Bumped when a signature or a struct
 * changes incompatibly; functions are only added within one ABI version. */
#define PIDX_ABI_VERSION 0

typedef enum pidx_code {
  PIDX_OK = 0,
  PIDX_ERR_QUERY_SYNTAX = 1,     /* the query does not parse; pidx_error_column says where */
  PIDX_ERR_NOT_FOUND = 2,        /* no index, no published version, no such version */
  PIDX_ERR_CORRUPT = 3,          /* a file of the index failed its checks */
  PIDX_ERR_IO = 4,               /* a read failed */
  PIDX_ERR_CONFIG = 5,           /* the version's schema or analyzer is not supported */
  PIDX_ERR_INVALID_ARGUMENT = 6, /* NULL where an object is needed, a limit too large */
  PIDX_ERR_INTERNAL = 7          /* a bug, or out of memory */
} pidx_code;

typedef struct pidx_error pidx_error;
typedef struct pidx_reader pidx_reader;
typedef struct pidx_result pidx_result;
typedef struct pidx_product pidx_product;
typedef struct pidx_info pidx_info;

/* The library's version, "0.1.0", and its ABI version (PIDX_ABI_VERSION when it built). */
const char* pidx_library_version(void);
int pidx_abi_version(void);
/* "ok", "query_syntax", "not_found", "corrupt", "io_error", "config", "invalid_argument",
 * "internal"; "unknown" for any other value. */
const char* pidx_code_name(pidx_code code);

pidx_code pidx_error_code(const pidx_error* err);
const char* pidx_error_message(const pidx_error* err); /* "" for NULL */
size_t pidx_error_column(const pidx_error* err);       /* of a query syntax error; else 0 */
void pidx_error_free(pidx_error* err);                 /* NULL is fine */

/* Opens the index at `index_dir` (NUL-terminated) and the version CURRENT names (version 0)
 * or the given version (a pinned reader: refresh never switches). Every segment is opened and
 * checked first. */
pidx_code pidx_reader_open(const char* index_dir, pidx_reader** out, pidx_error** err);
pidx_code pidx_reader_open_version(const char* index_dir, uint64_t version, pidx_reader** out,
                                   pidx_error** err);
void pidx_reader_close(pidx_reader* reader); /* NULL is fine */

/* The total and the first `limit` hits by external id (limit 0: count only, at most
 * 1,000,000,000). */
pidx_code pidx_reader_search(const pidx_reader* reader, const char* query, size_t query_len,
                             size_t limit, pidx_result** out, pidx_error** err);
pidx_code pidx_reader_count(const pidx_reader* reader, const char* query, size_t query_len,
                            uint64_t* total, pidx_error** err);

uint64_t pidx_result_version(const pidx_result* r);
uint64_t pidx_result_total(const pidx_result* r);
uint64_t pidx_result_shards_searched(const pidx_result* r);
uint64_t pidx_result_shards_total(const pidx_result* r);
size_t pidx_result_hit_count(const pidx_result* r);
/* REQUIRES: i < pidx_result_hit_count(r). `len` may be NULL. */
const char* pidx_result_hit_id(const pidx_result* r, size_t i, size_t* len);
const char* pidx_result_hit_title(const pidx_result* r, size_t i, size_t* len);
const char* pidx_result_hit_shard(const pidx_result* r, size_t i, size_t* len);
void pidx_result_free(pidx_result* r);

/* The stored fields of the product with external id `id`. *out is NULL (and PIDX_OK
 * returned) when the served version has no such product. */
pidx_code pidx_reader_lookup(const pidx_reader* reader, const char* id, size_t id_len,
                             pidx_product** out, pidx_error** err);
const char* pidx_product_id(const pidx_product* p, size_t* len);
const char* pidx_product_title(const pidx_product* p, size_t* len);
const char* pidx_product_shard(const pidx_product* p, size_t* len);
void pidx_product_free(pidx_product* p);

/* Reads CURRENT; when it names another version, opens and checks it and swaps it in
 * atomically (calls in flight finish on the old one). On error the served version stays.
 * *switched (may be NULL) is 1 when a new version is now served, else 0. */
pidx_code pidx_reader_refresh(pidx_reader* reader, int* switched, pidx_error** err);
/* The error of the last failed refresh, until a refresh succeeds: PIDX_OK and *err untouched
 * when there is none. */
pidx_code pidx_reader_last_refresh_error(const pidx_reader* reader, pidx_error** err);
uint64_t pidx_reader_version(const pidx_reader* reader); /* the served version */

/* The served version's manifest facts, as a snapshot object. */
pidx_code pidx_reader_info(const pidx_reader* reader, pidx_info** out, pidx_error** err);
uint64_t pidx_info_version(const pidx_info* info);
uint64_t pidx_info_parent(const pidx_info* info);
const char* pidx_info_name(const pidx_info* info);      /* "v000042" */
const char* pidx_info_created(const pidx_info* info);   /* RFC 3339 UTC */
const char* pidx_info_operation(const pidx_info* info); /* "build", "rebuild-shard", ... */
const char* pidx_info_tool_version(const pidx_info* info);
uint64_t pidx_info_shards(const pidx_info* info);
uint64_t pidx_info_docs(const pidx_info* info);
uint64_t pidx_info_terms(const pidx_info* info);
uint64_t pidx_info_postings(const pidx_info* info);
uint64_t pidx_info_bytes(const pidx_info* info);
size_t pidx_info_category_count(const pidx_info* info);
/* REQUIRES: i < pidx_info_category_count(info). Categories in byte order. */
const char* pidx_info_category_name(const pidx_info* info, size_t i);
uint64_t pidx_info_category_docs(const pidx_info* info, size_t i);
void pidx_info_free(pidx_info* info);

#ifdef __cplusplus
}
#endif

#endif /* PIDX_PIDX_H_ */
