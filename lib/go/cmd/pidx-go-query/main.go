// pidx-go-query runs a file of queries through package pidx, in one process, on one Reader:
// the Go side of the agreement test (tests/reader/agree.py) and of scripts/bench.
//
//	pidx-go-query --index DIR --queries FILE [--out FILE]
//	    FILE: one query a line, "<limit>\t<query text>". Each answer is one JSON line:
//	    {"i":N,"total":T,"hits":[[id,title,shard],...]} or {"i":N,"error":CODE,"column":C}.
//	pidx-go-query --index DIR --bench FILE (--count | --top N) [--out FILE]
//	    FILE: a benchmark query set (tests/bench/query_set.h); answers in pidx_query_bench's
//	    format ("<i>\t<count>" or "<i>\t<id>,<id>,...").
//
// A JSON summary goes to stderr: {"queries":N,"seconds":S,"qps":Q}.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"pidx/pidx"
)

type query struct {
	limit int
	text  string
}

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pidx-go-query: "+format+"\n", args...)
	os.Exit(1)
}

func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		die("%v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// benchText is pidx_query_bench's QueryText: the same query text for the same line.
func benchText(line string) string {
	p := strings.Split(line, "\t")
	switch {
	case p[0] == "and2" && len(p) == 3:
		return p[1] + " " + p[2]
	case p[0] == "cat" && len(p) == 3:
		return p[1] + " category:\"" + p[2] + "\""
	case p[0] == "rare" && len(p) == 2:
		return p[1]
	}
	die("not a benchmark query line: %q", line)
	return ""
}

func main() {
	index := flag.String("index", "", "index directory")
	queries := flag.String("queries", "", "agreement query file (limit TAB query)")
	bench := flag.String("bench", "", "benchmark query set (and2|cat|rare lines)")
	count := flag.Bool("count", false, "bench: count only")
	top := flag.Int("top", 0, "bench: first N ids")
	outPath := flag.String("out", "", "answers (default stdout)")
	flag.Parse()
	if *index == "" || (*queries == "") == (*bench == "") {
		die("give --index and one of --queries and --bench")
	}
	var qs []query
	if *queries != "" {
		for _, l := range readLines(*queries) {
			tab := strings.IndexByte(l, '\t')
			n, err := strconv.Atoi(l[:max(tab, 0)])
			if tab < 0 || err != nil {
				die("%s: not \"<limit>\\t<query>\": %q", *queries, l)
			}
			qs = append(qs, query{n, l[tab+1:]})
		}
	} else {
		if *count == (*top > 0) {
			die("give exactly one of --count and --top N")
		}
		for _, l := range readLines(*bench) {
			qs = append(qs, query{*top, benchText(l)})
		}
	}
	r, err := pidx.Open(*index)
	if err != nil {
		die("%v", err)
	}
	defer r.Close()
	lines := make([]string, 0, len(qs))
	start := time.Now()
	for i, q := range qs {
		res, err := r.Search(q.text, q.limit)
		if *bench != "" {
			if err != nil {
				die("%q: %v", q.text, err)
			}
			if *count {
				lines = append(lines, fmt.Sprintf("%d\t%d", i, res.Total))
			} else {
				ids := make([]string, len(res.Hits))
				for j, h := range res.Hits {
					ids[j] = h.ID
				}
				lines = append(lines, fmt.Sprintf("%d\t%s", i, strings.Join(ids, ",")))
			}
			continue
		}
		var b []byte
		if err != nil {
			var pe *pidx.Error
			if !errors.As(err, &pe) {
				die("%q: %v", q.text, err)
			}
			b, _ = json.Marshal(map[string]any{"i": i, "error": pe.Code.String(), "column": pe.Column})
		} else {
			hits := make([][3]string, len(res.Hits))
			for j, h := range res.Hits {
				hits[j] = [3]string{h.ID, h.Title, h.Shard}
			}
			b, _ = json.Marshal(map[string]any{"i": i, "total": res.Total, "hits": hits})
		}
		lines = append(lines, string(b))
	}
	secs := time.Since(start).Seconds()
	out := os.Stdout
	if *outPath != "" {
		if out, err = os.Create(*outPath); err != nil {
			die("%v", err)
		}
	}
	w := bufio.NewWriter(out)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		die("%v", err)
	}
	if err := out.Close(); err != nil {
		die("%v", err)
	}
	qps := 0.0
	if secs > 0 {
		qps = float64(len(qs)) / secs
	}
	fmt.Fprintf(os.Stderr, "{\"command\":\"go-query\",\"queries\":%d,\"seconds\":%.6f,\"qps\":%.1f}\n", len(qs), secs, qps)
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}
