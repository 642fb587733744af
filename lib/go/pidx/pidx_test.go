// Package pidx against the real binary: the same answers as `pidx query`, errors of the
// documented kinds, switching under concurrent searches (run with -race by ctest go:test).
package pidx

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func bins(t *testing.T) (string, string) {
	t.Helper()
	p, g := os.Getenv("PIDX_BIN"), os.Getenv("PIDX_GEN")
	if p == "" || g == "" {
		t.Fatal("PIDX_BIN and PIDX_GEN are not set: run through ctest (go:test)")
	}
	return p, g
}

func mustRun(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %v: %v\n%s", bin, args, err, msg)
	}
	return out
}

func newIndex(t *testing.T, products, seed string) (idx, catalog, pidxBin string) {
	t.Helper()
	pidxBin, gen := bins(t)
	dir := t.TempDir()
	catalog = filepath.Join(dir, "c.jsonl")
	idx = filepath.Join(dir, "idx")
	mustRun(t, gen, "--products", products, "--seed", seed, "--out", catalog)
	mustRun(t, pidxBin, "build", "-q", "--catalog", catalog, "--index", idx)
	return idx, catalog, pidxBin
}

type cliResult struct {
	Version string `json:"version"`
	Total   uint64 `json:"total"`
	Hits    []Hit  `json:"hits"`
}

func TestSearchAgreesWithPidxQuery(t *testing.T) {
	idx, _, pidxBin := newIndex(t, "1500", "5")
	r, err := Open(idx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, q := range []string{"wireless", "black OR white -leather", "category:Electronics set",
		"brand:\"Levi's\"", "-refurbished", "title:\"智能手机\"", "tags:\"free shipping\""} {
		var want cliResult
		if err := json.Unmarshal(mustRun(t, pidxBin, "query", "--index", idx, "--json", "--limit", "7", "--", q), &want); err != nil {
			t.Fatal(err)
		}
		got, err := r.Search(q, 7)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if got.Total != want.Total || len(got.Hits) != len(want.Hits) {
			t.Fatalf("%q: total %d hits %d, pidx query %d and %d", q, got.Total, len(got.Hits), want.Total, len(want.Hits))
		}
		for i := range got.Hits {
			if got.Hits[i] != want.Hits[i] {
				t.Fatalf("%q hit %d: %+v, pidx query %+v", q, i, got.Hits[i], want.Hits[i])
			}
			// Lookup gives the stored fields of each hit.
			h, ok, err := r.Lookup(got.Hits[i].ID)
			if err != nil || !ok || h != got.Hits[i] {
				t.Fatalf("Lookup(%q) = %+v %v %v", got.Hits[i].ID, h, ok, err)
			}
		}
		n, err := r.Count(q)
		if err != nil || n != want.Total {
			t.Fatalf("Count(%q) = %d, %v; want %d", q, n, err, want.Total)
		}
	}
	if _, ok, err := r.Lookup("no such id"); ok || err != nil {
		t.Fatalf("Lookup of an absent id: %v %v", ok, err)
	}
	info, err := r.Info()
	if err != nil || info.Docs != 1500 || info.Name != "v000001" || info.Operation != "build" || len(info.Categories) == 0 {
		t.Fatalf("Info = %+v, %v", info, err)
	}
}

func TestErrorsHaveKindsAndColumns(t *testing.T) {
	_, err := Open(t.TempDir())
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open of an empty directory: %v, want ErrNotFound", err)
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != CodeNotFound || pe.Code.String() != "not_found" {
		t.Fatalf("errors.As: %#v", err)
	}
	idx, _, _ := newIndex(t, "300", "2")
	r, err := Open(idx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Search("usb (cable", 10)
	if !errors.Is(err, ErrQuerySyntax) || !errors.As(err, &pe) || pe.Column == 0 ||
		!strings.Contains(pe.Message, "column") {
		t.Fatalf("syntax error: %#v", err)
	}
	if _, err := r.Search("x", -1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative limit: %v", err)
	}
	if _, err := OpenVersion(idx, 7); !errors.Is(err, ErrNotFound) {
		t.Fatalf("OpenVersion of a missing version: %v", err)
	}
	r.Close()
	r.Close()
	if _, err := r.Count("x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Count after Close: %v", err)
	}
}

func TestRefreshUnderConcurrentSearches(t *testing.T) {
	idx, catalog, pidxBin := newIndex(t, "800", "3")
	r, err := Open(idx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pinned, err := OpenVersion(idx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pinned.Close()
	want1, _ := pinned.Count("set")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := r.Search("set OR black", 5); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < 3; i++ {
		// --force: the same catalog is unchanged content, which publishes nothing otherwise.
		mustRun(t, pidxBin, "build", "-q", "--force", "--catalog", catalog, "--index", idx)
		switched, err := r.Refresh()
		if err != nil || !switched || r.Version() != uint64(i+2) {
			t.Fatalf("Refresh %d: %v %v, serving v%d", i, switched, err, r.Version())
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if switched, err := r.Refresh(); switched || err != nil {
		t.Fatalf("Refresh with CURRENT unchanged: %v %v", switched, err)
	}
	if switched, err := pinned.Refresh(); switched || err != nil || pinned.Version() != 1 {
		t.Fatalf("a pinned reader switched: %v %v v%d", switched, err, pinned.Version())
	}
	if n, _ := pinned.Count("set"); n != want1 {
		t.Fatalf("pinned count changed: %d, was %d", n, want1)
	}
	// A torn CURRENT: Refresh fails, the version stays, LastRefreshError says why.
	if err := os.WriteFile(filepath.Join(idx, "CURRENT"), []byte("v000009\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Refresh(); !errors.Is(err, ErrCorrupt) || r.Version() != 4 {
		t.Fatalf("Refresh with a torn CURRENT: %v, serving v%d", err, r.Version())
	}
	if err := r.LastRefreshError(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("LastRefreshError: %v", err)
	}
	if LibraryVersion() == "" {
		t.Fatal("no library version")
	}
}
