// Package pidx reads pidx indexes from Go through libpidx's C API (pidx/pidx.h): the same
// parser, analyzer and evaluation as `pidx query`, with atomic version switching.
//
// A Reader is safe for concurrent use by many goroutines. Search, Count, Lookup and Info each
// run on one version from start to end; Refresh switches to the version CURRENT names, and a
// version that fails its checks is not served (the old one stays, and the error says why).
//
// Build: the package links libpidx through pkg-config ("pidx"): with the library installed,
// nothing is needed; for a build tree, put its pkgconfig-uninstalled directory on
// PKG_CONFIG_PATH (docs/READER.md).
package pidx

// #cgo pkg-config: pidx
// #include <stdlib.h>
// #include <pidx/pidx.h>
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Code says what kind of failure an Error is; the values are the C API's PIDX_ERR_*.
type Code int

const (
	CodeQuerySyntax     Code = C.PIDX_ERR_QUERY_SYNTAX
	CodeNotFound        Code = C.PIDX_ERR_NOT_FOUND
	CodeCorrupt         Code = C.PIDX_ERR_CORRUPT
	CodeIO              Code = C.PIDX_ERR_IO
	CodeConfig          Code = C.PIDX_ERR_CONFIG
	CodeInvalidArgument Code = C.PIDX_ERR_INVALID_ARGUMENT
	CodeInternal        Code = C.PIDX_ERR_INTERNAL
	// CodeClosed is the Go package's own: a call on a closed Reader.
	CodeClosed Code = 100
)

// String gives the C API's name ("query_syntax", "not_found", ...).
func (c Code) String() string {
	if c == CodeClosed {
		return "closed"
	}
	return C.GoString(C.pidx_code_name(C.pidx_code(c)))
}

// Error is every error this package returns. Match kinds with errors.Is against the
// sentinels (ErrNotFound, ErrCorrupt, ...) or errors.As to read Code, Message and Column.
type Error struct {
	Code    Code
	Message string
	Column  int // of a CodeQuerySyntax error, counting characters from 1; else 0
	Op      string
}

func (e *Error) Error() string { return "pidx: " + e.Op + ": " + e.Message }

// Is reports whether target is an *Error of the same Code (the sentinels have only a Code).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrQuerySyntax     = &Error{Code: CodeQuerySyntax, Message: "query syntax error"}
	ErrNotFound        = &Error{Code: CodeNotFound, Message: "not found"}
	ErrCorrupt         = &Error{Code: CodeCorrupt, Message: "corrupt"}
	ErrIO              = &Error{Code: CodeIO, Message: "I/O error"}
	ErrConfig          = &Error{Code: CodeConfig, Message: "unsupported configuration"}
	ErrInvalidArgument = &Error{Code: CodeInvalidArgument, Message: "invalid argument"}
	ErrInternal        = &Error{Code: CodeInternal, Message: "internal error"}
	ErrClosed          = &Error{Code: CodeClosed, Message: "reader is closed"}
)

// takeError converts and frees a C error (nil when code is PIDX_OK).
func takeError(op string, code C.pidx_code, cerr *C.pidx_error) error {
	if code == C.PIDX_OK {
		return nil
	}
	e := &Error{Code: Code(code), Op: op}
	if cerr != nil {
		e.Message = C.GoString(C.pidx_error_message(cerr))
		e.Column = int(C.pidx_error_column(cerr))
		C.pidx_error_free(cerr)
	} else {
		e.Message = Code(code).String()
	}
	return e
}

// Hit is one matching product: its external id and stored fields.
type Hit struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Shard string `json:"shard"`
}

// Result is a Search's answer, all from one version.
type Result struct {
	Version        uint64 `json:"version"`
	Total          uint64 `json:"total"`
	Hits           []Hit  `json:"hits"`
	ShardsSearched uint64 `json:"shards_searched"`
	ShardsTotal    uint64 `json:"shards_total"`
}

// Info is the served version's manifest facts.
type Info struct {
	Version     uint64            `json:"version"`
	Name        string            `json:"name"`
	Parent      uint64            `json:"parent"`
	Created     string            `json:"created"`
	Operation   string            `json:"operation"`
	ToolVersion string            `json:"tool_version"`
	Shards      uint64            `json:"shards"`
	Docs        uint64            `json:"docs"`
	Terms       uint64            `json:"terms"`
	Postings    uint64            `json:"postings"`
	Bytes       uint64            `json:"bytes"`
	Categories  map[string]uint64 `json:"categories"`
}

