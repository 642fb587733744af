#!/usr/bin/env python3
"""Agreement (issue 20): on 1,000 queries sampled from a generated catalog, `pidx query`, the
C++ reader, the C API and the Go package return identical totals and hits (id, title, shard),
and the same error kind and column for the malformed ones.

usage: agree.py --pidx PIDX --gen PIDX_GEN --reader-agree READER_AGREE --go-module DIR
                --work DIR [--queries 1000]

The queries mix every form of docs/QUERY.md (bare and quoted words, field scopes, keywords,
categories, attributes, OR, NOT, groups, CJK, case variants) with limits 0 to 50, and about
5% syntax errors. Go is built with `go build` (GOPATH/GOCACHE under --work, no downloads);
when no `go` is installed the other three are still compared and the test exits 77 (skipped).
"""

import argparse
import concurrent.futures
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile


def sample_queries(catalog, n, seed):
    words, brands, cats, tags, attrs = set(), set(), set(), set(), set()
    with open(catalog, encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            for field in ("title", "description"):
                for w in p.get(field, "").replace(",", " ").replace(".", " ").split():
                    words.add(w)
            brands.add(p.get("brand", ""))
            cats.add(p["category"])
            tags.update(p.get("tags", []))
            for k, v in p.get("attrs", {}).items():
                attrs.add((k, v))
    bad = set('"():\\\t')
    words = sorted(w for w in words if not (set(w) & bad) and not w.startswith("-")
                   and w not in ("OR", "AND"))
    brands = sorted(b for b in brands if b and '"' not in b and "\\" not in b)
    cats, tags = sorted(cats), sorted(tags)
    attrs = sorted((k, v) for k, v in attrs if '"' not in v and ":" not in k and " " not in k)
    rng = random.Random(seed)

    def w():
        x = rng.choice(words)
        r = rng.random()
        return x.upper() if r < 0.1 else (x.capitalize() if r < 0.2 else x)

    def q(s):
        return '"' + s + '"'

    forms = [
        lambda: w(),
        lambda: f"{w()} {w()}",
        lambda: f"{w()} OR {w()}",
        lambda: f"{w()} -{w()}",
        lambda: f"category:{q(rng.choice(cats))} {w()}",
        lambda: f"brand:{q(rng.choice(brands))}",
        lambda: f"({w()} OR {w()}) {w()}",
        lambda: f"tags:{q(rng.choice(tags))} -{w()}",
        lambda: "attrs.{}:{}".format(*(lambda kv: (kv[0], q(kv[1])))(rng.choice(attrs))),
        lambda: f"title:{w()}",
        lambda: f"description:{w()} {w()}",
        lambda: f"-tags:{q(rng.choice(tags))}",
        lambda: q(f"{w()} {w()}"),
        lambda: f"{w()} AND ({w()} OR -{w()})",
        lambda: f"category:{q(rng.choice(cats))} OR category:{q(rng.choice(cats))}",
        lambda: f"brand:{q(rng.choice(brands).upper())} {w()}",
        lambda: "&",
    ]
    malformed = [
        lambda: f"({w()}",
        lambda: f"{w()} OR",
        lambda: f"colour:{w()}",
        lambda: "brand:",
        lambda: f'"{w()}',
        lambda: f"{w()} )",
        lambda: f"price:{rng.randint(1, 99)}",
        lambda: f"{w()} -",
    ]
    out = []
    for _ in range(n):
        make = rng.choice(malformed) if rng.random() < 0.05 else rng.choice(forms)
        out.append((rng.choice([0, 1, 3, 10, 10, 50]), make()))
    return out


def pidx_answer(pidx, index, i, limit, text):
    p = subprocess.run([pidx, "query", "--index", index, "--json", "--log-format", "json",
                        "--limit", str(limit), "--", text], capture_output=True, text=True)
    if p.returncode == 0:
        r = json.loads(p.stdout)
        return {"i": i, "total": r["total"],
                "hits": [[h["id"], h["title"], h["shard"]] for h in r["hits"]]}
    column = 0
    for line in p.stderr.splitlines():
        try:
            ev = json.loads(line)
        except json.JSONDecodeError:
            continue
        column = ev.get("column", column)
    code = {64: "query_syntax", 66: "not_found", 74: "io_error", 78: "config"}.get(
        p.returncode, f"exit {p.returncode}")
    return {"i": i, "error": code, "column": column}


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pidx", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--reader-agree", required=True)
    ap.add_argument("--go-module", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--queries", type=int, default=1000)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=a.work)
    try:
        catalog, index = os.path.join(tmp, "c.jsonl"), os.path.join(tmp, "idx")
        subprocess.run([a.gen, "--products", "3000", "--seed", "11", "--out", catalog],
                       check=True, capture_output=True)
        subprocess.run([a.pidx, "build", "-q", "--catalog", catalog, "--index", index],
                       check=True, stdout=subprocess.DEVNULL)
        qs = sample_queries(catalog, a.queries, seed=20)
        qfile = os.path.join(tmp, "queries.tsv")
        with open(qfile, "w", encoding="utf-8") as f:
            for limit, text in qs:
                f.write(f"{limit}\t{text}\n")

        answers = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
            answers["pidx query"] = list(ex.map(
                lambda iq: pidx_answer(a.pidx, index, iq[0], *iq[1]), enumerate(qs)))
        for api in ("cpp", "c"):
            out = os.path.join(tmp, f"{api}.jsonl")
            subprocess.run([a.reader_agree, "--api", api, "--index", index, "--queries", qfile,
                            "--out", out], check=True)
            answers[f"{api} API"] = load(out)
        go = shutil.which("go")
        if go:
            env = dict(os.environ, GOPATH=os.path.join(a.work, "gopath"),
                       GOCACHE=os.path.join(a.work, "gocache"), GOTOOLCHAIN="local",
                       GOPROXY="off", GOFLAGS="", GOENV="off", CGO_ENABLED="1")
            gobin = os.path.join(a.work, "pidx-go-query")
            subprocess.run([go, "build", "-o", gobin, "./cmd/pidx-go-query"], check=True,
                           cwd=a.go_module, env=env)
            out = os.path.join(tmp, "go.jsonl")
            subprocess.run([gobin, "--index", index, "--queries", qfile, "--out", out],
                           check=True, env=env)
            answers["Go"] = load(out)

        ref = answers["pidx query"]
        errors = sum(1 for r in ref if "error" in r)
        matched = sum(1 for r in ref if r.get("total", 0) > 0)
        ok = True
        for name, got in answers.items():
            if len(got) != len(ref):
                print(f"{name}: {len(got)} answers for {len(ref)} queries")
                ok = False
                continue
            diffs = [i for i in range(len(ref)) if got[i] != ref[i]]
            if diffs:
                ok = False
                i = diffs[0]
                print(f"{name} disagrees with pidx query on {len(diffs)} queries; first, "
                      f"{qs[i]!r}:\n  pidx query: {ref[i]}\n  {name}: {got[i]}")
        # The sample must exercise both outcomes, or agreeing proves little.
        if errors == 0 or matched < len(ref) // 2:
            print(f"weak sample: {errors} syntax errors, {matched} queries with matches")
            ok = False
        if not ok:
            return 1
        print(f"{' / '.join(answers)} agree on {len(ref)} queries "
              f"({matched} with matches, {errors} syntax errors)")
        if not go:
            print("go is not installed: the Go package was not compared (skipped)")
            return 77
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
