// The example service while pidx publishes underneath it (issue 20): queries run on several
// goroutines while `pidx build` and `pidx rebuild-shard` publish new versions and a watcher
// and explicit refreshes switch to them. Every answer must be an answer of exactly the version
// it names (checked afterwards against `pidx query --version V`), no request may fail, the
// newest version is served after each refresh, and a damaged version is never served.
// Run by ctest (go:test) under -race, with PIDX_BIN and PIDX_GEN naming the binaries.
package service

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pidx/pidx"
)

func tool(t *testing.T, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Fatalf("%s is not set: run through ctest (go:test), or set it to the binary", env)
	}
	return p
}

func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, msg)
	}
	return string(out)
}

func current(t *testing.T, idx string) uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(idx, "CURRENT"))
	if err != nil {
		t.Fatal(err)
	}
	var v uint64
	if _, err := fmt.Sscanf(string(b), "v%d", &v); err != nil {
		t.Fatalf("CURRENT %q: %v", b, err)
	}
	return v
}

type manifestShard struct {
	Shard   string `json:"shard"`
	Segment string `json:"segment"`
}

// shards reads version v's manifest: JSON, then a checksum line (docs/FORMAT.md).
func shards(t *testing.T, idx string, v uint64) []manifestShard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(idx, "versions", fmt.Sprintf("v%06d.manifest", v)))
	if err != nil {
		t.Fatal(err)
	}
	end := strings.LastIndex(string(b), "\nxxh3 ")
	if end < 0 {
		t.Fatalf("v%d: no checksum line", v)
	}
	var m struct {
		Shards []manifestShard `json:"shards"`
	}
	if err := json.Unmarshal(b[:end+1], &m); err != nil {
		t.Fatal(err)
	}
	return m.Shards
}

// renew writes a copy of catalog with " renewed" added to every title.
func renew(t *testing.T, catalog string) string {
	t.Helper()
	b, err := os.ReadFile(catalog)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var p map[string]any
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatal(err)
		}
		p["title"] = fmt.Sprint(p["title"]) + " renewed"
		l, _ := json.Marshal(p)
		out = append(append(out, l...), '\n')
	}
	path := strings.TrimSuffix(catalog, ".jsonl") + "-renewed.jsonl"
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var queries = []string{
	"renewed", "renewed category:Electronics", "wireless", "black set", "portable OR leather", "new -black", "category:Electronics",
	"brand:Cuisinart", "-refurbished", "tags:bestseller large", "(chair OR lamp) white",
	"steel", "cotton category:Clothing", "attrs.color:black",
}

type answer struct {
	Total uint64
	IDs   string
}

type searchBody struct {
	Version uint64 `json:"version"`
	Total   uint64 `json:"total"`
	Hits    []struct {
		ID string `json:"id"`
	} `json:"hits"`
}

func ids(b searchBody) string {
	var s []string
	for _, h := range b.Hits {
		s = append(s, h.ID)
	}
	return strings.Join(s, ",")
}

