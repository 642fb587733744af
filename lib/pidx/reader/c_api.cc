// The C API (pidx/pidx.h): each function wraps one call of the C++ reader (pidx/reader.h).
// No exception crosses into C: every entry point catches and reports PIDX_ERR_INTERNAL.
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "pidx/pidx.h"
#include "pidx/reader.h"

using pidx::reader::Error;
using pidx::reader::ErrorCode;

struct pidx_error {
  pidx_code code;
  std::string message;
  size_t column;
};

struct pidx_reader {
  std::unique_ptr<pidx::reader::Reader> reader;
};

struct pidx_result {
  pidx::reader::SearchResult r;
};

struct pidx_product {
  pidx::reader::Hit hit;
};

struct pidx_info {
  pidx::reader::VersionInfo info;
  std::vector<std::pair<std::string, uint64_t>> categories;
};

namespace {

pidx_code Report(const Error& e, pidx_error** err) {
  const auto code = static_cast<pidx_code>(e.code());
  if (code != PIDX_OK && err != nullptr) {
    *err = new (std::nothrow) pidx_error{code, e.message(), e.column()};
  }
  return code;
}

pidx_code Invalid(const char* what, pidx_error** err) {
  return Report(Error(ErrorCode::kInvalidArgument, what), err);
}

// Runs `f` (returning pidx_code), turning any exception into PIDX_ERR_INTERNAL.
template <typename F>
pidx_code Guard(pidx_error** err, F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    if (err != nullptr) *err = nullptr;  // no memory for a message either
    return PIDX_ERR_INTERNAL;
  } catch (const std::exception& e) {
    return Report(Error(ErrorCode::kInternal, std::string("internal error: ") + e.what()), err);
  } catch (...) {
    return Report(Error(ErrorCode::kInternal, "internal error"), err);
  }
}

const char* Out(const std::string& s, size_t* len) {
  if (len != nullptr) *len = s.size();
  return s.c_str();
}

std::string_view View(const char* p, size_t len) {
  return p == nullptr ? std::string_view() : std::string_view(p, len);
}

pidx_code OpenImpl(const char* dir, uint64_t version, pidx_reader** out, pidx_error** err) {
  if (dir == nullptr || out == nullptr) return Invalid("pidx_reader_open: NULL argument", err);
  *out = nullptr;
  return Guard(err, [&] {
    pidx::reader::OpenOptions options;
    options.version = version;
    auto handle = std::make_unique<pidx_reader>();
    const pidx_code code = Report(pidx::reader::Reader::Open(dir, options, &handle->reader), err);
    if (code == PIDX_OK) *out = handle.release();
    return code;
  });
}

}  // namespace

