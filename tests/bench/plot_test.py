#!/usr/bin/env python3
"""ctest bench:plot: the scaling plot draws each value at its length on its figure's scale.

Generated cases: random figures for 1 to 4 catalog sizes; every bar's length in eighths of a
cell must be the value over the figure's largest value times the width, rounded (at least one
eighth for a value above zero), and the printed number must be the value.
"""

import os
import random
import subprocess
import sys
import tempfile
import json

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot  # noqa: E402


def eighths_of(bar_text):
    n = 0
    for ch in bar_text:
        if ch == "█":
            n += 8
        elif ch in plot.EIGHTHS:
            n += plot.EIGHTHS.index(ch)
    return n


def results(rng, sizes):
    res = {"sizes": {}}
    for n in sizes:
        q = {}
        for s in ("and2", "cat", "rare"):
            for mode in ("count", "top10"):
                q[f"{s}_{mode}"] = {"pidx_qps": rng.uniform(0.5, 1e5),
                                    "fts5_qps": rng.uniform(0.5, 1e5)}
        res["sizes"][str(n)] = {
            "build": {"pidx": {"products_per_s": rng.uniform(1, 3e5)},
                      "fts5": {"products_per_s": rng.uniform(1, 3e5)}},
            "queries": q,
            "one_query_process_ms": {"pidx": rng.uniform(0.1, 500), "fts5": rng.uniform(0.1, 500)},
        }
    return res


def check(res):
    text = plot.scaling_plot(res)
    sizes = sorted(res["sizes"], key=int)
    figs = {n: plot.figures(res["sizes"][n]) for n in sizes}
    lines = text.splitlines()
    problems = 0
    for k, (name, _, _, _) in enumerate(figs[sizes[0]]):
        start = lines.index(name)
        largest = max(max(figs[n][k][1], figs[n][k][2]) for n in sizes)
        for j, n in enumerate(sizes):
            for e, engine in enumerate(("pidx", "FTS5")):
                line = lines[start + 1 + 2 * j + e]
                value = figs[n][k][1 + e]
                assert f" {engine} " in line, line
                bar_text = line.split(f" {engine} ", 1)[1]
                want = max(1, round(value / largest * plot.WIDTH * 8))
                got = eighths_of(bar_text)
                if got != want or not line.rstrip().endswith(plot.number(value)):
                    print(f"FAIL {name} {n} {engine}: {got} eighths, want {want}: {line}")
                    problems += 1
    return problems


def main():
    rng = random.Random(16)
    problems = 0
    for _ in range(200):
        sizes = sorted(rng.sample([10**4, 10**5, 10**6, 5 * 10**6], rng.randint(1, 4)))
        problems += check(results(rng, sizes))
    # The command line: a results file in, the same text out.
    res = results(rng, [100000, 1000000])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(res, f)
    out = subprocess.run([sys.executable, plot.__file__, f.name], capture_output=True,
                         text=True, check=True).stdout
    os.unlink(f.name)
    if out != plot.scaling_plot(res):
        print("FAIL: plot.py FILE printed something else than scaling_plot")
        problems += 1
    print(f"bench plot test: 200 generated results, {problems} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
