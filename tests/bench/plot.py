#!/usr/bin/env python3
"""The bench's scaling as a picture: how each engine's figures move with the catalog size.

  tests/bench/plot.py out/bench/results.json     (what scripts/bench wrote)

For each figure (build products/s, queries per second of each shape, one query as a whole
process), one bar per catalog size and engine, on one scale per figure: the longest bar is the
largest value of that figure, so both the growth with the catalog and the gap between pidx
and FTS5 read off the lengths. Bars are Unicode block characters in eighths. scripts/bench
prints the plot after its table and stores it in the JSON as "scaling_plot".
"""

import json
import sys

WIDTH = 40
EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value, largest, width=WIDTH):
    """A bar of `value` on a scale where `largest` fills `width` cells (eighths of a cell)."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = round(value / largest * width * 8)
    eighths = max(eighths, 1)  # a value above zero is never drawn as nothing
    full, part = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[part] if part else "")


def figures(R):
    """(name, pidx, FTS5, unit) of one catalog's results (bench.py's measure())."""
    out = [("build, products/s", R["build"]["pidx"]["products_per_s"],
            R["build"]["fts5"]["products_per_s"], "")]
    names = {"and2": "2-term AND", "cat": "term AND category", "rare": "rare term"}
    for s, label in names.items():
        for mode, m in (("count", "counts"), ("top10", "first 10")):
            q = R.get("queries", {}).get(f"{s}_{mode}")
            if q:
                out.append((f"{label}, {m}, queries/s", q["pidx_qps"], q["fts5_qps"], ""))
    o = R.get("one_query_process_ms")
    if o:
        out.append(("one query as a whole process, ms (shorter is faster)", o["pidx"],
                    o["fts5"], ""))
    return out


def number(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def scaling_plot(res):
    """The plot of res["sizes"] (catalog size -> results) as text lines."""
    sizes = sorted(res.get("sizes", {}), key=int)
    if not sizes:
        return ""
    per_size = {n: figures(res["sizes"][n]) for n in sizes}
    names = [f[0] for f in per_size[sizes[0]]]
    label_w = max(len(f"{int(n):,}") for n in sizes)
    lines = []
    for k, name in enumerate(names):
        points = []
        for n in sizes:
            if k < len(per_size[n]) and per_size[n][k][0] == name:
                _, p, f, _ = per_size[n][k]
                points.append((n, p, f))
        largest = max(max(p, f) for _, p, f in points)
        lines.append(name)
        for n, p, f in points:
            size = f"{int(n):,}".rjust(label_w)
            lines.append(f"  {size}  pidx {bar(p, largest):<{WIDTH + 1}} {number(p)}")
            lines.append(f"  {' ' * label_w}  FTS5 {bar(f, largest):<{WIDTH + 1}} {number(f)}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 64
    with open(sys.argv[1]) as f:
        res = json.load(f)
    sys.stdout.write(scaling_plot(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