extern "C" {

const char* pidx_library_version(void) { return pidx::reader::LibraryVersion(); }
int pidx_abi_version(void) { return PIDX_ABI_VERSION; }

const char* pidx_code_name(pidx_code code) {
  if (code < PIDX_OK || code > PIDX_ERR_INTERNAL) return "unknown";
  return pidx::reader::ErrorCodeName(static_cast<ErrorCode>(code));
}

pidx_code pidx_error_code(const pidx_error* err) { return err == nullptr ? PIDX_OK : err->code; }
const char* pidx_error_message(const pidx_error* err) {
  return err == nullptr ? "" : err->message.c_str();
}
size_t pidx_error_column(const pidx_error* err) { return err == nullptr ? 0 : err->column; }
void pidx_error_free(pidx_error* err) { delete err; }

pidx_code pidx_reader_open(const char* index_dir, pidx_reader** out, pidx_error** err) {
  return OpenImpl(index_dir, 0, out, err);
}
pidx_code pidx_reader_open_version(const char* index_dir, uint64_t version, pidx_reader** out,
                                   pidx_error** err) {
  if (version == 0) return Invalid("pidx_reader_open_version: version 0 is not a version", err);
  return OpenImpl(index_dir, version, out, err);
}
void pidx_reader_close(pidx_reader* reader) { delete reader; }

pidx_code pidx_reader_search(const pidx_reader* reader, const char* query, size_t query_len,
                             size_t limit, pidx_result** out, pidx_error** err) {
  if (reader == nullptr || out == nullptr || (query == nullptr && query_len > 0)) {
    return Invalid("pidx_reader_search: NULL argument", err);
  }
  *out = nullptr;
  return Guard(err, [&] {
    auto result = std::make_unique<pidx_result>();
    const pidx_code code =
        Report(reader->reader->Search(View(query, query_len), limit, &result->r), err);
    if (code == PIDX_OK) *out = result.release();
    return code;
  });
}

pidx_code pidx_reader_count(const pidx_reader* reader, const char* query, size_t query_len,
                            uint64_t* total, pidx_error** err) {
  if (reader == nullptr || total == nullptr || (query == nullptr && query_len > 0)) {
    return Invalid("pidx_reader_count: NULL argument", err);
  }
  return Guard(err,
               [&] { return Report(reader->reader->Count(View(query, query_len), total), err); });
}

uint64_t pidx_result_version(const pidx_result* r) { return r->r.version; }
uint64_t pidx_result_total(const pidx_result* r) { return r->r.total; }
uint64_t pidx_result_shards_searched(const pidx_result* r) { return r->r.shards_searched; }
uint64_t pidx_result_shards_total(const pidx_result* r) { return r->r.shards_total; }
size_t pidx_result_hit_count(const pidx_result* r) { return r->r.hits.size(); }
const char* pidx_result_hit_id(const pidx_result* r, size_t i, size_t* len) {
  return Out(r->r.hits[i].id, len);
}
const char* pidx_result_hit_title(const pidx_result* r, size_t i, size_t* len) {
  return Out(r->r.hits[i].title, len);
}
const char* pidx_result_hit_shard(const pidx_result* r, size_t i, size_t* len) {
  return Out(r->r.hits[i].shard, len);
}
void pidx_result_free(pidx_result* r) { delete r; }

pidx_code pidx_reader_lookup(const pidx_reader* reader, const char* id, size_t id_len,
                             pidx_product** out, pidx_error** err) {
  if (reader == nullptr || out == nullptr || (id == nullptr && id_len > 0)) {
    return Invalid("pidx_reader_lookup: NULL argument", err);
  }
  *out = nullptr;
  return Guard(err, [&] {
    auto product = std::make_unique<pidx_product>();
    bool found = false;
    const pidx_code code =
        Report(reader->reader->Lookup(View(id, id_len), &product->hit, &found), err);
    if (code == PIDX_OK && found) *out = product.release();
    return code;
  });
}
const char* pidx_product_id(const pidx_product* p, size_t* len) { return Out(p->hit.id, len); }
const char* pidx_product_title(const pidx_product* p, size_t* len) {
  return Out(p->hit.title, len);
}
const char* pidx_product_shard(const pidx_product* p, size_t* len) {
  return Out(p->hit.shard, len);
}
void pidx_product_free(pidx_product* p) { delete p; }

pidx_code pidx_reader_refresh(pidx_reader* reader, int* switched, pidx_error** err) {
  if (reader == nullptr) return Invalid("pidx_reader_refresh: NULL reader", err);
  if (switched != nullptr) *switched = 0;
  return Guard(err, [&] {
    pidx::reader::RefreshResult r;
    const pidx_code code = Report(reader->reader->Refresh(&r), err);
    if (switched != nullptr) *switched = r.switched ? 1 : 0;
    return code;
  });
}

pidx_code pidx_reader_last_refresh_error(const pidx_reader* reader, pidx_error** err) {
  if (reader == nullptr) return Invalid("pidx_reader_last_refresh_error: NULL reader", err);
  return Guard(err, [&] { return Report(reader->reader->LastRefreshError(), err); });
}

uint64_t pidx_reader_version(const pidx_reader* reader) {
  return reader == nullptr ? 0 : reader->reader->version();
}

pidx_code pidx_reader_info(const pidx_reader* reader, pidx_info** out, pidx_error** err) {
  if (reader == nullptr || out == nullptr) return Invalid("pidx_reader_info: NULL argument", err);
  *out = nullptr;
  return Guard(err, [&] {
    auto info = std::make_unique<pidx_info>();
    info->info = reader->reader->Info();
    for (const auto& [name, docs] : info->info.categories)
      info->categories.emplace_back(name, docs);
    *out = info.release();
    return PIDX_OK;
  });
}
uint64_t pidx_info_version(const pidx_info* i) { return i->info.version; }
uint64_t pidx_info_parent(const pidx_info* i) { return i->info.parent; }
const char* pidx_info_name(const pidx_info* i) { return i->info.name.c_str(); }
const char* pidx_info_created(const pidx_info* i) { return i->info.created.c_str(); }
const char* pidx_info_operation(const pidx_info* i) { return i->info.operation.c_str(); }
const char* pidx_info_tool_version(const pidx_info* i) { return i->info.tool_version.c_str(); }
uint64_t pidx_info_shards(const pidx_info* i) { return i->info.shards; }
uint64_t pidx_info_docs(const pidx_info* i) { return i->info.docs; }
uint64_t pidx_info_terms(const pidx_info* i) { return i->info.terms; }
uint64_t pidx_info_postings(const pidx_info* i) { return i->info.postings; }
uint64_t pidx_info_bytes(const pidx_info* i) { return i->info.bytes; }
size_t pidx_info_category_count(const pidx_info* i) { return i->categories.size(); }
const char* pidx_info_category_name(const pidx_info* i, size_t n) {
  return i->categories[n].first.c_str();
}
uint64_t pidx_info_category_docs(const pidx_info* i, size_t n) { return i->categories[n].second; }
void pidx_info_free(pidx_info* i) { delete i; }

}  // extern "C"