func TestServiceSwitchesVersionsWhilePidxPublishes(t *testing.T) {
	pidxBin, gen := tool(t, "PIDX_BIN"), tool(t, "PIDX_GEN")
	dir := t.TempDir()
	idx := filepath.Join(dir, "idx")
	catA, catB := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	catC := filepath.Join(dir, "c.jsonl") // only for the damaged version: segments of its own
	run(t, gen, "--products", "3000", "--seed", "1", "--out", catA)
	run(t, gen, "--products", "3000", "--seed", "2", "--out", catB)
	run(t, gen, "--products", "3000", "--seed", "3", "--out", catC)
	// For rebuild-shard: the same products (same ids in the same categories, which the
	// publishing guard requires), each title with one word more.
	renewed := map[string]string{catA: renew(t, catA), catB: renew(t, catB)}
	build := func(cat string) uint64 {
		run(t, pidxBin, "build", "-q", "--allow-shrink", "--catalog", cat, "--index", idx)
		return current(t, idx)
	}
	build(catA)

	svc, err := New(idx)
	if err != nil {
		t.Fatal(err)
	}
	svc.Logf = t.Logf
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	defer svc.Close()

	get := func(path string) (int, []byte, error) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var buf strings.Builder
		_, err = bufio.NewReader(resp.Body).WriteTo(&buf)
		return resp.StatusCode, []byte(buf.String()), err
	}
	refresh := func() (int, map[string]any) {
		resp, err := http.Post(srv.URL+"/refresh", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, m
	}

	// Queries on four goroutines for the whole test.
	var mu sync.Mutex
	seen := map[string]answer{} // "<version>\t<query>" -> first answer
	var failures []string
	var requests int
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i++ {
				q := queries[i%len(queries)]
				code, body, err := get("/search?limit=10&q=" + url.QueryEscape(q))
				mu.Lock()
				requests++
				if err != nil || code != http.StatusOK {
					failures = append(failures, fmt.Sprintf("%q: status %d, %v: %s", q, code, err, body))
					mu.Unlock()
					continue
				}
				var b searchBody
				if err := json.Unmarshal(body, &b); err != nil {
					failures = append(failures, fmt.Sprintf("%q: %v", q, err))
				} else {
					key := fmt.Sprintf("%d\t%s", b.Version, q)
					a := answer{b.Total, ids(b)}
					if prev, ok := seen[key]; ok && prev != a {
						failures = append(failures, fmt.Sprintf("v%d %q answered %v and %v", b.Version, q, prev, a))
					} else if !ok {
						seen[key] = a
					}
				}
				mu.Unlock()
			}
		}(w)
	}
	// And a watcher that refreshes behind the explicit refreshes' backs.
	watchCtx, stopWatch := context.WithCancel(ctx)
	go svc.Watch(watchCtx, 15*time.Millisecond)

	servesCurrent := func(step string) uint64 {
		t.Helper()
		want := current(t, idx)
		if code, m := refresh(); code != http.StatusOK {
			t.Fatalf("%s: refresh answered %d: %v", step, code, m)
		}
		if got := svc.Reader().Version(); got != want {
			t.Fatalf("%s: serving v%d after refresh, CURRENT is v%d", step, got, want)
		}
		var h struct {
			LastRefreshError *string `json:"last_refresh_error"`
		}
		_, body, _ := get("/health")
		_ = json.Unmarshal(body, &h)
		if h.LastRefreshError != nil {
			t.Fatalf("%s: health still reports %q after a good refresh", step, *h.LastRefreshError)
		}
		time.Sleep(60 * time.Millisecond) // let queries run on this version
		return want
	}

	published := []uint64{1}
	for round, cat := range []string{catB, catA} {
		published = append(published, build(cat))
		servesCurrent(fmt.Sprintf("round %d build", round))
		// rebuild-shard with the renewed titles: that shard's products change.
		sh := shards(t, idx, current(t, idx))
		for _, s := range []string{sh[round].Shard, sh[len(sh)/2+round].Shard} {
			run(t, pidxBin, "rebuild-shard", s, "-q", "--catalog", renewed[cat], "--index", idx)
			published = append(published, current(t, idx))
			servesCurrent("rebuild-shard " + s)
		}
	}

	// A damaged new version: its new segment has a flipped byte. It is not served; the old
	// one is, and the failure is visible.
	stopWatch() // the watcher would log the same failure every tick
	good := svc.Reader().Version()
	before := map[string]bool{}
	for _, s := range shards(t, idx, good) {
		before[s.Segment] = true
	}
	damaged := build(catC)
	if damaged == good {
		t.Fatal("the damaged build published nothing")
	}
	var victim string
	for _, s := range shards(t, idx, damaged) {
		if !before[s.Segment] {
			victim = filepath.Join(idx, "segments", s.Segment)
			break
		}
	}
	if victim == "" {
		t.Fatal("the new version has no segment of its own to damage")
	}
	if err := os.Chmod(victim, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(victim, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	b := make([]byte, 1)
	_, _ = f.ReadAt(b, st.Size()/2)
	b[0] ^= 0x55
	if _, err := f.WriteAt(b, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	code, m := refresh()
	if code != http.StatusServiceUnavailable || m["code"] != "corrupt" {
		t.Fatalf("refresh to the damaged v%d answered %d %v, want 503 corrupt", damaged, code, m)
	}
	if got := svc.Reader().Version(); got != good {
		t.Fatalf("serving v%d after a failed refresh, want v%d", got, good)
	}
	if _, err := svc.Reader().Refresh(); !errorsIsCorrupt(err) {
		t.Fatalf("Refresh to the damaged version: %v, want a pidx.ErrCorrupt", err)
	}
	var h struct {
		Version          uint64  `json:"version"`
		LastRefreshError *string `json:"last_refresh_error"`
	}
	_, body, _ := get("/health")
	if err := json.Unmarshal(body, &h); err != nil || h.LastRefreshError == nil || h.Version != good ||
		!strings.Contains(*h.LastRefreshError, "shard") {
		t.Fatalf("health after the failed refresh: %s", body)
	}
	time.Sleep(60 * time.Millisecond) // queries keep running on the good version
	// The next good version is served again.
	published = append(published, build(catA))
	servesCurrent("build after the damaged version")

	cancel()
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed or disagreed, first: %s", len(failures), requests, failures[0])
	}
	// Every answer is exactly the answer of the version it names.
	versions := map[uint64]bool{}
	for key, a := range seen {
		parts := strings.SplitN(key, "\t", 2)
		var v uint64
		fmt.Sscanf(parts[0], "%d", &v)
		versions[v] = true
		if v == damaged {
			t.Fatalf("the damaged v%d answered %q", v, parts[1])
		}
		out := run(t, pidxBin, "query", "--index", idx, "--version", parts[0], "--json", "--limit", "10", "--", parts[1])
		var want struct { // pidx query --json (its "version" is a name: "v000042")
			Total uint64 `json:"total"`
			Hits  []struct {
				ID string `json:"id"`
			} `json:"hits"`
		}
		if err := json.Unmarshal([]byte(out), &want); err != nil {
			t.Fatal(err)
		}
		if w := (answer{want.Total, ids(searchBody{Total: want.Total, Hits: want.Hits})}); w != a {
			t.Errorf("v%d %q: the service answered %v, pidx query %v", v, parts[1], a, w)
		}
	}
	for _, v := range published {
		if !versions[v] {
			t.Logf("v%d answered no query (published and switched past quickly)", v)
		}
	}
	if !versions[published[len(published)-1]] {
		t.Fatalf("the last version v%d answered nothing", published[len(published)-1])
	}
	t.Logf("%d requests, %d versions answered, %d good versions published and a damaged one", requests, len(versions), len(published))
	// The replaced versions were released; a closed reader says so.
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Reader().Search("x", 1); !isClosed(err) {
		t.Fatalf("Search after Close: %v", err)
	}
}

func errorsIsCorrupt(err error) bool {
	var pe *pidx.Error
	return err != nil && asError(err, &pe) && pe.Code == pidx.CodeCorrupt
}

func isClosed(err error) bool {
	var pe *pidx.Error
	return err != nil && asError(err, &pe) && pe.Code == pidx.CodeClosed
}

func asError(err error, target **pidx.Error) bool { return errors.As(err, target) }
