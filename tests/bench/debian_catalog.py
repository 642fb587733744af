#!/usr/bin/env python3
"""The machine's own Debian package index as a pidx catalog (JSON Lines), for scripts/bench.

Usage: debian_catalog.py OUT.jsonl   (reads `apt-cache dumpavail`; or --input FILE)

One product per package version: id "Package=Version", category the Section (e.g. "libs",
"contrib/net"), title the Description's first line, description the rest of it, brand the
Maintainer, tags the debtags of the Tag field (e.g. "devel::lang:c"). A package listed twice
with the same version is written once; products are written in id order. Debian's Packages
files carry only the first line of a description (the rest is in Translation files, which a
default install does not download): description is empty unless a long one is there. Nobody here generated this data: its vocabulary,
lengths and category sizes are a real catalog's.
"""
import json
import subprocess
import sys


def stanzas(text):
    fields, key = {}, None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, None
            continue
        if line[0] in " \t" and key is not None:
            fields[key] += "\n" + line[1:]
            continue
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    if fields:
        yield fields


def product(f):
    if "Package" not in f or "Version" not in f:
        return None
    desc = f.get("Description", f.get("Description-en", ""))
    title, _, rest = desc.partition("\n")
    body = " ".join(l.strip() for l in rest.splitlines() if l.strip() not in ("", "."))
    tags = [t.strip() for t in f.get("Tag", "").replace("\n", " ").split(",") if t.strip()]
    return {"id": f["Package"] + "=" + f["Version"], "category": f.get("Section", "unknown"),
            "title": title.strip(), "description": body, "brand": f.get("Maintainer", ""),
            "tags": tags}


def main():
    args = sys.argv[1:]
    if args[:1] == ["--input"]:
        with open(args[1], encoding="utf-8", errors="replace") as f:
            text = f.read()
        args = args[2:]
    else:
        text = subprocess.run(["apt-cache", "dumpavail"], check=True, capture_output=True
                              ).stdout.decode("utf-8", errors="replace")
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 64
    products = {}
    for f in stanzas(text):
        p = product(f)
        if p is not None and p["id"] not in products:
            products[p["id"]] = p
    # In external-id order (code points, which is UTF-8 byte order): the FTS5 peer's rowids
    # follow catalog order, and the bench compares first-10 results of both engines.
    n = 0
    with open(args[0], "w", encoding="utf-8") as out:
        for pid in sorted(products):
            out.write(json.dumps(products[pid], ensure_ascii=False) + "\n")
            n += 1
    sys.stderr.write(f"debian_catalog: {n} products to {args[0]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