// Reader serves one index. Close it when done; a Reader that is garbage collected unclosed
// is closed then.
type Reader struct {
	mu sync.RWMutex // read: any call in flight; write: Close
	r  *C.pidx_reader
}

// Open opens the index at dir and serves the version CURRENT names.
func Open(dir string) (*Reader, error) { return open(dir, 0) }

// OpenVersion serves one version; Refresh never switches it.
func OpenVersion(dir string, version uint64) (*Reader, error) {
	if version == 0 {
		return nil, &Error{Code: CodeInvalidArgument, Op: "open", Message: "version 0 is not a version"}
	}
	return open(dir, version)
}

func open(dir string, version uint64) (*Reader, error) {
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	var r *C.pidx_reader
	var cerr *C.pidx_error
	var code C.pidx_code
	if version == 0 {
		code = C.pidx_reader_open(cdir, &r, &cerr)
	} else {
		code = C.pidx_reader_open_version(cdir, C.uint64_t(version), &r, &cerr)
	}
	if err := takeError("open "+dir, code, cerr); err != nil {
		return nil, err
	}
	reader := &Reader{r: r}
	runtime.SetFinalizer(reader, (*Reader).Close)
	return reader, nil
}

// Close releases the reader; it waits for calls in flight. Later calls return ErrClosed.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.r != nil {
		C.pidx_reader_close(r.r)
		r.r = nil
		runtime.SetFinalizer(r, nil)
	}
	return nil
}

func (r *Reader) acquire(op string) (*C.pidx_reader, error) {
	r.mu.RLock()
	if r.r == nil {
		r.mu.RUnlock()
		return nil, &Error{Code: CodeClosed, Op: op, Message: "reader is closed"}
	}
	return r.r, nil
}

// cstr copies a Go string to C memory (it may hold NUL bytes: its length is passed too);
// the caller frees the pointer.
func cstr(s string) (*C.char, C.size_t) {
	return C.CString(s), C.size_t(len(s))
}

// Search returns the total and the first limit products by external id (docs/QUERY.md).
// limit 0 counts only.
func (r *Reader) Search(query string, limit int) (*Result, error) {
	if limit < 0 {
		return nil, &Error{Code: CodeInvalidArgument, Op: "search", Message: fmt.Sprintf("limit %d is negative", limit)}
	}
	cr, err := r.acquire("search")
	if err != nil {
		return nil, err
	}
	defer r.mu.RUnlock()
	q, n := cstr(query)
	var res *C.pidx_result
	var cerr *C.pidx_error
	code := C.pidx_reader_search(cr, q, n, C.size_t(limit), &res, &cerr)
	C.free(unsafe.Pointer(q))
	if err := takeError("search", code, cerr); err != nil {
		return nil, err
	}
	defer C.pidx_result_free(res)
	out := &Result{
		Version:        uint64(C.pidx_result_version(res)),
		Total:          uint64(C.pidx_result_total(res)),
		ShardsSearched: uint64(C.pidx_result_shards_searched(res)),
		ShardsTotal:    uint64(C.pidx_result_shards_total(res)),
	}
	count := int(C.pidx_result_hit_count(res))
	out.Hits = make([]Hit, count)
	for i := 0; i < count; i++ {
		var l C.size_t
		id := C.pidx_result_hit_id(res, C.size_t(i), &l)
		out.Hits[i].ID = C.GoStringN(id, C.int(l))
		t := C.pidx_result_hit_title(res, C.size_t(i), &l)
		out.Hits[i].Title = C.GoStringN(t, C.int(l))
		s := C.pidx_result_hit_shard(res, C.size_t(i), &l)
		out.Hits[i].Shard = C.GoStringN(s, C.int(l))
	}
	return out, nil
}

// Count returns the number of matching products.
func (r *Reader) Count(query string) (uint64, error) {
	cr, err := r.acquire("count")
	if err != nil {
		return 0, err
	}
	defer r.mu.RUnlock()
	q, n := cstr(query)
	var total C.uint64_t
	var cerr *C.pidx_error
	code := C.pidx_reader_count(cr, q, n, &total, &cerr)
	C.free(unsafe.Pointer(q))
	if err := takeError("count", code, cerr); err != nil {
		return 0, err
	}
	return uint64(total), nil
}

