#!/usr/bin/env python3
"""Queries that mean what a person means, measured on real text (issue 17).

Builds the Debian package catalog of the machine it runs on (`apt-cache dumpavail`, about 60k
packages) into products, indexes it with the real binary, and checks a table of queries
against counts computed here, by a tokenizer written from docs/QUERY.md alone (not lib/).
For each row it also prints what `grep -i` over the same text would say, the rough number a
person has in mind.

Exit 77 (ctest's skip) when apt-cache is missing or knows no package.
Usage: debian_catalog_test.py --pidx BIN [--keep DIR]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata

# ---- The catalog: one product per package version ----


def dumpavail():
    if shutil.which("apt-cache") is None:
        print("SKIP: apt-cache is not installed")
        sys.exit(77)
    out = subprocess.run(["apt-cache", "dumpavail"], stdout=subprocess.PIPE, check=True).stdout
    return out.decode("utf-8", errors="replace")


def products(text):
    seen = set()
    for stanza in text.split("\n\n"):
        fields, key = {}, None
        for line in stanza.split("\n"):
            if line.startswith((" ", "\t")) and key:
                fields[key] += "\n" + line[1:]
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" not in fields or "Version" not in fields:
            continue
        pid = fields["Package"] + "=" + fields["Version"]
        if pid in seen:
            continue
        seen.add(pid)
        desc = fields.get("Description", "").split("\n")
        long = [("" if l.strip() == "." else l) for l in desc[1:]]
        tags = [t.strip() for t in fields.get("Tag", "").replace("\n", " ").split(",") if t.strip()]
        yield {
            "id": pid,
            "category": fields.get("Section", "unknown") or "unknown",
            "title": desc[0],
            "description": "\n".join(long),
            "brand": fields.get("Maintainer", ""),
            "tags": tags,
        }


# ---- An honest tokenizer, from docs/QUERY.md ("Product codes", "Accents") ----

LATIN_BASE = {"ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "ŧ": "t", "ı": "i",
              "æ": "ae", "œ": "oe", "þ": "th"}
JOINERS = set("-_./+#")


def fold(text):
    # NFKC_Casefold is NFKC, full case folding and NFKC again (and drops default ignorables).
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    out, after_latin = [], False
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.category(ch) == "Mn":
            if not after_latin:
                out.append(ch)
            continue
        after_latin = unicodedata.name(ch, "").startswith("LATIN")
        out.append(LATIN_BASE.get(ch, ch) if after_latin else ch)
    return unicodedata.normalize("NFC", "".join(out))


def is_word_char(ch):
    return unicodedata.category(ch)[0] in "LN"


def words(folded):
    """(start, end) of each run of letters and digits (marks continue a run)."""
    runs, start = [], None
    for i, ch in enumerate(folded):
        cat = unicodedata.category(ch)
        if cat[0] in "LN" or (cat[0] == "M" and start is not None):
            if start is None:
                start = i
        elif start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(folded)))
    return runs


def compounds(folded, runs):
    """Yields (first, last, whole, catenable) for every compound of the documented rules."""
    i = 0
    while i < len(runs):
        j, catenable = i, True
        while j + 1 < len(runs):
            gap = folded[runs[j][1]:runs[j + 1][0]]
            if not ((len(gap) == 1 and gap in JOINERS) or gap == "++"):
                break
            digits = folded[runs[j][1] - 1].isascii() and folded[runs[j][1] - 1].isdigit() and \
                folded[runs[j + 1][0]].isascii() and folded[runs[j + 1][0]].isdigit()
            if gap[0] in "+#" or (gap[0] in "./" and digits):
                catenable = False
            j += 1
        end = runs[j][1]
        for suffix in ("++", "+", "#"):
            after = end + len(suffix)
            if folded[end:after] == suffix and (
                    after >= len(folded) or (folded[after].isascii() and not folded[after].isalnum())):
                end, catenable = after, False
                break
        if j > i or end > runs[j][1]:
            yield i, j, folded[runs[i][0]:end], catenable
        i = j + 1


def index_tokens(text):
    folded = fold(text)
    runs = words(folded)
    tokens = {folded[a:b] for a, b in runs}
    for i, j, whole, catenable in compounds(folded, runs):
        tokens.add("".join(folded[a:b] for a, b in runs[i:j + 1]) if catenable else whole)
    return {t for t in tokens if len(t.encode()) <= 64}


def query_form(word):
    folded = fold(word)
    runs = words(folded)
    found = list(compounds(folded, runs))
    if len(found) == 1 and found[0][0] == 0 and found[0][1] == len(runs) - 1:
        i, j, whole, catenable = found[0]
        return "".join(folded[a:b] for a, b in runs) if catenable else whole
    assert len(runs) == 1, word
    return folded[runs[0][0]:runs[0][1]]


# ---- The test ----


def run(pidx, *args, check=True):
    p = subprocess.run([pidx, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and p.returncode != 0:
        sys.exit(f"FAIL: pidx {' '.join(args)} exited {p.returncode}: {p.stderr[-2000:]}")
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pidx", required=True)
    ap.add_argument("--keep")
    args = ap.parse_args()
    t0 = time.monotonic()
    catalog = list(products(dumpavail()))
    if len(catalog) < 100:
        print(f"SKIP: apt-cache knows only {len(catalog)} packages")
        sys.exit(77)
    work = args.keep or tempfile.mkdtemp(prefix="pidx-debian-")
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "debian.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for p in catalog:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    schema = os.path.join(work, "stemmed.json")
    with open(schema, "w") as f:
        json.dump({"fields": [{"name": "id", "role": "id"}, {"name": "category", "role": "category"},
                              {"name": "title", "role": "text", "stem": "english"},
                              {"name": "description", "role": "text", "stem": "english"},
                              {"name": "brand", "role": "keyword"},
                              {"name": "tags", "role": "keyword", "multi": True}]}, f)
    plain, stemmed = os.path.join(work, "plain"), os.path.join(work, "stemmed")
    for index, extra in ((plain, []), (stemmed, ["--schema", schema])):
        run(args.pidx, "build", "--catalog", path, "--index", index, "--shards-per-category", "1",
            "--log-level", "warn", *extra)
    print(f"{len(catalog)} products, built twice in {time.monotonic() - t0:.1f}s")

    docs = []  # per product: the text tokens, and its lowercased text for the grep column
    for p in catalog:
        text = p["title"] + "\n" + p["description"]
        docs.append((index_tokens(p["title"]) | index_tokens(p["description"]), text.lower()))

    def has(word):
        form = query_form(word)
        return lambda tokens: form in tokens

    def prefix(stem):
        s = fold(stem)
        return lambda tokens: any(t.startswith(s) for t in tokens)

    def grep(*needles):
        return sum(1 for _, text in docs if any(n in text for n in needles))

    # query, index, the documents it must match (from the tokenizer above), the grep column
    rows = [
        ("c++", plain, has("c++"), grep("c++")),
        ("C#", plain, has("c#"), grep("c#")),
        ("c", plain, has("c"), None),
        ("x86_64", plain, has("x86_64"), grep("x86_64", "x86-64")),
        ("x86-64", plain, has("x86-64"), grep("x86_64", "x86-64")),
        ("gnome-shell", plain, has("gnome-shell"), grep("gnome-shell")),
        ("wifi", plain, has("wifi"), grep("wifi", "wi-fi")),
        ("wi-fi", plain, has("wifi"), grep("wifi", "wi-fi")),
        ("naive", plain, lambda t: "naive" in t, grep("naive", "naïve")),
        ("pyth*", plain, prefix("pyth"), grep("pyth")),
        ("vim NOT emacs", plain, lambda t: "vim" in t and "emacs" not in t, None),
        ("browser", stemmed, lambda t: "browser" in t or "browsers" in t, grep("browser")),
    ]
    failures = []
    counts = {}
    print(f"{'query':<16} {'pidx':>7} {'expected':>9} {'grep -i':>8}")
    for query, index, match, grep_count in rows:
        expected = sum(1 for tokens, _ in docs if match(tokens))
        got = int(run(args.pidx, "query", "--index", index, "--count", "--log-level", "error",
                      "--", query).stdout.strip())
        counts[query] = got
        mark = "" if got == expected else "   <-- MISMATCH"
        print(f"{query:<16} {got:>7} {expected:>9} {'' if grep_count is None else grep_count:>8}{mark}")
        if got != expected:
            failures.append(f"{query}: pidx {got}, expected {expected}")

    # What the table asks beyond the counts.
    def check(cond, what):
        if not cond:
            failures.append(what)

    check(counts["c++"] < counts["c"] and counts["C#"] < counts["c++"],
          "c++, C# and c must be three different words")
    check(counts["x86_64"] == counts["x86-64"], "x86_64 and x86-64 must be the same word")
    check(counts["wifi"] == counts["wi-fi"], "wifi and wi-fi must be the same word")
    check(counts["pyth*"] > 1000, "pyth* must expand to the python terms")
    naive_accented = sum(1 for p in catalog if "naïve" in (p["title"] + p["description"]).lower())
    check(naive_accented == 0 or counts["naive"] >= naive_accented, "naive must find naïve")
    browsers_only = sum(1 for tokens, _ in docs if "browsers" in tokens and "browser" not in tokens)
    check(browsers_only == 0 or counts["browser"] > sum(1 for t, _ in docs if "browser" in t),
          "browser must find browsers in the stemmed index")

    # category:gmaes: 0, no shard searched, and a hint naming games.
    p = run(args.pidx, "query", "--index", plain, "--json", "--log-format", "json", "--",
            "category:gmaes")
    result = json.loads(p.stdout)
    hint = [json.loads(l) for l in p.stderr.splitlines() if '"index.query.no_such_category"' in l]
    print(f"category:gmaes   {result['total']:>7} shards searched {result['shards_searched']}, "
          f"suggestions {result.get('suggestions')}")
    check(result["total"] == 0 and result["shards_searched"] == 0, "category:gmaes must match 0")
    check(any("games" in s["closest"] for s in result.get("suggestions", [])),
          "category:gmaes must suggest games in the JSON")
    check(len(hint) == 1 and "games" in hint[0].get("suggestions", []),
          "category:gmaes must log index.query.no_such_category naming games")

    # A query of symbols only says so; unsupported syntax is an error naming the column.
    for query, column in (("++", 1), ("py*on", 3), ("usb~2", 4), ("vim^2", 4)):
        p = run(args.pidx, "query", "--index", plain, "--count", "--", query, check=False)
        print(f"{query:<16} exit {p.returncode}: {p.stderr.strip().splitlines()[-1][:100]}")
        check(p.returncode == 64 and f"column {column}" in p.stderr,
              f"{query} must fail with exit 64 at column {column}")

    sizes = {}
    for name, index in (("plain", plain), ("stemmed", stemmed)):
        sizes[name] = sum(os.path.getsize(os.path.join(index, "segments", f))
                          for f in os.listdir(os.path.join(index, "segments")))
    print(f"index size: {sizes}; took {time.monotonic() - t0:.1f}s")
    if not args.keep:
        shutil.rmtree(work)
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
