// Package service is an example product-search service over package pidx, and the test bed
// of its version switching (service_test.go): HTTP endpoints answering JSON, and a watcher
// that refreshes the index while queries run.
//
//	GET  /search?q=QUERY&limit=N  {"version":42,"total":7,"hits":[{"id":..,"title":..,"shard":..}],...}
//	GET  /count?q=QUERY           {"version":42,"total":7}
//	GET  /product?id=ID           {"id":..,"title":..,"shard":..}, 404 when absent
//	GET  /health                  {"version":42,"last_refresh_error":null}
//	POST /refresh                 {"switched":true,"version":43}; 503 when the new version fails
//
// Errors answer {"error":MESSAGE,"code":"query_syntax","column":N}: 400 for a query syntax
// error or a bad parameter, 503 for a failed refresh, 500 otherwise.
package service

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"strconv"
	"time"

	"pidx/pidx"
)

// Service answers queries from one index.
type Service struct {
	reader *pidx.Reader
	Logf   func(format string, args ...any) // where refresh failures go (default log.Printf)
}

// New opens the index at dir.
func New(dir string) (*Service, error) {
	r, err := pidx.Open(dir)
	if err != nil {
		return nil, err
	}
	return &Service{reader: r, Logf: log.Printf}, nil
}

// Close closes the reader; requests still in flight finish first.
func (s *Service) Close() error { return s.reader.Close() }

// Reader is the service's reader.
func (s *Service) Reader() *pidx.Reader { return s.reader }

// Watch calls Refresh every interval until ctx ends. A failed refresh is logged and the
// served version stays; the next tick tries again.
func (s *Service) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.reader.Refresh(); err != nil && !errors.Is(err, pidx.ErrClosed) {
				s.Logf("index refresh failed, still serving v%d: %v", s.reader.Version(), err)
			}
		}
	}
}

type errorBody struct {
	Error  string `json:"error"`
	Code   string `json:"code"`
	Column int    `json:"column,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	body := errorBody{Error: err.Error(), Code: "internal"}
	var pe *pidx.Error
	if errors.As(err, &pe) {
		body.Code = pe.Code.String()
		body.Column = pe.Column
		if pe.Code == pidx.CodeQuerySyntax || pe.Code == pidx.CodeInvalidArgument {
			status = http.StatusBadRequest
		}
	}
	writeJSON(w, status, body)
}

// Handler serves the endpoints above.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/search", func(w http.ResponseWriter, r *http.Request) {
		limit := 10
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, &pidx.Error{Code: pidx.CodeInvalidArgument,
					Op: "search", Message: "limit must be a number >= 0, not " + strconv.Quote(v)})
				return
			}
			limit = n
		}
		res, err := s.reader.Search(r.URL.Query().Get("q"), limit)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		res, err := s.reader.Search(r.URL.Query().Get("q"), 0)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]uint64{"version": res.Version, "total": res.Total})
	})
	mux.HandleFunc("/product", func(w http.ResponseWriter, r *http.Request) {
		hit, ok, err := s.reader.Lookup(r.URL.Query().Get("id"))
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		if !ok {
			writeJSON(w, http.StatusNotFound, errorBody{Error: "no such product", Code: "not_found"})
			return
		}
		writeJSON(w, http.StatusOK, hit)
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		var last *string
		if err := s.reader.LastRefreshError(); err != nil {
			m := err.Error()
			last = &m
		}
		writeJSON(w, http.StatusOK, map[string]any{"version": s.reader.Version(), "last_refresh_error": last})
	})
	mux.HandleFunc("/refresh", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "POST only", Code: "invalid_argument"})
			return
		}
		switched, err := s.reader.Refresh()
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"switched": switched, "version": s.reader.Version()})
	})
	return mux
}