// Lookup returns the stored fields of the product with external id id; ok is false when the
// served version has no such product.
func (r *Reader) Lookup(id string) (hit Hit, ok bool, err error) {
	cr, err := r.acquire("lookup")
	if err != nil {
		return Hit{}, false, err
	}
	defer r.mu.RUnlock()
	p, n := cstr(id)
	var prod *C.pidx_product
	var cerr *C.pidx_error
	code := C.pidx_reader_lookup(cr, p, n, &prod, &cerr)
	C.free(unsafe.Pointer(p))
	if err := takeError("lookup", code, cerr); err != nil {
		return Hit{}, false, err
	}
	if prod == nil {
		return Hit{}, false, nil
	}
	defer C.pidx_product_free(prod)
	var l C.size_t
	s := C.pidx_product_id(prod, &l)
	hit.ID = C.GoStringN(s, C.int(l))
	s = C.pidx_product_title(prod, &l)
	hit.Title = C.GoStringN(s, C.int(l))
	s = C.pidx_product_shard(prod, &l)
	hit.Shard = C.GoStringN(s, C.int(l))
	return hit, true, nil
}

// Refresh switches to the version CURRENT names when it is another one, after opening and
// checking it; switched says whether it did. On error the served version stays.
func (r *Reader) Refresh() (switched bool, err error) {
	cr, err := r.acquire("refresh")
	if err != nil {
		return false, err
	}
	defer r.mu.RUnlock()
	var sw C.int
	var cerr *C.pidx_error
	code := C.pidx_reader_refresh(cr, &sw, &cerr)
	if err := takeError("refresh", code, cerr); err != nil {
		return false, err
	}
	return sw != 0, nil
}

// LastRefreshError is the error of the last failed Refresh, nil once one succeeds.
func (r *Reader) LastRefreshError() error {
	cr, err := r.acquire("last refresh error")
	if err != nil {
		return err
	}
	defer r.mu.RUnlock()
	var cerr *C.pidx_error
	code := C.pidx_reader_last_refresh_error(cr, &cerr)
	return takeError("refresh", code, cerr)
}

// Version is the served version's number.
func (r *Reader) Version() uint64 {
	cr, err := r.acquire("version")
	if err != nil {
		return 0
	}
	defer r.mu.RUnlock()
	return uint64(C.pidx_reader_version(cr))
}

// Info returns the served version's manifest facts.
func (r *Reader) Info() (*Info, error) {
	cr, err := r.acquire("info")
	if err != nil {
		return nil, err
	}
	defer r.mu.RUnlock()
	var ci *C.pidx_info
	var cerr *C.pidx_error
	code := C.pidx_reader_info(cr, &ci, &cerr)
	if err := takeError("info", code, cerr); err != nil {
		return nil, err
	}
	defer C.pidx_info_free(ci)
	info := &Info{
		Version:     uint64(C.pidx_info_version(ci)),
		Name:        C.GoString(C.pidx_info_name(ci)),
		Parent:      uint64(C.pidx_info_parent(ci)),
		Created:     C.GoString(C.pidx_info_created(ci)),
		Operation:   C.GoString(C.pidx_info_operation(ci)),
		ToolVersion: C.GoString(C.pidx_info_tool_version(ci)),
		Shards:      uint64(C.pidx_info_shards(ci)),
		Docs:        uint64(C.pidx_info_docs(ci)),
		Terms:       uint64(C.pidx_info_terms(ci)),
		Postings:    uint64(C.pidx_info_postings(ci)),
		Bytes:       uint64(C.pidx_info_bytes(ci)),
		Categories:  map[string]uint64{},
	}
	n := int(C.pidx_info_category_count(ci))
	for i := 0; i < n; i++ {
		info.Categories[C.GoString(C.pidx_info_category_name(ci, C.size_t(i)))] =
			uint64(C.pidx_info_category_docs(ci, C.size_t(i)))
	}
	return info, nil
}

// LibraryVersion is libpidx's version ("0.1.0").
func LibraryVersion() string { return C.GoString(C.pidx_library_version()) }
